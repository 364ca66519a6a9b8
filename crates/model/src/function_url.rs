//! Function URLs (CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
//! DeleteFunctionUrlConfig, ListFunctionUrlConfigs): the stored shape, the wire shapes of
//! botocore's model, the checks and AWS's messages, and the URL id.
//!
//! A URL belongs to `$LATEST` (an unqualified request) or to one alias, never to a version; a
//! qualifier has at most one. Its address is `https://<url-id>.lambda-url.<region>.on.aws/`,
//! the id 32 lowercase letters and digits as AWS's are. How a request to it becomes an event is
//! `hako-function-urls`' business.
//!
//! Auth: `AWS_IAM` is stored and shown as AWS does, but a URL is not authenticated yet (the
//! authentication issue adds SigV4 checks and the `lambda:InvokeFunctionUrl` permission at the
//! one place [`FunctionUrlRecord::auth_type`] is read when serving).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::names::Region;
use crate::validation::{shapes, Violations};

/// `FunctionUrlAuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

/// `InvokeMode`: a `BUFFERED` URL answers once the function returned; a `RESPONSE_STREAM` URL
/// streams what the function writes (served later, with response streaming).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvokeMode {
    Buffered,
    ResponseStream,
}

/// `Cors`, as sent and as shown (members absent when not given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// One function URL as Hako stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionUrlRecord {
    pub function_name: String,
    /// `$LATEST` or an alias name.
    pub qualifier: String,
    pub url_id: String,
    pub auth_type: AuthType,
    pub cors: Option<Cors>,
    /// As given; `None` never given (Get shows `BUFFERED`, Create and Update show nothing:
    /// LocalStack's AWS-recorded `test_url_config_lifecycle`).
    pub invoke_mode: Option<InvokeMode>,
    pub creation_time: String,
    pub last_modified_time: String,
}

impl FunctionUrlRecord {
    /// `https://<url-id>.lambda-url.<region>.on.aws/`.
    pub fn function_url(&self, region: &Region) -> String {
        function_url(&self.url_id, &region.region)
    }

    /// The function's ARN, qualified by the alias for an alias's URL.
    pub fn function_arn(&self, region: &Region) -> String {
        if self.qualifier == LATEST {
            region.function_arn(&self.function_name)
        } else {
            region.qualified_arn(&self.function_name, &self.qualifier)
        }
    }

    /// The qualifier to invoke: `None` for `$LATEST` (an unqualified invocation), else the alias.
    pub fn invoke_qualifier(&self) -> Option<&str> {
        (self.qualifier != LATEST).then_some(self.qualifier.as_str())
    }

    pub fn mode(&self) -> InvokeMode {
        self.invoke_mode.unwrap_or(InvokeMode::Buffered)
    }

    /// CreateFunctionUrlConfig's answer.
    pub fn created(&self, region: &Region) -> CreateFunctionUrlConfigResponse {
        CreateFunctionUrlConfigResponse {
            function_url: self.function_url(region),
            function_arn: self.function_arn(region),
            auth_type: self.auth_type,
            cors: self.cors.clone(),
            creation_time: self.creation_time.clone(),
            invoke_mode: self.invoke_mode,
        }
    }

    /// The answer of Get (`with_default_mode`), Update and an item of List (`with_default_mode`).
    pub fn config(&self, region: &Region, with_default_mode: bool) -> FunctionUrlConfig {
        FunctionUrlConfig {
            function_url: self.function_url(region),
            function_arn: self.function_arn(region),
            auth_type: self.auth_type,
            cors: self.cors.clone(),
            creation_time: self.creation_time.clone(),
            last_modified_time: self.last_modified_time.clone(),
            invoke_mode: if with_default_mode {
                Some(self.mode())
            } else {
                self.invoke_mode
            },
        }
    }
}

/// The qualifier of an unqualified URL.
pub const LATEST: &str = "$LATEST";

/// The address of URL `url_id` in `region`.
pub fn function_url(url_id: &str, region: &str) -> String {
    format!("https://{url_id}.lambda-url.{region}.on.aws/")
}

/// The length of a URL id.
pub const URL_ID_LEN: usize = 32;

/// A new URL id, 32 lowercase letters and digits (as AWS's), from `random` (called once per
/// character; any value, reduced to the alphabet).
pub fn new_url_id(mut random: impl FnMut() -> u32) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..URL_ID_LEN)
        .map(|_| char::from(ALPHABET[(random() % 36) as usize]))
        .collect()
}

/// Whether `s` has the form of a URL id (compared without case, as a host name is).
pub fn is_url_id(s: &str) -> bool {
    s.len() == URL_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// CreateFunctionUrlConfig's body (enums as sent, checked by [`validate_create`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionUrlConfigRequest {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// UpdateFunctionUrlConfig's body: the same members, none required.
pub type UpdateFunctionUrlConfigRequest = CreateFunctionUrlConfigRequest;

/// `CreateFunctionUrlConfigResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionUrlConfigResponse {
    pub function_url: String,
    pub function_arn: String,
    pub auth_type: AuthType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    pub creation_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_mode: Option<InvokeMode>,
}

