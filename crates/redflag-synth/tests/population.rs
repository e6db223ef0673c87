//! A generated population, read back from its files: determinism, the behaviour of every
//! planted typology as `docs/INDICATORS.md` describes it, and benign look-alikes per family.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use redflag_synth::{Format, Persona, SynthParams, Typology};

const H: i64 = 3600;
const D: i64 = 86_400;

/// One row of `transactions.csv`, the columns the checks need.
#[derive(Debug, Clone)]
struct Row {
    ts: i64,
    sender: String,
    receiver: String,
    amount: f64,
    channel: String,
    status: String,
    offset: i64,
    city: String,
    mcc: String,
    merchant: String,
    device: String,
    purpose: String,
    conductor: String,
    receiver_name: String,
}

impl Row {
    fn local_hour(&self) -> i64 {
        (self.ts + self.offset * 60).rem_euclid(D) / H
    }
    fn night(&self) -> bool {
        let h = self.local_hour();
        !(6..22).contains(&h)
    }
    fn cash_in(&self) -> bool {
        matches!(self.channel.as_str(), "cash_deposit" | "atm_deposit")
    }
    fn cash_out(&self) -> bool {
        matches!(self.channel.as_str(), "cash_withdrawal" | "atm_withdrawal")
    }
    fn transfer(&self) -> bool {
        matches!(
            self.channel.as_str(),
            "p2p_app" | "ach" | "wire_domestic" | "wire_intl" | "remittance_msb"
        )
    }
}

#[derive(Debug, Clone)]
struct Label {
    entity: String,
    suspicious: bool,
    typology: String,
    role: String,
    case: String,
}

struct Population {
    rows: Vec<Row>,
    accounts: Vec<Label>,
    attributed: BTreeMap<String, String>,
    end: i64,
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("readable");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{path:?}: {l}");
            header
                .iter()
                .cloned()
                .zip(f.iter().map(|s| (*s).to_owned()))
                .collect()
        })
        .collect()
}

fn ts(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .timestamp()
}

fn load(dir: &Path) -> Population {
    let rows: Vec<Row> = read_csv(&dir.join("transactions.csv"))
        .into_iter()
        .map(|r| Row {
            ts: ts(&r["ts"]),
            sender: r["sender_id"].clone(),
            receiver: r["receiver_id"].clone(),
            amount: r["amount"].parse().expect("amount"),
            channel: r["channel"].clone(),
            status: r["status"].clone(),
            offset: r["local_offset_min"].parse().unwrap_or(0),
            city: r["geo_city"].clone(),
            mcc: r["mcc"].clone(),
            merchant: r["merchant_name"].clone(),
            device: r["device_id"].clone(),
            purpose: r["purpose_code"].clone(),
            conductor: r["conductor_id"].clone(),
            receiver_name: r["receiver_name"].clone(),
        })
        .collect();
    let accounts = read_csv(&dir.join("account_labels.csv"))
        .into_iter()
        .map(|r| Label {
            entity: r["account"].clone(),
            suspicious: r["is_suspicious"] == "1",
            typology: r["typology"].clone(),
            role: r["role"].clone(),
            case: r["case_id"].clone(),
        })
        .collect();
    let attributed = read_csv(&dir.join("reference/vasp_attribution.csv"))
        .into_iter()
        .map(|r| (r["address_or_cluster"].clone(), r["category"].clone()))
        .collect();
    let end = rows.iter().map(|r| r.ts).max().unwrap_or(0);
    Population {
        rows,
        accounts,
        attributed,
        end,
    }
}

/// The shared population: 600 customers, 120 days, 32 cases (two per typology).
fn population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        SynthParams::new(600, 120)
            .seed(11)
            .cases(32)
            .write(dir.path())
            .expect("generates");
        load(dir.path())
    })
}

impl Population {
    /// Members of the first (clear) case of a typology: role -> account ids.
    fn case(&self, t: Typology) -> BTreeMap<String, Vec<String>> {
        let first = self
            .accounts
            .iter()
            .find(|l| l.typology == t.name())
            .map(|l| l.case.clone())
            .expect("a case of every typology");
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in self.accounts.iter().filter(|l| l.case == first) {
            if l.entity.starts_with("AC") {
                out.entry(l.role.clone())
                    .or_default()
                    .push(l.entity.clone());
            }
        }
        out
    }

