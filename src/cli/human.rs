//! Docker's human-readable wording for sizes and durations.
//!
//! These reproduce the `github.com/docker/go-units` helpers byte for byte,
//! because their output lands in table columns and `--format` fields that
//! scripts compare against real Docker output.

use chrono::{DateTime, Duration, Utc};

/// Decimal unit names used by go-units' `HumanSize*` family.
const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// The SIZE column of `docker images`: go-units
/// `HumanSizeWithPrecision(size, 3)`, e.g. "4.26MB", "1.24kB", "0B".
pub fn size(bytes: u64) -> String {
    size_with_precision(bytes, 3)
}

/// go-units `HumanSizeWithPrecision`: scale by 1000 until below 1000 (or
/// the last unit), then print with Go's `%.*g`. Docker uses precision 3
/// for SIZE and 4 (`HumanSize`) for VirtualSize, SharedSize, UniqueSize.
pub fn size_with_precision(bytes: u64, precision: usize) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < DECIMAL_UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", go_format_g(value, precision), DECIMAL_UNITS[unit])
}

/// Go's `fmt.Sprintf("%.*g", precision, value)` for non-negative finite
/// values: round to `precision` significant digits, drop trailing zeros,
/// and switch to exponent form when the exponent is < -4 or >= precision.
fn go_format_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 {
        return "0".to_string();
    }
    let (digits, exponent) = significant_digits(value, precision);
    let nd = digits.len() as i64;
    let dp = exponent + 1;
    let mut eprec = precision as i64;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if exponent < -4 || exponent >= eprec {
        let shown = (precision as i64).min(nd) as usize;
        return exponent_form(&digits[..shown], exponent);
    }
    let shown = if precision as i64 > dp {
        nd
    } else {
        precision as i64
    };
    fixed_form(&digits, dp, (shown - dp).max(0))
}

/// Rounds `value` to `precision` significant digits and returns the digits
/// (trailing zeros removed) plus the decimal exponent of the first digit.
/// Rust's `{:e}` rounds exact ties to even, as Go's strconv does.
fn significant_digits(value: f64, precision: usize) -> (Vec<u8>, i64) {
    let text = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent.parse().unwrap_or(0))
}

