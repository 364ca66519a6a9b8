//! SigV4 verification: the `Authorization` header form and the presigned query form, checked
//! once where a request enters (the front door calls [`Verifier::verify`]).
//!
//! The signature is recomputed with the AWS SDK's own signer (`aws-sigv4`, the crate the Rust
//! SDK signs with): the request as received (method, path, query, the headers the client
//! named in `SignedHeaders`, the payload hash) is handed to `aws_sigv4::http_request::sign`
//! with the key pair of the claimed access key and the client's `X-Amz-Date`, and the result is
//! compared in constant time with the client's signature. So the canonicalisation (the path's
//! double encoding and normalisation of non-S3 services, the query's sorting and encoding, the
//! headers' trimming) is the SDK's, not Hako's.
//!
//! The order of the checks and the messages of malformed signatures follow AWS's auth error
//! ordering as `scratchstack-aws-signature` (a verifier built against AWS's answers) records
//! it: the algorithm, the header's parameters, the date, the credential scope, then the key and
//! the signature. The time window is Lambda's: 5 minutes either way (AWS's knowledge center,
//! "Signature expired: ... is now earlier than ... (... - 5 min.)").

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
    SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authority::{Authority, FunctionExists};
use crate::credentials::KeyPair;
use crate::principal::{Principal, PrincipalKind};

/// How far a request's time may be from Hako's, either way.
pub const ALLOWED_SKEW: Duration = Duration::from_secs(5 * 60);

/// The longest validity of a presigned URL (`X-Amz-Expires`): 7 days, as AWS.
pub const MAX_PRESIGNED_EXPIRES: u64 = 7 * 24 * 3600;

/// AWS's message for a signature that does not match.
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";

/// Why a request was refused. The front door renders each in its protocol's shape with the
/// service's codes (the JSON services' `...Exception` names, the query services' own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No signature at all (neither an `Authorization` header nor `X-Amz-Algorithm`).
    MissingToken,
    /// An access key Hako does not know, a session token that does not go with it, or the
    /// credentials of a function that is gone: "The security token included in the request is
    /// invalid."
    InvalidToken,
    /// A session whose time is over.
    ExpiredToken,
    /// A malformed signature (a missing parameter, an unknown algorithm, a credential that is
    /// not `KEY/DATE/REGION/SERVICE/aws4_request`).
    Incomplete(String),
    /// A signature that does not match, or a request too old or too new.
    BadSignature(String),
}

impl AuthError {
    /// The message AWS gives.
    pub fn message(&self) -> &str {
        match self {
            AuthError::MissingToken => "Missing Authentication Token",
            AuthError::InvalidToken => "The security token included in the request is invalid.",
            AuthError::ExpiredToken => "The security token included in the request is expired",
            AuthError::Incomplete(m) | AuthError::BadSignature(m) => m,
        }
    }
}

/// A key Hako knows, with what the signer needs, made once.
struct Key {
    identity: Identity,
    principal: Principal,
}

/// Verifies requests' signatures against the root key pair and the authority's sessions.
pub struct Verifier {
    root_id: String,
    root: Key,
    authority: Arc<Authority>,
    function_exists: FunctionExists,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("root", &self.root_id)
            .finish_non_exhaustive()
    }
}

/// The parameters of a signature, from the header or the query.
struct Claimed<'a> {
    credential: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    date: Cow<'a, str>,
    token: Option<Cow<'a, str>>,
    /// `X-Amz-Expires` of a presigned request.
    expires: Option<u64>,
}

impl Verifier {
    pub fn new(
        account: &str,
        root: &KeyPair,
        authority: Arc<Authority>,
        function_exists: FunctionExists,
    ) -> Verifier {
        let identity = Credentials::new(
            root.access_key_id.clone(),
            root.secret_access_key.clone(),
            None,
            None,
            "hako-root",
        )
        .into();
        Verifier {
            root_id: root.access_key_id.clone(),
            root: Key {
                identity,
                principal: Principal::root(account, &root.access_key_id),
            },
            authority,
            function_exists,
        }
    }

    /// The root principal (what `--auth none` gives every request).
    pub fn root_principal(&self) -> &Principal {
        &self.root.principal
    }