    fn of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows
            .iter()
            .filter(move |r| (r.sender == id || r.receiver == id) && r.status == "completed")
    }

    fn recent<'a>(&'a self, id: &'a str, days: i64) -> Vec<&'a Row> {
        let from = self.end - days * D;
        self.of(id).filter(|r| r.ts > from).collect()
    }

    /// Most distinct counterparties (`incoming` side) of transfers inside any 7-day span.
    fn fan(&self, id: &str, incoming: bool) -> usize {
        let legs: Vec<(i64, &str)> = self
            .of(id)
            .filter(|r| r.transfer())
            .filter_map(|r| match (incoming, r.receiver == id) {
                (true, true) => Some((r.ts, r.sender.as_str())),
                (false, false) => Some((r.ts, r.receiver.as_str())),
                _ => None,
            })
            .collect();
        legs.iter()
            .map(|(t, _)| {
                legs.iter()
                    .filter(|(u, _)| *u <= *t && t - u <= 7 * D)
                    .map(|(_, c)| *c)
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .max()
            .unwrap_or(0)
    }

    /// Value `id` sent on within `hours` of receiving `amount` at `at` (transfers and cash out).
    fn forwarded(&self, id: &str, at: i64, hours: i64) -> f64 {
        self.of(id)
            .filter(|r| r.sender == id && r.ts >= at && r.ts <= at + hours * H)
            .filter(|r| r.transfer() || r.cash_out())
            .map(|r| r.amount)
            .sum()
    }

    fn transfers(&self, from: &str, to: &str) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.sender == from && r.receiver == to && r.transfer())
            .collect()
    }
}

fn one<'a>(case: &'a BTreeMap<String, Vec<String>>, role: &str) -> &'a str {
    &case[role][0]
}

#[test]
fn same_arguments_give_identical_files_whatever_the_thread_count() {
    let make = |threads: usize, seed: u64, format: Format| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            SynthParams::new(400, 75)
                .seed(seed)
                .format(format)
                .write(dir.path())
        })
        .expect("generates");
        dir
    };
    let files = [
        "transactions.csv",
        "rates.csv",
        "account_labels.csv",
        "customer_labels.csv",
        "transaction_labels.csv",
        "reference/vasp_attribution.csv",
        "summary.json",
    ];
    let (a, b, c) = (
        make(1, 5, Format::Csv),
        make(2, 5, Format::Csv),
        make(2, 6, Format::Csv),
    );
    for f in files {
        let x = std::fs::read(a.path().join(f)).expect("file");
        assert!(!x.is_empty(), "{f}");
        assert_eq!(x, std::fs::read(b.path().join(f)).expect("file"), "{f}");
    }
    let (x, z) = (
        std::fs::read(a.path().join("transactions.csv")).expect("file"),
        std::fs::read(c.path().join("transactions.csv")).expect("file"),
    );
    assert_ne!(x, z, "another seed gives another population");
    let (p, q) = (make(1, 5, Format::Parquet), make(2, 5, Format::Parquet));
    let f = "transactions.parquet";
    assert_eq!(
        std::fs::read(p.path().join(f)).expect("file"),
        std::fs::read(q.path().join(f)).expect("file")
    );
    // No temporary files are left behind.
    for entry in std::fs::read_dir(a.path()).expect("dir") {
        let name = entry.expect("entry").file_name();
        assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?}");
    }
}

#[test]
fn every_row_is_canonical_and_ids_are_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    SynthParams::new(250, 70)
        .write(dir.path())
        .expect("generates");
    let rows = read_csv(&dir.path().join("transactions.csv"));
    let mut ids = BTreeSet::new();
    for r in &rows {
        assert!(ids.insert(r["txn_id"].clone()), "duplicate {}", r["txn_id"]);
        assert!(r["amount"].parse::<f64>().expect("amount") > 0.0);
        assert!(!r["sender_id"].is_empty() && !r["receiver_id"].is_empty());
        assert!(r["channel"].parse::<redflag_schema::Channel>().is_ok());
        if r["channel"] == "crypto_transfer" {
            assert_eq!(r["txn_id"], format!("{}:0", r["tx_hash"]));
            assert_eq!(r["chain"], "ethereum");
        }
    }
    // Every labelled transaction exists.
    for l in read_csv(&dir.path().join("transaction_labels.csv")) {
        assert!(ids.contains(&l["txn_id"]), "{}", l["txn_id"]);
    }
    // Every currency other than USD has a rate.
    let rated: BTreeSet<String> = read_csv(&dir.path().join("rates.csv"))
        .into_iter()
        .map(|r| r["currency"].clone())
        .collect();
    for r in &rows {
        assert!(
            r["currency"] == "USD" || rated.contains(&r["currency"]),
            "{}",
            r["currency"]
        );
    }
}

