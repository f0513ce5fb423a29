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

/// mimalloc's `mi_option_arena_eager_commit` (its place in `mi_option_e` in mimalloc.h; the
/// sys crate names no constant for it). Committing arenas eagerly (its default on Linux)
/// grew `wid proxy`'s resident memory, a sidecar in every pod, from 14 to 24 MiB and the
/// server's by 11 MiB, for no throughput measured (`wid-bench proxy`, `exchange`).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Set before the process's first allocation, which makes the first arena: Rust's runtime
/// allocates before `main`, so this runs as an ELF constructor, before the runtime starts.
#[used]
#[unsafe(link_section = ".init_array")]
static LAZY_ARENA_COMMIT: extern "C" fn() = lazy_arena_commit;

extern "C" fn lazy_arena_commit() {
    // SAFETY: mi_option_set only stores the value, and any value is valid for this option;
    // it needs nothing of the Rust runtime.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) }
}

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
            eprintln!("ERROR: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, `: `-joined, each cause once: a thiserror message that names its
/// `#[from]` source already ends with it, and anyhow's `{:#}` would print it twice.
fn causes(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{causes, ARENA_EAGER_COMMIT};

    /// The constructor ran in this process too; the options on either side of it in
    /// mimalloc.h (`eager_commit`, `purge_decommits`) keep their default, 1, so the number
    /// set is not one of theirs. `wid-bench proxy` shows the effect (resident memory).
    #[test]
    fn arenas_are_committed_lazily() {
        // SAFETY: reading an option has no preconditions.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        assert_eq!(get(ARENA_EAGER_COMMIT), 0);
        assert_eq!(get(ARENA_EAGER_COMMIT - 1), 1);
        assert_eq!(get(ARENA_EAGER_COMMIT + 1), 1);
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("key-encryption key: {0}")]
        Named(#[source] std::io::Error),
        #[error("could not start")]
        Bare(#[source] std::io::Error),
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = || std::io::Error::other("sealed with a different key");
        for (error, text) in [
            (
                anyhow::Error::new(Outer::Named(io())).context("wid up"),
                "wid up: key-encryption key: sealed with a different key",
            ),
            (
                anyhow::Error::new(Outer::Bare(io())),
                "could not start: sealed with a different key",
            ),
            (anyhow::anyhow!("plain"), "plain"),
        ] {
            assert_eq!(causes(&error), text);
        }
    }
}
