//! `hako serve`, `hako logs`, `hako runtimes`: wiring the libraries together.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hako_engine::runtimes::RuntimeState;
use hako_engine::{Engine, EngineConfig, Runtimes};
use hako_front_door::{known, FrontDoor, ServeConfig};
use hako_lambda::Lambda;
use hako_model::Region;
use hako_store::{CodeStore, Db, Keyring};

use tokio_util::sync::CancellationToken;

use crate::config::{
    KeysArgs, KeysCommand, QueuesArgs, SchedulesArgs, ServeArgs, StreamsArgs, UrlsArgs,
};
use crate::lock::DataDirLock;
use crate::logsink::DbSink;
use crate::signals::{self, Signals};
use crate::supervisor::{Restart, Supervisor};

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HAKO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .try_init();
}

/// Colour codes in Hako's own log: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            args.worker_threads
                .unwrap_or_else(|| hako_sandbox::cpu::allowed_cpus().len() / 2)
                .max(1),
        )
        .enable_all()
        .thread_name("hako")
        .build()?;
    let result = rt.block_on(serve(args));
    // A blocking task still running (a zip being unpacked) does not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve(args: ServeArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let data_dir = args.data_dir.canonicalize()?;
    // Owner-only: the data dir holds the root credentials, sealed secrets' keys and code.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} owner-only", data_dir.display()))?;
    // One server per data dir; held until the process ends.
    let _lock = DataDirLock::acquire(&data_dir)?;
    let mut signals = Signals::install().context("installing the SIGINT/SIGTERM handlers")?;
    let region = Region {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let keys = Arc::new(
        Keyring::open(&data_dir.join("keys"), region.clone())
            .map_err(|e| anyhow::anyhow!("{}", e.message))?,
    );
    let db = Arc::new(
        Db::open(&data_dir.join("hako.db"), keys).map_err(|e| anyhow::anyhow!("{}", e.message))?,
    );
    let code = Arc::new(
        CodeStore::open(&data_dir.join("code")).map_err(|e| anyhow::anyhow!("{}", e.message))?,
    );
    let host_path = std::env::var("PATH").unwrap_or_default();
    let runtimes = Runtimes::discover(&crate::config::runtimes_dir(
        &data_dir,
        args.runtimes_dir.as_deref(),
    ))
    .await;
    for r in runtimes.list() {
        if let RuntimeState::Unavailable { reason } = &r.state {
            if runtimes.dir.join(&r.name).exists() {
                tracing::warn!(runtime = %r.name, "installed runtime not offered: {reason}");
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // CloudWatch Logs: its own database beside hako.db; it owns function logs. Lines an older
    // Hako kept in hako.db's `logs` table move there first.
    let logs = hako_logs::Logs::open(
        &data_dir.join("logs.db"),
        hako_logs::LogsConfig::new(&args.region, &args.account_id)
            .with_limits(args.log_limits.limits()),
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("opening logs.db: {e}"))?;
    {
        let (db, logs) = (db.clone(), logs.clone());
        tokio::task::spawn_blocking(move || move_legacy_logs(&db, &logs))
            .await
            .context("moving the old function logs")??;
    }
    let (sink, log_thread) = DbSink::start(logs.clone()).context("starting the log writer")?;
    let isolation = crate::backend::choose(&args).await?;
    let engine = Engine::new(
        EngineConfig {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            api_endpoint: format!("http://{addr}"),
            idle_timeout: Duration::from_secs(args.idle_timeout_seconds),
            account_concurrency: args.account_concurrency,
            host_path,
        },
        isolation,
        runtimes,
        sink.clone(),
    );
    // SQS in its own database beside hako.db, with Lambda's account and region.
    let sqs = hako_sqs::Sqs::open(
        &data_dir.join("sqs.db"),
        region.clone(),
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("opening sqs.db: {e}"))?;
    let lambda = Lambda::new(
        db,
        code,
        engine.clone(),
        region,
        Arc::new(hako_model::clock::SystemClock),
    );
    // Reserved concurrency, then stored provisioned concurrency (started in the background).
    lambda
        .reconcile()
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    // Kinesis: its own database beside hako.db.
    let kinesis = hako_kinesis::Kinesis::open(
        &data_dir.join("kinesis.db"),
        hako_kinesis::KinesisConfig {
            enforce_shard_write_rates: args.kinesis_shard_write_limits,
            ..hako_kinesis::KinesisConfig::new(&args.region, &args.account_id)
        },
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("opening kinesis.db: {e}"))?;
    // IAM (roles and policies; a global service): its own database beside hako.db.
    let iam = hako_iam::Iam::open(
        &data_dir.join("iam.db"),
        &args.account_id,
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("opening iam.db: {e}"))?;
    // EventBridge Scheduler: its own database beside hako.db.
    let scheduler = hako_scheduler::Scheduler::open(
        &data_dir.join("scheduler.db"),
        hako_scheduler::SchedulerConfig::new(&args.region, &args.account_id),
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("opening scheduler.db: {e}"))?;
    // Event source mappings: Lambda asks SQS and Kinesis whether a mapped queue or stream
    // exists, or the configured sources outside Hako whether they serve it.
    let external_sources = match &args.external_sources {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            hako_events::esm::ExternalSources::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => hako_events::esm::ExternalSources::default(),
    };
    {
        let k = kinesis.clone();
        lambda.set_event_sources(Arc::new(hako_events::esm::Sources::new(
            sqs.clone(),
            move |arn| k.shard_ids(arn).is_ok(),
            external_sources.clone(),
        )));
    }
    let esm_metrics = Arc::new(hako_events::esm::EsmMetrics::new());
    // The stream pollers' shard checkpoints, in their own database beside hako.db.
    let stream_store = Arc::new(
        hako_events::streams::StreamStore::open(&data_dir.join("esm.db"))
            .map_err(|e| anyhow::anyhow!("opening esm.db: {e}"))?,
    );
    let mut tasks = Supervisor::new();
    {
        let kinesis = kinesis.clone();
        // Retention: records older than their stream's retention are deleted (reads skip them
        // already); deleted streams are forgotten.
        tasks.spawn("kinesis-housekeeping", Restart::OnPanic, move |stop| {
            let kinesis = kinesis.clone();
            async move {
                let mut tick = tokio::time::interval(KINESIS_HOUSEKEEPING);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let k = kinesis.clone();
                    match tokio::task::spawn_blocking(move || k.housekeep()).await {
                        Ok(Ok(n)) if n > 0 => tracing::debug!(records = n, "kinesis retention"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "kinesis housekeeping"),
                        _ => {}
                    }
                }
            }
        });
    }
    {
        let logs = logs.clone();
        // Retention: events older than their group's retention are deleted; the events of
        // deleted groups and streams are purged.
        tasks.spawn("logs-housekeeping", Restart::OnPanic, move |stop| {
            let logs = logs.clone();
            async move {
                let mut tick = tokio::time::interval(LOGS_HOUSEKEEPING);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let l = logs.clone();
                    match tokio::task::spawn_blocking(move || l.housekeep()).await {
                        Ok(Ok(n)) if n > 0 => tracing::debug!(events = n, "logs retention"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "logs housekeeping"),
                        _ => {}
                    }
                }
            }
        });
    }
    {
        let lambda = lambda.clone();
        let cfg = hako_events::AsyncQueueConfig {
            delay_scale: args.async_delay_scale,
            max_running: args.account_concurrency.max(1),
            sqs: Some(sqs.clone()),
        };
        // The queue restarts its own dispatcher when it panics, and stops when the token is
        // cancelled or the engine closes (events it was running finish within the grace or stay
        // queued for the next start).
        tasks.spawn("async-queue", Restart::Never, move |stop| {
            let queue = hako_events::start_async_queue(lambda.clone(), cfg.clone(), stop);
            async move {
                let _ = queue.await;
            }
        });
    }
    {
        // Schedules: sleeps until the next one is due or one changes; a firing taken is in
        // scheduler.db until delivered, so a restart neither loses nor repeats it.
        let scheduler = scheduler.clone();
        let targets = hako_events::schedules::ScheduleTargets {
            lambda: lambda.clone(),
            sqs: Some(sqs.clone()),
        };
        tasks.spawn("schedules", Restart::OnPanic, move |stop| {
            hako_events::schedules::run(scheduler.clone(), targets.clone(), stop)
        });
    }
    {
        let lambda = lambda.clone();
        let cfg = hako_events::esm::EsmConfig {
            sqs: sqs.clone(),
            metrics: esm_metrics.clone(),
            streams: Some(hako_events::esm::StreamPollers {
                kinesis: kinesis.clone(),
                store: stream_store.clone(),
                config: hako_events::streams::StreamConfig {
                    record_age_scale: args.async_delay_scale,
                    ..Default::default()
                },
            }),
            external: external_sources.clone(),
        };
        // One poller per enabled mapping, each under a child of this token.
        tasks.spawn("event-source-mappings", Restart::OnPanic, move |stop| {
            hako_events::esm::supervise(lambda.clone(), cfg.clone(), stop)
        });
    }
    {
        let engine = engine.clone();
        tasks.spawn("idle-reaper", Restart::OnPanic, move |stop| {
            let engine = engine.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let n = engine.reap_idle();
                    if n > 0 {
                        tracing::debug!(sandboxes = n, "reaped idle sandboxes");
                    }
                }
            }
        });
    }
    // The web console's plots: the engine's metrics sampled into an hour's ring.
    let series = hako_console::Series::new(Duration::from_millis(args.console_sample_ms));
    {
        let (engine, series) = (engine.clone(), series.clone());
        tasks.spawn("console-metrics", Restart::OnPanic, move |stop| {
            let engine = engine.clone();
            series.clone().run(
                move || engine.render_metrics(),
                || {
                    use hako_model::clock::Clock;
                    hako_model::clock::SystemClock.now_ms()
                },
                stop,
            )
        });
    }
    // One front door for every protocol: Lambda, SQS in both its protocols, Kinesis, Scheduler,
    // CloudWatch Logs. Sandboxes reach
    // the same door on the listener they open in their own network.
    // Authentication: the root credentials, the sandboxes' sessions, and SigV4 at the door.
    let (root_keys, root_source) = crate::credentials::root(
        &data_dir,
        args.access_key_id.as_deref(),
        args.secret_access_key.as_deref(),
        true,
    )?;
    let authority = Arc::new(hako_auth::Authority::new(&args.account_id));
    engine.set_credentials(authority.clone());
    let auth = match args.auth {
        crate::config::AuthChoice::Sigv4 => {
            let lambda = lambda.clone();
            let exists: hako_auth::FunctionExists = Arc::new(move |arn: &str| {
                let name = arn.rsplit(':').next().unwrap_or(arn);
                lambda.resolve(name, "$LATEST").is_ok()
            });
            hako_front_door::Auth::SigV4 {
                verifier: Arc::new(hako_auth::Verifier::new(
                    &args.account_id,
                    &root_keys,
                    authority,
                    exists,
                )),
                max_body_bytes: hako_model::limits::CODE_REQUEST_MAX_BYTES + 1024 * 1024,
            }
        }
        crate::config::AuthChoice::None => {
            let warning = "AUTHENTICATION IS OFF (--auth none / HAKO_AUTH=none): requests are not \
                 checked; anyone who can reach this port can read every function's secrets, \
                 replace its code or delete it. Use it only for throwaway local work.";
            tracing::warn!("{warning}");
            eprintln!("WARNING: {warning}");
            hako_front_door::Auth::None(hako_auth::Principal::root(
                &args.account_id,
                &root_keys.access_key_id,
            ))
        }
    };
    let mut lambda_api = hako_control_api::router(lambda.clone());
    if args.iam_enforce {
        lambda_api = hako_control_api::authz::enforce(
            lambda_api,
            hako_control_api::authz::Authorizer {
                lambda: lambda.clone(),
                iam: iam.clone(),
            },
        );
    }
    let urls = hako_function_urls::router(lambda.clone());
    let sqs_api = hako_sqs::api::router(sqs.clone());
    let door = FrontDoor::builder()
        .authenticate(auth)
        // Function URLs first, by Host (or the path form): no AWS API call.
        .claim(Arc::new(hako_function_urls::claims), urls)
        .path(
            "/metrics",
            metrics_router(
                engine.clone(),
                sqs.clone(),
                kinesis.clone(),
                scheduler.clone(),
                logs.clone(),
                esm_metrics.clone(),
            ),
        )
        .path(
            hako_console::PREFIX,
            hako_console::router(hako_console::Console {
                lambda: lambda.clone(),
                engine: engine.clone(),
                logs: logs.clone(),
                sqs: sqs.clone(),
                kinesis: kinesis.clone(),
                scheduler: scheduler.clone(),
                series,
            }),
        )
        .path("/_hako/", lambda_api.clone())
        .service(&known::LAMBDA, lambda_api)
        .service(&known::SQS, sqs_api.clone())
        .service_in(&known::SQS, hako_front_door::Protocol::Query, sqs_api)
        .service(&known::KINESIS, hako_kinesis::api::router(kinesis))
        .service(&known::SCHEDULER, hako_scheduler::api::router(scheduler))
        .service(&known::LOGS, hako_logs::api::router(logs))
        .service(&known::STS, hako_sts::router())
        .service(&known::IAM, hako_iam::api::router(iam))
        .build();
    if let Some(warmer) = crate::warmer::start(
        engine.clone(),
        door.clone(),
        Duration::from_millis(args.cpu_warmer_ms),
    ) {
        let mut warmer = Some(warmer);
        tasks.spawn("cpu-warmer", Restart::Never, move |stop| {
            let warmer = warmer.take();
            async move {
                stop.cancelled().await;
                // Dropping it joins its threads (each checks its stop flag every few ms).
                let _ = tokio::task::spawn_blocking(move || drop(warmer)).await;
            }
        });
    }

    let http = ServeConfig {
        header_read_timeout: Duration::from_secs(args.http_header_timeout_seconds),
        body_read_timeout: Duration::from_secs(args.http_body_timeout_seconds),
    };
    let sandbox_door = door.clone();
    engine.set_api_acceptor(hako_engine::ApiAcceptor(Arc::new(
        move |l: std::net::TcpListener| {
            let door = sandbox_door.clone();
            tokio::spawn(async move {
                if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                    hako_front_door::serve(l, door, http, CancellationToken::new()).await;
                }
            })
            .abort_handle()
        },
    )));

    let stop_accepting = CancellationToken::new();
    let server = tokio::spawn(hako_front_door::serve(
        listener,
        door,
        http,
        stop_accepting.clone(),
    ));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "hako listening on http://{addr}")?;
        write!(
            out,
            "{}",
            crate::credentials::banner(
                &root_keys,
                root_source,
                &args.region,
                &format!("http://{addr}")
            )
        )?;
        out.flush()?;
    }
    let url_count = lambda.all_function_urls().map(|u| u.len()).unwrap_or(0);
    tracing::info!("web console at http://{addr}/_hako/console/ (read-only)");
    tracing::info!(
        urls = url_count,
        "function URLs served here: Host <url-id>.lambda-url.{}.on.aws (or .localhost) on http://{addr}/, or http://{addr}/_hako/urls/<url-id>/ (`hako urls` lists them)",
        args.region
    );
    tracing::info!(%addr, data_dir = %data_dir.display(), "hako serving");

    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let mut server = server;
    let first = tokio::select! {
        s = signals.next() => s,
        r = &mut server => {
            r.context("the API server task")?;
            anyhow::bail!("the API server stopped on its own");
        }
    };
    // From here: no new connection, no new invocation; running ones have the grace.
    stop_accepting.cancel();
    // Long polls end now, empty, as the connections close.
    sqs.shutdown();
    engine.close();
    tasks.cancel();
    say(&signals::first_signal_message(
        first,
        engine.inflight(),
        args.shutdown_grace_seconds,
    ));
    let deadline = tokio::time::Instant::now() + grace;
    let forced = tokio::select! {
        _ = async {
            while engine.inflight() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } => None,
        s = signals.next() => Some(s),
    };
    match forced {
        Some(s) => say(&format!(
            "{s}: stopping now: ending {} and every sandbox",
            signals::running_invocations(engine.inflight())
        )),
        None if engine.inflight() > 0 => say(&format!(
            "the grace of {} s is over: ending {}",
            args.shutdown_grace_seconds,
            signals::running_invocations(engine.inflight())
        )),
        None => {}
    }
    // Every sandbox is killed (an invocation still running ends with the runtime's exit error,
    // which its caller receives), then what the backend keeps is released.
    engine.shutdown(Duration::ZERO).await;
    // The answers of the invocations just ended go out and connections close: briefly after a
    // second signal (it asked to stop now), longer after the grace.
    let drain = if forced.is_some() {
        DRAIN_AFTER_SECOND_SIGNAL
    } else {
        DRAIN_AFTER_SHUTDOWN
    };
    let _ = tokio::time::timeout(drain, &mut server).await;
    server.abort();
    let late = tasks.join(TASKS_STOP_WITHIN).await;
    if !late.is_empty() {
        tracing::warn!(tasks = ?late, "tasks aborted at shutdown");
    }
    drop(engine);
    sink.stop();
    let _ = log_thread.join();
    say("stopped");
    Ok(())
}

