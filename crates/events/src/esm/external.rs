//! Queues and streams outside Hako: which ARNs name one (the binary's configuration, a list of
//! ARN patterns, each with the endpoint and credentials of the AWS-compatible service that
//! serves them), and a client of that service speaking AWS's JSON protocols (SQS's
//! `x-amz-json-1.0`, Kinesis's `x-amz-json-1.1`: `POST /` with `X-Amz-Target`, a JSON body,
//! signed with SigV4 by `hako_sigv4`).
//!
//! The readers built on it (`RemoteQueue` here, the stream reader in `crate::streams::reader`)
//! give the pollers the same operations as Hako's own SQS and Kinesis; what a remote endpoint
//! answers with an error (unreachable, access denied, no such queue) is a [`RemoteError`],
//! which the pollers show as the mapping's LastProcessingResult and retry with a backoff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hako_sigv4::{sha256_hex, AmzDate, Credentials, JsonService as Service, Signer};
use hako_sqs::wire::{Message, MessageAttributes};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::Deserialize;

/// One configured external source: the ARNs it serves and where.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSource {
    /// An ARN pattern: `arn:<partition>:<sqs|kinesis>:<region>:<account>:<name>` for a queue,
    /// `...:stream/<name>` for a stream; `*` in a part matches any run of characters
    /// (`arn:aws:sqs:eu-west-1:111122223333:orders-*`).
    pub arn: String,
    /// The service's endpoint, `http://host:port` (the region of the request's signature is
    /// the ARN's).
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

/// Every configured external source, in the order given (the first match wins).
#[derive(Debug, Clone, Default)]
pub struct ExternalSources {
    sources: Vec<Arc<Endpoint>>,
}

/// A configured source with its client.
#[derive(Debug)]
struct Endpoint {
    pattern: String,
    client: AwsJsonClient,
    credentials: Credentials,
}

impl ExternalSources {
    /// Parses the configuration (a JSON array of [`ExternalSource`]); an error says which entry
    /// is wrong and why.
    pub fn parse(text: &str) -> Result<ExternalSources, String> {
        let list: Vec<ExternalSource> =
            serde_json::from_str(text).map_err(|e| format!("external sources: {e}"))?;
        ExternalSources::new(list)
    }

    pub fn new(list: Vec<ExternalSource>) -> Result<ExternalSources, String> {
        let mut sources = Vec::with_capacity(list.len());
        for (i, s) in list.into_iter().enumerate() {
            let parts: Vec<&str> = s.arn.splitn(6, ':').collect();
            if parts.len() != 6
                || parts[0] != "arn"
                || !matches!(parts[2], "sqs" | "kinesis")
                || parts[5].is_empty()
            {
                return Err(format!(
                    "external source {i}: `{}` is not an ARN pattern of an SQS queue or a Kinesis stream (arn:aws:sqs:REGION:ACCOUNT:NAME, arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)",
                    s.arn
                ));
            }
            let uri: Uri = s
                .endpoint
                .parse()
                .map_err(|e| format!("external source {i}: endpoint `{}`: {e}", s.endpoint))?;
            if uri.scheme_str() != Some("http") || uri.authority().is_none() {
                return Err(format!(
                    "external source {i}: endpoint `{}` must be http://HOST[:PORT] (TLS endpoints are not supported yet)",
                    s.endpoint
                ));
            }
            if s.access_key_id.is_empty() || s.secret_access_key.is_empty() {
                return Err(format!(
                    "external source {i}: access_key_id and secret_access_key must not be empty"
                ));
            }
            sources.push(Arc::new(Endpoint {
                pattern: s.arn,
                client: AwsJsonClient::new(uri),
                credentials: Credentials {
                    access_key_id: s.access_key_id,
                    secret_access_key: s.secret_access_key,
                    session_token: s.session_token,
                },
            }));
        }
        Ok(ExternalSources { sources })
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    fn find(&self, arn: &str) -> Option<&Arc<Endpoint>> {
        self.sources.iter().find(|s| arn_matches(&s.pattern, arn))
    }

    /// Whether `arn` names a queue or stream of a configured external source.
    pub fn serves(&self, arn: &str) -> bool {
        self.find(arn).is_some()
    }

    /// The remote queue `arn` names, when a configured source serves it.
    pub fn queue(&self, arn: &str) -> Option<RemoteQueue> {
        let (region, account, name) = split_arn(arn, "sqs")?;
        let e = self.find(arn)?;
        Some(RemoteQueue {
            api: e.api(Service::Sqs, region),
            account: account.to_string(),
            name: name.to_string(),
            url: tokio::sync::Mutex::new(None),
        })
    }

    /// The remote stream `arn` names, when a configured source serves it.
    pub fn stream(&self, arn: &str) -> Option<RemoteStream> {
        let (region, _, resource) = split_arn(arn, "kinesis")?;
        let name = resource.strip_prefix("stream/")?;
        let e = self.find(arn)?;
        Some(RemoteStream {
            api: e.api(Service::Kinesis, region),
            name: name.to_string(),
        })
    }
}

impl Endpoint {
    fn api(&self, service: Service, region: &str) -> Api {
        Api {
            client: self.client.clone(),
            signer: Arc::new(Signer::new(
                self.credentials.clone(),
                region,
                service.signing_name(),
            )),
            service,
        }
    }
}

/// `(region, account, resource)` of an ARN of `service`.
fn split_arn<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    (p.len() == 6 && p[0] == "arn" && p[2] == service && !p[5].is_empty())
        .then(|| (p[3], p[4], p[5]))
}

