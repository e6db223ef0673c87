//! Streaming the population to disk: units are generated in parallel in fixed chunks and
//! written in chunk order, so the files do not depend on the thread count and memory stays at
//! a few chunks whatever the population size.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int16Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, UInt16Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::Datelike;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::plan::{Persona, Plan, Role};
use crate::render::{COLUMNS, Renderer};
use crate::txn::{Chain, Gen, Label, Party, Service, Txn};
use crate::world::Currency;
use crate::{Error, Format, Result, Summary};

/// Units per chunk: the grain of parallel work and of ordering.
const CHUNK: u32 = 64;

/// The rows of one unit, in time order, inside the population's period.
pub fn unit_rows(plan: &Plan, unit: u32) -> Vec<Txn> {
    let mut g = Gen::new(plan, u64::from(unit));
    if unit < plan.ordinary {
        g.ordinary(unit);
    } else {
        g.case(&plan.cases[(unit - plan.ordinary) as usize]);
    }
    let end = plan.start_epoch + i64::from(plan.days) * 86_400;
    let mut rows = g.rows;
    rows.retain(|t| t.ts >= plan.start_epoch && t.ts < end);
    rows.sort_by_key(|t| t.ts);
    rows
}

/// A file that appears under its name only when complete.
pub(crate) struct Atomic {
    out: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl Atomic {
    pub(crate) fn create(path: &Path) -> Result<Atomic> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".synth.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        Ok(Atomic {
            out: BufWriter::with_capacity(1 << 20, tmp),
            path: path.to_owned(),
        })
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        Ok(())
    }
}

