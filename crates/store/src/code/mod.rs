//! The content-addressed code store: Lambda zip deployment packages kept on disk by the SHA-256 of
//! their bytes, each unpacked once into a tree that sandboxes share read-only.
//!
//! Layout under the store root:
//! - `<sha256hex>.zip`: the package as uploaded, written atomically (temp file, fsync, rename,
//!   fsync of the root). Putting the same bytes again is a no-op.
//! - `<sha256hex>/`: its unpacked tree, made on first use by [`CodeStore::unpacked`]: extracted
//!   into a `.tmp-*` directory and renamed into place, so neither a concurrent reader nor a crash
//!   ever shows half a tree. Once there, finding it costs one `stat`.
//! - `opt-<sha256 of the layers' hashes, in order>/`: the merged `/opt` of a function's layers
//!   (see [`CodeStore::merged_layers`]): each layer's tree laid over the ones before it, files
//!   hard-linked from the layers' trees (they are read-only), built aside and renamed into place.
//! - `.tmp-*`: work in progress; [`CodeStore::open`] sweeps leftovers older than an hour.
//!
//! A package is checked on upload and again on every unpack, and its headers are never trusted:
//! - zipped size at most the zipped limit (AWS's 50 MB: RequestTooLarge);
//! - a readable zip: stored or deflated, not encrypted, CRCs right, every entry inflating to
//!   exactly its declared size (else AWS's "Could not unzip uploaded file..." message);
//! - unzipped size at most the unzipped limit (AWS's 250 MB), both by the declared sizes and by the
//!   bytes actually inflated, counted as they come out, so a zip bomb is cut off at the limit;
//! - at most [`MAX_ENTRIES`] entries;
//! - entry names relative, without `..` or NUL, components at most 255 bytes, paths at most
//!   3584 bytes (room for the store root within PATH_MAX); no entry below a file or a symlink
//!   entry, no path that is two kinds of entry (InvalidZipFile). A file named twice: the last one
//!   wins, as with `unzip -o`;
//! - symlinks (`S_IFLNK` in the unix mode) keep their targets as they are, absolute or relative,
//!   wherever they point (as AWS: `lib -> /opt/lib` resolves inside the execution environment);
//!   a target must not be empty or hold a NUL (InvalidZipFile). They are recreated as symlinks,
//!   after every file, and the store never follows one: nothing is written below or through a
//!   symlink, and trees are measured, merged and removed without following links. Where a link
//!   leads is the sandbox's business: the linux backend resolves it in the sandbox's own root.
//!
//! Permissions: a file keeps the permission bits of its zip entry (0644 if it has none), minus
//! every write bit and the setuid/setgid/sticky bits, so 0755 becomes 0555 and 0644 becomes 0444;
//! directories become 0555. As on AWS, a file the zip makes unreadable to others stays so.
//!
//! Cost: the upload check inflates the whole package (to count real bytes and check CRCs), on up
//! to 8 threads for big packages while another hashes it. Measured on a busy 2-core box: a 48 MB
//! zip of 93 MB inflates in 0.4 s on one core; the whole check took 0.5 to 0.8 s.
//!
//! Limits: unix only (modes, symlinks). Names are taken literally (`\` is not a separator). The
//! files of a tree are fsynced, its directories are not (only the store root after the rename).
//! A tree removed by [`CodeStore::remove`] vanishes under whoever still uses it. Several stores
//! (even processes) may share a root: racing unpacks of one package settle on a single tree; in
//! one store, concurrent unpacks of one package wait for the first.
//!
//! Files: this one (the store: put, read, remove, sweep), `validate.rs` (a package's entries
//! checked into a plan), `symlinks.rs` (symlink entries), `inflate.rs` (inflating and counting,
//! in parallel; hashing), `unpack.rs` (a package's tree made once), `layers.rs` (layers merged
//! into one tree), `disk.rs` (work names, syncs, removal of read-only trees), `errors.rs`.

mod disk;
mod errors;
mod inflate;
mod layers;
mod symlinks;
#[cfg(test)]
mod test_support;
mod unpack;
mod validate;

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hako_model::{limits, Error, ErrorKind};
use parking_lot::Mutex;

use disk::{remove_tree, sync_dir, tmp_name};
use errors::{check_hex, io_error};
use inflate::with_sha256;

/// The most entries a package may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// Prefix of work in progress in the store root.
const TMP_PREFIX: &str = ".tmp-";
/// Leftover work older than this is swept on open.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// Mode of every directory of a tree: read-only.
const DIR_MODE: u32 = 0o555;
/// A package at least this large is one a person waits for: checking, storing and unpacking it
/// say so on Hako's log (info), with how long each took.
pub(crate) const LARGE_PACKAGE_BYTES: usize = 16 * 1024 * 1024;

