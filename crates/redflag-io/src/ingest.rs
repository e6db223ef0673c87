//! The ingest: inputs in, an accepted `transactions` table and a report out, every record
//! accounted for.
//!
//! Files are read one after the other; inside a file, blocks of records (CSV, NDJSON) or row
//! groups (Parquet) are parsed and checked in parallel in rounds, while the next round is read.
//! Each round is then committed in input order: the duplicate check (across all files so far),
//! rejected records to the sink, accepted rows to the table.

use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use hashbrown::HashMap;
use rayon::prelude::*;
use redflag_schema::columns::TXN_ID;
use redflag_schema::{Column, transactions_schema};

use crate::chunk::{ChunkResult, StructuralFault};
use crate::convert::Converter;
use crate::error::{Error, Result};
use crate::fx::RateTable;
use crate::mapping::MappingProfile;
use crate::plan::{FilePlan, Source};
use crate::read_parquet::ParquetFile;
use crate::reject::{Reject, RejectReason, RejectSink};
use crate::report::{FileReport, IngestReport};
use crate::source::{Format, expand_inputs};
use crate::{read_csv, read_ndjson};

/// What to do when a file cannot be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFileError {
    /// Stop the ingest with the error (`redflag run`).
    #[default]
    Fail,
    /// Record the error in the file's report and go on with the next file (`redflag check`).
    Skip,
}

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The mapping profile.
    pub profile: MappingProfile,
    /// FX rates to the base currency.
    pub rates: RateTable,
    /// Keep the accepted rows (false: count only, as `redflag check` does).
    pub keep_accepted: bool,
    /// What to do with a file that cannot be used.
    pub on_file_error: OnFileError,
    /// Target size of a block of text records, in bytes.
    pub block_bytes: usize,
}

impl IngestOptions {
    /// Canonical profile, USD base with no rates file, keep accepted rows, fail on bad files.
    pub fn new(profile: MappingProfile, rates: RateTable) -> Self {
        Self {
            profile,
            rates,
            keep_accepted: true,
            on_file_error: OnFileError::Fail,
            block_bytes: 4 << 20,
        }
    }
}

/// The accepted `transactions` table and the report.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The run schema: required columns, `amount_base`, and the optional columns any input
    /// supplies.
    pub schema: SchemaRef,
    /// Accepted rows in input order (empty when `keep_accepted` was false).
    pub batches: Vec<RecordBatch>,
    /// Counts per file and in total.
    pub report: IngestReport,
}

impl Ingested {
    /// Number of accepted rows held.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Bytes of Arrow memory held by the accepted rows. A buffer shared by several batches
    /// (a Parquet column chunk's dictionary is shared by the batches read from it) counts
    /// once.
    pub fn memory_size(&self) -> usize {
        fn add(d: &arrow::array::ArrayData, seen: &mut hashbrown::HashSet<usize>) -> usize {
            let mut n = 0;
            let nulls = d.nulls().map(|b| b.buffer());
            for b in d.buffers().iter().chain(nulls) {
                if seen.insert(b.as_ptr() as usize) {
                    n += b.capacity();
                }
            }
            n + d.child_data().iter().map(|c| add(c, seen)).sum::<usize>()
        }
        let mut seen = hashbrown::HashSet::new();
        self.batches
            .iter()
            .flat_map(|b| b.columns())
            .map(|c| add(&c.to_data(), &mut seen))
            .sum()
    }

    /// Registers the accepted rows as a DataFusion table (conventionally `transactions`).
    pub fn register(&self, ctx: &datafusion::prelude::SessionContext, name: &str) -> Result<()> {
        let table = datafusion::datasource::MemTable::try_new(
            self.schema.clone(),
            vec![self.batches.clone()],
        )?;
        ctx.register_table(name, std::sync::Arc::new(table))?;
        Ok(())
    }
}

/// Expands `inputs` (files, directories, globs) and ingests them.
pub fn ingest<S: AsRef<str>>(
    inputs: &[S],
    opts: &IngestOptions,
    sink: &mut dyn RejectSink,
) -> Result<Ingested> {
    let files = expand_inputs(inputs)?;
    ingest_files(&files, opts, sink)
}

/// A file's header and how it maps, or why it cannot be used.
enum Prepared {
    Ready(FilePlan, Option<ParquetFile>),
    Empty,
    Failed(Error),
}

