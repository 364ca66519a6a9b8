//! `hako bench`: latency and throughput of any endpoint speaking the AWS
//! Lambda API (`POST /2015-03-31/functions/{name}/invocations`), or SQS's and
//! Kinesis's JSON protocols, Hako or otherwise.
//!
//! Modes:
//! - `warm` (default): closed-loop sync invokes from `--concurrency` workers,
//!   each on one persistent HTTP/1.1 keep-alive connection, for
//!   `--warmup-seconds` + `--duration-seconds`.
//! - `cold`: `--samples` cold starts, each forced by an
//!   UpdateFunctionConfiguration that adds a nonce environment variable,
//!   followed by `--gap-ms` of idle and one timed sync invoke; also collects
//!   the `Init Duration` of the `REPORT` log line (`X-Amz-Log-Type: Tail`).
//! - `http-baseline`: the same load loop against an in-process bare hyper
//!   server on loopback, the physical floor to put beside the other numbers.
//! - `async`: `Event` invocations, measuring accepted/s (each 202 means the
//!   event is durably queued), the 202 latency, and the time from the 202 to
//!   the start of the event's invocation (from the server's own histogram,
//!   `handler_start.rs`).
//! - `url`: the function's URL (found with GetFunctionUrlConfig, addressed by
//!   its `Host`) beside a direct Invoke of the same function in the same run:
//!   the Invoke's latency first, then the URL's, and the difference at p50 and
//!   p99 (`url_overhead_us`).
//! - `sqs-send`, `sqs-cycle`, `sqs-longpoll`, `kinesis-put`: queues and
//!   streams over the JSON protocols boto3 speaks, requests signed with SigV4
//!   (`--access-key-id` & co.); each run creates its own queue or stream and
//!   deletes it after (see `queues.rs`).
//!
//! Each run prints one JSON line on stdout (see [`Report`]); progress and
//! diagnostics go to stderr. A run with more than `--max-error-percent`
//! failures (default 1 %) prints its line and then fails.
//!
//! The load generator shares the machine with the server, so it is kept
//! lean: a dedicated current-thread runtime by default (`--client-threads`),
//! pre-built requests, latencies in a per-worker `Vec` merged and sorted at
//! the end. Every loop is bounded by the duration or the sample count, and
//! every request by `--request-timeout-seconds` (30 s).

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};

mod aws;
mod client;
mod cold;
mod esm;
mod handler_start;
mod load;
mod payload;
mod queues;
mod report;
mod server;
pub mod signed;
mod stats;

pub use handler_start::HandlerStart;
pub use load::ErrorCounts;
pub use payload::{build_payload, MIN_PAYLOAD_BYTES};
pub use report::{Machine, Report};
pub use stats::Summary;

use crate::client::{function_path, Endpoint, RequestTemplate, X_AMZ_INVOCATION_TYPE};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Sync invoke latency and throughput of a warm function.
    Warm,
    /// Cold-start latency (forces a new sandbox before each sample).
    Cold,
    /// The same load loop against an in-process bare HTTP server.
    HttpBaseline,
    /// Event (async) invocations: accepted/s and 202 latency.
    Async,
    /// SQS SendMessage latency and throughput.
    SqsSend,
    /// SQS SendMessageBatch + ReceiveMessage + DeleteMessageBatch: messages/s.
    SqsCycle,
    /// SQS long polling: time from a send to a waiting receiver having it.
    SqsLongpoll,
    /// Kinesis PutRecords: records/s.
    KinesisPut,
    /// A function URL request beside a direct Invoke of the same function.
    Url,
    /// An SQS event source mapping: send → handler start, and messages/s handled.
    EsmSqs,
    /// A Kinesis event source mapping: PutRecord → handler start, and records/s handled.
    EsmKinesis,
}

/// What a URL request costs over a direct Invoke (microseconds, URL minus Invoke).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct UrlOverhead {
    pub p50: i64,
    pub p99: i64,
}

impl Mode {
    /// Name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Warm => "warm",
            Mode::Cold => "cold",
            Mode::HttpBaseline => "http-baseline",
            Mode::Async => "async",
            Mode::SqsSend => "sqs-send",
            Mode::SqsCycle => "sqs-cycle",
            Mode::SqsLongpoll => "sqs-longpoll",
            Mode::KinesisPut => "kinesis-put",
            Mode::Url => "url",
            Mode::EsmSqs => "esm-sqs",
            Mode::EsmKinesis => "esm-kinesis",
        }
    }

    fn workload(self) -> Option<queues::Workload> {
        match self {
            Mode::SqsSend => Some(queues::Workload::SqsSend),
            Mode::SqsCycle => Some(queues::Workload::SqsCycle),
            Mode::SqsLongpoll => Some(queues::Workload::SqsLongpoll),
            Mode::KinesisPut => Some(queues::Workload::KinesisPut),
            Mode::Warm
            | Mode::Cold
            | Mode::HttpBaseline
            | Mode::Async
            | Mode::Url
            | Mode::EsmSqs
            | Mode::EsmKinesis => None,
        }
    }
}

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InvocationType {
    /// Synchronous (200 expected).
    #[value(name = "RequestResponse")]
    RequestResponse,
    /// Asynchronous (202 expected).
    #[value(name = "Event")]
    Event,
}

impl InvocationType {
    fn as_str(self) -> &'static str {
        match self {
            InvocationType::RequestResponse => "RequestResponse",
            InvocationType::Event => "Event",
        }
    }

    fn expected_status(self) -> StatusCode {
        match self {
            InvocationType::RequestResponse => StatusCode::OK,
            InvocationType::Event => StatusCode::ACCEPTED,
        }
    }
}

