//! AWS Signature Version 4 in the header form botocore sends (`Authorization:
//! AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
//! SignedHeaders=..., Signature=...`), for Hako's own clients of AWS's JSON
//! protocols: `hako bench`'s queue and stream modes, and the event source
//! mappings' pollers of queues and streams outside Hako.
//!
//! Written over RustCrypto's `hmac` and `sha2` rather than the SDK's
//! `aws-sigv4`: that crate pulls the smithy runtime (aws-smithy-types,
//! -http, -runtime-api, -async, aws-credential-types), `futures-util` and a
//! second `sha2`/`digest` generation (measured: +42 crates, ~16 s more wall
//! time of a clean release build on 2 busy vCPUs), for a canonical request
//! Hako only ever builds for `POST /` with a handful of headers. The tests pin
//! it to AWS's published test suite and to signatures botocore computed.

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// The credentials a request is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Sent as `X-Amz-Security-Token` (and signed) when set.
    pub session_token: Option<String>,
}

/// Signs for one region and service (`sqs`, `kinesis`), caching the day's
/// signing key.
#[derive(Debug)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    /// `(YYYYMMDD, key)` of the last signature.
    key: Mutex<Option<(String, [u8; 32])>>,
}

/// `X-Amz-Date` and the credential scope's date of one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate {
    /// `YYYYMMDDTHHMMSSZ`.
    pub timestamp: String,
}

impl AmzDate {
    pub fn from(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        Self {
            timestamp: format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
        }
    }

    pub fn now() -> Self {
        Self::from(OffsetDateTime::now_utc())
    }

    fn day(&self) -> &str {
        &self.timestamp[..8]
    }
}

/// A service of AWS's JSON protocols that Hako's clients speak (`POST /` with `X-Amz-Target:
/// <prefix>.<Operation>` and a JSON body): its signing name, target prefix and content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonService {
    /// SQS, `x-amz-json-1.0`.
    Sqs,
    /// Kinesis Data Streams, `x-amz-json-1.1`.
    Kinesis,
}

impl JsonService {
    pub fn signing_name(self) -> &'static str {
        match self {
            JsonService::Sqs => "sqs",
            JsonService::Kinesis => "kinesis",
        }
    }

    pub fn target_prefix(self) -> &'static str {
        match self {
            JsonService::Sqs => "AmazonSQS",
            JsonService::Kinesis => "Kinesis_20131202",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            JsonService::Sqs => "application/x-amz-json-1.0",
            JsonService::Kinesis => "application/x-amz-json-1.1",
        }
    }
}

