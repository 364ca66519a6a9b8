//! What the code store's tests share: a scratch store, zips built entry by entry, and a few
//! byte surgeons for broken ones.

use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hako_model::{Error, ErrorKind};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::disk::{remove_tree, tmp_name};
use super::errors::COULD_NOT_UNZIP;
use super::CodeStore;

/// A scratch directory, removed (read-only trees included) on drop.
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("hako-code-test{}", tmp_name("")));
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub(super) fn store(&self) -> CodeStore {
        CodeStore::open(&self.0).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_tree(&self.0);
    }
}

pub(super) enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Link(&'a str, &'a str),
}

pub(super) fn build(entries: &[E<'_>]) -> Vec<u8> {
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
pub(super) fn find_sig(zip: &[u8], sig: [u8; 4], nth: usize) -> usize {
    zip.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == sig)
        .nth(nth)
        .unwrap()
        .0
}
pub(super) const LOCAL: [u8; 4] = [0x50, 0x4b, 0x03, 0x04];
pub(super) const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];

/// Rewrites the first entry's uncompressed size in both of its headers.
pub(super) fn lie_about_size(zip: &mut [u8], size: u32) {
    let local = find_sig(zip, LOCAL, 0);
    zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
    let central = find_sig(zip, CENTRAL, 0);
    zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
}

pub(super) fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

pub(super) fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[track_caller]
pub(super) fn assert_err(
    result: Result<impl std::fmt::Debug, Error>,
    kind: ErrorKind,
    needle: &str,
) {
    let err = result.unwrap_err();
    assert_eq!(err.kind, kind, "{err}");
    assert!(err.message.contains(needle), "{err:?} lacks {needle:?}");
}

#[track_caller]
pub(super) fn assert_could_not_unzip(result: Result<impl std::fmt::Debug, Error>) {
    let err = result.unwrap_err();
    assert_eq!(err, Error::invalid(COULD_NOT_UNZIP));
}

pub(super) fn sample() -> Vec<u8> {
    build(&[
        E::File("bootstrap", b"#!/bin/sh\necho hi\n", 0o755),
        E::Dir("lib/"),
        E::File("lib/util/helper.js", b"module.exports = 1;\n", 0o644),
        E::File("lib/util/deep/data.txt", &[7u8; 10_000], 0o640),
    ])
}
