//! Reading transaction files into the canonical `transactions` table, with nothing lost.
//!
//! The main types:
//! - [`MappingProfile`]: how a source layout maps onto the canonical schema (built in:
//!   `canonical`, `amlworld`, `saml-d`; or a TOML file);
//! - [`ingest`] with [`IngestOptions`]: reads files, directories and globs of CSV, CSV.gz,
//!   Parquet and NDJSON, checks every record, and returns [`Ingested`]: the accepted rows as
//!   Arrow batches, ready for DataFusion, and an [`IngestReport`] in which, for every file,
//!   records read = accepted + rejected;
//! - [`Reject`] and [`RejectSink`]: each refused record with its file, line, column, reason and
//!   original text, e.g. written to `rejected.csv` by [`RejectCsvWriter`];
//! - [`RateTable`]: FX rates that give `amount_base`.
//!
//! ```
//! use redflag_io::{CollectRejects, IngestOptions, MappingProfile, RateTable, ingest};
//!
//! let rates = RateTable::from_file("../../sample-data/rates.csv".as_ref(), "USD")?;
//! let opts = IngestOptions::new(MappingProfile::canonical(), rates);
//! let mut rejects = CollectRejects::default();
//! let got = ingest(&["../../sample-data/transactions.csv"], &opts, &mut rejects)?;
//! assert_eq!(got.report.rows_read, got.report.accepted + got.report.rejected);
//! assert_eq!(got.num_rows() as u64, got.report.accepted);
//! assert_eq!(rejects.0.len() as u64, got.report.rejected);
//! # Ok::<(), redflag_io::Error>(())
//! ```

mod atomic;
mod chunk;
mod convert;
mod csv;
mod error;
mod fx;
mod ingest;
mod mapping;
mod parse;
mod plan;
mod read_csv;
mod read_ndjson;
mod read_parquet;
mod reject;
mod report;
mod source;
mod table;

pub use atomic::{AtomicFile, write_atomic};
pub use error::{Error, Result};
pub use fx::RateTable;
pub use ingest::{
    AcceptSink, IngestOptions, Ingested, OnFileError, ingest, ingest_files, ingest_streaming,
};
pub use mapping::{
    BUILTIN_PROFILES, DateTimeColumns, Generate, IdGenerator, MappingProfile, Statement,
};
pub use parse::{EPOCH_FORMATS, TimestampParser, ValueError, Zone};
pub use reject::{
    CollectRejects, DiscardRejects, Reject, RejectCsvWriter, RejectReason, RejectSink,
    push_csv_field, push_fixed,
};
pub use report::{FileReport, IngestReport};
pub use source::{Format, expand_inputs};
pub use table::{ParquetTable, read_table};
