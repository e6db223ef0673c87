//! One module per command.

mod bench;
mod check;
#[cfg(feature = "distributed")]
mod cluster;
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
        #[cfg(feature = "distributed")]
        Command::Cluster(cmd) => cluster::run(cmd),
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

/// What the ingest refused, for stderr: the count with its reasons, most frequent first, where
/// to read them (`see`), and, when most records were refused, a warning with what usually
/// fixes the most frequent reason. The scores describe the accepted records only, so a run that
/// lost most of its input must say so.
pub fn rejected_summary(report: &redflag_io::IngestReport, see: &str) -> Vec<String> {
    if report.rejected == 0 {
        return Vec::new();
    }
    let reasons = report.reasons_by_count();
    let listed: Vec<String> = reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let mut lines = vec![format!(
        "redflag: {} of {} records rejected ({}); see {see}",
        report.rejected,
        report.rows_read,
        listed.join(", ")
    )];
    if report.rejected * 2 > report.rows_read {
        let share = report.rejected as f64 / report.rows_read as f64 * 100.0;
        let mut warning = format!(
            "redflag: warning: {share:.0}% of the records were rejected, so everything scored \
             describes the other {:.0}% only",
            100.0 - share
        );
        if let Some(fix) = reasons.first().and_then(|(k, _)| fix_for(k)) {
            warning.push_str(&format!("; most are {}: {fix}", reasons[0].0));
        }
        lines.push(warning);
    }
    lines
}

/// What usually fixes a reject reason that refuses most of a file.
fn fix_for(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "no_fx_rate" => {
            "give --rates FILE with a rate for each currency, or --base-currency when all are in one"
        }
        "bad_timestamp" => {
            "set the timestamp format in a mapping profile (`redflag mapping show canonical`)"
        }
        "missing_field" => "map the column in a mapping profile (--mapping)",
        "unknown_enum_value" => "map the values in the mapping profile's [values] table",
        "wrong_field_count" | "malformed_quoting" => {
            "check the delimiter and quoting in a mapping profile (--mapping)"
        }
        "bad_amount" => "check the amount column and its decimal separator (--mapping)",
        _ => return None,
    })
}
