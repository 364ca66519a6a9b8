//! A request to a function URL as AWS's payload format 2.0 event (AWS's guide "Invoking Lambda
//! function URLs", Request payload format; API Gateway's payload format version 2.0): headers
//! lower-cased, a repeated header's values joined with commas, cookies out of the headers into
//! `cookies`, query parameters decoded with repeated ones joined with commas, the body as text,
//! or base64 when it is binary.

use axum::http::HeaderMap;
use base64::Engine as _;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The request as it came.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded), at least `/`.
    pub path: &'a str,
    /// The query as sent, without `?` (empty when there is none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The address of the TCP peer.
    pub source_ip: &'a str,
}

/// What the URL and the moment add.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub url_id: &'a str,
    /// `<url-id>.lambda-url.<region>.on.aws` (or the local name the client used).
    pub domain_name: &'a str,
    /// The caller's account: `anonymous` for `AuthType: NONE`.
    pub account_id: &'a str,
    pub request_id: &'a str,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// Headers the front of AWS adds when the client did not send them (`x-forwarded-*`,
    /// `x-amzn-trace-id`).
    pub added_headers: &'a [(&'a str, &'a str)],
}

/// A list of pairs serialized as a JSON object, in order.
struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    version: &'static str,
    route_key: &'static str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<&'a str>,
    headers: Pairs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<Pairs<'a>>,
    request_context: RequestContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<std::borrow::Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    account_id: &'a str,
    api_id: &'a str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: Http<'a>,
    request_id: &'a str,
    route_key: &'static str,
    stage: &'static str,
    time: String,
    time_epoch: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: &'a str,
    user_agent: &'a str,
}

/// Whether a body of this `Content-Type` is text (sent as is) rather than binary (base64).
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("/json")
        || essence.ends_with("+json")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || essence == "application/javascript"
        || essence == "application/x-www-form-urlencoded"
}

/// The request's headers, names lower-case (as HTTP/1 servers give them), a repeated header's
/// values joined with commas, without `cookie`; then the added headers the client did not send.
fn headers(h: &HeaderMap, added: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(h.keys_len() + added.len());
    for name in h.keys() {
        if name == "cookie" {
            continue;
        }
        let mut value = String::new();
        for (i, v) in h.get_all(name).iter().enumerate() {
            if i > 0 {
                value.push(',');
            }
            value.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
        out.push((name.as_str().to_string(), value));
    }
    for (name, value) in added {
        if !h.contains_key(*name) {
            out.push(((*name).to_string(), (*value).to_string()));
        }
    }
    out
}

/// The `Cookie` headers' cookies, each `name=value` as sent.
fn cookies(h: &HeaderMap) -> Vec<&str> {
    h.get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The query's parameters decoded, a repeated one's values joined with commas, in first-seen
/// order; `None` without a query.
fn query_parameters(query: &str) -> Option<Vec<(String, String)>> {
    if query.is_empty() {
        return None;
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&v);
            }
            None => out.push((k.into_owned(), v.into_owned())),
        }
    }
    Some(out)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `requestContext.time`: `07/Sep/2021:22:50:22 +0000`.
