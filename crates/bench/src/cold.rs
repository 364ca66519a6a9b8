//! Cold-start sampling.
//!
//! Each sample forces a new sandbox with UpdateFunctionConfiguration (the
//! function's own environment variables plus a fresh `HAKO_BENCH_NONCE`),
//! polls GetFunctionConfiguration until `LastUpdateStatus` is `Successful`,
//! sleeps the gap, opens a fresh connection (untimed) and times one sync
//! invoke from send to full response. The `Init Duration` of the `REPORT`
//! line in the `X-Amz-Log-Result` tail is collected alongside. At the end the
//! original variables are put back (best effort).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::client::{
    function_path, Conn, Endpoint, RequestTemplate, X_AMZ_LOG_RESULT, X_AMZ_LOG_TYPE,
};
use crate::load::ErrorCounts;

/// Environment variable used to force a configuration change.
pub(crate) const NONCE_VAR: &str = "HAKO_BENCH_NONCE";

/// Pause between GetFunctionConfiguration polls.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What the cold phase does.
pub(crate) struct ColdSpec {
    pub(crate) endpoint: Endpoint,
    pub(crate) function: String,
    pub(crate) samples: usize,
    pub(crate) gap: Duration,
    pub(crate) payload: Bytes,
    pub(crate) request_timeout: Duration,
    pub(crate) update_timeout: Duration,
}

/// Result of the cold phase.
#[derive(Debug)]
pub(crate) struct ColdOutcome {
    /// Successful invoke latencies in µs, ascending.
    pub(crate) latencies_us: Vec<u64>,
    /// `Init Duration` values in ms, ascending (samples that reported one).
    pub(crate) init_ms: Vec<f64>,
    /// Invokes attempted.
    pub(crate) requests: u64,
    pub(crate) errors: ErrorCounts,
    /// Wall time of the whole phase.
    pub(crate) elapsed: Duration,
}

/// Runs all samples, then restores the function's environment.
pub(crate) async fn run_cold(spec: ColdSpec) -> Result<ColdOutcome> {
    let started = Instant::now();
    let mut ctl = Control::new(spec.endpoint.clone(), spec.request_timeout);
    let config_path = function_path(&spec.function, "/configuration");
    let config = ctl
        .get_json(&config_path)
        .await
        .with_context(|| format!("GetFunctionConfiguration for {:?}", spec.function))?;
    let mut original = env_vars(&config);
    original.remove(NONCE_VAR);

    let invoke = RequestTemplate::new(
        &spec.endpoint,
        Method::POST,
        &function_path(&spec.function, "/invocations"),
        spec.payload.clone(),
    )?
    .with_header(X_AMZ_LOG_TYPE, HeaderValue::from_static("Tail"));

    let mut out = ColdOutcome {
        latencies_us: Vec::with_capacity(spec.samples),
        init_ms: Vec::with_capacity(spec.samples),
        requests: 0,
        errors: ErrorCounts::default(),
        elapsed: Duration::ZERO,
    };
    let sampled = sample_loop(&spec, &mut ctl, &config_path, &original, &invoke, &mut out).await;

    // Put the original variables back so the function is left as found.
    let restored = async {
        ctl.update_env(&config_path, &original, None).await?;
        ctl.wait_successful(&config_path, spec.update_timeout).await
    }
    .await;
    if let Err(e) = restored {
        eprintln!(
            "hako-bench: warning: could not restore the environment of {:?}: {e:#}",
            spec.function
        );
    }
    sampled?;

    out.latencies_us.sort_unstable();
    crate::stats::sort_f64(&mut out.init_ms);
    out.elapsed = started.elapsed();
    Ok(out)
}

