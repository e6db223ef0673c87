//! `compute_partitioned` runs the kernels one range of entities at a time over a table read in
//! passes: whatever the number of partitions, every feature, profile and the 30-day ledger must
//! be those of the one-pass `compute`.

mod common;

use arrow::array::{Array, AsArray, RecordBatch, new_null_array};
use common::{D, Tx, batch, rich};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redflag_features::{
    DAY, FeatureConfig, Ledger, compute, compute_partitioned, partitioned_features,
};
use redflag_schema::columns as col;
use redflag_schema::{Channel, PartyKind, transactions_schema};

/// A seeded population over 120 days: 300 accounts, 60 customers holding them, transfers
/// among a few hubs (so cycles, chains and fan-in occur), cash in several cities by
/// conductors, card spending with devices and IPs, and payroll. Batches are cut unevenly and
/// the third is out of time order.
fn world(seed: u64) -> Vec<RecordBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut txs = rich();
    let acct = |i: usize| format!("a{i:03}");
    let channels = [
        Channel::WireDomestic,
        Channel::P2pApp,
        Channel::Ach,
        Channel::CardNotPresent,
        Channel::CashDeposit,
        Channel::CashWithdrawal,
        Channel::CryptoBuy,
    ];
    for k in 0..6000 {
        let hours = rng.gen_range(0.0..120.0 * D);
        // Half the transfers touch one of eight hubs, so that the graph is dense there.
        let s = if rng.gen_bool(0.3) {
            rng.gen_range(0..8)
        } else {
            rng.gen_range(0..300)
        };
        let r = (s + rng.gen_range(1..40)) % 300;
        let channel = channels[rng.gen_range(0..channels.len())];
        let amount = f64::from(rng.gen_range(1..400u32)) * 25.0;
        let mut tx = match channel {
            Channel::CashDeposit => Tx::new("CASH", &acct(r), amount, channel, hours)
                .with(col::GEO_CITY, ["Houston", "Dallas", "Austin"][k % 3])
                .with(col::CONDUCTOR_ID, &format!("c{:02}", rng.gen_range(0..70))),
            Channel::CashWithdrawal => Tx::new(&acct(s), "CASH", amount, channel, hours),
            Channel::CardNotPresent => Tx::new(&acct(s), "shop", amount, channel, hours)
                .with(col::DEVICE_ID, &format!("dev{}", rng.gen_range(0..40)))
                .with(col::IP_ADDRESS, &format!("10.0.{}.{}", k % 7, k % 5))
                .with(col::MERCHANT_NAME, ["Escort ads", "Groceries"][k % 2])
                .mcc([5999, 7011][k % 2]),
            _ => Tx::new(&acct(s), &acct(r), amount, channel, hours),
        };
        if rng.gen_bool(0.8) {
            tx = tx
                .with(col::SENDER_CUSTOMER_ID, &format!("c{:02}", s % 60))
                .with(col::RECEIVER_CUSTOMER_ID, &format!("c{:02}", r % 60));
        }
        if k % 11 == 0 {
            tx = tx
                .with(col::GEO_REGION, ["TX", "CA"][k % 2])
                .with(col::SENDER_INSTITUTION, ["BANK1", "BANK2"][s % 2]);
        }
        if k % 13 == 0 {
            tx = Tx::wire("employer", &acct(r), 1200.0, hours)
                .with(col::PURPOSE_CODE, "SALA")
                .with(col::RECEIVER_NAME, &format!("Worker {}", r % 9))
                .kinds(PartyKind::External, PartyKind::Account);
        }
        txs.push(tx);
    }
    // Rings of decaying transfers (cycles), their accounts spread over the code space.
    for j in 0..5 {
        let ring = [acct(20 + j), acct(150 + j), acct(290 - j)];
        for (h, amount) in [(0, 1000.0), (1, 900.0), (2, 850.0)] {
            let hours = 110.0 * D + (5 * j + h) as f64;
            let mut tx = Tx::wire(&ring[h], &ring[(h + 1) % 3], amount, hours);
            if j % 2 == 1 {
                // Money moved among one customer's own accounts: not a cycle.
                tx = tx
                    .with(col::SENDER_CUSTOMER_ID, "ring-owner")
                    .with(col::RECEIVER_CUSTOMER_ID, "ring-owner");
            }
            txs.push(tx);
        }
    }
    // Inputs arrive in time order, mostly.
    txs.sort_by_key(|t| t.ts);
    let cuts = [0, 1500, 1501, 4200, 6100, txs.len()];
    let mut batches: Vec<Vec<Tx>> = cuts.windows(2).map(|w| txs[w[0]..w[1]].to_vec()).collect();
    batches[2].reverse();
    run_schema(batches.iter().map(|b| batch(b)).collect())
}

/// The batches with one schema, every column any of them has (null where a batch lacks it),
/// as ingest hands a run's batches over.
fn run_schema(batches: Vec<RecordBatch>) -> Vec<RecordBatch> {
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let schema = transactions_schema(&names);
    batches
        .iter()
        .map(|b| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    b.column_by_name(f.name())
                        .cloned()
                        .unwrap_or_else(|| new_null_array(f.data_type(), b.num_rows()))
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).expect("one schema")
        })
        .collect()
}

