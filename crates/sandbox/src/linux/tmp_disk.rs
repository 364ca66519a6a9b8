//! The sandbox's `/tmp` on a disk of its own: an ext4 filesystem on a loop device whose backing
//! file lives on the host's disk, so that (as on AWS) `/tmp` does not count against the
//! function's memory. A tmpfs would: its pages are charged to the sandbox's memory cgroup and
//! cannot be reclaimed, so a 128 MB function could not fill its 512 MB of `/tmp`. The page cache
//! of a filesystem on disk is charged too, but is written back and reclaimed under pressure.
//!
//! - Hako formats a *template* per size with `mkfs.ext4` (no journal, no reserved blocks, lazy
//!   inode tables: a few hundred KB of metadata in a sparse file) into an unlinked file
//!   (`O_TMPFILE`) of the scratch directory, once per size ([`Templates`]);
//! - a sandbox's init, while the sandbox is prepared ahead of demand, copies the template's data
//!   sparsely into its own unlinked file of the same directory, attaches it to a free loop device
//!   (`LO_FLAGS_AUTOCLEAR`, direct I/O) and mounts it at the root's `/tmp` ([`attach`]): about
//!   2 ms, off the cold start. On the cold start nothing is left to do when the function's
//!   `EphemeralStorage` is the size the sandbox was prepared with (the size of the last claim);
//!   otherwise the init swaps the disk for one of the right size.
//!
//! Nothing is ever named on the host's disk and nothing leaks: the backing file is referenced only
//! by the loop device, the loop device only by the mount, and the mount only by the sandbox's
//! mount namespace; when the sandbox goes (even after a `kill -9` of Hako) the namespace goes, the
//! loop device is released and the file's blocks are freed. Deleting in `/tmp` gives the space
//! back at once (`discard` punches holes into the backing file). The filesystem is sized so that
//! the function can write its whole `EphemeralStorage` (ext4's own metadata and reserve on top).
//!
//! Growing a prepared disk online would avoid the swap, but `EXT4_IOC_RESIZE_FS` needs
//! `CAP_SYS_RESOURCE`, which container hosts often withhold.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

const BLOCK: u64 = 4096;
/// Templates kept (one per size asked for; each is a few hundred KB of a sparse file).
const MAX_TEMPLATES: usize = 16;
/// Where `mkfs.ext4` is looked for (the library reads no environment, `PATH` included).
const MKFS_PLACES: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"];

/// What a sandbox's init needs to make its `/tmp` disk (the template comes as an fd alongside).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DiskSpec {
    /// The host directory of the unlinked backing files.
    pub(crate) dir: PathBuf,
    pub(crate) size_mb: u64,
    /// The owner of `/tmp` (the sandbox user).
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// The formatted templates of one Hako, by size.
#[derive(Debug)]
pub(crate) struct Templates {
    dir: PathBuf,
    mkfs: PathBuf,
    by_size: Mutex<HashMap<u64, Arc<File>>>,
}

/// `mkfs.ext4`'s path, if the host has it (package e2fsprogs).
pub(crate) fn find_mkfs() -> Option<PathBuf> {
    MKFS_PLACES
        .iter()
        .map(|d| Path::new(d).join("mkfs.ext4"))
        .find(|p| p.is_file())
}

impl Templates {
    /// Checks that `dir` can hold the disks (it is created if missing, and must be on a disk, not
    /// in memory) and makes the template of the default size. The error says why `/tmp` stays a
    /// tmpfs.
    pub(crate) fn open(dir: &Path, default_mb: u64) -> Result<Templates, String> {
        let mkfs = find_mkfs().ok_or("mkfs.ext4 not found (install e2fsprogs)")?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let st = nix::sys::statfs::statfs(dir)
            .map_err(|e| format!("cannot statfs {}: {e}", dir.display()))?;
        let t = st.filesystem_type();
        const RAMFS_MAGIC: i64 = 0x8584_58f6;
        if t == nix::sys::statfs::TMPFS_MAGIC || t.0 as i64 == RAMFS_MAGIC {
            return Err(format!("{} is in memory (a tmpfs)", dir.display()));
        }
        let templates = Templates {
            dir: dir.to_path_buf(),
            mkfs,
            by_size: Mutex::new(HashMap::new()),
        };
        templates.get(default_mb)?;
        Ok(templates)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The template of `size_mb`, formatted now if it is the first of its size.
    pub(crate) fn get(&self, size_mb: u64) -> Result<Arc<File>, String> {
        let mut by_size = self.by_size.lock().map_err(|_| "poisoned".to_string())?;
        if let Some(t) = by_size.get(&size_mb) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.format(size_mb)?);
        if by_size.len() >= MAX_TEMPLATES {
            by_size.clear();
        }
        by_size.insert(size_mb, t.clone());
        Ok(t)
    }