/// Go's `%e` layout: "d.ddde+XX" with at least two exponent digits.
fn exponent_form(digits: &[u8], exponent: i64) -> String {
    let mut out = String::new();
    out.push(digits[0] as char);
    if digits.len() > 1 {
        out.push('.');
        out.extend(digits[1..].iter().map(|&d| d as char));
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    out.push_str(&format!("e{sign}{:02}", exponent.abs()));
    out
}

/// Go's `%f` layout for a digit string whose decimal point sits after
/// `dp` digits, printing exactly `decimals` fractional digits.
fn fixed_form(digits: &[u8], dp: i64, decimals: i64) -> String {
    let digit_at = |i: i64| -> char {
        if i >= 0 && (i as usize) < digits.len() {
            digits[i as usize] as char
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if dp > 0 {
        out.extend((0..dp).map(digit_at));
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        out.extend((0..decimals).map(|i| digit_at(dp + i)));
    }
    out
}

/// go-units `HumanDuration`: "Less than a second", "About a minute",
/// "3 hours", "2 weeks", … with exactly its thresholds and rounding.
pub fn duration(d: Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Hours are rounded to nearest here (Go adds 0.5 before truncating),
    // but the years branch below truncates: both quirks are go-units'.
    let exact_hours = hours_f64(d);
    let hours = (exact_hours + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", exact_hours as i64 / 24 / 365)
}

/// Go's `Duration.Hours()`: whole hours plus the fractional remainder.
fn hours_f64(d: Duration) -> f64 {
    let seconds = d.num_seconds();
    let nanos = d.subsec_nanos();
    (seconds / 3600) as f64 + ((seconds % 3600) as f64 + nanos as f64 / 1e9) / 3600.0
}

/// Docker's CREATED / "RunningFor" wording: `HumanDuration(now - t) + " ago"`.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", duration(now - t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_uses_three_significant_digits() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(1), "1B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(1240), "1.24kB");
        assert_eq!(size(4_260_000), "4.26MB");
        assert_eq!(size(4_264_999), "4.26MB");
        assert_eq!(size(7_337_000), "7.34MB");
        assert_eq!(size(124_000_000), "124MB");
        assert_eq!(size(1_200_000_000), "1.2GB");
        assert_eq!(size(77_800_000), "77.8MB");
    }

    #[test]
    fn size_switches_to_exponent_like_go() {
        // 999.999kB rounds to 1e+03 at three digits; Go prints it that way.
        assert_eq!(size(999_999), "1e+03kB");
        assert_eq!(size(999_500), "1e+03kB");
    }

    #[test]
    fn size_rounds_ties_to_even() {
        // 1.125 is exact in binary, so this is a true tie.
        assert_eq!(size(1125), "1.12kB");
    }

    #[test]
    fn size_with_precision_four_matches_go_units_tests() {
        assert_eq!(size_with_precision(1000, 4), "1kB");
        assert_eq!(size_with_precision(1024, 4), "1.024kB");
        assert_eq!(size_with_precision(1_000_000, 4), "1MB");
        assert_eq!(size_with_precision(1_048_576, 4), "1.049MB");
        assert_eq!(size_with_precision(2_000_000, 4), "2MB");
        assert_eq!(size_with_precision(3_420_000_000, 4), "3.42GB");
        assert_eq!(size_with_precision(5_372_000_000_000, 4), "5.372TB");
        assert_eq!(size_with_precision(2_220_000_000_000_000, 4), "2.22PB");
        assert_eq!(size_with_precision(u64::MAX, 4), "18.45EB");
    }

    #[test]
    fn go_g_formatting_edge_cases() {
        assert_eq!(go_format_g(0.0001234, 3), "0.000123");
        assert_eq!(go_format_g(0.00001234, 3), "1.23e-05");
        assert_eq!(go_format_g(10000.0, 3), "1e+04");
        assert_eq!(go_format_g(100.0, 3), "100");
        assert_eq!(go_format_g(12345.0, 4), "1.234e+04");
    }

    fn hours(h: i64) -> Duration {
        Duration::hours(h)
    }

    #[test]
    fn duration_matches_go_units_tests() {
        let day = 24;
        let week = 7 * day;
        let month = 30 * day;
        let year = 365 * day;
        let cases = [
            (Duration::milliseconds(450), "Less than a second"),
            (Duration::seconds(1), "1 second"),
            (Duration::seconds(45), "45 seconds"),
            (Duration::seconds(59), "59 seconds"),
            (Duration::seconds(60), "About a minute"),
            (Duration::minutes(3), "3 minutes"),
            (Duration::minutes(35) + Duration::seconds(40), "35 minutes"),
            (Duration::minutes(59), "59 minutes"),
            (hours(1), "About an hour"),
            (hours(1) + Duration::minutes(29), "About an hour"),
            (hours(1) + Duration::minutes(31), "2 hours"),
            (hours(3) + Duration::minutes(29), "3 hours"),
            (hours(3) + Duration::minutes(31), "4 hours"),
            (hours(24), "24 hours"),
            (hours(day + 12), "36 hours"),
            (hours(2 * day), "2 days"),
            (hours(7 * day), "7 days"),
            (hours(13 * day + 5), "13 days"),
            (hours(2 * week), "2 weeks"),
            (hours(2 * week + 4 * day), "2 weeks"),
            (hours(3 * week), "3 weeks"),
            (hours(4 * week + 3 * day), "4 weeks"),
            (hours(month), "4 weeks"),
            (hours(month + 2 * week), "6 weeks"),
            (hours(2 * month), "2 months"),
            (hours(3 * month + week), "3 months"),
            (hours(5 * month + 2 * week), "5 months"),
            (hours(13 * month), "13 months"),
            (hours(24 * month), "24 months"),
            (hours(24 * month + 2 * week), "2 years"),
            (hours(3 * year + 2 * month), "3 years"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn negative_duration_is_less_than_a_second() {
        assert_eq!(duration(Duration::seconds(-30)), "Less than a second");
    }

    #[test]
    fn ago_appends_suffix() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let then = now - Duration::minutes(5);
        assert_eq!(ago(then, now), "5 minutes ago");
        assert_eq!(ago(now, now), "Less than a second ago");
    }
}
