//! Runtimes this host offers: `provided*` (the package's `bootstrap`) and the managed `python3.x`
//! and `nodejsNN.x` runtimes, each an environment Hako installed under its runtimes directory
//! ([`install`]): the interpreter at `/var/lang`, Hako's runtime client (embedded in the binary)
//! and the AWS SDK at `/var/runtime` and (Python) `/var/lang/lib/python3.N/site-packages`, as on
//! AWS. Also what a sandbox of each runtime sees of the host and its environment variables
//! ([`host_paths_to_hide`], [`Runtimes::environment`]).

pub mod install;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hako_model::runtime::SUPPORTED_RUNTIMES;
use hako_model::{Error, Runtime};

pub(crate) const PYTHON_CLIENT: &str = include_str!("../../runtimes/python/bootstrap.py");
pub(crate) const NODE_CLIENT: &str = include_str!("../../runtimes/node/bootstrap.mjs");

/// The file describing an installed runtime, in its directory.
pub const MANIFEST: &str = "hako-runtime.json";
/// Where a sandbox sees a managed runtime's `lang/` (AWS's `/var/lang`).
pub const LANG_ROOT: &str = "/var/lang";

/// What `hako runtimes install` recorded about a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    /// The interpreter's version (`3.11.2`, `20.20.2`).
    pub version: String,
    /// Where the interpreter came from.
    pub interpreter: String,
    /// The AWS SDK it carries.
    pub sdk: String,
}

impl Manifest {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "version": self.version,
            "interpreter": self.interpreter,
            "sdk": self.sdk,
        })
    }

    fn read(path: &Path) -> Option<Manifest> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(Manifest {
            name: field("name")?,
            version: field("version")?,
            interpreter: field("interpreter")?,
            sdk: field("sdk")?,
        })
    }
}

/// One runtime as `hako runtimes` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// The AWS identifier (`python3.11`).
    pub name: String,
    pub state: RuntimeState,
}

/// Whether a runtime can run functions here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeState {
    /// A `provided` runtime: nothing to install.
    Provided,
    Installed(Manifest),
    /// Not installed; `hako runtimes install` would take it from this source.
    Installable {
        source: String,
    },
    /// Installed once but broken now, or not installable here: why.
    Unavailable {
        reason: String,
    },
}

/// An installed managed runtime.
#[derive(Debug, Clone)]
struct Installed {
    manifest: Manifest,
    /// `<dir>/<name>/lang`, a sandbox's `/var/lang`.
    lang: PathBuf,
    /// `<dir>/<name>/runtime`, a sandbox's `/var/runtime`.
    runtime: PathBuf,
}

/// The runtimes of this host.
#[derive(Debug, Clone)]
pub struct Runtimes {
    /// The runtimes directory.
    pub dir: PathBuf,
    installed: BTreeMap<String, Installed>,
    /// Installed runtimes that cannot run, and why.
    broken: BTreeMap<String, String>,
    /// The major version of the system's Node.js, if any.
    system_node_major: Option<u32>,
}

