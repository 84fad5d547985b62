//! SVG pictures rendered to pixels, to check a report's pictures as pictures.

/// An SVG picture rendered to pixels (shapes only: this renderer has no fonts), to check
/// it as a picture: not blank, and showing the colors of its series.
///
/// # Examples
/// ```
/// use testrig::testing::Picture;
///
/// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="20">
///   <rect x="0" y="5" width="80" height="4" fill="rgb(92,184,92)"/></svg>"#;
/// let picture = Picture::render(svg);
/// assert_eq!(picture.count((92, 184, 92)), 80 * 4);
/// assert_eq!(picture.rows_with((92, 184, 92), 50), [5, 6, 7, 8]);
/// assert!(picture.has_line_across((92, 184, 92)));
/// ```
#[derive(Debug)]
pub struct Picture(resvg::tiny_skia::Pixmap);

impl Picture {
    /// Renders `svg`.
    ///
    /// # Panics
    /// When `svg` is not a picture of some size.
    pub fn render(svg: &str) -> Self {
        let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
            .expect("the SVG parses");
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .expect("a picture of some size");
        resvg::render(&tree, Default::default(), &mut pixmap.as_mut());
        Self(pixmap)
    }

    /// Whether the pixel at (`x`, `y`) is `rgb` (opaque, within 2 of each channel).
    fn is(&self, x: u32, y: u32, rgb: (u8, u8, u8)) -> bool {
        self.0.pixel(x, y).is_some_and(|p| {
            p.alpha() == 255
                && p.red().abs_diff(rgb.0) <= 2
                && p.green().abs_diff(rgb.1) <= 2
                && p.blue().abs_diff(rgb.2) <= 2
        })
    }

    /// How many pixels are `rgb`.
    pub fn count(&self, rgb: (u8, u8, u8)) -> usize {
        let (width, height) = (self.0.width(), self.0.height());
        (0..height)
            .map(|y| (0..width).filter(|&x| self.is(x, y, rgb)).count())
            .sum()
    }

    /// The rows (y) with at least `at_least` pixels of `rgb`, top to bottom.
    pub fn rows_with(&self, rgb: (u8, u8, u8), at_least: usize) -> Vec<u32> {
        let (width, height) = (self.0.width(), self.0.height());
        (0..height)
            .filter(|&y| (0..width).filter(|&x| self.is(x, y, rgb)).count() >= at_least)
            .collect()
    }

    /// The columns (x) where `rgb` shows, left to right.
    pub fn columns_with(&self, rgb: (u8, u8, u8)) -> Vec<u32> {
        let (width, height) = (self.0.width(), self.0.height());
        (0..width)
            .filter(|&x| (0..height).any(|y| self.is(x, y, rgb)))
            .collect()
    }

    /// Whether a line of `rgb` runs across most of the picture: far wider than a legend
    /// entry, so the series itself is drawn.
    pub fn has_line_across(&self, rgb: (u8, u8, u8)) -> bool {
        self.columns_with(rgb).len() > self.0.width() as usize / 2
    }
}
