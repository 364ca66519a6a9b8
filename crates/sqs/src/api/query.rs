//! SQS's query protocol (API version 2012-11-05): form parameters in, XML out, in the shapes of
//! AWS's SQS API reference (its "Query API" examples) and the pre-JSON botocore model
//! (`locationName`s: `Attribute.N.Name/Value`, `MessageAttribute.N.Value.StringValue`,
//! `SendMessageBatchRequestEntry.N.Id`, `Tag.N.Key`, `AttributeName.N`...). The parameters are
//! mapped onto the JSON protocol's member names so both protocols share one input type; the
//! flattened names a current botocore model would produce in query mode (`Attributes.N.key`,
//! `Entries.N.Id`, `AttributeNames.N`) are taken too.
//!
//! Answers: `<OpResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><OpResult>...
//! </OpResult><ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>`;
//! errors `<ErrorResponse>` with `<Error><Type/><Code/><Message/><Detail/></Error>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use quick_xml::escape::escape;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Format;
use crate::error::{ErrorKind, SqsError};

const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// A query request: its action and parameters, as a JSON input.
#[derive(Default)]
pub(crate) struct Query {
    pub action: Option<String>,
    input: Value,
}

#[derive(Debug, Default)]
struct Node {
    leaf: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn set(&mut self, path: &[&str], v: String) {
        match path.split_first() {
            None => self.leaf = Some(v),
            Some((head, rest)) => self
                .children
                .entry((*head).to_string())
                .or_default()
                .set(rest, v),
        }
    }

    fn text(&self) -> Value {
        Value::String(self.leaf.clone().unwrap_or_default())
    }

    /// The children numbered `1..`, in order.
    fn numbered(&self) -> Vec<&Node> {
        let mut v: Vec<(u32, &Node)> = self
            .children
            .iter()
            .filter_map(|(k, n)| Some((k.parse().ok()?, n)))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, n)| n).collect()
    }

    fn child(&self, names: &[&str]) -> Option<&Node> {
        names.iter().find_map(|n| self.children.get(*n))
    }

    fn list(&self) -> Value {
        Value::Array(self.numbered().into_iter().map(Node::text).collect())
    }

    fn map(&self, value: impl Fn(&Node) -> Value) -> Value {
        let mut m = Map::new();
        for e in self.numbered() {
            let key = e
                .child(&["Name", "Key", "key"])
                .and_then(|k| k.leaf.clone());
            let val = e.child(&["Value", "value"]);
            if let (Some(k), Some(v)) = (key, val) {
                m.insert(k, value(v));
            }
        }
        Value::Object(m)
    }

    fn attribute_value(&self) -> Value {
        let mut m = Map::new();
        for (k, n) in &self.children {
            match k.as_str() {
                "StringListValue" | "StringListValues" => {
                    m.insert("StringListValues".into(), n.list());
                }
                "BinaryListValue" | "BinaryListValues" => {
                    m.insert("BinaryListValues".into(), n.list());
                }
                _ => {
                    m.insert(k.clone(), n.text());
                }
            }
        }
        Value::Object(m)
    }

    fn structure(&self) -> Value {
        let mut m = Map::new();
        for (k, n) in &self.children {
            let (key, v) = match k.as_str() {
                "Attribute" | "Attributes" => ("Attributes", n.map(Node::text)),
                "Tag" | "Tags" | "tags" => ("Tags", n.map(Node::text)),
                "MessageAttribute" | "MessageAttributes" => {
                    ("MessageAttributes", n.map(Node::attribute_value))
                }
                "MessageSystemAttribute" | "MessageSystemAttributes" => {
                    ("MessageSystemAttributes", n.map(Node::attribute_value))
                }
                "AttributeName" | "AttributeNames" => ("AttributeNames", n.list()),
                "MessageAttributeName" | "MessageAttributeNames" => {
                    ("MessageAttributeNames", n.list())
                }
                "MessageSystemAttributeName" | "MessageSystemAttributeNames" => {
                    ("MessageSystemAttributeNames", n.list())
                }
                "TagKey" | "TagKeys" => ("TagKeys", n.list()),
                k if k == "Entries" || k.ends_with("BatchRequestEntry") => (
                    "Entries",
                    Value::Array(n.numbered().into_iter().map(Node::structure).collect()),
                ),
                "DelaySeconds"
                | "MaxNumberOfMessages"
                | "VisibilityTimeout"
                | "WaitTimeSeconds"
                | "MaxResults"
                | "MaxNumberOfMessagesPerSecond" => {
                    let s = n.leaf.clone().unwrap_or_default();
                    let v = s
                        .trim()
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(s));
                    (k.as_str(), v)
                }
                _ => (k.as_str(), n.text()),
            };
            m.insert(key.to_string(), v);
        }
        Value::Object(m)
    }
}

