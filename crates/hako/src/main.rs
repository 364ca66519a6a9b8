//! `hako`: the whole platform in one binary.
//!
//! Only this crate reads the environment, files and flags; the libraries get typed config.

mod backend;
mod config;
mod credentials;
mod lock;
mod logs_cmd;
mod logsink;
mod serve;
mod signals;
mod supervisor;
mod warmer;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Hako: AWS Lambda on your own machine.
#[derive(Debug, Parser)]
#[command(name = "hako", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform: the Lambda API, sandboxes and the store.
    Serve(config::ServeArgs),
    /// Print a function's log through the running server's Logs API (`--follow` to keep
    /// printing new lines, `--since`, `--filter`).
    Logs(config::LogsArgs),
    /// List the SQS queues with their message counts (read-only, beside a running server).
    Queues(config::QueuesArgs),
    /// List the function URLs of a data directory (read-only, beside a running server).
    Urls(config::UrlsArgs),
    /// List the Kinesis streams of a data directory, with their shards and records.
    Streams(config::StreamsArgs),
    /// List the EventBridge Scheduler schedules of a data directory, with their next due time.
    Schedules(config::SchedulesArgs),
    /// Print the root credentials (and the `aws configure` lines to use them).
    Credentials(config::CredentialsArgs),
    /// Customer keys for `KMSKeyArn`: `hako keys create`, `hako keys list`.
    Keys(config::KeysArgs),
    /// The managed runtimes: `hako runtimes` lists them, `hako runtimes install NAME...`
    /// installs them.
    Runtimes(config::RuntimesArgs),
    /// Measure invoke latency, throughput and cold starts against an endpoint.
    Bench(hako_bench::BenchArgs),
    /// Say which sandbox backends this host supports, and why not the others.
    Doctor(config::DoctorArgs),
    /// The init of a Linux sandbox (started by Hako itself, spec on fd 3).
    #[command(hide = true)]
    SandboxInit,
}

fn main() -> Result<()> {
    // The sandbox init is on every cold start's path: straight there, before anything else.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "sandbox-init")
    {
        hako_sandbox::linux::init_main();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Logs(args) => logs_cmd::logs(args),
        Command::Queues(args) => serve::queues(args),
        Command::Streams(args) => serve::streams(args),
        Command::Urls(args) => serve::urls(args),
        Command::Schedules(args) => serve::schedules(args),
        Command::Keys(args) => serve::keys(args),
        Command::Credentials(args) => credentials::print(args),
        Command::Runtimes(args) => serve::runtimes(args),
        Command::Bench(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            rt.block_on(hako_bench::run(args))
        }
        Command::Doctor(args) => backend::doctor(args),
        Command::SandboxInit => hako_sandbox::linux::init_main(),
    }
}
