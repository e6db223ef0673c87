//! From canonical `transactions` batches to the compact rows the kernels scan.

use std::sync::atomic::{AtomicU8, Ordering};

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, Float64Array, RecordBatch};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{TimestampMicrosecondType, UInt8Type};
use rayon::prelude::*;
use redflag_schema::columns as col;
use redflag_schema::{CASH_PARTY, CanonicalEnum, Channel, PartyKind, Status, Text};

use crate::config::{FeatureConfig, MccTable, mcc_bit};
use crate::intern::{Interned, NONE, intern};
use crate::{Error, Result};

/// Row flags.
pub(crate) mod flag {
    pub const COMPLETED: u8 = 1;
    pub const ROUND: u8 = 1 << 1;
    pub const PAYROLL: u8 = 1 << 2;
    pub const AD_SITE_NAME: u8 = 1 << 3;
    pub const RENTAL_NAME: u8 = 1 << 4;
    pub const CORRIDOR: u8 = 1 << 5;
    pub const HAS_OFFSET: u8 = 1 << 6;
}

/// One transaction, reduced to what the kernels read (48 bytes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Row {
    pub ts: i64,
    /// `amount_base`.
    pub amount: f64,
    /// Account-level entity codes ([`NONE`] for cash).
    pub sender: u32,
    pub receiver: u32,
    /// Interned `geo_city`, `geo_region`, `location_id` ([`NONE`] when missing).
    pub city: u32,
    pub region: u32,
    pub location: u32,
    /// Interned `merchant_id` (else `merchant_name`), else the receiver's code with the top bit set.
    pub merchant: u32,
    pub mcc_flags: u16,
    /// Minute of the local day, 0..1440.
    pub local_min: u16,
    pub channel: u8,
    pub flags: u8,
    /// Sustenance category of the MCC, 1-based; 0 none.
    pub sustenance: u8,
}

impl Row {
    pub fn completed(&self) -> bool {
        self.flags & flag::COMPLETED != 0
    }
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    pub fn mcc(&self, bit: u16) -> bool {
        self.mcc_flags & bit != 0
    }
    pub fn channel(&self) -> Channel {
        Channel::ALL[self.channel as usize]
    }
    pub fn is_cash(&self) -> bool {
        self.channel().is_cash()
    }
    /// Local 22:00-06:00.
    pub fn is_night(&self) -> bool {
        !(360..1320).contains(&self.local_min)
    }
    /// Local business hours 09:00-21:00.
    pub fn in_business_hours(&self) -> bool {
        (540..1260).contains(&self.local_min)
    }
}

/// Kind of an account-level entity, in order of precedence when sides disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum EntityKind {
    /// A bank or card account.
    Account = 1,
    /// A party outside the reporting institution.
    External = 2,
    /// A merchant.
    Merchant = 3,
    /// A crypto wallet.
    Wallet = 4,
    /// A KYC customer (the union of their accounts).
    Customer = 5,
}

impl EntityKind {
    /// The kind's name in `entity_features.entity_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Account => "account",
            EntityKind::External => "external",
            EntityKind::Merchant => "merchant",
            EntityKind::Wallet => "wallet",
            EntityKind::Customer => "customer",
        }
    }

    pub(crate) fn from_u8(v: u8) -> EntityKind {
        match v {
            2 => EntityKind::External,
            3 => EntityKind::Merchant,
            4 => EntityKind::Wallet,
            5 => EntityKind::Customer,
            _ => EntityKind::Account,
        }
    }
}

