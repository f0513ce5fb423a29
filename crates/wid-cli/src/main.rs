//! `wid`: the az-shaped command line of wid, and the `wid up` server entry point.
//! The command tree mirrors the files under `commands/`.

mod commands;
mod context;
mod logging;
mod user_tokens;

use clap::Parser;
use std::process::ExitCode;
use wid_cli::output::{self, OutputFormat};

#[derive(Parser)]
#[command(name = "wid", version, about = "Microsoft Entra Workload ID, self-hosted", long_about = None)]
struct Cli {
    /// Data directory of the wid installation to use (finds server, CA and credentials there).
    #[arg(long, global = true, env = "WID_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Json)]
    output: OutputFormat,
    /// JMESPath query string applied to the result.
    #[arg(long, global = true)]
    query: Option<String>,
    #[command(subcommand)]
    command: commands::Command,
}

/// Past its cryptography, what a request costs wid is mostly allocation: glibc's allocator
/// takes a lock shared between threads on the way, mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data_dir = cli
        .data_dir
        .unwrap_or_else(wid_server::datadir::default_data_dir);
    match runtime.block_on(commands::run(cli.command, data_dir)) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(value)) => match output::render(&value, cli.output, cli.query.as_deref()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ERROR: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::FAILURE
        }
    }
}
