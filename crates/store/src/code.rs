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
//! - symlinks (`S_IFLNK` in the unix mode) must be relative, with `..` only as leading components
//!   and never climbing above the package root (InvalidZipFile). They are recreated as symlinks,
//!   after every file, and nothing is ever written through one.
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

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Cursor, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hako_model::{limits, Error, ErrorKind};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipArchive};

/// The most entries a package may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// AWS's message for a zip it cannot read.
const COULD_NOT_UNZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";
/// Prefix of work in progress in the store root.
const TMP_PREFIX: &str = ".tmp-";
/// Leftover work older than this is swept on open.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// Longest symlink target (PATH_MAX less the NUL).
const MAX_SYMLINK_TARGET: u64 = 4095;
/// Longest path component (NAME_MAX).
const MAX_COMPONENT_BYTES: usize = 255;
/// Longest entry path, leaving room for the store root within PATH_MAX.
const MAX_PATH_BYTES: usize = 3584;
/// Inflate buffer, per worker.
const BUF_BYTES: usize = 256 * 1024;
/// Below this many declared bytes, inflate on the calling thread only.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
/// Most inflate workers per package.
const MAX_THREADS: usize = 8;
/// Below this many zipped bytes, hash on the calling thread.
const PARALLEL_HASH_MIN_BYTES: usize = 1 << 20;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const DIR_MODE: u32 = 0o555;
const DEFAULT_FILE_PERM: u32 = 0o644;

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
        let (sha256_hex, checked) = with_sha256(zip, || self.check(zip));
        let unzipped_size = checked?;
        let path = self.zip_path(&sha256_hex);
        let stored = fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == zip.len() as u64);
        if !stored {
            self.write_atomically(&path, zip)?;
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

    /// Checks a zip fully (inflating it to count its bytes); returns its unzipped size.
    fn check(&self, zip: &[u8]) -> Result<u64, Error> {
        let mut archive = self.open_archive(zip)?;
        let plan = plan(&mut archive, self.max_entries, self.max_unzipped)?;
        inflate_all(&archive, &plan, self.max_unzipped, Output::Discard)
    }

    fn open_archive<'a>(&self, zip: &'a [u8]) -> Result<ZipArchive<Cursor<&'a [u8]>>, Error> {
        // Checked before parsing, which costs memory per declared entry.
        if declared_entry_count(zip).is_some_and(|n| n > self.max_entries as u64) {
            return Err(too_many_entries(self.max_entries));
        }
        ZipArchive::new(Cursor::new(zip)).map_err(|_| could_not_unzip())
    }

    fn unpack(&self, sha256_hex: &str, dir: &Path) -> Result<(), Error> {
        let zip = self.read_zip(sha256_hex)?;
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

/// What a zip unpacks to, once its entries passed the checks.
#[derive(Debug)]
struct Plan {
    /// Every directory to create, explicit or implied, sorted.
    dirs: Vec<String>,
    /// The regular files, the last of each path only.
    files: Vec<FileJob>,
    /// (path, target)
    symlinks: Vec<(String, String)>,
    /// Bytes of the symlink targets.
    symlink_bytes: u64,
}

#[derive(Debug)]
struct FileJob {
    index: usize,
    path: String,
    declared: u64,
    mode: u32,
}

enum Seen {
    Dir,
    File(usize),
    Symlink,
}

#[derive(PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

/// Checks every entry's metadata (and reads the symlink targets); returns what to unpack.
fn plan(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    max_entries: usize,
    max_unzipped: u64,
) -> Result<Plan, Error> {
    let count = archive.len();
    if count > max_entries {
        return Err(too_many_entries(max_entries));
    }
    let mut seen: HashMap<String, Seen> = HashMap::with_capacity(count);
    // Proper prefixes of entry paths: directories whether listed or not.
    let mut implied: HashSet<String> = HashSet::new();
    let mut files: Vec<Option<FileJob>> = Vec::new();
    let mut symlinks = Vec::new();
    let mut symlink_bytes = 0u64;
    let mut declared_total = 0u64;
    for index in 0..count {
        let entry = archive.by_index_raw(index).map_err(|_| could_not_unzip())?;
        let name = entry.name().to_owned();
        let supported = matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        );
        if entry.encrypted() || !supported {
            return Err(could_not_unzip());
        }
        let unix_mode = entry.unix_mode();
        let file_type = unix_mode.map_or(0, |m| m & S_IFMT);
        let kind = if file_type == S_IFLNK {
            Kind::Symlink
        } else if entry.is_dir() || file_type == S_IFDIR {
            Kind::Dir
        } else {
            Kind::File
        };
        let declared = entry.size();
        drop(entry);

        let path = normalize(&name)?;
        if path.is_empty() {
            if kind == Kind::Dir {
                continue; // "./" and the like: the root itself.
            }
            return Err(bad_entry(&name, "its path is empty"));
        }
        for (slash, _) in path.match_indices('/') {
            let parent = &path[..slash];
            match seen.get(parent) {
                Some(Seen::File(_)) => {
                    return Err(bad_entry(
                        &name,
                        format!("it lies below the file '{}'", esc(parent)),
                    ))
                }
                Some(Seen::Symlink) => {
                    return Err(bad_entry(
                        &name,
                        format!("it lies below the symlink '{}'", esc(parent)),
                    ))
                }
                Some(Seen::Dir) | None => {}
            }
            if !implied.contains(parent) {
                implied.insert(parent.to_owned());
            }
        }
        let clash = || bad_entry(&name, "its path is also a different kind of entry");
        if kind != Kind::Dir && implied.contains(&path) {
            return Err(clash());
        }
        match kind {
            Kind::Dir => match seen.get(&path) {
                None => {
                    seen.insert(path, Seen::Dir);
                }
                Some(Seen::Dir) => {}
                Some(_) => return Err(clash()),
            },
            Kind::File => {
                match seen.get(&path) {
                    None => {}
                    Some(Seen::File(earlier)) => files[*earlier] = None,
                    Some(_) => return Err(clash()),
                }
                seen.insert(path.clone(), Seen::File(files.len()));
                let mode = file_mode(unix_mode);
                files.push(Some(FileJob {
                    index,
                    path,
                    declared,
                    mode,
                }));
            }
            Kind::Symlink => {
                if seen.contains_key(&path) {
                    return Err(clash());
                }
                if declared > MAX_SYMLINK_TARGET {
                    return Err(bad_entry(&name, "its symlink target is too long"));
                }
                let target = read_symlink_target(archive, index, declared, &name)?;
                check_symlink_target(&path, &target, &name)?;
                symlink_bytes += target.len() as u64;
                declared_total += declared;
                seen.insert(path.clone(), Seen::Symlink);
                symlinks.push((path, target));
            }
        }
    }
    let files: Vec<FileJob> = files.into_iter().flatten().collect();
    for file in &files {
        declared_total = declared_total.saturating_add(file.declared);
    }
    if declared_total > max_unzipped {
        return Err(unzipped_too_large(max_unzipped));
    }
    let mut dirs: Vec<String> = implied.into_iter().collect();
    dirs.extend(
        seen.into_iter()
            .filter(|(_, s)| matches!(s, Seen::Dir))
            .map(|(path, _)| path),
    );
    dirs.sort_unstable();
    dirs.dedup();
    Ok(Plan {
        dirs,
        files,
        symlinks,
        symlink_bytes,
    })
}

