//! Branch conditions of `condition` nodes and their evaluation: business hours in the
//! flow's time zone with holidays and make-up working days, caller number prefixes and
//! lists, and comparisons of variables. Evaluation is pure: the time comes in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use regex::Regex;

use super::Voice;
use super::template::Template;
use super::values::{Days, TimeRange};

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    /// Open during `ranges` on `days`; closed on holidays unless `holidays_open`.
    Hours {
        ranges: Vec<TimeRange>,
        days: Days,
        holidays_open: bool,
    },
    /// Today (in the flow's zone) is one of the flow's holidays.
    Holiday,
    CallerPrefix(Vec<String>),
    CallerIn(Vec<String>),
    Var {
        name: String,
        op: VarOp,
    },
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Clone)]
pub(crate) enum VarOp {
    Eq(Template),
    Ne(Template),
    In(Vec<Template>),
    Prefix(Template),
    Regex(Regex),
    /// Numeric; false when either side is not a number.
    Lt(Template),
    Gt(Template),
}

/// What a condition can look at.
pub(crate) struct CondCtx<'a> {
    pub local: DateTime<Tz>,
    pub caller: &'a str,
    pub vars: &'a BTreeMap<String, String>,
    pub holidays: &'a BTreeSet<NaiveDate>,
    pub workdays: &'a BTreeSet<NaiveDate>,
}

// Nesting is bounded by the loader (YAML depth), so recursion here is shallow.
pub(crate) fn eval(cond: &Cond, cx: &CondCtx<'_>) -> bool {
    match cond {
        Cond::Hours {
            ranges,
            days,
            holidays_open,
        } => {
            let t = (cx.local.hour() * 60 + cx.local.minute()) as u16;
            let today = cx.local.date_naive();
            let open_day = |d: NaiveDate| {
                if !holidays_open && cx.holidays.contains(&d) {
                    return false;
                }
                days.contains(d.weekday()) || (cx.workdays.contains(&d) && days.any_weekday())
            };
            ranges.iter().any(|r| {
                if r.crosses_midnight() {
                    // 22:00-06:00 on Friday covers Friday 22:00 to Saturday 06:00.
                    (t >= r.start && open_day(today))
                        || (t < r.end && today.pred_opt().is_some_and(open_day))
                } else {
                    t >= r.start && t < r.end && open_day(today)
                }
            })
        }
        Cond::Holiday => cx.holidays.contains(&cx.local.date_naive()),
        Cond::CallerPrefix(prefixes) => prefixes.iter().any(|p| cx.caller.starts_with(p.as_str())),
        Cond::CallerIn(list) => list.iter().any(|n| same_number(cx.caller, n)),
        Cond::Var { name, op } => {
            let value = cx.vars.get(name).map(String::as_str).unwrap_or("");
            let r = |t: &Template| t.render(cx.vars, Voice::En);
            match op {
                VarOp::Eq(t) => value == r(t),
                VarOp::Ne(t) => value != r(t),
                VarOp::In(list) => list.iter().any(|t| value == r(t)),
                VarOp::Prefix(t) => value.starts_with(&r(t)),
                VarOp::Regex(re) => re.is_match(value),
                VarOp::Lt(t) => numbers(value, &r(t)).is_some_and(|(a, b)| a < b),
                VarOp::Gt(t) => numbers(value, &r(t)).is_some_and(|(a, b)| a > b),
            }
        }
        Cond::All(list) => list.iter().all(|c| eval(c, cx)),
        Cond::Any(list) => list.iter().any(|c| eval(c, cx)),
        Cond::Not(c) => !eval(c, cx),
    }
}

fn numbers(a: &str, b: &str) -> Option<(f64, f64)> {
    let a: f64 = a.trim().parse().ok()?;
    let b: f64 = b.trim().parse().ok()?;
    (a.is_finite() && b.is_finite()).then_some((a, b))
}

