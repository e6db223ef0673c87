//! Entity behaviour features and the transaction-graph pass for redflag.
//!
//! [`compute`] turns the canonical `transactions` table (Arrow record batches, as
//! `redflag-io` produces them) into one Arrow table, `entity_features`: one row per entity,
//! every feature the red-flag indicators of `docs/INDICATORS.md` need, over windows that end
//! at `as_of`. Entities are account-level parties (accounts, merchants, wallets, external
//! parties: every `sender_id` / `receiver_id` except `CASH`) and, when the input has customer
//! ids, customers (the union of their accounts, transfers between their own accounts left out).
//!
//! Every column is documented once, in [`CATALOG`] (`redflag features --list` prints it).
//! Each entity's features are computed from its own transactions in time order by a Rust
//! kernel, in parallel over entities (rayon); the graph pass then adds fan-in/out, scatter-
//! gather, gather-scatter, cycles, layered chains, bipartite blocks and shared-identifier
//! clusters, with bounded work per node (see [`FeatureConfig`]). Results do not depend on the
//! thread count.
//!
//! Why kernels and not SQL views: almost every feature is sequential within an entity (rolling
//! 24-hour sums, first-in-first-out matching, sweeps within 48 hours of a payroll credit,
//! sliding 7-day distinct counts), which SQL expresses only through self-joins or window
//! frames that cost several times the whole pass. The kernel needs nothing but each entity's
//! rows, so it partitions by entity hash exactly as a distributed `GROUP BY` would; that is the
//! seam a cluster run uses (the graph pass needs the 30-day edges of a connected component).
//! The crate does not depend on DataFusion and builds in seconds.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt8Array};
//! use redflag_features::{FeatureConfig, compute};
//! use redflag_schema::{CanonicalEnum, Channel, transactions_schema};
//!
//! // Three transfers A -> B -> C -> A, 50 minutes apart, each a little smaller.
//! let schema = transactions_schema(&[]);
//! let hour = 3_600_000_000i64;
//! let ids = |v: [&str; 3]| Arc::new(StringArray::from(v.to_vec()));
//! let wire = Channel::WireDomestic as u8;
//! let channel = DictionaryArray::new(UInt8Array::from(vec![wire; 3]), Channel::dictionary_values());
//! // Text other than identifiers is dictionary-encoded (redflag_schema::text_type).
//! let eur = DictionaryArray::new(Int32Array::from(vec![0; 3]), Arc::new(StringArray::from(vec!["EUR"])));
//! let batch = RecordBatch::try_new(schema, vec![
//!     ids(["t1", "t2", "t3"]),
//!     Arc::new(TimestampMicrosecondArray::from(vec![hour, 2 * hour, 3 * hour]).with_timezone("UTC")),
//!     ids(["A", "B", "C"]),
//!     ids(["B", "C", "A"]),
//!     Arc::new(Float64Array::from(vec![1000.0, 950.0, 900.0])),
//!     Arc::new(eur),
//!     Arc::new(Float64Array::from(vec![1000.0, 950.0, 900.0])),
//!     Arc::new(channel),
//! ]).unwrap();
//! let features = compute(&[batch], &FeatureConfig::default()).unwrap();
//! let table = features.batch;
//! assert_eq!(table.num_rows(), 3);
//! let cycles = table.column_by_name("cycles_30d").unwrap();
//! let cycles = cycles.as_any().downcast_ref::<arrow::array::UInt32Array>().unwrap();
//! assert_eq!(cycles.values().to_vec(), vec![1, 1, 1]);
//! ```

mod catalog;
mod config;
mod entity;
mod graph;
mod index;
mod intern;
mod ledger;
mod mem;
mod partitioned;
mod prepare;
mod profile;

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt8Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use redflag_schema::columns as col;

pub use catalog::{CATALOG, F, FeatureDef, N_FEATURES, Unit, feature};
pub use config::{DAY, FeatureConfig, HOUR, MccGroups, PartyCategory};
pub use ledger::Ledger;
pub use mem::release_freed_memory;
pub use partitioned::{BatchSource, Window, compute_partitioned, partitioned_features};
pub use prepare::EntityKind;
pub use profile::{CHANNEL_MIXES, Profiles};

use crate::entity::{Ctx, Scratch};
use crate::graph::{Holders, NodeGraph};
use crate::index::Legs;
use crate::intern::NONE;

/// Errors of the feature pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required canonical column is missing from the input batches.
    #[error("the transactions table has no column `{0}`")]
    MissingColumn(&'static str),
    /// A canonical column has the wrong Arrow type.
    #[error("column `{0}` should be {1}")]
    ColumnType(&'static str, &'static str),
    /// Building the output table failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// A [`BatchSource`] could not hand over its batches.
    #[error("{0}")]
    Source(String),
}