/// Arguments of `hako bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Warm)]
    pub mode: Mode,

    /// Base URL of the endpoint (plain http).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,

    /// Function name or ARN (required by warm, cold and async).
    #[arg(long)]
    pub function: Option<String>,

    /// Concurrent workers, each with one keep-alive connection.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,

    /// Measurement window per run (warm, async, http-baseline).
    #[arg(long, default_value_t = 10.0)]
    pub duration_seconds: f64,

    /// Unmeasured load before the window.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_seconds: f64,

    /// Request body size: a JSON object padded to exactly this many bytes
    /// (queue modes: the message body; kinesis-put: each record's data).
    #[arg(long, default_value_t = 64)]
    pub payload_bytes: usize,

    /// Invocation type; `Event` implies `--mode async`.
    #[arg(long, value_enum)]
    pub invocation_type: Option<InvocationType>,

    /// Cold mode: number of cold starts to sample.
    #[arg(long, default_value_t = 30)]
    pub samples: usize,

    /// Cold mode: idle time between the update settling and the invoke
    /// (default 300); sqs-longpoll: between a message's arrival and the next
    /// send (default 20).
    #[arg(long)]
    pub gap_ms: Option<u64>,

    /// Repeat the run this many times (one JSON line each).
    #[arg(long, default_value_t = 1)]
    pub runs: u32,

    /// Threads of the load generator (1 = current-thread runtime).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,

    /// Per-request timeout.
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout_seconds: f64,

    /// Cold mode: bound on waiting for `LastUpdateStatus: Successful`.
    #[arg(long, default_value_t = 60.0)]
    pub update_timeout_seconds: f64,

    /// Fail the run when more than this percentage of requests failed.
    #[arg(long, default_value_t = 1.0)]
    pub max_error_percent: f64,

    /// Entries per batch call: sqs-cycle (1-10, default 10), kinesis-put
    /// (1-500, default 500).
    #[arg(long)]
    pub batch: Option<usize>,

    /// kinesis-put: shards of the stream the run creates.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,

    /// Queue and stream modes: the access key the requests are signed with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "test")]
    pub access_key_id: String,

    /// Queue and stream modes: the secret key the requests are signed with.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "test",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret_access_key: String,

    /// Queue and stream modes: a session token, sent as X-Amz-Security-Token.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<String>,

    /// Queue and stream modes: the region of the signature's scope.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// Runs the benchmark, printing one JSON line per run on stdout.
pub async fn run(args: BenchArgs) -> Result<()> {
    let mut stdout = std::io::stdout();
    run_to(args, &mut stdout).await
}

/// [`run`], writing the JSON lines to `out`.
pub async fn run_to<W: Write + Send>(args: BenchArgs, out: &mut W) -> Result<()> {
    let plan = Plan::new(&args)?;
    let machine = Machine::detect();
    for run in 1..=args.runs {
        eprintln!(
            "hako-bench: {} run {run}/{}: {}",
            plan.mode.as_str(),
            args.runs,
            plan.describe()
        );
        let report = plan.run_once(run, &machine).await?;
        writeln!(out, "{}", report.to_json_line()?).context("writing the report")?;
        out.flush().context("flushing the report")?;
        eprintln!("hako-bench: {}", summary_line(&report));
        check_errors(&report, args.max_error_percent)?;
    }
    Ok(())
}

/// Validated arguments.
#[derive(Debug, Clone)]
struct Plan {
    mode: Mode,
    endpoint: String,
    function: Option<String>,
    invocation_type: InvocationType,
    concurrency: usize,
    client_threads: usize,
    payload: Bytes,
    warmup: Duration,
    duration: Duration,
    samples: usize,
    gap: Duration,
    request_timeout: Duration,
    update_timeout: Duration,
    batch: usize,
    shards: u32,
    credentials: hako_sigv4::Credentials,
    region: String,
}

fn seconds(name: &str, v: f64, allow_zero: bool) -> Result<Duration> {
    let d = Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{name} must be a non-negative number of seconds, got {v}"))?;
    if !allow_zero && d.is_zero() {
        bail!("--{name} must be > 0");
    }
    Ok(d)
}

impl Plan {
    fn new(a: &BenchArgs) -> Result<Self> {
        let mode = match (a.mode, a.invocation_type) {
            (Mode::Warm, Some(InvocationType::Event)) => Mode::Async,
            (m, _) => m,
        };
        let invocation_type = match (mode, a.invocation_type) {
            (Mode::Async, None | Some(InvocationType::Event)) => InvocationType::Event,
            (Mode::Async, Some(InvocationType::RequestResponse)) => {
                bail!("--mode async sends Event invocations; use --mode warm for RequestResponse")
            }
            (_, None | Some(InvocationType::RequestResponse)) => InvocationType::RequestResponse,
            (m, Some(InvocationType::Event)) => {
                bail!("--mode {} needs RequestResponse invocations", m.as_str())
            }
        };
        let function = match (mode, &a.function) {
            (_, Some(f)) => {
                if f.is_empty() || f.contains(|c: char| c.is_whitespace() || "/?#%".contains(c)) {
                    bail!("invalid --function {f:?}");
                }
                Some(f.clone())
            }
            (Mode::HttpBaseline, None) => None,
            (m, None) if m.workload().is_some() => None,
            (m, None) => bail!("--mode {} needs --function NAME", m.as_str()),
        };
        if a.runs == 0 {
            bail!("--runs must be >= 1");
        }
        if !(1..=10_000).contains(&a.concurrency) {
            bail!("--concurrency must be in 1..=10000");
        }
        if !(1..=64).contains(&a.client_threads) {
            bail!("--client-threads must be in 1..=64");
        }
        if mode == Mode::Cold && a.samples == 0 {
            bail!("--samples must be >= 1");
        }
        if a.payload_bytes > 64 * 1024 * 1024 {
            bail!("--payload-bytes must be at most 64 MiB");
        }
        if a.max_error_percent.is_nan() || a.max_error_percent < 0.0 {
            bail!("--max-error-percent must be >= 0");
        }
        if mode != Mode::HttpBaseline {
            Endpoint::parse(&a.endpoint)?;
        }
        let batch = match (mode, a.batch) {
            (Mode::SqsCycle, b) => b.unwrap_or(10),
            (Mode::KinesisPut | Mode::EsmKinesis, b) => b.unwrap_or(500),
            (m, Some(_)) => bail!(
                "--batch applies to sqs-cycle, kinesis-put and esm-kinesis, not {}",
                m.as_str()
            ),
            (_, None) => 1,
        };
        match mode {
            Mode::SqsCycle if !(1..=10).contains(&batch) => {
                bail!("--batch must be in 1..=10 for sqs-cycle (SQS's batch limit)")
            }
            Mode::KinesisPut | Mode::EsmKinesis if !(1..=500).contains(&batch) => {
                bail!("--batch must be in 1..=500 for kinesis-put (PutRecords' limit)")
            }
            _ => {}
        }
        if mode == Mode::KinesisPut && a.shards == 0 {
            bail!("--shards must be >= 1");
        }
        if mode.workload().is_some() && a.region.is_empty() {
            bail!("--region must not be empty");
        }
        let gap = Duration::from_millis(a.gap_ms.unwrap_or(match mode {
            Mode::SqsLongpoll | Mode::EsmSqs | Mode::EsmKinesis => 20,
            _ => 300,
        }));
        let mut request_timeout =
            seconds("request-timeout-seconds", a.request_timeout_seconds, false)?;
        if mode == Mode::SqsLongpoll {
            // The receiver's ReceiveMessage waits up to 20 s by design.
            request_timeout =
                request_timeout.max(Duration::from_secs(queues::LONG_POLL_SECONDS + 10));
        }
        Ok(Self {
            mode,
            endpoint: a.endpoint.clone(),
            function,
            invocation_type,
            concurrency: if mode == Mode::Cold { 1 } else { a.concurrency },
            client_threads: a.client_threads,
            payload: Bytes::from(build_payload(a.payload_bytes)),
            warmup: seconds("warmup-seconds", a.warmup_seconds, true)?,
            duration: seconds("duration-seconds", a.duration_seconds, false)?,
            samples: a.samples,
            gap,
            request_timeout,
            update_timeout: seconds("update-timeout-seconds", a.update_timeout_seconds, false)?,
            batch,
            shards: a.shards,
            credentials: hako_sigv4::Credentials {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                session_token: a.session_token.clone().filter(|t| !t.is_empty()),
            },
            region: a.region.clone(),
        })
    }

