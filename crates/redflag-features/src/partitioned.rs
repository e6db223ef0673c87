//! The feature pass in entity partitions, over a table read in passes: the memory it holds is
//! one partition's transactions plus the per-entity results, not every transaction at once.
//!
//! Every account-level entity's features need only its own transactions (its "legs"), in
//! input order: the kernel is a `GROUP BY entity` in disguise. So the entities are cut into
//! `partitions` ranges of their codes, and for each range the pass packs only the rows that
//! touch it (a row whose sender and receiver fall in different ranges is packed in both) and
//! runs the kernel on those entities. A row keeps its input position (`global`), so the side
//! columns, the graph's edges and the ledger still name rows of the whole table. Customers are
//! done the same way over customer codes. The graph pass then runs once over every entity's
//! capped 30-day edges, and the shared-identifier pass and the ledger over the rows of the 30
//! days up to `as_of`. The features are identical to [`compute`](crate::compute)'s whatever the
//! number of partitions: each entity sees the same rows in the same order.

use std::ops::Range;
use std::sync::atomic::AtomicU8;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::TimestampMicrosecondType;
use rayon::prelude::*;
use redflag_schema::columns as col;

use crate::config::{DAY, MccTable};
use crate::entity::Ctx;
use crate::graph::{self, Holders};
use crate::index::{self, Legs};
use crate::intern::NONE;
use crate::prepare::{self, Codes, Customers, Row, Txns};
use crate::profile::{self, Institutions, Profiles};
use crate::{
    EntityFeatures, EntityKind, Error, FeatureConfig, Kernel, Ledger, Result, Rows, Timings,
    holder_of_account, run_kernel, strongest_of_accounts, sweep_sources, table,
};

/// A transactions table that [`compute_partitioned`] reads in passes, for example from a spill
/// file, so that it is never held whole.
pub trait BatchSource: Sync {
    /// Every batch of the table, in order, with (at least) those of `columns` it has. The
    /// pass calls this for a few text columns at a time (interning). When the table has none
    /// of `columns`, a source may return no batches at all instead of empty ones.
    fn load(&self, columns: &[&str]) -> Result<Vec<RecordBatch>>;

    /// Hands every batch of the table to `each`, in order, in rounds of consecutive batches
    /// (each round is worked on in parallel), each batch with (at least) those of `columns`
    /// it has. When the table has none of `columns`, a source may hand nothing.
    fn scan(
        &self,
        columns: &[&str],
        each: &mut dyn FnMut(Vec<RecordBatch>) -> Result<()>,
    ) -> Result<()>;
}

/// Batches per round of an in-memory [`BatchSource`].
const ROUND: usize = 16;

/// The batches in memory (for tests and for callers that hold the table anyway).
impl BatchSource for Vec<RecordBatch> {
    fn load(&self, columns: &[&str]) -> Result<Vec<RecordBatch>> {
        Ok(prepare::project(self, columns))
    }

    fn scan(
        &self,
        columns: &[&str],
        each: &mut dyn FnMut(Vec<RecordBatch>) -> Result<()>,
    ) -> Result<()> {
        for round in self.chunks(ROUND) {
            each(prepare::project(round, columns))?;
        }
        Ok(())
    }
}

/// [`compute`](crate::compute) in `partitions` ranges of entities, reading `source` in passes:
/// the same table, whatever `partitions` is, with the [`Ledger`] already cut to the 30 days up
/// to `as_of` (as [`Ledger::keep_between`] would leave it).
///
/// It reads the table about `2 × partitions + 5` times (interning, each partition of accounts
/// and of customers, institutions, the 30-day window) and holds, besides the per-entity
/// results, the interned codes (4 bytes a transaction per interned column) and about
/// `2 / partitions` of the packed rows (48 bytes each) at a time. The ledger of the window
/// comes on top (48 bytes a transaction of the 30 days); [`partitioned_features`] leaves it
/// to be read later, for only the entities that matter.
pub fn compute_partitioned(
    source: &dyn BatchSource,
    partitions: usize,
    cfg: &FeatureConfig,
) -> Result<EntityFeatures> {
    let (mut features, window) = partitioned_features(source, partitions, cfg)?;
    features.ledger = window.ledger(None)?;
    Ok(features)
}

