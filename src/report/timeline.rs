use std::time::SystemTime;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::Report;
use crate::status::Status;

const ROW_HEIGHT: u32 = 34;

impl Report {
    /// The environment timeline as an SVG picture: a row per driver, a bar per
    /// phase (starting, started, paused, stopping), failures in red.
    pub fn timeline_svg(&self) -> String {
        let origin = self
            .drivers
            .iter()
            .flat_map(|d| d.transitions.iter().map(|t| t.at))
            .min()
            .or(self.started_at)
            .unwrap_or_else(SystemTime::now);
        let ms = |t: SystemTime| t.duration_since(origin).unwrap_or_default().as_secs_f64() * 1e3;
        let end = self
            .drivers
            .iter()
            .flat_map(|d| d.transitions.iter().map(|t| ms(t.at)))
            .fold(0.0_f64, f64::max);
        let span = if end > 0.0 { end * 1.02 } else { 1.0 };

        let rows = self.drivers.len().max(1);
        let height = 150 + ROW_HEIGHT * rows as u32;
        let mut svg = String::new();
        let drawn = draw(&mut svg, self, (900, height), rows, span, &ms, end);
        if let Err(error) = drawn {
            // Drawing into a string only fails on a bug; keep the report usable.
            return format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- timeline unavailable: {} --></svg>",
                error.replace("--", "- -")
            );
        }
        svg
    }
}

fn draw(
    svg: &mut String,
    report: &Report,
    size: (u32, u32),
    rows: usize,
    span: f64,
    ms: &dyn Fn(SystemTime) -> f64,
    end: f64,
) -> Result<(), String> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (plot, legend) = root.split_vertically(size.1 - 28);
    let names: Vec<&str> = report.drivers.iter().map(|d| d.name.as_str()).collect();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("environment {} — driver timeline", report.environment),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..span, (0..rows).into_segmented())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .x_desc("milliseconds since the first start")
        .y_labels(rows)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                names.get(*i).copied().unwrap_or("").to_owned()
            }
            SegmentValue::Last => String::new(),
        })
        .draw()
        .map_err(|e| e.to_string())?;

    for (row, driver) in report.drivers.iter().enumerate() {
        let transitions = &driver.transitions;
        for (i, t) in transitions.iter().enumerate() {
            let Some(color) = phase_color(t.to) else {
                continue;
            };
            let from = ms(t.at);
            let until = transitions.get(i + 1).map_or(end, |next| ms(next.at));
            // A phase shorter than a pixel still shows.
            let until = until.max(from + span / 900.0);
            let bar = Rectangle::new(
                [
                    (from, SegmentValue::Exact(row)),
                    (until, SegmentValue::Exact(row + 1)),
                ],
                color.filled(),
            );
            chart
                .draw_series(std::iter::once(bar))
                .map_err(|e| e.to_string())?;
        }
    }
    let entries = [
        ("starting", Status::Starting),
        ("started", Status::Started),
        ("paused", Status::Paused),
        ("stopping", Status::Stopping),
        ("failed", Status::Failed),
    ];
    for (i, (label, status)) in entries.into_iter().enumerate() {
        let x = 142 + 110 * i as i32;
        let color = phase_color(status).unwrap_or(BLACK);
        legend
            .draw(&Rectangle::new([(x, 8), (x + 14, 20)], color.filled()))
            .map_err(|e| e.to_string())?;
        legend
            .draw(&Text::new(label, (x + 20, 8), ("sans-serif", 13)))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

fn phase_color(status: Status) -> Option<RGBColor> {
    match status {
        Status::Starting => Some(RGBColor(240, 173, 78)),
        Status::Started => Some(RGBColor(92, 184, 92)),
        Status::Paused => Some(RGBColor(160, 160, 160)),
        Status::Stopping => Some(RGBColor(91, 155, 213)),
        Status::Failed => Some(RGBColor(217, 83, 79)),
        Status::Idle | Status::Stopped | Status::Aborted => None,
    }
}
