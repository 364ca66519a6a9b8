//! A function's result as the HTTP response of its URL (AWS's guide "Invoking Lambda function
//! URLs", Response payload format): an object with `statusCode` is a response (`headers`,
//! `cookies` as `Set-Cookie`, `body`, base64 when `isBase64Encoded`); any other valid JSON is the
//! body of a 200 `application/json` answer ("Lambda infers the response format"), a JSON string
//! as its text, the rest as compact JSON (LocalStack's AWS-recorded
//! `TestLambdaURL::test_lambda_url_invocation` snapshots: `{"hello": "world"}` is answered
//! `{"hello":"world"}`, `"hello"` as `hello`, `["hello", 3, True]` as `["hello",3,true]`).

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

/// The HTTP answer of a function's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Headers as the function gave them (`content-type: application/json` unless it gave one).
    pub headers: Vec<(String, String)>,
    /// One `Set-Cookie` each.
    pub cookies: Vec<String>,
    pub body: Bytes,
}

/// A result that cannot be answered (a `statusCode` that is no status, a body that is not
/// base64 though it says so): the URL answers 502 as for a function error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswerable(pub &'static str);

/// `text` with the whitespace between JSON tokens removed (strings kept as they are, members
/// in their order, numbers as written).
pub fn minify(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    out
}

fn plain(body: impl Into<Bytes>) -> Answer {
    Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        cookies: Vec::new(),
        body: body.into(),
    }
}

fn header_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn status_code(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|n| (100..=599).contains(n))
}

/// The answer of a function's result `payload`.
pub fn answer(payload: &[u8]) -> Result<Answer, Unanswerable> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => {}
        Some(b'"') => {
            return Ok(match serde_json::from_slice::<String>(payload) {
                Ok(s) => plain(s),
                Err(_) => plain(Bytes::copy_from_slice(payload)),
            })
        }
        _ => {
            return Ok(if serde_json::from_slice::<Value>(payload).is_ok() {
                plain(minify(payload))
            } else {
                plain(Bytes::copy_from_slice(payload))
            })
        }
    }
    // Most objects that are no response (an echoed event, a plain result) never name
    // `statusCode`: checked and compacted without building them.
    if memchr::memmem::find(payload, b"\"statusCode\"").is_none() {
        return Ok(
            if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
                plain(minify(payload))
            } else {
                plain(Bytes::copy_from_slice(payload))
            },
        );
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(payload) else {
        return Ok(plain(Bytes::copy_from_slice(payload)));
    };
    let Some(code) = obj.get("statusCode") else {
        return Ok(plain(minify(payload)));
    };
    let status = status_code(code).ok_or(Unanswerable("statusCode is not an HTTP status"))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            if let Some(v) = header_value(v) {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let cookies = match obj.get("cookies") {
        Some(Value::Array(c)) => c.iter().filter_map(header_value).collect(),
        _ => Vec::new(),
    };
    let base64 = matches!(obj.get("isBase64Encoded"), Some(Value::Bool(true)));
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| Unanswerable("body is not base64"))?
            .into(),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(other) => serde_json::to_vec(other).unwrap_or_default().into(),
    };
    Ok(Answer {
        status,
        headers,
        cookies,
        body,
    })
}

/// The content type of a streamed response that opens with an HTTP prelude (Node's
/// `awslambda.HttpResponseStream.from`, AWS's guide "Invoking Lambda function URLs", streaming).
pub const PRELUDE_CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";

/// What separates the prelude from the body: 8 NUL bytes.
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// The largest prelude read before giving up on finding its delimiter.
pub const PRELUDE_MAX_BYTES: usize = 64 * 1024;