/// How long answers of invocations ended by the shutdown may take to reach their callers.
const DRAIN_AFTER_SHUTDOWN: Duration = Duration::from_secs(2);
/// The same after a second signal.
const DRAIN_AFTER_SECOND_SIGNAL: Duration = Duration::from_millis(500);
/// How long the long-lived tasks may take to stop once told.
const TASKS_STOP_WITHIN: Duration = Duration::from_secs(2);
/// How often Kinesis deletes records past their retention.
const KINESIS_HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How often CloudWatch Logs deletes events past their group's retention.
const LOGS_HOUSEKEEPING: Duration = Duration::from_secs(60);

/// Lines moved from hako.db's old `logs` table in one transaction of `logs.db`.
const LEGACY_MOVE_CHUNK: usize = 10_000;

/// Moves the function logs an older Hako kept in hako.db's `logs` table into `logs.db`, once:
/// each chunk is imported with its watermark in one transaction of `logs.db`, then deleted from
/// hako.db, so a move interrupted anywhere resumes without losing or doubling a line.
fn move_legacy_logs(db: &Db, logs: &hako_logs::Logs) -> Result<()> {
    let mut after = logs
        .legacy_watermark()
        .map_err(|e| anyhow::anyhow!("reading logs.db: {e}"))?;
    let mut moved = 0usize;
    loop {
        let rows = db
            .legacy_logs(None, after, LEGACY_MOVE_CHUNK)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let Some((last, _)) = rows.last() else {
            break;
        };
        let last = *last;
        if moved == 0 {
            say("moving the function logs of hako.db into logs.db (once)");
        }
        let lines: Vec<(i64, hako_logs::IngestLine)> = rows
            .into_iter()
            .map(|(id, l)| {
                (
                    id,
                    hako_logs::IngestLine {
                        group: l.log_group.into(),
                        stream: l.log_stream.into(),
                        timestamp_ms: l.timestamp_ms,
                        message: l.message,
                        platform: false,
                    },
                )
            })
            .collect();
        moved += lines.len();
        logs.import_legacy(&lines)
            .map_err(|e| anyhow::anyhow!("writing logs.db: {e}"))?;
        after = last;
    }
    // Lines imported before a crash, and those just imported.
    if after > 0 {
        db.delete_legacy_logs(after)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    if moved > 0 {
        say(&format!("moved {moved} function log lines into logs.db"));
    }
    Ok(())
}

/// A line for the person who runs Hako (stderr, beside the log).
fn say(line: &str) {
    eprintln!("hako: {line}");
}

/// `GET /metrics`: the engine's metrics for Prometheus (OpenMetrics text format).
fn metrics_router(
    engine: Arc<Engine>,
    sqs: hako_sqs::Sqs,
    kinesis: hako_kinesis::Kinesis,
    scheduler: hako_scheduler::Scheduler,
    logs: hako_logs::Logs,
    esm: Arc<hako_events::esm::EsmMetrics>,
) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let engine = engine.clone();
            let sqs = sqs.clone();
            let kinesis = kinesis.clone();
            let scheduler = scheduler.clone();
            let logs = logs.clone();
            let esm = esm.clone();
            async move {
                // One exposition: each part's text without its `# EOF`, then one at the end.
                let mut text = String::new();
                for part in [
                    engine.render_metrics(),
                    sqs.render_metrics(),
                    kinesis.render_metrics(),
                    scheduler.render_metrics(),
                    logs.render_metrics(),
                    esm.render(),
                ] {
                    text.push_str(part.trim_end().trim_end_matches("# EOF").trim_end());
                    text.push('\n');
                }
                text.push_str("# EOF\n");
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    )
}

