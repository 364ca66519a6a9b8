//! Lambda's logging controls (`LoggingConfig`) as the engine applies them: the platform's lines
//! in the Text or JSON format, the system log level that keeps or drops them, and the
//! application log level that drops JSON lines of a function below it.
//!
//! Sources. The JSON platform records are the ones Lambda writes to CloudWatch Logs in the JSON
//! format: `platform.initStart`, `platform.start`, `platform.report` (a CloudWatch export of a
//! JSON-format Node.js function, 2026: no `platform.runtimeDone` and no `platform.end` reach
//! CloudWatch), with the Telemetry API's record fields ("Lambda Telemetry API Event schema
//! reference"). Levels: AWS's guide, "Log-level filtering": application and system logs are
//! filtered separately, only with the JSON format; a JSON object printed by the function is
//! filtered by its `"level"` key, INFO when the key is missing or invalid; the managed runtimes'
//! clients filter their own loggers (`AWS_LAMBDA_LOG_LEVEL`). Platform events are INFO, so a
//! SystemLogLevel of WARN drops them.

use std::fmt::Write as _;

/// A JSON object written with its members in the order given (AWS's order; serde_json's
/// `Value` sorts them).
#[derive(Default)]
struct Obj(String);

impl Obj {
    fn key(&mut self, k: &str) -> &mut String {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push('"');
        self.0.push_str(k);
        self.0.push_str("\":");
        &mut self.0
    }
    fn str(mut self, k: &str, v: &str) -> Self {
        let s = serde_json::to_string(v).unwrap_or_default();
        self.key(k).push_str(&s);
        self
    }
    fn num(mut self, k: &str, v: impl std::fmt::Display) -> Self {
        let _ = write!(self.key(k), "{v}");
        self
    }
    fn obj(mut self, k: &str, v: Obj) -> Self {
        let v = v.done();
        self.key(k).push_str(&v);
        self
    }
    fn done(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

/// A log level of `LoggingConfig`, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    /// `ApplicationLogLevel`/`SystemLogLevel` as stored (`TRACE` .. `FATAL`).
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            "FATAL" => LogLevel::Fatal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// The level a function's JSON line names, as Lambda reads it: any case, and the names
    /// of the common loggers (`warning`, `critical`).
    fn of_line_value(v: &str) -> Option<LogLevel> {
        Some(match v.to_ascii_uppercase().as_str() {
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" | "WARNING" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            "FATAL" | "CRITICAL" => LogLevel::Fatal,
            _ => return None,
        })
    }
}

/// A function version's logging controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogControls {
    /// `LogFormat` JSON: platform lines as JSON records, the runtime told so.
    pub json: bool,
    /// `ApplicationLogLevel` (JSON only).
    pub application_level: Option<LogLevel>,
    /// `SystemLogLevel` (JSON only).
    pub system_level: Option<LogLevel>,
}

impl LogControls {
    /// The controls of a stored `LoggingConfig` (levels count only with JSON, as on AWS).
    pub fn from_config(format: &str, application: Option<&str>, system: Option<&str>) -> Self {
        let json = format == "JSON";
        LogControls {
            json,
            application_level: application.filter(|_| json).and_then(LogLevel::parse),
            system_level: system.filter(|_| json).and_then(LogLevel::parse),
        }
    }

    /// The environment the runtime is given for them (`AWS_LAMBDA_LOG_FORMAT`,
    /// `AWS_LAMBDA_LOG_LEVEL`; only with JSON).
    pub(crate) fn environment(&self) -> Vec<(&'static str, String)> {
        if !self.json {
            return Vec::new();
        }
        let mut env = vec![("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string())];
        if let Some(l) = self.application_level {
            env.push(("AWS_LAMBDA_LOG_LEVEL", l.as_str().to_string()));
        }
        env
    }

    /// Whether the platform's INFO events (start, report, init start) are written.
    pub(crate) fn platform_info(&self) -> bool {
        !self.json || self.system_level.is_none_or(|l| l <= LogLevel::Info)
    }

    /// Whether a line of the function's output is kept: with JSON and an application level
    /// above TRACE, a JSON object below the level is dropped (its `"level"`, INFO when absent
    /// or unknown; the runtime clients' own error records name it `"log_level"`). Lines that
    /// are not JSON objects are kept.
    pub(crate) fn keeps(&self, line: &str) -> bool {
        let Some(min) = self
            .application_level
            .filter(|l| self.json && *l > LogLevel::Trace)
        else {
            return true;
        };
        if !line.trim_start().starts_with('{') {
            return true;
        }
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(line) else {
            return true;
        };
        let level = obj
            .get("level")
            .or_else(|| obj.get("log_level"))
            .and_then(|v| v.as_str())
            .and_then(LogLevel::of_line_value)
            .unwrap_or(LogLevel::Info);
        level >= min
    }
}

/// What a `REPORT` line says about one invocation.
#[derive(Debug, Clone)]
pub(crate) struct Report<'a> {
    pub request_id: &'a str,
    pub duration_ms: f64,
    pub billed_ms: u64,
    pub memory_mb: u64,
    pub max_memory_mb: u64,
    pub init_ms: Option<f64>,
    pub outcome: ReportStatus,
}

/// How an invocation ended, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportStatus {
    Success,
    /// The function failed (its runtime reported an error).
    Error,
    /// The function failed and its runtime went away or was reset (Text: `Status: error`).
    Fatal,
    /// The function ran out of time (its sandbox reset or killed).
    Timeout,
}