/// Whether `arn` matches `pattern`, part by part (`*` matches any run of characters within
/// a part; the name's `/` is a character like any other).
fn arn_matches(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Why a call to an external source failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// The endpoint could not be reached, or the connection failed.
    Unreachable(String),
    /// No answer in time.
    Timeout,
    /// The service's error: its code (`__type` without the namespace) and message.
    Service {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer this client cannot read.
    Answer(String),
}

impl RemoteError {
    /// The service's error code, when it answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            RemoteError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Unreachable(e) => write!(f, "the endpoint cannot be reached: {e}"),
            RemoteError::Timeout => write!(f, "the endpoint did not answer in time"),
            RemoteError::Service {
                status,
                code,
                message,
            } => write!(f, "{code} (HTTP {status}): {message}"),
            RemoteError::Answer(e) => write!(f, "the endpoint's answer cannot be read: {e}"),
        }
    }
}

/// An HTTP/1 client of one endpoint (connections kept alive and shared).
#[derive(Debug, Clone)]
struct AwsJsonClient {
    endpoint: Uri,
    host: HeaderValue,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl AwsJsonClient {
    fn new(endpoint: Uri) -> AwsJsonClient {
        let authority = endpoint
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let host = HeaderValue::from_str(&authority).unwrap_or(HeaderValue::from_static(""));
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        AwsJsonClient {
            endpoint,
            host,
            client,
        }
    }
}

/// A signed client of one service of one endpoint, in one region.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: AwsJsonClient,
    signer: Arc<Signer>,
    service: Service,
}

