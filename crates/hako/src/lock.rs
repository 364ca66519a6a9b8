//! One server per data directory: `hako serve` holds an exclusive lock on `<data dir>/hako.lock`
//! (`flock(2)` through `std::fs::File::try_lock`) for as long as it runs. The kernel drops the
//! lock when the process ends, however it ends, so a `kill -9` leaves no stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub(crate) const LOCK_FILE: &str = "hako.lock";

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error(
        "another hako{} is already serving the data directory {dir} (it holds {file}); stop it \
         first, or give this one its own --data-dir",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir = .dir.display(),
        file = .file.display()
    )]
    Held {
        dir: PathBuf,
        file: PathBuf,
        holder: Option<u32>,
    },
    #[error("cannot lock {}: {source}", .file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (which must exist), without waiting; writes this process's
    /// id into the file so that the next one can say who holds it.
    pub(crate) fn acquire(data_dir: &Path) -> Result<DataDirLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            file: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    dir: data_dir.to_path_buf(),
                    file: path.clone(),
                    holder: text.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_data_dir_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open in this very process
        // conflicts just as another process would.
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, LockError::Held { holder: Some(p), .. } if *p == std::process::id()),
            "{err:?}"
        );
        assert!(
            msg.starts_with(&format!(
                "another hako (pid {}) is already serving the data directory {}",
                std::process::id(),
                dir.path().display()
            )),
            "{msg}"
        );
        drop(first);
        let again = DataDirLock::acquire(dir.path());
        assert!(again.is_ok(), "{again:?}");
    }
}
