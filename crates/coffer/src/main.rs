//! `coffer`: the single binary of Coffer. `coffer serve` runs the server library in-process;
//! every other subcommand is an HTTP client of a running server (see [`client`]).
//!
//! Exit codes: 0 success, 1 failure (server error, unreachable server, failed verification),
//! 2 usage error. `coffer run` exits with its child's code.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod commands;
mod credentials;
mod error;
mod output;

use clap::Parser as _;

/// mimalloc rather than glibc's malloc: the server allocates on its request threads and frees on
/// the catalog writer's (and back), which glibc handled with ~10% of a reveal's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = cli::Cli::parse();
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