/// [`compute_partitioned`] without reading the ledger: the returned features' ledger is empty,
/// and the [`Window`] reads the transactions of the 30 days up to `as_of` again when asked,
/// those of chosen entities only (an alert queue needs the transactions of its candidates,
/// a small part of the window). Until then it holds each transaction's sender and receiver
/// codes (8 bytes a transaction, 16 with customers).
pub fn partitioned_features<'a>(
    source: &'a dyn BatchSource,
    partitions: usize,
    cfg: &'a FeatureConfig,
) -> Result<(EntityFeatures, Window<'a>)> {
    let partitions = partitions.max(1);
    let mut timings = Timings::default();
    let clock = Instant::now();
    // Where each batch starts, and the latest time (the default `as_of`).
    let mut starts = Vec::new();
    let mut total = 0usize;
    let mut latest: Option<i64> = None;
    let mut times = Vec::new();
    let mut known = 0usize;
    source.scan(prepare::REQUIRED, &mut |round| {
        for b in round {
            for name in prepare::REQUIRED {
                prepare::column(&b, name)?;
            }
            let ts = prepare::column(&b, col::TS)?
                .as_any()
                .downcast_ref::<arrow::array::PrimitiveArray<TimestampMicrosecondType>>()
                .ok_or(Error::ColumnType(col::TS, "timestamp(us, UTC)"))?;
            if let Some(m) = arrow::compute::max(ts) {
                latest = Some(latest.map_or(m, |l| l.max(m)));
            }
            // With `as_of` given, the window is counted now; else once it is known.
            match cfg.as_of {
                Some(to) => {
                    let from = to - 30 * DAY;
                    known += ts.values().iter().filter(|&&t| t > from && t <= to).count();
                }
                None => times.push(ts.clone()),
            }
            starts.push(total);
            total += b.num_rows();
        }
        Ok(())
    })?;
    if total >= 1 << 31 {
        return Err(Error::Source(format!(
            "{total} transactions in one pass; the feature pass takes fewer than 2^31"
        )));
    }
    let as_of = cfg.as_of.unwrap_or(latest.unwrap_or(0));
    // Transactions in the 30 days up to `as_of` (the window pass sizes its vectors by it).
    let in_window = {
        let from = as_of - 30 * DAY;
        let count = times
            .iter()
            .flat_map(|t| t.values().iter())
            .filter(|&&t| t > from && t <= as_of)
            .count();
        drop(times);
        known + count
    };
    let codes = prepare::intern_codes(&|names| source.load(names), true)?;
    let n = codes.entities.len();
    let mut pass = Pass {
        source,
        cfg,
        starts,
        mcc: MccTable::new(&cfg.mcc),
        kind_of: (0..n).map(|_| AtomicU8::new(0)).collect(),
        party_cat: prepare::party_categories(&codes.entities, cfg),
        codes,
        as_of,
        in_window,
    };
    let codes = &pass.codes;
    timings.prepare = clock.elapsed().as_secs_f64();

    // Accounts, one range of codes at a time.
    let clock = Instant::now();
    let mut features: Rows = Vec::with_capacity(n);
    let mut activity = Vec::with_capacity(n);
    let mut sweeps = Vec::new();
    let mut nodes = Vec::with_capacity(n);
    let mut mix = vec![[0u32; 6]; n];
    let mut region = vec![Profiles::UNKNOWN; n];
    let located = !codes.region_names.is_empty();
    for p in 0..partitions {
        let range = part(n, partitions, p);
        let inside = |e: u32| e != NONE && range.contains(&(e as usize));
        let touches = |g: usize| inside(codes.sender[g]) || inside(codes.receiver[g]);
        let expected = (0..total).into_par_iter().filter(|&g| touches(g)).count();
        let (t, global) = pass.txns(&touches, &|_| true, expected)?;
        let k = pass.kernel(
            &t,
            n,
            range.clone(),
            true,
            |r, _| (r.sender, r.receiver),
            &inside,
        );
        let Kernel {
            features: f,
            activity: a,
            sweeps: s,
            nodes: mut g,
        } = k;
        // Edges name rows of the whole table.
        for node in &mut g {
            for e in &mut node.out {
                e.row = global[e.row as usize];
            }
        }
        features.extend(f);
        activity.extend(a);
        sweeps.extend(s);
        nodes.extend(g);
        profile::tally(&t.rows, located, inside, &mut mix, &mut region);
        drop((t, global));
        // The range's rows were many mid-sized blocks: hand them back before the next range.
        crate::release_freed_memory();
    }
    sweep_sources(&mut features, sweeps);
    timings.entity = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let holders = codes.customers.as_ref().map(|c| Holders {
        sender: &c.sender,
        receiver: &c.receiver,
    });
    graph::graph_pass(nodes, &mut features, holders.as_ref(), cfg);
    crate::release_freed_memory();
    let mut institutions = Institutions::new(n);
    let mut next = 0usize;
    source.scan(&Institutions::COLUMNS, &mut |round| {
        for b in round {
            let start = pass.starts[next];
            institutions.add(&b, |i| (codes.sender[start + i], codes.receiver[start + i]));
            next += 1;
        }
        Ok(())
    })?;
    let (mut profiles, mix) = profile::profiles(mix, region, institutions, &codes.region_names);
    let (holder_of_account, n_holders) = match &codes.customers {
        Some(c) => (
            holder_of_account(n, c, |i| (codes.sender[i], codes.receiver[i])),
            c.names.len(),
        ),
        None => ((0..n as u32).collect(), n),
    };
    // The shared-identifier pass reads the transactions of the 30 days up to `as_of` that name
    // a device, an IP address or a conductor, and only those (none, without such columns).
    {
        let named = |v: &Option<Vec<u32>>, g: usize| v.as_ref().is_some_and(|v| v[g] != NONE);
        let wanted =
            |g: usize| named(&codes.device, g) || named(&codes.ip, g) || named(&codes.conductor, g);
        let from = as_of - 30 * DAY;
        let any = codes.device.is_some() || codes.ip.is_some() || codes.conductor.is_some();
        let (mut window, _) = if any {
            let expected = (0..total).into_par_iter().filter(|&g| wanted(g)).count();
            pass.txns(&wanted, &|r| r.ts > from && r.ts <= as_of, expected)?
        } else {
            (pass.cut(Vec::new(), &[]), Vec::new())
        };
        window.ip_names.clone_from(&codes.ip_names);
        graph::identifiers(&window, &mut features, &holder_of_account, n_holders, cfg);
    }
    timings.graph = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let mut ids: Vec<&str> = codes.entities.iter().map(String::as_str).collect();
    let mut kinds: Vec<EntityKind> = pass
        .kind_of
        .iter()
        .map(|k| EntityKind::from_u8(k.load(std::sync::atomic::Ordering::Relaxed)))
        .collect();
    if let Some(c) = &codes.customers {
        let m = c.names.len();
        let mut cf: Rows = Vec::with_capacity(m);
        for q in 0..partitions {
            let range = part(m, partitions, q);
            let inside = |h: u32| h != NONE && range.contains(&(h as usize));
            let touches = |g: usize| inside(c.sender[g]) || inside(c.receiver[g]);
            let expected = (0..total).into_par_iter().filter(|&g| touches(g)).count();
            let (t, _) = pass.txns(&touches, &|_| true, expected)?;
            let sides = |_: &Row, i: usize| {
                let c = t.customers.as_ref().expect("customers subset");
                (c.sender[i], c.receiver[i])
            };
            let k = pass.kernel(&t, m, range.clone(), false, sides, &inside);
            cf.extend(k.features);
            activity.extend(k.activity);
        }
        strongest_of_accounts(&features, &mut cf, &holder_of_account);
        features.extend(cf);
        profile::add_customers(&mut profiles, &mix, &holder_of_account, m);
        ids.extend(c.names.iter().map(String::as_str));
        kinds.extend(std::iter::repeat_n(EntityKind::Customer, m));
    }
    let batch = table(&ids, &kinds, &activity, &mut features)?;
    drop((ids, features, activity));
    // The window keeps what packing a row and naming its parties needs: the other codes go.
    let c = &mut pass.codes;
    c.entities = Vec::new();
    for v in [
        &mut c.city,
        &mut c.region,
        &mut c.location,
        &mut c.merchant,
        &mut c.receiver_name,
        &mut c.conductor,
        &mut c.device,
        &mut c.ip,
    ] {
        *v = None;
    }
    c.ip_names = Vec::new();
    if let Some(cu) = &mut c.customers {
        cu.names = Vec::new();
    }
    pass.party_cat = Vec::new();
    crate::release_freed_memory();
    timings.finish = clock.elapsed().as_secs_f64();
    let features = EntityFeatures {
        batch,
        as_of,
        timings,
        profiles,
        ledger: Ledger::default(),
    };
    Ok((
        features,
        Window {
            pass,
            n_accounts: n,
        },
    ))
}

