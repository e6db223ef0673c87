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
    quiet_on_closed_stdout();
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

/// `redflag ... | head` closes the pipe early; the next write to stdout then fails, and
/// `println!` panics. Like other Unix tools, stop quietly instead of printing a panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