    fn describe(&self) -> String {
        match self.mode {
            Mode::Cold => format!(
                "{} function {:?}, {} samples, gap {} ms",
                self.endpoint,
                self.function.as_deref().unwrap_or(""),
                self.samples,
                self.gap.as_millis()
            ),
            Mode::HttpBaseline => format!(
                "in-process loopback server, concurrency {}, warmup {:?}, measuring {:?}",
                self.concurrency, self.warmup, self.duration
            ),
            Mode::Warm | Mode::Async | Mode::Url => format!(
                "{} function {:?}, concurrency {}, warmup {:?}, measuring {:?}",
                self.endpoint,
                self.function.as_deref().unwrap_or(""),
                self.concurrency,
                self.warmup,
                self.duration
            ),
            Mode::EsmSqs | Mode::EsmKinesis => format!(
                "{} function {:?}, BatchSize 10, {} latency samples {} ms apart, then {} senders for {:?}",
                self.endpoint,
                self.function.as_deref().unwrap_or(""),
                self.samples,
                self.gap.as_millis(),
                self.concurrency,
                self.duration
            ),
            Mode::SqsLongpoll => format!(
                "{}, one long-polling receiver, a send every {} ms, warmup {:?}, measuring {:?}",
                self.endpoint,
                self.gap.as_millis(),
                self.warmup,
                self.duration
            ),
            Mode::SqsSend | Mode::SqsCycle | Mode::KinesisPut => format!(
                "{}, concurrency {}, batch {}, {} B payload, warmup {:?}, measuring {:?}",
                self.endpoint,
                self.concurrency,
                self.batch,
                self.payload.len(),
                self.warmup,
                self.duration
            ),
        }
    }

    async fn run_once(&self, run: u32, machine: &Machine) -> Result<Report> {
        match self.mode {
            Mode::Warm | Mode::Async => {
                let endpoint = Endpoint::parse(&self.endpoint)?;
                self.run_load(endpoint, self.endpoint.clone(), run, machine)
                    .await
            }
            Mode::HttpBaseline => {
                let server = server::LocalServer::start(server::baseline_handler())?;
                let url = server.url();
                let endpoint = Endpoint::parse(&url)?;
                let report = self.run_load(endpoint, url, run, machine).await;
                drop(server);
                report
            }
            Mode::Cold => self.run_cold(run, machine).await,
            Mode::Url => self.run_url(run, machine).await,
            Mode::EsmSqs | Mode::EsmKinesis => self.run_esm(run, machine).await,
            Mode::SqsSend | Mode::SqsCycle | Mode::SqsLongpoll | Mode::KinesisPut => {
                self.run_queue(run, machine).await
            }
        }
    }

    fn base_report(&self, run: u32, endpoint: String, machine: &Machine) -> Report {
        Report {
            mode: self.mode.as_str(),
            run,
            endpoint,
            function: self.function.clone(),
            invocation_type: self
                .mode
                .workload()
                .is_none()
                .then(|| self.invocation_type.as_str()),
            concurrency: self.concurrency,
            client_threads: self.client_threads,
            payload_bytes: self.payload.len(),
            requests: 0,
            errors: 0,
            error_detail: ErrorCounts::default(),
            warmup_s: None,
            duration_s: 0.0,
            throughput_per_s: None,
            latency_us: None,
            samples: None,
            gap_ms: None,
            init_duration_ms: None,
            time_to_handler_ms: None,
            resource: None,
            batch: None,
            shards: None,
            items: None,
            items_per_s: None,
            send_latency_us: None,
            ack_to_receive_us: None,
            invoke_latency_us: None,
            url_overhead_us: None,
            machine: machine.clone(),
            timestamp: String::new(),
        }
    }

    async fn run_load(
        &self,
        endpoint: Endpoint,
        endpoint_url: String,
        run: u32,
        machine: &Machine,
    ) -> Result<Report> {
        let function = self.function.as_deref().unwrap_or("baseline");
        let mut template = RequestTemplate::new(
            &endpoint,
            Method::POST,
            &function_path(function, "/invocations"),
            self.payload.clone(),
        )?;
        if self.invocation_type == InvocationType::Event {
            template =
                template.with_header(X_AMZ_INVOCATION_TYPE, HeaderValue::from_static("Event"));
        }
        let spec = load::LoadSpec {
            endpoint,
            template,
            concurrency: self.concurrency,
            warmup: self.warmup,
            duration: self.duration,
            expected: self.invocation_type.expected_status(),
            request_timeout: self.request_timeout,
        };
        let function_name = handler_start::function_name(function).to_string();
        let before = if self.mode == Mode::Async {
            match handler_start::scrape(&spec.endpoint, &function_name, self.request_timeout).await
            {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("hako-bench: warning: cannot read /metrics: {e:#}");
                    None
                }
            }
        } else {
            None
        };
        let metrics_endpoint = spec.endpoint.clone();
        let outcome = on_load_thread(self.client_threads, move || load::run_load(spec)).await?;