/// Every transaction of a ledger: (input batch, row, time, amount, parties, customers).
type Entry = (
    (usize, usize),
    i64,
    u64,
    (Option<usize>, Option<usize>),
    (Option<usize>, Option<usize>),
);

fn entries(l: &Ledger) -> Vec<Entry> {
    (0..l.len())
        .map(|i| {
            (
                l.locate(i),
                l.ts(i),
                l.amount(i).to_bits(),
                l.parties(i),
                l.customers(i),
            )
        })
        .collect()
}

#[test]
fn partitions_give_the_features_of_one_pass() {
    let batches = world(7);
    let mut cfg = FeatureConfig::default();
    cfg.payroll_originators.insert("employer".to_owned());
    cfg.corridors.insert("MX".to_owned());
    cfg.ad_site_merchants.push("escort".to_owned());
    let reference = compute(&batches, &cfg).expect("one pass");
    let mut window = reference.ledger.clone();
    window.keep_between(reference.as_of - 30 * DAY, reference.as_of);
    assert!(window.len() > 1000 && window.len() < reference.ledger.len());
    for partitions in [1, 2, 7] {
        let got = compute_partitioned(&batches, partitions, &cfg).expect("partitioned");
        assert_eq!(got.as_of, reference.as_of);
        assert_eq!(
            got.batch, reference.batch,
            "features, {partitions} partitions"
        );
        assert_eq!(
            got.profiles, reference.profiles,
            "profiles, {partitions} partitions"
        );
        assert_eq!(
            entries(&got.ledger),
            entries(&window),
            "ledger, {partitions} partitions"
        );
        // Cut again, as a run does: nothing changes.
        let mut again = got.ledger.clone();
        again.keep_between(got.as_of - 30 * DAY, got.as_of);
        assert_eq!(entries(&again), entries(&window));
    }

    // The population does reach the graph, customers and shared identifiers, so the
    // comparison covers them.
    let b = &reference.batch;
    let kinds = b.column(1).as_string::<i32>();
    let distinct: std::collections::BTreeSet<&str> =
        (0..b.num_rows()).map(|r| kinds.value(r)).collect();
    assert!(
        distinct.contains("customer"),
        "{distinct:?} {}",
        b.num_rows()
    );
    let above = |name: &str, floor: f64| {
        let c = b.column_by_name(name).expect(name);
        let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Float64).expect("cast");
        let c = c.as_primitive::<arrow::datatypes::Float64Type>();
        (0..c.len())
            .filter(|&r| c.is_valid(r) && c.value(r) > floor)
            .count()
    };
    // Every account is a cluster of one at least: a shared identifier makes two.
    for (name, floor) in [
        ("cycles_30d", 0.0),
        ("fan_in_7d_max", 0.0),
        ("shared_id_cluster_30d", 1.0),
        ("payroll_in_90d", 0.0),
        ("cash_in_cities_30d", 0.0),
        ("conductor_accounts_max_30d", 0.0),
    ] {
        assert!(above(name, floor) > 0, "no entity with {name} > {floor}");
    }
    assert!(
        reference
            .profiles
            .institution
            .iter()
            .any(|&i| i != u32::MAX)
    );
}

/// The window a run keeps under a memory limit reads, later, the ledger of the entities it is
/// given: every transaction of the 30 days that touches one of them (as sender, receiver or
/// either's customer) and no other, each still located at its input row.
#[test]
fn the_window_reads_the_ledger_of_chosen_entities() {
    let batches = world(5);
    let cfg = FeatureConfig::default();
    let (features, window) = partitioned_features(&batches, 3, &cfg).expect("partitioned");
    assert!(features.ledger.is_empty());
    assert_eq!(window.as_of(), features.as_of);
    let all = window.ledger(None).expect("whole window");
    let n = features.batch.num_rows();
    let touching: Vec<bool> = (0..n).map(|r| r % 5 == 0).collect();
    let some = window.ledger(Some(&touching)).expect("some entities");
    let flagged = |e: Option<usize>| e.is_some_and(|e| touching[e]);
    let expected: Vec<Entry> = entries(&all)
        .into_iter()
        .filter(|e| flagged(e.3.0) || flagged(e.3.1) || flagged(e.4.0) || flagged(e.4.1))
        .collect();
    // Customers are among the flagged rows, and some transactions touch only a customer.
    assert!(all.has_customers() && some.has_customers());
    let by_customer_only = expected
        .iter()
        .filter(|e| !flagged(e.3.0) && !flagged(e.3.1))
        .count();
    assert!(by_customer_only > 0);
    assert!(expected.len() > 100 && expected.len() < all.len() * 3 / 4);
    assert_eq!(entries(&some), expected);
    // One range of transactions per input batch, as the evidence ids are read.
    assert_eq!(some.batches().count(), batches.len());
    // Nobody flagged: an empty ledger.
    let none = window.ledger(Some(&vec![false; n])).expect("none");
    assert!(none.is_empty());
}

#[test]
fn a_table_without_the_required_columns_is_refused() {
    let mut batches = world(3);
    let i = batches[1]
        .schema()
        .index_of(col::AMOUNT_BASE)
        .expect("column");
    batches[1].remove_column(i);
    let err = compute_partitioned(&batches, 3, &FeatureConfig::default()).expect_err("refused");
    assert!(err.to_string().contains(col::AMOUNT_BASE), "{err}");
}
