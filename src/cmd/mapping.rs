//! `redflag mapping`.

use std::process::ExitCode;

use anyhow::Result;
use redflag_io::{BUILTIN_PROFILES, MappingProfile};

use crate::cli::MappingCommand;

pub fn run(cmd: MappingCommand) -> Result<ExitCode> {
    match cmd {
        MappingCommand::List => {
            for (name, _) in BUILTIN_PROFILES {
                let p = MappingProfile::builtin(name)?;
                println!("{name:<10} {}", p.description.unwrap_or_default());
            }
        }
        MappingCommand::Show { name } => {
            // Validate before printing, so that what is printed always loads.
            MappingProfile::builtin(&name)?;
            let text = MappingProfile::builtin_text(&name).unwrap_or_default();
            print!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