fn prepare(path: &Path, format: Format, profile: &MappingProfile) -> Prepared {
    let header = match format {
        Format::Csv | Format::CsvGz => match profile.delimiter_byte(&profile.name) {
            Ok(d) => read_csv::read_header(path, format, d).map(|h| (h, None)),
            Err(e) => Err(e),
        },
        Format::Ndjson => read_ndjson::read_header(path).map(|h| (h, None)),
        Format::Parquet => ParquetFile::open(path).map(|pf| (Some(pf.header.clone()), Some(pf))),
    };
    match header {
        Err(e) => Prepared::Failed(e),
        Ok((None, _)) => Prepared::Empty,
        Ok((Some(h), pf)) => match FilePlan::resolve(path, &h, profile) {
            Ok(plan) => Prepared::Ready(plan, pf),
            Err(e) => Prepared::Failed(e),
        },
    }
}

/// Ingests a list of files.
pub fn ingest_files(
    files: &[(PathBuf, Format)],
    opts: &IngestOptions,
    sink: &mut dyn RejectSink,
) -> Result<Ingested> {
    ingest_into(files, opts, sink, None)
}

/// What takes each accepted batch, in input order, instead of [`Ingested::batches`]: the
/// run's schema (every batch has it) and the batch.
pub type AcceptSink<'a> = &'a mut dyn FnMut(&SchemaRef, RecordBatch) -> Result<()>;

/// [`ingest`], handing every accepted batch to `accept` as soon as it is accepted, in input
/// order, so that the accepted table is never held whole ([`Ingested::batches`] comes back
/// empty). A run that spills its table to disk reads through this.
pub fn ingest_streaming<S: AsRef<str>>(
    inputs: &[S],
    opts: &IngestOptions,
    rejects: &mut dyn RejectSink,
    accept: AcceptSink<'_>,
) -> Result<Ingested> {
    let files = expand_inputs(inputs)?;
    ingest_into(&files, opts, rejects, Some(accept))
}

fn ingest_into<'s>(
    files: &[(PathBuf, Format)],
    opts: &IngestOptions,
    sink: &'s mut dyn RejectSink,
    accept: Option<AcceptSink<'s>>,
) -> Result<Ingested> {
    let profile = &opts.profile;
    let decimal = profile.decimal_byte(&profile.name)?;
    let prepared: Vec<Prepared> = files.iter().map(|(p, f)| prepare(p, *f, profile)).collect();
    // The run schema: every optional column that some file supplies.
    let mut optional: Vec<&str> = Vec::new();
    for p in &prepared {
        if let Prepared::Ready(plan, _) = p {
            optional.extend(plan.optional_present().map(Column::name));
        }
    }
    let schema = transactions_schema(&optional);
    let mut state = State {
        dedup: Dedup::default(),
        batches: Vec::new(),
        keep: opts.keep_accepted,
        schema: schema.clone(),
        accept,
        sink,
        hasher: hashbrown::DefaultHashBuilder::default(),
    };
    let mut report = IngestReport::default();
    for ((path, format), prep) in files.iter().zip(prepared) {
        let mut fr = FileReport::new(path.clone(), *format);
        let outcome = match prep {
            Prepared::Empty => Ok(()),
            Prepared::Failed(e) => Err(e),
            Prepared::Ready(plan, pf) => {
                let conv = Converter {
                    plan: &plan,
                    profile,
                    ts: profile.timestamp_parser(),
                    decimal,
                    rates: &opts.rates,
                    schema: schema.clone(),
                };
                state.read_file(&conv, *format, pf.as_ref(), opts, &mut fr)
            }
        };
        if let Err(e) = outcome {
            if opts.on_file_error == OnFileError::Fail || !e.is_user_error() {
                return Err(e);
            }
            fr.error = Some(e.to_string());
        }
        report.push(fr);
    }
    Ok(Ingested {
        schema,
        batches: state.batches,
        report,
    })
}

struct State<'s> {
    dedup: Dedup,
    batches: Vec<RecordBatch>,
    keep: bool,
    schema: SchemaRef,
    accept: Option<AcceptSink<'s>>,
    sink: &'s mut dyn RejectSink,
    hasher: hashbrown::DefaultHashBuilder,
}

fn rounds_size() -> usize {
    2 * rayon::current_num_threads().max(1)
}