/// Numbers compared by their digits; a listed national number (7+ digits) also matches the
/// same number with a country code in front (`13800138000` matches `+8613800138000`).
fn same_number(caller: &str, listed: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (c, l) = (digits(caller), digits(listed));
    if c.is_empty() || l.is_empty() {
        return false;
    }
    c == l || (l.len() >= 7 && c.len() > l.len() && c.len() - l.len() <= 4 && c.ends_with(&l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::values::{parse_days, parse_time_ranges};
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
        Tz::Asia__Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid local time")
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn hours(ranges: &str, days: &str) -> Cond {
        Cond::Hours {
            ranges: parse_time_ranges(ranges).expect("ranges"),
            days: parse_days(days).expect("days"),
            holidays_open: false,
        }
    }

    fn check(cond: &Cond, local: DateTime<Tz>, holidays: &[&str], workdays: &[&str]) -> bool {
        let vars = BTreeMap::new();
        let holidays: BTreeSet<_> = holidays.iter().map(|s| date(s)).collect();
        let workdays: BTreeSet<_> = workdays.iter().map(|s| date(s)).collect();
        eval(
            cond,
            &CondCtx {
                local,
                caller: "13800138000",
                vars: &vars,
                holidays: &holidays,
                workdays: &workdays,
            },
        )
    }

    #[test]
    fn business_hours_edges() {
        let c = hours("09:00-21:00", "mon-sun");
        // 2026-11-23 is a Monday.
        assert!(check(&c, at(2026, 11, 23, 20, 59), &[], &[]));
        assert!(!check(&c, at(2026, 11, 23, 21, 0), &[], &[]));
        assert!(!check(&c, at(2026, 11, 23, 8, 59), &[], &[]));
        assert!(check(&c, at(2026, 11, 23, 9, 0), &[], &[]));
    }

    #[test]
    fn business_hours_follow_the_flow_zone_not_utc() {
        let c = hours("09:00-21:00", "mon-sun");
        // 12:59 UTC is 20:59 in Shanghai; 13:00 UTC is 21:00.
        let utc = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 59, 0)
            .single()
            .expect("t");
        assert!(check(&c, utc.with_timezone(&Tz::Asia__Shanghai), &[], &[]));
        let utc = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 13, 0, 0)
            .single()
            .expect("t");
        assert!(!check(&c, utc.with_timezone(&Tz::Asia__Shanghai), &[], &[]));
    }

    #[test]
    fn holidays_close_and_workdays_open() {
        let c = hours("09:00-18:00", "mon-fri");
        // 2026-10-01 is a Thursday, a national holiday.
        assert!(!check(&c, at(2026, 10, 1, 10, 0), &["2026-10-01"], &[]));
        assert!(check(&c, at(2026, 10, 8, 10, 0), &["2026-10-01"], &[]));
        // 2026-10-10 is a Saturday made a working day.
        assert!(!check(&c, at(2026, 10, 10, 10, 0), &[], &[]));
        assert!(check(&c, at(2026, 10, 10, 10, 0), &[], &["2026-10-10"]));
        assert!(check(
            &Cond::Holiday,
            at(2026, 10, 1, 23, 59),
            &["2026-10-01"],
            &[]
        ));
        assert!(!check(
            &Cond::Holiday,
            at(2026, 10, 2, 0, 0),
            &["2026-10-01"],
            &[]
        ));
        let open = Cond::Hours {
            ranges: parse_time_ranges("09:00-18:00").expect("r"),
            days: Days::ALL,
            holidays_open: true,
        };
        assert!(check(&open, at(2026, 10, 1, 10, 0), &["2026-10-01"], &[]));
    }

    #[test]
    fn ranges_crossing_midnight_belong_to_the_day_they_start() {
        let c = hours("22:00-06:00", "fri");
        // 2026-11-27 is a Friday.
        assert!(check(&c, at(2026, 11, 27, 23, 0), &[], &[]));
        assert!(check(&c, at(2026, 11, 28, 5, 59), &[], &[]));
        assert!(!check(&c, at(2026, 11, 28, 6, 0), &[], &[]));
        assert!(!check(&c, at(2026, 11, 28, 23, 0), &[], &[]));
        assert!(!check(&c, at(2026, 11, 27, 5, 0), &[], &[]));
        // A holiday Friday closes its night too, including the part after midnight.
        assert!(!check(&c, at(2026, 11, 28, 1, 0), &["2026-11-27"], &[]));
    }

    #[test]
    fn caller_and_variable_conditions() {
        let mut vars = BTreeMap::new();
        vars.insert("amount".to_string(), "128.50".to_string());
        vars.insert("status".to_string(), "shipped".to_string());
        let empty = BTreeSet::new();
        let cx = CondCtx {
            local: at(2026, 11, 23, 10, 0),
            caller: "+8613800138000",
            vars: &vars,
            holidays: &empty,
            workdays: &empty,
        };
        let t = |s: &str| Template::parse(s).expect("template");
        let var = |name: &str, op| Cond::Var {
            name: name.into(),
            op,
        };
        assert!(eval(&Cond::CallerIn(vec!["13800138000".into()]), &cx));
        assert!(!eval(&Cond::CallerIn(vec!["13800138001".into()]), &cx));
        assert!(!eval(&Cond::CallerIn(vec!["8000".into()]), &cx));
        assert!(eval(&Cond::CallerPrefix(vec!["+86138".into()]), &cx));
        assert!(!eval(&Cond::CallerPrefix(vec!["139".into()]), &cx));
        assert!(eval(&var("status", VarOp::Eq(t("shipped"))), &cx));
        assert!(eval(&var("status", VarOp::Ne(t("lost"))), &cx));
        assert!(eval(
            &var("status", VarOp::In(vec![t("a"), t("shipped")])),
            &cx
        ));
        assert!(eval(&var("status", VarOp::Prefix(t("ship"))), &cx));
        let re = Regex::new("^(shipped|delivered)$").expect("re");
        assert!(eval(&var("status", VarOp::Regex(re)), &cx));
        assert!(eval(&var("amount", VarOp::Gt(t("100"))), &cx));
        assert!(!eval(&var("amount", VarOp::Lt(t("100"))), &cx));
        assert!(!eval(&var("status", VarOp::Lt(t("100"))), &cx));
        assert!(eval(&var("missing", VarOp::Eq(t(""))), &cx));
        let both = Cond::All(vec![Cond::Holiday, var("status", VarOp::Eq(t("shipped")))]);
        assert!(!eval(&both, &cx));
        assert!(eval(&Cond::Not(Box::new(both.clone())), &cx));
        assert!(eval(
            &Cond::Any(vec![Cond::Holiday, Cond::CallerPrefix(vec!["+86".into()])]),
            &cx
        ));
    }
}
