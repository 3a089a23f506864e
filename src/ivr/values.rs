//! The small value syntaxes of flow files: durations (`5s`, `1500ms`, `2m`), clock-time
//! ranges (`09:00-21:00`), week days (`mon-fri,sat`), dates (`2026-10-01`, ranges with
//! `..`) and time zones. Each parser returns a message that says what to write instead.

use std::time::Duration;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;

use super::diag::did_you_mean;

/// `5s`, `1500ms`, `2m`, `1m30s`, `1h`: units ms, s, m, h; at least one unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let hint = "write a number with a unit: 1500ms, 5s, 2m or 1h";
    if t.is_empty() {
        return Err(format!("empty duration; {hint}"));
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "duration \"{t}\" has no unit; write {t}s (seconds) or {t}ms"
        ));
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("\"{t}\" is not a duration; {hint}"));
        }
        let (num, after) = rest.split_at(digits);
        let unit_len = after.chars().take_while(char::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let n: u128 = num
            .parse()
            .map_err(|_| format!("\"{t}\" is too long a duration; {hint}"))?;
        let ms = match unit {
            "ms" => n,
            "s" => n * 1000,
            "m" | "min" => n * 60_000,
            "h" => n * 3_600_000,
            "" => return Err(format!("\"{t}\" is missing a unit after {num}; {hint}")),
            other => {
                return Err(format!(
                    "\"{t}\" has an unknown unit \"{other}\"{}; {hint}",
                    did_you_mean(other, ["ms", "s", "m", "h"])
                ));
            }
        };
        total = total.saturating_add(ms);
        rest = after;
    }
    if total > 24 * 3_600_000 {
        return Err(format!("duration \"{t}\" is longer than a day; {hint}"));
    }
    Ok(Duration::from_millis(
        u64::try_from(total).unwrap_or(u64::MAX),
    ))
}

/// Minutes after midnight, 0..=1440 (24:00 only as the end of a range).
pub fn parse_clock(text: &str, allow_24: bool) -> Result<u16, String> {
    let t = text.trim();
    let bad = || format!("\"{t}\" is not a time of day; write HH:MM in 24-hour time, e.g. 09:00");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m > 59 {
        return Err(format!("minute {m} in \"{t}\" is out of range (00–59)"));
    }
    if h == 24 && m == 0 && allow_24 {
        return Ok(1440);
    }
    if h > 23 {
        let max = if allow_24 { ", or 24:00 as an end" } else { "" };
        return Err(format!(
            "hour {h} in \"{t}\" is out of range: hours run 00–23{max}; write e.g. 21:00"
        ));
    }
    Ok(h * 60 + m)
}

/// A daily opening: `start..end` in minutes; `end < start` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: u16,
    pub end: u16,
}

impl TimeRange {
    pub fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }
}

/// `09:00-21:00`, several separated by commas: `09:00-12:00, 13:30-18:00`, or crossing
/// midnight: `22:00-06:00`.
pub fn parse_time_ranges(text: &str) -> Result<Vec<TimeRange>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let p = part.trim();
        let (a, b) = p.split_once('-').ok_or_else(|| {
            format!("\"{p}\" is not a time range; write START-END, e.g. 09:00-21:00")
        })?;
        let start = parse_clock(a, false)?;
        let end = parse_clock(b, true)?;
        if start == end {
            return Err(format!(
                "time range \"{p}\" is empty (it starts where it ends); for all day write 00:00-24:00"
            ));
        }
        out.push(TimeRange { start, end });
    }
    Ok(out)
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn parse_day(text: &str) -> Result<Weekday, String> {
    let t = text.trim().to_ascii_lowercase();
    let key: String = t.chars().take(3).collect();
    DAY_NAMES
        .iter()
        .find(|(n, _)| *n == key && (t.len() == 3 || full_name(n).starts_with(&t)))
        .map(|(_, d)| *d)
        .ok_or_else(|| {
            format!(
                "\"{}\" is not a day; write mon, tue, wed, thu, fri, sat or sun{}",
                text.trim(),
                did_you_mean(&t, DAY_NAMES.iter().map(|(n, _)| *n))
            )
        })
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

/// A set of week days as a bit mask (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(pub u8);

impl Days {
    pub const ALL: Days = Days(0x7f);

    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    pub fn any_weekday(self) -> bool {
        self.0 & 0x1f != 0
    }
}

/// `mon-fri`, `mon-fri,sat`, `fri-mon` (wraps), `daily`.
pub fn parse_days(text: &str) -> Result<Days, String> {
    let t = text.trim();
    if matches!(
        t.to_ascii_lowercase().as_str(),
        "daily" | "all" | "every day"
    ) {
        return Ok(Days::ALL);
    }
    let mut mask = 0u8;
    for part in t.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_day(a)?, parse_day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d.num_days_from_monday();
                    if d == b {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => mask |= 1 << parse_day(part)?.num_days_from_monday(),
        }
    }
    Ok(Days(mask))
}

