//! A URL's CORS settings on the wire (AWS's guide "Creating and managing Lambda function URLs",
//! Cross-origin resource sharing): `AllowOrigins`, `AllowMethods`, `AllowHeaders`,
//! `ExposeHeaders`, `AllowCredentials` and `MaxAge` become the `Access-Control-*` headers; a
//! preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) of a URL with CORS
//! settings is answered by Hako without invoking the function; the configured headers are added
//! to every response and win over the function's own. An `Origin` the settings do not allow
//! gets no `Access-Control-*` header, so the browser refuses the response.

use axum::http::{HeaderMap, Method};
use hako_model::function_url::Cors;

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key("origin")
        && headers.contains_key("access-control-request-method")
}

/// The `Access-Control-Allow-Origin` value for the request's `Origin`: `*` when every origin is
/// allowed (the origin itself when credentials are allowed too, which `*` may not carry), the
/// origin when it is listed (without case), else none.
pub fn allowed_origin(cors: &Cors, origin: Option<&str>) -> Option<String> {
    let origins = cors.allow_origins.as_deref().unwrap_or(&[]);
    let credentials = cors.allow_credentials == Some(true);
    if origins.iter().any(|o| o == "*") {
        return match (credentials, origin) {
            (true, Some(o)) => Some(o.to_string()),
            _ => Some("*".into()),
        };
    }
    let origin = origin?;
    origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        .then(|| origin.to_string())
}

fn joined(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().filter(|l| !l.is_empty()).map(|l| l.join(","))
}

/// The headers of a preflight's answer.
pub fn preflight_headers(cors: &Cors, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(allow_origin) = allowed_origin(cors, origin) else {
        return Vec::new();
    };
    let mut h = vec![("access-control-allow-origin", allow_origin)];
    if let Some(m) = joined(&cors.allow_methods) {
        h.push(("access-control-allow-methods", m));
    }
    if let Some(a) = joined(&cors.allow_headers) {
        h.push(("access-control-allow-headers", a));
    }
    if cors.allow_credentials == Some(true) {
        h.push(("access-control-allow-credentials", "true".into()));
    }
    if let Some(age) = cors.max_age {
        h.push(("access-control-max-age", age.to_string()));
    }
    h
}

/// The headers added to a response.
pub fn response_headers(cors: &Cors, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(allow_origin) = allowed_origin(cors, origin) else {
        return Vec::new();
    };
    let mut h = vec![("access-control-allow-origin", allow_origin)];
    if let Some(e) = joined(&cors.expose_headers) {
        h.push(("access-control-expose-headers", e));
    }
    if cors.allow_credentials == Some(true) {
        h.push(("access-control-allow-credentials", "true".into()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: bool) -> Cors {
        Cors {
            allow_origins: Some(origins.iter().map(|s| s.to_string()).collect()),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["x-custom".into()]),
            expose_headers: Some(vec!["x-out".into()]),
            allow_credentials: credentials.then_some(true),
            max_age: Some(300),
        }
    }

    #[test]
    fn origins_are_matched_and_headers_built() {
        let c = cors(&["https://a.example"], false);
        assert_eq!(
            preflight_headers(&c, Some("https://A.example")),
            vec![
                (
                    "access-control-allow-origin",
                    "https://A.example".to_string()
                ),
                ("access-control-allow-methods", "GET,POST".into()),
                ("access-control-allow-headers", "x-custom".into()),
                ("access-control-max-age", "300".into()),
            ]
        );
        assert!(preflight_headers(&c, Some("https://evil.example")).is_empty());
        assert!(response_headers(&c, None).is_empty());
        assert_eq!(
            response_headers(&c, Some("https://a.example")),
            vec![
                (
                    "access-control-allow-origin",
                    "https://a.example".to_string()
                ),
                ("access-control-expose-headers", "x-out".into()),
            ]
        );
        let any = cors(&["*"], false);
        assert_eq!(allowed_origin(&any, None).as_deref(), Some("*"));
        assert_eq!(
            allowed_origin(&any, Some("https://b")).as_deref(),
            Some("*")
        );
        let creds = cors(&["*"], true);
        assert_eq!(
            allowed_origin(&creds, Some("https://b")).as_deref(),
            Some("https://b")
        );
        let mut h = HeaderMap::new();
        assert!(!is_preflight(&Method::OPTIONS, &h));
        h.insert("origin", "https://a".parse().unwrap());
        h.insert("access-control-request-method", "POST".parse().unwrap());
        assert!(is_preflight(&Method::OPTIONS, &h));
        assert!(!is_preflight(&Method::GET, &h));
    }
}