impl State<'_> {
    fn read_file(
        &mut self,
        conv: &Converter<'_>,
        format: Format,
        pf: Option<&ParquetFile>,
        opts: &IngestOptions,
        fr: &mut FileReport,
    ) -> Result<()> {
        let path = &conv.plan.path;
        let k = rounds_size();
        let hasher = self.hasher.clone();
        let hasher = &hasher;
        match (format, pf) {
            (Format::Parquet, Some(pf)) => {
                let firsts = pf.first_rows();
                let metadata = pf.reading(conv.plan)?;
                let groups: Vec<usize> = (0..pf.row_groups()).collect();
                let total: i64 = pf.metadata.metadata().file_metadata().num_rows();
                self.dedup.reserve(usize::try_from(total).unwrap_or(0));
                let convert = |round: &[usize]| -> Result<Vec<ChunkResult>> {
                    let results: Vec<Vec<ChunkResult>> = round
                        .par_iter()
                        .map(|&rg| {
                            crate::read_parquet::convert_row_group(
                                &metadata, rg, firsts[rg], conv, hasher,
                            )
                        })
                        .collect::<Result<_>>()?;
                    Ok(results.into_iter().flatten().collect())
                };
                let mut rounds = groups.chunks(k);
                let mut current = rounds.next().map(convert).transpose()?;
                while let Some(results) = current {
                    // Convert the next round while this one's ids are checked.
                    let dedup = &mut self.dedup;
                    let (next, dups) = rayon::join(
                        || rounds.next().map(convert).transpose(),
                        || dedup.check(&results, path),
                    );
                    self.commit(results, dups?, conv.plan, fr)?;
                    current = next?;
                }
                Ok(())
            }
            _ => {
                let delim = match format {
                    Format::Ndjson => None,
                    _ => Some(opts.profile.delimiter_byte(&opts.profile.name)?),
                };
                let mut reader =
                    read_csv::block_reader(path, format, delim, opts.block_bytes.max(1 << 12))?;
                let mut first = true;
                let read_round = |reader: &mut crate::csv::BlockReader<_>,
                                  first: &mut bool|
                 -> Result<Vec<(crate::csv::Block, bool)>> {
                    let mut blocks = Vec::with_capacity(k);
                    while blocks.len() < k {
                        let got = reader.next_block();
                        match got.map_err(|e| {
                            read_csv::read_error(path, format, e, reader.line_reached())
                        })? {
                            Some(b) => {
                                blocks.push((b, *first));
                                *first = false;
                            }
                            None => break,
                        }
                    }
                    Ok(blocks)
                };
                let mut current = read_round(&mut reader, &mut first)?;
                while !current.is_empty() {
                    // Read the next round while this one is parsed.
                    let (next, results) = rayon::join(
                        || read_round(&mut reader, &mut first),
                        || {
                            current
                                .into_par_iter()
                                .map(|(block, is_first)| match (format, delim) {
                                    (Format::Ndjson, _) | (_, None) => {
                                        read_ndjson::convert_block(block, conv, hasher)
                                    }
                                    (_, Some(d)) => {
                                        read_csv::convert_block(block, is_first, d, conv, hasher)
                                    }
                                })
                                .collect::<Result<Vec<_>>>()
                        },
                    );
                    let results = results?;
                    let dups = self.dedup.check(&results, path)?;
                    self.commit(results, dups, conv.plan, fr)?;
                    current = next?;
                }
                Ok(())
            }
        }
    }

    /// Commits a round in input order: rejects, then accepted rows without the duplicates
    /// `dups` ([`Dedup::check`] of the same round) names.
    fn commit(
        &mut self,
        results: Vec<ChunkResult>,
        dups: Vec<Vec<u32>>,
        plan: &FilePlan,
        fr: &mut FileReport,
    ) -> Result<()> {
        let id_column = match plan.source(Column::TxnId) {
            Source::Field { header, .. } => header.clone(),
            _ => TXN_ID.to_owned(),
        };
        let records = self.sink.wants_records();
        for (res, dup_rows) in results.into_iter().zip(dups) {
            fr.rows_read += res.rows_read;
            fr.blank_lines += res.blank_lines;
            // The refused rows by line, each made into a `Reject` only as it is handed on: a
            // chunk whose every row is refused holds one small entry per row, not every
            // record's text at once.
            enum Refused {
                Structural(StructuralFault),
                Fault(usize),
                Duplicate(usize),
            }
            let mut refused: Vec<(u64, Refused)> = Vec::with_capacity(
                res.structural.len() + res.converted.faults.len() + dup_rows.len(),
            );
            let faults = &res.converted.faults;
            refused.extend(
                res.structural
                    .into_iter()
                    .map(|s| (s.line, Refused::Structural(s))),
            );
            refused.extend(
                (0..faults.len())
                    .map(|k| (res.lines.get(faults[k].row as usize), Refused::Fault(k))),
            );
            let mut batch = res.converted.batch.clone();
            if !dup_rows.is_empty() {
                let mut keep = vec![true; batch.num_rows()];
                for &d in &dup_rows {
                    keep[d as usize] = false;
                    let raw = res.converted.raw_row(d as usize);
                    refused.push((res.lines.get(raw), Refused::Duplicate(d as usize)));
                }
                batch = filter_record_batch(&batch, &BooleanArray::from(keep))?;
            }
            refused.sort_by_key(|r| r.0);
            let renderer = records.then(|| res.origin.renderer());
            let render = |raw: usize| renderer.as_ref().map(|r| r.render(raw)).unwrap_or_default();
            let ids = res
                .converted
                .batch
                .column_by_name(TXN_ID)
                .map(|c| c.as_string::<i32>());
            for (line, r) in refused {
                let reject = match r {
                    Refused::Structural(s) => Reject {
                        file: plan.path.clone(),
                        line,
                        column: s.column,
                        reason: s.reason,
                        detail: s.detail,
                        record: if records { s.record } else { String::new() },
                    },
                    Refused::Fault(k) => Reject {
                        file: plan.path.clone(),
                        line,
                        column: faults[k].column.to_string(),
                        reason: faults[k].reason,
                        detail: faults[k].detail.to_string(),
                        record: render(faults[k].row as usize),
                    },
                    Refused::Duplicate(d) => {
                        let id = ids.map(|a| a.value(d)).unwrap_or_default();
                        Reject {
                            file: plan.path.clone(),
                            line,
                            column: id_column.clone(),
                            reason: RejectReason::DuplicateTxnId,
                            detail: format!(
                                "txn_id {id:?} appeared earlier in this run; the first is kept"
                            ),
                            record: render(res.converted.raw_row(d)),
                        }
                    }
                };
                fr.count_reject(reject.reason);
                self.sink.push(&reject)?;
            }
            fr.accepted += batch.num_rows() as u64;
            if self.keep && batch.num_rows() > 0 {
                match &mut self.accept {
                    Some(accept) => accept(&self.schema, batch)?,
                    None => self.batches.push(batch),
                }
            }
        }
        Ok(())
    }
}