    /// Verifies one request (its head and whole body) at `now`.
    pub fn verify(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Principal, AuthError> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        let query = parts.uri.query().unwrap_or("");
        let algorithm = query_param(query, "X-Amz-Algorithm");
        let claimed =
            match (&header, algorithm) {
                (Some(h), None) => from_header(h, parts)?,
                (None, Some(alg)) => from_query(&alg, query)?,
                (Some(_), Some(_)) => return Err(AuthError::BadSignature(
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                     Signature query string parameter or the Authorization header should be \
                     specified"
                        .into(),
                )),
                (None, None) => return Err(AuthError::MissingToken),
            };
        // The scope: KEY/DATE/REGION/SERVICE/aws4_request.
        let scope: Vec<&str> = claimed.credential.split('/').collect();
        if scope.len() != 5 {
            return Err(AuthError::Incomplete(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{}'",
                claimed.credential
            )));
        }
        let (access_key, scope_date, region, service, term) =
            (scope[0], scope[1], scope[2], scope[3], scope[4]);
        let Some(signed_at) = parse_amz_date(&claimed.date) else {
            return Err(AuthError::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See \
                 http://en.wikipedia.org/wiki/ISO_8601",
                claimed.date
            )));
        };
        check_time(signed_at, claimed.expires, now)?;
        let mut scope_errors = Vec::new();
        if term != "aws4_request" {
            scope_errors.push(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'."
            ));
        }
        if scope_date != &claimed.date[..claimed.date.len().min(8)] {
            scope_errors.push(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{}', from '{}'.",
                &claimed.date[..claimed.date.len().min(8)],
                claimed.date
            ));
        }
        if !scope_errors.is_empty() {
            return Err(AuthError::BadSignature(scope_errors.join(" ")));
        }
        // The key.
        let session;
        let (identity, principal) = if access_key == self.root_id {
            (&self.root.identity, &self.root.principal)
        } else {
            session = self
                .authority
                .session(access_key)
                .ok_or(AuthError::InvalidToken)?;
            if claimed.token.as_deref() != Some(session.token.as_str()) {
                return Err(AuthError::InvalidToken);
            }
            if session.expiration <= now {
                return Err(AuthError::ExpiredToken);
            }
            if let PrincipalKind::Function { function_arn, .. } = &session.principal.kind {
                if !(self.function_exists)(function_arn) {
                    return Err(AuthError::InvalidToken);
                }
            }
            (&session.identity, &session.principal)
        };
        // The signature.
        let signed: Vec<&str> = claimed.signed_headers.split(';').collect();
        if !signed.contains(&"host") {
            return Err(AuthError::BadSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        let expected = self.compute(
            parts, body, &claimed, &signed, identity, region, service, signed_at,
        )?;
        if expected
            .as_bytes()
            .ct_eq(claimed.signature.as_bytes())
            .into()
        {
            Ok(principal.clone())
        } else {
            Err(AuthError::BadSignature(SIGNATURE_MISMATCH.into()))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compute(
        &self,
        parts: &Parts,
        body: &[u8],
        claimed: &Claimed<'_>,
        signed: &[&str],
        identity: &Identity,
        region: &str,
        service: &str,
        signed_at: SystemTime,
    ) -> Result<String, AuthError> {
        let mismatch = || AuthError::BadSignature(SIGNATURE_MISMATCH.into());
        let presigned = claimed.expires.is_some();
        // The headers the client signed, as it sent them (several values of one name are
        // joined by the signer).
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(signed.len());
        for name in signed {
            let mut found = false;
            for v in parts.headers.get_all(*name) {
                headers.push((name, v.to_str().map_err(|_| mismatch())?));
                found = true;
            }
            if !found {
                // A signed header that is not there cannot match.
                return Err(mismatch());
            }
        }
        let payload_hash = match parts
            .headers
            .get("x-amz-content-sha256")
            .map(|v| v.as_bytes())
        {
            Some(b"UNSIGNED-PAYLOAD") => Cow::Borrowed("UNSIGNED-PAYLOAD"),
            Some(v) if v.starts_with(b"STREAMING-") => {
                return Err(AuthError::Incomplete(format!(
                    "Hako serves no service that takes streaming (aws-chunked) payloads: \
                     x-amz-content-sha256 {}",
                    String::from_utf8_lossy(v)
                )))
            }
            _ if presigned && body.is_empty() => Cow::Borrowed(EMPTY_SHA256),
            _ => Cow::Owned(hex::encode(Sha256::digest(body))),
        };
        let uri: Cow<'_, str> = if presigned {
            let path = parts.uri.path();
            let rest = without_signing_params(parts.uri.query().unwrap_or(""));
            if rest.is_empty() {
                Cow::Borrowed(path)
            } else {
                Cow::Owned(format!("{path}?{rest}"))
            }
        } else {
            Cow::Borrowed(
                parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str())
                    .unwrap_or("/"),
            )
        };
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.excluded_headers = None;
        settings.session_token_mode =
            if claimed.token.is_some() && (presigned || signed.contains(&"x-amz-security-token")) {
                SessionTokenMode::Include
            } else {
                SessionTokenMode::Exclude
            };
        if let Some(expires) = claimed.expires {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
        }
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(region)
            .name(service)
            .time(signed_at)
            .settings(settings)
            .build()
            .map_err(|_| mismatch())?;
        let request = SignableRequest::new(
            parts.method.as_str(),
            uri.as_ref(),
            headers.into_iter(),
            SignableBody::Precomputed(payload_hash.into_owned()),
        )
        .map_err(|_| mismatch())?;
        let out = sign(request, &params.into()).map_err(|_| mismatch())?;
        Ok(out.signature().to_string())
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn from_header<'a>(header: &'a str, parts: &'a Parts) -> Result<Claimed<'a>, AuthError> {
    let header = header.trim();
    let (algorithm, params) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(AuthError::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for p in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = p.split_once('=') else {
            return Err(AuthError::Incomplete(format!(
                "'{p}' not a valid key=value pair (missing equal-sign) in Authorization header: \
                 '{header}'"
            )));
        };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let header_value = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
    };
    let date = header_value("x-amz-date").or_else(|| header_value("date"));
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    match (credential, signed_headers, signature, date) {
        (Some(c), Some(h), Some(s), Some(d)) => Ok(Claimed {
            credential: Cow::Borrowed(c),
            signed_headers: Cow::Borrowed(h),
            signature: Cow::Borrowed(s),
            date: d,
            token: header_value("x-amz-security-token"),
            expires: None,
        }),
        _ => Err(AuthError::Incomplete(format!(
            "{} Authorization={algorithm}",
            missing.join(" ")
        ))),
    }
}

fn from_query<'a>(algorithm: &str, query: &'a str) -> Result<Claimed<'a>, AuthError> {
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(AuthError::MissingToken);
    }
    let credential = query_param(query, "X-Amz-Credential");
    let signature = query_param(query, "X-Amz-Signature");
    let signed_headers = query_param(query, "X-Amz-SignedHeaders");
    let date = query_param(query, "X-Amz-Date");
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("AWS query-string parameters must include 'X-Amz-Credential'.");
    }
    if signature.is_none() {
        missing.push("AWS query-string parameters must include 'X-Amz-Signature'.");
    }
    if signed_headers.is_none() {
        missing.push("AWS query-string parameters must include 'X-Amz-SignedHeaders'.");
    }
    if date.is_none() {
        missing.push("AWS query-string parameters must include 'X-Amz-Date'.");
    }
    let expires = match query_param(query, "X-Amz-Expires") {
        Some(e) => match e.parse::<u64>() {
            Ok(e) if e <= MAX_PRESIGNED_EXPIRES => e,
            _ => {
                return Err(AuthError::Incomplete(format!(
                    "X-Amz-Expires must be a number of seconds from 0 to {MAX_PRESIGNED_EXPIRES}, \
                     not '{e}'."
                )))
            }
        },
        None => {
            missing.push("AWS query-string parameters must include 'X-Amz-Expires'.");
            0
        }
    };
    match (credential, signed_headers, signature, date) {
        (Some(c), Some(h), Some(s), Some(d)) if missing.is_empty() => Ok(Claimed {
            credential: c,
            signed_headers: h,
            signature: s,
            date: d,
            token: query_param(query, "X-Amz-Security-Token"),
            expires: Some(expires),
        }),
        _ => Err(AuthError::Incomplete(format!(
            "{} Re-examine the query-string parameters.",
            missing.join(" ")
        ))),
    }
}