/// `GetFunctionUrlConfigResponse`, `UpdateFunctionUrlConfigResponse` and `FunctionUrlConfig`
/// (the same members).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfig {
    pub function_url: String,
    pub function_arn: String,
    pub auth_type: AuthType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    pub creation_time: String,
    pub last_modified_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_mode: Option<InvokeMode>,
}

/// ListFunctionUrlConfigs' answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionUrlConfigsResponse {
    pub function_url_configs: Vec<FunctionUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Checks the `FunctionName` and `Qualifier` of a URL request against the model
/// (`FunctionUrlFunctionName`, `FunctionUrlQualifier`): a version or `$LATEST` as the qualifier
/// is a `ValidationException` (LocalStack's AWS-recorded `test_url_config_exceptions`).
pub fn validate_target(function: &str, qualifier: Option<&str>) -> Result<(), Error> {
    let mut v = Violations::new();
    check_target(&mut v, function, qualifier);
    v.finish()
}

/// The target's members against `FunctionUrlFunctionName` and `FunctionUrlQualifier`.
fn check_target(v: &mut Violations, function: &str, qualifier: Option<&str>) {
    v.string(
        "functionName",
        function,
        &shapes::FUNCTION_URL_FUNCTION_NAME,
    );
    v.opt_string("qualifier", qualifier, &shapes::FUNCTION_URL_QUALIFIER);
}

/// What a Create or Update sets, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlChanges {
    pub auth_type: Option<AuthType>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<InvokeMode>,
}

/// Checks a CreateFunctionUrlConfig body with its target: `AuthType` is required.
pub fn validate_create(
    function: &str,
    qualifier: Option<&str>,
    req: &CreateFunctionUrlConfigRequest,
) -> Result<UrlChanges, Error> {
    validate(function, qualifier, req, true)
}

/// Checks an UpdateFunctionUrlConfig body with its target.
pub fn validate_update(
    function: &str,
    qualifier: Option<&str>,
    req: &UpdateFunctionUrlConfigRequest,
) -> Result<UrlChanges, Error> {
    validate(function, qualifier, req, false)
}

fn validate(
    function: &str,
    qualifier: Option<&str>,
    req: &CreateFunctionUrlConfigRequest,
    auth_required: bool,
) -> Result<UrlChanges, Error> {
    let mut v = Violations::new();
    check_target(&mut v, function, qualifier);
    if auth_required {
        v.required("authType", req.auth_type.as_deref());
    }
    v.opt_string(
        "authType",
        req.auth_type.as_deref(),
        &shapes::FUNCTION_URL_AUTH_TYPE,
    );
    if let Some(c) = &req.cors {
        if let Some(h) = &c.allow_headers {
            v.list("cors.allowHeaders", h, &shapes::CORS_HEADERS_LIST);
        }
        if let Some(m) = &c.allow_methods {
            v.list("cors.allowMethods", m, &shapes::CORS_ALLOW_METHODS_LIST);
        }
        if let Some(o) = &c.allow_origins {
            v.list("cors.allowOrigins", o, &shapes::CORS_ALLOW_ORIGINS_LIST);
        }
        if let Some(h) = &c.expose_headers {
            v.list("cors.exposeHeaders", h, &shapes::CORS_HEADERS_LIST);
        }
        v.opt_integer("cors.maxAge", c.max_age, &shapes::CORS_MAX_AGE);
    }
    v.opt_string(
        "invokeMode",
        req.invoke_mode.as_deref(),
        &shapes::INVOKE_MODE,
    );
    v.finish()?;
    Ok(UrlChanges {
        auth_type: req.auth_type.as_deref().and_then(enum_value),
        cors: req.cors.clone(),
        invoke_mode: req.invoke_mode.as_deref().and_then(enum_value),
    })
}

/// A checked enum member as its type.
fn enum_value<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

impl FunctionUrlRecord {
    /// Applies an Update's changes (what is not given stays) at `now`.
    pub fn apply(&mut self, c: UrlChanges, now: String) {
        if let Some(a) = c.auth_type {
            self.auth_type = a;
        }
        if let Some(cors) = c.cors {
            self.cors = Some(cors);
        }
        if let Some(m) = c.invoke_mode {
            self.invoke_mode = Some(m);
        }
        self.last_modified_time = now;
    }
}

/// Create, Update and List of a function, or an alias, that does not exist (LocalStack's
/// AWS-recorded `test_url_config_exceptions`, `*_name_doesnotexist`,
/// `*_qualifier_alias_doesnotexist`; `test_url_config_list_paging`, `list_function_notfound`).
pub fn function_does_not_exist() -> Error {
    Error::not_found("Function does not exist")
}

/// Get and Delete of a function, an alias or a URL that does not exist, and Update of a URL
/// that does not exist (LocalStack's AWS-recorded `test_url_config_exceptions`,
/// `*_config_doesnotexist`).
pub fn resource_does_not_exist() -> Error {
    Error::not_found("The resource you requested does not exist.")
}

