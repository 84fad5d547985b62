use std::collections::BTreeMap;

use plotters::prelude::*;

use super::{DirectionSummary, FineSample, IperfResult};

/// Below this many intervals a test with fine samples is drawn from them.
const FEW_INTERVALS: usize = 10;

/// At most this many levels are drawn from fine samples: each holds the rate over a few
/// consecutive samples, which smooths the millisecond timer's jitter into a readable line.
const FINE_LEVELS: usize = 100;

/// The lines of a picture, in bits/s: each a run of levels, a level held from its start to
/// its end.
#[derive(Debug, Default)]
struct Lines {
    streams: BTreeMap<u32, Vec<(f64, f64)>>,
    sum: Vec<(f64, f64)>,
    reverse: Vec<(f64, f64)>,
}

impl IperfResult {
    /// Throughput over time as an SVG picture: a thick black line for the sum of the
    /// streams, a thinner red one over it for the reverse sum of a bidirectional test and,
    /// drawn from intervals, a thin line per stream.
    ///
    /// A test with fewer than ten intervals and the native engine's
    /// [`fine_samples`](IperfResult::fine_samples) is drawn from the samples (the rate over
    /// a few milliseconds at a time), so a test of milliseconds has a line too; otherwise
    /// each interval is a level from its start to its end. A result with neither draws its
    /// summary's rate across the test.
    pub fn throughput_svg(&self, title: &str) -> String {
        let lines = if self.intervals.len() < FEW_INTERVALS && self.fine_samples.len() >= 2 {
            fine_lines(&self.fine_samples)
        } else if self.intervals.is_empty() {
            self.summary_lines()
        } else {
            self.interval_lines()
        };
        let all_points = || {
            lines
                .sum
                .iter()
                .chain(&lines.reverse)
                .chain(lines.streams.values().flatten())
        };
        let peak = all_points().map(|p| p.1).fold(0.0_f64, f64::max);
        let (scale, unit) = unit_for(peak);
        let x_end = all_points().map(|p| p.0).fold(0.0_f64, f64::max);
        // The time axis spans the test, however short; a second when there is nothing to draw.
        let x_end = if x_end > 0.0 { x_end } else { 1.0 };
        let y_end = (peak / scale).max(f64::MIN_POSITIVE) * 1.1;
        let scaled = |line: &[(f64, f64)]| -> Vec<(f64, f64)> {
            line.iter().map(|&(x, y)| (x, y / scale)).collect()
        };
        let streams = lines
            .streams
            .iter()
            .map(|(id, line)| (*id, scaled(line)))
            .collect();

        let mut svg = String::new();
        let drawn = draw(
            &mut svg,
            title,
            unit,
            (x_end, y_end),
            &streams,
            &scaled(&lines.sum),
            &scaled(&lines.reverse),
        );
        match drawn {
            Ok(()) => svg,
            // Drawing into a string only fails on a bug; keep the report usable.
            Err(error) => format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- throughput unavailable: {} --></svg>",
                error.replace("--", "- -")
            ),
        }
    }

    /// Each interval as a level, per stream and summed.
    fn interval_lines(&self) -> Lines {
        let mut lines = Lines::default();
        for interval in &self.intervals {
            for stream in &interval.streams {
                let m = &stream.measurement;
                let line = lines.streams.entry(stream.id).or_default();
                step(line, m.start, m.end, m.bits_per_second);
            }
            let m = &interval.sum;
            step(&mut lines.sum, m.start, m.end, m.bits_per_second);
            if let Some(r) = &interval.sum_bidir_reverse {
                step(&mut lines.reverse, r.start, r.end, r.bits_per_second);
            }
        }
        lines
    }

    /// The summary's rate across the test: what a result without intervals or samples has.
    fn summary_lines(&self) -> Lines {
        let across = |direction: &DirectionSummary| {
            // The receivers' count, unless only the senders' is known (a server's view).
            let m = match &direction.received {
                received if received.bytes > 0 => received,
                _ => &direction.sent,
            };
            let mut line = Vec::new();
            if m.seconds > 0.0 {
                step(&mut line, 0.0, m.seconds, m.bits_per_second);
            }
            line
        };
        Lines {
            streams: BTreeMap::new(),
            sum: across(&self.summary.main),
            reverse: self
                .summary
                .bidir_reverse
                .as_ref()
                .map(across)
                .unwrap_or_default(),
        }
    }
}

/// The rate between fine samples, as levels over spans of a few samples: at least two
/// samples' usual spacing (the counters move in bursts, and a busy machine wakes the sampler
/// late) and at most [`FINE_LEVELS`] spans over the test.
fn fine_lines(samples: &[FineSample]) -> Lines {
    let mut gaps: Vec<f64> = samples
        .windows(2)
        .map(|w| w[1].seconds - w[0].seconds)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let usual_gap = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    let span = ((last.seconds - first.seconds) / FINE_LEVELS as f64).max(2.0 * usual_gap);
    let mut spans: Vec<(&FineSample, &FineSample)> = Vec::new();
    let mut from = first;
    for sample in &samples[1..] {
        if sample.seconds - from.seconds >= span {
            spans.push((from, sample));
            from = sample;
        }
    }
    // What is left after the last whole span joins it unless it is a span's worth itself.
    if !std::ptr::eq(from, last) {
        match spans.last_mut() {
            Some((_, to)) if last.seconds - from.seconds < span / 2.0 => *to = last,
            _ => spans.push((from, last)),
        }
    }
    let mut lines = Lines::default();
    for (a, b) in spans {
        let seconds = b.seconds - a.seconds;
        if seconds <= 0.0 {
            continue;
        }
        let rate = |from: u64, to: u64| to.saturating_sub(from) as f64 * 8.0 / seconds;
        step(
            &mut lines.sum,
            a.seconds,
            b.seconds,
            rate(a.main_bytes, b.main_bytes),
        );
        if let (Some(from), Some(to)) = (a.reverse_bytes, b.reverse_bytes) {
            step(&mut lines.reverse, a.seconds, b.seconds, rate(from, to));
        }
    }
    lines
}

/// Each interval is a level held from its start to its end.
fn step(line: &mut Vec<(f64, f64)>, start: f64, end: f64, value: f64) {
    line.push((start, value));
    line.push((end, value));
}

fn unit_for(peak: f64) -> (f64, &'static str) {
    if peak >= 1e9 {
        (1e9, "Gbit/s")
    } else if peak >= 1e6 {
        (1e6, "Mbit/s")
    } else {
        (1e3, "kbit/s")
    }
}

fn draw(
    svg: &mut String,
    title: &str,
    unit: &str,
    (x_end, y_end): (f64, f64),
    streams: &BTreeMap<u32, Vec<(f64, f64)>>,
    sum: &[(f64, f64)],
    reverse: &[(f64, f64)],
) -> Result<(), String> {
    let root = SVGBackend::with_string(svg, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_end, 0.0..y_end)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .x_desc("seconds")
        .y_desc(unit)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (id, points)) in streams.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("stream {id}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    // The reverse sum is drawn thinner, over the sum: at the same rate both stay visible.
    let lines = [
        ("sum", sum, BLACK, 4),
        ("reverse sum", reverse, RGBColor(217, 83, 79), 2),
    ];
    for (label, points, color, width) in lines {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], color.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_follows_the_peak() {
        assert_eq!(unit_for(41.6e9).1, "Gbit/s");
        assert_eq!(unit_for(100e6).1, "Mbit/s");
        assert_eq!(unit_for(5e3).1, "kbit/s");
    }
}
