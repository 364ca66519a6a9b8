//! Schedule expressions (`at(...)`, `rate(...)`, `cron(...)`), their time zone, and the next time
//! a schedule is due. Pure functions of the expression and the time; no IO.
//!
//! AWS's rules ("Schedule types on EventBridge Scheduler", the Scheduler User Guide):
//! - `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time in `ScheduleExpressionTimezone`.
//! - `rate(value unit)`: a positive integer and `minute | minutes | hour | hours | day | days`
//!   (botocore's `ScheduleExpression` documentation; AWS took `rate(2 minute)`: LocalStack's
//!   AWS-recorded `test_update_schedule`). A rate is a fixed duration (a day is 24 hours, also
//!   across a daylight-saving change), counted from `StartDate`, or from when the schedule was
//!   created or last updated when it has none ("starts invoking its target immediately").
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields; `?` in one of the
//!   two day fields (a value or `*` in one needs `?` in the other), `L`, `W`, `#`, ranges, lists,
//!   steps (`0/15`), names `JAN-DEC` and `SUN-SAT`, day-of-week `1-7` = `SUN-SAT`, years
//!   1970-2199. Evaluated in the schedule's time zone with AWS's daylight-saving rules: a time
//!   the clock skips (spring forward) is skipped, a time it repeats (fall back) runs once
//!   (re:Post knowledge center, "EventBridge Scheduler adjusts for DST").
//!
//! Cron evaluation is the `croner` crate's (L, W, #, Quartz weekdays, years, time zones through
//! `chrono-tz`); this module checks AWS's grammar first and applies AWS's DST rules on top of
//! croner's (croner runs a skipped fixed time just after the gap and a repeated interval time
//! twice).

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::error::{Error, Result};

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// One time, a wall-clock time in the schedule's time zone.
    At(NaiveDateTime),
    /// Every `every_ms` milliseconds.
    Rate { every_ms: i64 },
    /// A six-field cron expression.
    Cron(Box<Cron>),
}

/// AWS's answer to an expression it does not take (LocalStack's AWS-recorded
/// `tests_create_schedule_with_invalid_schedule_expression`: `Invalid Schedule Expression
/// rate(10 seconds).`).
pub fn invalid(expression: &str) -> Error {
    Error::validation(format!("Invalid Schedule Expression {expression}."))
}

