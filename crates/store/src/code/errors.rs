//! The code store's errors: AWS's messages for packages it refuses, and its own for IO.

use std::io;
use std::path::Path;

use hako_model::{Error, ErrorKind};

/// AWS's message for a zip it cannot read.
pub(super) const COULD_NOT_UNZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// A package hash must be 64 lowercase hex digits: it names files.
pub(super) fn check_hex(sha256_hex: &str) -> Result<(), Error> {
    let ok = sha256_hex.len() == 64
        && sha256_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid code package hash '{}': expected 64 lowercase hexadecimal characters",
            esc(sha256_hex)
        )))
    }
}

pub(super) fn esc(s: &str) -> String {
    s.escape_debug().to_string()
}

pub(super) fn could_not_unzip() -> Error {
    Error::invalid(COULD_NOT_UNZIP)
}

pub(super) fn unzipped_too_large(max: u64) -> Error {
    Error::invalid(format!("Unzipped size must be smaller than {max} bytes"))
}

pub(super) fn too_many_entries(max: usize) -> Error {
    Error::invalid(format!(
        "Could not unzip uploaded file: it holds more than {max} entries."
    ))
}

pub(super) fn bad_entry(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidZipFile,
        format!("Invalid zip entry '{}': {why}", esc(name)),
    )
}

pub(super) fn io_error(what: &str, path: &Path, e: &io::Error) -> Error {
    Error::service(format!("{what} {}: {e}", path.display()))
}