/// The duplicate check. Each id's 64-bit hash picks one of [`SHARDS`] tables (checked in
/// parallel) by its top bits and gives a 32-bit fingerprint from the bits below; a table slot
/// holds the fingerprint and the global row number of the first id seen with it. Every
/// fingerprint match is confirmed on the id text, so a collision never rejects a row.
///
/// A round's ids are counting-sorted by their slot's position before they are looked up, so the
/// lookups sweep each table in address order instead of missing cache and TLB on every row; the
/// sort is stable, so of two equal ids the earlier row is still the one kept.
struct Dedup {
    shards: Vec<Shard>,
    /// The `txn_id` array of every chunk so far.
    ids: Vec<ArrayRef>,
    /// The global row number of each chunk's first row.
    starts: Vec<u64>,
    /// Rows in all chunks so far.
    rows: u64,
}

const SHARDS: usize = 16;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Bits of a fingerprint that order a round's ids before lookup.
const SORT_BITS: u32 = 12;
/// An empty [`Shard`] slot. Rows are numbered below `u32::MAX - 1`, so no entry is all ones.
const EMPTY: u64 = u64::MAX;

/// An open-addressing table of (fingerprint, global row), packed high and low in a `u64`;
/// [`EMPTY`] is an empty slot. Its home slot is the fingerprint's top bits, so it can grow
/// without the hashes; linear probing; at most 3/4 full.
///
/// Empty is all ones rather than zero so that a new table is written when it is made (one
/// sequential pass of page faults) instead of being mapped to the kernel's zero page and then
/// copied on the first write of each page, a fault that interrupts the other cores too.
#[derive(Default)]
struct Shard {
    slots: Vec<u64>,
    len: usize,
    /// Distinct ids whose fingerprints equal an earlier id's: fingerprint → global rows.
    collided: HashMap<u32, Vec<u32>>,
}

impl Shard {
    fn bits(&self) -> u32 {
        self.slots.len().trailing_zeros()
    }

    /// Makes room for `more` entries.
    fn reserve(&mut self, more: usize) {
        let need = self.len + more;
        if !self.slots.is_empty() && need * 4 <= self.slots.len() * 3 {
            return;
        }
        let cap = (need * 4 / 3 + 1).next_power_of_two().max(1024);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
        let shift = 32 - self.bits();
        let mask = cap - 1;
        for s in old.into_iter().filter(|&s| s != EMPTY) {
            let mut i = ((s >> 32) as u32 >> shift) as usize;
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Looks `fp` up: the first row stored with it, else stores `row` and returns `None`.
    fn first_or_insert(&mut self, fp: u32, row: u32) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = (fp >> (32 - self.bits())) as usize;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                self.slots[i] = (u64::from(fp) << 32) | u64::from(row);
                self.len += 1;
                return None;
            }
            if (s >> 32) as u32 == fp {
                return Some(s as u32);
            }
            i = (i + 1) & mask;
        }
    }
}

