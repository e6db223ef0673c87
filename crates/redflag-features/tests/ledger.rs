//! The ledger that the feature pass hands on: every transaction's parties as rows of the
//! feature table, across several input batches.

mod common;

use arrow::array::AsArray;
use common::{D, Tx, batch, noise};
use redflag_features::{FeatureConfig, compute};
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