/// An entry name as a relative path of normal components joined by `/`, or why it is refused.
fn normalize(name: &str) -> Result<String, Error> {
    if name.starts_with('/') {
        return Err(bad_entry(name, "absolute paths are not allowed"));
    }
    if name.contains('\0') {
        return Err(bad_entry(name, "its name holds a NUL byte"));
    }
    let mut path = String::with_capacity(name.len());
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                return Err(bad_entry(
                    name,
                    "'..' components are not allowed (they could escape the package)",
                ))
            }
            _ => {
                if component.len() > MAX_COMPONENT_BYTES {
                    return Err(bad_entry(name, "a path component is longer than 255 bytes"));
                }
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(component);
            }
        }
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(bad_entry(name, "its path is longer than 3584 bytes"));
    }
    Ok(path)
}

fn read_symlink_target(
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
fn check_symlink_target(path: &str, target: &str, name: &str) -> Result<(), Error> {
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

/// Final mode of a file: its permission bits (0644 if none), without write or special bits.
fn file_mode(unix_mode: Option<u32>) -> u32 {
    let perm = unix_mode.map_or(0, |m| m & 0o777);
    let perm = if perm == 0 { DEFAULT_FILE_PERM } else { perm };
    perm & 0o555
}

/// Where inflated bytes go.
#[derive(Clone, Copy)]
enum Output<'a> {
    /// Counted and checked, then dropped.
    Discard,
    /// Written under this directory.
    Extract(&'a Path),
}

/// Inflates every file of the plan, in parallel for big packages, counting the bytes that come
/// out against `max_unzipped`; returns the unzipped size (files and symlink targets).
fn inflate_all(
    archive: &ZipArchive<Cursor<&[u8]>>,
    plan: &Plan,
    max_unzipped: u64,
    output: Output<'_>,
) -> Result<u64, Error> {
    let total = AtomicU64::new(plan.symlink_bytes);
    let mut jobs: Vec<&FileJob> = plan.files.iter().collect();
    // Biggest first, for a fair share between workers.
    jobs.sort_unstable_by_key(|job| Reverse(job.declared));
    let declared: u64 = jobs
        .iter()
        .map(|job| job.declared)
        .fold(0, u64::saturating_add);
    let threads = if declared < PARALLEL_MIN_BYTES {
        1
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.min(MAX_THREADS).min(jobs.len())
    };
    run_parallel(
        jobs.len(),
        threads,
        || (archive.clone(), vec![0u8; BUF_BYTES]),
        |(archive, buf), i| inflate_one(archive, buf, jobs[i], &total, max_unzipped, output),
    )?;
    Ok(total.into_inner())
}

fn inflate_one(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    buf: &mut [u8],
    job: &FileJob,
    total: &AtomicU64,
    max_unzipped: u64,
    output: Output<'_>,
) -> Result<(), Error> {
    let mut entry = archive.by_index(job.index).map_err(|_| could_not_unzip())?;
    let mut out = match output {
        Output::Discard => None,
        Output::Extract(dir) => {
            let path = dir.join(&job.path);
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| io_error("cannot create", &path, &e))?;
            Some((file, path))
        }
    };
    let mut actual = 0u64;
    loop {
        let n = match entry.read(buf) {
            Ok(0) => break, // The CRC was checked.
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(could_not_unzip()),
        };
        actual += n as u64;
        // Never trusting the declared sizes: these are the bytes that really came out.
        if total.fetch_add(n as u64, Ordering::Relaxed) + n as u64 > max_unzipped {
            return Err(unzipped_too_large(max_unzipped));
        }
        if let Some((file, path)) = &mut out {
            file.write_all(&buf[..n])
                .map_err(|e| io_error("cannot write", path, &e))?;
        }
    }
    if actual != job.declared {
        return Err(could_not_unzip());
    }
    if let Some((file, path)) = out {
        file.set_permissions(Permissions::from_mode(job.mode))
            .map_err(|e| io_error("cannot set permissions of", &path, &e))?;
        file.sync_all()
            .map_err(|e| io_error("cannot sync", &path, &e))?;
    }
    Ok(())
}

/// Runs `work` on jobs `0..jobs` with up to `threads` workers (the caller being one), each with
/// its own state from `make`; stops at the first error and returns it.
fn run_parallel<S, M, W>(jobs: usize, threads: usize, make: M, work: W) -> Result<(), Error>
where
    M: Fn() -> S + Sync,
    W: Fn(&mut S, usize) -> Result<(), Error> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let worker = || {
        let mut state = make();
        while !failed.load(Ordering::Relaxed) {
            let job = next.fetch_add(1, Ordering::Relaxed);
            if job >= jobs {
                break;
            }
            if let Err(e) = work(&mut state, job) {
                failed.store(true, Ordering::Relaxed);
                first_error.lock().get_or_insert(e);
                break;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            // A worker that cannot be spawned leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("hako-unzip".into())
                .spawn_scoped(scope, worker);
        }
        worker();
    });
    first_error.into_inner().map_or(Ok(()), Err)
}