/// The prepared input of one feature pass.
pub(crate) struct Txns {
    pub rows: Vec<Row>,
    /// Account-level entity ids (sorted) and kinds.
    pub entities: Vec<String>,
    pub kinds: Vec<EntityKind>,
    /// Customer ids (sorted) and each row's sender/receiver customer code, when supplied.
    pub customers: Option<Customers>,
    /// Conductor code per row (same code space as `customers` when both exist).
    pub conductor: Option<Vec<u32>>,
    /// Receiver name code per row.
    pub receiver_name: Option<Vec<u32>>,
    /// Device and IP codes per row (one code space), and the IP texts for /24 prefixes.
    pub device: Option<Vec<u32>>,
    pub ip: Option<Vec<u32>>,
    pub ip_names: Vec<String>,
    /// Reference-list category of each account-level entity (0: none, else a
    /// `PartyCategory` discriminant).
    pub party_cat: Vec<u8>,
    /// Names of the interned `geo_region` codes.
    pub region_names: Vec<String>,
    /// End of every window.
    pub as_of: i64,
}

pub(crate) struct Customers {
    pub names: Vec<String>,
    pub sender: Vec<u32>,
    pub receiver: Vec<u32>,
}

fn strings<'a>(batches: &'a [RecordBatch], name: &str) -> Option<Vec<Text<'a>>> {
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        out.push(Text::of(b.column_by_name(name)?.as_ref())?);
    }
    Some(out)
}

pub(crate) fn column<'a>(b: &'a RecordBatch, name: &'static str) -> Result<&'a ArrayRef> {
    b.column_by_name(name).ok_or(Error::MissingColumn(name))
}

fn dict_keys(a: Option<&ArrayRef>) -> Option<&DictionaryArray<UInt8Type>> {
    a.and_then(|a| a.as_dictionary_opt::<UInt8Type>())
}

/// Whether the batches hold any non-null value of `name`.
fn any_value(batches: &[RecordBatch], name: &str) -> bool {
    batches.iter().any(|b| {
        b.column_by_name(name)
            .is_some_and(|c| c.null_count() < c.len())
    })
}

/// Lets go of the `names` columns of every batch, except those in `keep`. Columns the batches
/// do not have are skipped.
pub(crate) fn release(batches: &mut [RecordBatch], names: &[&str], keep: &[&str]) {
    for b in batches {
        for name in names.iter().filter(|n| !keep.contains(n)) {
            if let Ok(i) = b.schema_ref().index_of(name) {
                b.remove_column(i);
            }
        }
    }
}

/// Lets go of every column not in `keep`.
fn release_all_but(batches: &mut [RecordBatch], keep: &[&str]) {
    let Some(first) = batches.first() else {
        return;
    };
    let schema = first.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    release(batches, &names, keep);
}

/// The columns the pass cannot do without.
pub(crate) const REQUIRED: &[&str] = &[
    col::TS,
    col::SENDER_ID,
    col::RECEIVER_ID,
    col::AMOUNT,
    col::AMOUNT_BASE,
    col::CHANNEL,
];

/// The columns [`batch_rows`] reads.
pub(crate) fn pack_columns(cfg: &FeatureConfig) -> Vec<&'static str> {
    let mut names = REQUIRED.to_vec();
    names.extend([
        col::STATUS,
        col::SENDER_KIND,
        col::RECEIVER_KIND,
        col::LOCAL_OFFSET_MIN,
        col::MCC,
        col::PURPOSE_CODE,
        col::MERCHANT_NAME,
        col::RECEIVER_COUNTRY,
    ]);
    names.retain(|n| *n != col::SENDER_ID && *n != col::RECEIVER_ID);
    if !cfg.payroll_originators.is_empty() {
        names.push(col::SENDER_ID);
    }
    names
}

/// Every other column the pass reads (here, in the profiles and in the graph pass); columns in
/// neither list are let go before it starts.
const READ: &[&str] = &[
    col::STATUS,
    col::LOCAL_OFFSET_MIN,
    col::SENDER_KIND,
    col::RECEIVER_KIND,
    col::SENDER_CUSTOMER_ID,
    col::RECEIVER_CUSTOMER_ID,
    col::CONDUCTOR_ID,
    col::RECEIVER_NAME,
    col::SENDER_INSTITUTION,
    col::RECEIVER_INSTITUTION,
    col::RECEIVER_COUNTRY,
    col::GEO_CITY,
    col::GEO_REGION,
    col::LOCATION_ID,
    col::MCC,
    col::MERCHANT_ID,
    col::MERCHANT_NAME,
    col::DEVICE_ID,
    col::IP_ADDRESS,
    col::PURPOSE_CODE,
];