/// The transactions of the 30 days up to `as_of` of a table [`partitioned_features`] read, to
/// be read again for a [`Ledger`] once it is known whose transactions are wanted.
pub struct Window<'a> {
    pass: Pass<'a>,
    n_accounts: usize,
}

impl Window<'_> {
    /// The ledger of the transactions `from < ts <= as_of` (30 days), cut as
    /// [`Ledger::keep_between`] would leave it; with `touching` (one flag per row of the
    /// feature table: accounts, then customers), only those whose sender, receiver or either's
    /// customer is flagged. Reads the table once.
    pub fn ledger(&self, touching: Option<&[bool]>) -> Result<Ledger> {
        let c = &self.pass.codes;
        let n = self.n_accounts;
        let wanted = |g: usize| {
            let Some(t) = touching else { return true };
            let flagged =
                |e: u32, base: usize| e != NONE && t.get(base + e as usize) == Some(&true);
            flagged(c.sender[g], 0)
                || flagged(c.receiver[g], 0)
                || c.customers
                    .as_ref()
                    .is_some_and(|cu| flagged(cu.sender[g], n) || flagged(cu.receiver[g], n))
        };
        let as_of = self.pass.as_of;
        let from = as_of - 30 * DAY;
        let expected = match touching {
            None => self.pass.in_window,
            Some(_) => 0,
        };
        // What the ledger reads of a row: time, amounts, parties and channel.
        let columns = [col::TS, col::AMOUNT_BASE, col::AMOUNT, col::CHANNEL];
        let (window, global) = self.pass.packed(
            &columns,
            &wanted,
            &|r| r.ts > from && r.ts <= as_of,
            expected,
        )?;
        let Txns {
            rows, customers, ..
        } = window;
        Ok(Ledger::windowed(
            rows,
            customers.map(|c| (c.sender, c.receiver)),
            n,
            &self.pass.starts,
            &global,
        ))
    }

    /// End of the window.
    pub fn as_of(&self) -> i64 {
        self.pass.as_of
    }
}

