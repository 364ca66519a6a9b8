//! Functions' layers merged into one tree: each layer's unpacked tree laid over the ones before
//! it, files hard-linked (the trees are read-only), built aside and renamed into place as
//! `opt-<sha256 of the layers' hashes, in order>/`.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hako_model::Error;
use sha2::{Digest, Sha256};

use super::disk::{is_dir, remove_tree, sync_dir, tmp_name};
use super::errors::{check_hex, io_error};
use super::CodeStore;
use super::DIR_MODE;

impl CodeStore {
    /// The merged tree of the packages `layers` (a function's layers, in order): each one's
    /// tree laid over those before it, so a later layer wins on a path (a file replaces a
    /// directory and the other way round). Made once per list, shared read-only; `None` for no
    /// layers. It holds hard links, so removing a layer's package later leaves it whole.
    pub fn merged_layers(&self, layers: &[String]) -> Result<Option<PathBuf>, Error> {
        if layers.is_empty() {
            return Ok(None);
        }
        for h in layers {
            check_hex(h)?;
        }
        let id = hex::encode(Sha256::digest(layers.join(",").as_bytes()));
        let dir = self.root.join(format!("opt-{id}"));
        if is_dir(&dir) {
            return Ok(Some(dir));
        }
        let sources = layers
            .iter()
            .map(|h| self.unpacked(h))
            .collect::<Result<Vec<_>, _>>()?;
        let tmp = self.root.join(tmp_name(""));
        let built = (|| {
            fs::create_dir(&tmp)?;
            for src in &sources {
                overlay(src, &tmp)?;
            }
            seal_dirs(&tmp)
        })();
        if let Err(e) = built {
            remove_tree(&tmp);
            return Err(io_error("cannot merge layers into", &tmp, &e));
        }
        match fs::rename(&tmp, &dir) {
            Ok(()) => sync_dir(&self.root),
            // Another store merged the same list first: its tree stands.
            Err(_) if is_dir(&dir) => remove_tree(&tmp),
            Err(e) => {
                remove_tree(&tmp);
                return Err(io_error("cannot rename into place", &dir, &e));
            }
        }
        Ok(Some(dir))
    }
}

/// Lays the tree `src` over `dst`: what `src` has replaces what `dst` has on the same path.
fn overlay(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let existing = fs::symlink_metadata(&to).ok();
        if kind.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                None => fs::create_dir(&to)?,
            }
            overlay(&from, &to)?;
            continue;
        }
        match existing {
            Some(m) if m.is_dir() => remove_tree(&to),
            Some(_) => fs::remove_file(&to)?,
            None => {}
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// Makes every directory of a merged tree read-only (0555), deepest first.
fn seal_dirs(root: &Path) -> io::Result<()> {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for entry in fs::read_dir(&dirs[i])? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        fs::set_permissions(d, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::test_support::*;

    #[test]
    fn layers_merge_in_order_and_survive_their_packages() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let a = store
            .put_zip(&build(&[
                E::File("python/shared.py", b"A", 0o644),
                E::File("python/only_a.py", b"a", 0o644),
                E::File("bin/tool", b"#!/bin/sh\n", 0o755),
                E::Dir("thing/"),
                E::File("thing/inner", b"dir in A", 0o644),
            ]))
            .unwrap();
        let b = store
            .put_zip(&build(&[
                E::File("python/shared.py", b"B", 0o644),
                E::File("thing", b"file in B", 0o644),
                E::Link("python/link.py", "shared.py"),
            ]))
            .unwrap();
        let merged = store
            .merged_layers(&[a.sha256_hex.clone(), b.sha256_hex.clone()])
            .unwrap()
            .unwrap();
        let read = |p: &str| fs::read_to_string(merged.join(p)).unwrap();
        assert_eq!(read("python/shared.py"), "B");
        assert_eq!(read("python/only_a.py"), "a");
        assert_eq!(read("python/link.py"), "B");
        assert_eq!(read("thing"), "file in B");
        assert_eq!(mode(&merged.join("bin/tool")), 0o555);
        assert_eq!(mode(&merged.join("python")), 0o555);
        assert_eq!(mode(&merged), 0o555);
        // The other order gives another tree, where A wins.
        let other = store
            .merged_layers(&[b.sha256_hex.clone(), a.sha256_hex.clone()])
            .unwrap()
            .unwrap();
        assert_ne!(other, merged);
        assert_eq!(
            fs::read_to_string(other.join("python/shared.py")).unwrap(),
            "A"
        );
        assert_eq!(
            fs::read_to_string(other.join("thing/inner")).unwrap(),
            "dir in A"
        );
        // Asked again: the same tree; none for no layers.
        assert_eq!(
            store
                .merged_layers(&[a.sha256_hex.clone(), b.sha256_hex.clone()])
                .unwrap(),
            Some(merged.clone())
        );
        assert_eq!(store.merged_layers(&[]).unwrap(), None);
        assert_eq!(store.unpacked_size(&a.sha256_hex).unwrap(), 1 + 1 + 10 + 8);
        // A layer's package removed: the merged tree is whole.
        store.remove(&b.sha256_hex).unwrap();
        assert_eq!(read("thing"), "file in B");
    }
}
