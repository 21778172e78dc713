//! The `spirit` binary: parses the command line and hands over to [`spirit_server::cli`].

use clap::Parser;

/// jemalloc for Rust allocations. Built with unprefixed symbols, it is also the `malloc` and
/// `free` every C and C++ library in the process calls, DuckDB included.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = spirit_server::cli::Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spirit: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
