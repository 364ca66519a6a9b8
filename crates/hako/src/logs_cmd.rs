//! `hako logs FUNCTION`: a client of the running server's CloudWatch Logs API (FilterLogEvents on
//! the function's log group, as `aws logs tail` reads it), with AWS's errors.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use hako_bench::signed::{encode_segment, Answer, SignedClient, SigningIdentity};
use serde_json::{json, Value};

use crate::config::LogsArgs;

/// How often `--follow` asks for new lines: a line printed by a function shows up within about
/// this much plus the log writer's batch time (~20 ms).
const FOLLOW_POLL: Duration = Duration::from_millis(400);
/// The bound on one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn logs(args: LogsArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

/// The credentials the aws CLI would sign with (its environment variables; Hako's own names
/// first), `test`/`test` when none is set (what Hako's tests and examples use).
fn identity(region: &str) -> SigningIdentity {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    SigningIdentity {
        access_key_id: var(&["HAKO_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"])
            .unwrap_or_else(|| "test".into()),
        secret_access_key: var(&["HAKO_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"])
            .unwrap_or_else(|| "test".into()),
        session_token: var(&["HAKO_SESSION_TOKEN", "AWS_SESSION_TOKEN"]),
        region: region.to_string(),
    }
}

/// An AWS error answer: its code and message, from either protocol's shape (JSON's `__type` and
/// `message`, REST-JSON's `x-amzn-ErrorType` body fields `Type`/`Message`).
struct AwsError {
    code: String,
    message: String,
}

fn aws_error(a: &Answer) -> AwsError {
    let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| v.get(n).and_then(Value::as_str))
            .map(str::to_string)
    };
    let code = a
        .error_type
        .clone()
        .or_else(|| field(&["__type", "code"]))
        .map(|c| c.rsplit('#').next().unwrap_or(&c).to_string())
        .unwrap_or_else(|| format!("HTTP {}", a.status));
    let message = field(&["message", "Message"])
        .unwrap_or_else(|| String::from_utf8_lossy(&a.body).into_owned());
    AwsError { code, message }
}

fn fail(operation: &str, e: &AwsError) -> anyhow::Error {
    // The aws CLI's words for the same answer.
    anyhow::anyhow!(
        "An error occurred ({}) when calling the {operation} operation: {}",
        e.code,
        e.message
    )
}

/// `--since`: a duration back from `now_ms` (`30s`, `5m`, `1h`, `2d`, `1w`) or an RFC 3339 time.
fn parse_since(s: &str, now_ms: i64) -> Result<i64> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(char::is_ascii_alphabetic) {
        let n = &s[..s.len() - 1];
        if let Ok(n) = n.parse::<i64>() {
            let ms = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                _ => anyhow::bail!("--since {s}: the unit is one of s, m, h, d, w"),
            };
            return Ok(now_ms - n.saturating_mul(ms));
        }
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| {
            format!("--since {s}: neither a duration (5m, 1h) nor an RFC 3339 time")
        })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The function's log group: its LoggingConfig's, or `/aws/lambda/NAME` for a function Lambda
/// does not know (then the Logs API says whether the group exists). `Some` also says the
/// function exists.
async fn log_group(client: &SignedClient, function: &str) -> Result<(String, bool)> {
    let path = format!(
        "/2015-03-31/functions/{}/configuration",
        encode_segment(function)
    );
    let a = client.get("lambda", &path).await?;
    match a.status {
        200 => {
            let v: Value = serde_json::from_slice(&a.body)
                .context("GetFunctionConfiguration's answer is not JSON")?;
            let group = v
                .pointer("/LoggingConfig/LogGroup")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("/aws/lambda/{function}"));
            Ok((group, true))
        }
        404 => Ok((format!("/aws/lambda/{function}"), false)),
        _ => Err(fail("GetFunctionConfiguration", &aws_error(&a))),
    }
}

/// Where the lines come from: the running server's Logs API, or (`--data-dir`) the data dir's
/// `logs.db` read directly, for a server that is not running.
enum Source {
    Server(Box<SignedClient>),
    DataDir(hako_logs::Logs),
}

impl Source {
    /// FilterLogEvents with the JSON `body`: its answer, or AWS's error.
    async fn filter(&self, body: Value) -> Result<std::result::Result<Value, AwsError>> {
        match self {
            Source::Server(client) => {
                let a = client
                    .json(
                        "logs",
                        "Logs_20140328.FilterLogEvents",
                        "application/x-amz-json-1.1",
                        body.to_string().into(),
                    )
                    .await?;
                if a.status != 200 {
                    return Ok(Err(aws_error(&a)));
                }
                Ok(Ok(serde_json::from_slice(&a.body)
                    .context("FilterLogEvents' answer is not JSON")?))
            }
            Source::DataDir(logs) => {
                let input = serde_json::from_value(body)?;
                Ok(match logs.filter_log_events(input) {
                    Ok(out) => Ok(serde_json::to_value(out)?),
                    Err(e) => Err(AwsError {
                        code: e.code.name().to_string(),
                        message: e.message,
                    }),
                })
            }
        }
    }
}

