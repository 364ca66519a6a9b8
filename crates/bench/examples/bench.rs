//! Stand-alone `hako bench` for release measurements of this crate alone:
//! `cargo run --release -p hako-bench --example bench -- --mode http-baseline`.

use clap::Parser;

/// Benchmarks an AWS-Lambda-API endpoint (see `hako_bench`).
#[derive(Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(flatten)]
    args: hako_bench::BenchArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The load itself runs on its own thread and runtime; this one only waits.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(hako_bench::run(cli.args))
}
