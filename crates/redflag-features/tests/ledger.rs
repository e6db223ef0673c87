//! The ledger that the feature pass hands on: every transaction's parties as rows of the
//! feature table, across several input batches.

mod common;

use arrow::array::AsArray;
use common::{D, T0, Tx, batch, noise};
use redflag_features::{FeatureConfig, HOUR, compute};
use redflag_schema::Channel;
use redflag_schema::columns as col;

#[test]
fn ledger_rows_name_the_parties_of_every_transaction_across_batches() {
    let mut first = noise(60, 30.0 * D);
    // Both batches carry the customer columns (ingest gives every batch one schema).
    first.push(
        Tx::new("CASH", "acct-1", 400.0, Channel::CashDeposit, 5.0)
            .with(col::SENDER_CUSTOMER_ID, "cust-c")
            .with(col::RECEIVER_CUSTOMER_ID, "cust-a"),
    );
    first.push(Tx::new("acct-1", "shop", 25.0, Channel::CardPresent, 6.0));
    let second = vec![
        Tx::wire("acct-1", "acct-2", 300.0, 7.0)
            .with(col::SENDER_CUSTOMER_ID, "cust-a")
            .with(col::RECEIVER_CUSTOMER_ID, "cust-b"),
        Tx::wire("acct-2", "acct-3", 200.0, 8.0),
    ];
    let batches = [batch(&first), batch(&second)];
    let f = compute(&batches, &FeatureConfig::default()).expect("features");
    let ledger = &f.ledger;
    assert_eq!(ledger.len(), first.len() + second.len());
    let ranges: Vec<_> = ledger.batches().collect();
    assert_eq!(ranges, vec![0..first.len(), first.len()..first.len() + 2]);

    let ids = f.batch.column(0).as_string::<i32>();
    let kinds = f.batch.column(1).as_string::<i32>();
    let name = |r: Option<usize>| r.map(|r| (kinds.value(r), ids.value(r)));
    fn party(id: &str) -> Option<&str> {
        (id != "CASH").then_some(id)
    }
    for (b, txs) in [&first, &second].into_iter().enumerate() {
        for (row, tx) in txs.iter().enumerate() {
            let i = ranges[b].start + row;
            assert_eq!(ledger.locate(i), (b, row));
            assert_eq!(ledger.ts(i), tx.ts);
            assert_eq!(ledger.amount(i), tx.amount);
            let (s, r) = ledger.parties(i);
            assert_eq!(name(s).map(|n| n.1), party(&tx.sender), "sender of {i}");
            assert_eq!(name(r).map(|n| n.1), party(&tx.receiver), "receiver of {i}");
            assert!(name(s).is_none_or(|n| n.0 != "customer"));
            assert_eq!(
                ledger.is_card(i),
                matches!(tx.channel, Channel::CardPresent | Channel::CardNotPresent)
            );
            let (sc, rc) = ledger.customers(i);
            let cust = |c: &str| tx.opt.get(c).map(|v| ("customer", v.as_str()));
            assert_eq!(name(sc), cust(col::SENDER_CUSTOMER_ID));
            assert_eq!(name(rc), cust(col::RECEIVER_CUSTOMER_ID));
        }
    }
    assert!(ledger.has_customers());
}

#[test]
fn a_ledger_cut_to_a_window_keeps_each_transaction_at_its_place_in_the_input() {
    // Three batches: the middle one falls wholly outside the window, the others partly.
    let spread = |n: usize, from: f64| -> Vec<Tx> {
        (0..n)
            .map(|k| {
                Tx::wire(
                    &format!("acct-{}", k % 7),
                    &format!("acct-{}", (k + 3) % 7),
                    10.0 + k as f64,
                    from + k as f64,
                )
                .with(col::SENDER_CUSTOMER_ID, &format!("cust-{}", k % 4))
                .with(col::RECEIVER_CUSTOMER_ID, &format!("cust-{}", (k + 1) % 4))
            })
            .collect()
    };
    let txs = [spread(40, 0.0), spread(10, 100.0), spread(40, 20.0)];
    let batches: Vec<_> = txs.iter().map(|t| batch(t)).collect();
    let whole = compute(&batches, &FeatureConfig::default())
        .expect("features")
        .ledger;
    // Hours after T0: the first batch spans 0..40, the middle 100..110, the last 20..60.
    let at = |hours: f64| T0 + (hours * HOUR as f64) as i64;
    let (from, to) = (at(30.0), at(45.0));
    let mut cut = whole.clone();
    cut.keep_between(from, to);

    // What the cut must hold: every transaction of the whole ledger inside the window, in order.
    let inside: Vec<usize> = (0..whole.len())
        .filter(|&i| whole.ts(i) > from && whole.ts(i) <= to)
        .collect();
    assert!(!inside.is_empty() && inside.len() < whole.len() / 2);
    assert_eq!(cut.len(), inside.len());
    for (j, &i) in inside.iter().enumerate() {
        assert_eq!(cut.locate(j), whole.locate(i), "place of {i}");
        assert_eq!(cut.ts(j), whole.ts(i));
        assert_eq!(cut.amount(j), whole.amount(i));
        assert_eq!(cut.parties(j), whole.parties(i));
        assert_eq!(cut.customers(j), whole.customers(i));
    }
    // One range per input batch, the middle one empty, covering the kept transactions once.
    let ranges: Vec<_> = cut.batches().collect();
    assert_eq!(ranges.len(), 3);
    assert!(ranges[1].is_empty());
    assert_eq!(ranges.iter().map(|r| r.len()).sum::<usize>(), cut.len());
    for (b, r) in ranges.iter().enumerate() {
        assert!(r.clone().all(|j| cut.locate(j).0 == b));
        assert!(r.clone().all(|j| cut.position(j) == (b, j - r.start)));
    }
    // Before a cut, a transaction's place is its row.
    assert!((0..whole.len()).all(|i| whole.position(i) == whole.locate(i)));

    // Cutting again, narrower, is the same as cutting the whole ledger once to that window.
    let mut twice = cut.clone();
    twice.keep_between(at(35.0), to);
    let mut once = whole.clone();
    once.keep_between(at(35.0), to);
    assert_eq!(twice.len(), once.len());
    for j in 0..once.len() {
        assert_eq!(twice.locate(j), once.locate(j));
        assert_eq!(twice.parties(j), once.parties(j));
    }
}
