//! [`TimeSpec`]: a time as people type it for `--since`/`--until` and `?since=`: an RFC 3339
//! time, a date, or a span back from now (`30m`, `1h`, `2d`). Parsing needs no clock; the
//! caller resolves it against its own `now`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// A point in time, absolute or relative to "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    At(DateTime<Utc>),
    /// This long before now.
    Ago(TimeDelta),
}

/// What a time must look like; shown whenever one cannot be read.
pub const TIME_FORMS: &str = "a span back from now such as 30m, 1h or 2d (units s, m, h, d, w), \
     or an RFC 3339 time such as 2025-06-01T08:00:00Z or 2025-06-01T16:00:00+08:00, \
     or a date such as 2025-06-01 (midnight UTC)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read `{input}` as a time: write {TIME_FORMS}")]
pub struct TimeSpecError {
    pub input: String,
}

impl TimeSpec {
    /// The absolute time, given the caller's `now`; a span reaching before the earliest
    /// representable time gives that time.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeSpec::At(t) => t,
            TimeSpec::Ago(d) => now
                .checked_sub_signed(d)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

impl FromStr for TimeSpec {
    type Err = TimeSpecError;

    fn from_str(s: &str) -> Result<Self, TimeSpecError> {
        let t = s.trim();
        let err = || TimeSpecError {
            input: s.to_string(),
        };
        if let Some(d) = parse_span(t) {
            return Ok(TimeSpec::Ago(d));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(t) {
            return Ok(TimeSpec::At(at.with_timezone(&Utc)));
        }
        if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            let midnight = day.and_hms_opt(0, 0, 0).ok_or_else(err)?;
            return Ok(TimeSpec::At(midnight.and_utc()));
        }
        Err(err())
    }
}

/// `<digits><unit>` with unit s, m, h, d or w; `None` for anything else or an absurd size.
fn parse_span(t: &str) -> Option<TimeDelta> {
    let unit = t.chars().last()?;
    let number = &t[..t.len() - unit.len_utf8()];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let secs_per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    TimeDelta::try_seconds(n.checked_mul(secs_per)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn relative_forms() {
        let cases = [
            ("30s", "2025-06-01T11:59:30Z"),
            ("30m", "2025-06-01T11:30:00Z"),
            ("1h", "2025-06-01T11:00:00Z"),
            ("2d", "2025-05-30T12:00:00Z"),
            ("1w", "2025-05-25T12:00:00Z"),
            ("0m", "2025-06-01T12:00:00Z"),
            (" 1h ", "2025-06-01T11:00:00Z"),
        ];
        for (input, want) in cases {
            let spec: TimeSpec = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(spec.resolve(now()), at(want), "{input}");
        }
        assert_eq!("90m".parse(), Ok(TimeSpec::Ago(TimeDelta::minutes(90))));
    }

    #[test]
    fn absolute_forms() {
        let spec: TimeSpec = "2025-06-01T16:00:00+08:00".parse().unwrap();
        assert_eq!(spec, TimeSpec::At(at("2025-06-01T08:00:00Z")));
        assert_eq!(spec.resolve(now()), at("2025-06-01T08:00:00Z"));
        let spec: TimeSpec = "2025-06-01T08:00:00.250Z".parse().unwrap();
        assert_eq!(
            spec,
            TimeSpec::At(DateTime::from_timestamp_millis(1_748_764_800_250).unwrap())
        );
        let spec: TimeSpec = "2025-05-31".parse().unwrap();
        assert_eq!(spec, TimeSpec::At(at("2025-05-31T00:00:00Z")));
    }

    #[test]
    fn bad_forms_say_what_to_write() {
        for bad in [
            "",
            "h",
            "1",
            "1.5h",
            "-1h",
            "1y",
            "1H",
            "yesterday",
            "1 h",
            "2025-13-01",
            "1h30m",
            "99999999999999999999d",
            "9223372036854775807w",
            "1µ",
        ] {
            let e = bad.parse::<TimeSpec>().unwrap_err();
            assert_eq!(e.input, bad);
            let msg = e.to_string();
            assert!(msg.contains("30m, 1h or 2d"), "{msg}");
            assert!(msg.contains("RFC 3339"), "{msg}");
        }
    }

    #[test]
    fn huge_span_resolves_to_the_earliest_time() {
        let spec: TimeSpec = "99999999w".parse().unwrap();
        assert_eq!(spec.resolve(now()), DateTime::<Utc>::MIN_UTC);
    }
}