async fn sample_loop(
    spec: &ColdSpec,
    ctl: &mut Control,
    config_path: &str,
    original: &Map<String, Value>,
    invoke: &RequestTemplate,
    out: &mut ColdOutcome,
) -> Result<()> {
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    for i in 0..spec.samples {
        let nonce = format!("{}-{run_id}-{i}", std::process::id());
        ctl.update_env(config_path, original, Some(&nonce))
            .await
            .with_context(|| format!("UpdateFunctionConfiguration (sample {})", i + 1))?;
        ctl.wait_successful(config_path, spec.update_timeout)
            .await
            .with_context(|| format!("waiting for the update (sample {})", i + 1))?;
        tokio::time::sleep(spec.gap).await;

        out.requests += 1;
        let mut conn = match spec.endpoint.connect(spec.request_timeout).await {
            Ok(c) => c,
            Err(e) => {
                out.errors.transport += 1;
                out.errors.note(|| format!("{e:#}"));
                eprintln!(
                    "hako-bench: cold sample {}/{}: connect failed: {e:#}",
                    i + 1,
                    spec.samples
                );
                continue;
            }
        };
        let req = invoke.build();
        let t0 = Instant::now();
        let res = tokio::time::timeout(spec.request_timeout, conn.round_trip(req)).await;
        let elapsed = t0.elapsed();
        match res {
            Ok(Ok(parts)) => {
                let ok = out.errors.classify(&parts, StatusCode::OK);
                let init = parts
                    .headers
                    .get(X_AMZ_LOG_RESULT)
                    .and_then(init_duration_from_header);
                if ok {
                    out.latencies_us
                        .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
                    if let Some(ms) = init {
                        out.init_ms.push(ms);
                    }
                }
                let init_txt = init.map_or_else(|| "none".to_string(), |ms| format!("{ms} ms"));
                eprintln!(
                    "hako-bench: cold sample {}/{}: HTTP {} in {} us, Init Duration {init_txt}",
                    i + 1,
                    spec.samples,
                    parts.status.as_u16(),
                    elapsed.as_micros()
                );
            }
            Ok(Err(e)) => {
                out.errors.transport += 1;
                out.errors.note(|| format!("{e:#}"));
                eprintln!("hako-bench: cold sample {}/{}: {e:#}", i + 1, spec.samples);
            }
            Err(_) => {
                out.errors.timeout += 1;
                out.errors
                    .note(|| format!("invoke timed out after {:?}", spec.request_timeout));
                eprintln!(
                    "hako-bench: cold sample {}/{}: timed out",
                    i + 1,
                    spec.samples
                );
            }
        }
    }
    Ok(())
}

/// Control-plane requests over one reusable connection.
struct Control {
    endpoint: Endpoint,
    conn: Option<Conn>,
    timeout: Duration,
    warned_no_status: bool,
}

