//! Validation of tags (CreateFunction's `Tags`, TagResource).

use std::collections::BTreeMap;

use crate::error::Error;
use crate::function::{NETWORK_NONE, NETWORK_OUTBOUND, NETWORK_TAG};

/// The characters the model's `TagKey`/`TagValue` pattern allows: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// AWS's answer to a TagResource with no tags (LocalStack's AWS-recorded `test_tag_exceptions`,
/// `tag_empty_tags`).
pub fn no_tags() -> Error {
    Error::invalid("An error occurred and the request cannot be processed.")
}

/// Checks tags as AWS does (keys 1-128 characters, values at most 256, at most 50 tags).
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > 50 {
        return Err(Error::invalid("Number of tags exceeds resource tag limit."));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") || !tag_chars_ok(k) {
            return Err(Error::invalid(format!("The tag key '{k}' is not valid.")));
        }
        if v.chars().count() > 256 {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is too long."
            )));
        }
        if !tag_chars_ok(v) {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is not valid."
            )));
        }
        if k == NETWORK_TAG && v != NETWORK_NONE && v != NETWORK_OUTBOUND {
            return Err(Error::invalid(format!(
                "The tag value for key '{k}' is not valid: Hako reserves it, with the values \
                 '{NETWORK_NONE}' and '{NETWORK_OUTBOUND}'."
            )));
        }
    }
    Ok(())
}
