//! Inputs: files, directories and globs, and the format of each file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// The format of an input file, decided by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// `.csv`, `.tsv`, `.txt`
    Csv,
    /// `.csv.gz`, `.tsv.gz`, `.txt.gz`
    CsvGz,
    /// `.parquet`, `.pq`
    Parquet,
    /// `.ndjson`, `.jsonl`, `.json` (one JSON object per line)
    Ndjson,
}

impl Format {
    /// The format for a file name, or `None` when the extension is not one redflag reads.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let has = |ext: &str| name.ends_with(ext);
        if has(".csv.gz") || has(".tsv.gz") || has(".txt.gz") {
            Some(Format::CsvGz)
        } else if has(".csv") || has(".tsv") || has(".txt") {
            Some(Format::Csv)
        } else if has(".parquet") || has(".pq") {
            Some(Format::Parquet)
        } else if has(".ndjson") || has(".jsonl") || has(".json") {
            Some(Format::Ndjson)
        } else {
            None
        }
    }

    /// Lower-case name, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::CsvGz => "csv.gz",
            Format::Parquet => "parquet",
            Format::Ndjson => "ndjson",
        }
    }
}

const EXPECTED_FORMATS: &str =
    "expected .csv, .csv.gz, .tsv, .parquet, .pq, .ndjson, .jsonl or .json";

/// Expands inputs (files, directories, globs) into a sorted, de-duplicated list of files with
/// their formats. A directory contributes every file below it whose extension redflag reads
/// (other files are skipped); a file named explicitly must have such an extension.
pub fn expand_inputs<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<(PathBuf, Format)>> {
    let mut out: Vec<(PathBuf, Format)> = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        let path = Path::new(input);
        let mut found = Vec::new();
        if path.is_dir() {
            walk_dir(path, &mut found)?;
            found.retain(|p| Format::from_path(p).is_some() && !is_side_file(p));
            if found.is_empty() {
                return Err(Error::NoInput {
                    input: input.into(),
                    message: format!("directory holds no transaction file ({EXPECTED_FORMATS})"),
                });
            }
        } else if path.exists() {
            found.push(path.to_owned());
        } else if input.contains(['*', '?', '[']) {
            let paths = glob::glob(input).map_err(|e| Error::NoInput {
                input: input.into(),
                message: format!("bad glob pattern: {e}"),
            })?;
            for p in paths {
                let p = p.map_err(|e| {
                    let path = e.path().to_owned();
                    Error::io(path, e.into())
                })?;
                if p.is_file() {
                    found.push(p);
                }
            }
            if found.is_empty() {
                return Err(Error::NoInput {
                    input: input.into(),
                    message: "glob matches no file".into(),
                });
            }
        } else {
            return Err(Error::NoInput {
                input: input.into(),
                message: "no such file or directory".into(),
            });
        }
        found.sort();
        for p in found {
            let format = Format::from_path(&p).ok_or_else(|| {
                Error::format(&p, format!("unknown file type; {EXPECTED_FORMATS}"))
            })?;
            if !out.iter().any(|(q, _)| q == &p) {
                out.push((p, format));
            }
        }
    }
    Ok(out)
}

/// Files that sit beside transaction files but are not transactions (rates, labels, rejects).
fn is_side_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.starts_with("rates.")
        || name.starts_with("rejected.")
        || name.contains("labels")
        || name.starts_with('.')
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        if p.is_dir() {
            walk_dir(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(
            Format::from_path(Path::new("b.csv.gz")),
            Some(Format::CsvGz)
        );
        assert_eq!(Format::from_path(Path::new("b.pq")), Some(Format::Parquet));
        assert_eq!(
            Format::from_path(Path::new("b.jsonl")),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_path(Path::new("b.xlsx")), None);
    }

    #[test]
    fn directories_globs_and_missing_inputs() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "b.csv",
            "a.parquet",
            "rates.csv",
            "notes.md",
            "sub/c.ndjson",
        ] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, "x").expect("write");
        }
        let d = dir.path().to_string_lossy().into_owned();
        let got = expand_inputs(std::slice::from_ref(&d)).expect("dir");
        let names: Vec<_> = got
            .iter()
            .map(|(p, _)| {
                p.strip_prefix(dir.path())
                    .expect("prefix")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.parquet", "b.csv", "sub/c.ndjson"]);
        let got = expand_inputs(&[format!("{d}/*.csv"), format!("{d}/b.csv")]).expect("glob");
        assert_eq!(got.len(), 2, "rates.csv and b.csv, b.csv once");
        let e = expand_inputs(&[format!("{d}/nope.csv")]).expect_err("missing");
        assert!(e.to_string().contains("no such file"), "{e}");
        let e = expand_inputs(&[format!("{d}/notes.md")]).expect_err("unknown type");
        assert!(e.to_string().contains("notes.md: unknown file type"), "{e}");
    }
}
