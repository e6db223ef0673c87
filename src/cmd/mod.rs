//! One module per command.

mod bench;
mod check;
mod eval;
mod features;
mod mapping;
mod model;
mod privacy;
mod rules;
mod run;
mod synth;

use std::process::ExitCode;

use anyhow::{Context, Result};
use redflag_io::{MappingProfile, RateTable};

use crate::cli::{Cli, Command, InputArgs};

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Some(n) = cli.threads {
        if n == 0 {
            anyhow::bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Inject(args) => run::inject(args),
        Command::Tune(args) => run::tune(args),
        Command::Check(args) => check::run(args),
        Command::Features(args) => features::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Mapping(cmd) => mapping::run(cmd),
        Command::Model(cmd) => model::run(cmd),
        Command::Eval(args) => eval::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Reveal(args) => privacy::reveal(args),
        Command::Audit(cmd) => privacy::audit(cmd),
        Command::Export(crate::cli::ExportCommand::Goaml(args)) => privacy::export_goaml(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

/// The profile and rates that the input options name.
pub fn load_input_config(args: &InputArgs) -> Result<(MappingProfile, RateTable)> {
    let profile = MappingProfile::resolve(&args.mapping)?;
    let rates = match &args.rates {
        Some(path) => RateTable::from_file(path, &args.base_currency)
            .with_context(|| format!("reading rates file {}", path.display()))?,
        None => RateTable::base_only(&args.base_currency)?,
    };
    Ok((profile, rates))
}