#[test]
fn sex_ads_case_shows_ad_fees_short_stays_night_cash_and_a_shared_phone() {
    let p = population();
    let case = p.case(Typology::SexAds);
    let boss = one(&case, "controller");
    let recent = p.recent(boss, 30);
    let ads: Vec<&&Row> = recent
        .iter()
        .filter(|r| r.sender == boss && (r.mcc == "7311" || r.mcc == "7273"))
        .collect();
    assert!(ads.len() >= 4, "SE-1: {} ad payments", ads.len());
    assert!(ads.iter().all(|r| r.amount <= 100.0));
    let weeks: BTreeSet<i64> = ads.iter().map(|r| r.ts / (7 * D)).collect();
    assert!(weeks.len() >= 2);
    let lodging: Vec<&&Row> = recent.iter().filter(|r| r.mcc == "7011").collect();
    let cities: BTreeSet<&str> = lodging.iter().map(|r| r.city.as_str()).collect();
    assert!(
        lodging.len() >= 6 && cities.len() >= 3,
        "SE-2: {} stays in {cities:?}",
        lodging.len()
    );
    let boss_device = p
        .of(boss)
        .find(|r| r.sender == boss && !r.device.is_empty())
        .map(|r| r.device.clone())
        .expect("an online session");
    for v in &case["victim"] {
        let night_cash: Vec<&Row> = p.of(v).filter(|r| r.cash_in() && r.night()).collect();
        let cities: BTreeSet<&str> = night_cash.iter().map(|r| r.city.as_str()).collect();
        assert!(night_cash.len() >= 3 && cities.len() >= 2, "SE-5 {v}");
        let handed: Vec<&Row> = p.transfers(v, boss);
        assert!(!handed.is_empty(), "{v} pays the controller");
        assert!(
            handed.iter().all(|r| r.device == boss_device),
            "from the controller's phone"
        );
    }
}

#[test]
fn funnel_account_takes_cash_in_three_cities_and_pays_out_elsewhere_within_48h() {
    let p = population();
    let case = p.case(Typology::Funnel);
    let acct = one(&case, "controller");
    let deposits: Vec<&Row> = p
        .of(acct)
        .filter(|r| r.cash_in() && !r.conductor.is_empty())
        .collect();
    let cities: BTreeSet<&str> = deposits.iter().map(|r| r.city.as_str()).collect();
    assert!(cities.len() >= 3, "FN-1: deposits in {cities:?}");
    let conductors: BTreeSet<&str> = deposits.iter().map(|r| r.conductor.as_str()).collect();
    assert!(conductors.len() >= 3, "FN-2: {conductors:?}");
    let mut quick = 0;
    for d in &deposits {
        let out = p.of(acct).find(|r| {
            r.sender == acct
                && (r.cash_out() || r.transfer())
                && r.ts >= d.ts
                && r.ts - d.ts <= 48 * H
                && !cities.contains(r.city.as_str())
        });
        quick += usize::from(out.is_some());
    }
    assert!(
        quick * 2 >= deposits.len(),
        "{quick} of {} left elsewhere within 48 h",
        deposits.len()
    );
}