/// The codes of every interned column of a transactions table (see [`intern_codes`]).
pub(crate) struct Codes {
    /// Account-level entity ids, sorted, and each row's sender and receiver code.
    pub entities: Vec<String>,
    pub sender: Vec<u32>,
    pub receiver: Vec<u32>,
    pub city: Option<Vec<u32>>,
    pub region: Option<Vec<u32>>,
    pub region_names: Vec<String>,
    pub location: Option<Vec<u32>>,
    /// `merchant_id`, else `merchant_name`.
    pub merchant: Option<Vec<u32>>,
    pub receiver_name: Option<Vec<u32>>,
    pub customers: Option<Customers>,
    pub conductor: Option<Vec<u32>>,
    pub device: Option<Vec<u32>>,
    pub ip: Option<Vec<u32>>,
    pub ip_names: Vec<String>,
}

/// The `names` columns of every batch (those it has), sharing their buffers.
pub(crate) fn project(batches: &[RecordBatch], names: &[&str]) -> Vec<RecordBatch> {
    batches
        .iter()
        .map(|b| {
            let schema = b.schema_ref();
            let keep: Vec<usize> = names
                .iter()
                .filter_map(|n| schema.index_of(n).ok())
                .collect();
            b.project(&keep).unwrap_or_else(|_| b.clone())
        })
        .collect()
}