/// Range `p` of `parts` near-equal ranges of `0..n`.
fn part(n: usize, parts: usize, p: usize) -> Range<usize> {
    p * n / parts..(p + 1) * n / parts
}

/// What every pass over the table shares.
struct Pass<'a> {
    source: &'a dyn BatchSource,
    cfg: &'a FeatureConfig,
    /// First input row of each batch.
    starts: Vec<usize>,
    codes: Codes,
    mcc: MccTable,
    /// Entity kinds, raised as rows are packed (every pass packs every row, so they are
    /// complete after the first).
    kind_of: Vec<AtomicU8>,
    party_cat: Vec<u8>,
    as_of: i64,
    /// Transactions in the 30 days up to `as_of`.
    in_window: usize,
}

impl Pass<'_> {
    /// The rows `wanted(input row)` and then `keep(row)` admit, packed, in input order, as a
    /// [`Txns`] whose per-row columns are cut alike (entity names are left empty: the kernels
    /// do not read them), and the input row of each. Rows `wanted` refuses are not packed;
    /// `expected` (how many are kept) sizes the vectors once.
    fn txns(
        &self,
        wanted: &(impl Fn(usize) -> bool + Sync),
        keep: &(impl Fn(&Row) -> bool + Sync),
        expected: usize,
    ) -> Result<(Txns, Vec<u32>)> {
        self.packed(&prepare::pack_columns(self.cfg), wanted, keep, expected)
    }

    /// [`Pass::txns`] reading only `columns` (at least those a row cannot be packed without).
    fn packed(
        &self,
        columns: &[&str],
        wanted: &(impl Fn(usize) -> bool + Sync),
        keep: &(impl Fn(&Row) -> bool + Sync),
        expected: usize,
    ) -> Result<(Txns, Vec<u32>)> {
        let c = &self.codes;
        let mut rows = Vec::with_capacity(expected);
        let mut global: Vec<u32> = Vec::with_capacity(expected);
        let mut next = 0usize;
        self.source.scan(columns, &mut |round| {
            let firsts = &self.starts[next..next + round.len()];
            let parts: Vec<(Vec<Row>, Vec<u32>)> = round
                .par_iter()
                .zip(firsts)
                .map(|(b, &start)| {
                    // The wanted rows, asked once each; only they are packed.
                    let select: Vec<u32> = (0..b.num_rows() as u32)
                        .filter(|&i| wanted(start + i as usize))
                        .collect();
                    let mut packed = vec![Row::default(); select.len()];
                    prepare::batch_rows(
                        b,
                        start,
                        self.cfg,
                        &self.mcc,
                        &c.sender,
                        &c.receiver,
                        [&c.city, &c.region, &c.location, &c.merchant],
                        &self.kind_of,
                        Some(&select),
                        &mut packed,
                    )?;
                    let mut kept = (
                        Vec::with_capacity(packed.len()),
                        Vec::with_capacity(packed.len()),
                    );
                    for (r, &i) in packed.into_iter().zip(&select) {
                        if keep(&r) {
                            kept.0.push(r);
                            kept.1.push(start as u32 + i);
                        }
                    }
                    Ok(kept)
                })
                .collect::<Result<_>>()?;
            next += round.len();
            for (r, g) in parts {
                rows.extend(r);
                global.extend(g);
            }
            Ok(())
        })?;
        let t = self.cut(rows, &global);
        Ok((t, global))
    }

    /// `rows`, the packed input rows `global`, as a [`Txns`] whose per-row columns are cut
    /// alike.
    fn cut(&self, rows: Vec<Row>, global: &[u32]) -> Txns {
        let c = &self.codes;
        let cut = |v: &Option<Vec<u32>>| {
            v.as_ref()
                .map(|v| global.iter().map(|&g| v[g as usize]).collect())
        };
        let pick = |v: &[u32]| global.iter().map(|&g| v[g as usize]).collect();
        Txns {
            rows,
            entities: Vec::new(),
            kinds: Vec::new(),
            customers: c.customers.as_ref().map(|cu| Customers {
                names: Vec::new(),
                sender: pick(&cu.sender),
                receiver: pick(&cu.receiver),
            }),
            conductor: cut(&c.conductor),
            receiver_name: cut(&c.receiver_name),
            device: cut(&c.device),
            ip: cut(&c.ip),
            ip_names: Vec::new(),
            party_cat: self.party_cat.clone(),
            region_names: Vec::new(),
            as_of: self.as_of,
        }
    }

    /// The kernel over the entities `entities` (of `n` in their code space) whose rows `t`
    /// holds; `sides(row, i)` gives row `i`'s two entity codes, of which only those `inside`
    /// admits get a leg.
    fn kernel(
        &self,
        t: &Txns,
        n: usize,
        entities: Range<usize>,
        graph: bool,
        sides: impl Fn(&Row, usize) -> (u32, u32) + Sync,
        inside: &(dyn Fn(u32) -> bool + Sync),
    ) -> Kernel {
        let order = index::time_order(&t.rows);
        let only = |e: u32| if inside(e) { e } else { NONE };
        let legs = Legs::build(&t.rows, order.as_deref(), n, |i| {
            let (s, r) = sides(&t.rows[i], i);
            (only(s), only(r))
        });
        let cust = t.customers.as_ref();
        let cx = Ctx {
            t,
            cfg: self.cfg,
            sender_customer: cust.map(|c| c.sender.as_slice()),
            receiver_customer: cust.map(|c| c.receiver.as_slice()),
        };
        run_kernel(&cx, &legs, entities, graph)
    }
}
