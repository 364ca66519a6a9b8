//! A package's entries checked before anything is written: supported compression, no
//! encryption, entry names (relative, no `..`, bounded lengths), no entry below a file or a
//! symlink, no path that is two kinds of entry, the declared sizes and entry counts; what
//! passes becomes a [`Plan`] of directories, files and symlinks to make.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use hako_model::Error;
use zip::{CompressionMethod, ZipArchive};

use super::errors::{bad_entry, could_not_unzip, esc, too_many_entries, unzipped_too_large};
use super::inflate::{inflate_all, Output};
use super::symlinks::{check_symlink_target, read_symlink_target, MAX_SYMLINK_TARGET};
use super::CodeStore;

/// Longest path component (NAME_MAX).
const MAX_COMPONENT_BYTES: usize = 255;
/// Longest entry path, leaving room for the store root within PATH_MAX.
const MAX_PATH_BYTES: usize = 3584;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const DEFAULT_FILE_PERM: u32 = 0o644;

impl CodeStore {
    /// Checks a zip fully (inflating it to count its bytes); returns its unzipped size.
    pub(super) fn check(&self, zip: &[u8]) -> Result<u64, Error> {
        let mut archive = self.open_archive(zip)?;
        let plan = plan(&mut archive, self.max_entries, self.max_unzipped)?;
        inflate_all(&archive, &plan, self.max_unzipped, Output::Discard)
    }

    pub(super) fn open_archive<'a>(
        &self,
        zip: &'a [u8],
    ) -> Result<ZipArchive<Cursor<&'a [u8]>>, Error> {
        // Checked before parsing, which costs memory per declared entry.
        if declared_entry_count(zip).is_some_and(|n| n > self.max_entries as u64) {
            return Err(too_many_entries(self.max_entries));
        }
        ZipArchive::new(Cursor::new(zip)).map_err(|_| could_not_unzip())
    }
}

/// What a zip unpacks to, once its entries passed the checks.
#[derive(Debug)]
pub(super) struct Plan {
    /// Every directory to create, explicit or implied, sorted.
    pub(super) dirs: Vec<String>,
    /// The regular files, the last of each path only.
    pub(super) files: Vec<FileJob>,
    /// (path, target)
    pub(super) symlinks: Vec<(String, String)>,
    /// Bytes of the symlink targets.
    pub(super) symlink_bytes: u64,
}

#[derive(Debug)]
pub(super) struct FileJob {
    pub(super) index: usize,
    pub(super) path: String,
    pub(super) declared: u64,
    pub(super) mode: u32,
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
pub(super) fn plan(
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
                check_symlink_target(&target, &name)?;
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
    // No file system takes a NUL in a name, and a C string would end there (`a\0b.py` would
    // be `a`): AWS's answer for a zip it cannot unzip.
    if name.contains('\0') {
        return Err(could_not_unzip());
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

/// Final mode of a file: its permission bits (0644 if none), without write or special bits.
fn file_mode(unix_mode: Option<u32>) -> u32 {
    let perm = unix_mode.map_or(0, |m| m & 0o777);
    let perm = if perm == 0 { DEFAULT_FILE_PERM } else { perm };
    perm & 0o555
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::test_support::*;
    use super::*;
    use hako_model::ErrorKind;

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
}

#[cfg(test)]
mod nul_tests {
    use super::super::test_support::*;
    use hako_model::ErrorKind;

    /// A name with a NUL byte (`a\0.py`, the central directory and local header both say so)
    /// is refused as AWS refuses a zip it cannot unzip, never stored as `a`.
    #[test]
    fn refuses_a_nul_in_an_entry_name() {
        let store = Scratch::new().store();
        // A one-entry zip whose name `ok.py` was rewritten to `a\0.py` in both headers.
        let mut zip = build(&[E::File("ok.py", b"x", 0o644)]);
        let mut i = 0;
        while let Some(p) = zip[i..].windows(5).position(|w| w == b"ok.py") {
            zip[i + p..i + p + 5].copy_from_slice(b"a\0.py");
            i += p + 5;
        }
        let err = store.put_zip(&zip).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameterValue, "{err:?}");
        assert_eq!(err.message, super::super::errors::COULD_NOT_UNZIP);
    }
}
