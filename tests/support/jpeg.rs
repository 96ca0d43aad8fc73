//! JPEG fixtures made on the fly: a drawn face at any size, optionally with
//! an EXIF orientation. Shared by unit tests, integration tests and the
//! sample generator.
#![allow(dead_code)]

use jpeg_encoder::{ColorType, Encoder};

/// A face drawn on a gradient, `width` x `height` pixels, as a JPEG.
pub fn face(width: u16, height: u16) -> Vec<u8> {
    encode(width, height, None, 85)
}

/// The same face with an EXIF orientation tag (1 to 8).
pub fn face_oriented(width: u16, height: u16, orientation: u16) -> Vec<u8> {
    encode(width, height, Some(orientation), 85)
}

/// A face of the given quality (1 to 100), for sizing fixtures.
pub fn face_quality(width: u16, height: u16, quality: u8) -> Vec<u8> {
    encode(width, height, None, quality)
}

/// A portrait JPEG of random noise at `quality`: noise compresses poorly,
/// so this makes large files (a 10 MB image, say) of a chosen size.
pub fn noise(width: u16, height: u16, quality: u8) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let mut out = Vec::new();
    Encoder::new(&mut out, quality)
        .encode(&pixels, width, height, ColorType::Rgb)
        .expect("pixels match the size");
    out
}

/// `jpeg` grown to about `target` bytes with comment segments after its
/// start-of-image marker: still a valid image, just heavier.
pub fn padded(jpeg: &[u8], target: usize) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut missing = target.saturating_sub(jpeg.len());
    while missing > 4 {
        let payload = missing.min(65_000) - 4;
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((payload + 2) as u16).to_be_bytes());
        out.resize(out.len() + payload, b' ');
        missing -= payload + 4;
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The first bytes of a PNG file.
pub fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0; 64]);
    bytes
}

fn encode(width: u16, height: u16, orientation: Option<u16>, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    if let Some(value) = orientation {
        encoder
            .add_exif_metadata(&orientation_tiff(value))
            .expect("small EXIF block");
    }
    encoder
        .encode(&pixels(width, height), width, height, ColorType::Rgb)
        .expect("pixels match the size");
    out
}

/// A big-endian TIFF block with one IFD entry: Orientation.
fn orientation_tiff(value: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    tiff
}

fn pixels(width: u16, height: u16) -> Vec<u8> {
    let (w, h) = (f32::from(width), f32::from(height));
    let (cx, cy) = (w / 2.0, h * 0.45);
    let (rx, ry) = (w * 0.3, h * 0.3);
    let mut data = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (f32::from(x), f32::from(y));
            let inside = |ex: f32, ey: f32, ax: f32, ay: f32| {
                ((fx - ex) / ax).powi(2) + ((fy - ey) / ay).powi(2) <= 1.0
            };
            let eye = inside(cx - rx * 0.4, cy - ry * 0.2, rx * 0.12, ry * 0.08)
                || inside(cx + rx * 0.4, cy - ry * 0.2, rx * 0.12, ry * 0.08);
            let mouth = inside(cx, cy + ry * 0.5, rx * 0.35, ry * 0.07);
            let rgb = if eye {
                [40, 30, 30]
            } else if mouth {
                [170, 60, 70]
            } else if inside(cx, cy, rx, ry) {
                [224, 180, 150]
            } else {
                let shade = (60.0 + 120.0 * fy / h) as u8;
                [shade / 2, shade, (shade as u16 + 60).min(255) as u8]
            };
            data.extend_from_slice(&rgb);
        }
    }
    data
}
