//! The one-JSON-line-per-run report and the machine description in it.

use serde::Serialize;

use crate::load::ErrorCounts;
use crate::stats::Summary;

/// One run's result, printed as a single JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `warm`, `cold`, `http-baseline`, `async`, `sqs-send`, `sqs-cycle`,
    /// `sqs-longpoll` or `kinesis-put`.
    pub mode: &'static str,
    /// 1-based run index (see `--runs`).
    pub run: u32,
    /// Target base URL.
    pub endpoint: String,
    /// Function name (absent for `http-baseline`).
    pub function: Option<String>,
    /// `RequestResponse` or `Event` (absent for the queue and stream modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_type: Option<&'static str>,
    /// Concurrent workers (1 for cold).
    pub concurrency: usize,
    /// Threads of the load generator's runtime.
    pub client_threads: usize,
    /// Request body size.
    pub payload_bytes: usize,
    /// Requests counted (successes + errors; cold: samples attempted;
    /// sqs-cycle: cycles; sqs-longpoll: messages sent).
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Failures by kind.
    pub error_detail: ErrorCounts,
    /// Warmup before measuring (load modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// Measurement window (cold: wall time of all samples).
    pub duration_s: f64,
    /// Successful requests per second (load modes; sqs-cycle: cycles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_per_s: Option<f64>,
    /// Latency of successful requests, send → full response (sqs-cycle: the
    /// three calls of a cycle; sqs-longpoll: send start → the receiver has
    /// the message).
    pub latency_us: Option<Summary<u64>>,
    /// Cold: samples asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Cold: sleep before each sample; sqs-longpoll: between samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_ms: Option<u64>,
    /// Cold: `Init Duration` from the REPORT log line, when reported.
    /// Outer `None` = not a cold run; inner `None` = none reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<Option<Summary<f64>>>,
    /// Async: time from the 202 to the handler starting, from the server's
    /// own histogram (see `handler_start.rs`). Outer `None` = not an async
    /// run; inner `None` = the endpoint does not expose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_handler_ms: Option<Option<crate::handler_start::HandlerStart>>,
    /// Queue and stream modes: the queue URL or stream name the run created
    /// (and deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// sqs-cycle, kinesis-put: entries per batch call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// kinesis-put: shards of the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Queue and stream modes: messages (kinesis-put: records) completed in
    /// the window: sent (sqs-send), deleted after a receive (sqs-cycle),
    /// received (sqs-longpoll), stored (kinesis-put).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
    /// `items` per second of the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_per_s: Option<f64>,
    /// sqs-longpoll: the SendMessage round trip (start → acknowledged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_latency_us: Option<Option<Summary<u64>>>,
    /// sqs-longpoll: from the send's acknowledgement to the receiver having
    /// the message (0 when the message arrived before the acknowledgement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_to_receive_us: Option<Option<Summary<u64>>>,
    /// url: the direct Invoke of the same function, measured just before the URL requests in the
    /// same run (`latency_us` is the URL's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_latency_us: Option<Option<Summary<u64>>>,
    /// url: what a URL request costs over the direct Invoke, p50 and p99 (URL minus Invoke).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_overhead_us: Option<Option<crate::UrlOverhead>>,
    /// Where it ran.
    pub machine: Machine,
    /// When it finished (RFC 3339, UTC).
    pub timestamp: String,
}

impl Report {
    /// The report as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(self)?)
    }
}

/// The machine the benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// First `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
}

impl Machine {
    /// Reads the description; unknown fields become `"unknown"`.
    pub fn detect() -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".to_string());
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| cpu_model_from_cpuinfo(&s))
            .unwrap_or_else(|| "unknown".to_string());
        Self {
            cpus,
            kernel,
            cpu_model,
        }
    }
}

fn cpu_model_from_cpuinfo(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let k = k.trim();
        // x86 says "model name"; some arm kernels only have "Hardware"/"CPU part".
        (k == "model name" || k == "Hardware").then(|| v.trim().to_string())
    })
}

/// Current UTC time in RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_parsing() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t: fpu\n";
        assert_eq!(
            cpu_model_from_cpuinfo(info).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model_from_cpuinfo("processor : 0\n"), None);
    }

    #[test]
    fn timestamp_is_rfc3339() {
        // e.g. 2026-01-01T12:34:56.123456789Z
        let ts = now_rfc3339();
        let b = ts.as_bytes();
        assert!(ts.len() >= 20, "{ts}");
        assert_eq!(
            (b[4], b[7], b[10], b[13], b[16]),
            (b'-', b'-', b'T', b':', b':'),
            "{ts}"
        );
        assert!(ts.ends_with('Z'), "{ts}");
    }
}