/// A streamed response's prelude, `{"statusCode": ..., "headers": {...}, "cookies": [...]}`, as
/// the answer's head (its body empty: the stream's bytes after the delimiter follow). A missing
/// `statusCode` is 200.
pub fn prelude(json: &[u8]) -> Result<Answer, Unanswerable> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(json) else {
        return Err(Unanswerable("the prelude is not a JSON object"));
    };
    let status = match obj.get("statusCode") {
        None | Some(Value::Null) => 200,
        Some(code) => status_code(code).ok_or(Unanswerable("statusCode is not an HTTP status"))?,
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            if let Some(v) = header_value(v) {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    let cookies = match obj.get("cookies") {
        Some(Value::Array(c)) => c.iter().filter_map(header_value).collect(),
        _ => Vec::new(),
    };
    Ok(Answer {
        status,
        headers,
        cookies,
        body: Bytes::new(),
    })
}

/// Splits a streamed response's prelude from its body as its chunks come.
#[derive(Debug, Default)]
pub struct PreludeSplitter {
    buf: Vec<u8>,
}

impl PreludeSplitter {
    /// Takes a chunk: `Ok(Some((prelude, body so far)))` once the delimiter has come, `Ok(None)`
    /// while it has not, an error past [`PRELUDE_MAX_BYTES`] without it.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Option<(Answer, Bytes)>, Unanswerable> {
        self.buf.extend_from_slice(chunk);
        match memchr::memmem::find(&self.buf, &PRELUDE_DELIMITER) {
            Some(at) => {
                let head = prelude(&self.buf[..at])?;
                let rest = Bytes::copy_from_slice(&self.buf[at + PRELUDE_DELIMITER.len()..]);
                Ok(Some((head, rest)))
            }
            None if self.buf.len() > PRELUDE_MAX_BYTES => Err(Unanswerable("no prelude delimiter")),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node's `HttpResponseStream.from` writes the prelude's JSON and the 8 NUL bytes as two
    /// writes: the split finds them across chunks.
    #[test]
    fn the_prelude_is_split_across_chunks() {
        let mut s = PreludeSplitter::default();
        let json = br#"{"statusCode":201,"headers":{"Content-Type":"text/plain","X-A":"b"},"cookies":["a=1","b=2"]}"#;
        assert_eq!(s.push(json), Ok(None));
        assert_eq!(s.push(&[0, 0, 0]), Ok(None));
        let (head, rest) = s.push(&[0, 0, 0, 0, 0, b'h', b'i']).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(
            head.headers,
            vec![
                ("content-type".to_string(), "text/plain".to_string()),
                ("x-a".to_string(), "b".to_string())
            ]
        );
        assert_eq!(head.cookies, vec!["a=1".to_string(), "b=2".to_string()]);
        assert_eq!(rest, Bytes::from_static(b"hi"));
        let mut s = PreludeSplitter::default();
        let (head, rest) = s.push(b"{}\0\0\0\0\0\0\0\0").unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert!(rest.is_empty());
        let mut s = PreludeSplitter::default();
        assert!(s.push(b"not json\0\0\0\0\0\0\0\0").is_err());
        let mut s = PreludeSplitter::default();
        assert!(s.push(&vec![b' '; PRELUDE_MAX_BYTES + 1]).is_err());
    }

    fn ct_json() -> Vec<(String, String)> {
        vec![("content-type".into(), "application/json".into())]
    }

    /// LocalStack's AWS-recorded `TestLambdaURL::test_lambda_url_invocation[*]`: what a Python
    /// handler returns, and the status, `Content-Type` and body AWS answered.
    #[test]
    fn inferred_responses_as_aws_recorded_them() {
        let table: &[(&str, u16, &str)] = &[
            (r#"{"hello": "world"}"#, 200, r#"{"hello":"world"}"#),
            (r#"{"statusCode": 200, "body": "body123"}"#, 200, "body123"),
            (
                r#"{"statusCode": 200, "body": "{\"hello\": \"world\"}"}"#,
                200,
                r#"{"hello": "world"}"#,
            ),
            (r#"["hello", 3, true]"#, 200, r#"["hello",3,true]"#),
            (r#""hello""#, 200, "hello"),
            ("3", 200, "3"),
            ("3.1", 200, "3.1"),
            ("true", 200, "true"),
        ];
        for (out, status, body) in table {
            let a = answer(out.as_bytes()).unwrap();
            assert_eq!(a.status, *status, "{out}");
            assert_eq!(a.body, body.as_bytes(), "{out}");
            assert_eq!(a.headers, ct_json(), "{out}");
        }
    }

    /// The guide's "custom response" and "cookies" examples, and
    /// `test_lambda_url_headers_and_status`' string status code.
    #[test]
    fn a_response_object_sets_status_headers_cookies_and_body() {
        let out = r#"{
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
            "body": "{\"message\": \"Hello, world!\"}",
            "cookies": ["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"],
            "isBase64Encoded": false
        }"#;
        let a = answer(out.as_bytes()).unwrap();
        assert_eq!(a.status, 201);
        assert_eq!(
            a.headers,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("my-custom-header".to_string(), "Custom Value".to_string())
            ]
        );
        assert_eq!(
            a.cookies,
            [
                "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT",
                "Cookie_2=Value2; Max-Age=78000"
            ]
        );
        assert_eq!(a.body, r#"{"message": "Hello, world!"}"#.as_bytes());
        let a = answer(br#"{"statusCode": "418", "body": "i'm a teapot"}"#).unwrap();
        assert_eq!((a.status, a.body.as_ref()), (418, b"i'm a teapot".as_ref()));
    }

    #[test]
    fn base64_bodies_and_unanswerable_results() {
        let a = answer(br#"{"statusCode": 200, "body": "AAEC/w==", "isBase64Encoded": true, "headers": {"content-type": "image/png"}}"#).unwrap();
        assert_eq!(a.body.as_ref(), [0u8, 1, 2, 255]);
        assert_eq!(a.headers, vec![("content-type".into(), "image/png".into())]);
        assert!(answer(br#"{"statusCode": 200, "body": "%%", "isBase64Encoded": true}"#).is_err());
        assert!(answer(br#"{"statusCode": "abc"}"#).is_err());
        assert!(answer(br#"{"statusCode": 99}"#).is_err());
        let a = answer(br#"{"statusCode": 204}"#).unwrap();
        assert_eq!((a.status, a.body.len()), (204, 0));
        // Not JSON (a custom runtime's raw bytes): passed on as they are.
        let a = answer(b"plain words").unwrap();
        assert_eq!(a.body.as_ref(), b"plain words");
        assert_eq!(
            minify(b"{ \"a b\" : [1, 2],\n \"c\":\"\\\" x\" }"),
            b"{\"a b\":[1,2],\"c\":\"\\\" x\"}"
        );
    }
}
