//! `redflag synth`: a labelled synthetic population.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use redflag_synth::{Format, SynthParams};

use crate::cli::{SynthArgs, SynthFormat};

impl From<SynthFormat> for Format {
    fn from(f: SynthFormat) -> Format {
        match f {
            SynthFormat::Csv => Format::Csv,
            SynthFormat::Parquet => Format::Parquet,
        }
    }
}

pub fn run(args: SynthArgs) -> Result<ExitCode> {
    let start = NaiveDate::parse_from_str(&args.start, "%Y-%m-%d")
        .with_context(|| format!("--start {:?} is not a YYYY-MM-DD date", args.start))?;
    let mut params = SynthParams::new(args.customers, args.days)
        .seed(args.seed)
        .start(start)
        .format(args.format.into());
    if let Some(n) = args.cases {
        params = params.cases(n);
    }
    let summary = params
        .write(&args.out)
        .with_context(|| format!("generating into {}", args.out.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
        println!("written to {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