/// Interns every text column the pass reads as a code. `load(names)` gives every batch of the
/// table, in order, with (at least) the `names` columns it has; it is called once per group of
/// columns sharing a code space, so a caller reading a table from disk holds one group's text
/// at a time.
///
/// With `apart`, the sender and receiver ids are interned one column at a time and the two
/// dictionaries merged (the same codes), so that only one of the two columns is held at once.
pub(crate) fn intern_codes(
    load: &dyn Fn(&[&str]) -> Result<Vec<RecordBatch>>,
    apart: bool,
) -> Result<Codes> {
    let (entities, sender, receiver) = if apart {
        let one = |name: &'static str| -> Result<Interned> {
            let batches = load(&[name])?;
            let text = strings(&batches, name).ok_or(Error::MissingColumn(name))?;
            Ok(intern(&[text], Some(CASH_PARTY)))
        };
        let sender = one(col::SENDER_ID)?;
        let receiver = one(col::RECEIVER_ID)?;
        merge(sender, receiver)
    } else {
        let batches = load(&[col::SENDER_ID, col::RECEIVER_ID])?;
        let parties = intern(
            &[
                strings(&batches, col::SENDER_ID).ok_or(Error::MissingColumn(col::SENDER_ID))?,
                strings(&batches, col::RECEIVER_ID)
                    .ok_or(Error::MissingColumn(col::RECEIVER_ID))?,
            ],
            Some(CASH_PARTY),
        );
        let mut codes = parties.codes.into_iter();
        let sender = codes.next().unwrap_or_default();
        let receiver = codes.next().unwrap_or_default();
        (parties.names, sender, receiver)
    };

    // One column in a code space of its own, with its names; `None` when no batch has a value.
    let single = |name: &str| -> Result<Option<(Vec<u32>, Vec<String>)>> {
        let batches = load(&[name])?;
        if !any_value(&batches, name) {
            return Ok(None);
        }
        Ok(strings(&batches, name).and_then(|a| {
            let got = intern(&[a], None);
            let names = got.names;
            got.codes.into_iter().next().map(|c| (c, names))
        }))
    };
    let optional = |name: &str| -> Result<Option<Vec<u32>>> { Ok(single(name)?.map(|(c, _)| c)) };
    let city = optional(col::GEO_CITY)?;
    let (region, region_names) = match single(col::GEO_REGION)? {
        Some((codes, names)) => (Some(codes), names),
        None => (None, Vec::new()),
    };
    let location = optional(col::LOCATION_ID)?;
    let merchant = match optional(col::MERCHANT_ID)? {
        Some(m) => Some(m),
        None => optional(col::MERCHANT_NAME)?,
    };
    let receiver_name = optional(col::RECEIVER_NAME)?;

    // Customers and conductors share one code space so "conductor is the holder" is a comparison.
    let (customers, conductor) = {
        let names = [
            col::SENDER_CUSTOMER_ID,
            col::RECEIVER_CUSTOMER_ID,
            col::CONDUCTOR_ID,
        ];
        let batches = load(&names)?;
        let present: Vec<bool> = names.iter().map(|n| any_value(&batches, n)).collect();
        if present.iter().any(|p| *p) {
            let cols: Vec<Vec<Text<'_>>> = names
                .iter()
                .zip(&present)
                .filter(|(_, p)| **p)
                .filter_map(|(n, _)| strings(&batches, n))
                .collect();
            let got = intern(&cols, None);
            let mut codes = got.codes.into_iter();
            let mut next = |p: bool| if p { codes.next() } else { None };
            let s = next(present[0]);
            let r = next(present[1]);
            let c = next(present[2]);
            let n = sender.len();
            let customers = (s.is_some() || r.is_some()).then(|| Customers {
                names: got.names,
                sender: s.unwrap_or_else(|| vec![NONE; n]),
                receiver: r.unwrap_or_else(|| vec![NONE; n]),
            });
            (customers, c)
        } else {
            (None, None)
        }
    };

    let (device, ip, ip_names) = {
        let batches = load(&[col::DEVICE_ID, col::IP_ADDRESS])?;
        let has_dev = any_value(&batches, col::DEVICE_ID);
        let has_ip = any_value(&batches, col::IP_ADDRESS);
        let mut cols = Vec::new();
        if has_dev {
            cols.extend(strings(&batches, col::DEVICE_ID));
        }
        if has_ip {
            cols.extend(strings(&batches, col::IP_ADDRESS));
        }
        if cols.is_empty() {
            (None, None, Vec::new())
        } else {
            let got = intern(&cols, None);
            let mut codes = got.codes.into_iter();
            let d = if has_dev { codes.next() } else { None };
            let i = if has_ip { codes.next() } else { None };
            (d, i, got.names)
        }
    };
    Ok(Codes {
        entities,
        sender,
        receiver,
        city,
        region,
        region_names,
        location,
        merchant,
        receiver_name,
        customers,
        conductor,
        device,
        ip,
        ip_names,
    })
}

/// The codes two one-column [`intern`]s give when both columns are interned together: the
/// union of their sorted names, and each column's codes renumbered into it.
fn merge(a: Interned, b: Interned) -> (Vec<String>, Vec<u32>, Vec<u32>) {
    let mut names = Vec::with_capacity(a.names.len().max(b.names.len()));
    let mut to_a = vec![0u32; a.names.len()];
    let mut to_b = vec![0u32; b.names.len()];
    let (mut a_names, mut b_names) = (
        a.names.into_iter().peekable(),
        b.names.into_iter().peekable(),
    );
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        let order = match (a_names.peek(), b_names.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
        let code = names.len() as u32;
        match order {
            std::cmp::Ordering::Less => {
                to_a[i] = code;
                i += 1;
                names.extend(a_names.next());
            }
            std::cmp::Ordering::Greater => {
                to_b[j] = code;
                j += 1;
                names.extend(b_names.next());
            }
            std::cmp::Ordering::Equal => {
                to_a[i] = code;
                to_b[j] = code;
                i += 1;
                j += 1;
                names.extend(a_names.next());
                b_names.next();
            }
        }
    }
    let renumber = |codes: Vec<Vec<u32>>, to: &[u32]| -> Vec<u32> {
        let mut codes = codes.into_iter().next().unwrap_or_default();
        codes.par_iter_mut().for_each(|c| {
            if *c != NONE {
                *c = to[*c as usize];
            }
        });
        codes
    };
    let sender = renumber(a.codes, &to_a);
    let receiver = renumber(b.codes, &to_b);
    (names, sender, receiver)
}