/// Megabytes of `bytes`, for a person.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// What the store learned of a package it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// Hex SHA-256 of the zip bytes.
    pub sha256_hex: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// Total size of the unpacked files in bytes.
    pub unzipped_size: u64,
}

/// Zip packages kept by their SHA-256, each unpacked once and shared read-only.
#[derive(Debug)]
pub struct CodeStore {
    root: PathBuf,
    max_zip: u64,
    max_unzipped: u64,
    max_entries: usize,
    /// One gate per package being unpacked by this store, so a burst of cold starts unpacks once.
    inflight: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl CodeStore {
    /// Opens (creating) the store under `root`, with AWS's size limits.
    pub fn open(root: &Path) -> Result<CodeStore, Error> {
        Self::open_with_limits(root, limits::ZIP_MAX_BYTES, limits::UNZIPPED_MAX_BYTES)
    }

    /// Opens (creating) the store under `root`, accepting zips of at most `max_zip` bytes that
    /// unpack to at most `max_unzipped` bytes. Sweeps stale work in progress.
    pub fn open_with_limits(
        root: &Path,
        max_zip: u64,
        max_unzipped: u64,
    ) -> Result<CodeStore, Error> {
        fs::create_dir_all(root).map_err(|e| io_error("cannot create", root, &e))?;
        let store = CodeStore {
            root: root.to_path_buf(),
            max_zip,
            max_unzipped,
            max_entries: MAX_ENTRIES,
            inflight: Mutex::new(HashMap::new()),
        };
        store.sweep_stale_tmp();
        Ok(store)
    }

    /// The same store, accepting at most `max_entries` entries per package.
    pub fn with_max_entries(mut self, max_entries: usize) -> CodeStore {
        self.max_entries = max_entries;
        self
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Validates and stores a zip; returns its hash and sizes.
    pub fn put_zip(&self, zip: &[u8]) -> Result<CodeInfo, Error> {
        if zip.len() as u64 > self.max_zip {
            return Err(Error::new(
                ErrorKind::RequestTooLarge,
                format!("Zipped size must be smaller than {} bytes", self.max_zip),
            ));
        }
        let large = zip.len() >= LARGE_PACKAGE_BYTES;
        let since = std::time::Instant::now();
        if large {
            tracing::info!(
                "checking an uploaded code package of {}",
                mb(zip.len() as u64)
            );
        }
        let (sha256_hex, checked) = with_sha256(zip, || self.check(zip));
        let unzipped_size = checked?;
        let path = self.zip_path(&sha256_hex);
        let stored = fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == zip.len() as u64);
        if !stored {
            self.write_atomically(&path, zip)?;
        }
        if large {
            tracing::info!(
                code = &sha256_hex[..12],
                "code package checked and stored ({} zipped, {} unzipped) in {:.1} s",
                mb(zip.len() as u64),
                mb(unzipped_size),
                since.elapsed().as_secs_f64()
            );
        }
        Ok(CodeInfo {
            sha256_hex,
            size: zip.len() as u64,
            unzipped_size,
        })
    }

    /// Path of the stored zip for `sha256_hex`.
    pub fn zip_path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(format!("{sha256_hex}.zip"))
    }

