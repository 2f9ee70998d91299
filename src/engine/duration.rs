//! Durations as Docker's flags take them and Go prints them (`500ms`, `1m30s`): health
//! checks' intervals and timeouts, `logs --since 10m`, prune's `until=`.

use std::time::Duration;

use crate::Error;

/// Go's duration syntax (`1m30s`, `500ms`, `2h`, `1.5s`), as Docker's flags take it.
pub fn parse(text: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid duration {text:?}: use a number and a unit, e.g. 30s, 1m30s or 500ms"
        ))
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total)
        .ok()
        .filter(|d| d.as_nanos() <= i64::MAX as u128)
        .ok_or_else(bad)
}

/// A moment as `logs --since/--until` and prune's `until=` take it: RFC 3339, Unix seconds,
/// or a duration back from `now`.
pub fn parse_moment(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return chrono::DateTime::from_timestamp(secs as i64, ((secs.fract()) * 1e9) as u32)
            .ok_or_else(|| Error::Invalid(format!("invalid time {text:?}")));
    }
    let back = parse(text).map_err(|_| {
        Error::Invalid(format!(
            "invalid time {text:?}: use RFC 3339, Unix seconds or a duration such as 10m"
        ))
    })?;
    Ok(now - chrono::Duration::milliseconds(back.as_millis() as i64))
}

/// A duration as Go's `%v` prints it: `500ms`, `30s`, `1m30s`, `1h0m0s`.
pub fn go_text(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs_f64() % 60.0;
    let whole = d.as_secs();
    let s = format!("{secs}s");
    match (whole / 3600, (whole / 60) % 60) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert!(parse("99999999999999999h").is_err(), "no overflow");
        assert_eq!(go_text(Duration::from_millis(500)), "500ms");
        assert_eq!(go_text(Duration::from_secs(30)), "30s");
        assert_eq!(go_text(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_text(Duration::from_secs(3600)), "1h0m0s");
        for bad in ["", "30", "s", "3x", "1m30"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