/// An RFC 3339 time with milliseconds, as the JSON records' `time`.
fn rfc3339_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// A duration in milliseconds as the records give it (at most three decimals).
fn ms3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn record(now_ms: i64, kind: &str, record: Obj) -> String {
    Obj::default()
        .str("time", &rfc3339_ms(now_ms))
        .str("type", kind)
        .obj("record", record)
        .done()
}

/// `START` / `platform.start`.
pub(crate) fn start(
    c: &LogControls,
    now_ms: i64,
    request_id: &str,
    version: &str,
    function_arn: &str,
) -> Option<String> {
    if !c.platform_info() {
        return None;
    }
    Some(if c.json {
        record(
            now_ms,
            "platform.start",
            Obj::default()
                .str("requestId", request_id)
                .str("functionArn", function_arn)
                .str("version", version),
        )
    } else {
        format!("START RequestId: {request_id} Version: {version}")
    })
}

/// `END` (Text only: no `platform.end` reaches CloudWatch in JSON).
pub(crate) fn end(c: &LogControls, request_id: &str) -> Option<String> {
    (!c.json).then(|| format!("END RequestId: {request_id}"))
}

/// `REPORT` / `platform.report`.
pub(crate) fn report(c: &LogControls, now_ms: i64, r: &Report<'_>) -> Option<String> {
    if !c.platform_info() {
        return None;
    }
    if !c.json {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            r.request_id, r.duration_ms, r.billed_ms, r.memory_mb, r.max_memory_mb
        );
        if let Some(init) = r.init_ms {
            let _ = write!(line, "Init Duration: {init:.2} ms\t");
        }
        // A timed-out sandbox is always reset or killed.
        if matches!(r.outcome, ReportStatus::Fatal | ReportStatus::Timeout) {
            line.push_str("Status: error\t");
        }
        return Some(line);
    }
    let mut metrics = Obj::default()
        .num("durationMs", ms3(r.duration_ms))
        .num("billedDurationMs", r.billed_ms)
        .num("memorySizeMB", r.memory_mb)
        .num("maxMemoryUsedMB", r.max_memory_mb);
    if let Some(init) = r.init_ms {
        metrics = metrics.num("initDurationMs", ms3(init));
    }
    let rec = Obj::default()
        .str("requestId", r.request_id)
        .obj("metrics", metrics);
    let rec = match r.outcome {
        ReportStatus::Success => rec.str("status", "success"),
        ReportStatus::Error | ReportStatus::Fatal => rec.str("status", "error"),
        ReportStatus::Timeout => rec
            .str("status", "timeout")
            .str("errorType", "Sandbox.Timedout"),
    };
    Some(record(now_ms, "platform.report", rec))
}