    /// The bytes of the stored zip for `sha256_hex`.
    pub fn read_zip(&self, sha256_hex: &str) -> Result<Vec<u8>, Error> {
        check_hex(sha256_hex)?;
        let path = self.zip_path(sha256_hex);
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found(format!("Code package not found: {sha256_hex}"))
            }
            _ => io_error("cannot read", &path, &e),
        })
    }

    /// The bytes of the unpacked tree of `sha256_hex` (its files' sizes), unpacking it first.
    pub fn unpacked_size(&self, sha256_hex: &str) -> Result<u64, Error> {
        let dir = self.unpacked(sha256_hex)?;
        let mut total = 0;
        let mut pending = vec![dir];
        while let Some(d) = pending.pop() {
            for e in fs::read_dir(&d).map_err(|e| io_error("cannot read", &d, &e))? {
                let e = e.map_err(|e| io_error("cannot read", &d, &e))?;
                let meta = e
                    .metadata()
                    .map_err(|err| io_error("cannot stat", &e.path(), &err))?;
                if meta.is_dir() {
                    pending.push(e.path());
                } else if meta.is_file() {
                    total += meta.len();
                }
            }
        }
        Ok(total)
    }

    /// Deletes the package `sha256_hex` and its tree, best effort: failures are logged. The tree
    /// is first renamed away, so no one finds it half deleted.
    pub fn remove(&self, sha256_hex: &str) -> Result<(), Error> {
        check_hex(sha256_hex)?;
        let zip = self.zip_path(sha256_hex);
        if let Err(e) = fs::remove_file(&zip) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %zip.display(), error = %e, "cannot remove code package");
            }
        }
        let dir = self.root.join(sha256_hex);
        let doomed = self.root.join(tmp_name(""));
        match fs::rename(&dir, &doomed) {
            Ok(()) => remove_tree(&doomed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %dir.display(), error = %e, "cannot remove code tree"),
        }
        Ok(())
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let tmp = self.root.join(tmp_name(".zip"));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("cannot store", path, &e));
        }
        sync_dir(&self.root);
        Ok(())
    }

    /// Removes `.tmp-*` leftovers of crashed work, leaving recent ones (maybe another process's).
    fn sweep_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                continue;
            }
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified)
                        .is_ok_and(|age| age > STALE_TMP)
                });
            if stale {
                remove_tree(&entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{File, Permissions};
    use std::os::unix::fs::PermissionsExt;

    use super::test_support::*;
    use super::*;

    #[test]
    fn put_is_idempotent() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let zip = sample();
        let first = store.put_zip(&zip).unwrap();
        let dir = store.unpacked(&first.sha256_hex).unwrap();
        let second = store.put_zip(&zip).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read(store.zip_path(&first.sha256_hex)).unwrap(), zip);
        assert_eq!(store.unpacked(&second.sha256_hex).unwrap(), dir);
        // A second store on the same root agrees.
        assert_eq!(scratch.store().put_zip(&zip).unwrap(), first);
    }

    #[test]
    fn refuses_oversized_zips() {
        let scratch = Scratch::new();
        let store = CodeStore::open_with_limits(&scratch.0, 100, 1 << 20).unwrap();
        let zip = sample();
        assert_err(
            store.put_zip(&zip),
            ErrorKind::RequestTooLarge,
            "Zipped size must be smaller than 100 bytes",
        );
    }

    #[test]
    fn checks_hashes_and_missing_packages() {
        let scratch = Scratch::new();
        let store = scratch.store();
        for bad in [
            "",
            "../../etc",
            &"A".repeat(64),
            &"0".repeat(63),
            &format!("{}/", "0".repeat(63)),
        ] {
            assert_err(
                store.unpacked(bad),
                ErrorKind::InvalidParameterValue,
                "Invalid code package hash",
            );
            assert_err(
                store.read_zip(bad),
                ErrorKind::InvalidParameterValue,
                "Invalid code package hash",
            );
            assert_err(
                store.remove(bad),
                ErrorKind::InvalidParameterValue,
                "Invalid code package hash",
            );
        }
        let missing = "0".repeat(64);
        assert_err(
            store.unpacked(&missing),
            ErrorKind::ResourceNotFound,
            &missing,
        );
        assert_err(
            store.read_zip(&missing),
            ErrorKind::ResourceNotFound,
            &missing,
        );
        assert!(store.remove(&missing).is_ok());
    }

    #[test]
    fn remove_deletes_zip_and_tree() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let info = store.put_zip(&sample()).unwrap();
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        store.remove(&info.sha256_hex).unwrap();
        assert!(!dir.exists());
        assert!(!store.zip_path(&info.sha256_hex).exists());
        assert_eq!(fs::read_dir(&scratch.0).unwrap().count(), 0);
        assert_err(
            store.unpacked(&info.sha256_hex),
            ErrorKind::ResourceNotFound,
            "not found",
        );
        // And it can come back.
        let again = store.put_zip(&sample()).unwrap();
        assert!(store
            .unpacked(&again.sha256_hex)
            .unwrap()
            .join("bootstrap")
            .is_file());
    }

    #[test]
    fn open_sweeps_stale_work_only() {
        let scratch = Scratch::new();
        let stale = scratch.0.join(".tmp-stale");
        fs::create_dir_all(stale.join("sub")).unwrap();
        fs::set_permissions(stale.join("sub"), Permissions::from_mode(0o555)).unwrap();
        let old = SystemTime::now() - 2 * STALE_TMP;
        File::open(&stale).unwrap().set_modified(old).unwrap();
        let fresh = scratch.0.join(".tmp-fresh.zip");
        fs::write(&fresh, b"x").unwrap();
        let _store = scratch.store();
        assert!(!stale.exists());
        assert!(fresh.exists());
    }
}
