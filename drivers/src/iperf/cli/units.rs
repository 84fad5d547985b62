//! iperf3's number suffixes: sizes are binary (`10M` = 10 MiB), rates decimal (`100M` =
//! 100 000 000 bit/s).

/// A size such as `128K`, `10M`, `1G` (k/m/g/t, either case, powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    parse_with(text, 1024)
}

/// A bitrate such as `100M`, `1.5G` (k/m/g/t, either case, powers of 1000).
pub fn parse_bitrate(text: &str) -> Option<u64> {
    parse_with(text, 1000)
}

fn parse_with(text: &str, base: u64) -> Option<u64> {
    let text = text.trim();
    let (number, exponent) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 1),
        'm' | 'M' => (&text[..text.len() - 1], 2),
        'g' | 'G' => (&text[..text.len() - 1], 3),
        't' | 'T' => (&text[..text.len() - 1], 4),
        _ => (text, 0),
    };
    let value: f64 = number.parse().ok()?;
    let scaled = value * (base as f64).powi(exponent);
    (value.is_finite() && value >= 0.0 && scaled < u64::MAX as f64).then_some(scaled as u64)
}

/// iperf3's adaptive number: `%4.2f` under 10, `%4.1f` under 100, else `%4.0f`.
pub(crate) fn adaptive(value: f64) -> String {
    if value < 9.995 {
        format!("{value:4.2}")
    } else if value < 99.95 {
        format!("{value:4.1}")
    } else {
        format!("{value:4.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary_and_rates_decimal_like_iperf3() {
        assert_eq!(parse_size("10M"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("128k"), Some(128 * 1024));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_bitrate("100M"), Some(100_000_000));
        assert_eq!(parse_bitrate("1.5G"), Some(1_500_000_000));
        assert_eq!(parse_bitrate("0"), Some(0));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "M", "ten", "-5", "1.5.5K", "1Q"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_are_printed_with_iperf3_precision() {
        assert_eq!(adaptive(3.391), "3.39");
        assert_eq!(adaptive(29.15), "29.1");
        assert_eq!(adaptive(100.2), " 100");
    }
}