        let secs = outcome.measured.as_secs_f64();
        let ok = outcome.requests - outcome.errors.total().min(outcome.requests);
        let mut r = self.base_report(run, endpoint_url, machine);
        r.requests = outcome.requests;
        r.errors = outcome.errors.total();
        r.error_detail = outcome.errors;
        r.warmup_s = Some(round(self.warmup.as_secs_f64(), 3));
        r.duration_s = round(secs, 3);
        r.throughput_per_s = Some(if secs > 0.0 {
            round(ok as f64 / secs, 1)
        } else {
            0.0
        });
        r.latency_us = stats::summarize_u64(&outcome.latencies_us);
        if self.mode == Mode::Async {
            r.time_to_handler_ms = Some(match &before {
                None => None,
                Some(before) => {
                    // Every accepted event must start: bounded by the run's length (the queue
                    // may lag the 202s) plus a minute.
                    let wait = self.warmup + self.duration * 2 + Duration::from_secs(60);
                    handler_start::measure(
                        &metrics_endpoint,
                        &function_name,
                        before,
                        ok,
                        wait,
                        self.request_timeout,
                    )
                    .await
                    .unwrap_or_else(|e| {
                        eprintln!("hako-bench: warning: cannot read /metrics: {e:#}");
                        None
                    })
                }
            });
        }
        r.timestamp = report::now_rfc3339();
        Ok(r)
    }

    /// The URL mode: a direct Invoke's load, then the same load on the function's URL.
    async fn run_url(&self, run: u32, machine: &Machine) -> Result<Report> {
        let endpoint = Endpoint::parse(&self.endpoint)?;
        let function = self.function.clone().context("url mode needs --function")?;
        let host = url_host(&endpoint, &function, self.request_timeout).await?;
        let invoke = self
            .run_load(endpoint.clone(), self.endpoint.clone(), run, machine)
            .await?;
        let template = RequestTemplate::new(&endpoint, Method::POST, "/", self.payload.clone())?
            .with_header(
                http::header::HOST,
                HeaderValue::from_str(&host).context("URL host")?,
            );
        let spec = load::LoadSpec {
            endpoint,
            template,
            concurrency: self.concurrency,
            warmup: self.warmup,
            duration: self.duration,
            expected: StatusCode::OK,
            request_timeout: self.request_timeout,
        };
        let outcome = on_load_thread(self.client_threads, move || load::run_load(spec)).await?;
        let secs = outcome.measured.as_secs_f64();
        let ok = outcome.requests - outcome.errors.total().min(outcome.requests);
        let mut r = self.base_report(run, self.endpoint.clone(), machine);
        r.requests = outcome.requests + invoke.requests;
        r.errors = outcome.errors.total() + invoke.errors;
        r.error_detail = outcome.errors;
        r.warmup_s = Some(round(self.warmup.as_secs_f64(), 3));
        r.duration_s = round(secs, 3);
        r.throughput_per_s = Some(if secs > 0.0 {
            round(ok as f64 / secs, 1)
        } else {
            0.0
        });
        r.latency_us = stats::summarize_u64(&outcome.latencies_us);
        r.invoke_latency_us = Some(invoke.latency_us);
        r.url_overhead_us = Some(match (r.latency_us, invoke.latency_us) {
            (Some(u), Some(i)) => Some(UrlOverhead {
                p50: u.p50 as i64 - i.p50 as i64,
                p99: u.p99 as i64 - i.p99 as i64,
            }),
            _ => None,
        });
        r.timestamp = report::now_rfc3339();
        Ok(r)
    }

    async fn run_cold(&self, run: u32, machine: &Machine) -> Result<Report> {
        let spec = cold::ColdSpec {
            endpoint: Endpoint::parse(&self.endpoint)?,
            function: self
                .function
                .clone()
                .context("cold mode needs --function")?,
            samples: self.samples,
            gap: self.gap,
            payload: self.payload.clone(),
            request_timeout: self.request_timeout,
            update_timeout: self.update_timeout,
        };
        let outcome = on_load_thread(self.client_threads, move || cold::run_cold(spec)).await??;
        let mut r = self.base_report(run, self.endpoint.clone(), machine);
        r.requests = outcome.requests;
        r.errors = outcome.errors.total();
        r.error_detail = outcome.errors;
        r.duration_s = round(outcome.elapsed.as_secs_f64(), 3);
        r.latency_us = stats::summarize_u64(&outcome.latencies_us);
        r.samples = Some(self.samples);
        r.gap_ms = Some(u64::try_from(self.gap.as_millis()).unwrap_or(u64::MAX));
        r.init_duration_ms = Some(stats::summarize_f64(&outcome.init_ms));
        if outcome.init_ms.len() < outcome.latencies_us.len() {
            eprintln!(
                "hako-bench: warning: {} of {} successful cold invokes reported no Init Duration",
                outcome.latencies_us.len() - outcome.init_ms.len(),
                outcome.latencies_us.len()
            );
        }
        r.timestamp = report::now_rfc3339();
        Ok(r)
    }
}

impl Plan {
    async fn run_esm(&self, run: u32, machine: &Machine) -> Result<Report> {
        let source = if self.mode == Mode::EsmKinesis {
            esm::Source::Kinesis
        } else {
            esm::Source::Sqs
        };
        let spec = esm::EsmSpec {
            source,
            endpoint: self.endpoint.clone(),
            identity: signed::SigningIdentity {
                access_key_id: self.credentials.access_key_id.clone(),
                secret_access_key: self.credentials.secret_access_key.clone(),
                session_token: self.credentials.session_token.clone(),
                region: self.region.clone(),
            },
            function: self.function.clone().context("--function is required")?,
            name: resource_name(self.mode, run),
            samples: self.samples,
            gap: self.gap,
            concurrency: self.concurrency,
            duration: self.duration,
            put_batch: self.batch,
            timeout: self.request_timeout,
        };
        let outcome = on_load_thread(self.client_threads, move || esm::run(spec)).await??;
        let secs = outcome.handled_in.as_secs_f64();
        let mut r = self.base_report(run, self.endpoint.clone(), machine);
        r.invocation_type = None;
        r.requests = outcome.latencies_us.len() as u64 + outcome.lost;
        r.errors = outcome.lost;
        r.duration_s = round(self.duration.as_secs_f64(), 3);
        r.latency_us = stats::summarize_u64(&outcome.latencies_us);
        r.samples = Some(self.samples);
        r.gap_ms = Some(u64::try_from(self.gap.as_millis()).unwrap_or(u64::MAX));
        r.resource = Some(outcome.resource);
        r.batch = (self.mode == Mode::EsmKinesis).then_some(self.batch);
        r.items = Some(outcome.sent);
        r.items_per_s = Some(if secs > 0.0 {
            round(outcome.sent as f64 / secs, 1)
        } else {
            0.0
        });
        r.timestamp = report::now_rfc3339();
        Ok(r)
    }

