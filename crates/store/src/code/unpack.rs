//! A stored package unpacked once into its read-only tree `<sha256hex>/`: extracted into a
//! `.tmp-*` directory, checked against its hash and renamed into place; concurrent unpacks of
//! one package in one store wait for the first.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hako_model::Error;

use super::disk::{is_dir, remove_tree, sync_dir, tmp_name};
use super::errors::{check_hex, io_error};
use super::inflate::{inflate_all, with_sha256, Output};
use super::validate::plan;
use super::{mb, CodeStore, DIR_MODE, LARGE_PACKAGE_BYTES};

impl CodeStore {
    /// The unpacked tree of `sha256_hex`, unpacking it on first use.
    pub fn unpacked(&self, sha256_hex: &str) -> Result<PathBuf, Error> {
        check_hex(sha256_hex)?;
        let dir = self.root.join(sha256_hex);
        if is_dir(&dir) {
            return Ok(dir);
        }
        let gate = self
            .inflight
            .lock()
            .entry(sha256_hex.to_owned())
            .or_default()
            .clone();
        let result = {
            let _turn = gate.lock();
            if is_dir(&dir) {
                Ok(())
            } else {
                self.unpack(sha256_hex, &dir)
            }
        };
        // Gates are cloned and dropped only under the map's lock, so the count is exact here.
        let mut inflight = self.inflight.lock();
        drop(gate);
        if inflight
            .get(sha256_hex)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            inflight.remove(sha256_hex);
        }
        drop(inflight);
        result.map(|()| dir)
    }

    fn unpack(&self, sha256_hex: &str, dir: &Path) -> Result<(), Error> {
        let zip = self.read_zip(sha256_hex)?;
        let large = zip.len() >= LARGE_PACKAGE_BYTES;
        let since = std::time::Instant::now();
        if large {
            tracing::info!(
                code = &sha256_hex[..12],
                "unpacking a code package of {}",
                mb(zip.len() as u64)
            );
        }
        let tmp = self.make_tmp_dir()?;
        let (actual_hex, extracted) = with_sha256(&zip, || self.extract(&zip, &tmp));
        let extracted = extracted.and_then(|()| {
            if actual_hex == sha256_hex {
                Ok(())
            } else {
                Err(Error::service(format!(
                    "stored code package {sha256_hex} is corrupt: its SHA-256 is {actual_hex}"
                )))
            }
        });
        if let Err(e) = extracted {
            remove_tree(&tmp);
            return Err(e);
        }
        if large {
            tracing::info!(
                code = &sha256_hex[..12],
                "code package unpacked in {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        match fs::rename(&tmp, dir) {
            Ok(()) => {
                sync_dir(&self.root);
                Ok(())
            }
            Err(e) => {
                remove_tree(&tmp);
                // Another process won the race: its tree is as good as ours.
                if is_dir(dir) {
                    Ok(())
                } else {
                    Err(io_error("cannot rename into", dir, &e))
                }
            }
        }
    }

    /// Extracts the zip into the fresh directory `tmp`, then makes it read-only.
    fn extract(&self, zip: &[u8], tmp: &Path) -> Result<(), Error> {
        let mut archive = self.open_archive(zip)?;
        let plan = plan(&mut archive, self.max_entries, self.max_unzipped)?;
        // Sorted, so parents come before children.
        for dir in &plan.dirs {
            let path = tmp.join(dir);
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_dir(&path) => {}
                Err(e) => return Err(io_error("cannot create", &path, &e)),
            }
        }
        inflate_all(&archive, &plan, self.max_unzipped, Output::Extract(tmp))?;
        for (path, target) in &plan.symlinks {
            let path = tmp.join(path);
            std::os::unix::fs::symlink(target, &path)
                .map_err(|e| io_error("cannot create symlink", &path, &e))?;
        }
        for dir in plan.dirs.iter().rev() {
            let path = tmp.join(dir);
            fs::set_permissions(&path, Permissions::from_mode(DIR_MODE))
                .map_err(|e| io_error("cannot set permissions of", &path, &e))?;
        }
        fs::set_permissions(tmp, Permissions::from_mode(DIR_MODE))
            .map_err(|e| io_error("cannot set permissions of", tmp, &e))
    }

    fn make_tmp_dir(&self) -> Result<PathBuf, Error> {
        loop {
            let path = self.root.join(tmp_name(""));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("cannot create", &path, &e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::test_support::*;
    use super::super::TMP_PREFIX;
    use super::*;
    use hako_model::ErrorKind;

    #[test]
    fn stores_and_unpacks_a_package_keeping_modes() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let zip = sample();
        let info = store.put_zip(&zip).unwrap();
        assert_eq!(info.sha256_hex, sha(&zip));
        assert_eq!(info.size, zip.len() as u64);
        assert_eq!(info.unzipped_size, 18 + 20 + 10_000);
        assert_eq!(fs::read(store.zip_path(&info.sha256_hex)).unwrap(), zip);
        assert_eq!(store.read_zip(&info.sha256_hex).unwrap(), zip);

        let dir = store.unpacked(&info.sha256_hex).unwrap();
        assert_eq!(dir, scratch.0.join(&info.sha256_hex));
        assert_eq!(
            fs::read(dir.join("bootstrap")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            fs::read(dir.join("lib/util/helper.js")).unwrap(),
            b"module.exports = 1;\n"
        );
        assert_eq!(
            fs::read(dir.join("lib/util/deep/data.txt")).unwrap(),
            vec![7u8; 10_000]
        );
        assert_eq!(mode(&dir.join("bootstrap")), 0o555);
        assert_eq!(mode(&dir.join("lib/util/helper.js")), 0o444);
        assert_eq!(mode(&dir.join("lib/util/deep/data.txt")), 0o440);
        for d in ["", "lib", "lib/util", "lib/util/deep"] {
            assert_eq!(mode(&dir.join(d)), 0o555, "{d}");
        }
        // Second call: the fast path, same tree.
        assert_eq!(store.unpacked(&info.sha256_hex).unwrap(), dir);
        // No work left behind.
        let leftovers: Vec<_> = fs::read_dir(&scratch.0)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(TMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn empty_zip_is_a_valid_package() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let zip = build(&[]);
        let info = store.put_zip(&zip).unwrap();
        assert_eq!(info.unzipped_size, 0);
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn concurrent_unpacks_share_one_tree() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let other = scratch.store(); // as another process would: its own gates
        let files: Vec<(String, Vec<u8>)> = (0..200)
            .map(|i| (format!("d{}/f{i}", i % 7), vec![i as u8; 1000 + i]))
            .collect();
        let entries: Vec<E<'_>> = files.iter().map(|(n, d)| E::File(n, d, 0o644)).collect();
        let info = store.put_zip(&build(&entries)).unwrap();
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let store = if i % 2 == 0 { &store } else { &other };
                    let hex = &info.sha256_hex;
                    s.spawn(move || store.unpacked(hex).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(dirs.iter().all(|d| *d == dirs[0]));
        for (name, data) in &files {
            assert_eq!(&fs::read(dirs[0].join(name)).unwrap(), data);
        }
        let names: Vec<String> = fs::read_dir(&scratch.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(store.inflight.lock().is_empty());
        assert!(other.inflight.lock().is_empty());
    }

    #[test]
    fn refuses_a_corrupted_stored_package() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let info = store.put_zip(&sample()).unwrap();
        // Same shape, other bytes, under the old name.
        let other = build(&[E::File("bootstrap", b"#!/bin/sh\necho ho\n", 0o755)]);
        fs::write(store.zip_path(&info.sha256_hex), other).unwrap();
        assert_err(
            store.unpacked(&info.sha256_hex),
            ErrorKind::Service,
            "corrupt",
        );
        assert!(!scratch.0.join(&info.sha256_hex).exists());
        assert_eq!(
            fs::read_dir(&scratch.0).unwrap().count(),
            1,
            "temp tree removed"
        );
    }
}