/// Reference-list category of each account-level entity (0: none).
pub(crate) fn party_categories(entities: &[String], cfg: &FeatureConfig) -> Vec<u8> {
    let mut party_cat = vec![0u8; entities.len()];
    for (id, cat) in &cfg.party_categories {
        if let Ok(e) = entities.binary_search(id) {
            party_cat[e] = *cat as u8;
        }
    }
    party_cat
}

/// Packs the batches into rows. A column is let go (unless in `keep`) once it has been read:
/// the interned texts before the rows are allocated, the rest after.
pub(crate) fn prepare(
    batches: &mut [RecordBatch],
    cfg: &FeatureConfig,
    keep: &[&str],
) -> Result<Txns> {
    for b in batches.iter() {
        for name in REQUIRED {
            column(b, name)?;
        }
    }
    release_all_but(batches, &[REQUIRED, READ, keep].concat());
    crate::release_freed_memory();
    let Codes {
        entities,
        sender,
        receiver,
        city,
        region,
        region_names,
        location,
        merchant,
        receiver_name,
        customers,
        conductor,
        device,
        ip,
        ip_names,
    } = intern_codes(&|names| Ok(project(batches, names)), false)?;

    // Interned: only the codes are read from here on, except the texts `batch_rows` tests.
    let mut interned = vec![
        col::RECEIVER_ID,
        col::GEO_CITY,
        col::GEO_REGION,
        col::LOCATION_ID,
        col::MERCHANT_ID,
        col::RECEIVER_NAME,
        col::SENDER_CUSTOMER_ID,
        col::RECEIVER_CUSTOMER_ID,
        col::CONDUCTOR_ID,
        col::DEVICE_ID,
        col::IP_ADDRESS,
    ];
    if cfg.payroll_originators.is_empty() {
        interned.push(col::SENDER_ID);
    }
    release(batches, &interned, keep);
    crate::release_freed_memory();

    let mcc = MccTable::new(&cfg.mcc);
    let n_entities = entities.len();
    let kind_of: Vec<AtomicU8> = (0..n_entities).map(|_| AtomicU8::new(0)).collect();
    let mut starts = Vec::with_capacity(batches.len());
    let mut total = 0usize;
    for b in batches.iter() {
        starts.push(total);
        total += b.num_rows();
    }
    // One allocation, each batch filling its own part in place (no per-batch vectors to copy).
    let mut rows: Vec<Row> = (0..total).into_par_iter().map(|_| Row::default()).collect();
    let mut parts = Vec::with_capacity(batches.len());
    let mut rest = rows.as_mut_slice();
    for b in batches.iter() {
        let (head, tail) = rest.split_at_mut(b.num_rows());
        parts.push(head);
        rest = tail;
    }
    batches
        .par_iter()
        .zip(starts.par_iter())
        .zip(parts.into_par_iter())
        .try_for_each(|((b, &start), part)| {
            batch_rows(
                b,
                start,
                cfg,
                &mcc,
                &sender,
                &receiver,
                [&city, &region, &location, &merchant],
                &kind_of,
                None,
                part,
            )
        })?;
    release_all_but(batches, keep);
    let as_of = cfg
        .as_of
        .unwrap_or_else(|| rows.iter().map(|r| r.ts).max().unwrap_or(0));
    let party_cat = party_categories(&entities, cfg);
    let kinds = kind_of
        .into_iter()
        .map(|k| EntityKind::from_u8(k.into_inner()))
        .collect();
    Ok(Txns {
        rows,
        entities,
        kinds,
        customers,
        conductor,
        receiver_name,
        device,
        ip,
        ip_names,
        party_cat,
        region_names,
        as_of,
    })
}