impl Api {
    /// Calls `operation` with `body`; the answer's JSON. `timeout` bounds the whole call.
    pub(crate) async fn call(
        &self,
        operation: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, RemoteError> {
        let body =
            serde_json::to_vec(body).map_err(|e| RemoteError::Answer(format!("encoding: {e}")))?;
        let target = format!("{}.{operation}", self.service.target_prefix());
        let date = AmzDate::now();
        let sha = sha256_hex(&body);
        let host = self.client.host.to_str().unwrap_or_default().to_string();
        let content_type = self.service.content_type();
        let creds = self.signer.credentials();
        let mut signed: Vec<(&str, &str)> = vec![
            ("Content-Type", content_type),
            ("Host", &host),
            ("X-Amz-Date", &date.timestamp),
            ("X-Amz-Target", &target),
        ];
        if let Some(t) = &creds.session_token {
            signed.push(("X-Amz-Security-Token", t));
        }
        let auth = self
            .signer
            .authorization("POST", "/", "", &signed, &sha, &date);
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.client.endpoint.clone())
            .header(http::header::HOST, self.client.host.clone())
            .header(http::header::CONTENT_TYPE, content_type)
            .header("x-amz-date", &date.timestamp)
            .header("x-amz-target", &target)
            .header(http::header::AUTHORIZATION, auth);
        if let Some(t) = &creds.session_token {
            req = req.header("x-amz-security-token", t);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RemoteError::Answer(format!("building the request: {e}")))?;
        let call = async {
            let resp = self
                .client
                .client
                .request(req)
                .await
                .map_err(|e| RemoteError::Unreachable(error_chain(&e)))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| RemoteError::Unreachable(error_chain(&e)))?
                .to_bytes();
            Ok::<_, RemoteError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| RemoteError::Timeout)??;
        if status != 200 {
            return Err(service_error(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes).map_err(|e| RemoteError::Answer(e.to_string()))
    }
}

/// An error with its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// The text of the first `<tag>...</tag>` of an XML error answer.
fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

/// A JSON protocol's error answer: `__type` (`namespace#Code`, or `Code`) and `message`
/// (`Message` in some services); an endpoint that refuses the request before its protocol
/// (an authentication failure, as moto's server answers one) may answer the query protocol's
/// XML (`<Error><Code>..</Code><Message>..</Message>`).
fn service_error(status: u16, body: &[u8]) -> RemoteError {
    let text = String::from_utf8_lossy(body);
    if let Some(code) = xml_text(&text, "Code") {
        return RemoteError::Service {
            status,
            code: code.to_string(),
            message: xml_text(&text, "Message").unwrap_or_default().to_string(),
        };
    }
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v
        .get("__type")
        .and_then(|t| t.as_str())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    RemoteError::Service {
        status,
        code,
        message,
    }
}

/// How long a receive may take past its long poll before it counts as unanswered.
const CALL_SLACK: Duration = Duration::from_secs(10);

/// An SQS queue of an external source (its URL asked once with GetQueueUrl).
#[derive(Debug)]
pub struct RemoteQueue {
    api: Api,
    account: String,
    name: String,
    url: tokio::sync::Mutex<Option<String>>,
}

/// A received message as SQS's JSON protocol answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireMessage {
    message_id: String,
    receipt_handle: String,
    #[serde(rename = "MD5OfBody", default)]
    md5_of_body: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(rename = "MD5OfMessageAttributes", default)]
    md5_of_message_attributes: Option<String>,
    #[serde(default)]
    message_attributes: MessageAttributes,
}

impl RemoteQueue {
    async fn url(&self) -> Result<String, RemoteError> {
        let mut url = self.url.lock().await;
        if let Some(u) = url.as_ref() {
            return Ok(u.clone());
        }
        let v = self
            .api
            .call(
                "GetQueueUrl",
                &serde_json::json!({
                    "QueueName": self.name,
                    "QueueOwnerAWSAccountId": self.account,
                }),
                CALL_SLACK,
            )
            .await?;
        let u = v
            .get("QueueUrl")
            .and_then(|u| u.as_str())
            .ok_or_else(|| RemoteError::Answer("GetQueueUrl answered no QueueUrl".into()))?
            .to_string();
        *url = Some(u.clone());
        Ok(u)
    }

    /// Forgets the queue's URL after an error (the queue may have been made again).
    async fn forget_url(&self, e: &RemoteError) {
        if e.code().is_some() {
            *self.url.lock().await = None;
        }
    }