/// Checks the request's time: within [`ALLOWED_SKEW`] of `now` either way; a presigned
/// request until its `X-Amz-Expires` has passed.
fn check_time(
    signed_at: SystemTime,
    expires: Option<u64>,
    now: SystemTime,
) -> Result<(), AuthError> {
    let fmt = |t: SystemTime| format_amz_date(t);
    let earliest = now.checked_sub(ALLOWED_SKEW).unwrap_or(now);
    let latest = now + ALLOWED_SKEW;
    if signed_at > latest {
        return Err(AuthError::BadSignature(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            fmt(signed_at),
            fmt(latest),
            fmt(now)
        )));
    }
    match expires {
        None if signed_at < earliest => Err(AuthError::BadSignature(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            fmt(signed_at),
            fmt(earliest),
            fmt(now)
        ))),
        Some(secs) if signed_at + Duration::from_secs(secs) < now => {
            Err(AuthError::BadSignature(format!(
                "Signature expired: {} is now earlier than {} ({} - {} sec.)",
                fmt(signed_at),
                fmt(now.checked_sub(Duration::from_secs(secs)).unwrap_or(now)),
                fmt(now),
                secs
            )))
        }
        _ => Ok(()),
    }
}

/// The first value of `name` in a raw query string, percent-decoded.
fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(v: &str) -> Cow<'_, str> {
    if !v.contains(['%', '+']) {
        return Cow::Borrowed(v);
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The query without the presigning parameters (the signer adds them back itself).
fn without_signing_params(query: &str) -> String {
    const SIGNING: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    query
        .split('&')
        .filter(|kv| {
            let k = kv.split_once('=').map_or(*kv, |(k, _)| k);
            !kv.is_empty() && !SIGNING.contains(&k)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `X-Amz-Date`'s format: `YYYYMMDDTHHMMSSZ`.
const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let t = time::PrimitiveDateTime::parse(s, AMZ_DATE)
        .ok()?
        .assume_utc();
    Some(SystemTime::from(t))
}

fn format_amz_date(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(AMZ_DATE)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! Requests signed by botocore 1.x (`SigV4Auth`, `SigV4QueryAuth`) at 2026-12-07 12:00:00
    //! UTC with the keys below.
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    const ROOT_ID: &str = "AKIAHAKOTESTROOT0001";
    const ROOT_SECRET: &str = "hakoTestSecretKey/0123456789abcdefghijklmn";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:my-fn";

    fn at(secs_after_noon: i64) -> SystemTime {
        let noon = parse_amz_date("20261207T120000Z").unwrap();
        if secs_after_noon >= 0 {
            noon + Duration::from_secs(secs_after_noon as u64)
        } else {
            noon - Duration::from_secs((-secs_after_noon) as u64)
        }
    }

    fn verifier(exists: Arc<AtomicBool>) -> Verifier {
        verifier_until(exists, at(3600))
    }

    fn verifier_until(exists: Arc<AtomicBool>, expiration: SystemTime) -> Verifier {
        let authority = Arc::new(Authority::new("123456789012"));
        authority.insert_for_test(
            &crate::SessionCredentials {
                access_key_id: "ASIAHAKOTESTSESSION1".into(),
                secret_access_key: "sessionSecret/0123456789abcdefghijklmnopq".into(),
                session_token: "tokenTOKENtoken".into(),
                expiration,
            },
            FUNCTION,
            "arn:aws:iam::123456789012:role/fn-role",
        );
        Verifier::new(
            "123456789012",
            &KeyPair::new(ROOT_ID, ROOT_SECRET).unwrap(),
            authority,
            Arc::new(move |arn: &str| {
                assert_eq!(arn, FUNCTION);
                exists.load(Ordering::SeqCst)
            }),
        )
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn invoke(signature: &str) -> Parts {
        request(
            "POST",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations",
            &[
                ("host", "127.0.0.1:9000"),
                ("content-type", "application/json"),
                ("x-amz-date", "20261207T120000Z"),
                ("authorization", &format!("AWS4-HMAC-SHA256 Credential={ROOT_ID}/20261207/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={signature}")),
            ],
        )
    }

    const INVOKE_SIG: &str = "1fda2e3ed04e93d25786d87113149624e32616b84b5a61fc107606c8b5e90fa8";

    #[test]
    fn botocore_signatures_verify() {
        let v = verifier(Arc::new(AtomicBool::new(true)));
        let p = v
            .verify(&invoke(INVOKE_SIG), br#"{"a": 1}"#, at(10))
            .unwrap();
        assert_eq!(p.arn, "arn:aws:iam::123456789012:root");
        // The query string's own encoding (a `+` encoded as %2B).
        let list = request(
            "GET",
            "/2015-03-31/functions/?MaxItems=10&Marker=a%2Bb",
            &[
                ("host", "localhost:9000"),
                ("x-amz-date", "20261207T120000Z"),
                ("authorization", &format!("AWS4-HMAC-SHA256 Credential={ROOT_ID}/20261207/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=c0d26ccebb4599da5b54d43dfee184f50bf48f9e77920677e9eac09931951ef4")),
            ],
        );
        v.verify(&list, b"", at(0)).unwrap();
        // A presigned URL, until it expires.
        let presigned = request(
            "GET",
            &format!("/2015-03-31/functions/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ROOT_ID}%2F20261207%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20261207T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=b672484c9f7f655c6bff2f486e339c2fa245f3ec6e7617c1eefb75dbcc16d8dd"),
            &[("host", "localhost:9000")],
        );
        v.verify(&presigned, b"", at(3000)).unwrap();
        let e = v.verify(&presigned, b"", at(3700)).unwrap_err();
        assert!(
            matches!(&e, AuthError::BadSignature(m) if m.starts_with("Signature expired: 20261207T120000Z")),
            "{e:?}"
        );
    }

    #[test]
    fn a_changed_body_key_or_header_is_refused() {
        let v = verifier(Arc::new(AtomicBool::new(true)));
        let mismatch = AuthError::BadSignature(SIGNATURE_MISMATCH.into());
        assert_eq!(
            v.verify(&invoke(INVOKE_SIG), br#"{"a": 2}"#, at(0)),
            Err(mismatch.clone())
        );
        let mut bad = INVOKE_SIG.to_string();
        bad.replace_range(0..1, "0");
        assert_eq!(
            v.verify(&invoke(&bad), br#"{"a": 1}"#, at(0)),
            Err(mismatch)
        );
        let mut p = invoke(INVOKE_SIG);
        let auth = p.headers["authorization"]
            .to_str()
            .unwrap()
            .replace(ROOT_ID, "AKIAUNKNOWNKEY000000");
        p.headers.insert("authorization", auth.parse().unwrap());
        assert_eq!(
            v.verify(&p, br#"{"a": 1}"#, at(0)),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn the_time_window_is_five_minutes_either_way() {
        let v = verifier(Arc::new(AtomicBool::new(true)));
        let body = br#"{"a": 1}"#;
        assert!(v.verify(&invoke(INVOKE_SIG), body, at(299)).is_ok());
        assert!(v.verify(&invoke(INVOKE_SIG), body, at(-299)).is_ok());
        assert_eq!(
            v.verify(&invoke(INVOKE_SIG), body, at(301)),
            Err(AuthError::BadSignature("Signature expired: 20261207T120000Z is now earlier than 20261207T120001Z (20261207T120501Z - 5 min.)".into()))
        );
        assert_eq!(
            v.verify(&invoke(INVOKE_SIG), body, at(-301)),
            Err(AuthError::BadSignature("Signature not yet current: 20261207T120000Z is still later than 20261207T115959Z (20261207T115459Z + 5 min.)".into()))
        );
    }

    #[test]
    fn malformed_and_missing_signatures() {
        let v = verifier(Arc::new(AtomicBool::new(true)));
        let p = request("GET", "/2015-03-31/functions/", &[("host", "h")]);
        assert_eq!(v.verify(&p, b"", at(0)), Err(AuthError::MissingToken));
        let p = request(
            "GET",
            "/",
            &[
                ("host", "h"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request",
                ),
            ],
        );
        assert_eq!(
            v.verify(&p, b"", at(0)),
            Err(AuthError::Incomplete("Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256".into()))
        );
        let p = request("GET", "/", &[("host", "h"), ("authorization", "Bearer x")]);
        assert_eq!(
            v.verify(&p, b"", at(0)),
            Err(AuthError::Incomplete(
                "Unsupported AWS 'algorithm': 'Bearer'.".into()
            ))
        );
        let p = request(
            "GET",
            "/",
            &[
                ("host", "h"),
                ("x-amz-date", "20261207T120000Z"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
                ),
            ],
        );
        assert!(
            matches!(v.verify(&p, b"", at(0)), Err(AuthError::Incomplete(m)) if m.starts_with("Credential must have exactly 5"))
        );
    }

    fn sts(token: &str) -> Parts {
        request(
            "POST",
            "/",
            &[
                ("host", "127.0.0.1:9000"),
                ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("x-amz-date", "20261207T120000Z"),
                ("x-amz-security-token", token),
                ("authorization", "AWS4-HMAC-SHA256 Credential=ASIAHAKOTESTSESSION1/20261207/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=0fcad60216bad8cd4f32c90764a74d4f59d992e11949ace96b0c46e4eca53272"),
            ],
        )
    }

    #[test]
    fn session_credentials_need_their_token_a_live_function_and_time() {
        let exists = Arc::new(AtomicBool::new(true));
        let v = verifier(exists.clone());
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let p = v.verify(&sts("tokenTOKENtoken"), body, at(0)).unwrap();
        assert_eq!(
            p.arn,
            "arn:aws:sts::123456789012:assumed-role/fn-role/my-fn"
        );
        assert_eq!(
            v.verify(&sts("other"), body, at(0)),
            Err(AuthError::InvalidToken)
        );
        exists.store(false, Ordering::SeqCst);
        assert_eq!(
            v.verify(&sts("tokenTOKENtoken"), body, at(0)),
            Err(AuthError::InvalidToken)
        );
        exists.store(true, Ordering::SeqCst);
        // Past the session's expiry (the request itself is current).
        let v2 = verifier_until(exists, at(60));
        assert!(v2.verify(&sts("tokenTOKENtoken"), body, at(59)).is_ok());
        assert_eq!(
            v2.verify(&sts("tokenTOKENtoken"), body, at(61)),
            Err(AuthError::ExpiredToken)
        );
    }

    #[test]
    fn issued_sessions_are_asia_keys() {
        let a = Authority::new("123456789012");
        let c = a.issue(FUNCTION, "arn:aws:iam::123456789012:role/r", at(0));
        assert!(c.access_key_id.starts_with("ASIA"));
        assert_eq!(c.access_key_id.len(), 20);
        assert_eq!(c.expiration, at(0) + crate::SESSION_LIFETIME);
        assert_eq!(a.len(), 1);
        a.revoke(&c.access_key_id);
        assert!(a.is_empty());
    }
}

#[cfg(test)]
mod cost {
    //! `cargo test --release -p hako-auth -- --ignored --nocapture verify_cost`: what verifying
    //! one signed invoke costs (the door's added work per request besides reading the body).
    use super::tests_support::*;

    #[test]
    #[ignore]
    fn verify_cost() {
        let v = verifier();
        let parts = invoke();
        let mut samples = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let t = std::time::Instant::now();
            let p = v.verify(&parts, br#"{"a": 1}"#, now());
            samples.push(t.elapsed());
            assert!(p.is_ok());
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64) * q) as usize - 1];
        println!(
            "verify: median {:?}, p99 {:?}, max {:?}",
            at(0.5),
            at(0.99),
            samples[samples.len() - 1]
        );
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub(super) fn now() -> SystemTime {
        parse_amz_date("20261207T120010Z").unwrap()
    }

    pub(super) fn verifier() -> Verifier {
        Verifier::new(
            "123456789012",
            &KeyPair::new(
                "AKIAHAKOTESTROOT0001",
                "hakoTestSecretKey/0123456789abcdefghijklmn",
            )
            .unwrap(),
            Arc::new(Authority::new("123456789012")),
            Arc::new(|_: &str| true),
        )
    }

    pub(super) fn invoke() -> Parts {
        http::Request::builder()
            .method("POST")
            .uri("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations")
            .header("host", "127.0.0.1:9000")
            .header("content-type", "application/json")
            .header("x-amz-date", "20261207T120000Z")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIAHAKOTESTROOT0001/20261207/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=1fda2e3ed04e93d25786d87113149624e32616b84b5a61fc107606c8b5e90fa8")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }
}