/// Packs batch `b` (input rows from `start`) into `out`: every row, or with `select` only
/// those rows of the batch (ascending), `out[k]` being row `select[k]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_rows(
    b: &RecordBatch,
    start: usize,
    cfg: &FeatureConfig,
    mcc_table: &MccTable,
    sender: &[u32],
    receiver: &[u32],
    [city, region, location, merchant]: [&Option<Vec<u32>>; 4],
    kind_of: &[AtomicU8],
    select: Option<&[u32]>,
    out: &mut [Row],
) -> Result<()> {
    let n = select.map_or(b.num_rows(), <[u32]>::len);
    let ts = column(b, col::TS)?
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or(Error::ColumnType(col::TS, "timestamp(us, UTC)"))?;
    let amount_base = float(column(b, col::AMOUNT_BASE)?, col::AMOUNT_BASE)?;
    let amount = float(column(b, col::AMOUNT)?, col::AMOUNT)?;
    let channel = dict_keys(Some(column(b, col::CHANNEL)?))
        .ok_or(Error::ColumnType(col::CHANNEL, "dictionary(uint8, utf8)"))?;
    let status = dict_keys(b.column_by_name(col::STATUS));
    let sender_kind = dict_keys(b.column_by_name(col::SENDER_KIND));
    let receiver_kind = dict_keys(b.column_by_name(col::RECEIVER_KIND));
    let offset = b
        .column_by_name(col::LOCAL_OFFSET_MIN)
        .and_then(|a| a.as_primitive_opt::<arrow::datatypes::Int16Type>());
    let mcc = b
        .column_by_name(col::MCC)
        .and_then(|a| a.as_primitive_opt::<arrow::datatypes::UInt16Type>());
    let text = |name: &str| b.column_by_name(name).and_then(|a| Text::of(a.as_ref()));
    let sender_ids = text(col::SENDER_ID);
    let get = |v: &Option<Vec<u32>>, i: usize| v.as_ref().map_or(NONE, |v| v[start + i]);
    let lower_contains = |text: &str, needles: &[String]| {
        !needles.is_empty() && {
            let t = text.to_ascii_lowercase();
            needles.iter().any(|n| t.contains(n.as_str()))
        }
    };
    // Tests of text columns, once per distinct value.
    let payroll_code = text_test(text(col::PURPOSE_CODE), |p| {
        cfg.payroll_purpose_codes.contains(p)
    });
    let merchant_name = text(col::MERCHANT_NAME);
    let ad_site = text_test(merchant_name, |m| lower_contains(m, &cfg.ad_site_merchants));
    let rental = text_test(merchant_name, |m| {
        lower_contains(m, &cfg.short_term_rental_merchants)
    });
    let corridor = text_test(text(col::RECEIVER_COUNTRY), |c| cfg.corridors.contains(c));

    for (k, slot) in out.iter_mut().enumerate().take(n) {
        let i = select.map_or(k, |s| s[k] as usize);
        let ch_key = channel.keys().value(i);
        let ch = Channel::ALL
            .get(ch_key as usize)
            .copied()
            .ok_or(Error::ColumnType(col::CHANNEL, "a canonical channel key"))?;
        let s = sender[start + i];
        let r = receiver[start + i];
        let kind = |k: Option<&DictionaryArray<UInt8Type>>| -> u8 {
            let party = k.filter(|k| k.is_valid(i)).map(|k| k.keys().value(i));
            match party.and_then(|p| PartyKind::ALL.get(p as usize)) {
                Some(PartyKind::Wallet) => EntityKind::Wallet as u8,
                Some(PartyKind::Merchant) => EntityKind::Merchant as u8,
                Some(PartyKind::External) => EntityKind::External as u8,
                Some(_) => EntityKind::Account as u8,
                None if ch == Channel::CryptoTransfer => EntityKind::Wallet as u8,
                None => EntityKind::Account as u8,
            }
        };
        // A plain load first: the kind rarely changes, and a read-modify-write on a shared
        // line costs far more than a read.
        let raise = |e: u32, k: u8| {
            if e != NONE && kind_of[e as usize].load(Ordering::Relaxed) < k {
                kind_of[e as usize].fetch_max(k, Ordering::Relaxed);
            }
        };
        raise(s, kind(sender_kind));
        raise(r, kind(receiver_kind));

        let t = ts.value(i);
        let mut flags = 0u8;
        let completed = status
            .filter(|s| s.is_valid(i))
            .is_none_or(|s| s.keys().value(i) == Status::Completed.key());
        if completed {
            flags |= flag::COMPLETED;
        }
        let a = amount.value(i);
        if a >= 100.0 && (a / 100.0).fract() == 0.0 {
            flags |= flag::ROUND;
        }
        let off = match offset.filter(|o| o.is_valid(i)) {
            Some(o) => {
                flags |= flag::HAS_OFFSET;
                o.value(i)
            }
            None => cfg.default_offset_min,
        };
        let local_sec = (t.div_euclid(1_000_000) + i64::from(off) * 60).rem_euclid(86_400);
        let payroll = payroll_code.holds(i)
            || (!cfg.payroll_originators.is_empty()
                && sender_ids.is_some_and(|a| cfg.payroll_originators.contains(a.value(i))));
        if payroll {
            flags |= flag::PAYROLL;
        }
        if ad_site.holds(i) {
            flags |= flag::AD_SITE_NAME;
        }
        if rental.holds(i) {
            flags |= flag::RENTAL_NAME;
        }
        if corridor.holds(i) {
            flags |= flag::CORRIDOR;
        }
        let code = mcc.filter(|m| m.is_valid(i)).map(|m| m.value(i) as usize);
        let (mcc_flags, sustenance) = code
            .filter(|c| *c < 10_000)
            .map_or((0, 0), |c| (mcc_table.flags[c], mcc_table.sustenance[c]));
        let m = get(merchant, i);
        *slot = Row {
            ts: t,
            amount: amount_base.value(i),
            sender: s,
            receiver: r,
            city: get(city, i),
            region: get(region, i),
            location: get(location, i),
            merchant: if m != NONE { m } else { r | (1 << 31) },
            mcc_flags,
            local_min: (local_sec / 60) as u16,
            channel: ch_key,
            flags,
            sustenance: if mcc_flags & mcc_bit::LODGING != 0 && sustenance == 0 {
                7
            } else {
                sustenance
            },
        };
    }
    Ok(())
}