/// `2026-10-01`, or an inclusive range `2026-10-01..2026-10-07`.
pub fn parse_dates(text: &str) -> Result<Vec<NaiveDate>, String> {
    let t = text.trim();
    let one = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            format!(
                "\"{}\" is not a date; write YYYY-MM-DD, e.g. 2026-10-01, or a range \
                 2026-10-01..2026-10-07",
                s.trim()
            )
        })
    };
    match t.split_once("..") {
        None => Ok(vec![one(t)?]),
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(format!("date range \"{t}\" ends before it starts"));
            }
            if (b - a).num_days() > 366 {
                return Err(format!("date range \"{t}\" is longer than a year"));
            }
            Ok(a.iter_days().take_while(|d| *d <= b).collect())
        }
    }
}

/// An IANA zone name such as `Asia/Shanghai`.
pub fn parse_timezone(text: &str) -> Result<Tz, String> {
    let t = text.trim();
    t.parse::<Tz>().map_err(|_| {
        format!(
            "\"{t}\" is not a time zone; write an IANA name such as Asia/Shanghai or \
             America/New_York{}",
            did_you_mean(t, chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        let e = parse_duration("5").expect_err("no unit");
        assert!(e.contains("write 5s"), "{e}");
        let e = parse_duration("5sec").expect_err("bad unit");
        assert!(e.contains("unknown unit \"sec\""), "{e}");
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999999999999999999999999s").is_err());
        assert!(parse_duration("25h").is_err());
    }

    #[test]
    fn clock_times_and_ranges() {
        assert_eq!(parse_clock("09:00", false), Ok(540));
        assert_eq!(parse_clock("9:05", false), Ok(545));
        assert_eq!(parse_clock("24:00", true), Ok(1440));
        let e = parse_clock("25:00", true).expect_err("hour");
        assert!(e.contains("hour 25"), "{e}");
        assert!(parse_clock("24:00", false).is_err());
        assert!(
            parse_clock("10:60", false)
                .expect_err("min")
                .contains("minute 60")
        );
        assert!(parse_clock("1000", false).is_err());
        assert_eq!(
            parse_time_ranges("09:00-12:00, 13:30-18:00"),
            Ok(vec![
                TimeRange {
                    start: 540,
                    end: 720
                },
                TimeRange {
                    start: 810,
                    end: 1080
                }
            ])
        );
        let night = parse_time_ranges("22:00-06:00").expect("night");
        assert!(night[0].crosses_midnight());
        assert!(
            parse_time_ranges("09:00")
                .expect_err("dash")
                .contains("START-END")
        );
        assert!(
            parse_time_ranges("09:00-09:00")
                .expect_err("empty")
                .contains("empty")
        );
    }

    #[test]
    fn days() {
        assert_eq!(parse_days("mon-fri"), Ok(Days(0b001_1111)));
        assert_eq!(parse_days("mon-sun"), Ok(Days::ALL));
        assert_eq!(parse_days("sat,sun"), Ok(Days(0b110_0000)));
        assert_eq!(parse_days("fri-mon"), Ok(Days(0b111_0001)));
        assert_eq!(parse_days("Monday"), Ok(Days(1)));
        let e = parse_days("mon-fry").expect_err("typo");
        assert!(e.contains("did you mean \"fri\""), "{e}");
        assert!(parse_days("").is_err());
    }

    #[test]
    fn dates_and_zones() {
        let d = parse_dates("2026-10-01..2026-10-07").expect("range");
        assert_eq!(d.len(), 7);
        assert!(parse_dates("2026-02-30").is_err());
        assert!(parse_dates("2026-10-07..2026-10-01").is_err());
        assert_eq!(parse_timezone("Asia/Shanghai"), Ok(Tz::Asia__Shanghai));
        let e = parse_timezone("Asia/Shanghia").expect_err("typo");
        assert!(e.contains("did you mean \"Asia/Shanghai\""), "{e}");
    }
}
