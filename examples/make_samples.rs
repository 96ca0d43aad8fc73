//! Writes the sample images under `samples/`: three portrait faces that meet
//! the service's rules and one landscape image that does not (for the demo's
//! invalid job). Run with `cargo run --example make_samples`.

use face_enroll_fixtures::jpeg;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in [
        ("face-1.jpg", jpeg::face(480, 640)),
        ("face-2.jpg", jpeg::face(360, 480)),
        ("face-3.jpg", jpeg::face(600, 800)),
        ("landscape.jpg", jpeg::face(640, 480)),
    ] {
        std::fs::write(dir.join(name), &bytes)?;
        println!("samples/{name}: {} bytes", bytes.len());
    }
    Ok(())
}