/// Runs `work` while hashing `bytes` (on another thread if they are many).
fn with_sha256<T>(bytes: &[u8], work: impl FnOnce() -> T) -> (String, T) {
    let hash = || hex::encode(Sha256::digest(bytes));
    if bytes.len() < PARALLEL_HASH_MIN_BYTES {
        let out = work();
        return (hash(), out);
    }
    std::thread::scope(|scope| {
        let hasher = std::thread::Builder::new()
            .name("hako-sha256".into())
            .spawn_scoped(scope, hash);
        let out = work();
        let digest = match hasher {
            Ok(handle) => handle.join().unwrap_or_else(|_| hash()),
            Err(_) => hash(),
        };
        (digest, out)
    })
}

/// The entry count the zip's end record declares, if it can be read cheaply (zip64 too).
fn declared_entry_count(zip: &[u8]) -> Option<u64> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
    let last = zip.len().checked_sub(22)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    let eocd = (first..=last)
        .rev()
        .find(|&at| zip.get(at..at + 4) == Some(&EOCD[..]))?;
    let count = u16::from_le_bytes(zip.get(eocd + 10..eocd + 12)?.try_into().ok()?);
    if count != u16::MAX {
        return Some(u64::from(count));
    }
    let locator = eocd.checked_sub(20)?;
    if zip.get(locator..locator + 4)? != ZIP64_LOCATOR {
        return Some(u64::from(count));
    }
    let offset = u64::from_le_bytes(zip.get(locator + 8..locator + 16)?.try_into().ok()?);
    let record = zip.get(usize::try_from(offset).ok()?..)?;
    if record.get(..4)? != ZIP64_EOCD {
        return None;
    }
    Some(u64::from_le_bytes(record.get(32..40)?.try_into().ok()?))
}