pub fn request_time(ms: i64) -> String {
    let t = hako_model::clock::datetime_of_ms(ms);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The event, as JSON.
pub fn build(req: &HttpRequest<'_>, ctx: &Context<'_>) -> Vec<u8> {
    let header_list = headers(req.headers, ctx.added_headers);
    let query = query_parameters(req.query);
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let (body, is_base64_encoded) = if req.body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(req.body) {
            Ok(text) if is_text(content_type) => (Some(std::borrow::Cow::Borrowed(text)), false),
            _ => (
                Some(std::borrow::Cow::Owned(
                    base64::engine::general_purpose::STANDARD.encode(req.body),
                )),
                true,
            ),
        }
    };
    let user_agent = req
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let event = Event {
        version: "2.0",
        route_key: "$default",
        raw_path: req.path,
        raw_query_string: req.query,
        cookies: cookies(req.headers),
        headers: Pairs(&header_list),
        query_string_parameters: query.as_deref().map(Pairs),
        request_context: RequestContext {
            account_id: ctx.account_id,
            api_id: ctx.url_id,
            domain_name: ctx.domain_name,
            domain_prefix: ctx.url_id,
            http: Http {
                method: req.method,
                path: req.path,
                protocol: "HTTP/1.1",
                source_ip: req.source_ip,
                user_agent,
            },
            request_id: ctx.request_id,
            route_key: "$default",
            stage: "$default",
            time: request_time(ctx.time_ms),
            time_epoch: ctx.time_ms,
        },
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};
    use serde_json::{json, Value};

    use super::*;

    const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ctx<'a>() -> Context<'a> {
        Context {
            url_id: ID,
            domain_name: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-west-2.on.aws",
            account_id: "anonymous",
            request_id: "e1506fd5-9e7b-434f-bd42-4f8fa224b599",
            time_ms: 1_631_055_022_677,
            added_headers: &[("x-forwarded-proto", "http")],
        }
    }

    fn event(method: &str, path: &str, query: &str, h: &[(&str, &str)], body: &[u8]) -> Value {
        let h = headers(h);
        let req = HttpRequest {
            method,
            path,
            query,
            headers: &h,
            body,
            source_ip: "123.123.123.123",
        };
        serde_json::from_slice(&build(&req, &ctx())).unwrap()
    }

    /// The guide's request payload example ("Invoking Lambda function URLs", Request payload
    /// format): repeated query parameters and headers joined with commas, cookies apart, the
    /// context's placeholders, the time as `07/Sep/2021:22:50:22 +0000` (its table's example).
    #[test]
    fn the_guides_example_request() {
        let e = event(
            "POST",
            "/my/path",
            "parameter1=value1&parameter1=value2&parameter2=value",
            &[
                ("header1", "value1"),
                ("header2", "value1"),
                ("header2", "value2"),
                ("cookie", "cookie1; cookie2"),
                ("user-agent", "agent"),
                ("content-type", "text/plain"),
            ],
            b"Hello from client!",
        );
        assert_eq!(
            e,
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/my/path",
                "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
                "cookies": ["cookie1", "cookie2"],
                "headers": {
                    "header1": "value1",
                    "header2": "value1,value2",
                    "user-agent": "agent",
                    "content-type": "text/plain",
                    "x-forwarded-proto": "http"
                },
                "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
                "requestContext": {
                    "accountId": "anonymous",
                    "apiId": ID,
                    "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-west-2.on.aws",
                    "domainPrefix": ID,
                    "http": {
                        "method": "POST",
                        "path": "/my/path",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "123.123.123.123",
                        "userAgent": "agent"
                    },
                    "requestId": "e1506fd5-9e7b-434f-bd42-4f8fa224b599",
                    "routeKey": "$default",
                    "stage": "$default",
                    "time": "07/Sep/2021:22:50:22 +0000",
                    "timeEpoch": 1_631_055_022_677i64
                },
                "body": "Hello from client!",
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn bodies_are_text_or_base64_by_content_type() {
        // text/plain stays text (LocalStack's AWS-recorded test_lambda_url_echo_invoke: body
        // "text", isBase64Encoded false); multipart is binary (test_lambda_url_form_payload's
        // base64 data).
        let table: &[(Option<&str>, &[u8], Value, bool)] = &[
            (Some("text/plain"), b"text", json!("text"), false),
            (
                Some("application/json; charset=utf-8"),
                b"{\"a\":1}",
                json!("{\"a\":1}"),
                false,
            ),
            (Some("application/vnd.api+json"), b"{}", json!("{}"), false),
            (Some("image/png"), b"\x89PNG", json!("iVBORw=="), true),
            (
                Some("multipart/form-data; boundary=x"),
                b"--x--",
                json!("LS14LS0="),
                true,
            ),
            (None, b"raw", json!("cmF3"), true),
            (Some("text/plain"), b"\xff\xfe", json!("//4="), true),
        ];
        for (ct, body, want, b64) in table {
            let h: Vec<(&str, &str)> = ct.iter().map(|c| ("content-type", *c)).collect();
            let e = event("POST", "/", "", &h, body);
            assert_eq!(e["body"], *want, "{ct:?}");
            assert_eq!(e["isBase64Encoded"], *b64, "{ct:?}");
        }
        let e = event("GET", "/", "", &[], b"");
        assert!(e.get("body").is_none());
        assert_eq!(e["isBase64Encoded"], false);
        assert!(e.get("cookies").is_none());
        assert!(e.get("queryStringParameters").is_none());
        assert_eq!(e["rawQueryString"], "");
    }

    #[test]
    fn query_parameters_are_decoded_and_added_headers_yield_to_the_clients() {
        let e = event(
            "GET",
            "/a%20b",
            "q=a%20b&q=c&empty=&plus=x+y",
            &[("x-forwarded-proto", "https")],
            b"",
        );
        assert_eq!(
            e["queryStringParameters"],
            json!({"q": "a b,c", "empty": "", "plus": "x y"})
        );
        assert_eq!(e["rawPath"], "/a%20b");
        assert_eq!(e["headers"]["x-forwarded-proto"], "https");
        assert_eq!(e["requestContext"]["http"]["userAgent"], "");
    }
}
