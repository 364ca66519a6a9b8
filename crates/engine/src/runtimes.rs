//! Runtimes this host offers: `provided*` (the package's `bootstrap`) and the managed `python3.x`
//! and `nodejsNN.x` runtimes, which run Hako's own runtime clients (embedded in the binary and
//! written to the runtime directory at start) on the host's interpreters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hako_model::runtime::{AWS_RUNTIMES, SUPPORTED_RUNTIMES};
use hako_model::{Error, Runtime};

const PYTHON_CLIENT: &str = include_str!("../runtimes/python/bootstrap.py");
const NODE_CLIENT: &str = include_str!("../runtimes/node/bootstrap.mjs");

/// One runtime the host can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// The AWS identifier (`python3.11`).
    pub name: String,
    /// The interpreter behind it, if managed.
    pub interpreter: Option<PathBuf>,
}

/// The runtimes found on this host.
#[derive(Debug, Clone)]
pub struct Runtimes {
    managed: BTreeMap<String, PathBuf>,
    /// Where the embedded runtime clients were written.
    pub dir: PathBuf,
}

fn find_in_path(path_var: &str, exe: &str) -> Option<PathBuf> {
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(exe))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false))
}

fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

impl Runtimes {
    /// Writes the runtime clients under `dir` and looks for interpreters on `path_var` (the PATH
    /// Hako was started with).
    pub async fn discover(dir: &Path, path_var: &str) -> Result<Runtimes, Error> {
        let io = |e: std::io::Error| {
            Error::service(format!(
                "cannot write runtime clients in {}: {e}",
                dir.display()
            ))
        };
        write_if_changed(&dir.join("python/bootstrap.py"), PYTHON_CLIENT).map_err(io)?;
        write_if_changed(&dir.join("node/bootstrap.mjs"), NODE_CLIENT).map_err(io)?;
        let mut managed = BTreeMap::new();
        for name in AWS_RUNTIMES {
            match Runtime::parse(name) {
                Ok(Runtime::Python { minor, .. }) => {
                    // A name on PATH may be a shim (pyenv) that fails or costs milliseconds at
                    // every start: ask the interpreter where it really is.
                    if let Some(p) = find_in_path(path_var, &format!("python3.{minor}")) {
                        let probe = hako_sandbox::probe(
                            &p,
                            &["-S", "-c", "import sys; print(sys.executable)"],
                            Duration::from_secs(5),
                        )
                        .await;
                        if let Some(real) = probe
                            .map(|s| PathBuf::from(s.trim()))
                            .filter(|p| p.is_absolute())
                        {
                            // Python never caches the bytecode of a script it is given by path:
                            // compile the client once per interpreter, which saves ~5 ms of every
                            // cold start. Without it, the source runs.
                            let src = dir.join("python/bootstrap.py");
                            let pyc = dir.join(format!("python/bootstrap.cpython-3{minor}.pyc"));
                            let code = format!(
                                "import py_compile; py_compile.compile({:?}, cfile={:?}, doraise=True)",
                                src.display().to_string(),
                                pyc.display().to_string()
                            );
                            let _ = std::fs::remove_file(&pyc);
                            let _ = hako_sandbox::probe(
                                &real,
                                &["-S", "-c", &code],
                                Duration::from_secs(10),
                            )
                            .await;
                            managed.insert(name.to_string(), real);
                        }
                    }
                }
                Ok(Runtime::Node { major, .. }) => {
                    if let Some(p) = find_in_path(path_var, &format!("node{major}")) {
                        managed.insert(name.to_string(), p);
                    }
                }
                _ => {}
            }
        }
        // `node` itself: ask its version once.
        if let Some(node) = find_in_path(path_var, "node") {
            if let Some(v) =
                hako_sandbox::probe(&node, &["--version"], Duration::from_secs(5)).await
            {
                let major = v
                    .trim()
                    .trim_start_matches('v')
                    .split('.')
                    .next()
                    .unwrap_or("");
                let name = format!("nodejs{major}.x");
                if AWS_RUNTIMES.contains(&name.as_str()) {
                    managed.entry(name).or_insert(node);
                }
            }
        }
        Ok(Runtimes {
            managed,
            dir: dir.to_path_buf(),
        })
    }

