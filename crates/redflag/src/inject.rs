//! Recall without labels: plant synthetic trafficking cases into the user's own data, run the
//! configured detection, and count how many planted entities reach the alert queue.
//!
//! [`inject`] reads the inputs, generates `cases` cases with `redflag-synth` over the data's own
//! time range (the typologies cycling through the chosen ones), and keeps the case members'
//! transactions: every row a member account sends or receives, in-case payments and the
//! members' ordinary lives alike. Members become new entities (`INJ-` ids). The counterparties
//! of their ordinary lives that other people deal with too are wired to real entities of your
//! data, drawn by the seed: accounts and external parties to real ones of the same kind, the
//! shops and hotels of their card spend to real merchants of the same MCC. Parties only the cases
//! deal with (a sham employer, a recruiter) stay new entities, as they would be in real data;
//! merchants that reference lists name (ad sites, short-term rentals) and crypto services keep
//! their synthetic ids, so that the lists still apply. Planted amounts are in the base currency,
//! at the generator's (US) scale.
//!
//! The run then uses the engine exactly as configured (rules, model, budget, reference lists),
//! and the report gives, per typology and per role, the share of planted member accounts in the
//! alert queue: an estimate of what the configuration misses on this data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema, TimestampMicrosecondType};
use redflag_io::{DiscardRejects, IngestOptions, Ingested, MappingProfile, RateTable, ingest};
use redflag_schema::Text;
use redflag_schema::columns as col;
use redflag_synth::{SynthParams, Typology, mix};
use serde::Serialize;

use crate::engine::{AlertSet, Engine};
use crate::{Error, Result};

/// What to plant.
#[derive(Debug, Clone)]
pub struct InjectParams {
    /// Cases to plant.
    pub cases: u32,
    /// Typologies (empty: all sixteen).
    pub typologies: Vec<Typology>,
    /// Seed of the planting (the generator and the choice of real counterparties).
    pub seed: u64,
}

/// Recall of one group of planted entities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recall {
    /// Typology or role name, or `overall`.
    pub group: String,
    /// Planted member accounts.
    pub planted: usize,
    /// Of which in the alert queue.
    pub alerted: usize,
    /// alerted / planted.
    pub recall: f64,
}

/// One planted member account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planted {
    /// The id in the run's outputs (a pseudonym in a pseudonymous run).
    pub entity_id: String,
    /// The planted id (`INJ-...`).
    pub planted_id: String,
    /// Its typology.
    pub typology: String,
    /// `controller`, `victim` or `front_business`.
    pub role: String,
    /// Its rank in the alert queue, when alerted.
    pub alert_rank: Option<usize>,
}

/// The result of an injection run.
#[derive(Debug, Clone, Serialize)]
pub struct InjectReport {
    /// Cases planted.
    pub cases: u32,
    /// Seed.
    pub seed: u64,
    /// The queue's budget (null: every alert).
    pub budget: Option<usize>,
    /// Real rows, planted rows.
    pub real_rows: usize,
    /// Planted rows.
    pub planted_rows: usize,
    /// Real entities the planted rows were wired to.
    pub real_counterparties: usize,
    /// Alerts in the queue.
    pub alerts: usize,
    /// Overall, then per role, then per typology.
    pub recall: Vec<Recall>,
    /// Every planted member account.
    pub planted: Vec<Planted>,
}

fn ts_range(batches: &[RecordBatch]) -> Option<(i64, i64)> {
    let mut range: Option<(i64, i64)> = None;
    for b in batches {
        let ts = b
            .column_by_name(col::TS)?
            .as_primitive_opt::<TimestampMicrosecondType>()?;
        for v in ts.iter().flatten() {
            range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
    }
    range
}

/// The text of a string or dictionary column at `i`.
fn value<'a>(b: &'a RecordBatch, name: &str, i: usize) -> Option<&'a str> {
    Text::of(b.column_by_name(name)?.as_ref())?.get(i)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Real account and external ids (sorted), the pools counterparties are drawn from.
fn pools(batches: &[RecordBatch]) -> BTreeMap<&'static str, Vec<String>> {
    let mut seen: BTreeMap<&'static str, BTreeSet<&str>> = BTreeMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            for (id, kind) in [
                (col::SENDER_ID, col::SENDER_KIND),
                (col::RECEIVER_ID, col::RECEIVER_KIND),
            ] {
                let k = match value(b, kind, i).unwrap_or("account") {
                    "account" => "account",
                    "external" => "external",
                    _ => continue,
                };
                if let Some(v) = value(b, id, i) {
                    seen.entry(k).or_default().insert(v);
                }
            }
        }
    }
    seen.into_iter()
        .map(|(k, v)| (k, v.into_iter().map(str::to_owned).collect()))
        .collect()
}