#[test]
fn structuring_case_stays_under_the_threshold_and_backs_off() {
    let p = population();
    let case = p.case(Typology::Structuring);
    let acct = one(&case, "controller");
    let recent = p.recent(acct, 30);
    let near = recent
        .iter()
        .filter(|r| r.cash_in() && (8_000.0..10_000.0).contains(&r.amount))
        .count();
    assert!(near >= 3, "ST-1: {near}");
    let declined: Vec<&Row> = p
        .rows
        .iter()
        .filter(|r| r.receiver == acct && r.status == "declined" && r.amount >= 10_000.0)
        .collect();
    assert!(!declined.is_empty(), "ST-4: a declined large deposit");
    let after = p
        .of(acct)
        .filter(|r| {
            r.cash_in()
                && r.ts > declined[0].ts
                && r.ts <= declined[0].ts + 2 * H
                && r.amount < 10_000.0
        })
        .count();
    assert!(after >= 2, "ST-4: {after} smaller deposits within 2 h");
}

#[test]
fn wage_sweep_leaves_within_48h_and_several_workers_wages_land_in_one_account() {
    let p = population();
    let case = p.case(Typology::WageSweep);
    let boss = one(&case, "controller");
    let mut swept = 0;
    for v in &case["victim"] {
        for w in p.of(v).filter(|r| r.receiver == *v && r.purpose == "SALA") {
            if p.forwarded(v, w.ts, 48) >= 0.8 * w.amount {
                swept += 1;
            }
        }
    }
    assert!(swept >= 2, "LE-2: {swept} sweeps");
    let names: BTreeSet<&str> = p
        .of(boss)
        .filter(|r| r.receiver == boss && r.purpose == "SALA")
        .map(|r| r.receiver_name.as_str())
        .collect();
    assert!(
        !names.is_empty(),
        "LE-1: wages under workers' names: {names:?}"
    );
}

#[test]
fn labour_front_is_cash_heavy_open_late_and_its_workers_pay_recruiters() {
    let p = population();
    let case = p.case(Typology::LabourFront);
    let front = one(&case, "front_business");
    let credits: Vec<&Row> = p.of(front).filter(|r| r.receiver == front).collect();
    let cash: f64 = credits
        .iter()
        .filter(|r| r.cash_in())
        .map(|r| r.amount)
        .sum();
    let all: f64 = credits.iter().map(|r| r.amount).sum();
    assert!(cash >= 0.8 * all, "LE-6: cash {cash} of {all}");
    assert!(
        !p.of(front)
            .any(|r| r.sender == front && r.purpose == "SALA"),
        "no payroll"
    );
    let merchant = front.replacen("AC", "MF", 1);
    let merchant = &merchant[..merchant.len() - 1];
    let receipts: Vec<&Row> = p
        .recent(merchant, 30)
        .into_iter()
        .filter(|r| r.mcc == "7297")
        .collect();
    let late = receipts
        .iter()
        .filter(|r| !(9..21).contains(&r.local_hour()))
        .count();
    assert!(
        receipts.len() >= 20 && late * 10 >= receipts.len() * 3,
        "SE-4: {late} of {}",
        receipts.len()
    );
    for v in &case["victim"] {
        let fees: f64 = p
            .of(v)
            .filter(|r| r.sender == *v && r.mcc == "7361")
            .map(|r| r.amount)
            .sum();
        assert!(fees >= 1_000.0, "LE-3 {v}: {fees}");
    }
}

#[test]
fn corridor_case_gathers_victims_money_and_wires_it_abroad() {
    let p = population();
    let case = p.case(Typology::CorridorFanIn);
    let boss = one(&case, "controller");
    assert!(p.fan(boss, true) >= 5, "GR-1");
    let cash: Vec<&Row> = p.of(boss).filter(|r| r.cash_in()).collect();
    let abroad =
        |r: &&Row| r.sender == boss && matches!(r.channel.as_str(), "wire_intl" | "remittance_msb");
    let ok = cash.iter().any(|d| {
        let out: f64 = p
            .of(boss)
            .filter(abroad)
            .filter(|r| r.ts >= d.ts && r.ts - d.ts <= 7 * D)
            .map(|r| r.amount)
            .sum();
        d.amount >= 3_000.0 && out >= 0.5 * d.amount
    });
    assert!(ok, "PT-2");
}

