//! The binding of EventBridge Scheduler's REST-JSON protocol (botocore's
//! `scheduler/2021-06-30`: operations by method and path, JSON bodies, `"protocol":
//! "rest-json"`). Each handler parses the path, query and body, calls one method of
//! [`Scheduler`] on the blocking pool (SQLite), and shapes the answer. Errors take their one
//! shape here: the code in `x-amzn-ErrorType`, `{"Message": ...}` (the member botocore's error
//! shapes name) and the shape's status.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::wire::{
    CreateScheduleGroupInput, Empty, ListScheduleGroupsInput, ListSchedulesInput, ScheduleInput,
    TagResourceInput,
};
use crate::Scheduler;

/// The router the front door is given for the Scheduler.
pub fn router(s: Scheduler) -> Router {
    Router::new()
        .route("/schedules", get(list_schedules))
        .route(
            "/schedules/{name}",
            get(get_schedule)
                .post(create_schedule)
                .put(update_schedule)
                .delete(delete_schedule),
        )
        .route("/schedule-groups", get(list_groups))
        .route(
            "/schedule-groups/{name}",
            get(get_group).post(create_group).delete(delete_group),
        )
        .route(
            "/tags/{arn}",
            get(list_tags).post(tag_resource).delete(untag_resource),
        )
        .with_state(s)
}

/// The query parameters of a request, in order (a key may repeat: `TagKeys`).
struct Query(Vec<(String, String)>);

impl Query {
    fn of(raw: Option<String>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// An integer parameter; one that does not parse is a ValidationException.
    fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::validation(format!("Value '{v}' at '{key}' is not a valid integer."))
            }),
        }
    }
}

fn body<I: DeserializeOwned + Default>(b: &[u8]) -> Result<I> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(I::default());
    }
    serde_json::from_slice(b).map_err(|e| {
        Error::validation(format!(
            "The request body does not match the operation's shapes: {e}"
        ))
    })
}

/// Runs `f` on the blocking pool and answers its output (or error).
async fn run<O, F>(s: Scheduler, f: F) -> Response
where
    O: Serialize + Send + 'static,
    F: FnOnce(&Scheduler) -> Result<O> + Send + 'static,
{
    let out = tokio::task::spawn_blocking(move || f(&s))
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("Scheduler operation failed: {e}"))));
    match out.and_then(|o| serde_json::to_vec(&o).map_err(|e| Error::internal(e.to_string()))) {
        Ok(b) => json(StatusCode::OK, b),
        Err(e) => error(&e),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// The one error shape of the Scheduler's REST-JSON protocol.
pub fn error(e: &Error) -> Response {
    let b = serde_json::json!({ "Message": e.message })
        .to_string()
        .into_bytes();
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json(status, b);
    if let Ok(v) = HeaderValue::from_str(e.code.name()) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

async fn create_schedule(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    b: Bytes,
) -> Response {
    run(s, move |s| {
        let i: ScheduleInput = body(&b)?;
        s.create_schedule(&name, i)
    })
    .await
}

async fn update_schedule(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    b: Bytes,
) -> Response {
    run(s, move |s| {
        let i: ScheduleInput = body(&b)?;
        s.update_schedule(&name, i)
    })
    .await
}

async fn get_schedule(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::of(q);
    run(s, move |s| {
        s.get_schedule(&name, q.get("groupName").as_deref())
    })
    .await
}

async fn delete_schedule(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::of(q);
    run(s, move |s| {
        s.delete_schedule(
            &name,
            q.get("groupName").as_deref(),
            q.get("clientToken").as_deref(),
        )
        .map(|()| Empty {})
    })
    .await
}

async fn list_schedules(State(s): State<Scheduler>, RawQuery(q): RawQuery) -> Response {
    let q = Query::of(q);
    run(s, move |s| {
        s.list_schedules(ListSchedulesInput {
            group_name: q.get("ScheduleGroup"),
            name_prefix: q.get("NamePrefix"),
            state: q.get("State"),
            next_token: q.get("NextToken"),
            max_results: q.int("MaxResults")?,
        })
    })
    .await
}

async fn create_group(State(s): State<Scheduler>, Path(name): Path<String>, b: Bytes) -> Response {
    run(s, move |s| {
        let i: CreateScheduleGroupInput = body(&b)?;
        s.create_schedule_group(&name, i)
    })
    .await
}

async fn get_group(State(s): State<Scheduler>, Path(name): Path<String>) -> Response {
    run(s, move |s| s.get_schedule_group(&name)).await
}

async fn delete_group(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = Query::of(q);
    run(s, move |s| {
        s.delete_schedule_group(&name, q.get("clientToken").as_deref())
            .map(|()| Empty {})
    })
    .await
}

async fn list_groups(State(s): State<Scheduler>, RawQuery(q): RawQuery) -> Response {
    let q = Query::of(q);
    run(s, move |s| {
        s.list_schedule_groups(ListScheduleGroupsInput {
            name_prefix: q.get("NamePrefix"),
            next_token: q.get("NextToken"),
            max_results: q.int("MaxResults")?,
        })
    })
    .await
}

async fn tag_resource(State(s): State<Scheduler>, Path(arn): Path<String>, b: Bytes) -> Response {
    run(s, move |s| {
        let i: TagResourceInput = body(&b)?;
        s.tag_resource(&arn, i.tags).map(|()| Empty {})
    })
    .await
}

async fn untag_resource(
    State(s): State<Scheduler>,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let keys = Query::of(q).all("TagKeys");
    run(s, move |s| s.untag_resource(&arn, &keys).map(|()| Empty {})).await
}

async fn list_tags(State(s): State<Scheduler>, Path(arn): Path<String>) -> Response {
    run(s, move |s| s.list_tags_for_resource(&arn)).await
}