pub(crate) fn write_if_changed(path: &Path, content: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

/// Host directories of Python and Node.js packages that no sandbox may see (the linux backend
/// covers them): the distribution's and the administrator's site-packages and global
/// node_modules. A function sees only its runtime's packages, as on AWS.
pub fn host_paths_to_hide() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "/usr/lib/python3/dist-packages",
        "/usr/lib/node_modules",
        "/usr/local/lib/node_modules",
        "/usr/share/nodejs",
        "/usr/lib/nodejs",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Every version's: /usr/local/lib/python3.N (pip's), /usr/lib/python3.N/{site,dist}-packages.
    for parent in ["/usr/local/lib", "/usr/lib"] {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("python3") {
                continue;
            }
            if parent == "/usr/local/lib" {
                out.push(e.path());
            } else {
                out.push(e.path().join("site-packages"));
                out.push(e.path().join("dist-packages"));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Runtimes {
    /// The runtimes installed under `dir` (see [`install`]). Each one's runtime client is brought
    /// up to this binary's; a runtime that cannot be (a directory this user cannot write) or whose
    /// interpreter is gone is reported, not offered.
    pub async fn discover(dir: &Path) -> Runtimes {
        let mut installed = BTreeMap::new();
        let mut broken = BTreeMap::new();
        for name in SUPPORTED_RUNTIMES {
            let root = dir.join(name);
            let Some(manifest) = Manifest::read(&root.join(MANIFEST)) else {
                continue;
            };
            let rt = Installed {
                manifest,
                lang: root.join("lang"),
                runtime: root.join("runtime"),
            };
            match Runtimes::refresh(name, &rt).await {
                Ok(()) => {
                    installed.insert(name.to_string(), rt);
                }
                Err(reason) => {
                    broken.insert(name.to_string(), reason);
                }
            }
        }
        Runtimes {
            dir: dir.to_path_buf(),
            installed,
            broken,
            system_node_major: install::node_major(Path::new(install::SYSTEM_NODE)).await,
        }
    }

    /// Checks an installed runtime's interpreter and rewrites its client if it is not this
    /// binary's.
    async fn refresh(name: &str, rt: &Installed) -> Result<(), String> {
        let reinstall = format!("run `hako runtimes install {name}`");
        match Runtime::parse(name) {
            Ok(Runtime::Python { minor, .. }) => {
                let python = rt.lang.join(format!("bin/python3.{minor}"));
                if !python.is_file() {
                    return Err(format!("its interpreter is gone: {reinstall}"));
                }
                let src = rt.runtime.join("bootstrap.py");
                if std::fs::read_to_string(&src).ok().as_deref() != Some(PYTHON_CLIENT) {
                    install::write_python_client(&rt.runtime, &python, minor)
                        .await
                        .map_err(|e| format!("{e}: {reinstall}"))?;
                }
                Ok(())
            }
            Ok(Runtime::Node { .. }) => {
                if !rt.lang.join("bin/node").is_file() {
                    return Err(format!("its interpreter is gone: {reinstall}"));
                }
                write_if_changed(&rt.runtime.join("bootstrap.mjs"), NODE_CLIENT)
                    .map(|_| ())
                    .map_err(|e| format!("cannot update its runtime client ({e}): {reinstall}"))
            }
            _ => Err("not a managed runtime".into()),
        }
    }

    /// Only the `provided` runtimes, with `dir` as the runtimes directory (nothing is written
    /// there): for tests.
    #[cfg(any(test, feature = "testing"))]
    pub fn provided_only(dir: &Path) -> Runtimes {
        Runtimes {
            dir: dir.to_path_buf(),
            installed: BTreeMap::new(),
            broken: BTreeMap::new(),
            system_node_major: None,
        }
    }

    /// Every runtime AWS accepts for a new function that Hako can run, and its state here.
    pub fn list(&self) -> Vec<RuntimeInfo> {
        // AWS refuses the deprecated runtimes (`provided`, `python3.7`, ...) at creation, so
        // they are not offered; functions stored with one still run.
        let mut names: Vec<&str> = SUPPORTED_RUNTIMES
            .iter()
            .copied()
            .filter(|n| Runtime::parse(n).is_ok())
            .collect();
        names.sort_by_key(|n| sort_key(n));
        names
            .into_iter()
            .map(|name| {
                let state = match Runtime::parse(name) {
                    Ok(Runtime::Provided(_)) => RuntimeState::Provided,
                    Ok(rt) => {
                        if let Some(i) = self.installed.get(name) {
                            RuntimeState::Installed(i.manifest.clone())
                        } else if let Some(reason) = self.broken.get(name) {
                            RuntimeState::Unavailable {
                                reason: reason.clone(),
                            }
                        } else {
                            match install::source(&rt, self.system_node_major) {
                                Ok(source) => RuntimeState::Installable { source },
                                Err(reason) => RuntimeState::Unavailable { reason },
                            }
                        }
                    }
                    Err(e) => RuntimeState::Unavailable { reason: e.message },
                };
                RuntimeInfo {
                    name: name.to_string(),
                    state,
                }
            })
            .collect()
    }

    /// Checks that `name` can run here, with AWS's error type when it cannot.
    pub fn check(&self, name: &str) -> Result<Runtime, Error> {
        let rt = Runtime::parse(name)?;
        match &rt {
            Runtime::Provided(_) => Ok(rt),
            _ if self.installed.contains_key(name) => Ok(rt),
            _ => {
                let installed: Vec<&str> = self.installed.keys().map(String::as_str).collect();
                Err(Error::invalid(format!(
                    "The runtime parameter of {name} is not installed on this Hako host: install it with `hako runtimes install {name}`{}. Installed managed runtimes: {}",
                    self.broken
                        .get(name)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    if installed.is_empty() {
                        "none".to_string()
                    } else {
                        installed.join(", ")
                    }
                )))
            }
        }
    }

    fn installed(&self, rt: &Runtime) -> Option<&Installed> {
        match rt {
            Runtime::Python { name, .. } | Runtime::Node { name, .. } => self.installed.get(name),
            Runtime::Provided(_) => None,
        }
    }

    /// The host directory a sandbox of `rt` sees at `/var/runtime` (a managed runtime's).
    pub(crate) fn runtime_dir(&self, rt: &Runtime) -> Option<PathBuf> {
        self.installed(rt).map(|i| i.runtime.clone())
    }

    /// Further host directories a sandbox of `rt` sees, `(host, inside)`: a managed runtime's
    /// `lang/` at `/var/lang`.
    pub(crate) fn mounts(&self, rt: &Runtime) -> Vec<(PathBuf, PathBuf)> {
        self.installed(rt)
            .map(|i| vec![(i.lang.clone(), PathBuf::from(LANG_ROOT))])
            .unwrap_or_default()
    }

    /// The host directory of a managed runtime's `lang/`.
    pub(crate) fn lang_dir(&self, rt: &Runtime) -> Option<PathBuf> {
        self.installed(rt).map(|i| i.lang.clone())
    }

    /// The program and arguments that start a function of this runtime, or AWS's error when the
    /// package cannot start. `code_dir` is the code's host path, `roots` where the sandbox sees
    /// things, `opt_host` the merged layers' host path if the function has layers.
    pub(crate) fn command(
        &self,
        rt: &Runtime,
        code_dir: &Path,
        roots: &Roots,
        opt_host: Option<&Path>,
    ) -> Result<(PathBuf, Vec<String>), String> {
        let task_root = roots.task.as_path();
        // A bootstrap may be a symlink to anywhere (`bootstrap -> /opt/bin/rt`): it is looked at
        // as the sandbox will see it, never followed on the host. Where the host cannot tell
        // (it leads out of the code and the layers), the sandbox's exec decides.
        let mut view = vec![(task_root, code_dir)];
        if let Some(host) = opt_host {
            view.push((roots.opt.as_path(), host));
        }
        let executable = |inside: &Path| match hako_sandbox::view::resolve(&view, inside) {
            Some(host) => std::fs::symlink_metadata(host).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }),
            None => true,
        };
        let missing = |name: &str| {
            format!("the runtime {name} is not installed on this host: run `hako runtimes install {name}`")
        };
        match rt {
            Runtime::Provided(_) => {
                // As AWS: the package's bootstrap, else a layer's (a custom runtime as a layer).
                if executable(&task_root.join("bootstrap")) {
                    Ok((task_root.join("bootstrap"), vec![]))
                } else if let Some(inside) = opt_host
                    .map(|_| roots.opt.join("bootstrap"))
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
            Runtime::Python { name, minor } => {
                let rt = self.installed.get(name).ok_or_else(|| missing(name))?;
                let pyc = format!("bootstrap.cpython-3{minor}.pyc");
                let client = if rt.runtime.join(&pyc).is_file() {
                    pyc
                } else {
                    "bootstrap.py".to_string()
                };
                Ok((
                    roots.lang.join(format!("bin/python3.{minor}")),
                    vec![roots.runtime.join(client).display().to_string()],
                ))
            }
            Runtime::Node { name, .. } => {
                self.installed.get(name).ok_or_else(|| missing(name))?;
                Ok((
                    roots.lang.join("bin/node"),
                    vec![roots.runtime.join("bootstrap.mjs").display().to_string()],
                ))
            }
        }
    }

    /// The environment variables a runtime sets (AWS's "defined runtime environment variables"
    /// that depend on the runtime, not on the function), as the sandbox sees its paths.
    /// `confined`: the backend shows the code, runtime and layers at AWS's paths (else they
    /// are host paths, and the sandbox sees the host's files).
    pub(crate) fn environment(
        &self,
        rt: &Runtime,
        roots: &Roots,
        confined: bool,
        host_path: &str,
    ) -> Vec<(&'static str, String)> {
        let (task, runtime, opt) = (
            roots.task.display(),
            roots.runtime.display(),
            roots.opt.display(),
        );
        let mut env = vec![
            ("LANG", "en_US.UTF-8".to_string()),
            ("TZ", ":UTC".to_string()),
            ("LAMBDA_TASK_ROOT", task.to_string()),
            ("LAMBDA_RUNTIME_DIR", runtime.to_string()),
        ];
        match rt {
            Runtime::Provided(_) => {
                // provided.al2023's lists (AWS's base image): no /var/lang.
                env.push((
                    "PATH",
                    format!("/usr/local/bin:/usr/bin:/bin:{opt}/bin:{host_path}"),
                ));
                env.push(("LD_LIBRARY_PATH", format!("{task}/lib:{opt}/lib")));
            }
            Runtime::Python { name, minor } => {
                env.extend(managed_paths(roots));
                env.push(("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}")));
                // AWS's is /var/runtime; the client puts the task root and the layers' paths
                // (/opt/python/lib/python3.N/site-packages, /opt/python) before it. Where the
                // layers are not at /opt, their host paths follow.
                let mut pythonpath = runtime.to_string();
                if !confined {
                    pythonpath.push_str(&format!(
                        ":{opt}/python/lib/python3.{minor}/site-packages:{opt}/python"
                    ));
                    // Nothing may be written into the code store.
                    env.push(("PYTHONDONTWRITEBYTECODE", "1".to_string()));
                }
                env.push(("PYTHONPATH", pythonpath));
            }
            Runtime::Node { name, major } => {
                env.extend(managed_paths(roots));
                env.push(("AWS_EXECUTION_ENV", format!("AWS_Lambda_{name}")));
                env.push((
                    "NODE_PATH",
                    format!(
                        "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{runtime}/node_modules:{runtime}:{task}"
                    ),
                ));
                if self
                    .installed(rt)
                    .is_some_and(|i| i.runtime.join("ca-cert.pem").is_file())
                {
                    env.push(("NODE_EXTRA_CA_CERTS", format!("{runtime}/ca-cert.pem")));
                }
            }
        }
        env
    }
}