impl Default for Dedup {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            ids: Vec::new(),
            starts: Vec::new(),
            rows: 0,
        }
    }
}

impl Dedup {
    fn reserve(&mut self, rows: usize) {
        for s in &mut self.shards {
            s.reserve(rows / SHARDS + 1);
        }
    }

    /// For each result, the rows of its batch whose id was seen before (in earlier rounds, in
    /// earlier results of this round, or earlier in the same batch).
    fn check(&mut self, results: &[ChunkResult], path: &Path) -> Result<Vec<Vec<u32>>> {
        let chunks: Vec<(ArrayRef, &[u64])> = results
            .iter()
            .map(|r| {
                let ids = r
                    .converted
                    .batch
                    .column_by_name(TXN_ID)
                    .cloned()
                    .unwrap_or_else(|| {
                        arrow::array::new_empty_array(&arrow::datatypes::DataType::Utf8)
                    });
                (ids, r.hashes.as_slice())
            })
            .collect();
        self.check_hashed(chunks, path)
    }

    /// [`Dedup::check`] on each chunk's ids and their hashes.
    fn check_hashed(
        &mut self,
        chunks: Vec<(ArrayRef, &[u64])>,
        path: &Path,
    ) -> Result<Vec<Vec<u32>>> {
        let base = self.ids.len();
        for (ids, hashes) in &chunks {
            self.starts.push(self.rows);
            self.rows += hashes.len() as u64;
            self.ids.push(ids.clone());
        }
        if self.rows > u64::from(u32::MAX - 1) {
            return Err(Error::format(
                path,
                format!(
                    "more than {} rows in one run; the duplicate txn_id check numbers rows in \
                     32 bits, so split the input into several runs",
                    u32::MAX - 1
                ),
            ));
        }
        // Per result, per shard: (fingerprint, global row), in row order.
        let buckets: Vec<Vec<Vec<(u32, u32)>>> = chunks
            .par_iter()
            .enumerate()
            .map(|(ci, (_, hashes))| {
                let start = self.starts[base + ci] as u32;
                let mut b: Vec<Vec<(u32, u32)>> = vec![Vec::new(); SHARDS];
                for (row, &h) in hashes.iter().enumerate() {
                    let fp = (h << SHARD_BITS >> 32) as u32;
                    b[(h >> (64 - SHARD_BITS)) as usize].push((fp, start + row as u32));
                }
                b
            })
            .collect();
        let ids = &self.ids;
        let starts = &self.starts;
        let text = |g: u32| -> &str {
            let (chunk, row) = locate(starts, g);
            ids[chunk].as_string::<i32>().value(row)
        };
        let found: Vec<Vec<u32>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, shard)| {
                let n: usize = buckets.iter().map(|b| b[s].len()).sum();
                shard.reserve(n);
                let sorted = sort_by_top_bits(buckets.iter().map(|b| &b[s]), n);
                let mut dups = Vec::new();
                for (fp, g) in sorted {
                    let Some(first) = shard.first_or_insert(fp, g) else {
                        continue;
                    };
                    let t = text(g);
                    if text(first) == t {
                        dups.push(g);
                        continue;
                    }
                    let list = shard.collided.entry(fp).or_default();
                    if list.iter().any(|&x| text(x) == t) {
                        dups.push(g);
                    } else {
                        list.push(g);
                    }
                }
                dups
            })
            .collect();
        let mut out = vec![Vec::new(); chunks.len()];
        for g in found.into_iter().flatten() {
            let (chunk, row) = locate(starts, g);
            out[chunk - base].push(row as u32);
        }
        for v in &mut out {
            v.sort_unstable();
        }
        Ok(out)
    }
}

/// The chunk of global row `g` (the last to start at or before it; `starts` ascending) and the
/// row within it.
fn locate(starts: &[u64], g: u32) -> (usize, usize) {
    let chunk = starts.partition_point(|&s| s <= u64::from(g)) - 1;
    (chunk, (u64::from(g) - starts[chunk]) as usize)
}

