//! Hako's web console: a read-only view for a person, served by `hako serve` under
//! `/_hako/console/` on the one listener. The page and its scripts are embedded in the binary
//! (`assets/`, with uPlot for the plots: no CDN, it works offline); its JSON API (`api/...`) is
//! parse -> call one method of an application layer -> shape, like every binding:
//!
//! | path | method called | shape |
//! |---|---|---|
//! | `api/functions` | `Lambda::list_functions` | name, runtime, memory, ... (environment: names only) |
//! | `api/functions/{name}` | `Lambda::get_function_configuration` | the configuration, environment values masked |
//! | `api/functions/{name}/versions` | `Lambda::list_versions` | versions |
//! | `api/functions/{name}/aliases` | `Lambda::list_aliases` | aliases |
//! | `api/invocations?function=` | `Engine::recent_invocations` | the last invocations |
//! | `api/metrics?function=` | [`Series::plot`] | the last hour's samples |
//! | `api/logs?group=&after=` | `Logs::tail` | log events after an id (the live log polls) |
//! | `api/queues`, `api/streams`, `api/mappings`, `api/schedules` | `Sqs::stats`, `Kinesis::stream_counts`, `Lambda::list_event_source_mappings`, `Scheduler::schedule_counts` | lists |
//!
//! The console is not authenticated yet: it never shows an environment variable's value (only
//! its name), and it changes nothing.

pub mod series;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hako_engine::Engine;
use hako_lambda::{Lambda, Paging};
use serde::Deserialize;
use serde_json::{json, Value};

pub use series::Series;

/// Where the console is served.
pub const PREFIX: &str = "/_hako/console";

/// What the console reads.
#[derive(Clone)]
pub struct Console {
    pub lambda: Arc<Lambda>,
    pub engine: Arc<Engine>,
    pub logs: hako_logs::Logs,
    pub sqs: hako_sqs::Sqs,
    pub kinesis: hako_kinesis::Kinesis,
    pub scheduler: hako_scheduler::Scheduler,
    pub series: Series,
}

/// The embedded files: (path under `assets/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/console.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/uPlot.LICENSE"),
    ),
];

const INDEX: &[u8] = include_bytes!("../assets/index.html");

/// The console's router, for the front door's `path(PREFIX, ...)`.
pub fn router(c: Console) -> Router {
    Router::new()
        .route(
            PREFIX,
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/_hako/console/")],
                )
            }),
        )
        .route(&format!("{PREFIX}/"), get(|| async { page() }))
        .route(&format!("{PREFIX}/assets/{{file}}"), get(asset))
        .route(&format!("{PREFIX}/api/functions"), get(functions))
        .route(&format!("{PREFIX}/api/functions/{{name}}"), get(function))
        .route(
            &format!("{PREFIX}/api/functions/{{name}}/versions"),
            get(versions),
        )
        .route(
            &format!("{PREFIX}/api/functions/{{name}}/aliases"),
            get(aliases),
        )
        .route(&format!("{PREFIX}/api/invocations"), get(invocations))
        .route(&format!("{PREFIX}/api/metrics"), get(metrics))
        .route(&format!("{PREFIX}/api/logs"), get(logs))
        .route(&format!("{PREFIX}/api/queues"), get(queues))
        .route(&format!("{PREFIX}/api/streams"), get(streams))
        .route(&format!("{PREFIX}/api/mappings"), get(mappings))
        .route(&format!("{PREFIX}/api/schedules"), get(schedules))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such console page") })
        .with_state(c)
        .layer(axum::middleware::map_response(security_headers))
}