impl Query {
    /// Reads a query request's parameters (query string and form body). Posted to a queue's
    /// URL (`/<account>/<name>`), that URL is its `QueueUrl` unless it names one.
    pub(crate) fn parse(path: &str, query: Option<&str>, body: &[u8]) -> Query {
        let mut root = Node::default();
        let mut action = None;
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .chain(form_urlencoded::parse(body));
        for (k, v) in pairs {
            match &*k {
                "Action" => action = Some(v.into_owned()),
                "Version" => {}
                k => {
                    let path: Vec<&str> = k.split('.').collect();
                    root.set(&path, v.into_owned());
                }
            }
        }
        let mut input = root.structure();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let (Value::Object(m), [_account, _name]) = (&mut input, segments.as_slice()) {
            m.entry("QueueUrl")
                .or_insert_with(|| Value::String(path.to_string()));
        }
        Query { action, input }
    }
}

/// The element name of each item of a flattened list member.
fn item_name(op: &str, member: &str) -> Option<String> {
    Some(match member {
        "QueueUrls" | "queueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{op}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        "Results" => "ListMessageMoveTasksResultEntry".into(),
        "StringListValues" => "StringListValue".into(),
        "BinaryListValues" => "BinaryListValue".into(),
        _ => return None,
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn element(out: &mut String, op: &str, name: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            let _ = write!(out, "<{name}>");
            members(out, op, m);
            let _ = write!(out, "</{name}>");
        }
        v => {
            let _ = write!(out, "<{name}>{}</{name}>", escape(scalar(v).as_str()));
        }
    }
}

fn members(out: &mut String, op: &str, m: &Map<String, Value>) {
    for (k, v) in m {
        match (k.as_str(), v) {
            ("Attributes", Value::Object(map)) => {
                for (name, val) in map {
                    let _ = write!(
                        out,
                        "<Attribute><Name>{}</Name><Value>{}</Value></Attribute>",
                        escape(name.as_str()),
                        escape(scalar(val).as_str())
                    );
                }
            }
            ("Tags", Value::Object(map)) => {
                for (name, val) in map {
                    let _ = write!(
                        out,
                        "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                        escape(name.as_str()),
                        escape(scalar(val).as_str())
                    );
                }
            }
            ("MessageAttributes", Value::Object(map)) => {
                for (name, val) in map {
                    let _ = write!(
                        out,
                        "<MessageAttribute><Name>{}</Name>",
                        escape(name.as_str())
                    );
                    element(out, op, "Value", val);
                    out.push_str("</MessageAttribute>");
                }
            }
            (k, Value::Array(items)) => {
                let name = item_name(op, k).unwrap_or_else(|| k.to_string());
                for i in items {
                    element(out, op, &name, i);
                }
            }
            (k, v) => element(out, op, k, v),
        }
    }
}

/// Operations whose answer has no `<OpResult>`.
const NO_RESULT: &[&str] = &[
    "DeleteQueue",
    "SetQueueAttributes",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "DeleteMessage",
    "ChangeMessageVisibility",
];

fn xml_response(status: StatusCode, body: String) -> (Response, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = body.replace("\u{0}REQUEST_ID\u{0}", &id);
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-amzn-requestid", v);
    }
    (r, id)
}

fn error_xml(status: u16, code: &str, fault: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type>\
         <Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>\u{0}REQUEST_ID\u{0}</RequestId></ErrorResponse>",
        escape(code),
        escape(message)
    );
    xml_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
    .0
}

