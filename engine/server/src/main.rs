//! The `spirit` binary: parses the command line and hands over to [`spirit_server::cli`].

use clap::Parser;

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