/// A unique name for work in progress in the store root.
fn tmp_name(suffix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{TMP_PREFIX}{}-{n}-{nanos:08x}{suffix}", std::process::id())
}

fn is_dir(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// Makes a directory's entries durable, best effort.
fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(path = %dir.display(), error = %e, "cannot sync directory");
    }
}

/// Deletes a file or a (read-only) tree, best effort, never following symlinks.
fn remove_tree(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        let _ = fs::remove_file(path);
        return;
    }
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let _ = fs::set_permissions(&dir, Permissions::from_mode(0o755));
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
    }
    if let Err(e) = fs::remove_dir_all(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove directory");
    }
}

/// A package hash must be 64 lowercase hex digits: it names files.
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

fn check_hex(sha256_hex: &str) -> Result<(), Error> {
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

fn esc(s: &str) -> String {
    s.escape_debug().to_string()
}

fn could_not_unzip() -> Error {
    Error::invalid(COULD_NOT_UNZIP)
}

fn unzipped_too_large(max: u64) -> Error {
    Error::invalid(format!("Unzipped size must be smaller than {max} bytes"))
}

fn too_many_entries(max: usize) -> Error {
    Error::invalid(format!(
        "Could not unzip uploaded file: it holds more than {max} entries."
    ))
}

fn bad_entry(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidZipFile,
        format!("Invalid zip entry '{}': {why}", esc(name)),
    )
}