/// A real merchant as one of its rows shows it: receiver id, merchant id, merchant name.
type RealMerchant = [Option<String>; 3];

/// Real merchants per MCC (one entry per receiver id, sorted), for wiring planted card spend.
fn merchant_pools(batches: &[RecordBatch]) -> BTreeMap<u16, Vec<RealMerchant>> {
    let mut seen: BTreeMap<u16, BTreeMap<&str, RealMerchant>> = BTreeMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            if value(b, col::RECEIVER_KIND, i) != Some("merchant") {
                continue;
            }
            let (Some(mcc), Some(id)) = (mcc(b, i), value(b, col::RECEIVER_ID, i)) else {
                continue;
            };
            seen.entry(mcc).or_default().entry(id).or_insert_with(|| {
                [
                    Some(id.to_owned()),
                    value(b, col::MERCHANT_ID, i).map(str::to_owned),
                    value(b, col::MERCHANT_NAME, i).map(str::to_owned),
                ]
            });
        }
    }
    seen.into_iter()
        .map(|(k, v)| (k, v.into_values().collect()))
        .collect()
}

fn mcc(b: &RecordBatch, i: usize) -> Option<u16> {
    let c = b.column_by_name(col::MCC)?;
    if c.is_null(i) {
        return None;
    }
    arrow::util::display::array_value_to_string(c, i)
        .ok()?
        .parse()
        .ok()
}

/// Makes `batch` fit `schema`: its columns by name, nulls where it has none.
fn conform(batch: &RecordBatch, schema: &Arc<Schema>) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            batch
                .column_by_name(f.name())
                .cloned()
                .unwrap_or_else(|| arrow::array::new_null_array(f.data_type(), batch.num_rows()))
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Output(e.to_string()))
}

