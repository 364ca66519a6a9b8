//! Kinesis's CBOR flavour of the JSON 1.1 protocol (`application/x-amz-cbor-1.1`), what the Java
//! SDKs (and the KCL on them) send by default: the same members as JSON, blobs as CBOR byte
//! strings, timestamps as tag 1 over an integer of epoch *milliseconds* (AWS's departure from
//! RFC 8949, which LocalStack's AWS-validated `test_subscribe_to_shard_with_at_timestamp_cbor`
//! asserts and aws-sdk-java-v2 issue 4661 describes). Translated to and from the JSON values the
//! operations already parse and answer, so the operations do not know which one came.

use base64::Engine as _;
use ciborium::Value as Cbor;
use serde_json::Value as Json;

/// The content type of CBOR requests and answers.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// The members holding timestamps in Kinesis's answers (botocore: shapes of type timestamp).
const TIMESTAMP_MEMBERS: &[&str] = &[
    "ApproximateArrivalTimestamp",
    "StreamCreationTimestamp",
    "ConsumerCreationTimestamp",
];
/// The members holding blobs in Kinesis's answers.
const BLOB_MEMBERS: &[&str] = &["Data"];

/// A CBOR request body as the JSON value the operations parse.
pub(crate) fn to_json(body: &[u8]) -> Result<Json, String> {
    let v: Cbor = ciborium::from_reader(body).map_err(|e| e.to_string())?;
    Ok(json_of(v))
}

fn json_of(v: Cbor) -> Json {
    match v {
        Cbor::Integer(i) => {
            let n = i128::from(i);
            i64::try_from(n)
                .map(Json::from)
                .unwrap_or_else(|_| Json::from(n as f64))
        }
        Cbor::Float(f) => Json::from(f),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Null => Json::Null,
        // Tag 1: epoch milliseconds, as seconds for the operations.
        Cbor::Tag(1, inner) => match *inner {
            Cbor::Integer(i) => Json::from(i128::from(i) as f64 / 1000.0),
            Cbor::Float(f) => Json::from(f / 1000.0),
            other => json_of(other),
        },
        Cbor::Tag(_, inner) => json_of(*inner),
        Cbor::Array(a) => Json::Array(a.into_iter().map(json_of).collect()),
        Cbor::Map(m) => Json::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, json_of(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// An answer (a JSON value) as a CBOR body.
pub(crate) fn from_json(v: &Json) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec fails only on values CBOR cannot hold, which JSON values are not.
    let _ = ciborium::into_writer(&cbor_of(v, None), &mut out);
    out
}

fn cbor_of(v: &Json, member: Option<&str>) -> Cbor {
    match v {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::Number(n) if member.is_some_and(|m| TIMESTAMP_MEMBERS.contains(&m)) => {
            let ms = (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            Cbor::Tag(1, Box::new(Cbor::Integer(ms.into())))
        }
        Json::Number(n) => match n.as_i64() {
            Some(i) => Cbor::Integer(i.into()),
            None => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) if member.is_some_and(|m| BLOB_MEMBERS.contains(&m)) => {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(b) => Cbor::Bytes(b),
                Err(_) => Cbor::Text(s.clone()),
            }
        }
        Json::String(s) => Cbor::Text(s.clone()),
        Json::Array(a) => Cbor::Array(a.iter().map(|x| cbor_of(x, None)).collect()),
        Json::Object(o) => Cbor::Map(
            o.iter()
                .map(|(k, x)| (Cbor::Text(k.clone()), cbor_of(x, Some(k))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_millisecond_timestamps_translate_both_ways() {
        let req = Cbor::Map(vec![
            (Cbor::Text("Data".into()), Cbor::Bytes(b"hi".to_vec())),
            (
                Cbor::Text("Timestamp".into()),
                Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_123i64.into()))),
            ),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&req, &mut body).unwrap();
        let j = to_json(&body).unwrap();
        assert_eq!(j["Data"], "aGk=");
        assert_eq!(j["Timestamp"].as_f64(), Some(1_700_000_000.123));
        let answer = serde_json::json!({"Records": [{"Data": "aGk=", "ApproximateArrivalTimestamp": 1700000000.5, "PartitionKey": "k"}]});
        let back: Cbor = ciborium::from_reader(&from_json(&answer)[..]).unwrap();
        let rec = &back.as_map().unwrap()[0].1.as_array().unwrap()[0];
        let rec = rec.as_map().unwrap();
        assert_eq!(
            rec[0].1,
            Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_500i64.into())))
        );
        assert_eq!(rec[1].1, Cbor::Bytes(b"hi".to_vec()));
    }
}