/// `PATH` and `LD_LIBRARY_PATH` of a managed runtime, AWS's (recorded in functions' environments
/// and in AWS's base images, `aws/aws-lambda-base-images`):
/// `/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin` and
/// `/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib`.
fn managed_paths(roots: &Roots) -> [(&'static str, String); 2] {
    let (task, runtime, lang, opt) = (
        roots.task.display(),
        roots.runtime.display(),
        roots.lang.display(),
        roots.opt.display(),
    );
    [
        (
            "PATH",
            format!("{lang}/bin:/usr/local/bin:/usr/bin/:/bin:{opt}/bin"),
        ),
        (
            "LD_LIBRARY_PATH",
            format!(
                "{lang}/lib:/lib64:/usr/lib64:{runtime}:{runtime}/lib:{task}:{task}/lib:{opt}/lib"
            ),
        ),
    ]
}

/// Where a sandbox sees the code (`/var/task`), the runtime directory (`/var/runtime`), the
/// runtime's prefix (`/var/lang`) and the layers (`/opt`), on its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Roots {
    pub task: PathBuf,
    pub runtime: PathBuf,
    pub lang: PathBuf,
    pub opt: PathBuf,
}

/// The order `hako runtimes` lists runtimes in: provided, then Python and Node.js by version.
fn sort_key(name: &str) -> (u8, u32, String) {
    match Runtime::parse(name) {
        Ok(Runtime::Provided(_)) => (0, 0, name.to_string()),
        Ok(Runtime::Python { minor, .. }) => (1, minor, String::new()),
        Ok(Runtime::Node { major, .. }) => (2, major, String::new()),
        Err(_) => (3, 0, name.to_string()),
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
        let roots = linux_roots();
        let command = |opt: Option<&Path>| runtimes.command(&rt, &code, &roots, opt);
        let layers = || Some(opt.as_path());
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

    fn linux_roots() -> Roots {
        Roots {
            task: "/var/task".into(),
            runtime: "/var/runtime".into(),
            lang: "/var/lang".into(),
            opt: "/opt".into(),
        }
    }

    /// A runtimes directory with `name` installed as `install` leaves it (no interpreter run:
    /// `lang/bin/<exe>` is an empty file, and the client is left as is).
    fn installed(dir: &Path, name: &str, exe: &str) -> Runtimes {
        let root = dir.join(name);
        std::fs::create_dir_all(root.join("lang/bin")).unwrap();
        std::fs::create_dir_all(root.join("runtime")).unwrap();
        std::fs::write(root.join("lang/bin").join(exe), "").unwrap();
        std::fs::write(root.join("runtime/ca-cert.pem"), "").unwrap();
        let m = Manifest {
            name: name.into(),
            version: "1.2.3".into(),
            interpreter: "/usr/bin/x".into(),
            sdk: "sdk".into(),
        };
        std::fs::write(root.join(MANIFEST), m.to_json().to_string()).unwrap();
        assert_eq!(Manifest::read(&root.join(MANIFEST)), Some(m.clone()));
        let mut rts = Runtimes::provided_only(dir);
        rts.installed.insert(
            name.into(),
            Installed {
                manifest: m,
                lang: root.join("lang"),
                runtime: root.join("runtime"),
            },
        );
        rts
    }

    fn env_of(rts: &Runtimes, name: &str) -> BTreeMap<&'static str, String> {
        rts.environment(
            &Runtime::parse(name).unwrap(),
            &linux_roots(),
            true,
            "/host/bin",
        )
        .into_iter()
        .collect()
    }

    #[test]
    fn managed_runtimes_have_aws_environment_lists() {
        // AWS's values, as recorded in functions' environments (python3.11 and nodejs18.x/22.x
        // dumps) and AWS's base images (aws/aws-lambda-base-images Dockerfiles).
        let tmp = tempfile::tempdir().unwrap();
        let py = installed(tmp.path(), "python3.11", "python3.11");
        let env = env_of(&py, "python3.11");
        let aws_path = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin";
        let aws_ld = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib";
        for (k, v) in [
            ("PATH", aws_path),
            ("LD_LIBRARY_PATH", aws_ld),
            ("LANG", "en_US.UTF-8"),
            ("TZ", ":UTC"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11"),
            ("PYTHONPATH", "/var/runtime"),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert!(!env.contains_key("PYTHONDONTWRITEBYTECODE"));
        let node = installed(tmp.path(), "nodejs22.x", "node");
        let env = env_of(&node, "nodejs22.x");
        for (k, v) in [
            ("PATH", aws_path),
            ("LD_LIBRARY_PATH", aws_ld),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs22.x"),
            (
                "NODE_PATH",
                "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
            ),
            ("NODE_EXTRA_CA_CERTS", "/var/runtime/ca-cert.pem"),
        ] {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
        }
        // On a backend that confines nothing, the layers' host paths join PYTHONPATH.
        let roots = Roots {
            task: "/d/code/abc".into(),
            runtime: "/d/runtimes/python3.11/runtime".into(),
            lang: "/d/runtimes/python3.11/lang".into(),
            opt: "/d/code/opt-1".into(),
        };
        let env: BTreeMap<_, _> = py
            .environment(&Runtime::parse("python3.11").unwrap(), &roots, false, "")
            .into_iter()
            .collect();
        assert_eq!(
            env["PYTHONPATH"],
            "/d/runtimes/python3.11/runtime:/d/code/opt-1/python/lib/python3.11/site-packages:/d/code/opt-1/python"
        );
        assert!(env["PATH"].starts_with("/d/runtimes/python3.11/lang/bin:"));
    }

    #[test]
    fn managed_runtimes_run_their_own_interpreter_at_var_lang() {
        let tmp = tempfile::tempdir().unwrap();
        let rts = installed(tmp.path(), "python3.11", "python3.11");
        let rt = Runtime::parse("python3.11").unwrap();
        let (program, args) = rts.command(&rt, tmp.path(), &linux_roots(), None).unwrap();
        assert_eq!(program, Path::new("/var/lang/bin/python3.11"));
        assert_eq!(args, vec!["/var/runtime/bootstrap.py".to_string()]);
        assert_eq!(
            rts.mounts(&rt),
            vec![(
                tmp.path().join("python3.11/lang"),
                PathBuf::from("/var/lang")
            )]
        );
        assert_eq!(
            rts.runtime_dir(&rt),
            Some(tmp.path().join("python3.11/runtime"))
        );
        // Not installed: the error names the command that installs it, with AWS's type.
        let node = Runtime::parse("nodejs20.x").unwrap();
        assert!(rts
            .command(&node, tmp.path(), &linux_roots(), None)
            .unwrap_err()
            .contains("hako runtimes install nodejs20.x"));
        let err = rts.check("nodejs20.x").unwrap_err();
        assert_eq!(err.kind, hako_model::ErrorKind::InvalidParameterValue);
        assert!(
            err.message.contains("`hako runtimes install nodejs20.x`"),
            "{}",
            err.message
        );
        assert!(err
            .message
            .ends_with("Installed managed runtimes: python3.11"));
        assert!(rts.check("python3.11").is_ok());
        assert!(rts.check("provided.al2023").is_ok());
        assert!(rts
            .mounts(&Runtime::Provided("provided.al2023".into()))
            .is_empty());
    }

    #[test]
    fn the_list_offers_every_supported_python_and_node_runtime() {
        let tmp = tempfile::tempdir().unwrap();
        let rts = installed(tmp.path(), "python3.11", "python3.11");
        let list = rts.list();
        let names: Vec<&str> = list.iter().map(|r| r.name.as_str()).collect();
        for n in [
            "provided.al2023",
            "python3.11",
            "python3.13",
            "nodejs20.x",
            "nodejs22.x",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert!(!names.contains(&"java21"));
        assert!(
            names.iter().position(|n| *n == "python3.10")
                < names.iter().position(|n| *n == "python3.11")
        );
        let state = |n: &str| list.iter().find(|r| r.name == n).unwrap().state.clone();
        assert!(matches!(state("python3.11"), RuntimeState::Installed(m) if m.version == "1.2.3"));
        assert_eq!(state("provided.al2023"), RuntimeState::Provided);
        assert!(!matches!(state("nodejs22.x"), RuntimeState::Installed(_)));
    }

    #[test]
    fn the_hosts_package_directories_are_hidden() {
        let hidden = host_paths_to_hide();
        for p in [
            "/usr/lib/python3/dist-packages",
            "/usr/lib/node_modules",
            "/usr/local/lib/node_modules",
        ] {
            assert!(hidden.contains(&PathBuf::from(p)), "{p}");
        }
        // Whatever python3.N directories this host has under /usr/local/lib.
        for e in std::fs::read_dir("/usr/local/lib")
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with("python3") {
                assert!(hidden.contains(&e.path()));
            }
        }
    }
}