    /// Formats an unlinked file so that its filesystem has `size_mb` free (to within a few KB) for
    /// an unprivileged user. On top of that, ext4 keeps 2 % of the blocks (at most 16 MB) for its
    /// own metadata, and its inode tables take 1/64 of them: a first guess from those, then
    /// corrected from what mkfs made.
    fn format(&self, size_mb: u64) -> Result<File, String> {
        let want = size_mb.max(1) * (1 << 20) / BLOCK;
        let overhead = |blocks: u64| blocks / 64 + (blocks / 50).min(4096) + blocks / 16384 + 16;
        let mut blocks = want + overhead(want + overhead(want));
        let mut fits = None;
        for _ in 0..6 {
            let file = self.mkfs(blocks)?;
            let (count, free) = read_superblock(&file)?;
            // What the kernel keeps for itself (ext4_calculate_resv_clusters).
            let avail = free.saturating_sub((count / 50).min(4096));
            if avail >= want {
                if avail - want <= 8 {
                    return Ok(file);
                }
                fits = Some(file);
            }
            blocks = (blocks + want + 2).saturating_sub(avail);
        }
        fits.ok_or_else(|| format!("cannot size a {size_mb} MB /tmp filesystem"))
    }

    /// An unlinked file of `blocks` formatted by mkfs.ext4: no journal (a scratch space), no
    /// blocks reserved for root, no room to grow, inode tables left for the kernel to initialise.
    fn mkfs(&self, blocks: u64) -> Result<File, String> {
        let file = unlinked_file(&self.dir)?;
        file.set_len(blocks * BLOCK)
            .map_err(|e| format!("cannot size a /tmp template: {e}"))?;
        let path = format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd());
        let out = std::process::Command::new(&self.mkfs)
            .args([
                "-q", "-F", "-b", "4096", "-I", "256", "-i", "16384", "-m", "0",
            ])
            .args(["-O", "^has_journal,^resize_inode"])
            .args(["-E", "lazy_itable_init=1,nodiscard", "-L", "hako-tmp"])
            .arg(&path)
            .arg(blocks.to_string())
            .env_clear()
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.mkfs.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                self.mkfs.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(file)
    }
}

/// A new unlinked file in `dir` (never visible by name; gone with its last reference).
fn unlinked_file(dir: &Path) -> Result<File, String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
        .map_err(|e| format!("cannot create an unlinked file in {}: {e}", dir.display()))
}

/// The block count and free block count of the ext4 superblock of `file`.
fn read_superblock(file: &File) -> Result<(u64, u64), String> {
    let mut sb = [0u8; 1024];
    file.read_exact_at(&mut sb, 1024)
        .map_err(|e| format!("cannot read the superblock: {e}"))?;
    let u32_at = |o: usize| u64::from(u32::from_le_bytes([sb[o], sb[o + 1], sb[o + 2], sb[o + 3]]));
    if u32_at(0x38) & 0xffff != 0xef53 {
        return Err("mkfs.ext4 wrote no ext4 superblock".into());
    }
    let count = u32_at(0x04) | (u32_at(0x150) << 32);
    let free = u32_at(0x0c) | (u32_at(0x158) << 32);
    Ok((count, free))
}

// The loop device interface (linux/loop.h).
const LOOP_CTL_GET_FREE: u32 = 0x4C82;
const LOOP_CONFIGURE: u32 = 0x4C0A;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

nix::ioctl_none_bad!(loop_ctl_get_free, LOOP_CTL_GET_FREE);
nix::ioctl_write_ptr_bad!(loop_configure, LOOP_CONFIGURE, LoopConfig);

/// Attaches `backing` to a free loop device (released when its last user closes it). Returns the
/// open device.
fn attach_loop(backing: BorrowedFd<'_>) -> Result<(File, PathBuf), String> {
    let control = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| format!("cannot open /dev/loop-control: {e}"))?;
    let mut last = String::new();
    // Another process may take the free device between our two calls: try the next one.
    for _ in 0..16 {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number or -1.
        let n = unsafe { loop_ctl_get_free(control.as_raw_fd()) }
            .map_err(|e| format!("no free loop device: {e}"))?;
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(d) => d,
            Err(e) => {
                last = format!("cannot open {}: {e}", path.display());
                continue;
            }
        };
        let mut result = Err(nix::errno::Errno::EINVAL);
        for flags in [
            LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO,
            LO_FLAGS_AUTOCLEAR, // the backing filesystem has no direct I/O
        ] {
            let cfg = LoopConfig {
                fd: backing.as_raw_fd() as u32,
                block_size: BLOCK as u32,
                info: LoopInfo64 {
                    lo_device: 0,
                    lo_inode: 0,
                    lo_rdevice: 0,
                    lo_offset: 0,
                    lo_sizelimit: 0,
                    lo_number: 0,
                    lo_encrypt_type: 0,
                    lo_encrypt_key_size: 0,
                    lo_flags: flags,
                    lo_file_name: [0; 64],
                    lo_crypt_name: [0; 64],
                    lo_encrypt_key: [0; 32],
                    lo_init: [0; 2],
                },
                reserved: [0; 8],
            };
            // SAFETY: `cfg` is a fully initialised `struct loop_config` that outlives the call;
            // the kernel only reads it.
            result = unsafe { loop_configure(dev.as_raw_fd(), &cfg) }.map(|_| ());
            if result != Err(nix::errno::Errno::EINVAL) {
                break;
            }
        }
        match result {
            Ok(()) => return Ok((dev, path)),
            // Taken meanwhile.
            Err(nix::errno::Errno::EBUSY) => last = format!("{} is busy", path.display()),
            Err(e) => return Err(format!("cannot attach {}: {e}", path.display())),
        }
    }
    Err(last)
}