/// The source, the function's log group and whether the function exists.
async fn open(args: &LogsArgs) -> Result<(Source, String, bool)> {
    let Some(dir) = &args.data_dir else {
        let client =
            SignedClient::new(&args.endpoint_url, identity(&args.region), REQUEST_TIMEOUT)?;
        let (group, exists) = log_group(&client, &args.function).await.with_context(|| {
            format!(
                "asking {} (is `hako serve` running there? --data-dir reads a stopped server's logs)",
                args.endpoint_url
            )
        })?;
        return Ok((Source::Server(Box::new(client)), group, exists));
    };
    let db_path = dir.join("hako.db");
    if !db_path.exists() {
        anyhow::bail!(
            "no Hako database at {}: is --data-dir right?",
            db_path.display()
        );
    }
    let db =
        hako_store::Db::open_read_only(&db_path).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    // The read-only view has no keys: a record with environment variables cannot be decoded
    // there, so the function is looked up by its log group alone.
    let found = db
        .log_group_of(&args.function)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let exists = found.is_some();
    let group = found.unwrap_or_else(|| format!("/aws/lambda/{}", args.function));
    let logs_path = dir.join("logs.db");
    let logs = hako_logs::Logs::open_read_only(
        &logs_path,
        hako_logs::LogsConfig::new("", ""),
        std::sync::Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("reading {}: {e}", logs_path.display()))?;
    Ok((Source::DataDir(logs), group, exists))
}

async fn run(args: LogsArgs) -> Result<()> {
    let (source, group, function_exists) = open(&args).await?;
    let mut start = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now_ms()))
        .transpose()?;
    let mut out = std::io::stdout().lock();
    // The events already printed at the newest timestamp: the next poll starts at that
    // millisecond again, so events of the same millisecond that arrive later are not missed.
    let mut seen_at_last: HashSet<String> = HashSet::new();
    let mut said_waiting = false;
    loop {
        let mut token: Option<String> = None;
        let mut newest = start;
        let mut seen_now: HashSet<String> = HashSet::new();
        loop {
            let mut body = json!({ "logGroupName": group, "interleaved": true });
            if let Some(s) = start {
                body["startTime"] = json!(s);
            }
            if let Some(f) = &args.filter {
                body["filterPattern"] = json!(f);
            }
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = match source.filter(body).await? {
                Ok(v) => v,
                // A function that never printed has no group yet: nothing to print (yet).
                Err(e) if e.code == "ResourceNotFoundException" && function_exists => break,
                Err(e) => return Err(fail("FilterLogEvents", &e)),
            };
            for e in v["events"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let ts = e["timestamp"].as_i64().unwrap_or(0);
                let id = e["eventId"].as_str().unwrap_or_default().to_string();
                if Some(ts) == start && seen_at_last.contains(&id) {
                    continue;
                }
                print(
                    &mut out,
                    ts,
                    e["logStreamName"].as_str().unwrap_or_default(),
                    e["message"].as_str().unwrap_or_default(),
                )?;
                if newest.is_none_or(|n| ts > n) {
                    newest = Some(ts);
                    seen_now.clear();
                }
                if Some(ts) == newest {
                    seen_now.insert(id);
                }
            }
            out.flush()?;
            token = v["nextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if !args.follow {
            return Ok(());
        }
        if newest != start {
            start = newest;
            seen_at_last = seen_now;
        } else if start.is_some() {
            seen_at_last.extend(seen_now);
        }
        if !said_waiting && std::io::stderr().is_terminal() {
            eprintln!("hako: following {group}: waiting for new lines (Ctrl-C to stop)");
            said_waiting = true;
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

fn print(out: &mut impl Write, ts_ms: i64, stream: &str, message: &str) -> std::io::Result<()> {
    let ts = time::OffsetDateTime::from_unix_timestamp_nanos(ts_ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    writeln!(out, "{ts} {stream} {}", message.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_since("30s", now).unwrap(), now - 30_000);
        assert_eq!(parse_since("5m", now).unwrap(), now - 300_000);
        assert_eq!(parse_since("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_since("2d", now).unwrap(), now - 2 * 86_400_000);
        assert_eq!(parse_since("1w", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(
            parse_since("2026-12-07T13:30:00Z", now).unwrap(),
            1_796_650_200_000
        );
        assert_eq!(
            parse_since("2026-12-07T14:30:00+01:00", now).unwrap(),
            1_796_650_200_000
        );
        assert!(parse_since("5y", now).is_err());
        assert!(parse_since("yesterday", now).is_err());
    }

    #[test]
    fn errors_read_in_both_protocols_shapes() {
        let json = Answer {
            status: 400,
            error_type: None,
            body: br#"{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}"#.as_slice().into(),
        };
        let e = aws_error(&json);
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(
            fail("FilterLogEvents", &e).to_string(),
            "An error occurred (ResourceNotFoundException) when calling the FilterLogEvents operation: The specified log group does not exist."
        );
        let rest = Answer {
            status: 403,
            error_type: Some("AccessDeniedException".into()),
            body: br#"{"Type":"User","Message":"denied"}"#.as_slice().into(),
        };
        let e = aws_error(&rest);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("AccessDeniedException", "denied")
        );
    }
}