/// Create where the qualifier has a URL (LocalStack's AWS-recorded `test_url_config_lifecycle`,
/// `failed_duplication`; two spaces after "Error message:", as AWS writes it).
pub fn url_exists(function_arn: &str) -> Error {
    Error::conflict(format!(
        "Failed to create function url config for [functionArn = {function_arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
    ))
}

/// ISO-8601 with microseconds and `Z`, the form of `CreationTime` and `LastModifiedTime` (the
/// API reference: "in ISO-8601 format (YYYY-MM-DDThh:mm:ss.sTZD)").
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn create(auth: Option<&str>, mode: Option<&str>) -> CreateFunctionUrlConfigRequest {
        CreateFunctionUrlConfigRequest {
            auth_type: auth.map(Into::into),
            cors: None,
            invoke_mode: mode.map(Into::into),
        }
    }

    #[test]
    fn a_version_or_latest_is_no_url_qualifier() {
        // LocalStack's AWS-recorded test_url_config_exceptions (create/get/update/delete alike).
        for (q, value) in [
            (Some("1"), "1"),
            (Some("2"), "2"),
            (Some("$LATEST"), "$LATEST"),
        ] {
            let e = validate_target("f", q).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Validation);
            assert_eq!(
                e.message,
                format!("1 validation error detected: Value '{value}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)")
            );
        }
        assert!(validate_target("f", Some("urlalias")).is_ok());
        assert!(validate_target("f", Some("v1")).is_ok());
        assert!(validate_target("f:live", None).is_ok());
        assert!(validate_target(
            "arn:aws:lambda:us-east-1:123456789012:function:f:live",
            None
        )
        .is_ok());
        // In the name too (botocore's FunctionUrlFunctionName).
        for name in ["f:1", "f:$LATEST", &"a".repeat(65)] {
            let e = validate_target(name, None).unwrap_err();
            assert!(
                e.message.contains("at 'functionName'"),
                "{name}: {}",
                e.message
            );
        }
    }

    #[test]
    fn auth_type_is_required_and_enums_are_checked() {
        let e = validate_create("f", None, &create(None, None)).unwrap_err();
        assert_eq!(e.message, "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null");
        // LocalStack's AWS-recorded test_lambda_url_invalid_invoke_mode.
        let e = validate_create("f", None, &create(Some("NONE"), Some("UNKNOWN"))).unwrap_err();
        assert_eq!(e.message, "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]");
        let e = validate_create("f", None, &create(Some("OPEN"), None)).unwrap_err();
        assert!(
            e.message.contains("Value 'OPEN' at 'authType'"),
            "{}",
            e.message
        );
        let c =
            validate_create("f", None, &create(Some("AWS_IAM"), Some("RESPONSE_STREAM"))).unwrap();
        assert_eq!(c.auth_type, Some(AuthType::AwsIam));
        assert_eq!(c.invoke_mode, Some(InvokeMode::ResponseStream));
    }

    #[test]
    fn cors_is_checked_against_its_shapes() {
        let req = UpdateFunctionUrlConfigRequest {
            cors: Some(Cors {
                allow_methods: Some(vec!["GET".into(), "OPTIONSX".into()]),
                max_age: Some(86_401),
                ..Cors::default()
            }),
            ..UpdateFunctionUrlConfigRequest::default()
        };
        let e = validate_update("f", None, &req).unwrap_err();
        assert_eq!(e.message, "2 validation errors detected: Value '[GET, OPTIONSX]' at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: .*, Member must not be null]; Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400");
    }

    #[test]
    fn shapes_and_addresses_are_awss() {
        let mut n = 0u32;
        let id = new_url_id(|| {
            n += 7;
            n
        });
        assert_eq!(id.len(), 32);
        assert!(is_url_id(&id));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let r = FunctionUrlRecord {
            function_name: "f".into(),
            qualifier: "live".into(),
            url_id: id.clone(),
            auth_type: AuthType::None,
            cors: None,
            invoke_mode: None,
            creation_time: "2026-01-01T00:00:00.000000Z".into(),
            last_modified_time: "2026-01-01T00:00:00.000000Z".into(),
        };
        let region = Region::default();
        assert_eq!(
            r.function_url(&region),
            format!("https://{id}.lambda-url.us-east-1.on.aws/")
        );
        assert_eq!(
            r.function_arn(&region),
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        );
        assert_eq!(r.invoke_qualifier(), Some("live"));
        // Create shows InvokeMode only when given; Get always (LocalStack's AWS-recorded
        // test_url_config_lifecycle).
        let created = serde_json::to_value(r.created(&region)).unwrap();
        assert!(created.get("InvokeMode").is_none());
        assert!(created.get("LastModifiedTime").is_none());
        let got = serde_json::to_value(r.config(&region, true)).unwrap();
        assert_eq!(got["InvokeMode"], "BUFFERED");
        assert_eq!(got["AuthType"], "NONE");
        let updated = serde_json::to_value(r.config(&region, false)).unwrap();
        assert!(updated.get("InvokeMode").is_none());
        assert_eq!(
            format_time(time::macros::datetime!(2026-03-04 05:06:07.123456 UTC)),
            "2026-03-04T05:06:07.123456Z"
        );
    }
}
