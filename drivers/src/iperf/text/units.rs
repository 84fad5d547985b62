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

/// `3.39 GBytes`: binary units, as iperf3 prints transfers.
pub fn format_bytes(bytes: f64) -> String {
    bytes_text(bytes)
}

/// `29.1 Gbits/sec`: adaptive decimal units, as iperf3 prints bitrates by default.
pub fn format_bitrate(bits_per_second: f64) -> String {
    rate_text(bits_per_second, UnitFormat::AdaptiveBits)
}

/// iperf3's adaptive number: `%4.2f` under 10, `%4.1f` under 100, else `%4.0f`.
pub fn adaptive(value: f64) -> String {
    if value < 9.995 {
        format!("{value:4.2}")
    } else if value < 99.95 {
        format!("{value:4.1}")
    } else {
        format!("{value:4.0}")
    }
}

/// The unit a report shows rates in (`-f`): adaptive bits (iperf3's default), or a fixed
/// unit of bits (`k m g t`) or bytes (`K M G T`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnitFormat {
    /// Bits, in the unit that keeps the number under 1000 (iperf3 without `-f`).
    #[default]
    AdaptiveBits,
    /// Bits in a fixed unit: `k`, `m`, `g` or `t` (powers of 1000).
    Bits(char),
    /// Bytes in a fixed unit: `K`, `M`, `G` or `T` (powers of 1024).
    Bytes(char),
}

impl UnitFormat {
    fn letter(self) -> char {
        match self {
            Self::AdaptiveBits => 'a',
            Self::Bits(c) | Self::Bytes(c) => c,
        }
    }
}

/// iperf3's `unit_snprintf`: `value` bytes as `"%4.2f Mbit"`-style text in the unit `format`
/// names (`a`/`A` adaptive bits/bytes, `k m g t` bits, `K M G T` bytes), without the plural
/// `s` iperf3 appends in its reports.
pub fn unit_text(value: f64, format: char) -> String {
    const BYTE_LABELS: [&str; 5] = ["Byte", "KByte", "MByte", "GByte", "TByte"];
    const BIT_LABELS: [&str; 5] = ["bit", "Kbit", "Mbit", "Gbit", "Tbit"];
    let bits = !format.is_ascii_uppercase();
    let number = if bits { value * 8.0 } else { value };
    let base = if bits { 1000.0 } else { 1024.0 };
    let conv = match format.to_ascii_uppercase() {
        'B' => 0,
        'K' => 1,
        'M' => 2,
        'G' => 3,
        'T' => 4,
        _ => {
            let (mut scaled, mut conv) = (number, 0);
            while scaled >= base && conv < 4 {
                scaled /= base;
                conv += 1;
            }
            conv
        }
    };
    let scaled = number / f64::powi(base, conv);
    let labels = if bits { BIT_LABELS } else { BYTE_LABELS };
    format!("{} {}", adaptive(scaled), labels[conv as usize])
}

/// A byte count as iperf3 prints transfers: `" 100 MBytes"`, `"3.40 GBytes"`.
pub fn bytes_text(bytes: f64) -> String {
    format!("{}s", unit_text(bytes, 'A'))
}

/// A rate (bits/s) as iperf3 prints bitrates in `format`: `"29.2 Gbits/sec"`.
pub fn rate_text(bits_per_second: f64, format: UnitFormat) -> String {
    format!("{}s/sec", unit_text(bits_per_second / 8.0, format.letter()))
}

/// C's `%.2g`, as iperf3 prints loss percentages: `0`, `0.5`, `12`, `1e+02`.
pub fn percent_g2(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return if value.is_nan() {
            "nan".to_owned()
        } else if value.is_infinite() {
            "inf".to_owned()
        } else {
            "0".to_owned()
        };
    }
    // The exponent after rounding to two significant digits decides the style.
    let sci = format!("{value:.1e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..2).contains(&exponent) {
        let decimals = (1 - exponent).max(0) as usize;
        trim_zeros(format!("{value:.decimals$}"))
    } else {
        let mantissa = trim_zeros(mantissa.to_owned());
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_iperf3() {
        assert_eq!(format_bytes(3_650_355_200.0), "3.40 GBytes");
        assert_eq!(format_bytes(512.0), " 512 Bytes");
        assert_eq!(format_bitrate(29_195_104_897.0), "29.2 Gbits/sec");
        assert_eq!(format_bitrate(100_000_000.0), " 100 Mbits/sec");
    }

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

    #[test]
    fn units_match_strings_iperf3_printed() {
        // Each pair was printed by iperf3 3.12 on this machine, or follows from its
        // unit_snprintf (t_units.c-style cases).
        assert_eq!(bytes_text(100.0 * 1024.0 * 1024.0), " 100 MBytes");
        assert_eq!(bytes_text(655_360.0), " 640 KBytes");
        assert_eq!(bytes_text(0.0), "0.00 Bytes");
        assert_eq!(bytes_text(1023.0 * 1024.0), "1023 KBytes");
        assert_eq!(
            bytes_text(1.5 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
            "1.50 TBytes"
        );
        assert_eq!(bytes_text(3_650_355_200.0), "3.40 GBytes");
        assert_eq!(rate_text(100e6, UnitFormat::AdaptiveBits), " 100 Mbits/sec");
        assert_eq!(
            rate_text(99.9e6, UnitFormat::AdaptiveBits),
            "99.9 Mbits/sec"
        );
        assert_eq!(rate_text(0.0, UnitFormat::AdaptiveBits), "0.00 bits/sec");
        assert_eq!(
            rate_text(2.5e13, UnitFormat::AdaptiveBits),
            "25.0 Tbits/sec"
        );
        assert_eq!(
            rate_text(16_680_469_000.0, UnitFormat::Bits('k')),
            "16680469 Kbits/sec"
        );
        assert_eq!(rate_text(8e9, UnitFormat::Bits('g')), "8.00 Gbits/sec");
        assert_eq!(rate_text(8e9, UnitFormat::Bytes('M')), " 954 MBytes/sec");
        assert_eq!(rate_text(8e9, UnitFormat::Bytes('K')), "976562 KBytes/sec");
    }

    #[test]
    fn loss_percentages_are_printed_as_c_percent_2g() {
        for (value, text) in [
            (0.0, "0"),
            (0.5, "0.5"),
            (1.0, "1"),
            (12.345, "12"),
            (99.5, "1e+02"),
            (100.0, "1e+02"),
            (0.012_34, "0.012"),
            (0.000_012, "1.2e-05"),
            (5.05, "5"),
        ] {
            assert_eq!(percent_g2(value), text, "{value}");
        }
    }
}
