use std::time::Duration;

use testrig::Error;

/// Milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Whether a TCP connect to `127.0.0.1:port` is refused (nothing listens).
pub async fn refused(port: u16) -> bool {
    match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

/// The start error inside `error`, or a panic saying what it was instead.
pub fn start_error(error: Error) -> testrig::error::StartError {
    match error {
        Error::Start(e) => e,
        other => panic!("expected a start error, got: {other}"),
    }
}

/// An SVG picture rendered to pixels (shapes only: the test renderer has no fonts), to
/// check it as a picture: not blank, and showing the colors of its series.
pub struct Picture(resvg::tiny_skia::Pixmap);

impl Picture {
    pub fn render(svg: &str) -> Self {
        let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
            .expect("the SVG parses");
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .expect("a picture of some size");
        resvg::render(&tree, Default::default(), &mut pixmap.as_mut());
        Self(pixmap)
    }

    /// How many pixels are `rgb` (opaque, within 2 of each channel).
    pub fn count(&self, rgb: (u8, u8, u8)) -> usize {
        self.0
            .pixels()
            .iter()
            .filter(|p| {
                p.alpha() == 255
                    && p.red().abs_diff(rgb.0) <= 2
                    && p.green().abs_diff(rgb.1) <= 2
                    && p.blue().abs_diff(rgb.2) <= 2
            })
            .count()
    }

    /// The rows (y) where `rgb` shows, top to bottom.
    pub fn rows_with(&self, rgb: (u8, u8, u8), at_least: usize) -> Vec<u32> {
        let (width, height) = (self.0.width(), self.0.height());
        (0..height)
            .filter(|&y| {
                (0..width)
                    .filter(|&x| {
                        let p = self.0.pixel(x, y).unwrap();
                        p.alpha() == 255
                            && p.red().abs_diff(rgb.0) <= 2
                            && p.green().abs_diff(rgb.1) <= 2
                            && p.blue().abs_diff(rgb.2) <= 2
                    })
                    .count()
                    >= at_least
            })
            .collect()
    }
}
