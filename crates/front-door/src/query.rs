//! The error shape of the AWS query protocol (STS, IAM; SQS's older protocol): an XML body
//!
//! ```xml
//! <ErrorResponse>
//!   <Error><Type>Sender</Type><Code>CODE</Code><Message>MESSAGE</Message></Error>
//!   <RequestId>ID</RequestId>
//! </ErrorResponse>
//! ```
//!
//! botocore (`parsers.py`, `QueryParser._do_error_parse`) flattens the XML into a dict: `Error`
//! gives `Code` and `Message`, `RequestId` the response metadata.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// An error of the query protocol. `Type` is `Receiver` for a 5xx status, else `Sender`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse>\n  <Error>\n    <Type>{kind}</Type>\n    \
         <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        escape(code),
        escape(message)
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

/// Whether a response a query service produced is already in this shape (an XML body).
pub(crate) fn is_shaped(r: &Response) -> bool {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("xml"))
}

/// `Action` of a query request, from its query string or its form body.
pub(crate) fn action_of(form: &[u8]) -> Option<String> {
    form.split(|b| *b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let k = kv.next()?;
        let v = kv.next().unwrap_or_default();
        (k == b"Action").then(|| percent_decode(v))
    })
}

fn percent_decode(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < v.len() => {
                match std::str::from_utf8(&v[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// XML text: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_is_found_and_decoded_in_a_form() {
        assert_eq!(
            action_of(b"Version=2011-06-15&Action=GetCallerIdentity").as_deref(),
            Some("GetCallerIdentity")
        );
        assert_eq!(action_of(b"Action=A%42C+d").as_deref(), Some("ABC d"));
        assert_eq!(action_of(b"Action=bad%4").as_deref(), Some("bad%4"));
        assert_eq!(action_of(b"Version=1"), None);
    }

    #[test]
    fn markup_in_a_message_is_escaped() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