    async fn run_queue(&self, run: u32, machine: &Machine) -> Result<Report> {
        let workload = self.mode.workload().context("not a queue or stream mode")?;
        let service = match workload {
            queues::Workload::KinesisPut => aws::Service::Kinesis,
            _ => aws::Service::Sqs,
        };
        let api = aws::JsonApi::new(
            service,
            Endpoint::parse(&self.endpoint)?,
            self.credentials.clone(),
            &self.region,
            self.request_timeout,
        )?;
        let name = resource_name(self.mode, run);
        let spec = queues::QueueSpec {
            workload,
            api,
            name,
            concurrency: if workload == queues::Workload::SqsLongpoll {
                1
            } else {
                self.concurrency
            },
            warmup: self.warmup,
            duration: self.duration,
            payload: self.payload.to_vec(),
            batch: self.batch,
            shards: self.shards,
            gap: self.gap,
            setup_timeout: self.update_timeout,
        };
        let outcome = on_load_thread(self.client_threads, move || queues::run(spec)).await??;
        let secs = outcome.measured.as_secs_f64();
        let ok = outcome.requests - outcome.errors.total().min(outcome.requests);
        let per_s = |n: u64| {
            if secs > 0.0 {
                round(n as f64 / secs, 1)
            } else {
                0.0
            }
        };
        let mut r = self.base_report(run, self.endpoint.clone(), machine);
        r.requests = outcome.requests;
        r.errors = outcome.errors.total();
        r.error_detail = outcome.errors;
        r.warmup_s = Some(round(self.warmup.as_secs_f64(), 3));
        r.duration_s = round(secs, 3);
        r.latency_us = stats::summarize_u64(&outcome.latencies_us);
        r.resource = Some(outcome.resource);
        r.items = Some(outcome.items);
        r.items_per_s = Some(per_s(outcome.items));
        match workload {
            queues::Workload::SqsLongpoll => {
                r.concurrency = 1;
                r.gap_ms = Some(u64::try_from(self.gap.as_millis()).unwrap_or(u64::MAX));
                r.send_latency_us = Some(stats::summarize_u64(&outcome.send_latencies_us));
                r.ack_to_receive_us = Some(stats::summarize_u64(&outcome.ack_to_receive_us));
            }
            queues::Workload::SqsCycle => {
                r.batch = Some(self.batch);
                r.throughput_per_s = Some(per_s(ok));
            }
            queues::Workload::KinesisPut => {
                r.batch = Some(self.batch);
                r.shards = Some(self.shards);
                r.throughput_per_s = Some(per_s(ok));
            }
            queues::Workload::SqsSend => r.throughput_per_s = Some(per_s(ok)),
        }
        r.timestamp = report::now_rfc3339();
        Ok(r)
    }
}

/// A queue or stream name of its own for each run (letters, digits, `-`:
/// valid for both services).
fn resource_name(mode: Mode, run: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "hako-bench-{}-{}-{run}-{nanos}",
        mode.as_str(),
        std::process::id()
    )
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Runs `f` on a dedicated thread with its own runtime (current-thread for
/// one thread), isolating the load generator from the caller's runtime.
async fn on_load_thread<T, F, Fut>(threads: usize, f: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("hako-bench-load".into())
        .spawn(move || {
            let rt = if threads <= 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()
            };
            let res = rt
                .map(|rt| rt.block_on(f()))
                .map_err(|e| anyhow::anyhow!("building the load runtime: {e}"));
            let _ = tx.send(res);
        })
        .context("spawning the load thread")?;
    rx.await.context("the load thread panicked")?
}

fn summary_line(r: &Report) -> String {
    let lat = r.latency_us.map_or_else(
        || "no successful requests".to_string(),
        |l| format!("p50 {} us, p99 {} us, max {} us", l.p50, l.p99, l.max),
    );
    let tput = r
        .throughput_per_s
        .map_or_else(String::new, |t| format!(" = {t}/s"));
    let init = match r.init_duration_ms {
        Some(Some(i)) => format!("; Init Duration p50 {} ms, max {} ms", i.p50, i.max),
        _ => String::new(),
    };
    let overhead = match r.url_overhead_us {
        Some(Some(o)) => format!(
            "; over a direct Invoke: p50 {:+} us, p99 {:+} us",
            o.p50, o.p99
        ),
        _ => String::new(),
    };
    let items = match (r.items, r.items_per_s) {
        (Some(n), Some(per_s)) => format!("; {n} {} = {per_s}/s", items_unit(r.mode)),
        _ => String::new(),
    };
    format!(
        "{} run {}: {} requests, {} errors in {:.3} s{tput}; {lat}{init}{items}{overhead}",
        r.mode, r.run, r.requests, r.errors, r.duration_s
    )
}

/// The `Host` of `function`'s URL (`<url-id>.lambda-url.<region>.on.aws`), from
/// GetFunctionUrlConfig.
async fn url_host(endpoint: &Endpoint, function: &str, timeout: Duration) -> Result<String> {
    let template = RequestTemplate::new(
        endpoint,
        Method::GET,
        &format!("/2021-10-31/functions/{function}/url"),
        Bytes::new(),
    )?;
    let get = async {
        let mut conn = endpoint.connect(timeout).await?;
        conn.round_trip_collect(template.build()).await
    };
    let (parts, body) = tokio::time::timeout(timeout, get)
        .await
        .context("GetFunctionUrlConfig timed out")??;
    if parts.status != StatusCode::OK {
        bail!(
            "GetFunctionUrlConfig of {function:?} answered {}: {} (create one: aws lambda create-function-url-config --function-name {function} --auth-type NONE)",
            parts.status,
            String::from_utf8_lossy(&body)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).context("GetFunctionUrlConfig's answer")?;
    let url = v["FunctionUrl"].as_str().context("no FunctionUrl")?;
    let host = url
        .strip_prefix("https://")
        .map(|h| h.trim_end_matches('/'))
        .context("FunctionUrl is not https://...")?;
    Ok(host.to_string())
}

fn items_unit(mode: &str) -> &'static str {
    if mode.starts_with("kinesis") {
        "records"
    } else {
        "messages"
    }
}