/// Plants cases into the engine's inputs and runs the engine on the result.
pub fn inject(engine: &Engine, params: &InjectParams) -> Result<(AlertSet, InjectReport)> {
    if params.cases == 0 {
        return Err(Error::Config("--cases must be at least 1".into()));
    }
    engine.in_memory("inject (it plants cases among the transactions in memory)")?;
    let real = engine.ingest()?;
    let (lo, hi) = ts_range(&real.batches)
        .ok_or_else(|| Error::Input("the inputs hold no accepted transaction".into()))?;
    let day = 86_400_000_000i64;
    let last = chrono::DateTime::from_timestamp_micros(hi)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let span = ((hi - lo) / day + 1).clamp(60, 3_660) as u32;
    let start = last - chrono::Days::new(u64::from(span) - 1);

    // Generate the cases in a scratch directory, then read them like any input.
    let scratch = std::env::temp_dir().join(format!(
        "redflag-inject-{}-{}",
        std::process::id(),
        params.seed
    ));
    let generated = (|| -> Result<(Ingested, Vec<crate::eval::Label>)> {
        SynthParams::new(params.cases * 25 + 100, span)
            .seed(redflag_synth_seed(params.seed))
            .start(start)
            .cases(params.cases)
            .typologies(params.typologies.clone())
            .write(&scratch)
            .map_err(|e| Error::Output(format!("generating cases: {e}")))?;
        let rates = RateTable::from_file(&scratch.join("rates.csv"), "USD")?;
        let opts = IngestOptions::new(MappingProfile::resolve("canonical")?, rates);
        let inputs = [scratch.join("transactions.csv").display().to_string()];
        let got = ingest(&inputs, &opts, &mut DiscardRejects)?;
        let labels = crate::eval::read_labels(&scratch.join("account_labels.csv"))?;
        Ok((got, labels))
    })();
    std::fs::remove_dir_all(&scratch).ok();
    let (synth, labels) = generated?;
    let members: BTreeMap<&str, &crate::eval::Label> = labels
        .iter()
        .filter(|l| l.suspicious)
        .map(|l| (l.id.as_str(), l))
        .collect();

    // Parties of the generated population's ordinary lives (seen in a row without a member):
    // the employers, landlords, relatives and shops everyone deals with. Only these are wired
    // to real entities; a party only cases deal with (a trafficker's sham employer) stays a
    // new entity, as it would be in real data.
    let mut ordinary: BTreeSet<&str> = BTreeSet::new();
    for b in &synth.batches {
        for i in 0..b.num_rows() {
            let ids = [value(b, col::SENDER_ID, i), value(b, col::RECEIVER_ID, i)];
            if ids.iter().flatten().all(|v| !members.contains_key(v)) {
                ordinary.extend(ids.into_iter().flatten());
            }
        }
    }
    // Keep the members' rows; rename members, wire the others to real entities.
    let pools = pools(&real.batches);
    let merchants = merchant_pools(&real.batches);
    let (_, cfg, _) = engine.setup()?;
    let named = |name: Option<&str>| {
        name.is_some_and(|n| {
            let n = n.to_lowercase();
            cfg.ad_site_merchants
                .iter()
                .chain(&cfg.short_term_rental_merchants)
                .any(|m| n.contains(m.as_str()))
        })
    };
    let mut wired: BTreeSet<String> = BTreeSet::new();
    let mut planted_batches = Vec::new();
    for b in &synth.batches {
        let keep: BooleanArray = (0..b.num_rows())
            .map(|i| {
                Some(
                    [col::SENDER_ID, col::RECEIVER_ID]
                        .iter()
                        .any(|c| value(b, c, i).is_some_and(|v| members.contains_key(v))),
                )
            })
            .collect();
        let b = arrow::compute::filter_record_batch(b, &keep)
            .map_err(|e| Error::Output(e.to_string()))?;
        let rename =
            |name: &str, f: &mut dyn FnMut(usize, &str) -> Option<String>| -> Option<ArrayRef> {
                let old = b.column_by_name(name)?;
                Text::of(old.as_ref())?;
                let out: StringArray = (0..b.num_rows())
                    .map(|i| value(&b, name, i).and_then(|v| f(i, v)))
                    .collect();
                // Back to the column's own type (identifiers plain, other text a dictionary).
                arrow::compute::cast(&out, old.data_type()).ok()
            };
        // Card spend at an everyday merchant goes to a real merchant of the same MCC; merchants
        // that reference lists name (ad sites, short-term rentals) stay as generated.
        let shop: Vec<Option<&RealMerchant>> = (0..b.num_rows())
            .map(|i| {
                let v = value(&b, col::RECEIVER_ID, i)?;
                let wire = value(&b, col::RECEIVER_KIND, i) == Some("merchant")
                    && !members.contains_key(v)
                    && ordinary.contains(v)
                    && !cfg.party_categories.contains_key(v)
                    && !named(value(&b, col::MERCHANT_NAME, i));
                let pool = merchants.get(&mcc(&b, i)?).filter(|_| wire)?;
                Some(&pool[(mix(params.seed ^ fnv(v)) % pool.len() as u64) as usize])
            })
            .collect();
        let mut replaced: Vec<(&str, ArrayRef)> = Vec::new();
        for (slot, name) in [(1, col::MERCHANT_ID), (2, col::MERCHANT_NAME)] {
            let mut real_or_own = |i: usize, v: &str| match shop[i] {
                Some(m) => m[slot].clone(),
                None => Some(v.to_owned()),
            };
            if let Some(a) = rename(name, &mut real_or_own) {
                replaced.push((name, a));
            }
        }
        for (id, kind, customer) in [
            (col::SENDER_ID, col::SENDER_KIND, col::SENDER_CUSTOMER_ID),
            (
                col::RECEIVER_ID,
                col::RECEIVER_KIND,
                col::RECEIVER_CUSTOMER_ID,
            ),
        ] {
            let is_member = |i: usize| value(&b, id, i).is_some_and(|v| members.contains_key(v));
            let mut map_id = |i: usize, v: &str| -> Option<String> {
                if members.contains_key(v) {
                    return Some(format!("INJ-{v}"));
                }
                let k = value(&b, kind, i).unwrap_or("account");
                if let (Some(m), true) = (shop[i], id == col::RECEIVER_ID) {
                    let real = m[0].clone().unwrap_or_default();
                    wired.insert(real.clone());
                    return Some(real);
                }
                if k != "account" && k != "external" {
                    // Services, cash, merchants without a real one of their MCC: as generated.
                    return Some(v.to_owned());
                }
                if !ordinary.contains(v) {
                    return Some(format!("INJ-{v}"));
                }
                match pools.get(k).filter(|p| !p.is_empty()) {
                    Some(pool) => {
                        let pick = &pool[(mix(params.seed ^ fnv(v)) % pool.len() as u64) as usize];
                        wired.insert(pick.clone());
                        Some(pick.clone())
                    }
                    None => Some(format!("INJ-{v}")),
                }
            };
            if let Some(a) = rename(id, &mut map_id) {
                replaced.push((id, a));
            }
            // A member's customer is planted too; a wired counterparty's is unknown.
            let mut map_customer = |i: usize, v: &str| is_member(i).then(|| format!("INJ-{v}"));
            if let Some(a) = rename(customer, &mut map_customer) {
                replaced.push((customer, a));
            }
        }
        let mut prefix = |_: usize, v: &str| Some(format!("INJ-{v}"));
        for name in [col::TXN_ID, col::DEVICE_ID, col::CONDUCTOR_ID] {
            if let Some(a) = rename(name, &mut prefix) {
                replaced.push((name, a));
            }
        }
        let mut columns: Vec<ArrayRef> = b.columns().to_vec();
        for (name, a) in replaced {
            if let Ok(i) = b.schema().index_of(name) {
                columns[i] = a;
            }
        }
        planted_batches.push(
            RecordBatch::try_new(b.schema(), columns).map_err(|e| Error::Output(e.to_string()))?,
        );
    }

    // One schema for real and planted rows: the real layout, then the generator's extra columns.
    let mut fields: Vec<Arc<Field>> = real.schema.fields().iter().cloned().collect();
    for f in synth.schema.fields() {
        if real.schema.field_with_name(f.name()).is_err() {
            fields.push(Arc::new(f.as_ref().clone().with_nullable(true)));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let planted_rows: usize = planted_batches.iter().map(RecordBatch::num_rows).sum();
    let mut batches = Vec::with_capacity(real.batches.len() + planted_batches.len());
    for b in real.batches.iter().chain(&planted_batches) {
        batches.push(conform(b, &schema)?);
    }
    let combined = Ingested {
        schema,
        batches,
        report: real.report.clone(),
    };
    // Outputs are written after the manifest records the injection.
    let mut quiet = engine.clone();
    quiet.out_dir = None;
    let mut set = quiet.run_on(&combined)?;

    // Recall over the planted member accounts.
    let rank: BTreeMap<&str, usize> = set
        .alerts
        .iter()
        .filter(|a| a.entity_kind != "customer")
        .map(|a| (a.entity_id.as_str(), a.rank))
        .collect();
    let planted: Vec<Planted> = members
        .values()
        .map(|l| {
            let planted_id = format!("INJ-{}", l.id);
            let entity_id = set.display_id(&planted_id);
            Planted {
                alert_rank: rank.get(entity_id.as_str()).copied(),
                entity_id,
                planted_id,
                typology: l.typology.clone(),
                role: l.role.clone(),
            }
        })
        .collect();
    let group = |name: &str, keep: &dyn Fn(&Planted) -> bool| {
        let of: Vec<&Planted> = planted.iter().filter(|p| keep(p)).collect();
        let alerted = of.iter().filter(|p| p.alert_rank.is_some()).count();
        Recall {
            group: name.to_owned(),
            planted: of.len(),
            alerted,
            recall: if of.is_empty() {
                0.0
            } else {
                alerted as f64 / of.len() as f64
            },
        }
    };
    let mut recall = vec![group("overall", &|_| true)];
    let roles: BTreeSet<&str> = planted.iter().map(|p| p.role.as_str()).collect();
    for r in roles {
        recall.push(group(&format!("role {r}"), &|p| p.role == r));
    }
    let typologies: BTreeSet<&str> = planted.iter().map(|p| p.typology.as_str()).collect();
    for t in typologies {
        recall.push(group(&format!("typology {t}"), &|p| p.typology == t));
    }
    set.manifest.config.insert(
        "injected".into(),
        format!("{} cases, seed {}", params.cases, params.seed),
    );
    let report = InjectReport {
        cases: params.cases,
        seed: params.seed,
        budget: set
            .manifest
            .config
            .get("budget")
            .and_then(|b| b.parse().ok()),
        real_rows: real.num_rows(),
        planted_rows,
        real_counterparties: wired.len(),
        alerts: set.alerts.len(),
        recall,
        planted,
    };
    if let Some(dir) = &engine.out_dir {
        set.write(dir)?;
        report.write(dir)?;
    }
    Ok((set, report))
}

/// The generator's seed for an injection seed (kept apart from the forest's).
fn redflag_synth_seed(seed: u64) -> u64 {
    mix(seed ^ 0x1A1E_C7ED)
}

impl InjectReport {
    /// Writes `inject.json` (this report) and `inject.csv` (one row per planted member account)
    /// into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Output(e.to_string()))?;
        crate::output::write_file(&dir.join("inject.json"), json.as_bytes())?;
        let mut csv = String::from("entity_id,planted_id,typology,role,alert_rank\n");
        for p in &self.planted {
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                p.entity_id,
                p.planted_id,
                p.typology,
                p.role,
                p.alert_rank.map(|r| r.to_string()).unwrap_or_default()
            ));
        }
        crate::output::write_file(&dir.join("inject.csv"), csv.as_bytes())
    }
}