/// `hako urls`: every function URL of the data dir, read from `hako.db` beside a running server.
pub(crate) fn urls(args: UrlsArgs) -> Result<()> {
    let path = args.data_dir.join("hako.db");
    if !path.exists() {
        anyhow::bail!("no database at {}: is --data-dir right?", path.display());
    }
    let db = hako_store::Db::open_read_only(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let urls = db
        .list_function_urls(None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    if urls.is_empty() {
        writeln!(out, "no function URLs")?;
        return Ok(());
    }
    let width = |f: &dyn Fn(&hako_model::function_url::FunctionUrlRecord) -> usize, min: usize| {
        urls.iter().map(f).max().unwrap_or(min).max(min)
    };
    let fw = width(&|u| u.function_name.len(), 8);
    let qw = width(&|u| u.qualifier.len(), 9);
    writeln!(
        out,
        "{:<fw$}  {:<qw$}  {:<7}  {:<15}  {:<62}  PATH FORM",
        "FUNCTION", "QUALIFIER", "AUTH", "MODE", "URL"
    )?;
    for u in &urls {
        let auth = match u.auth_type {
            hako_model::function_url::AuthType::None => "NONE",
            hako_model::function_url::AuthType::AwsIam => "AWS_IAM",
        };
        let mode = match u.mode() {
            hako_model::function_url::InvokeMode::Buffered => "BUFFERED",
            hako_model::function_url::InvokeMode::ResponseStream => "RESPONSE_STREAM",
        };
        writeln!(
            out,
            "{:<fw$}  {:<qw$}  {:<7}  {:<15}  {:<62}  /_hako/urls/{}/",
            u.function_name,
            u.qualifier,
            auth,
            mode,
            hako_model::function_url::function_url(&u.url_id, &args.region),
            u.url_id
        )?;
    }
    Ok(())
}

/// `hako queues`: every SQS queue with its counts, read from `sqs.db` beside a running server.
pub(crate) fn queues(args: QueuesArgs) -> Result<()> {
    let path = args.data_dir.join("sqs.db");
    if !path.exists() {
        anyhow::bail!(
            "no SQS database at {}: is --data-dir right (or no queue made yet)?",
            path.display()
        );
    }
    use hako_model::clock::Clock;
    let now = hako_model::clock::SystemClock.now_ms();
    let stats = hako_sqs::read_stats(&path, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    if stats.is_empty() {
        writeln!(out, "no queues")?;
        return Ok(());
    }
    let width = stats.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:<width$}  {:<8}  {:>9}  {:>9}  {:>9}  {:>10}",
        "NAME", "TYPE", "VISIBLE", "IN-FLIGHT", "DELAYED", "OLDEST (s)"
    )?;
    for s in stats {
        writeln!(
            out,
            "{:<width$}  {:<8}  {:>9}  {:>9}  {:>9}  {:>10}",
            s.name,
            if s.fifo { "fifo" } else { "standard" },
            s.visible,
            s.in_flight,
            s.delayed,
            s.oldest_age_s
        )?;
    }
    Ok(())
}

/// The path of a service's database `file` in `data_dir`; `None` when a server of that data dir
/// never made it, an error when `data_dir` is no Hako data directory.
fn service_db(data_dir: &std::path::Path, file: &str) -> Result<Option<std::path::PathBuf>> {
    let path = data_dir.join(file);
    if path.exists() {
        return Ok(Some(path));
    }
    if !data_dir.join("hako.db").exists() {
        anyhow::bail!(
            "no Hako data directory at {}: is --data-dir right?",
            data_dir.display()
        );
    }
    Ok(None)
}

/// `hako streams`: every Kinesis stream of the data dir, read beside a running server.
pub(crate) fn streams(args: StreamsArgs) -> Result<()> {
    // A data dir whose server never started Kinesis: no stream.
    let Some(path) = service_db(&args.data_dir, "kinesis.db")? else {
        return Ok(());
    };
    // Region and account only name ARNs, which this listing does not print.
    let kinesis = hako_kinesis::Kinesis::open_read_only(
        &path,
        hako_kinesis::KinesisConfig::new("", ""),
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let streams = kinesis
        .stream_counts()
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &streams {
            let line = serde_json::json!({
                "name": s.name, "status": s.status, "mode": s.mode, "shards": s.shards,
                "retention_hours": s.retention_hours, "records": s.records, "bytes": s.bytes,
                "created": hako_model::clock::iso8601_ms(s.created_ms),
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<32} {:<9} {:<12} {:>6} {:>10} {:>10} {:>12}",
        "STREAM", "STATUS", "MODE", "SHARDS", "RETENTION", "RECORDS", "BYTES"
    )?;
    for s in &streams {
        writeln!(
            out,
            "{:<32} {:<9} {:<12} {:>6} {:>9}h {:>10} {:>12}",
            s.name, s.status, s.mode, s.shards, s.retention_hours, s.records, s.bytes
        )?;
    }
    Ok(())
}

/// `hako schedules`: every schedule of the data dir with its next due time and the firings not
/// yet delivered, read from `scheduler.db` beside a running server.
pub(crate) fn schedules(args: SchedulesArgs) -> Result<()> {
    // A data dir whose server never started the Scheduler: no schedule.
    let Some(path) = service_db(&args.data_dir, "scheduler.db")? else {
        return Ok(());
    };
    // Region and account only name ARNs, which this listing does not print.
    let scheduler = hako_scheduler::Scheduler::open_read_only(
        &path,
        hako_scheduler::SchedulerConfig::new("", ""),
        Arc::new(hako_model::clock::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let schedules = scheduler
        .schedule_counts()
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let next = |ms: Option<i64>| ms.map_or_else(|| "-".to_string(), hako_model::clock::iso8601_ms);
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &schedules {
            let line = serde_json::json!({
                "group": s.group, "name": s.name, "state": s.state,
                "expression": s.expression, "target": s.target_arn,
                "next": s.next_ms.map(hako_model::clock::iso8601_ms), "pending": s.pending,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<24} {:<9} {:<32} {:<24} {:>7}  TARGET",
        "GROUP", "SCHEDULE", "STATE", "EXPRESSION", "NEXT", "PENDING"
    )?;
    for s in &schedules {
        writeln!(
            out,
            "{:<16} {:<24} {:<9} {:<32} {:<24} {:>7}  {}",
            s.group,
            s.name,
            s.state,
            s.expression,
            next(s.next_ms),
            s.pending,
            s.target_arn
        )?;
    }
    Ok(())
}

/// `hako keys create|list`: the customer keys a function may name in `KMSKeyArn`.
pub(crate) fn keys(args: KeysArgs) -> Result<()> {
    let region = Region {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let keys = Keyring::open(&args.data_dir.join("keys"), region)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    match args.command {
        KeysCommand::Create => {
            let arn = keys
                .create_customer_key()
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{arn}");
        }
        KeysCommand::List => {
            for arn in keys
                .customer_key_arns()
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
            {
                println!("{arn}");
            }
        }
    }
    Ok(())
}

pub(crate) fn runtimes(args: crate::config::RuntimesArgs) -> Result<()> {
    use crate::config::RuntimesCommand;
    let dir = args.dir();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match &args.command {
        None | Some(RuntimesCommand::List) => {
            let found = rt.block_on(Runtimes::discover(&dir));
            println!("runtimes directory: {}", dir.display());
            for r in found.list() {
                let (state, detail) = match r.state {
                    RuntimeState::Provided => (
                        "built in".to_string(),
                        "the package's or a layer's bootstrap".to_string(),
                    ),
                    RuntimeState::Installed(m) => (
                        format!("installed {}", m.version),
                        format!("{}; {}", m.interpreter, m.sdk),
                    ),
                    RuntimeState::Installable { source } => (
                        "not installed".to_string(),
                        format!("`hako runtimes install {}`: {source}", r.name),
                    ),
                    RuntimeState::Unavailable { reason } => ("unavailable".to_string(), reason),
                };
                println!("{:<16} {:<18} {}", r.name, state, detail);
            }
            Ok(())
        }
        Some(RuntimesCommand::Install { names }) => {
            let mut failed = Vec::new();
            for name in names {
                let mut say = |s: &str| eprintln!("{s}");
                match rt.block_on(hako_engine::runtimes::install::install(
                    &dir, name, &mut say,
                )) {
                    Ok(m) => println!(
                        "{name}: installed ({} {}; {}) in {}",
                        m.interpreter,
                        m.version,
                        m.sdk,
                        dir.join(name).display()
                    ),
                    Err(e) => {
                        eprintln!("{name}: {e}");
                        failed.push(name.as_str());
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                anyhow::bail!("could not install {}", failed.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}