/// Copies the data of the sparse `template` into `to` (a hole stays a hole).
fn copy_sparse(template: &File, to: &File) -> Result<(), String> {
    use nix::unistd::{lseek, Whence};
    let size = template
        .metadata()
        .map_err(|e| format!("cannot stat the template: {e}"))?
        .len() as i64;
    to.set_len(size as u64)
        .map_err(|e| format!("cannot size the /tmp disk: {e}"))?;
    let fd = template.as_raw_fd();
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0i64;
    while off < size {
        let data = match lseek(fd, off, Whence::SeekData) {
            Ok(d) => d,
            Err(nix::errno::Errno::ENXIO) => break, // only a hole left
            Err(e) => return Err(format!("cannot seek in the template: {e}")),
        };
        let hole = lseek(fd, data, Whence::SeekHole)
            .map_err(|e| format!("cannot seek in the template: {e}"))?;
        let mut at = data as u64;
        while at < hole as u64 {
            let n = buf.len().min((hole as u64 - at) as usize);
            template
                .read_exact_at(&mut buf[..n], at)
                .and_then(|()| to.write_all_at(&buf[..n], at))
                .map_err(|e| format!("cannot copy the template: {e}"))?;
            at += n as u64;
        }
        off = hole;
    }
    Ok(())
}

/// Makes a disk of the template's size from `template` and mounts it at `at` (a host path, in
/// the sandbox's mount namespace), owned by the sandbox user, mode 1777 like `/tmp`. Runs in the
/// sandbox's init, as root.
pub(crate) fn attach(at: &Path, template: &File, spec: &DiskSpec) -> Result<(), String> {
    let backing = unlinked_file(&spec.dir)?;
    copy_sparse(template, &backing)?;
    let (dev, path) = attach_loop(backing.as_fd())?;
    drop(backing); // the loop device holds it
    std::fs::create_dir_all(at).map_err(|e| format!("cannot create {}: {e}", at.display()))?;
    // noinit_itable: no kernel thread zeroing the inode tables in the background.
    mount(
        Some(&path),
        at,
        Some("ext4"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("discard,noinit_itable"),
    )
    .map_err(|e| format!("cannot mount {} on {}: {e}", path.display(), at.display()))?;
    // From here on the mount holds the device; closing ours lets it go with the mount.
    drop(dev);
    let settle = || -> Result<(), String> {
        let _ = std::fs::remove_dir(at.join("lost+found"));
        nix::unistd::chown(
            at,
            Some(nix::unistd::Uid::from_raw(spec.uid)),
            Some(nix::unistd::Gid::from_raw(spec.gid)),
        )
        .map_err(|e| format!("cannot chown {}: {e}", at.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o1777))
            .map_err(|e| format!("cannot chmod {}: {e}", at.display()))
    };
    settle().inspect_err(|_| {
        let _ = umount2(at, MntFlags::MNT_DETACH);
    })
}

/// Takes the disk mounted at `at` away (it is released once nothing uses it).
pub(crate) fn detach(at: &Path) -> Result<(), String> {
    umount2(at, MntFlags::MNT_DETACH).map_err(|e| format!("cannot unmount {}: {e}", at.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether mkfs.ext4 is here (CI installs e2fsprogs: there its absence is a failure).
    fn have_mkfs(test: &str) -> bool {
        if find_mkfs().is_some() {
            return true;
        }
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{test}: mkfs.ext4 is missing (e2fsprogs)"
        );
        eprintln!("SKIPPED {test}: mkfs.ext4 is missing (e2fsprogs)");
        false
    }

    #[test]
    fn a_template_leaves_its_size_free_and_takes_little_disk() {
        if !have_mkfs("a_template_leaves_its_size_free_and_takes_little_disk") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let templates = Templates::open(dir.path(), 8).unwrap();
        for size_mb in [8, 512, 10240] {
            let t = templates.get(size_mb).unwrap();
            let (count, free) = read_superblock(&t).unwrap();
            let avail = free - (count / 50).min(4096);
            let want = size_mb * 256;
            assert!(
                (want..=want + 8).contains(&avail),
                "{size_mb} MB: {avail} blocks free"
            );
            // Sparse: only the metadata mkfs wrote takes space.
            let used = std::os::unix::fs::MetadataExt::blocks(&t.metadata().unwrap()) * 512;
            assert!(used < 8 << 20, "{size_mb} MB: {used} bytes on disk");
            assert!(Arc::ptr_eq(&t, &templates.get(size_mb).unwrap()));
        }
        // Nothing named in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_in_memory_is_refused() {
        if !have_mkfs("a_directory_in_memory_is_refused") || !Path::new("/dev/shm").is_dir() {
            return;
        }
        let err = Templates::open(Path::new("/dev/shm"), 8).unwrap_err();
        assert!(err.contains("in memory"), "{err}");
    }
}