    /// ReceiveMessage: up to `max` (1-10) messages with every attribute, waiting up to `wait_s`.
    pub async fn receive(&self, max: usize, wait_s: i64) -> Result<Vec<Message>, RemoteError> {
        let url = self.url().await?;
        let body = serde_json::json!({
            "QueueUrl": url,
            "MaxNumberOfMessages": max.clamp(1, 10),
            "WaitTimeSeconds": wait_s.clamp(0, 20),
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        });
        let timeout = Duration::from_secs(wait_s.clamp(0, 20) as u64) + CALL_SLACK;
        let v = match self.api.call("ReceiveMessage", &body, timeout).await {
            Ok(v) => v,
            Err(e) => {
                self.forget_url(&e).await;
                return Err(e);
            }
        };
        let msgs: Vec<WireMessage> = match v.get("Messages") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(m) => serde_json::from_value(m.clone())
                .map_err(|e| RemoteError::Answer(format!("ReceiveMessage: {e}")))?,
        };
        Ok(msgs
            .into_iter()
            .map(|m| Message {
                message_id: m.message_id,
                receipt_handle: m.receipt_handle,
                md5_of_body: m.md5_of_body,
                body: m.body,
                attributes: m.attributes,
                md5_of_message_attributes: m.md5_of_message_attributes,
                message_attributes: m.message_attributes,
            })
            .collect())
    }

    /// DeleteMessageBatch, ten at a time; the number deleted.
    pub async fn delete(&self, handles: &[String]) -> Result<usize, RemoteError> {
        let url = self.url().await?;
        let mut deleted = 0;
        for chunk in handles.chunks(10) {
            let entries: Vec<serde_json::Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| serde_json::json!({ "Id": i.to_string(), "ReceiptHandle": h }))
                .collect();
            let v = self
                .api
                .call(
                    "DeleteMessageBatch",
                    &serde_json::json!({ "QueueUrl": url, "Entries": entries }),
                    CALL_SLACK,
                )
                .await?;
            deleted += v
                .get("Successful")
                .and_then(|s| s.as_array())
                .map_or(0, Vec::len);
        }
        Ok(deleted)
    }
}

/// A Kinesis stream of an external source.
#[derive(Debug, Clone)]
pub struct RemoteStream {
    pub(crate) api: Api,
    pub(crate) name: String,
}