impl Write for Atomic {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// What one chunk of units produced.
struct ChunkOut {
    csv: Vec<u8>,
    batch: Option<RecordBatch>,
    txn_labels: Vec<u8>,
    account_labels: Vec<u8>,
    customer_labels: Vec<u8>,
    rows: u64,
    accounts: u64,
    laundering_rows: u64,
    lookalike_rows: u64,
    suspicious_accounts: u64,
    lookalike_accounts: u64,
}

/// The Arrow schema of the Parquet output.
pub fn arrow_schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| match *c {
            "ts" => Field::new(
                *c,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            "amount" => Field::new(*c, DataType::Float64, false),
            "local_offset_min" => Field::new(*c, DataType::Int16, true),
            "mcc" => Field::new(*c, DataType::UInt16, true),
            "txn_id" | "sender_id" | "receiver_id" | "currency" | "channel" => {
                Field::new(*c, DataType::Utf8, false)
            }
            _ => Field::new(*c, DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn label_line(
    out: &mut Vec<u8>,
    id: &[u8],
    suspicious: bool,
    typology: &str,
    role: &str,
    case: &str,
) {
    out.extend_from_slice(id);
    out.extend_from_slice(if suspicious { b",1," } else { b",0," });
    out.extend_from_slice(typology.as_bytes());
    out.push(b',');
    out.extend_from_slice(role.as_bytes());
    out.push(b',');
    out.extend_from_slice(case.as_bytes());
    out.push(b'\n');
}

/// Account and customer labels of one unit.
fn unit_labels(plan: &Plan, unit: u32, out: &mut ChunkOut) {
    let mut id = Vec::with_capacity(48);
    let mut entity =
        |out: &mut ChunkOut, party: Party, susp: bool, typ: &str, role: &str, case: &str| {
            id.clear();
            Renderer::new(plan).party_id(&mut id, party);
            label_line(&mut out.account_labels, &id, susp, typ, role, case);
            out.accounts += 1;
            if susp {
                out.suspicious_accounts += 1;
            } else if role == "benign_lookalike" {
                out.lookalike_accounts += 1;
            }
        };
    let mut cid = Vec::with_capacity(16);
    if unit < plan.ordinary {
        let persona = plan.persona(unit);
        let p = plan.person(unit);
        let (typ, role) = match persona.lookalike() {
            Some(t) => (t, "benign_lookalike"),
            None => ("", "normal"),
        };
        for slot in 0..p.accounts {
            entity(
                out,
                Party::Account { cust: unit, slot },
                false,
                typ,
                role,
                "",
            );
        }
        if persona == Persona::CryptoInvestor {
            entity(
                out,
                Party::Wallet {
                    cust: unit,
                    chain: Chain::Ethereum,
                },
                false,
                typ,
                role,
                "",
            );
        }
        Renderer::customer_id(&mut cid, unit);
        label_line(&mut out.customer_labels, &cid, false, typ, role, "");
        return;
    }
    let case = &plan.cases[(unit - plan.ordinary) as usize];
    let label = case.label();
    let typ = case.typology.name();
    for (i, role) in case.roles.iter().enumerate() {
        let cust = case.first + i as u32;
        entity(out, Party::account(cust), true, typ, role.name(), &label);
        if case.typology == crate::plan::Typology::CryptoAds && *role == Role::Controller {
            entity(
                out,
                Party::Wallet {
                    cust,
                    chain: Chain::Ethereum,
                },
                true,
                typ,
                role.name(),
                &label,
            );
        }
        if case.typology == crate::plan::Typology::LabourFront && *role == Role::FrontBusiness {
            entity(out, Party::Front(cust), true, typ, role.name(), &label);
        }
        cid.clear();
        Renderer::customer_id(&mut cid, cust);
        label_line(
            &mut out.customer_labels,
            &cid,
            true,
            typ,
            role.name(),
            &label,
        );
    }
}

/// Typed and text column builders for one chunk's record batch.
struct Builders {
    ts: TimestampMicrosecondBuilder,
    amount: Float64Builder,
    offset: Int16Builder,
    mcc: UInt16Builder,
    text: Vec<StringBuilder>,
}

impl Builders {
    fn new(rows: usize) -> Builders {
        Builders {
            ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            amount: Float64Builder::with_capacity(rows),
            offset: Int16Builder::with_capacity(rows),
            mcc: UInt16Builder::with_capacity(rows),
            text: (0..COLUMNS.len())
                .map(|_| StringBuilder::with_capacity(rows, rows * 12))
                .collect(),
        }
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| -> ArrayRef {
                match *c {
                    "ts" => Arc::new(self.ts.finish()),
                    "amount" => Arc::new(self.amount.finish()),
                    "local_offset_min" => Arc::new(self.offset.finish()),
                    "mcc" => Arc::new(self.mcc.finish()),
                    _ => Arc::new(self.text[i].finish()),
                }
            })
            .collect();
        RecordBatch::try_new(arrow_schema(), columns).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn chunk(plan: &Plan, c: u32, format: Format) -> Result<ChunkOut> {
    let render = Renderer::new(plan);
    let mut out = ChunkOut {
        csv: Vec::new(),
        batch: None,
        txn_labels: Vec::new(),
        account_labels: Vec::new(),
        customer_labels: Vec::new(),
        rows: 0,
        accounts: 0,
        laundering_rows: 0,
        lookalike_rows: 0,
        suspicious_accounts: 0,
        lookalike_accounts: 0,
    };
    let first = c * CHUNK;
    let last = (first + CHUNK).min(plan.units());
    let units: Vec<(u32, Vec<Txn>)> = (first..last).map(|u| (u, unit_rows(plan, u))).collect();
    let n: usize = units.iter().map(|(_, r)| r.len()).sum();
    let mut builders = (format == Format::Parquet).then(|| Builders::new(n));
    if format == Format::Csv {
        out.csv.reserve(n * 260);
    }
    let mut buf = Vec::with_capacity(128);
    let mut id = Vec::with_capacity(80);
    for (unit, rows) in &units {
        unit_labels(plan, *unit, &mut out);
        let case = unit
            .checked_sub(plan.ordinary)
            .map(|k| &plan.cases[k as usize]);
        for (seq, t) in rows.iter().enumerate() {
            let seq = seq as u32;
            match &mut builders {
                None => render.fields(
                    t,
                    *unit,
                    seq,
                    |i, v| {
                        if i > 0 {
                            out.csv.push(b',');
                        }
                        out.csv.extend_from_slice(v);
                    },
                    &mut buf,
                ),
                Some(b) => {
                    b.ts.append_value(t.ts * 1_000_000);
                    b.amount.append_value(t.amount_f64());
                    b.offset.append_value(t.offset_min);
                    match render.merchant(t) {
                        Some((mcc, _)) => b.mcc.append_value(mcc),
                        None => b.mcc.append_null(),
                    }
                    render.fields(
                        t,
                        *unit,
                        seq,
                        |i, v| {
                            if matches!(COLUMNS[i], "ts" | "amount" | "local_offset_min" | "mcc") {
                                return;
                            }
                            let nullable = !matches!(
                                COLUMNS[i],
                                "txn_id" | "sender_id" | "receiver_id" | "currency" | "channel"
                            );
                            if v.is_empty() && nullable {
                                b.text[i].append_null();
                            } else {
                                b.text[i].append_value(std::str::from_utf8(v).unwrap_or_default());
                            }
                        },
                        &mut buf,
                    );
                }
            }
            if builders.is_none() {
                out.csv.push(b'\n');
            }
            out.rows += 1;
            let (susp, typ, case_id) = match (t.label, case) {
                (Label::None, _) => continue,
                (Label::Case, Some(c)) => (true, c.typology.name(), c.label()),
                (Label::Case, None) => continue,
                (Label::Lookalike(typ), _) => (false, typ, String::new()),
            };
            id.clear();
            render.txn_id(&mut id, t, *unit, seq);
            out.txn_labels.extend_from_slice(&id);
            out.txn_labels
                .extend_from_slice(if susp { b",1," } else { b",0," });
            out.txn_labels.extend_from_slice(typ.as_bytes());
            out.txn_labels.push(b',');
            out.txn_labels.extend_from_slice(case_id.as_bytes());
            out.txn_labels.push(b'\n');
            if susp {
                out.laundering_rows += 1;
            } else {
                out.lookalike_rows += 1;
            }
        }
    }
    if let Some(b) = builders {
        out.batch = Some(b.finish()?);
    }
    Ok(out)
}

/// Rows per Parquet row group.
const ROW_GROUP: usize = 1 << 18;

/// A Parquet file whose row groups are encoded column by column in parallel (one generation
/// chunk at a time would leave one core idle: the stock writer encodes on one thread).
struct ParquetSink {
    writer: SerializedFileWriter<Atomic>,
    factory: ArrowRowGroupWriterFactory,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    groups: usize,
    path: PathBuf,
}

impl ParquetSink {
    fn create(path: &Path) -> Result<ParquetSink> {
        let err = |e: parquet::errors::ParquetError| Error::Parquet(path.to_owned(), e.to_string());
        let schema = arrow_schema();
        // Unique columns gain nothing from dictionaries and cost a hash lookup per value.
        let mut props = ["txn_id", "ts", "amount", "tx_hash"]
            .into_iter()
            .fold(
                WriterProperties::builder().set_compression(Compression::SNAPPY),
                |b, c| b.set_column_dictionary_enabled(ColumnPath::from(c), false),
            )
            .build();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let parquet_schema = ArrowSchemaConverter::new().convert(&schema).map_err(err)?;
        let writer = SerializedFileWriter::new(
            Atomic::create(path)?,
            parquet_schema.root_schema_ptr(),
            Arc::new(props),
        )
        .map_err(err)?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema);
        Ok(ParquetSink {
            writer,
            factory,
            pending: Vec::new(),
            pending_rows: 0,
            groups: 0,
            path: path.to_owned(),
        })
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e: parquet::errors::ParquetError| Error::Parquet(path.clone(), e.to_string());
        let writers = self
            .factory
            .create_column_writers(self.groups)
            .map_err(err)?;
        let schema = arrow_schema();
        let pending = std::mem::take(&mut self.pending);
        let chunks: Vec<std::result::Result<ArrowColumnChunk, parquet::errors::ParquetError>> =
            writers
                .into_par_iter()
                .enumerate()
                .map(|(i, mut w)| {
                    for b in &pending {
                        for leaf in compute_leaves(schema.field(i), b.column(i))? {
                            w.write(&leaf)?;
                        }
                    }
                    w.close()
                })
                .collect();
        let mut group = self.writer.next_row_group().map_err(err)?;
        for c in chunks {
            c.map_err(err)?
                .append_to_row_group(&mut group)
                .map_err(err)?;
        }
        group.close().map_err(err)?;
        self.groups += 1;
        self.pending_rows = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush()?;
        let path = self.path.clone();
        self.writer
            .into_inner()
            .map_err(|e| Error::Parquet(path, e.to_string()))?
            .commit()
    }
}

enum Sink {
    Csv(Atomic),
    Parquet(Box<ParquetSink>),
}

/// Generates the population of `plan` into `dir`.
pub fn write_population(plan: &Plan, dir: &Path, format: Format) -> Result<Summary> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let started = std::time::Instant::now();
    let mut sink = match format {
        Format::Csv => {
            let mut f = Atomic::create(&dir.join("transactions.csv"))?;
            f.write(COLUMNS.join(",").as_bytes())?;
            f.write(b"\n")?;
            Sink::Csv(f)
        }
        Format::Parquet => Sink::Parquet(Box::new(ParquetSink::create(
            &dir.join("transactions.parquet"),
        )?)),
    };
    let mut txn_labels = Atomic::create(&dir.join("transaction_labels.csv"))?;
    txn_labels.write(b"txn_id,is_laundering,typology,case_id\n")?;
    let mut account_labels = Atomic::create(&dir.join("account_labels.csv"))?;
    account_labels.write(b"account,is_suspicious,typology,role,case_id\n")?;
    let mut customer_labels = Atomic::create(&dir.join("customer_labels.csv"))?;
    customer_labels.write(b"customer,is_suspicious,typology,role,case_id\n")?;

    let mut summary = Summary::new(plan);
    let chunks = plan.units().div_ceil(CHUNK);
    let window = (rayon::current_num_threads() * 3) as u32;
    let mut next = 0;
    while next < chunks {
        let end = (next + window).min(chunks);
        let outs: Vec<Result<ChunkOut>> = (next..end)
            .into_par_iter()
            .map(|c| chunk(plan, c, format))
            .collect();
        for o in outs {
            let o = o?;
            match &mut sink {
                Sink::Csv(f) => f.write(&o.csv)?,
                Sink::Parquet(p) => {
                    if let Some(b) = o.batch {
                        p.write(b)?;
                    }
                }
            }
            txn_labels.write(&o.txn_labels)?;
            account_labels.write(&o.account_labels)?;
            customer_labels.write(&o.customer_labels)?;
            summary.rows += o.rows;
            summary.accounts += o.accounts;
            summary.laundering_rows += o.laundering_rows;
            summary.lookalike_rows += o.lookalike_rows;
            summary.suspicious_accounts += o.suspicious_accounts;
            summary.lookalike_accounts += o.lookalike_accounts;
        }
        next = end;
    }
    match sink {
        Sink::Csv(f) => f.commit()?,
        Sink::Parquet(p) => p.finish()?,
    }
    txn_labels.commit()?;
    account_labels.commit()?;
    customer_labels.commit()?;
    write_rates(plan, dir)?;
    write_reference(plan, dir)?;
    summary.seconds = started.elapsed().as_secs_f64();
    let mut f = Atomic::create(&dir.join("summary.json"))?;
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Internal(e.to_string()))?;
    f.write(&json)?;
    f.write(b"\n")?;
    f.commit()?;
    Ok(summary)
}

/// `rates.csv`: one rate per currency and month, dated the first of the month (the day before
/// the start for the first month).
fn write_rates(plan: &Plan, dir: &Path) -> Result<()> {
    let mut f = Atomic::create(&dir.join("rates.csv"))?;
    f.write(b"date,currency,rate_to_base\n")?;
    let last = plan.month(plan.days.saturating_sub(1));
    for m in 0..=last {
        let date = if m == 0 {
            plan.start - chrono::Days::new(1)
        } else {
            let first = plan.start.with_day(1).unwrap_or(plan.start);
            first + chrono::Months::new(m)
        };
        for c in Currency::ALL.iter().filter(|c| **c != Currency::Usd) {
            let line = format!("{date},{},{}\n", c.code(), round6(c.usd_rate(m)));
            f.write(line.as_bytes())?;
        }
    }
    f.commit()
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `reference/vasp_attribution.csv`: the synthetic service wallets, so that `redflag run
/// --reference-dir DIR/reference` can attribute them (a real run loads a licensed feed).
fn write_reference(plan: &Plan, dir: &Path) -> Result<()> {
    let rdir = dir.join("reference");
    std::fs::create_dir_all(&rdir).map_err(|e| Error::io(&rdir, e))?;
    let mut f = Atomic::create(&rdir.join("vasp_attribution.csv"))?;
    f.write(
        b"# version: synth-1\n# reviewer: redflag synth (generated; synthetic addresses, not real services)\n\
chain,address_or_cluster,category,confidence,source,licence,first_seen\n",
    )?;
    let render = Renderer::new(plan);
    for service in Service::ALL {
        let mut id = Vec::new();
        render.party_id(
            &mut id,
            Party::ServiceWallet {
                service,
                chain: Chain::Ethereum,
            },
        );
        let line = format!(
            "ethereum,{},{},high,redflag synth (synthetic),CC0-1.0,{}\n",
            String::from_utf8_lossy(&id),
            service.category(),
            plan.start
        );
        f.write(line.as_bytes())?;
    }
    f.commit()
}
