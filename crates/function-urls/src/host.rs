//! Which URL a request is for: by its `Host` (`<url-id>.lambda-url.<region>.on.aws`, or
//! `.localhost` for local DNS, any port), or by the path form `/_hako/urls/<url-id>/<path>` for
//! clients that cannot set `Host`.

use hako_model::function_url::is_url_id;

/// The path form's prefix.
pub const PATH_PREFIX: &str = "/_hako/urls/";

/// A request's URL, as addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressed<'a> {
    /// The URL id as written (compare without case).
    pub url_id: &'a str,
    /// The host name without the port (Host form); `None` for the path form.
    pub domain: Option<&'a str>,
    /// The path the function sees (`/` at least), without the path form's prefix.
    pub path: &'a str,
}

/// The URL id of a `Host` value in a function URL's form, and the host name without its port.
pub fn url_id_of_host(host: &str) -> Option<(&str, &str)> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let (id, rest) = name.split_once('.')?;
    let (label, rest) = rest.split_once('.')?;
    let (region, domain) = rest.split_once('.')?;
    let served = domain.eq_ignore_ascii_case("on.aws") || domain.eq_ignore_ascii_case("localhost");
    (label.eq_ignore_ascii_case("lambda-url") && !region.is_empty() && served && is_url_id(id))
        .then_some((id, name))
}

/// What a request with this `Host` and path addresses, if it is a function URL's.
pub fn addressed<'a>(host: Option<&'a str>, path: &'a str) -> Option<Addressed<'a>> {
    if let Some((url_id, domain)) = host.and_then(url_id_of_host) {
        return Some(Addressed {
            url_id,
            domain: Some(domain),
            path,
        });
    }
    let rest = path.strip_prefix(PATH_PREFIX)?;
    let (url_id, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    is_url_id(url_id).then_some(Addressed {
        url_id,
        domain: None,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";

    #[test]
    fn the_host_or_the_path_names_the_url() {
        for host in [
            format!("{ID}.lambda-url.us-east-1.on.aws"),
            format!("{ID}.lambda-url.us-east-1.on.aws:9000"),
            format!("{ID}.lambda-url.eu-west-1.localhost:8080"),
            format!("{}.LAMBDA-URL.us-east-1.ON.AWS", ID.to_uppercase()),
        ] {
            let a = addressed(Some(&host), "/x").unwrap_or_else(|| panic!("{host}"));
            assert!(a.url_id.eq_ignore_ascii_case(ID), "{host}");
            assert_eq!(a.path, "/x");
            assert!(!a.domain.unwrap().contains(':'));
        }
        for host in [
            "127.0.0.1:9000".to_string(),
            format!("{ID}.lambda-url.us-east-1.example.com"),
            "short.lambda-url.us-east-1.on.aws".into(),
            format!("{ID}.lambda.us-east-1.on.aws"),
        ] {
            assert_eq!(addressed(Some(&host), "/x"), None, "{host}");
        }
        let p = format!("/_hako/urls/{ID}/a/b");
        let a = addressed(Some("127.0.0.1:9000"), &p).unwrap();
        assert_eq!((a.url_id, a.path, a.domain), (ID, "/a/b", None));
        let p = format!("/_hako/urls/{ID}");
        let a = addressed(None, &p).unwrap();
        assert_eq!(a.path, "/");
        assert_eq!(addressed(None, "/_hako/urls/nope/x"), None);
        assert_eq!(addressed(None, "/2015-03-31/functions"), None);
    }
}