/// Result of the feature pass.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Name of the entity id column of `entity_features`.
pub const ENTITY_ID: &str = "entity_id";
/// Name of the entity kind column (`account`, `merchant`, `wallet`, `external`, `customer`).
pub const ENTITY_KIND: &str = "entity_kind";
/// Name of the activity segment column: transactions in the 210 days up to `as_of`, banded
/// 0 (< 10), 1 (< 100), 2 (< 1000), 3 (more). Peers are entities of the same kind and segment.
pub const SEGMENT: &str = "segment";

/// The Arrow schema of `entity_features`.
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new(ENTITY_ID, DataType::Utf8, false),
        Field::new(ENTITY_KIND, DataType::Utf8, false),
        Field::new(SEGMENT, DataType::UInt8, false),
    ];
    fields.extend(
        CATALOG
            .iter()
            .map(|d| Field::new(d.name, d.unit.data_type(), d.unit.nullable())),
    );
    Arc::new(Schema::new(fields))
}

/// Wall-clock seconds of each stage of a feature pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// Interning ids and reducing rows.
    pub prepare: f64,
    /// Building the per-entity time-ordered index.
    pub index: f64,
    /// The per-entity kernel.
    pub entity: f64,
    /// The graph pass.
    pub graph: f64,
    /// Customers, peers and the output table.
    pub finish: f64,
}

/// The `entity_features` table and how it was made.
#[derive(Debug, Clone)]
pub struct EntityFeatures {
    /// One row per entity: `entity_id`, `entity_kind`, `segment`, then [`CATALOG`] in order.
    pub batch: RecordBatch,
    /// End of every window (UTC microseconds).
    pub as_of: i64,
    /// Stage timings.
    pub timings: Timings,
    /// Each entity's descriptive segments (channel mix, region, institution), in the order of
    /// `batch`, for the fairness report. No rule or model reads them.
    pub profiles: Profiles,
    /// The transactions, their parties as rows of `batch`.
    pub ledger: Ledger,
}

/// Computes `entity_features` from canonical `transactions` batches.
pub fn compute(batches: &[RecordBatch], cfg: &FeatureConfig) -> Result<EntityFeatures> {
    // The batches are shared with the caller, so letting go of columns frees nothing.
    compute_owned(batches.to_vec(), &[], cfg).map(|(features, _)| features)
}

/// [`compute`] on batches the caller hands over: each column is let go as soon as the pass has
/// read it, and the freed memory handed back to the OS ([`release_freed_memory`]), so the
/// transactions table and the packed rows built from it are not both held at full size.
/// The `keep` columns are left alone and come back in the returned batches (same row counts,
/// only those columns), for example `txn_id` to name evidence later.
///
/// At 100M transactions the table is about 9 GB, so this lowers the peak of the pass by most
/// of that; the features are the same as [`compute`]'s.
pub fn compute_owned(
    mut batches: Vec<RecordBatch>,
    keep: &[&str],
    cfg: &FeatureConfig,
) -> Result<(EntityFeatures, Vec<RecordBatch>)> {
    let mut timings = Timings::default();
    let clock = Instant::now();
    // The profiles read the institutions after the pass: they stay until then.
    let institutions = [col::SENDER_INSTITUTION, col::RECEIVER_INSTITUTION];
    let t = prepare::prepare(&mut batches, cfg, &[keep, &institutions].concat())?;
    release_freed_memory();
    timings.prepare = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let n_accounts = t.entities.len();
    let order = index::time_order(&t.rows);
    let legs = Legs::build(&t.rows, order.as_deref(), n_accounts, |i| {
        (t.rows[i].sender, t.rows[i].receiver)
    });
    timings.index = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let cust = t.customers.as_ref();
    let cx = Ctx {
        t: &t,
        cfg,
        sender_customer: cust.map(|c| c.sender.as_slice()),
        receiver_customer: cust.map(|c| c.receiver.as_slice()),
    };
    let Kernel {
        mut features,
        mut activity,
        sweeps,
        nodes,
    } = run_kernel(&cx, &legs, 0..legs.len(), true);
    sweep_sources(&mut features, sweeps);
    timings.entity = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let holders = cust.map(|c| Holders {
        sender: &c.sender,
        receiver: &c.receiver,
    });
    // The account profiles are one sequential pass: it runs beside the parallel graph pass.
    let ((), (mut profiles, mix)) = rayon::join(
        || graph::graph_pass(nodes, &mut features, holders.as_ref(), cfg),
        || profile::accounts(&t, &batches),
    );
    let (holder_of_account, n_holders) = match cust {
        Some(c) => (
            holder_of_account(n_accounts, c, |i| (t.rows[i].sender, t.rows[i].receiver)),
            c.names.len(),
        ),
        None => ((0..n_accounts as u32).collect(), n_accounts),
    };
    prepare::release(&mut batches, &institutions, keep);
    release_freed_memory();
    graph::identifiers(&t, &mut features, &holder_of_account, n_holders, cfg);
    timings.graph = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let mut ids: Vec<&str> = t.entities.iter().map(String::as_str).collect();
    let mut kinds: Vec<EntityKind> = t.kinds.clone();
    drop(legs);
    if let Some(c) = cust {
        let legs = Legs::build(&t.rows, order.as_deref(), c.names.len(), |i| {
            (c.sender[i], c.receiver[i])
        });
        let Kernel {
            features: mut cf,
            activity: ca,
            ..
        } = run_kernel(&cx, &legs, 0..legs.len(), false);
        strongest_of_accounts(&features, &mut cf, &holder_of_account);
        activity.extend(ca);
        features.extend(cf);
        profile::add_customers(&mut profiles, &mix, &holder_of_account, c.names.len());
        ids.extend(c.names.iter().map(String::as_str));
        kinds.extend(std::iter::repeat_n(EntityKind::Customer, c.names.len()));
    }
    let batch = table(&ids, &kinds, &activity, &mut features)?;
    // The rows move into the ledger as they are: no copy, so no second peak.
    let ledger = Ledger::new(
        t.rows,
        t.customers.map(|c| (c.sender, c.receiver)),
        n_accounts,
        batches.iter().map(RecordBatch::num_rows),
    );
    timings.finish = clock.elapsed().as_secs_f64();
    let features = EntityFeatures {
        batch,
        as_of: t.as_of,
        timings,
        profiles,
        ledger,
    };
    Ok((features, batches))
}

