//! JSON text exactly as iperf3 prints it: its cJSON's formatted printer (tabs, a tab after
//! each key's colon, arrays on one line, integral numbers as integers, others with C's `%1.15g` or `%1.17g`).

use std::fmt::Write;

use serde_json::Value;

/// `value` printed as iperf3 prints its `-J` documents (`cJSON_Print` of the cJSON iperf3
/// 3.12 bundles), without the final newline iperf3 adds after it.
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::iperf3_json_text;
///
/// let doc = serde_json::json!({ "end": {}, "list": [1, 2.5] });
/// assert_eq!(iperf3_json_text(&doc), "{\n\t\"end\":\t{\n\t},\n\t\"list\":\t[1, 2.5]\n}");
/// ```
pub fn iperf3_json_text(value: &Value) -> String {
    let mut out = String::new();
    print_value(value, 0, &mut out);
    out
}

fn print_value(value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => print_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_value(item, depth + 1, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let depth = depth + 1;
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                out.extend(std::iter::repeat_n('\t', depth));
                print_string(key, out);
                out.push_str(":\t");
                print_value(item, depth, out);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.extend(std::iter::repeat_n('\t', depth - 1));
            out.push('}');
        }
    }
}

fn print_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as iperf3's cJSON prints it: an integral one (within `int64_t`) as an integer
/// (with `PRIu64`); else `%1.15g` when that reads back as the same double (within an
/// epsilon), else `%1.17g`.
fn number_text(d: f64) -> String {
    if !d.is_finite() {
        return "null".into();
    }
    // iperf3's cJSON keeps an `int64_t` copy (saturated) and prints it, unsigned, when it
    // equals the double.
    let as_int = d as i64;
    if d == as_int as f64 {
        return (as_int as u64).to_string();
    }
    let short = format_g(d, 15);
    let back: f64 = short.parse().unwrap_or(f64::NAN);
    let max = back.abs().max(d.abs());
    if (back - d).abs() <= max * f64::EPSILON {
        short
    } else {
        format_g(d, 17)
    }
}

/// C's `%.{precision}g`.
fn format_g(d: f64, precision: usize) -> String {
    let sci = format!("{:.*e}", precision - 1, d);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_fraction_zeros(mantissa),
            exponent.abs()
        )
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        strip_fraction_zeros(&format!("{d:.decimals$}")).to_owned()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    // The figures are written with all the digits cJSON prints (17 where 15 do not read
    // back as the same double).
    #[allow(clippy::excessive_precision)]
    fn numbers_are_printed_like_cjson() {
        // Figures taken from iperf3 3.12's own -J output.
        for (value, text) in [
            (0.0, "0"),
            (47311.0, "47311"),
            (2_205_941_760.0, "2205941760"),
            (0.996711, "0.996711"),
            (0.996711015701294, "0.996711015701294"),
            (17705768073.189251, "17705768073.189251"),
            (41.47097204819373, "41.47097204819373"),
            (75.684931506849324, "75.684931506849324"),
            (14665398601.3986, "14665398601.3986"),
            (0.038419927604762837, "0.038419927604762837"),
            (5e15, "5000000000000000"),
            (1e20, "1e+20"),
            (1.5e-7, "1.5e-07"),
        ] {
            assert_eq!(number_text(value), text, "{value}");
        }
    }

    #[test]
    fn documents_are_laid_out_like_cjson() {
        let doc = json!({
            "start": { "connected": [{ "socket": 5 }], "version": "iperf 3.12" },
            "intervals": [],
            "end": {},
            "error": "a \"quoted\"\tword",
        });
        assert_eq!(
            iperf3_json_text(&doc),
            "{\n\t\"start\":\t{\n\t\t\"connected\":\t[{\n\t\t\t\t\"socket\":\t5\n\t\t\t}],\n\
             \t\t\"version\":\t\"iperf 3.12\"\n\t},\n\t\"intervals\":\t[],\n\t\"end\":\t{\n\t},\n\
             \t\"error\":\t\"a \\\"quoted\\\"\\tword\"\n}"
        );
    }
}
