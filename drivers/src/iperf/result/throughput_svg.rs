use std::collections::BTreeMap;

use plotters::prelude::*;

use super::IperfResult;

impl IperfResult {
    /// Throughput over time as an SVG picture: a line per stream and a thick
    /// line for their sum (and for the reverse sum of a bidirectional test),
    /// each interval drawn as a level from its start to its end.
    pub fn throughput_svg(&self, title: &str) -> String {
        let (scale, unit) = unit_for(self.peak_bits_per_second());
        let mut streams: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
        let mut sum = Vec::new();
        let mut reverse = Vec::new();
        for interval in &self.intervals {
            for stream in &interval.streams {
                let m = &stream.measurement;
                let line = streams.entry(stream.id).or_default();
                step(line, m.start, m.end, m.bits_per_second / scale);
            }
            let m = &interval.sum;
            step(&mut sum, m.start, m.end, m.bits_per_second / scale);
            if let Some(r) = &interval.sum_bidir_reverse {
                step(&mut reverse, r.start, r.end, r.bits_per_second / scale);
            }
        }
        let x_end = sum.iter().map(|p| p.0).fold(0.0_f64, f64::max).max(1.0);
        let y_end = sum
            .iter()
            .chain(&reverse)
            .chain(streams.values().flatten())
            .map(|p| p.1)
            .fold(0.0_f64, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.1;

        let mut svg = String::new();
        let drawn = draw(
            &mut svg,
            title,
            unit,
            (x_end, y_end),
            &streams,
            &sum,
            &reverse,
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

    fn peak_bits_per_second(&self) -> f64 {
        self.intervals
            .iter()
            .flat_map(|i| {
                std::iter::once(i.sum.bits_per_second)
                    .chain(i.sum_bidir_reverse.as_ref().map(|r| r.bits_per_second))
            })
            .fold(0.0, f64::max)
    }
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
                color.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("stream {id}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    let lines = [
        ("sum", sum, BLACK),
        ("reverse sum", reverse, RGBColor(217, 83, 79)),
    ];
    for (label, points, color) in lines {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(3),
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(3)));
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
