//! `redflag check`: read, validate, count.

use std::process::ExitCode;

use anyhow::Result;
use redflag_io::{
    DiscardRejects, IngestOptions, IngestReport, OnFileError, RejectCsvWriter, expand_inputs,
    ingest_files,
};

use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let (profile, rates) = super::load_input_config(&args.input)?;
    let files = expand_inputs(&args.input.inputs)?;
    let mut opts = IngestOptions::new(profile, rates);
    opts.keep_accepted = false;
    opts.on_file_error = OnFileError::Skip;
    let report = match &args.rejected {
        Some(path) => {
            let mut sink = RejectCsvWriter::create(path)?.withhold_records(!args.raw_ids);
            let got = ingest_files(&files, &opts, &mut sink)?;
            sink.finish()?;
            got.report
        }
        None => ingest_files(&files, &opts, &mut DiscardRejects)?.report,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    let mut failed = false;
    for f in report.failed_files() {
        eprintln!(
            "redflag: error: {}",
            f.error.as_deref().unwrap_or("unusable file")
        );
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else if args.fail_on_rejects && report.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(report: &IngestReport) {
    let width = report
        .files
        .iter()
        .map(|f| f.path.display().to_string().len())
        .max()
        .unwrap_or(4)
        .max(5);
    println!(
        "{:<width$}  {:>12}  {:>12}  {:>10}",
        "file", "read", "accepted", "rejected"
    );
    for f in &report.files {
        let path = f.path.display().to_string();
        match &f.error {
            Some(_) => println!("{path:<width$}  unusable (see error below)"),
            None => println!(
                "{path:<width$}  {:>12}  {:>12}  {:>10}",
                f.rows_read, f.accepted, f.rejected
            ),
        }
        for (reason, n) in &f.reasons {
            println!("{:<width$}    {reason}: {n}", "");
        }
    }
    println!(
        "{:<width$}  {:>12}  {:>12}  {:>10}",
        "total", report.rows_read, report.accepted, report.rejected
    );
}