fn check_errors(r: &Report, max_error_percent: f64) -> Result<()> {
    if r.requests == 0 {
        bail!("{} run {}: no requests completed", r.mode, r.run);
    }
    let pct = r.errors as f64 * 100.0 / r.requests as f64;
    if pct > max_error_percent {
        let detail = serde_json::to_string(&r.error_detail).unwrap_or_default();
        bail!(
            "{} run {}: {} of {} requests failed ({pct:.2}% > {max_error_percent}%): {detail}",
            r.mode,
            r.run,
            r.errors,
            r.requests
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use clap::Parser;
    use http_body_util::Full;
    use serde_json::{json, Value};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> BenchArgs {
        let mut v = vec!["bench"];
        v.extend_from_slice(argv);
        Cli::try_parse_from(v).expect("valid arguments").args
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        std::str::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    #[test]
    fn defaults_and_validation() {
        let a = parse(&["--function", "f"]);
        assert_eq!(a.mode, Mode::Warm);
        assert_eq!(a.concurrency, 1);
        assert_eq!(a.duration_seconds, 10.0);
        assert_eq!(a.warmup_seconds, 2.0);
        assert_eq!(a.payload_bytes, 64);
        assert_eq!(a.samples, 30);
        assert_eq!(a.gap_ms, None);
        let p = Plan::new(&a).expect("plan");
        assert_eq!(p.gap, Duration::from_millis(300));
        assert_eq!(p.invocation_type, InvocationType::RequestResponse);
        assert_eq!(p.payload.len(), 64);

        let p =
            Plan::new(&parse(&["--function", "f", "--invocation-type", "Event"])).expect("plan");
        assert_eq!(p.mode, Mode::Async);
        assert_eq!(p.invocation_type, InvocationType::Event);

        assert!(Plan::new(&parse(&[])).is_err(), "warm needs --function");
        assert!(Plan::new(&parse(&["--mode", "http-baseline"])).is_ok());
        assert!(Plan::new(&parse(&[
            "--mode",
            "cold",
            "--function",
            "f",
            "--invocation-type",
            "Event"
        ]))
        .is_err());
        assert!(Plan::new(&parse(&["--function", "a/b"])).is_err());
        assert!(Plan::new(&parse(&["--function", "f", "--duration-seconds", "0"])).is_err());
        assert!(Plan::new(&parse(&["--function", "f", "--endpoint", "https://x"])).is_err());
    }

    #[test]
    fn esm_modes_need_a_function_and_take_a_stream_batch() {
        assert!(Plan::new(&parse(&["--mode", "esm-sqs"])).is_err());
        let p = Plan::new(&parse(&["--mode", "esm-sqs", "--function", "f"])).expect("plan");
        assert_eq!((p.gap, p.batch), (Duration::from_millis(20), 1));
        assert!(Plan::new(&parse(&[
            "--mode",
            "esm-sqs",
            "--function",
            "f",
            "--batch",
            "5"
        ]))
        .is_err());
        let p = Plan::new(&parse(&["--mode", "esm-kinesis", "--function", "f"])).expect("plan");
        assert_eq!(p.batch, 500);
        assert!(Plan::new(&parse(&[
            "--mode",
            "esm-kinesis",
            "--function",
            "f",
            "--batch",
            "501"
        ]))
        .is_err());
    }

    /// Acceptance: http-baseline for ~1 s yields a parsable line with
    /// throughput > 0 and no errors.
    #[tokio::test]
    async fn http_baseline_runs_in_process() {
        let args = parse(&[
            "--mode",
            "http-baseline",
            "--concurrency",
            "2",
            "--duration-seconds",
            "0.8",
            "--warmup-seconds",
            "0.2",
        ]);
        let mut out = Vec::new();
        run_to(args, &mut out).await.expect("baseline run");
        let l = lines(&out);
        assert_eq!(l.len(), 1);
        let r = &l[0];
        assert_eq!(r["mode"], "http-baseline");
        assert_eq!(r["concurrency"], 2);
        assert_eq!(r["payload_bytes"], 64);
        assert_eq!(r["errors"], 0);
        assert!(r["requests"].as_u64().expect("requests") > 0);
        assert!(r["throughput_per_s"].as_f64().expect("throughput") > 0.0);
        assert!(r["latency_us"]["p50"].as_u64().is_some());
        assert!(r["latency_us"]["p999"].as_u64().is_some());
        assert!(r["machine"]["cpus"].as_u64().expect("cpus") >= 1);
        assert!(r["machine"]["kernel"].is_string());
        assert!(r["timestamp"].is_string());
        assert!(r.get("init_duration_ms").is_none());
    }

    /// A scripted Lambda API: configuration GET/PUT with one `InProgress`
    /// poll after each update, and invokes that answer per `mode`.
    #[derive(Default)]
    struct MockState {
        vars: BTreeMap<String, String>,
        pending_polls: u32,
        puts: Vec<Value>,
        invokes: u32,
    }

    fn mock(state: Arc<Mutex<MockState>>, invoke_status: u16, fn_error: bool) -> server::Handler {
        Arc::new(move |parts, body| {
            let mut st = state.lock().expect("lock");
            let path = parts.uri.path().to_string();
            let json_resp = |status: u16, v: Value| {
                let mut r = http::Response::new(Full::new(Bytes::from(v.to_string())));
                *r.status_mut() = StatusCode::from_u16(status).expect("status");
                r
            };
            if path == "/2015-03-31/functions/f/configuration" {
                if parts.method == Method::PUT {
                    let v: Value = serde_json::from_slice(&body).expect("PUT body JSON");
                    st.vars = v["Environment"]["Variables"]
                        .as_object()
                        .expect("vars")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("str").to_string()))
                        .collect();
                    st.puts.push(v);
                    st.pending_polls = 1;
                    return json_resp(
                        200,
                        json!({"FunctionName":"f","LastUpdateStatus":"InProgress"}),
                    );
                }
                let status = if st.pending_polls > 0 {
                    st.pending_polls -= 1;
                    "InProgress"
                } else {
                    "Successful"
                };
                return json_resp(
                    200,
                    json!({"FunctionName":"f","Environment":{"Variables":st.vars},"LastUpdateStatus":status}),
                );
            }
            if path == "/2015-03-31/functions/f/invocations" {
                st.invokes += 1;
                let is_event = parts
                    .headers
                    .get("x-amz-invocation-type")
                    .is_some_and(|v| v == "Event");
                let mut r = json_resp(
                    if is_event { 202 } else { invoke_status },
                    json!({"ok":true}),
                );
                if fn_error {
                    r.headers_mut().insert(
                        "x-amz-function-error",
                        HeaderValue::from_static("Unhandled"),
                    );
                }
                if parts
                    .headers
                    .get("x-amz-log-type")
                    .is_some_and(|v| v == "Tail")
                {
                    let tail = format!(
                        "REPORT RequestId: {}\tDuration: 1.0 ms\tInit Duration: {}.5 ms\t\n",
                        st.invokes,
                        100 + st.invokes
                    );
                    let enc = base64::engine::general_purpose::STANDARD.encode(tail);
                    r.headers_mut()
                        .insert("x-amz-log-result", HeaderValue::from_str(&enc).expect("hv"));
                }
                return r;
            }
            json_resp(404, json!({"message":"not found"}))
        })
    }

    #[tokio::test]
    async fn cold_mode_against_mock() {
        let state = Arc::new(Mutex::new(MockState::default()));
        state
            .lock()
            .expect("lock")
            .vars
            .insert("KEEP".into(), "me".into());
        let srv = server::LocalServer::start(mock(Arc::clone(&state), 200, false)).expect("server");
        let args = parse(&[
            "--mode",
            "cold",
            "--endpoint",
            &srv.url(),
            "--function",
            "f",
            "--samples",
            "3",
            "--gap-ms",
            "5",
        ]);
        let mut out = Vec::new();
        run_to(args, &mut out).await.expect("cold run");
        let r = &lines(&out)[0];
        assert_eq!(r["mode"], "cold");
        assert_eq!(r["requests"], 3);
        assert_eq!(r["errors"], 0);
        assert_eq!(r["samples"], 3);
        assert_eq!(r["latency_us"]["count"], 3);
        assert_eq!(r["init_duration_ms"]["count"], 3);
        assert_eq!(r["init_duration_ms"]["min"], 101.5);
        assert_eq!(r["init_duration_ms"]["max"], 103.5);

        let st = state.lock().expect("lock");
        assert_eq!(st.invokes, 3);
        // 3 nonce updates, each keeping KEEP, then one restore without it.
        assert_eq!(st.puts.len(), 4);
        let nonces: Vec<&str> = st.puts[..3]
            .iter()
            .map(|p| {
                assert_eq!(p["Environment"]["Variables"]["KEEP"], "me");
                p["Environment"]["Variables"][cold::NONCE_VAR]
                    .as_str()
                    .expect("nonce")
            })
            .collect();
        assert!(nonces[0] != nonces[1] && nonces[1] != nonces[2]);
        assert_eq!(
            st.puts[3],
            json!({"Environment":{"Variables":{"KEEP":"me"}}})
        );
        assert_eq!(st.vars.get("KEEP").map(String::as_str), Some("me"));
        assert!(!st.vars.contains_key(cold::NONCE_VAR));
    }

    #[tokio::test]
    async fn function_errors_fail_loudly_after_printing() {
        let state = Arc::new(Mutex::new(MockState::default()));
        let srv = server::LocalServer::start(mock(Arc::clone(&state), 200, true)).expect("server");
        let args = parse(&[
            "--endpoint",
            &srv.url(),
            "--function",
            "f",
            "--duration-seconds",
            "0.2",
            "--warmup-seconds",
            "0",
        ]);
        let mut out = Vec::new();
        let err = run_to(args, &mut out).await.expect_err("must fail");
        assert!(err.to_string().contains("failed"), "{err}");
        let r = &lines(&out)[0];
        assert!(r["errors"].as_u64().expect("errors") > 0);
        assert_eq!(r["errors"], r["requests"]);
        assert_eq!(r["error_detail"]["function_error"], r["errors"]);
        assert!(r["latency_us"].is_null());
    }

    /// A tiny SQS and Kinesis over the JSON protocols: enough for each queue
    /// and stream mode to run against it, checking what the modes send.
    #[derive(Default)]
    struct FakeAws {
        state: Mutex<FakeState>,
        arrived: tokio::sync::Notify,
    }

    #[derive(Default)]
    struct FakeState {
        queues: BTreeMap<String, std::collections::VecDeque<String>>,
        streams: BTreeMap<String, u32>,
        next: u64,
        deleted: Vec<String>,
        refused: Vec<String>,
        long_polls: u64,
    }

    fn fake_aws(fake: Arc<FakeAws>) -> server::AsyncHandler {
        Arc::new(move |parts, body| {
            let fake = Arc::clone(&fake);
            Box::pin(async move { fake.answer(parts, body).await })
        })
    }

    impl FakeAws {
        async fn answer(
            &self,
            parts: http::request::Parts,
            body: Bytes,
        ) -> http::Response<Full<Bytes>> {
            let reply = |status: u16, v: Value| {
                let mut r = http::Response::new(Full::new(Bytes::from(v.to_string())));
                *r.status_mut() = StatusCode::from_u16(status).expect("status");
                r
            };
            let header = |n: &str| {
                parts
                    .headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let target = header("x-amz-target");
            let (service, content_type) = match target.split_once('.') {
                Some(("AmazonSQS", _)) => ("sqs", "application/x-amz-json-1.0"),
                Some(("Kinesis_20131202", _)) => ("kinesis", "application/x-amz-json-1.1"),
                _ => ("", ""),
            };
            let auth = header("authorization");
            let scope = format!(
                "Credential=test/{}/us-east-1/{service}/aws4_request, ",
                &header("x-amz-date")[..8.min(header("x-amz-date").len())]
            );
            if parts.method != Method::POST
                || parts.uri.path() != "/"
                || header("content-type") != content_type
                || !auth.starts_with("AWS4-HMAC-SHA256 ")
                || !auth.contains(&scope)
            {
                self.state
                    .lock()
                    .expect("lock")
                    .refused
                    .push(format!("{target} {auth}"));
                return reply(400, json!({"__type": "InvalidSignatureException"}));
            }
            let req: Value = serde_json::from_slice(&body).expect("JSON body");
            let op = target.split_once('.').map_or("", |(_, op)| op);
            if op == "ReceiveMessage" {
                return reply(200, self.receive(&req).await);
            }
            let mut st = self.state.lock().expect("lock");
            match op {
                "CreateQueue" => {
                    let url = format!(
                        "http://fake/123456789012/{}",
                        req["QueueName"].as_str().expect("name")
                    );
                    st.queues.insert(url.clone(), Default::default());
                    reply(200, json!({"QueueUrl": url}))
                }
                "SendMessage" | "SendMessageBatch" => {
                    let url = req["QueueUrl"].as_str().expect("url").to_string();
                    let bodies: Vec<(String, String)> = if op == "SendMessage" {
                        vec![("".into(), req["MessageBody"].as_str().expect("body").into())]
                    } else {
                        req["Entries"]
                            .as_array()
                            .expect("entries")
                            .iter()
                            .map(|e| {
                                (
                                    e["Id"].as_str().expect("id").into(),
                                    e["MessageBody"].as_str().expect("body").into(),
                                )
                            })
                            .collect()
                    };
                    st.next += 1;
                    let Some(q) = st.queues.get_mut(&url) else {
                        return reply(400, json!({"__type": "QueueDoesNotExist"}));
                    };
                    let ids: Vec<Value> = bodies
                        .iter()
                        .map(|(id, _)| json!({"Id": id, "MessageId": "m"}))
                        .collect();
                    q.extend(bodies.into_iter().map(|(_, b)| b));
                    self.arrived.notify_waiters();
                    if op == "SendMessage" {
                        reply(200, json!({"MessageId": "m", "MD5OfMessageBody": "x"}))
                    } else {
                        reply(200, json!({"Successful": ids, "Failed": []}))
                    }
                }
                "DeleteMessageBatch" => {
                    let ok: Vec<Value> = req["Entries"]
                        .as_array()
                        .expect("entries")
                        .iter()
                        .map(|e| {
                            assert!(e["ReceiptHandle"]
                                .as_str()
                                .expect("handle")
                                .starts_with("rh-"));
                            json!({"Id": e["Id"]})
                        })
                        .collect();
                    reply(200, json!({"Successful": ok, "Failed": []}))
                }
                "DeleteQueue" => {
                    let url = req["QueueUrl"].as_str().expect("url").to_string();
                    st.queues.remove(&url);
                    st.deleted.push(url);
                    reply(200, json!({}))
                }
                "CreateStream" => {
                    assert_eq!(req["ShardCount"], 2);
                    st.streams
                        .insert(req["StreamName"].as_str().expect("name").into(), 0);
                    reply(200, json!({}))
                }
                "DescribeStreamSummary" => {
                    let polls = st
                        .streams
                        .get_mut(req["StreamName"].as_str().expect("name"))
                        .expect("stream");
                    *polls += 1;
                    let status = if *polls > 1 { "ACTIVE" } else { "CREATING" };
                    reply(
                        200,
                        json!({"StreamDescriptionSummary": {"StreamStatus": status}}),
                    )
                }
                "PutRecords" => {
                    let name = req["StreamName"].as_str().expect("name");
                    assert_eq!(st.streams.get(name), Some(&2), "put before ACTIVE");
                    let records: Vec<Value> = req["Records"]
                        .as_array()
                        .expect("records")
                        .iter()
                        .map(|r| {
                            let data = base64::engine::general_purpose::STANDARD
                                .decode(r["Data"].as_str().expect("data"))
                                .expect("base64");
                            assert_eq!(data.len(), 100);
                            assert!(r["PartitionKey"].as_str().is_some_and(|k| !k.is_empty()));
                            json!({"SequenceNumber": "1", "ShardId": "shardId-000000000000"})
                        })
                        .collect();
                    reply(200, json!({"FailedRecordCount": 0, "Records": records}))
                }
                "DeleteStream" => {
                    let name = req["StreamName"].as_str().expect("name").to_string();
                    st.streams.remove(&name);
                    st.deleted.push(name);
                    reply(200, json!({}))
                }
                _ => reply(400, json!({"__type": "UnknownOperationException"})),
            }
        }
    }

    impl FakeAws {
        /// ReceiveMessage, waiting up to WaitTimeSeconds for a send.
        async fn receive(&self, req: &Value) -> Value {
            let url = req["QueueUrl"].as_str().expect("url");
            let max = req["MaxNumberOfMessages"].as_u64().unwrap_or(1) as usize;
            let wait = req["WaitTimeSeconds"].as_u64().unwrap_or(0);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
            loop {
                let notified = self.arrived.notified();
                {
                    let mut st = self.state.lock().expect("lock");
                    let q = st.queues.get_mut(url).expect("queue");
                    let got: Vec<Value> = (0..max.min(q.len()))
                        .filter_map(|_| q.pop_front())
                        .map(|b| json!({"MessageId": "m", "ReceiptHandle": format!("rh-{b}"), "Body": b, "MD5OfBody": "x"}))
                        .collect();
                    if !got.is_empty() {
                        return json!({"Messages": got});
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return json!({});
                    }
                    st.long_polls += 1;
                }
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
        }
    }

    /// Each queue and stream mode for a fraction of a second against the
    /// fake: a JSON line with items and no errors, and the queue or stream it
    /// created deleted afterwards. No timing is asserted.
    #[tokio::test]
    async fn queue_and_stream_modes_against_a_fake() {
        let fake = Arc::new(FakeAws::default());
        let srv = server::LocalServer::start_async(fake_aws(Arc::clone(&fake))).expect("server");
        let url = srv.url();
        for (mode, extra) in [
            ("sqs-send", vec!["--concurrency", "2"]),
            ("sqs-cycle", vec!["--batch", "3"]),
            ("sqs-longpoll", vec!["--gap-ms", "5"]),
            (
                "kinesis-put",
                vec!["--batch", "7", "--shards", "2", "--payload-bytes", "100"],
            ),
        ] {
            let mut argv = vec![
                "--mode",
                mode,
                "--endpoint",
                &url,
                "--duration-seconds",
                "0.3",
                "--warmup-seconds",
                "0.05",
                "--access-key-id",
                "test",
                "--region",
                "us-east-1",
            ];
            argv.extend(extra);
            let mut out = Vec::new();
            run_to(parse(&argv), &mut out)
                .await
                .unwrap_or_else(|e| panic!("{mode}: {e:#}"));
            let r = &lines(&out)[0];
            assert_eq!(r["mode"], mode);
            assert_eq!(r["errors"], 0, "{mode}: {r}");
            assert!(r["items"].as_u64().expect("items") > 0, "{mode}: {r}");
            assert!(
                r["items_per_s"].as_f64().expect("items/s") > 0.0,
                "{mode}: {r}"
            );
            assert!(r["latency_us"]["p50"].as_u64().is_some(), "{mode}: {r}");
            assert!(r.get("invocation_type").is_none(), "{mode}: {r}");
            let resource = r["resource"].as_str().expect("resource").to_string();
            let st = fake.state.lock().expect("lock");
            assert!(
                st.deleted.contains(&resource),
                "{mode}: {resource} not deleted"
            );
            assert!(st.refused.is_empty(), "{mode}: {:?}", st.refused);
            match mode {
                "sqs-send" => assert_eq!(r["items"], r["requests"]),
                "sqs-cycle" => {
                    assert_eq!(r["batch"], 3);
                    assert_eq!(r["items"].as_u64(), r["requests"].as_u64().map(|n| n * 3));
                }
                "sqs-longpoll" => {
                    assert!(st.long_polls > 0, "the receiver never waited");
                    assert!(r["send_latency_us"]["p50"].as_u64().is_some(), "{r}");
                    assert_eq!(r["ack_to_receive_us"]["count"], r["items"], "{r}");
                    assert_eq!(r["items"], r["requests"]);
                }
                _ => {
                    assert_eq!(r["shards"], 2);
                    assert_eq!(r["items"].as_u64(), r["requests"].as_u64().map(|n| n * 7));
                }
            }
        }
        assert!(fake.state.lock().expect("lock").queues.is_empty());
    }

    #[tokio::test]
    async fn async_mode_expects_202() {
        let state = Arc::new(Mutex::new(MockState::default()));
        let srv = server::LocalServer::start(mock(Arc::clone(&state), 500, false)).expect("server");
        let args = parse(&[
            "--mode",
            "async",
            "--endpoint",
            &srv.url(),
            "--function",
            "f",
            "--duration-seconds",
            "0.2",
            "--warmup-seconds",
            "0",
            "--runs",
            "2",
        ]);
        let mut out = Vec::new();
        run_to(args, &mut out).await.expect("async run");
        let l = lines(&out);
        assert_eq!(l.len(), 2);
        for (i, r) in l.iter().enumerate() {
            assert_eq!(r["mode"], "async");
            assert_eq!(r["run"], i + 1);
            assert_eq!(r["invocation_type"], "Event");
            assert_eq!(r["errors"], 0);
            assert!(r["throughput_per_s"].as_f64().expect("tput") > 0.0);
            // The mock has no /metrics: the figure is null, and present.
            assert!(r["time_to_handler_ms"].is_null());
            assert!(r.get("time_to_handler_ms").is_some());
        }
    }
}