/// The pairs of `parts`, in order, stably counting-sorted by the top [`SORT_BITS`] bits of the
/// fingerprint.
fn sort_by_top_bits<'a>(
    parts: impl Iterator<Item = &'a Vec<(u32, u32)>> + Clone,
    n: usize,
) -> Vec<(u32, u32)> {
    let shift = 32 - SORT_BITS;
    let mut at = vec![0usize; (1 << SORT_BITS) + 1];
    for &(fp, _) in parts.clone().flatten() {
        at[(fp >> shift) as usize + 1] += 1;
    }
    for i in 1..at.len() {
        at[i] += at[i - 1];
    }
    let mut out = vec![(0, 0); n];
    for &(fp, g) in parts.flatten() {
        let k = (fp >> shift) as usize;
        out[at[k]] = (fp, g);
        at[k] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::CollectRejects;
    use arrow::array::Array;

    #[test]
    fn memory_size_counts_a_shared_dictionary_once() {
        use arrow::array::{DictionaryArray, Int32Array, StringArray};
        use arrow::datatypes::{DataType, Field, Int32Type, Schema};
        use std::sync::Arc;
        let values: Arc<StringArray> = Arc::new(StringArray::from_iter_values(
            (0..1000).map(|i| format!("name {i:04}")),
        ));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "merchant_name",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        )]));
        let batch = |k: i32| {
            let keys = Int32Array::from(vec![k; 10]);
            let d = DictionaryArray::<Int32Type>::try_new(keys, values.clone()).expect("dict");
            RecordBatch::try_new(schema.clone(), vec![Arc::new(d)]).expect("batch")
        };
        let one = Ingested {
            schema: schema.clone(),
            batches: vec![batch(1)],
            report: IngestReport::default(),
        };
        let two = Ingested {
            schema: schema.clone(),
            batches: vec![batch(1), batch(2)],
            report: IngestReport::default(),
        };
        // The second batch adds its keys, not another copy of the 1000 values.
        let keys = 10 * std::mem::size_of::<i32>();
        assert!(one.memory_size() > 1000 * 9);
        assert!(two.memory_size() - one.memory_size() <= keys.next_multiple_of(64));
        let naive: usize = two
            .batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        assert!(two.memory_size() < naive);
    }

    /// The duplicate rows of `chunks` by a set of the texts seen so far.
    fn reference_dups(chunks: &[Vec<String>]) -> Vec<Vec<u32>> {
        let mut seen = std::collections::HashSet::new();
        chunks
            .iter()
            .map(|c| {
                (0..c.len() as u32)
                    .filter(|&i| !seen.insert(c[i as usize].clone()))
                    .collect()
            })
            .collect()
    }

    fn check_all(chunks: &[Vec<String>], hash: impl Fn(&str) -> u64) -> Vec<Vec<u32>> {
        let mut d = Dedup::default();
        let mut out = Vec::new();
        // Two chunks per round, as the readers hand them over.
        for round in chunks.chunks(2) {
            let arrays: Vec<(ArrayRef, Vec<u64>)> = round
                .iter()
                .map(|c| {
                    let a: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(
                        c.iter().map(String::as_str).collect::<Vec<_>>(),
                    ));
                    (a, c.iter().map(|s| hash(s)).collect())
                })
                .collect();
            let input = arrays
                .iter()
                .map(|(a, h)| (a.clone(), h.as_slice()))
                .collect();
            out.extend(d.check_hashed(input, Path::new("t.csv")).expect("check"));
        }
        out
    }

    #[test]
    fn duplicate_check_matches_a_set_across_table_growth_and_hash_collisions() {
        // 30 chunks of 700 ids drawn from 9,000 values: the tables start at 1,024 slots with no
        // reserve and grow several times; most values repeat, many within one chunk.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let chunks: Vec<Vec<String>> = (0..30)
            .map(|_| {
                (0..700)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        format!("T{}", x % 9000)
                    })
                    .collect()
            })
            .collect();
        let want = reference_dups(&chunks);
        assert!(want.iter().map(Vec::len).sum::<usize>() > 10_000);
        use std::hash::BuildHasher;
        let strong = hashbrown::DefaultHashBuilder::default();
        assert_eq!(check_all(&chunks, |s| strong.hash_one(s)), want);
        // Only 6 bits of the hash vary, spread over the shard, home-slot and fingerprint bits:
        // 64 fingerprints for 9,000 ids, so nearly every lookup matches a different id's
        // fingerprint and must be settled on the text.
        let weak = |s: &str| (strong.hash_one(s) & 0x3f) * 0x0410_4104_1041_0410;
        assert_eq!(check_all(&chunks, weak), want);
        // Every id with the same hash (fewer chunks: each lookup scans one long list).
        assert_eq!(check_all(&chunks[..4], |_| 7), reference_dups(&chunks[..4]));
    }

    #[test]
    fn duplicate_check_refuses_row_numbers_past_32_bits() {
        let mut d = Dedup {
            rows: u64::from(u32::MAX) - 5,
            ..Dedup::default()
        };
        let ids: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(vec!["a"; 10]));
        let err = d
            .check_hashed(vec![(ids, &[1u64; 10][..])], Path::new("big.parquet"))
            .expect_err("past u32");
        let msg = err.to_string();
        assert!(
            msg.starts_with("big.parquet: more than 4294967294 rows"),
            "{msg}"
        );
    }

    #[test]
    fn duplicate_ids_across_chunks_keep_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.csv");
        let mut text = String::from("txn_id,ts,sender_id,receiver_id,amount,currency,channel\n");
        for i in 0..5000 {
            // ids repeat every 1000 rows, so 4000 rows are duplicates.
            text.push_str(&format!(
                "T{},2024-01-01T00:00:00Z,A{},B,1.5,USD,ach\n",
                i % 1000,
                i
            ));
        }
        std::fs::write(&path, text).expect("write");
        let mut opts = IngestOptions::new(
            MappingProfile::canonical(),
            RateTable::base_only("USD").expect("usd"),
        );
        opts.block_bytes = 4096; // many small blocks and rounds
        let mut rejects = CollectRejects::default();
        let got = ingest_files(&[(path, Format::Csv)], &opts, &mut rejects).expect("ingest");
        assert_eq!(got.report.rows_read, 5000);
        assert_eq!(got.report.accepted, 1000);
        assert_eq!(got.report.reasons.get("duplicate_txn_id"), Some(&4000));
        assert!(got.report.balances());
        // The first occurrence of each id (lines 2..=1001) is the one kept.
        let senders: Vec<String> = got
            .batches
            .iter()
            .flat_map(|b| {
                let s = b
                    .column_by_name("sender_id")
                    .expect("sender")
                    .as_string::<i32>()
                    .clone();
                (0..s.len()).map(move |i| s.value(i).to_owned())
            })
            .collect();
        assert_eq!(senders.first().map(String::as_str), Some("A0"));
        assert_eq!(senders.last().map(String::as_str), Some("A999"));
        assert_eq!(rejects.0[0].line, 1002);
        assert_eq!(rejects.0[0].column, "txn_id");
        let lines: Vec<u64> = rejects.0.iter().map(|r| r.line).collect();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "rejects in input order"
        );
    }
}