#[test]
fn crypto_ads_case_buys_prepaid_then_crypto_then_pays_an_ad_service_wallet() {
    let p = population();
    let case = p.case(Typology::CryptoAds);
    let boss = one(&case, "controller");
    let prepaid: Vec<&Row> = p
        .of(boss)
        .filter(|r| r.channel == "prepaid_purchase")
        .collect();
    let chained = prepaid.iter().any(|a| {
        p.of(boss).any(|b| {
            b.channel == "crypto_buy"
                && b.ts >= a.ts
                && b.ts - a.ts <= 7 * D
                && (b.amount - a.amount).abs() <= 0.1 * a.amount
        })
    });
    assert!(chained, "SE-6");
    let wallets: BTreeSet<&str> = p
        .accounts
        .iter()
        .filter(|l| {
            l.case
                == p.accounts
                    .iter()
                    .find(|l| l.entity == boss)
                    .map(|l| l.case.clone())
                    .unwrap_or_default()
                && l.entity.starts_with("0x")
        })
        .map(|l| l.entity.as_str())
        .collect();
    let to_ads = p
        .rows
        .iter()
        .filter(|r| wallets.contains(r.sender.as_str()))
        .filter(|r| {
            p.attributed
                .get(&r.receiver)
                .is_some_and(|c| c == "ad_service")
        })
        .count();
    assert!(to_ads >= 1, "CR-2: {to_ads} payments to the ad service");
}