    /// Only the `provided` runtimes, with `dir` as the runtime directory (nothing is written
    /// there): for tests.
    #[cfg(any(test, feature = "testing"))]
    pub fn provided_only(dir: &Path) -> Runtimes {
        Runtimes {
            managed: BTreeMap::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Every runtime this host offers for a new function.
    pub fn list(&self) -> Vec<RuntimeInfo> {
        // What a new function may use: AWS refuses the deprecated runtimes (`provided`,
        // `python3.7`, ...) at creation, so they are not offered; functions stored with one
        // still run.
        let mut out: Vec<RuntimeInfo> = ["provided.al2", "provided.al2023"]
            .iter()
            .map(|n| RuntimeInfo {
                name: n.to_string(),
                interpreter: None,
            })
            .collect();
        out.extend(
            self.managed
                .iter()
                .filter(|(n, _)| SUPPORTED_RUNTIMES.contains(&n.as_str()))
                .map(|(n, p)| RuntimeInfo {
                    name: n.clone(),
                    interpreter: Some(p.clone()),
                }),
        );
        out
    }

    /// Checks that `name` can run here, with AWS's error when it cannot.
    pub fn check(&self, name: &str) -> Result<Runtime, Error> {
        let rt = Runtime::parse(name)?;
        match &rt {
            Runtime::Provided(_) => Ok(rt),
            _ if self.managed.contains_key(name) => Ok(rt),
            _ => Err(Error::invalid(format!(
                "The runtime parameter of {name} is not available on this Hako host: no interpreter for it was found. Available runtimes: {}",
                self.list().iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Host directories a sandbox of this runtime must see (read-only, at the same path): the
    /// interpreter's installation prefix when it lives outside the system directories (e.g.
    /// `/root/.pyenv/versions/3.11.7` for its `bin/python3.11`).
    pub(crate) fn mounts(&self, rt: &Runtime) -> Vec<PathBuf> {
        let name = match rt {
            Runtime::Python { name, .. } | Runtime::Node { name, .. } => name,
            Runtime::Provided(_) => return vec![],
        };
        let Some(exe) = self.managed.get(name) else {
            return vec![];
        };
        let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.clone());
        if ["/usr", "/bin", "/lib", "/lib64", "/sbin"]
            .iter()
            .any(|d| exe.starts_with(d))
        {
            return vec![];
        }
        // <prefix>/bin/<exe>, else the executable's directory.
        match exe
            .parent()
            .filter(|b| b.file_name().is_some_and(|n| n == "bin"))
            .and_then(Path::parent)
        {
            Some(prefix) if prefix != Path::new("/") => vec![prefix.to_path_buf()],
            _ => exe
                .parent()
                .map(|p| vec![p.to_path_buf()])
                .unwrap_or_default(),
        }
    }

    /// The program and arguments that start a function of this runtime, or AWS's error when the
    /// package cannot start. `code_dir` is the code's host path; `task_root` and `runtime_root`
    /// are where the sandbox sees the code and [`Runtimes::dir`]; `opt` the merged layers' host
    /// path and where the sandbox sees them, if the function has layers.
    pub(crate) fn command(
        &self,
        rt: &Runtime,
        code_dir: &Path,
        task_root: &Path,
        runtime_root: &Path,
        opt: Option<(&Path, PathBuf)>,
    ) -> Result<(PathBuf, Vec<String>), String> {
        // A bootstrap may be a symlink to anywhere (`bootstrap -> /opt/bin/rt`): it is looked at
        // as the sandbox will see it, never followed on the host. Where the host cannot tell
        // (it leads out of the code and the layers), the sandbox's exec decides.
        let mut view = vec![(task_root, code_dir)];
        if let Some((host, inside)) = &opt {
            view.push((inside.as_path(), *host));
        }
        let executable = |inside: &Path| match hako_sandbox::view::resolve(&view, inside) {
            Some(host) => std::fs::symlink_metadata(host).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }),
            None => true,
        };
        match rt {
            Runtime::Provided(_) => {
                // As AWS: the package's bootstrap, else a layer's (a custom runtime as a layer).
                if executable(&task_root.join("bootstrap")) {
                    Ok((task_root.join("bootstrap"), vec![]))
                } else if let Some(inside) = opt
                    .as_ref()
                    .map(|(_, inside)| inside.join("bootstrap"))
                    .filter(|b| executable(b))
                {
                    Ok((inside, vec![]))
                } else {
                    Err(
                        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
                            .to_string(),
                    )
                }
            }
            Runtime::Python { name, minor } => match self.managed.get(name) {
                Some(py) => {
                    let pyc = format!("python/bootstrap.cpython-3{minor}.pyc");
                    let client = if self.dir.join(&pyc).is_file() {
                        pyc
                    } else {
                        "python/bootstrap.py".to_string()
                    };
                    Ok((
                        py.clone(),
                        vec![runtime_root.join(client).display().to_string()],
                    ))
                }
                None => Err(format!("the runtime {name} is not available on this host")),
            },
            Runtime::Node { name, .. } => match self.managed.get(name) {
                Some(node) => Ok((
                    node.clone(),
                    vec![runtime_root
                        .join("node/bootstrap.mjs")
                        .display()
                        .to_string()],
                )),
                None => Err(format!("the runtime {name} is not available on this host")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    #[test]
    fn a_bootstrap_link_is_looked_at_as_the_sandbox_sees_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (code, opt) = (tmp.path().join("code"), tmp.path().join("opt"));
        std::fs::create_dir_all(opt.join("bin")).unwrap();
        std::fs::create_dir(&code).unwrap();
        let rt_file = opt.join("bin/rt");
        std::fs::write(&rt_file, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&rt_file, std::fs::Permissions::from_mode(0o755)).unwrap();
        let runtimes = Runtimes::provided_only(tmp.path());
        let rt = Runtime::Provided("provided.al2023".into());
        let command = |opt: Option<(&Path, PathBuf)>| {
            runtimes.command(
                &rt,
                &code,
                Path::new("/var/task"),
                Path::new("/var/runtime"),
                opt,
            )
        };
        let layers = || Some((opt.as_path(), PathBuf::from("/opt")));
        // The package's bootstrap links to a layer's file under /opt: found through the
        // sandbox's /opt (the host's /opt has no bin/rt).
        symlink("/opt/bin/rt", code.join("bootstrap")).unwrap();
        assert_eq!(
            command(layers()).unwrap().0,
            Path::new("/var/task/bootstrap")
        );
        // A link to a file the layers do not have: no bootstrap.
        std::fs::remove_file(code.join("bootstrap")).unwrap();
        symlink("/opt/bin/missing", code.join("bootstrap")).unwrap();
        assert!(command(layers())
            .unwrap_err()
            .contains("Couldn't find valid bootstrap"));
        // A link to a host path (here an executable one): never looked at on the host; the
        // sandbox's exec decides.
        std::fs::remove_file(code.join("bootstrap")).unwrap();
        symlink(&rt_file, code.join("bootstrap")).unwrap();
        assert_eq!(command(None).unwrap().0, Path::new("/var/task/bootstrap"));
        // A plain bootstrap that is not executable, and none at all.
        std::fs::remove_file(code.join("bootstrap")).unwrap();
        std::fs::write(code.join("bootstrap"), "x").unwrap();
        assert!(command(None).is_err());
        std::fs::remove_file(code.join("bootstrap")).unwrap();
        assert!(command(None).is_err());
    }
}