/// `platform.initStart` (JSON only; Hako writes no `INIT_START` in Text). `stream` is the
/// sandbox's log stream; the instance id is it with the function's name after the date.
pub(crate) fn init_start(
    c: &LogControls,
    now_ms: i64,
    init_type: &str,
    function: &str,
    version: &str,
    stream: &str,
    memory_mb: u64,
) -> Option<String> {
    if !c.json || !c.platform_info() {
        return None;
    }
    let instance = match stream.split_at_checked(11) {
        Some((date, rest)) => format!("{date}{function}{rest}"),
        None => stream.to_string(),
    };
    Some(record(
        now_ms,
        "platform.initStart",
        Obj::default()
            .str("initializationType", init_type)
            .str("phase", "init")
            .str("functionName", function)
            .str("functionVersion", version)
            .str("instanceId", &instance)
            .num("instanceMaxMemory", memory_mb * 1024 * 1024),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_at(app: Option<&str>, sys: Option<&str>) -> LogControls {
        LogControls::from_config("JSON", app, sys)
    }

    #[test]
    fn text_lines_are_unchanged() {
        let c = LogControls::from_config("Text", Some("ERROR"), Some("WARN"));
        assert_eq!(c, LogControls::default());
        assert_eq!(
            start(&c, 0, "r1", "$LATEST", "arn").unwrap(),
            "START RequestId: r1 Version: $LATEST"
        );
        assert_eq!(end(&c, "r1").unwrap(), "END RequestId: r1");
        let r = Report {
            request_id: "r1",
            duration_ms: 1.234,
            billed_ms: 2,
            memory_mb: 128,
            max_memory_mb: 20,
            init_ms: Some(5.0),
            outcome: ReportStatus::Fatal,
        };
        assert_eq!(
            report(&c, 0, &r).unwrap(),
            "REPORT RequestId: r1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.00 ms\tStatus: error\t"
        );
        assert!(init_start(&c, 0, "on-demand", "f", "$LATEST", "s", 128).is_none());
        assert!(c.environment().is_empty());
        assert!(c.keeps(r#"{"level":"DEBUG"}"#));
    }

    #[test]
    fn json_records_have_aws_fields() {
        let c = json_at(Some("INFO"), Some("INFO"));
        let s: serde_json::Value =
            serde_json::from_str(&start(&c, 1_791_444_628_235, "r1", "$LATEST", "arn:f").unwrap())
                .unwrap();
        assert_eq!(s["time"], "2026-10-08T07:30:28.235Z");
        assert_eq!(s["type"], "platform.start");
        assert_eq!(
            s["record"],
            json!({"requestId": "r1", "functionArn": "arn:f", "version": "$LATEST"})
        );
        assert!(end(&c, "r1").is_none());
        let r = Report {
            request_id: "r1",
            duration_ms: 1233.96049,
            billed_ms: 1234,
            memory_mb: 256,
            max_memory_mb: 123,
            init_ms: Some(463.5121),
            outcome: ReportStatus::Success,
        };
        let line = report(&c, 0, &r).unwrap();
        assert!(line.starts_with(r#"{"time":"1970-01-01T00:00:00.000Z","type":"platform.report","record":{"requestId":"r1","metrics":{"durationMs":1233.96,"#), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "platform.report");
        assert_eq!(
            v["record"],
            json!({"requestId": "r1", "status": "success", "metrics": {
                "durationMs": 1233.96, "billedDurationMs": 1234, "memorySizeMB": 256,
                "maxMemoryUsedMB": 123, "initDurationMs": 463.512}})
        );
        let t = Report {
            outcome: ReportStatus::Timeout,
            init_ms: None,
            ..r
        };
        let v: serde_json::Value = serde_json::from_str(&report(&c, 0, &t).unwrap()).unwrap();
        assert_eq!(v["record"]["status"], "timeout");
        assert!(v["record"]["metrics"].get("initDurationMs").is_none());
        let i: serde_json::Value = serde_json::from_str(
            &init_start(
                &c,
                0,
                "on-demand",
                "fn",
                "$LATEST",
                "2026/10/08/[$LATEST]abc",
                256,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(i["type"], "platform.initStart");
        assert_eq!(i["record"]["instanceId"], "2026/10/08/fn[$LATEST]abc");
        assert_eq!(i["record"]["instanceMaxMemory"], 268_435_456);
        assert_eq!(
            c.environment(),
            vec![
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
                ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string())
            ]
        );
    }

    #[test]
    fn system_level_warn_drops_the_platform_events() {
        let c = json_at(Some("INFO"), Some("WARN"));
        assert!(start(&c, 0, "r", "1", "a").is_none());
        assert!(init_start(&c, 0, "on-demand", "f", "1", "s", 128).is_none());
        let debug = json_at(Some("INFO"), Some("DEBUG"));
        assert!(start(&debug, 0, "r", "1", "a").is_some());
    }

    #[test]
    fn application_level_filters_json_lines_only() {
        let c = json_at(Some("WARN"), Some("INFO"));
        assert!(!c.keeps(r#"{"level":"info","message":"m"}"#));
        assert!(!c.keeps(r#"{"level":"DEBUG"}"#));
        assert!(!c.keeps(r#"{"message":"no level: INFO"}"#));
        assert!(!c.keeps(r#"{"level":"loud"}"#));
        assert!(c.keeps(r#"{"level":"WARN"}"#));
        assert!(c.keeps(r#"{"level":"warning"}"#));
        assert!(c.keeps(r#"{"log_level":"ERROR","errorType":"E"}"#));
        assert!(c.keeps(r#"  {"level":"FATAL"}"#));
        assert!(c.keeps("plain text stays"));
        assert!(c.keeps("{not json"));
        assert!(c.keeps("[1,2]"));
        let trace = json_at(Some("TRACE"), None);
        assert!(trace.keeps(r#"{"level":"TRACE"}"#));
    }
}
