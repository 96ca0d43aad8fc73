//! EXIF orientations 1 to 8 applied to RGB pixels, so the picture sent is
//! upright with no tag to read.

/// RGB pixels, row by row, 3 bytes each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// The pixels.
    pub pixels: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A sample `c` of alpha `a` laid on white, as a viewer shows it.
pub fn over_white(c: u8, a: u8) -> u8 {
    ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8
}

/// RGBA pixels laid on white, as RGB, in the same buffer (no copy).
pub fn rgba_over_white(mut pixels: Vec<u8>) -> Vec<u8> {
    let count = pixels.len() / 4;
    for i in 0..count {
        let [r, g, b, a] = [0, 1, 2, 3].map(|k| pixels[4 * i + k]);
        pixels[3 * i] = over_white(r, a);
        pixels[3 * i + 1] = over_white(g, a);
        pixels[3 * i + 2] = over_white(b, a);
    }
    pixels.truncate(3 * count);
    pixels
}

/// The picture as displayed: `stored` turned and mirrored as `orientation`
/// says (1 and values outside 1..=8 leave it as it is).
pub fn apply(stored: Rgb, orientation: u16) -> Rgb {
    if !(2..=8).contains(&orientation) {
        return stored;
    }
    let (w, h) = (stored.width as usize, stored.height as usize);
    let transposed = orientation >= 5;
    let (dw, dh) = if transposed { (h, w) } else { (w, h) };
    let mut pixels = vec![0; stored.pixels.len()];
    for y in 0..dh {
        for x in 0..dw {
            // Where the pixel displayed at (x, y) is stored.
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = 3 * (sy * w + sx);
            let to = 3 * (y * dw + x);
            pixels[to..to + 3].copy_from_slice(&stored.pixels[from..from + 3]);
        }
    }
    Rgb {
        pixels,
        width: dw as u32,
        height: dh as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 picture whose pixels are numbered 0 to 5 (in the red byte).
    fn numbered() -> Rgb {
        Rgb {
            pixels: (0..6u8).flat_map(|n| [n, 0, 0]).collect(),
            width: 3,
            height: 2,
        }
    }

    fn reds(rgb: &Rgb) -> Vec<u8> {
        rgb.pixels.chunks(3).map(|p| p[0]).collect()
    }

    #[test]
    fn each_orientation_turns_and_mirrors_as_exif_defines() {
        // Stored:  0 1 2
        //          3 4 5
        let cases: [(u16, (u32, u32), [u8; 6]); 8] = [
            (1, (3, 2), [0, 1, 2, 3, 4, 5]),
            (2, (3, 2), [2, 1, 0, 5, 4, 3]), // mirrored left to right
            (3, (3, 2), [5, 4, 3, 2, 1, 0]), // turned half way
            (4, (3, 2), [3, 4, 5, 0, 1, 2]), // mirrored top to bottom
            (5, (2, 3), [0, 3, 1, 4, 2, 5]), // transposed
            (6, (2, 3), [3, 0, 4, 1, 5, 2]), // turned a quarter clockwise
            (7, (2, 3), [5, 2, 4, 1, 3, 0]), // transversed
            (8, (2, 3), [2, 5, 1, 4, 0, 3]), // turned a quarter anticlockwise
        ];
        for (orientation, size, expected) in cases {
            let shown = apply(numbered(), orientation);
            assert_eq!(
                (shown.width, shown.height),
                size,
                "orientation {orientation}"
            );
            assert_eq!(reds(&shown), expected, "orientation {orientation}");
        }
    }
}