#[test]
fn travel_case_buys_several_tickets_at_one_airline_within_the_hour() {
    let p = population();
    let case = p.case(Typology::TravelVisa);
    let boss = one(&case, "controller");
    let tickets: Vec<&Row> = p
        .of(boss)
        .filter(|r| r.sender == boss && r.mcc == "4511")
        .collect();
    let best = tickets
        .iter()
        .map(|a| {
            tickets
                .iter()
                .filter(|b| b.merchant == a.merchant && b.ts >= a.ts && b.ts - a.ts <= H)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(best >= 3, "LE-4: {best}");
    assert!(p.of(boss).any(|r| r.mcc == "9399"), "visa fees");
}

#[test]
fn graph_cases_have_their_shapes() {
    let p = population();
    let fan_in = p.case(Typology::FanIn);
    assert!(p.fan(one(&fan_in, "controller"), true) >= 5, "GR-1");
    let fan_out = p.case(Typology::FanOut);
    assert!(p.fan(one(&fan_out, "controller"), false) >= 5, "GR-2");

    // Scatter-gather: A -> m -> B, each m forwarding >= 80% within 72 h.
    let sg = p.case(Typology::ScatterGather);
    let (a, b) = (&sg["controller"][0], &sg["controller"][1]);
    let thin = sg["victim"]
        .iter()
        .filter(|m| {
            p.transfers(a, m).iter().any(|x| {
                p.transfers(m, b)
                    .iter()
                    .any(|y| y.ts >= x.ts && y.ts - x.ts <= 72 * H && y.amount >= 0.8 * x.amount)
            })
        })
        .count();
    assert!(thin >= 3, "GR-3: {thin} intermediaries");

    // Gather-scatter: >= 3 senders in, >= 3 other receivers out, >= 80% passed on.
    let gs = p.case(Typology::GatherScatter);
    let m = one(&gs, "controller");
    let ins: BTreeSet<&str> = p
        .of(m)
        .filter(|r| r.receiver == m && r.transfer())
        .map(|r| r.sender.as_str())
        .collect();
    let outs: BTreeSet<&str> = p
        .of(m)
        .filter(|r| r.sender == m && r.transfer())
        .map(|r| r.receiver.as_str())
        .collect();
    assert!(
        ins.len() >= 3 && outs.len() >= 3 && ins.is_disjoint(&outs),
        "GR-4"
    );

    // Cycle: the money comes back to the controller, each hop 50-100% of the last.
    let cy = p.case(Typology::Cycle);
    let start = one(&cy, "controller");
    let first = &cy["victim"][0];
    let last = cy["victim"].last().expect("victims");
    let out = p.transfers(start, first);
    let back = p.transfers(last, start);
    assert!(
        out.iter().any(|o| back
            .iter()
            .any(|b| b.ts > o.ts && b.amount < o.amount && b.amount >= 0.5f64.powi(5) * o.amount)),
        "GR-5"
    );

    // Bipartite: originators pay most beneficiaries.
    let bp = p.case(Typology::Bipartite);
    let edges = bp["controller"]
        .iter()
        .flat_map(|o| bp["victim"].iter().map(move |v| (o, v)))
        .filter(|(o, v)| !p.transfers(o, v).is_empty())
        .count();
    assert!(
        edges * 10 >= bp["controller"].len() * bp["victim"].len() * 6,
        "GR-6 density"
    );

    // Stack: the middle layer forwards >= 70% within 72 h to the last layer.
    let st = p.case(Typology::Stack);
    let (mid, last) = st["victim"].split_at(3);
    for m in mid {
        let got: Vec<&Row> = p
            .of(m)
            .filter(|r| r.receiver == *m && r.transfer())
            .collect();
        let onward = got.iter().any(|g| {
            let sent: f64 = last
                .iter()
                .flat_map(|l| p.transfers(m, l))
                .filter(|r| r.ts >= g.ts && r.ts - g.ts <= 72 * H)
                .map(|r| r.amount)
                .sum();
            sent >= 0.7 * g.amount
        });
        assert!(onward, "GR-6 stack {m}");
    }

    // Layered chain: >= 4 hops, each forwarding >= 70% within 72 h.
    let lc = p.case(Typology::LayeredChain);
    let mut path = vec![lc["controller"][0].clone()];
    path.extend(lc["victim"].iter().cloned());
    path.push(lc["controller"][1].clone());
    let hops = path.windows(3).filter(|w| {
        p.transfers(&w[0], &w[1]).iter().any(|x| {
            p.transfers(&w[1], &w[2])
                .iter()
                .any(|y| y.ts >= x.ts && y.ts - x.ts <= 72 * H && y.amount >= 0.7 * x.amount)
        })
    });
    assert!(hops.count() >= 3, "GR-7: a chain of >= 4 hops");
}

#[test]
fn benign_lookalikes_exist_for_every_red_flag_family() {
    let p = population();
    let mut families: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for l in p.accounts.iter().filter(|l| l.role == "benign_lookalike") {
        assert!(!l.suspicious, "{}", l.entity);
        let persona = Persona::from_lookalike(&l.typology).expect("a look-alike persona");
        for f in persona.families() {
            families.entry(f).or_default().insert(l.typology.clone());
        }
    }
    for f in ["SE", "LE", "FN", "ST", "PT", "CR", "GR"] {
        assert!(
            families.contains_key(f),
            "no look-alike for {f}: {families:?}"
        );
    }
    // And they show the surface of the flag: a driver sleeps in several cities at night, a
    // large cash business banks just under the threshold, a landlord collects from many.
    let members = |t: &str| -> Vec<&str> {
        p.accounts
            .iter()
            .filter(|l| l.typology == t && l.entity.starts_with("AC") && l.entity.ends_with('0'))
            .map(|l| l.entity.as_str())
            .collect()
    };
    let drivers = members("lookalike_long_haul_driver");
    assert!(drivers.iter().any(|d| {
        let cities: BTreeSet<&str> = p
            .recent(d, 30)
            .iter()
            .filter(|r| r.mcc == "7011")
            .map(|r| r.city.as_str())
            .collect();
        cities.len() >= 3
    }));
    let shops = members("lookalike_cash_business");
    assert!(shops.iter().any(|s| {
        p.recent(s, 30)
            .iter()
            .filter(|r| r.cash_in() && (8_000.0..10_000.0).contains(&r.amount))
            .count()
            >= 3
    }));
    let landlords = members("lookalike_landlord");
    assert!(landlords.iter().any(|l| {
        let payers: BTreeSet<&str> = p
            .recent(l, 30)
            .iter()
            .filter(|r| r.receiver == *l)
            .map(|r| {
                if r.conductor.is_empty() {
                    r.sender.as_str()
                } else {
                    r.conductor.as_str()
                }
            })
            .collect();
        payers.len() >= 5
    }));
    let remitters = members("lookalike_migrant_remittance");
    assert!(
        remitters.iter().any(|m| {
            p.of(m)
                .filter(|r| r.receiver == *m && r.purpose == "SALA")
                .any(|w| p.forwarded(m, w.ts, 48) >= 0.8 * w.amount)
        }),
        "some migrants send most of their pay home within two days (LE-2 surface)"
    );
}