/// Lowercase hex of SHA-256 (the payload hash of a canonical request).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl Signer {
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Self {
            credentials,
            region: region.to_string(),
            service: service.to_string(),
            key: Mutex::new(None),
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn signing_key(&self, day: &str) -> [u8; 32] {
        let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((d, k)) = cached.as_ref() {
            if d == day {
                return *k;
            }
        }
        let secret = format!("AWS4{}", self.credentials.secret_access_key);
        let k = hmac(secret.as_bytes(), day.as_bytes());
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, self.service.as_bytes());
        let k = hmac(&k, b"aws4_request");
        *cached = Some((day.to_string(), k));
        k
    }

    /// The `Authorization` value for a request. `headers` are the signed
    /// headers as (name, value); names are lowercased and sorted here, values
    /// trimmed with inner runs of spaces collapsed, as the canonical form
    /// requires. `canonical_uri` and `canonical_query` must already be in
    /// canonical form (`/` and `""` for every request of this crate).
    pub fn authorization(
        &self,
        method: &str,
        canonical_uri: &str,
        canonical_query: &str,
        headers: &[(&str, &str)],
        payload_sha256_hex: &str,
        date: &AmzDate,
    ) -> String {
        let mut hs: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    v.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        hs.sort();
        let signed_headers = hs
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let mut canonical = String::with_capacity(256);
        canonical.push_str(method);
        canonical.push('\n');
        canonical.push_str(canonical_uri);
        canonical.push('\n');
        canonical.push_str(canonical_query);
        canonical.push('\n');
        for (n, v) in &hs {
            canonical.push_str(n);
            canonical.push(':');
            canonical.push_str(v);
            canonical.push('\n');
        }
        canonical.push('\n');
        canonical.push_str(&signed_headers);
        canonical.push('\n');
        canonical.push_str(payload_sha256_hex);

        let scope = format!(
            "{}/{}/{}/aws4_request",
            date.day(),
            self.region,
            self.service
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            date.timestamp,
            sha256_hex(canonical.as_bytes())
        );
        let signature = hex::encode(hmac(
            &self.signing_key(date.day()),
            string_to_sign.as_bytes(),
        ));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.credentials.access_key_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's SigV4 test suite credentials
    /// (<https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html>).
    fn suite_signer(service: &str) -> Signer {
        Signer::new(
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            "us-east-1",
            service,
        )
    }

    fn suite_date() -> AmzDate {
        AmzDate::from(time::macros::datetime!(2015-08-30 12:36:00 UTC))
    }

    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");

    #[test]
    fn amz_date_format() {
        assert_eq!(suite_date().timestamp, "20150830T123600Z");
        assert_eq!(suite_date().day(), "20150830");
        let d = AmzDate::from(time::macros::datetime!(2026-01-02 03:04:05 +02:00));
        assert_eq!(d.timestamp, "20260102T010405Z");
    }

    /// get-vanilla, post-vanilla and post-x-www-form-urlencoded of AWS's
    /// SigV4 test suite (the same values botocore's SigV4Auth computes).
    #[test]
    fn aws_test_suite_vectors() {
        let s = suite_signer("service");
        let d = suite_date();
        let date = ("X-Amz-Date", "20150830T123600Z");
        let empty = sha256_hex(b"");
        assert_eq!(
            s.authorization("GET", "/", "", &[HOST, date], &empty, &d),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(s
            .authorization("POST", "/", "", &[date, HOST], &empty, &d)
            .ends_with(
                "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            ));
        let form = s.authorization(
            "POST",
            "/",
            "",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                HOST,
                date,
            ],
            &sha256_hex(b"Param1=value1"),
            &d,
        );
        assert!(
            form.contains("SignedHeaders=content-type;host;x-amz-date,"),
            "{form}"
        );
        assert!(form.ends_with(
            "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        ));
    }

    /// A SendMessage body over the JSON protocol, signed by botocore 1.44's
    /// SigV4Auth with the test suite's credentials and the clock fixed at
    /// 2026-12-07T13:30:00Z (`get_current_datetime` patched): the same
    /// scope, signed headers and signature.
    #[test]
    fn matches_botocore_for_a_json_sqs_request() {
        let s = suite_signer("sqs");
        let d = AmzDate::from(time::macros::datetime!(2026-12-07 13:30:00 UTC));
        let body = br#"{"QueueUrl":"http://127.0.0.1:9000/123456789012/q","MessageBody":"hello"}"#;
        let auth = s.authorization(
            "POST",
            "/",
            "",
            &[
                ("X-Amz-Target", "AmazonSQS.SendMessage"),
                ("Content-Type", "application/x-amz-json-1.0"),
                ("Host", "127.0.0.1:9000"),
                ("X-Amz-Date", &d.timestamp),
            ],
            &sha256_hex(body),
            &d,
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=b8e28392e070ff11589e56f31d8e7b34a591ba02cb4e5c7de2fcdac7b9f63847"
        );
    }

    #[test]
    fn key_cache_follows_the_day() {
        let s = suite_signer("service");
        let k1 = s.signing_key("20150830");
        assert_eq!(s.signing_key("20150830"), k1);
        let k2 = s.signing_key("20150831");
        assert_ne!(k1, k2);
        assert_eq!(s.signing_key("20150830"), k1);
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let s = suite_signer("service");
        let d = suite_date();
        let a = s.authorization(
            "POST",
            "/",
            "",
            &[("X-Amz-Date", "20150830T123600Z"), ("Host", "  a   b ")],
            "x",
            &d,
        );
        let b = s.authorization(
            "POST",
            "/",
            "",
            &[("host", "a b"), ("x-amz-date", "20150830T123600Z")],
            "x",
            &d,
        );
        assert_eq!(a, b);
    }
}