#[cfg(test)]
mod dictionary_tests {
    use super::*;
    use crate::reject::CollectRejects;
    use arrow::array::{Array, ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use redflag_schema::Text;
    use std::sync::Arc;

    /// Ingests `path` through a profile that maps an empty currency to USD and "Wire" to
    /// wire_domestic.
    fn ingest_one(path: PathBuf, format: Format) -> (Ingested, Vec<(u64, String, RejectReason)>) {
        let profile = MappingProfile::from_toml(
            r#"
            name = "dict"
            [values.currency]
            "" = "USD"
            [values.channel]
            "Wire" = "wire_domestic"
            "#,
            "dict.toml",
        )
        .expect("profile");
        let opts = IngestOptions::new(profile, RateTable::base_only("USD").expect("usd"));
        let mut rejects = CollectRejects::default();
        let got = ingest_files(&[(path, format)], &opts, &mut rejects).expect("ingest");
        assert!(got.report.balances());
        let r = rejects
            .0
            .into_iter()
            .map(|r| (r.line, r.column, r.reason))
            .collect();
        (got, r)
    }

    fn texts(got: &Ingested, name: &str) -> Vec<Option<String>> {
        got.batches
            .iter()
            .flat_map(|b| {
                let t = Text::of(b.column_by_name(name).expect("column").as_ref()).expect("text");
                (0..t.len()).map(move |i| t.get(i).map(str::to_owned))
            })
            .collect()
    }

    /// Parquet text read as dictionaries (nulls included) gives the table and rejects CSV
    /// text gives, and a value map of "" applies to Parquet nulls as to empty CSV fields.
    #[test]
    fn parquet_dictionaries_and_nulls_convert_like_csv_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows: [(&str, Option<&str>, &str, Option<&str>); 5] = [
            ("T1", Some("USD"), "Wire", Some("Cafe")),
            ("T2", None, "ach", None),
            ("T3", Some("US$"), "ach", Some("Cafe")),
            ("T4", Some("USD"), "Telex", Some("")),
            ("T5", Some("USD"), "Wire", Some("Bar")),
        ];
        let mut csv =
            String::from("txn_id,ts,sender_id,receiver_id,amount,currency,channel,merchant_name\n");
        for (id, cur, ch, m) in rows {
            csv.push_str(&format!(
                "{id},2024-01-01T00:00:00Z,A,B,10,{},{ch},{}\n",
                cur.unwrap_or(""),
                m.unwrap_or("")
            ));
        }
        let csv_path = dir.path().join("t.csv");
        std::fs::write(&csv_path, csv).expect("write csv");

        let dict = |v: Vec<Option<&str>>| -> ArrayRef {
            let a = StringArray::from(v);
            arrow::compute::cast(&a, &redflag_schema::text_type()).expect("dict")
        };
        let n = rows.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("txn_id", DataType::Utf8, false),
            Field::new("ts", redflag_schema::timestamp_type(), false),
            Field::new("sender_id", DataType::Utf8, false),
            Field::new("receiver_id", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("currency", redflag_schema::text_type(), true),
            Field::new("channel", DataType::Utf8, false),
            Field::new("merchant_name", redflag_schema::text_type(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![1_704_067_200_000_000; n])
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(vec!["A"; n])),
                Arc::new(StringArray::from(vec!["B"; n])),
                Arc::new(Float64Array::from(vec![10.0; n])),
                dict(rows.iter().map(|r| r.1).collect()),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
                dict(rows.iter().map(|r| r.3).collect()),
            ],
        )
        .expect("batch");
        let pq_path = dir.path().join("t.parquet");
        let file = std::fs::File::create(&pq_path).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");