impl Control {
    fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Self {
            endpoint,
            conn: None,
            timeout,
            warned_no_status: false,
        }
    }

    /// One request, reconnecting as needed; a transport failure is retried
    /// once on a fresh connection (the server may have closed an idle one).
    async fn send(&mut self, template: &RequestTemplate) -> Result<(StatusCode, Bytes)> {
        let mut last_err = None;
        for _ in 0..2 {
            match self.try_send(template).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    self.conn = None;
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("request not sent")))
    }

    async fn try_send(&mut self, template: &RequestTemplate) -> Result<(StatusCode, Bytes)> {
        let ready = match self.conn.as_mut() {
            Some(c) => c.ready().await,
            None => false,
        };
        if !ready {
            self.conn = Some(self.endpoint.connect(self.timeout).await?);
        }
        let conn = self.conn.as_mut().context("no connection")?;
        let (parts, body) =
            tokio::time::timeout(self.timeout, conn.round_trip_collect(template.build()))
                .await
                .with_context(|| format!("request timed out after {:?}", self.timeout))??;
        Ok((parts.status, body))
    }

    async fn get_json(&mut self, path: &str) -> Result<Value> {
        let t = RequestTemplate::new(&self.endpoint, Method::GET, path, Bytes::new())?;
        let (status, body) = self.send(&t).await?;
        if status != StatusCode::OK {
            bail!("GET {path}: HTTP {status}: {}", snippet(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: response is not JSON"))
    }

    async fn update_env(
        &mut self,
        path: &str,
        original: &Map<String, Value>,
        nonce: Option<&str>,
    ) -> Result<()> {
        let body = update_body(original, nonce);
        let t = RequestTemplate::new(&self.endpoint, Method::PUT, path, Bytes::from(body))?;
        let (status, body) = self.send(&t).await?;
        if status != StatusCode::OK {
            bail!("PUT {path}: HTTP {status}: {}", snippet(&body));
        }
        Ok(())
    }

    /// Polls until `LastUpdateStatus` is `Successful`, bounded by `timeout`.
    /// An endpoint that doesn't report the field is taken as done.
    async fn wait_successful(&mut self, path: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let cfg = self.get_json(path).await?;
            match cfg.get("LastUpdateStatus").and_then(Value::as_str) {
                Some("Successful") => return Ok(()),
                Some("Failed") => {
                    let reason = cfg
                        .get("LastUpdateStatusReason")
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given");
                    bail!("configuration update failed: {reason}");
                }
                Some(_) => {}
                None => {
                    if !self.warned_no_status {
                        self.warned_no_status = true;
                        eprintln!("hako-bench: warning: endpoint reports no LastUpdateStatus; not waiting for updates");
                    }
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("LastUpdateStatus not Successful after {timeout:?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

/// `Environment.Variables` of a function configuration (empty if absent).
pub(crate) fn env_vars(config: &Value) -> Map<String, Value> {
    config
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// UpdateFunctionConfiguration body: the original variables, plus the
/// nonce when given (the call replaces the whole variable set).
pub(crate) fn update_body(original: &Map<String, Value>, nonce: Option<&str>) -> Vec<u8> {
    let mut vars = original.clone();
    if let Some(n) = nonce {
        vars.insert(NONCE_VAR.to_string(), Value::String(n.to_string()));
    }
    json!({ "Environment": { "Variables": vars } })
        .to_string()
        .into_bytes()
}

/// `Init Duration` from a base64 `X-Amz-Log-Result` value.
pub(crate) fn init_duration_from_header(v: &HeaderValue) -> Option<f64> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v.as_bytes())
        .ok()?;
    parse_init_duration_ms(&String::from_utf8_lossy(&decoded))
}

/// `Init Duration: X ms` from the last `REPORT` line of a log tail.
pub(crate) fn parse_init_duration_ms(log: &str) -> Option<f64> {
    const KEY: &str = "Init Duration:";
    log.lines()
        .rev()
        .filter(|l| l.contains("REPORT"))
        .find_map(|l| {
            let rest = l[l.find(KEY)? + KEY.len()..].trim_start();
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            rest[..end].parse::<f64>().ok().filter(|v| v.is_finite())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIL: &str = "START RequestId: 1 Version: $LATEST\n\
        hello\n\
        END RequestId: 1\n\
        REPORT RequestId: 1\tDuration: 1.52 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 153.27 ms\t\n";

    #[test]
    fn parses_init_duration() {
        assert_eq!(parse_init_duration_ms(TAIL), Some(153.27));
    }

    #[test]
    fn no_init_duration_on_warm_report() {
        let warm = "REPORT RequestId: 2\tDuration: 1.00 ms\tBilled Duration: 1 ms\n";
        assert_eq!(parse_init_duration_ms(warm), None);
        assert_eq!(parse_init_duration_ms(""), None);
        // Only REPORT lines count.
        assert_eq!(parse_init_duration_ms("Init Duration: 5 ms\n"), None);
    }

    #[test]
    fn decodes_header() {
        let enc = base64::engine::general_purpose::STANDARD.encode(TAIL);
        let hv = HeaderValue::from_str(&enc).expect("header");
        assert_eq!(init_duration_from_header(&hv), Some(153.27));
        assert_eq!(
            init_duration_from_header(&HeaderValue::from_static("!!notbase64")),
            None
        );
    }

    #[test]
    fn update_body_keeps_vars_and_adds_nonce() {
        let cfg = json!({"FunctionName":"f","Environment":{"Variables":{"A":"1","B":"two"}}});
        let vars = env_vars(&cfg);
        let body: Value = serde_json::from_slice(&update_body(&vars, Some("n1"))).expect("json");
        assert_eq!(
            body,
            json!({"Environment":{"Variables":{"A":"1","B":"two","HAKO_BENCH_NONCE":"n1"}}})
        );
        let body: Value = serde_json::from_slice(&update_body(&vars, None)).expect("json");
        assert_eq!(
            body,
            json!({"Environment":{"Variables":{"A":"1","B":"two"}}})
        );
    }

    #[test]
    fn env_vars_absent_is_empty() {
        assert!(env_vars(&json!({"FunctionName":"f"})).is_empty());
        assert!(env_vars(&json!({"Environment":{}})).is_empty());
    }
}