impl Format for Query {
    fn input<T: DeserializeOwned + Default>(&self) -> Result<T, SqsError> {
        serde_json::from_value(self.input.clone())
            .map_err(|e| SqsError::param(format!("A parameter of the request is invalid: {e}")))
    }

    fn output<T: Serialize>(&self, op: &str, out: &T) -> Response {
        let v = match serde_json::to_value(out) {
            Ok(v) => v,
            Err(e) => return self.error(&SqsError::internal(e)),
        };
        let mut body = format!("<?xml version=\"1.0\"?><{op}Response xmlns=\"{XMLNS}\">");
        if !NO_RESULT.contains(&op) {
            match &v {
                Value::Object(m) if !m.is_empty() => {
                    let _ = write!(body, "<{op}Result>");
                    members(&mut body, op, m);
                    let _ = write!(body, "</{op}Result>");
                }
                _ => {
                    let _ = write!(body, "<{op}Result/>");
                }
            }
        }
        let _ = write!(
            body,
            "<ResponseMetadata><RequestId>\u{0}REQUEST_ID\u{0}</RequestId></ResponseMetadata></{op}Response>"
        );
        xml_response(StatusCode::OK, body).0
    }

    fn error(&self, e: &SqsError) -> Response {
        let fault = if e.kind.sender_fault() {
            "Sender"
        } else {
            "Receiver"
        };
        // The query protocol's wording of a missing queue (AWS's answer in
        // test_non_existent_queue, recorded in LocalStack's snapshots).
        let message = if e.kind == ErrorKind::QueueDoesNotExist {
            "The specified queue does not exist for this wsdl version."
        } else {
            e.message.as_str()
        };
        error_xml(e.kind.status(), e.kind.query_code(), fault, message)
    }

    fn unknown(&self, op: &str) -> Response {
        // AWS's wording (LocalStack's validated test_wrong_endpoint_in_query).
        error_xml(
            400,
            "InvalidAction",
            "Sender",
            &format!("The action {op} is not valid for this endpoint."),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CreateQueueRequest, SendMessageBatchRequest, SendMessageRequest};

    #[test]
    fn forms_map_onto_the_json_members() {
        let q = Query::parse(
            "/123456789012/q1",
            None,
            b"Action=SendMessage&MessageBody=hi+there&DelaySeconds=5\
              &MessageAttribute.1.Name=a&MessageAttribute.1.Value.StringValue=x\
              &MessageAttribute.1.Value.DataType=String",
        );
        assert_eq!(q.action.as_deref(), Some("SendMessage"));
        let r: SendMessageRequest = q.input().unwrap();
        assert_eq!(r.queue_url.as_deref(), Some("/123456789012/q1"));
        assert_eq!(r.message_body.as_deref(), Some("hi there"));
        assert_eq!(r.delay_seconds, Some(5));
        assert_eq!(r.message_attributes["a"].string_value.as_deref(), Some("x"));
        let q = Query::parse(
            "/",
            None,
            b"Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3\
              &Tag.1.Key=k&Tag.1.Value=v",
        );
        let r: CreateQueueRequest = q.input().unwrap();
        assert_eq!(r.attributes["DelaySeconds"], "3");
        assert_eq!(r.tags["k"], "v");
        let q = Query::parse(
            "/",
            None,
            b"Action=SendMessageBatch&QueueUrl=u&SendMessageBatchRequestEntry.2.Id=b\
              &SendMessageBatchRequestEntry.2.MessageBody=2\
              &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=1",
        );
        let r: SendMessageBatchRequest = q.input().unwrap();
        let ids: Vec<_> = r.entries.iter().map(|e| e.id.clone().unwrap()).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn answers_are_awss_xml() {
        let mut m = Map::new();
        m.insert(
            "Attributes".into(),
            serde_json::json!({"DelaySeconds": "0"}),
        );
        let mut out = String::new();
        members(&mut out, "GetQueueAttributes", &m);
        assert_eq!(
            out,
            "<Attribute><Name>DelaySeconds</Name><Value>0</Value></Attribute>"
        );
        let mut out = String::new();
        let v = serde_json::json!({"Successful": [{"Id": "a"}], "Failed": []});
        members(&mut out, "DeleteMessageBatch", v.as_object().unwrap());
        assert_eq!(
            out,
            "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
        );
    }
}