        let (from_csv, csv_rejects) = ingest_one(csv_path, Format::Csv);
        let (from_pq, pq_rejects) = ingest_one(pq_path, Format::Parquet);
        // T3: "US$" is not a code; T4: "Telex" maps to no channel.
        let want = vec![
            (4, "currency".to_owned(), RejectReason::BadCurrency),
            (5, "channel".to_owned(), RejectReason::UnknownEnumValue),
        ];
        assert_eq!(csv_rejects, want);
        // Parquet rows are numbered from 1 (no header line).
        let shifted: Vec<_> = pq_rejects
            .into_iter()
            .map(|(l, c, r)| (l + 1, c, r))
            .collect();
        assert_eq!(shifted, want);
        for got in [&from_csv, &from_pq] {
            assert_eq!(
                texts(got, "currency"),
                [Some("USD"), Some("USD"), Some("USD")].map(|v| v.map(str::to_owned))
            );
            assert_eq!(
                texts(got, "channel"),
                [Some("wire_domestic"), Some("ach"), Some("wire_domestic")]
                    .map(|v| v.map(str::to_owned))
            );
            assert_eq!(
                texts(got, "merchant_name"),
                [Some("Cafe"), None, Some("Bar")].map(|v| v.map(str::to_owned))
            );
            let cur = got.batches[0].column_by_name("currency").expect("currency");
            assert_eq!(cur.data_type(), &redflag_schema::text_type());
        }
    }
}

#[cfg(test)]
mod register_tests {
    use super::*;
    use crate::reject::DiscardRejects;

    #[test]
    fn accepted_rows_query_through_datafusion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "txn_id,ts,sender_id,receiver_id,amount,currency,channel\n\
             T1,2024-01-01T00:00:00Z,A,B,10,USD,ach\n\
             T2,2024-01-01T01:00:00Z,A,C,5.5,USD,ach\n\
             T3,2024-01-01T02:00:00Z,B,C,-1,USD,ach\n",
        )
        .expect("write");
        let opts = IngestOptions::new(
            MappingProfile::canonical(),
            RateTable::base_only("USD").expect("usd"),
        );
        let got = ingest_files(&[(path, Format::Csv)], &opts, &mut DiscardRejects).expect("ingest");
        let ctx = datafusion::prelude::SessionContext::new();
        got.register(&ctx, "transactions").expect("register");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let batches = rt
            .block_on(async {
                ctx.sql("SELECT sender_id, COUNT(*) AS n, SUM(amount_base) AS total FROM transactions GROUP BY sender_id")
                    .await?
                    .collect()
                    .await
            })
            .expect("query");
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 1, "the rejected row from B is not in the table");
        let total = batches[0]
            .column_by_name("total")
            .expect("total")
            .as_primitive::<arrow::datatypes::Float64Type>()
            .value(0);
        assert_eq!(total, 15.5);
    }
}