/// Graph features of a customer (`customers`, by customer code): the strongest of its
/// accounts' (`accounts`, by account code).
fn strongest_of_accounts(
    accounts: &[FeatureRow],
    customers: &mut [FeatureRow],
    holder_of_account: &[u32],
) {
    for (a, &h) in holder_of_account.iter().enumerate() {
        if h == NONE {
            continue;
        }
        for f in GRAPH_ONLY {
            let v = accounts[a][*f as usize];
            let slot = &mut customers[h as usize][*f as usize];
            *slot = slot.max(v);
        }
    }
}

/// The `entity_features` table: activity segments, peer percentiles, then the columns.
fn table(
    ids: &[&str],
    kinds: &[EntityKind],
    activity: &[usize],
    features: &mut [FeatureRow],
) -> Result<RecordBatch> {
    let segments: Vec<u8> = activity
        .iter()
        .map(|&n| match n {
            0..10 => 0,
            10..100 => 1,
            100..1000 => 2,
            _ => 3,
        })
        .collect();
    peers(features, kinds, &segments);
    to_batch(ids, kinds, &segments, features)
}

/// Features only the graph pass computes (customers take the maximum over their accounts).
const GRAPH_ONLY: &[F] = &[
    F::GatherScatter,
    F::SgSource,
    F::SgIntermediary,
    F::SgSink,
    F::Cycles30,
    F::CycleMinLen30,
    F::ChainHops30,
    F::Bipartite30,
    F::Stack30,
    F::SharedIdCluster30,
    F::ConductorAccounts30,
    F::SweepSources90,
];

type FeatureRow = [f64; N_FEATURES];
type Rows = Vec<FeatureRow>;

/// Runs the per-entity kernel over the `entities` of `legs` (in order); with `graph`, also
/// hands over each entity as a node of the 30-day graph.
fn run_kernel(cx: &Ctx<'_>, legs: &Legs, entities: std::ops::Range<usize>, graph: bool) -> Kernel {
    type Rest = (usize, Vec<(u32, u32)>, Option<NodeGraph>);
    // The feature rows (752 bytes each) are written in place by the workers; only the small
    // rest is gathered afterwards on one thread.
    let mut features: Rows = Vec::new();
    let mut rest: Vec<Rest> = Vec::new();
    entities
        .into_par_iter()
        .map_init(Scratch::default, |scratch, e| {
            let mut out = [0.0; N_FEATURES];
            let mut sweeps = Vec::new();
            let mut node = graph.then(NodeGraph::default);
            let n = entity::compute(
                cx,
                e as u32,
                legs.of(e),
                &mut out,
                scratch,
                &mut sweeps,
                node.as_mut(),
            );
            (out, (n, sweeps, node))
        })
        .unzip_into_vecs(&mut features, &mut rest);
    let mut out = Kernel {
        features,
        activity: Vec::with_capacity(rest.len()),
        sweeps: Vec::new(),
        nodes: Vec::new(),
    };
    for (n, s, node) in rest {
        out.activity.push(n);
        out.sweeps.extend(s);
        out.nodes.extend(node);
    }
    out
}

