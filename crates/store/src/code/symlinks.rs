//! Symlink entries: their targets read (bounded, UTF-8) and kept as they are; Hako never follows
//! them on the host.

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

/// A symlink's target is kept as it is, absolute or relative, wherever it points (as AWS keeps
/// it: it resolves inside the execution environment, e.g. `lib -> /opt/lib` in a layer), as long
/// as it can be a symlink at all: not empty, no NUL. Hako never follows one on the host: the
/// store writes nothing below a symlink (no entry may lie below one; they are made after every
/// file), reads and copies trees without following links (`unpacked_size`, `merged_layers`,
/// `remove`), and a sandbox resolves them in its own root.
pub(super) fn check_symlink_target(target: &str, name: &str) -> Result<(), Error> {
    if target.is_empty() {
        return Err(bad_entry(name, "its symlink target is empty"));
    }
    if target.contains('\0') {
        return Err(bad_entry(
            name,
            format!("symlink target '{}' holds a NUL byte", esc(target)),
        ));
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

    #[test]
    fn keeps_absolute_and_escaping_symlinks_as_they_are() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let links = [
            ("lib", "/opt/lib"),
            ("python/mod.py", "/opt/python/mod.py"),
            ("shadow", "/etc/shadow"),
            ("up", "../../../../etc/passwd"),
            ("a/b/link", "x/../../.."),
            ("parent", ".."),
        ];
        let entries: Vec<E<'_>> = links.iter().map(|(p, t)| E::Link(p, t)).collect();
        let info = store.put_zip(&build(&entries)).unwrap();
        let target_bytes: usize = links.iter().map(|(_, t)| t.len()).sum();
        assert_eq!(info.unzipped_size, target_bytes as u64);
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        for (path, target) in links {
            assert_eq!(fs::read_link(dir.join(path)).unwrap(), Path::new(target));
        }
        // Only regular files count: no link is followed to the host's files.
        assert_eq!(store.unpacked_size(&info.sha256_hex).unwrap(), 0);
    }

    #[test]
    fn refuses_targets_that_cannot_be_symlinks() {
        let store = Scratch::new().store();
        let long = "x".repeat(4096);
        for (target, why) in [("", "empty"), ("a\0b", "NUL"), (long.as_str(), "too long")] {
            let zip = build(&[E::Link("link", target)]);
            assert_err(store.put_zip(&zip), ErrorKind::InvalidZipFile, why);
        }
        // Still nothing below a symlink, wherever it points.
        let below = build(&[E::Link("l", "/tmp"), E::File("l/x", b"x", 0o644)]);
        assert_err(
            store.put_zip(&below),
            ErrorKind::InvalidZipFile,
            "below the symlink 'l'",
        );
    }

    /// A link to a host directory: measuring, merging and removing its tree never read, write
    /// or delete through it.
    #[test]
    fn never_follows_a_symlink_on_the_host() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let outside = scratch.0.join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), "host secret, 27 bytes long").unwrap();
        let out = outside.to_str().unwrap();
        let to_outside = store
            .put_zip(&build(&[
                E::Link("python", out),
                E::Link("up", "../outside"),
                E::File("f", b"1", 0o644),
            ]))
            .unwrap();
        assert_eq!(store.unpacked_size(&to_outside.sha256_hex).unwrap(), 1);
        let a_dir = store
            .put_zip(&build(&[E::File("python/evil.py", b"evil", 0o644)]))
            .unwrap();
        // A layer's directory over an earlier layer's link: a directory of the merged tree.
        let merged = store
            .merged_layers(&[to_outside.sha256_hex.clone(), a_dir.sha256_hex.clone()])
            .unwrap()
            .unwrap();
        assert!(fs::symlink_metadata(merged.join("python"))
            .unwrap()
            .is_dir());
        assert_eq!(fs::read(merged.join("python/evil.py")).unwrap(), b"evil");
        // A layer's link over an earlier layer's directory: the link, the directory removed
        // from the merged tree only.
        let merged = store
            .merged_layers(&[a_dir.sha256_hex.clone(), to_outside.sha256_hex.clone()])
            .unwrap()
            .unwrap();
        assert_eq!(fs::read_link(merged.join("python")).unwrap(), outside);
        store.remove(&to_outside.sha256_hex).unwrap();
        store.remove(&a_dir.sha256_hex).unwrap();
        let names: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret"]);
        assert_eq!(
            fs::read_to_string(outside.join("secret")).unwrap(),
            "host secret, 27 bytes long"
        );
    }
}
