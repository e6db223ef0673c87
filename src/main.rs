//! `redflag`: find trafficking-linked money laundering in transaction records.
//!
//! The binary parses arguments, calls the library crates and prints; it holds no detection
//! logic. Exit codes: 0 success; 1 the run worked but found what `--fail-on-*` asked to fail
//! on; 2 an error (bad arguments, an unusable input).

mod cli;
mod cmd;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("redflag: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