fn io_error(what: &str, path: &Path, e: &io::Error) -> Error {
    Error::service(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;
    use zip::ZipWriter;

    /// A scratch directory, removed (read-only trees included) on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            let dir = std::env::temp_dir().join(format!("hako-code-test{}", tmp_name("")));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn store(&self) -> CodeStore {
            CodeStore::open(&self.0).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            remove_tree(&self.0);
        }
    }

    enum E<'a> {
        File(&'a str, &'a [u8], u32),
        Dir(&'a str),
        Link(&'a str, &'a str),
    }

    fn build(entries: &[E<'_>]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for entry in entries {
            match entry {
                E::File(name, data, mode) => {
                    w.start_file(*name, opts.unix_permissions(*mode)).unwrap();
                    w.write_all(data).unwrap();
                }
                E::Dir(name) => w
                    .add_directory(*name, opts.unix_permissions(0o755))
                    .unwrap(),
                E::Link(name, target) => w.add_symlink(*name, *target, opts).unwrap(),
            }
        }
        w.finish().unwrap().into_inner()
    }

    /// Offset of the `nth` occurrence of a 4-byte signature.
    fn find_sig(zip: &[u8], sig: [u8; 4], nth: usize) -> usize {
        zip.windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .nth(nth)
            .unwrap()
            .0
    }
    const LOCAL: [u8; 4] = [0x50, 0x4b, 0x03, 0x04];
    const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];

    /// Rewrites the first entry's uncompressed size in both of its headers.
    fn lie_about_size(zip: &mut [u8], size: u32) {
        let local = find_sig(zip, LOCAL, 0);
        zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
        let central = find_sig(zip, CENTRAL, 0);
        zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

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

    #[track_caller]
    fn assert_err(result: Result<impl std::fmt::Debug, Error>, kind: ErrorKind, needle: &str) {
        let err = result.unwrap_err();
        assert_eq!(err.kind, kind, "{err}");
        assert!(err.message.contains(needle), "{err:?} lacks {needle:?}");
    }

    #[track_caller]
    fn assert_could_not_unzip(result: Result<impl std::fmt::Debug, Error>) {
        let err = result.unwrap_err();
        assert_eq!(err, Error::invalid(COULD_NOT_UNZIP));
    }

    fn sample() -> Vec<u8> {
        build(&[
            E::File("bootstrap", b"#!/bin/sh\necho hi\n", 0o755),
            E::Dir("lib/"),
            E::File("lib/util/helper.js", b"module.exports = 1;\n", 0o644),
            E::File("lib/util/deep/data.txt", &[7u8; 10_000], 0o640),
        ])
    }

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
    fn entries_without_unix_mode_get_defaults() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let mut zip = build(&[E::File("handler.py", b"x", 0o755)]);
        // Made by MS-DOS with no attributes: no unix mode at all.
        let central = find_sig(&zip, CENTRAL, 0);
        zip[central + 5] = 0;
        zip[central + 38..central + 42].copy_from_slice(&0u32.to_le_bytes());
        let info = store.put_zip(&zip).unwrap();
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        assert_eq!(mode(&dir.join("handler.py")), 0o444);
        assert_eq!(file_mode(None), 0o444);
        assert_eq!(file_mode(Some(0o100_000)), 0o444);
        assert_eq!(file_mode(Some(0o104_777)), 0o555);
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
    fn refuses_parent_components() {
        let store = Scratch::new().store();
        for name in ["../evil", "a/../../evil", "a/../b"] {
            let zip = build(&[E::File(name, b"x", 0o644)]);
            assert_err(store.put_zip(&zip), ErrorKind::InvalidZipFile, name);
        }
    }

    #[test]
    fn refuses_absolute_paths() {
        let store = Scratch::new().store();
        let zip = build(&[E::File("/etc/evil", b"x", 0o644)]);
        assert_err(store.put_zip(&zip), ErrorKind::InvalidZipFile, "/etc/evil");
    }

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

    #[test]
    fn refuses_entries_below_files_or_symlinks() {
        let store = Scratch::new().store();
        let below_link = build(&[E::Link("l", "a"), E::File("l/x", b"x", 0o644)]);
        assert_err(
            store.put_zip(&below_link),
            ErrorKind::InvalidZipFile,
            "below the symlink 'l'",
        );
        let link_above = build(&[E::File("l/x", b"x", 0o644), E::Link("l", "a")]);
        assert_err(
            store.put_zip(&link_above),
            ErrorKind::InvalidZipFile,
            "different kind",
        );
        let below_file = build(&[E::File("a", b"x", 0o644), E::File("a/b", b"y", 0o644)]);
        assert_err(
            store.put_zip(&below_file),
            ErrorKind::InvalidZipFile,
            "below the file 'a'",
        );
        let dir_and_file = build(&[E::Dir("a/"), E::File("a", b"x", 0o644)]);
        assert_err(
            store.put_zip(&dir_and_file),
            ErrorKind::InvalidZipFile,
            "different kind",
        );
    }

    #[test]
    fn last_of_duplicate_files_wins() {
        let scratch = Scratch::new();
        let store = scratch.store();
        let zip = build(&[
            E::File("a/b", b"first", 0o644),
            E::File("a/./b", b"second", 0o755),
        ]);
        let info = store.put_zip(&zip).unwrap();
        assert_eq!(info.unzipped_size, 6);
        let dir = store.unpacked(&info.sha256_hex).unwrap();
        assert_eq!(fs::read(dir.join("a/b")).unwrap(), b"second");
        assert_eq!(mode(&dir.join("a/b")), 0o555);
    }

    #[test]
    fn refuses_zip_bombs() {
        let scratch = Scratch::new();
        let store = CodeStore::open_with_limits(&scratch.0, 1 << 20, 1 << 20).unwrap();
        let zeros = vec![0u8; 2 << 20];
        let zip = build(&[E::File("bomb", &zeros, 0o644)]);
        assert!(zip.len() < 1 << 20);
        let message = "Unzipped size must be smaller than 1048576 bytes";
        assert_err(
            store.put_zip(&zip),
            ErrorKind::InvalidParameterValue,
            message,
        );

        // Spread over many entries, each below the limit.
        let half = vec![0u8; 300 << 10];
        let many = build(&[
            E::File("a", &half, 0o644),
            E::File("b", &half, 0o644),
            E::File("c", &half, 0o644),
            E::File("d", &half, 0o644),
        ]);
        assert_err(
            store.put_zip(&many),
            ErrorKind::InvalidParameterValue,
            message,
        );

        // A header that lies: the declared size is small, the inflated bytes are not.
        let mut liar = zip.clone();
        lie_about_size(&mut liar, 1000);
        assert_err(
            store.put_zip(&liar),
            ErrorKind::InvalidParameterValue,
            message,
        );
        assert_eq!(
            fs::read_dir(&scratch.0).unwrap().count(),
            0,
            "nothing stored"
        );
    }

    #[test]
    fn refuses_sizes_that_lie_within_the_limit() {
        let store = Scratch::new().store();
        let mut zip = build(&[E::File("f", &[1u8; 10_000], 0o644)]);
        lie_about_size(&mut zip, 100);
        assert_could_not_unzip(store.put_zip(&zip));
        let mut zip = build(&[E::File("f", &[1u8; 100], 0o644)]);
        lie_about_size(&mut zip, 10_000);
        assert_could_not_unzip(store.put_zip(&zip));
    }

    #[test]
    fn refuses_garbage_and_broken_zips() {
        let store = Scratch::new().store();
        assert_could_not_unzip(store.put_zip(b"this is not a zip file at all"));
        assert_could_not_unzip(store.put_zip(&[]));
        let zip = sample();
        assert_could_not_unzip(store.put_zip(&zip[..zip.len() / 2]));
        // A flipped byte in compressed data: bad CRC or bad deflate stream.
        let mut flipped = build(&[E::File("f", &[b'a'; 5000], 0o644)]);
        let at = find_sig(&flipped, LOCAL, 0) + 30 + 1 + 2;
        flipped[at] ^= 0xff;
        assert_could_not_unzip(store.put_zip(&flipped));
        // A compression method this store cannot inflate (bzip2).
        let mut bzip = build(&[E::File("f", b"data", 0o644)]);
        let local = find_sig(&bzip, LOCAL, 0);
        bzip[local + 8..local + 10].copy_from_slice(&12u16.to_le_bytes());
        let central = find_sig(&bzip, CENTRAL, 0);
        bzip[central + 10..central + 12].copy_from_slice(&12u16.to_le_bytes());
        assert_could_not_unzip(store.put_zip(&bzip));
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
    fn refuses_too_many_entries() {
        let scratch = Scratch::new();
        let store = scratch.store().with_max_entries(2);
        let zip = build(&[
            E::File("a", b"", 0o644),
            E::File("b", b"", 0o644),
            E::File("c", b"", 0o644),
        ]);
        assert_eq!(declared_entry_count(&zip), Some(3));
        assert_err(
            store.put_zip(&zip),
            ErrorKind::InvalidParameterValue,
            "more than 2 entries",
        );
        let two = build(&[E::File("a", b"", 0o644), E::File("b", b"", 0o644)]);
        assert!(store.put_zip(&two).is_ok());
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

    #[test]
    fn reads_zip64_entry_counts() {
        // EOCD with 0xffff entries, preceded by a zip64 locator pointing at a zip64 record.
        let mut zip = vec![0u8; 56];
        zip[..4].copy_from_slice(&[0x50, 0x4b, 0x06, 0x06]);
        zip[32..40].copy_from_slice(&200_000u64.to_le_bytes());
        let mut locator = vec![0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0];
        locator.extend_from_slice(&0u64.to_le_bytes());
        locator.extend_from_slice(&1u32.to_le_bytes());
        zip.extend_from_slice(&locator);
        let mut eocd = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        eocd.extend_from_slice(&[0xff; 8]);
        eocd.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(&eocd);
        assert_eq!(declared_entry_count(&zip), Some(200_000));
        let store = Scratch::new().store();
        assert_err(
            store.put_zip(&zip),
            ErrorKind::InvalidParameterValue,
            "more than 100000 entries",
        );
        assert_eq!(declared_entry_count(b"short"), None);
    }

    /// `cargo test --release -p hako-store -- --ignored --nocapture big_zip`
    #[test]
    #[ignore]
    fn big_zip_validates_quickly() {
        // ~50 MB zipped of pseudo-random text, like a fat node_modules.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let words: Vec<String> = (0..5000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("w{:x} ", state % 1_000_000_007)
            })
            .collect();
        let body = |state: &mut u64| {
            let mut body = String::new();
            while body.len() < 200_000 {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                body.push_str(&words[(*state % 5000) as usize]);
                if *state & 1 == 0 {
                    body.push_str(&format!("{:x}\n", *state));
                }
            }
            body
        };
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let mut probe = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..10 {
            probe.start_file(format!("f{i}"), opts).unwrap();
            probe.write_all(body(&mut state).as_bytes()).unwrap();
        }
        let per_file = probe.finish().unwrap().into_inner().len() / 10;
        let count = (49 << 20) / per_file;
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..count {
            w.start_file(format!("node_modules/p{}/f{i}.js", i % 50), opts)
                .unwrap();
            w.write_all(body(&mut state).as_bytes()).unwrap();
        }
        let zip = w.finish().unwrap().into_inner();
        let scratch = Scratch::new();
        let store = scratch.store();
        let started = std::time::Instant::now();
        let info = store.put_zip(&zip).unwrap();
        let put = started.elapsed();
        let started = std::time::Instant::now();
        store.unpacked(&info.sha256_hex).unwrap();
        let unpack = started.elapsed();
        eprintln!(
            "zip {} MB, unzipped {} MB, {} files: put {put:?}, unpack {unpack:?}",
            zip.len() >> 20,
            info.unzipped_size >> 20,
            count
        );
    }
}
