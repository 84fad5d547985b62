use std::time::SystemTime;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Outcome, Report};
use crate::status::Status;

const ROW_HEIGHT: u32 = 34;
const WIDTH: u32 = 900;
const LABEL_WIDTH: u32 = 150;

/// One bar of the picture: a row, a span in milliseconds, a color, and text drawn inside
/// it when it fits.
struct Bar {
    row: usize,
    from: f64,
    until: f64,
    color: RGBColor,
    text: Option<String>,
}

impl Report {
    /// The environment timeline as an SVG picture: a labelled row per driver with a
    /// bar per phase (starting, started, paused, stopping, failed, aborted; a task that
    /// ended while started turns pale), then a row with each case or step, green when
    /// it passed, red when it failed, grey when it did not run; the title says whether
    /// the run passed, so a failure shows at a glance.
    pub fn timeline_svg(&self) -> String {
        let origin = self
            .drivers
            .iter()
            .flat_map(|d| d.transitions.iter().map(|t| t.at))
            .chain(self.cases.iter().filter_map(|c| c.started_at))
            .min()
            .or(self.started_at)
            .unwrap_or_else(SystemTime::now);
        let ms = |t: SystemTime| t.duration_since(origin).unwrap_or_default().as_secs_f64() * 1e3;
        let case_ends = self.cases.iter().filter_map(|c| {
            c.started_at
                .map(|start| ms(start) + c.duration.as_secs_f64() * 1e3)
        });
        let end = self
            .drivers
            .iter()
            .flat_map(|d| d.transitions.iter().map(|t| ms(t.at)))
            .chain(case_ends)
            .fold(0.0_f64, f64::max);
        let span = if end > 0.0 { end * 1.02 } else { 1.0 };

        let mut labels: Vec<String> = self.drivers.iter().map(|d| d.name.clone()).collect();
        let mut bars = driver_bars(self, &ms, end, span);
        if !self.cases.is_empty() {
            bars.extend(case_bars(self, labels.len(), &ms, span));
            labels.push("cases".to_owned());
        }
        let rows = labels.len().max(1);
        let height = 150 + ROW_HEIGHT * rows as u32;
        let mut svg = String::new();
        let drawn = draw(&mut svg, self, (WIDTH, height), &labels, &bars, span);
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

/// Each driver's phases, from its transitions; a started phase after the driver's own
/// work finished (a task that exited as expected) is drawn pale.
fn driver_bars(report: &Report, ms: &dyn Fn(SystemTime) -> f64, end: f64, span: f64) -> Vec<Bar> {
    let mut bars = Vec::new();
    for (row, driver) in report.drivers.iter().enumerate() {
        let transitions = &driver.transitions;
        for (i, t) in transitions.iter().enumerate() {
            let Some(color) = phase_color(t.to) else {
                continue;
            };
            let from = ms(t.at);
            let until = transitions.get(i + 1).map_or(end, |next| ms(next.at));
            let finished = driver
                .finished_at
                .map(ms)
                .filter(|&f| t.to == Status::Started && f > from && f < until);
            match finished {
                Some(finished) => {
                    bars.push(bar(row, from, finished, color, span));
                    let mut done = bar(row, finished, until, DONE, span);
                    done.text = Some("exited".to_owned());
                    bars.push(done);
                }
                None => bars.push(bar(row, from, until, color, span)),
            }
        }
    }
    bars
}

/// The cases (or a rig's steps), one after another on one row, named inside their bar.
fn case_bars(report: &Report, row: usize, ms: &dyn Fn(SystemTime) -> f64, span: f64) -> Vec<Bar> {
    report
        .cases
        .iter()
        .filter_map(|case| {
            let from = ms(case.started_at?);
            let until = from + case.duration.as_secs_f64() * 1e3;
            let color = match case.outcome {
                Outcome::Passed => PASSED,
                Outcome::Failed => FAILED,
                Outcome::NotRun => NOT_RUN,
            };
            let mut bar = bar(row, from, until, color, span);
            bar.text = Some(case.name.clone());
            Some(bar)
        })
        .collect()
}

fn bar(row: usize, from: f64, until: f64, color: RGBColor, span: f64) -> Bar {
    // A phase shorter than a pixel still shows.
    let until = until.max(from + span / f64::from(WIDTH));
    Bar {
        row,
        from,
        until,
        color,
        text: None,
    }
}

fn draw(
    svg: &mut String,
    report: &Report,
    size: (u32, u32),
    labels: &[String],
    bars: &[Bar],
    span: f64,
) -> Result<(), String> {
    let rows = labels.len().max(1);
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (plot, legend) = root.split_vertically(size.1 - 28);
    let (verdict, verdict_color) = match report.outcome {
        Outcome::Passed => ("PASSED", PASSED),
        Outcome::Failed => ("FAILED", FAILED),
        Outcome::NotRun => ("NOT RUN", NOT_RUN),
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("environment {} {verdict} — timeline", report.environment),
            ("sans-serif", 18).into_font().color(&verdict_color),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(LABEL_WIDTH)
        // Row 0 at the top.
        .build_cartesian_2d(0.0..span, rows as f64..0.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .x_desc("milliseconds since the first start")
        .draw()
        .map_err(|e| e.to_string())?;

    // Row names, right-aligned left of the plot, centered on their row.
    let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
    let row_pixels = f64::from(y_pixels.end - y_pixels.start) / rows as f64;
    let name_style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (row, label) in labels.iter().enumerate() {
        let y = y_pixels.start + ((row as f64 + 0.5) * row_pixels) as i32;
        root.draw(&Text::new(
            label.as_str(),
            (x_pixels.start - 8, y),
            &name_style,
        ))
        .map_err(|e| e.to_string())?;
    }

    let pixels_per_ms = f64::from(x_pixels.end - x_pixels.start) / span;
    let inner_style = ("sans-serif", 11)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for bar in bars {
        // A thin gap between rows keeps them apart.
        let (top, bottom) = (bar.row as f64 + 0.1, bar.row as f64 + 0.9);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(bar.from, top), (bar.until, bottom)],
                bar.color.filled(),
            )))
            .map_err(|e| e.to_string())?;
        if bar.text.is_some() {
            // Named bars (cases) side by side stay apart.
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(bar.from, top), (bar.until, bottom)],
                    WHITE.stroke_width(1),
                )))
                .map_err(|e| e.to_string())?;
        }
        if let Some(text) = &bar.text {
            let width = (bar.until - bar.from) * pixels_per_ms;
            // About 6.5 pixels a character at this size.
            if width > 6.5 * text.chars().count() as f64 + 6.0 {
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((bar.from, bar.row as f64 + 0.5))
                            + Text::new(text.clone(), (3, 0), &inner_style),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }
    }

    let entries = [
        ("starting", phase_color(Status::Starting)),
        ("started", phase_color(Status::Started)),
        ("exited", Some(DONE)),
        ("paused", phase_color(Status::Paused)),
        ("stopping", phase_color(Status::Stopping)),
        ("failed", phase_color(Status::Failed)),
        ("aborted", phase_color(Status::Aborted)),
        ("case passed", Some(PASSED)),
        ("case not run", Some(NOT_RUN)),
    ];
    let mut x = 12;
    for (label, color) in entries {
        let color = color.unwrap_or(BLACK);
        legend
            .draw(&Rectangle::new([(x, 8), (x + 12, 20)], color.filled()))
            .map_err(|e| e.to_string())?;
        legend
            .draw(&Text::new(label, (x + 16, 8), ("sans-serif", 12)))
            .map_err(|e| e.to_string())?;
        x += 22 + (6.5 * label.len() as f64) as i32 + 10;
    }
    root.present().map_err(|e| e.to_string())
}

const PASSED: RGBColor = RGBColor(92, 184, 92);
const FAILED: RGBColor = RGBColor(217, 83, 79);
const NOT_RUN: RGBColor = RGBColor(190, 190, 190);
/// A task's started phase after its program exited as expected.
const DONE: RGBColor = RGBColor(200, 230, 200);

fn phase_color(status: Status) -> Option<RGBColor> {
    match status {
        Status::Starting => Some(RGBColor(240, 173, 78)),
        Status::Started => Some(PASSED),
        Status::Paused => Some(RGBColor(160, 160, 160)),
        Status::Stopping => Some(RGBColor(91, 155, 213)),
        Status::Failed => Some(FAILED),
        Status::Aborted => Some(RGBColor(140, 30, 30)),
        Status::Idle | Status::Stopped => None,
    }
}