impl Expr {
    /// Parses an expression as AWS does: the whole string, no surrounding blanks.
    pub fn parse(expression: &str) -> Result<Expr> {
        let bad = || invalid(expression);
        let (kind, inner) = expression
            .strip_suffix(')')
            .and_then(|s| s.split_once('('))
            .ok_or_else(bad)?;
        match kind {
            "at" => parse_at(inner).map(Expr::At).ok_or_else(bad),
            "rate" => parse_rate(inner)
                .map(|every_ms| Expr::Rate { every_ms })
                .ok_or_else(bad),
            "cron" => parse_cron(inner)
                .map(|c| Expr::Cron(Box::new(c)))
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    pub fn is_one_time(&self) -> bool {
        matches!(self, Expr::At(_))
    }
}

/// A time zone name as `ScheduleExpressionTimezone` takes it (IANA names; `UTC` when absent).
pub fn parse_tz(name: Option<&str>) -> Option<Tz> {
    match name {
        None => Some(Tz::UTC),
        Some(n) => n.parse::<Tz>().ok(),
    }
}

fn parse_at(inner: &str) -> Option<NaiveDateTime> {
    // Exactly `yyyy-mm-ddThh:mm:ss` (AWS refuses `at(2021-12-31)` and a trailing `Z`).
    if inner.len() != 19 {
        return None;
    }
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()
}

fn parse_rate(inner: &str) -> Option<i64> {
    let (value, unit) = inner.split_once(' ')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = value.parse().ok()?;
    if n < 1 {
        return None;
    }
    let unit_ms = match unit {
        "minute" | "minutes" => 60_000,
        "hour" | "hours" => 3_600_000,
        "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// The characters each field takes (AWS's cron table), besides digits and names.
const FIELD_CHARS: [&str; 6] = [",-*/", ",-*/", ",-*?/LW", ",-*/", ",-*?L#/", ",-*/"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn field_ok(i: usize, field: &str) -> bool {
    if field.is_empty() {
        return false;
    }
    let names: &[&str] = match i {
        3 => &MONTHS,
        4 => &DAYS,
        _ => &[],
    };
    // Names are whole tokens between separators.
    let mut rest = field.to_ascii_uppercase();
    for n in names {
        rest = rest.replace(n, "0");
    }
    rest.chars()
        .all(|c| c.is_ascii_digit() || FIELD_CHARS[i].contains(c))
}

/// Whether every number of a year field is in AWS's 1970-2199.
fn years_ok(field: &str) -> bool {
    field
        .split([',', '-', '/'])
        .filter(|t| !t.is_empty() && *t != "*")
        .enumerate()
        .all(|(i, t)| match t.parse::<i32>() {
            // A step (`2020/2`) is a count, not a year.
            Ok(y) => (1970..=2199).contains(&y) || (i > 0 && field.contains('/') && y >= 1),
            Err(_) => false,
        })
}

fn parse_cron(inner: &str) -> Option<Cron> {
    let fields: Vec<&str> = inner.split(' ').collect();
    if fields.len() != 6 || fields.iter().enumerate().any(|(i, f)| !field_ok(i, f)) {
        return None;
    }
    // `?` only as the whole field, and in exactly one of the two day fields.
    let (dom, dow) = (fields[2], fields[4]);
    for f in [dom, dow] {
        if f.contains('?') && f != "?" {
            return None;
        }
    }
    if (dom == "?") == (dow == "?") {
        return None;
    }
    if !years_ok(fields[5]) {
        return None;
    }
    let pattern = format!("0 {}", fields.join(" "));
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build()
        .parse(&pattern)
        .ok()
}

fn to_ms<T: TimeZone>(t: &DateTime<T>) -> i64 {
    t.timestamp_millis()
}

fn at_instant(tz: Tz, at: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&at) {
        LocalResult::Single(t) => Some(to_ms(&t)),
        // A repeated wall-clock time: once, at its first instant.
        LocalResult::Ambiguous(a, _) => Some(to_ms(&a)),
        // A skipped one: the instant the clock jumps to (no AWS-recorded answer).
        LocalResult::None => {
            let later = at + chrono::Duration::hours(1);
            tz.from_local_datetime(&later).earliest().map(|t| to_ms(&t))
        }
    }
}

/// What decides when a schedule is due.
#[derive(Debug, Clone)]
pub struct Timing {
    pub expr: Expr,
    pub tz: Tz,
    /// `StartDate` and `EndDate` (ms), which one-time schedules ignore (as AWS documents).
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Where a rate without a StartDate counts from: when the schedule was created or last
    /// updated.
    pub anchor_ms: i64,
}

impl Timing {
    /// The first time the schedule is due at or after `from_ms` (`inclusive`) or strictly after
    /// it; `None` when it never is again.
    pub fn next(&self, from_ms: i64, inclusive: bool) -> Option<i64> {
        let after = if inclusive { from_ms - 1 } else { from_ms };
        if let Expr::At(at) = &self.expr {
            return at_instant(self.tz, *at).filter(|t| *t > after);
        }
        // Never before StartDate.
        let after = match self.start_ms {
            Some(s) if s - 1 > after => s - 1,
            _ => after,
        };
        let next = match &self.expr {
            Expr::At(_) => None,
            Expr::Rate { every_ms } => {
                let anchor = self.start_ms.unwrap_or(self.anchor_ms);
                if after < anchor {
                    Some(anchor)
                } else {
                    let k = (after - anchor) / every_ms + 1;
                    anchor.checked_add(k.checked_mul(*every_ms)?)
                }
            }
            Expr::Cron(c) => self.next_cron(c, after),
        }?;
        match self.end_ms {
            Some(e) if next > e => None,
            _ => Some(next),
        }
    }

    /// The next time after `after_ms` that the cron expression names, with AWS's DST rules.
    fn next_cron(&self, c: &Cron, after_ms: i64) -> Option<i64> {
        let mut from = Utc
            .timestamp_millis_opt(after_ms)
            .single()?
            .with_timezone(&self.tz);
        // A bound on the skipped candidates (DST edges): a handful at most in practice.
        for _ in 0..64 {
            let cand = c.find_next_occurrence(&from, false).ok()?;
            from = cand;
            // Skipped by the clock: croner moved it past the gap, where the pattern does not
            // match the wall-clock time.
            if !c.is_time_matching(&cand).unwrap_or(false) {
                continue;
            }
            // Repeated by the clock: only its first instant.
            if let LocalResult::Ambiguous(first, _) =
                self.tz.from_local_datetime(&cand.naive_local())
            {
                if first != cand {
                    continue;
                }
            }
            return Some(to_ms(&cand));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn timing(expr: &str, tz: &str) -> Timing {
        Timing {
            expr: Expr::parse(expr).unwrap(),
            tz: parse_tz(Some(tz)).unwrap(),
            start_ms: None,
            end_ms: None,
            anchor_ms: 0,
        }
    }

    /// The next `n` times after `from`, in UTC.
    fn next_n(t: &Timing, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = ms(from);
        for _ in 0..n {
            match t.next(at, false) {
                Some(x) => {
                    out.push(iso(x));
                    at = x;
                }
                None => break,
            }
        }
        out
    }

    /// Every expression LocalStack's AWS-recorded `tests_create_schedule_with_invalid_schedule_
    /// expression` shows AWS refusing, with AWS's message.
    #[test]
    fn refuses_what_aws_refuses() {
        for e in [
            "cron(0 1 * * * *)",
            "cron(7 20 * * NOT *)",
            "cron(INVALID)",
            "cron(0 dummy ? * MON-FRI *)",
            "cron(71 8 1 * ? *)",
            "cron()",
            "rate(10 seconds)",
            "rate(10 years)",
            "rate()",
            "rate(10)",
            "rate(10 minutess)",
            "rate(foo minutes)",
            "rate(-10 minutes)",
            "rate( 10 minutes )",
            " rate(10 minutes)",
            "at(2021-12-31T23:59:59Z)",
            "at(2021-12-31)",
        ] {
            let err = Expr::parse(e).unwrap_err();
            assert_eq!(
                err.message,
                format!("Invalid Schedule Expression {e}."),
                "{e}"
            );
            assert_eq!(err.code, crate::error::Code::Validation);
        }
    }

    /// Expressions AWS took: LocalStack's AWS-recorded `test_create_schedule_with_valid_cron_
    /// expressions`, `tests_create_schedule_with_valid_schedule_expression` (a past at()) and
    /// `test_update_schedule` (`rate(2 minute)`).
    #[test]
    fn takes_what_aws_takes() {
        for e in [
            "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",
            "cron(30-30 13-13 ? * 2,4,6 *)",
            "cron(1-31/30 1-1 ? * 1,7 *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(*/15 * * * ? *)",
            "cron(0-59/10 0-23/2 ? * * *)",
            "at(2022-12-31T23:59:59)",
            "rate(1 minute)",
            "rate(2 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(12 hours)",
            "rate(1 day)",
            "rate(7 days)",
            "cron(0 9 ? * 2#1 *)",
            "cron(0 5 L * ? *)",
            "cron(0 8 15W * ? *)",
            "cron(0 10 ? * 6L 2030-2035)",
        ] {
            Expr::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }

    /// The cron examples of AWS's "Schedule types on EventBridge Scheduler" page, evaluated in
    /// UTC from Wednesday 2025-01-01 00:00.
    #[test]
    fn cron_examples_of_the_schedule_types_page() {
        let from = "2025-01-01T00:00:00Z";
        // 10:15 AM every day.
        assert_eq!(
            next_n(&timing("cron(15 10 * * ? *)", "UTC"), from, 2),
            ["2025-01-01T10:15:00Z", "2025-01-02T10:15:00Z"]
        );
        // 6:00 PM Monday through Friday.
        assert_eq!(
            next_n(&timing("cron(0 18 ? * MON-FRI *)", "UTC"), from, 4),
            [
                "2025-01-01T18:00:00Z",
                "2025-01-02T18:00:00Z",
                "2025-01-03T18:00:00Z",
                "2025-01-06T18:00:00Z"
            ]
        );
        // 8:00 AM on the first day of the month.
        assert_eq!(
            next_n(&timing("cron(0 8 1 * ? *)", "UTC"), from, 2),
            ["2025-01-01T08:00:00Z", "2025-02-01T08:00:00Z"]
        );
        // Every 10 minutes Monday through Friday.
        assert_eq!(
            next_n(&timing("cron(0/10 * ? * MON-FRI *)", "UTC"), from, 2),
            ["2025-01-01T00:10:00Z", "2025-01-01T00:20:00Z"]
        );
        // Every 5 minutes between 8:00 AM and 5:55 PM Monday through Friday.
        assert_eq!(
            next_n(
                &timing("cron(0/5 8-17 ? * MON-FRI *)", "UTC"),
                "2025-01-03T17:50:00Z",
                2
            ),
            ["2025-01-03T17:55:00Z", "2025-01-06T08:00:00Z"]
        );
        // 9:00 AM on the first Monday of each month (day-of-week 2 is MON).
        assert_eq!(
            next_n(&timing("cron(0 9 ? * 2#1 *)", "UTC"), from, 2),
            ["2025-01-06T09:00:00Z", "2025-02-03T09:00:00Z"]
        );
    }

    #[test]
    fn cron_special_characters() {
        let from = "2025-01-01T00:00:00Z";
        // L: the last day of the month.
        assert_eq!(
            next_n(&timing("cron(0 5 L * ? *)", "UTC"), from, 2),
            ["2025-01-31T05:00:00Z", "2025-02-28T05:00:00Z"]
        );
        // W: the weekday nearest the 15th (2025-02-15 is a Saturday: Friday the 14th).
        assert_eq!(
            next_n(
                &timing("cron(0 8 15W * ? *)", "UTC"),
                "2025-02-01T00:00:00Z",
                1
            ),
            ["2025-02-14T08:00:00Z"]
        );
        // 6L: the last Friday of the month.
        assert_eq!(
            next_n(&timing("cron(0 10 ? * 6L *)", "UTC"), from, 1),
            ["2025-01-31T10:00:00Z"]
        );
        // 1 is Sunday, 7 Saturday.
        assert_eq!(
            next_n(&timing("cron(0 0 ? * 1,7 *)", "UTC"), from, 2),
            ["2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z"]
        );
        // Names of months; a year range ends the schedule.
        assert_eq!(
            next_n(&timing("cron(0 0 1 JAN ? 2026-2027)", "UTC"), from, 3),
            ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]
        );
    }

    #[test]
    fn cron_in_a_time_zone() {
        // 9:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
        let t = timing("cron(0 9 * * ? *)", "America/New_York");
        assert_eq!(
            next_n(&t, "2025-03-08T00:00:00Z", 2),
            ["2025-03-08T14:00:00Z", "2025-03-09T13:00:00Z"]
        );
    }

    /// AWS: "When the time shifts forward in Spring, your schedule invocation gets skipped if the
    /// cron expression falls on a non-existent date and time. When the time shifts back in the
    /// Fall, your schedule runs only once and doesn't repeat its invocation."
    #[test]
    fn daylight_saving_time_as_aws() {
        // New York skips 02:00-03:00 on 2025-03-09: the 02:30 of that day does not run.
        let t = timing("cron(30 2 * * ? *)", "America/New_York");
        assert_eq!(
            next_n(&t, "2025-03-08T00:00:00Z", 2),
            ["2025-03-08T07:30:00Z", "2025-03-10T06:30:00Z"]
        );
        // It repeats 01:00-02:00 on 2025-11-02: 01:30 runs once, at its first instant (EDT).
        let t = timing("cron(30 1 * * ? *)", "America/New_York");
        assert_eq!(
            next_n(&t, "2025-11-01T12:00:00Z", 2),
            ["2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"]
        );
        // An every-30-minutes schedule through the repeated hour runs each wall-clock time once.
        let t = timing("cron(0/30 * * * ? *)", "America/New_York");
        assert_eq!(
            next_n(&t, "2025-11-02T04:50:00Z", 5),
            [
                "2025-11-02T05:00:00Z", // 01:00 EDT
                "2025-11-02T05:30:00Z", // 01:30 EDT
                "2025-11-02T07:00:00Z", // 02:00 EST (01:00 and 01:30 EST are repeats)
                "2025-11-02T07:30:00Z",
                "2025-11-02T08:00:00Z"
            ]
        );
        // A rate in days is 24 hours, across the change too.
        let mut t = timing("rate(1 day)", "America/New_York");
        t.start_ms = Some(ms("2025-03-08T14:00:00Z"));
        assert_eq!(
            next_n(&t, "2025-03-08T00:00:00Z", 2),
            ["2025-03-08T14:00:00Z", "2025-03-09T14:00:00Z"]
        );
    }

    #[test]
    fn rate_counts_from_start_date_or_creation() {
        let mut t = timing("rate(5 minutes)", "UTC");
        t.anchor_ms = ms("2025-01-01T00:00:10Z");
        // Without StartDate: at once, then every 5 minutes.
        assert_eq!(t.next(t.anchor_ms, true), Some(t.anchor_ms));
        assert_eq!(
            next_n(&t, "2025-01-01T00:00:10Z", 2),
            ["2025-01-01T00:05:10Z", "2025-01-01T00:10:10Z"]
        );
        // With StartDate and EndDate.
        t.start_ms = Some(ms("2025-01-02T00:00:00Z"));
        t.end_ms = Some(ms("2025-01-02T00:10:00Z"));
        assert_eq!(
            next_n(&t, "2025-01-01T00:00:00Z", 5),
            [
                "2025-01-02T00:00:00Z",
                "2025-01-02T00:05:00Z",
                "2025-01-02T00:10:00Z"
            ]
        );
    }

    #[test]
    fn at_is_once_in_its_time_zone_and_ignores_start_and_end() {
        let mut t = timing("at(2025-06-01T09:00:00)", "Europe/Paris");
        t.start_ms = Some(ms("2030-01-01T00:00:00Z"));
        t.end_ms = Some(ms("2020-01-01T00:00:00Z"));
        assert_eq!(
            next_n(&t, "2025-01-01T00:00:00Z", 3),
            ["2025-06-01T07:00:00Z"]
        );
        assert_eq!(
            t.next(ms("2025-06-01T07:00:00Z"), true),
            Some(ms("2025-06-01T07:00:00Z"))
        );
        assert_eq!(t.next(ms("2025-06-01T07:00:00Z"), false), None);
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert!(parse_tz(Some("America/New_York")).is_some());
        assert!(parse_tz(Some("UTC")).is_some());
        assert!(parse_tz(None).is_some());
        assert!(parse_tz(Some("Mars/Olympus")).is_none());
    }
}