/// The page and its scripts come from here only, and nothing frames it.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, ctype, bytes)) => ([(header::CONTENT_TYPE, *ctype)], *bytes).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// An error of the console's API: `{"error": MESSAGE}`, its kind in `x-amzn-ErrorType` (which
/// also tells the front door the answer is shaped already).
fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status {
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::BAD_REQUEST => "BadRequest",
        _ => "InternalError",
    };
    (
        status,
        [("x-amzn-errortype", kind)],
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

/// Runs `f` (SQLite, caches) on the blocking pool and answers its JSON, or its error.
async fn blocking<F>(f: F) -> Response
where
    F: FnOnce() -> Result<Value, (StatusCode, String)> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err((status, message))) => error(status, &message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn lambda_error(e: hako_model::Error) -> (StatusCode, String) {
    let status = match e.kind {
        hako_model::ErrorKind::ResourceNotFound => StatusCode::NOT_FOUND,
        hako_model::ErrorKind::InvalidParameterValue | hako_model::ErrorKind::Validation => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, e.message)
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A function configuration as the console shows it: the environment's variable names, never
/// their values.
fn masked(config: &hako_model::wire::FunctionConfiguration) -> Value {
    let mut v = serde_json::to_value(config).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        let names: Vec<String> = config
            .environment
            .as_ref()
            .map(|e| e.variables.keys().cloned().collect())
            .unwrap_or_default();
        obj.remove("Environment");
        obj.insert("EnvironmentVariableNames".into(), json!(names));
    }
    v
}

/// Every page of a Lambda listing (its marker followed until the last).
fn all_pages<T>(
    mut list: impl FnMut(&Paging) -> Result<(Vec<T>, Option<String>), hako_model::Error>,
) -> Result<Vec<T>, hako_model::Error> {
    let mut out = Vec::new();
    let mut paging = Paging::default();
    loop {
        let (items, next) = list(&paging)?;
        out.extend(items);
        match next {
            Some(m) => paging.marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn functions(State(c): State<Console>) -> Response {
    blocking(move || {
        let all = all_pages(|p| {
            c.lambda
                .list_functions(false, p)
                .map(|r| (r.functions, r.next_marker))
        })
        .map_err(lambda_error)?;
        Ok(json!(all.iter().map(masked).collect::<Vec<_>>()))
    })
    .await
}

async fn function(State(c): State<Console>, Path(name): Path<String>) -> Response {
    blocking(move || {
        let config = c
            .lambda
            .get_function_configuration(&name, None)
            .map_err(lambda_error)?;
        Ok(masked(&config))
    })
    .await
}

async fn versions(State(c): State<Console>, Path(name): Path<String>) -> Response {
    blocking(move || {
        let all = all_pages(|p| {
            c.lambda
                .list_versions(&name, p)
                .map(|r| (r.versions, r.next_marker))
        })
        .map_err(lambda_error)?;
        Ok(json!(all.iter().map(masked).collect::<Vec<_>>()))
    })
    .await
}

async fn aliases(State(c): State<Console>, Path(name): Path<String>) -> Response {
    blocking(move || {
        let all = all_pages(|p| {
            c.lambda
                .list_aliases(&name, None, p)
                .map(|r| (r.aliases, r.next_marker))
        })
        .map_err(lambda_error)?;
        serde_json::to_value(all).map_err(internal)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct FunctionQuery {
    function: Option<String>,
}

async fn invocations(State(c): State<Console>, Query(q): Query<FunctionQuery>) -> Response {
    let list: Vec<Value> = c
        .engine
        .recent_invocations()
        .into_iter()
        .filter(|r| q.function.as_ref().is_none_or(|f| *f == r.function))
        .map(|r| {
            json!({
                "endedMs": r.ended_ms,
                "function": r.function,
                "version": r.version,
                "requestId": r.request_id,
                "durationMs": r.duration.as_secs_f64() * 1000.0,
                "initDurationMs": r.init_duration.map(|d| d.as_secs_f64() * 1000.0),
                "cold": r.init_duration.is_some(),
                "status": r.error.as_deref().unwrap_or("Success"),
            })
        })
        .collect();
    axum::Json(list).into_response()
}

async fn metrics(State(c): State<Console>, Query(q): Query<FunctionQuery>) -> Response {
    axum::Json(c.series.plot(q.function.as_deref())).into_response()
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    group: String,
    /// The id of the last event the page has (0: the newest ones).
    #[serde(default)]
    after: i64,
}

/// Events a poll returns at most.
const LOG_BATCH: usize = 500;

async fn logs(State(c): State<Console>, Query(q): Query<LogsQuery>) -> Response {
    blocking(move || {
        let events = c
            .logs
            .tail(&q.group, q.after, LOG_BATCH)
            .map_err(internal)?;
        Ok(json!(events
            .iter()
            .map(|e| json!({
                "id": e.id,
                "timestamp": e.timestamp_ms,
                "stream": e.stream,
                "message": e.message,
            }))
            .collect::<Vec<_>>()))
    })
    .await
}

async fn queues(State(c): State<Console>) -> Response {
    blocking(move || {
        Ok(json!(c
            .sqs
            .stats()
            .iter()
            .map(|(s, n)| json!({
                "name": s.name, "fifo": s.fifo, "visible": s.visible,
                "inFlight": s.in_flight, "delayed": s.delayed, "oldestAgeSeconds": s.oldest_age_s,
                "sent": n.sent, "received": n.received, "deleted": n.deleted,
            }))
            .collect::<Vec<_>>()))
    })
    .await
}

async fn streams(State(c): State<Console>) -> Response {
    blocking(move || {
        let streams = c.kinesis.stream_counts().map_err(internal)?;
        Ok(json!(streams
            .iter()
            .map(|s| json!({
                "name": s.name, "status": s.status, "mode": s.mode, "shards": s.shards,
                "retentionHours": s.retention_hours, "records": s.records, "bytes": s.bytes,
            }))
            .collect::<Vec<_>>()))
    })
    .await
}

async fn mappings(State(c): State<Console>) -> Response {
    blocking(move || {
        let all = all_pages(|p| {
            c.lambda
                .list_event_source_mappings(None, None, p)
                .map(|r| (r.event_source_mappings, r.next_marker))
        })
        .map_err(lambda_error)?;
        serde_json::to_value(all).map_err(internal)
    })
    .await
}

async fn schedules(State(c): State<Console>) -> Response {
    blocking(move || {
        let all = c.scheduler.schedule_counts().map_err(internal)?;
        Ok(json!(all
            .iter()
            .map(|s| json!({
                "group": s.group, "name": s.name, "state": s.state,
                "expression": s.expression, "target": s.target_arn,
                "nextMs": s.next_ms, "pending": s.pending,
            }))
            .collect::<Vec<_>>()))
    })
    .await
}