impl RemoteStream {
    /// Every shard's id (ListShards, page by page).
    pub(crate) async fn shard_ids(&self) -> Result<Vec<String>, RemoteError> {
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let body = match &next {
                Some(t) => serde_json::json!({ "NextToken": t }),
                None => serde_json::json!({ "StreamName": self.name }),
            };
            let v = self.api.call("ListShards", &body, CALL_SLACK).await?;
            for s in v
                .get("Shards")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(id) = s.get("ShardId").and_then(|i| i.as_str()) {
                    ids.push(id.to_string());
                }
            }
            match v.get("NextToken").and_then(|t| t.as_str()) {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(ids),
            }
        }
    }

    /// GetShardIterator: `kind` is AWS's ShardIteratorType; `seq` for AFTER_SEQUENCE_NUMBER,
    /// `at_ms` for AT_TIMESTAMP.
    pub(crate) async fn shard_iterator(
        &self,
        shard_id: &str,
        kind: &str,
        seq: Option<&str>,
        at_ms: Option<i64>,
    ) -> Result<String, RemoteError> {
        let mut body = serde_json::json!({
            "StreamName": self.name,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        });
        if let Some(s) = seq {
            body["StartingSequenceNumber"] = s.into();
        }
        if let Some(ms) = at_ms {
            body["Timestamp"] = (ms as f64 / 1000.0).into();
        }
        let v = self.api.call("GetShardIterator", &body, CALL_SLACK).await?;
        v.get("ShardIterator")
            .and_then(|i| i.as_str())
            .map(str::to_string)
            .ok_or_else(|| RemoteError::Answer("GetShardIterator answered no ShardIterator".into()))
    }

    /// GetRecords: the records, the next iterator (`None`: the shard is closed and read to its
    /// end) and MillisBehindLatest.
    pub(crate) async fn get_records(
        &self,
        iterator: &str,
        limit: usize,
    ) -> Result<(Vec<hako_kinesis::ShardRecord>, Option<String>, i64), RemoteError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Rec {
            sequence_number: String,
            #[serde(default)]
            approximate_arrival_timestamp: Option<f64>,
            data: hako_sqs::wire::Blob,
            partition_key: String,
        }
        let v = self
            .api
            .call(
                "GetRecords",
                &serde_json::json!({ "ShardIterator": iterator, "Limit": limit.clamp(1, 10_000) }),
                CALL_SLACK,
            )
            .await?;
        let recs: Vec<Rec> = match v.get("Records") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(r) => serde_json::from_value(r.clone())
                .map_err(|e| RemoteError::Answer(format!("GetRecords: {e}")))?,
        };
        let next = v
            .get("NextShardIterator")
            .and_then(|i| i.as_str())
            .map(str::to_string);
        let behind = v
            .get("MillisBehindLatest")
            .and_then(|m| m.as_i64())
            .unwrap_or(0);
        let records = recs
            .into_iter()
            .map(|r| hako_kinesis::ShardRecord {
                sequence_number: r.sequence_number,
                arrival_ms: r
                    .approximate_arrival_timestamp
                    .map_or(0, |t| (t * 1000.0).round() as i64),
                partition_key: r.partition_key,
                data: r.data.0,
            })
            .collect();
        Ok((records, next, behind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_patterns_match_part_by_part() {
        let p = "arn:aws:sqs:us-east-1:111111111111:ext-*";
        assert!(arn_matches(p, "arn:aws:sqs:us-east-1:111111111111:ext-a"));
        assert!(arn_matches(p, "arn:aws:sqs:us-east-1:111111111111:ext-"));
        assert!(!arn_matches(p, "arn:aws:sqs:us-east-1:222222222222:ext-a"));
        assert!(!arn_matches(p, "arn:aws:sqs:us-east-2:111111111111:ext-a"));
        assert!(!arn_matches(
            p,
            "arn:aws:kinesis:us-east-1:111111111111:ext-a"
        ));
        let any = "arn:aws:kinesis:*:*:stream/*";
        assert!(arn_matches(any, "arn:aws:kinesis:eu-west-1:1:stream/s"));
        assert!(!arn_matches(any, "arn:aws:kinesis:eu-west-1:1:s"));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(!glob("a*b*c", "aXXbYcd"));
        assert!(glob("**", ""));
    }

    #[test]
    fn configuration_is_checked() {
        let ok = r#"[{"arn": "arn:aws:sqs:us-east-1:111111111111:*", "endpoint": "http://127.0.0.1:5000",
            "access_key_id": "k", "secret_access_key": "s"}]"#;
        let s = ExternalSources::parse(ok).unwrap();
        assert!(s.serves("arn:aws:sqs:us-east-1:111111111111:q"));
        assert!(s.queue("arn:aws:sqs:us-east-1:111111111111:q").is_some());
        assert!(s.stream("arn:aws:sqs:us-east-1:111111111111:q").is_none());
        assert!(!s.serves("arn:aws:sqs:us-east-1:123456789012:q"));
        for bad in [
            r#"[{"arn": "arn:aws:sns:us-east-1:1:*", "endpoint": "http://h:1", "access_key_id": "k", "secret_access_key": "s"}]"#,
            r#"[{"arn": "arn:aws:sqs:us-east-1:1:*", "endpoint": "https://h", "access_key_id": "k", "secret_access_key": "s"}]"#,
            r#"[{"arn": "arn:aws:sqs:us-east-1:1:*", "endpoint": "http://h:1", "access_key_id": "", "secret_access_key": "s"}]"#,
            r#"[{"arn": "arn:aws:sqs:us-east-1:1:*", "endpoint": "http://h:1", "access_key_id": "k"}]"#,
            r#"[{"arn": "arn:aws:sqs:us-east-1:1:*", "endpoint": "http://h:1", "access_key_id": "k", "secret_access_key": "s", "x": 1}]"#,
            "{}",
        ] {
            assert!(ExternalSources::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn service_errors_are_read() {
        let e = service_error(
            400,
            br#"{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone"}"#,
        );
        assert_eq!(e.code(), Some("QueueDoesNotExist"));
        assert_eq!(e.to_string(), "QueueDoesNotExist (HTTP 400): gone");
        let e = service_error(403, b"<html>denied</html>");
        assert_eq!(e.code(), Some("HTTP403"));
        let e = service_error(
            403,
            b"<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></Errors></ErrorResponse>",
        );
        assert_eq!(e.to_string(), "SignatureDoesNotMatch (HTTP 403): no");
    }
}
