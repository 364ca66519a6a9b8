//! Symlink entries: their targets read (bounded, UTF-8) and checked to stay inside the package.

use std::io::{Cursor, Read};

use hako_model::Error;
use zip::ZipArchive;

use super::errors::{bad_entry, could_not_unzip, esc};

/// Longest symlink target (PATH_MAX less the NUL).
pub(super) const MAX_SYMLINK_TARGET: u64 = 4095;

pub(super) fn read_symlink_target(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
    declared: u64,
    name: &str,
) -> Result<String, Error> {
    let mut entry = archive.by_index(index).map_err(|_| could_not_unzip())?;
    let mut target = Vec::new();
    // Reads to the end (where the CRC is checked) unless the entry is longer than it says.
    entry
        .by_ref()
        .take(declared + 1)
        .read_to_end(&mut target)
        .map_err(|_| could_not_unzip())?;
    if target.len() as u64 != declared {
        return Err(could_not_unzip());
    }
    String::from_utf8(target).map_err(|_| bad_entry(name, "its symlink target is not UTF-8"))
}

/// A symlink at `path` may point only inside the package: relative, with `..` only leading (so it
/// climbs real directories: no entry lies below a symlink) and no higher than the root.
pub(super) fn check_symlink_target(path: &str, target: &str, name: &str) -> Result<(), Error> {
    let refuse = |why: &str| bad_entry(name, format!("symlink target '{}' {why}", esc(target)));
    if target.is_empty() {
        return Err(bad_entry(name, "its symlink target is empty"));
    }
    if target.starts_with('/') {
        return Err(refuse("is absolute"));
    }
    if target.contains('\0') {
        return Err(refuse("holds a NUL byte"));
    }
    let depth = path.matches('/').count();
    let mut ups = 0;
    let mut named = false;
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." if named => {
                return Err(refuse(
                    "has '..' after a name (only leading '..' is allowed)",
                ))
            }
            ".." => {
                ups += 1;
                if ups > depth {
                    return Err(refuse("escapes the package"));
                }
            }
            _ => named = true,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::super::test_support::*;
    use hako_model::ErrorKind;

    #[test]
    fn refuses_escaping_symlinks() {
        let store = Scratch::new().store();
        let cases = [
            ("link", "/etc/passwd", "is absolute"),
            ("link", "../../x", "escapes"),
            ("link", "..", "escapes"),
            ("a/link", "../../x", "escapes"),
            ("a/b/link", "x/../../..", "after a name"),
        ];
        for (name, target, why) in cases {
            let zip = build(&[E::Link(name, target)]);
            assert_err(store.put_zip(&zip), ErrorKind::InvalidZipFile, why);
            assert_err(store.put_zip(&zip), ErrorKind::InvalidZipFile, name);
        }
    }

    #[test]
    fn keeps_inside_symlinks() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let zip = build(&[
            E::File("lib/v1/run.sh", b"echo run", 0o755),
            E::Link("lib/current", "v1"),
            E::Link("bin/run", "../lib/v1/run.sh"),
            E::Link("here", "."),
        ]);
        let info = store.put_zip(&zip).unwrap();
        assert_eq!(info.unzipped_size, 8 + 2 + 16 + 1);
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        assert_eq!(
            fs::read_link(dir.join("lib/current")).unwrap(),
            Path::new("v1")
        );
        assert_eq!(
            fs::read_link(dir.join("bin/run")).unwrap(),
            Path::new("../lib/v1/run.sh")
        );
        assert_eq!(fs::read(dir.join("bin/run")).unwrap(), b"echo run");
        assert_eq!(
            fs::read(dir.join("lib/current/run.sh")).unwrap(),
            b"echo run"
        );
        assert!(dir.join("here/lib").is_dir());
    }
}
