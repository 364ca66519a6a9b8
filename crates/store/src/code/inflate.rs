//! Inflating a package's files, on several threads for big ones, counting the bytes that really
//! come out (never the headers' word) against the unzipped limit; and hashing a package while
//! that runs.

use std::cmp::Reverse;
use std::fs::{OpenOptions, Permissions};
use std::io::{self, Cursor, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use hako_model::Error;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::errors::{could_not_unzip, io_error, unzipped_too_large};
use super::validate::{FileJob, Plan};

/// Inflate buffer, per worker.
const BUF_BYTES: usize = 256 * 1024;
/// Below this many declared bytes, inflate on the calling thread only.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
/// Most inflate workers per package.
const MAX_THREADS: usize = 8;
/// Below this many zipped bytes, hash on the calling thread.
const PARALLEL_HASH_MIN_BYTES: usize = 1 << 20;

/// Where inflated bytes go.
#[derive(Clone, Copy)]
pub(super) enum Output<'a> {
    /// Counted and checked, then dropped.
    Discard,
    /// Written under this directory.
    Extract(&'a Path),
}

/// Inflates every file of the plan, in parallel for big packages, counting the bytes that come
/// out against `max_unzipped`; returns the unzipped size (files and symlink targets).
pub(super) fn inflate_all(
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
pub(super) fn with_sha256<T>(bytes: &[u8], work: impl FnOnce() -> T) -> (String, T) {
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::test_support::*;
    use super::super::CodeStore;
    use super::*;
    use hako_model::ErrorKind;
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

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