/// A yes/no test of a text column's rows (no for nulls and absent columns).
enum TextTest<'a, F> {
    Absent,
    /// Tested row by row.
    Rows(Text<'a>, F),
    /// A dictionary, tested once per value: its keys and validity, and the verdict by key.
    Keys(&'a [i32], Option<&'a NullBuffer>, Vec<bool>),
}

fn text_test<'a, F: Fn(&str) -> bool>(t: Option<Text<'a>>, test: F) -> TextTest<'a, F> {
    match t {
        None => TextTest::Absent,
        Some(Text::Dict {
            keys,
            nulls,
            values,
        }) => TextTest::Keys(
            keys,
            nulls,
            (0..values.len()).map(|v| test(values.value(v))).collect(),
        ),
        Some(t) => TextTest::Rows(t, test),
    }
}

impl<F: Fn(&str) -> bool> TextTest<'_, F> {
    #[inline]
    fn holds(&self, i: usize) -> bool {
        match self {
            TextTest::Absent => false,
            TextTest::Rows(t, test) => t.get(i).is_some_and(test),
            TextTest::Keys(keys, nulls, verdicts) => {
                nulls.is_none_or(|n| n.is_valid(i)) && verdicts[keys[i] as usize]
            }
        }
    }
}

fn float<'a>(a: &'a ArrayRef, name: &'static str) -> Result<&'a Float64Array> {
    a.as_primitive_opt()
        .ok_or(Error::ColumnType(name, "float64"))
}
