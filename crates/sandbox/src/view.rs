//! A path as a sandbox sees it, found on the host without the host ever following a link.
//!
//! A function's package may hold symlinks that point anywhere (`bootstrap -> /opt/bin/runtime`,
//! `lib -> /opt/lib`): they are meant for the sandbox, where they resolve against its own root.
//! When Hako must look at what such a path leads to before a sandbox runs it (is there an
//! executable bootstrap?), it resolves it as the sandbox would, link by link, reading each link
//! on the host (`readlink`, never followed there) and taking its target in the sandbox's view.
//! A link to `/etc/shadow` therefore never makes Hako look at the host's `/etc/shadow`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Links followed at most in one resolution (the kernel's limit: more is `ELOOP`).
const MAX_LINKS: usize = 40;

/// Where `inside` (an absolute path as a sandbox sees it) is on the host, its symlinks resolved
/// as the sandbox resolves them. `view` lists the directories the sandbox sees, each as
/// `(inside, host)`: where the sandbox sees it and the host directory that holds it (the longest
/// matching one wins). `None` when the path leads outside those directories (the host cannot tell
/// what the sandbox has there) or through more than 40 links. The path returned may not exist;
/// none of its components is a symlink (as of the resolution).
pub fn resolve(view: &[(&Path, &Path)], inside: &Path) -> Option<PathBuf> {
    let mut pending = VecDeque::new();
    push_front(&mut pending, inside);
    // The path resolved so far, as the sandbox sees it: no symlink in it, so `..` is lexical.
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let next = resolved.join(&name);
        let link = host_path(view, &next)
            .filter(|host| std::fs::symlink_metadata(host).is_ok_and(|m| m.is_symlink()));
        match link {
            Some(host) => {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                push_front(&mut pending, &target);
            }
            None => resolved = next,
        }
    }
    host_path(view, &resolved)
}

/// Puts the components of `path` in front of those still to resolve (`.` dropped, `..` kept).
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    for part in parts.into_iter().rev() {
        pending.push_front(part);
    }
}

/// The host path of `inside` through the view's longest matching directory.
fn host_path(view: &[(&Path, &Path)], inside: &Path) -> Option<PathBuf> {
    view.iter()
        .filter_map(|(dir, host)| {
            let rest = inside.strip_prefix(dir).ok()?;
            // No join with an empty rest: a trailing slash would make the host follow a link.
            let path = if rest.as_os_str().is_empty() {
                host.to_path_buf()
            } else {
                host.join(rest)
            };
            Some((dir.as_os_str().len(), path))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    /// A code directory seen at /var/task and a layers directory seen at /opt.
    struct Trees {
        _tmp: tempfile::TempDir,
        code: PathBuf,
        opt: PathBuf,
        host: PathBuf,
    }

    impl Trees {
        fn new() -> Trees {
            let tmp = tempfile::tempdir().unwrap();
            let (code, opt, host) = (
                tmp.path().join("code"),
                tmp.path().join("opt"),
                tmp.path().join("host"),
            );
            for d in [&code, &opt, &host] {
                fs::create_dir(d).unwrap();
            }
            fs::create_dir_all(opt.join("bin")).unwrap();
            fs::write(opt.join("bin/rt"), "runtime").unwrap();
            fs::write(host.join("secret"), "host").unwrap();
            Trees {
                _tmp: tmp,
                code,
                opt,
                host,
            }
        }

        fn resolve(&self, inside: &str) -> Option<PathBuf> {
            let view = [
                (Path::new("/var/task"), self.code.as_path()),
                (Path::new("/opt"), self.opt.as_path()),
            ];
            resolve(&view, Path::new(inside))
        }
    }

    #[test]
    fn links_resolve_in_the_sandboxs_view() {
        let t = Trees::new();
        symlink("/opt/bin/rt", t.code.join("bootstrap")).unwrap();
        symlink("../../opt/bin/rt", t.code.join("relative")).unwrap();
        symlink("../../../../../../opt/bin", t.code.join("climbs")).unwrap();
        symlink("hop", t.code.join("chain")).unwrap();
        symlink("/var/task/climbs", t.code.join("hop")).unwrap();
        fs::create_dir(t.code.join("real")).unwrap();
        fs::write(t.code.join("real/f"), "f").unwrap();
        symlink("/var/task/real", t.opt.join("lib")).unwrap();
        let rt = Some(t.opt.join("bin/rt"));
        assert_eq!(t.resolve("/var/task/bootstrap"), rt);
        assert_eq!(t.resolve("/var/task/relative"), rt);
        // `..` stops at the root, as in any root.
        assert_eq!(t.resolve("/var/task/climbs/rt"), rt);
        assert_eq!(t.resolve("/var/task/chain/rt"), rt);
        assert_eq!(t.resolve("/opt/lib/f"), Some(t.code.join("real/f")));
        assert_eq!(
            t.resolve("/var/task/./real/../real/f"),
            Some(t.code.join("real/f"))
        );
        // Plain paths, present or not.
        assert_eq!(t.resolve("/var/task/missing"), Some(t.code.join("missing")));
        assert_eq!(t.resolve("/var/task"), Some(t.code.clone()));
    }

    #[test]
    fn links_never_resolve_on_the_host() {
        let t = Trees::new();
        // The host path of a host file, absolute: inside the sandbox it is not that file.
        symlink(t.host.join("secret"), t.code.join("abs")).unwrap();
        symlink("/etc/shadow", t.code.join("shadow")).unwrap();
        // Relative, up from the code directory's host path to its sibling: inside, it climbs
        // from /var/task to /var, not to the host's directory.
        symlink("../host/secret", t.code.join("sibling")).unwrap();
        assert_eq!(t.resolve("/var/task/abs"), None);
        assert_eq!(t.resolve("/var/task/shadow"), None);
        assert_eq!(t.resolve("/var/task/sibling"), None);
        assert_eq!(t.resolve("/etc/passwd"), None);
    }

    #[test]
    fn loops_end() {
        let t = Trees::new();
        symlink("b", t.code.join("a")).unwrap();
        symlink("a", t.code.join("b")).unwrap();
        symlink("self/x", t.code.join("self")).unwrap();
        assert_eq!(t.resolve("/var/task/a"), None);
        assert_eq!(t.resolve("/var/task/self"), None);
    }
}
