//! Parsing of duration flags: plain seconds, as the 0.18 CLI takes them,
//! or humantime such as `30s`, `10m` or `1h 30m`.

use std::time::Duration;

/// Parses a duration given on the command line or in a `BYTEWAX_*`
/// variable.
///
/// A bare number is seconds and may be fractional; anything else must be
/// a humantime duration.
///
/// ```
/// use std::time::Duration;
/// use bytewax::cli::duration::parse_duration;
///
/// assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
/// assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
/// assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
/// assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
/// assert!(parse_duration("-1").is_err());
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected a duration such as `10`, `30s` or `5m`; got nothing".into());
    }
    if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        let secs: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number of seconds"))?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("`{text}` must be zero or more seconds"));
        }
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is too long"));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration ({e}); use seconds like `30` or units like `30s`, `10m`, `1h`")
    })
}