/// What the per-entity kernel returns for all entities.
struct Kernel {
    features: Rows,
    /// Transactions in the 210 days up to `as_of`.
    activity: Vec<usize>,
    /// (destination account, wage earner) of swept wages.
    sweeps: Vec<(u32, u32)>,
    /// The nodes of the 30-day graph (when asked for).
    nodes: Vec<NodeGraph>,
}

/// LE-2: how many distinct wage earners' swept wages reached each account.
fn sweep_sources(features: &mut [[f64; N_FEATURES]], mut sweeps: Vec<(u32, u32)>) {
    sweeps.sort_unstable();
    sweeps.dedup();
    for group in sweeps.chunk_by(|a, b| a.0 == b.0) {
        features[group[0].0 as usize][F::SweepSources90 as usize] = group.len() as f64;
    }
}

/// The customer behind each of `n` accounts (the first one seen), [`NONE`] when never given;
/// `parties(i)` is the sender and receiver code of row `i`.
fn holder_of_account(
    n: usize,
    c: &prepare::Customers,
    parties: impl Fn(usize) -> (u32, u32),
) -> Vec<u32> {
    let mut h = vec![NONE; n];
    for i in 0..c.sender.len() {
        let (s, r) = parties(i);
        if s != NONE && h[s as usize] == NONE {
            h[s as usize] = c.sender[i];
        }
        if r != NONE && h[r as usize] == NONE {
            h[r as usize] = c.receiver[i];
        }
    }
    h
}

/// Percentile ranks within (kind, segment): 100 * (below + equal / 2) / n.
fn peers(features: &mut [[f64; N_FEATURES]], kinds: &[EntityKind], segments: &[u8]) {
    let mut groups: Vec<usize> = (0..features.len()).collect();
    groups.sort_unstable_by_key(|&e| (kinds[e], segments[e], e));
    type Value = fn(&FeatureRow) -> f64;
    let pairs: [(F, Value); 4] = [
        (F::PctInSum30, |f| f[F::InSum30 as usize]),
        (F::PctOutSum30, |f| f[F::OutSum30 as usize]),
        (F::PctCashIn30, |f| f[F::CashInSum30 as usize]),
        (F::PctTxn30, |f| {
            f[F::NIn30 as usize] + f[F::NOut30 as usize]
        }),
    ];
    for group in groups.chunk_by(|&a, &b| kinds[a] == kinds[b] && segments[a] == segments[b]) {
        let n = group.len() as f64;
        for (target, value) in pairs {
            let mut vals: Vec<(f64, usize)> =
                group.iter().map(|&e| (value(&features[e]), e)).collect();
            vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let mut k = 0;
            while k < vals.len() {
                let mut j = k;
                while j < vals.len() && vals[j].0 == vals[k].0 {
                    j += 1;
                }
                let pct = 100.0 * (k as f64 + (j - k) as f64 / 2.0) / n;
                for &(_, e) in &vals[k..j] {
                    features[e][target as usize] = pct;
                }
                k = j;
            }
        }
    }
}

fn to_batch(
    ids: &[&str],
    kinds: &[EntityKind],
    segments: &[u8],
    features: &[[f64; N_FEATURES]],
) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(ids.iter().copied())),
        Arc::new(StringArray::from_iter_values(
            kinds.iter().map(|k| k.as_str()),
        )),
        Arc::new(UInt8Array::from(segments.to_vec())),
    ];
    // One strided pass over the rows per column, the columns on all threads.
    let values: Vec<ArrayRef> = CATALOG
        .par_iter()
        .enumerate()
        .map(|(k, def)| -> ArrayRef {
            match def.unit.data_type() {
                DataType::UInt32 => Arc::new(UInt32Array::from_iter_values(
                    features.iter().map(|f| f[k].max(0.0).round() as u32),
                )),
                _ if def.unit.nullable() => Arc::new(Float64Array::from_iter(
                    features.iter().map(|f| f[k].is_finite().then_some(f[k])),
                )),
                _ => Arc::new(Float64Array::from_iter_values(
                    features.iter().map(|f| f[k]),
                )),
            }
        })
        .collect();
    columns.extend(values);
    Ok(RecordBatch::try_new(schema(), columns)?)
}
