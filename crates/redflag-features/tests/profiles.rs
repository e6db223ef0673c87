//! Entity profiles for the fairness report: channel mix, majority region, own institution.

mod common;

use arrow::array::AsArray;
use common::{Tx, batch};
use redflag_features::{CHANNEL_MIXES, FeatureConfig, Profiles, compute};
use redflag_schema::Channel;
use redflag_schema::columns as col;

fn card(sender: &str, merchant: &str, region: &str, h: f64) -> Tx {
    Tx::new(sender, merchant, 20.0, Channel::CardPresent, h)
        .with(col::GEO_REGION, region)
        .with(col::SENDER_INSTITUTION, "BANKUS33")
}

#[test]
fn segments_describe_how_and_where_an_entity_transacts() {
    let txs = vec![
        // a: three card payments in TX, one in CA, one wire: card, TX.
        card("a", "m1", "TX", 1.0).with(col::SENDER_CUSTOMER_ID, "cust"),
        card("a", "m1", "TX", 2.0),
        card("a", "m2", "TX", 3.0),
        card("a", "m3", "CA", 4.0),
        Tx::wire("a", "x", 500.0, 5.0)
            .with(col::SENDER_INSTITUTION, "BANKUS33")
            .with(col::RECEIVER_INSTITUTION, "OTHERGB2"),
        // b: two in TX, two in CA, and receives wires from another bank: mixed region.
        card("b", "m1", "TX", 1.0).with(col::SENDER_CUSTOMER_ID, "cust"),
        card("b", "m1", "TX", 2.0),
        card("b", "m3", "CA", 3.0),
        card("b", "m3", "CA", 4.0),
        // c: wires only, no region, its own institution never given.
        Tx::wire("y", "c", 100.0, 1.0).with(col::SENDER_INSTITUTION, "OTHERGB2"),
        Tx::wire("y", "c", 100.0, 2.0).with(col::SENDER_INSTITUTION, "OTHERGB2"),
    ];
    let f = compute(&[batch(&txs)], &FeatureConfig::default()).expect("features");
    let ids = f.batch.column(0).as_string::<i32>();
    let kinds = f.batch.column(1).as_string::<i32>();
    let p = &f.profiles;
    assert_eq!(p.channel_mix.len(), f.batch.num_rows());
    assert_eq!(p.region.len(), f.batch.num_rows());
    let row = |id: &str, kind: &str| {
        (0..f.batch.num_rows())
            .find(|&i| ids.value(i) == id && kinds.value(i) == kind)
            .unwrap_or_else(|| panic!("no {kind} {id}"))
    };
    let seg = |id: &str, kind: &str| {
        let r = row(id, kind);
        (
            CHANNEL_MIXES[p.channel_mix[r] as usize],
            Profiles::name(&p.region_names, p.region[r]),
            Profiles::name(&p.institution_names, p.institution[r]),
        )
    };
    assert_eq!(seg("a", "account"), ("card", "TX", "BANKUS33"));
    assert_eq!(seg("b", "account"), ("card", "mixed", "BANKUS33"));
    assert_eq!(seg("c", "account"), ("transfer", "unknown", "unknown"));
    assert_eq!(seg("x", "account"), ("transfer", "unknown", "OTHERGB2"));
    assert_eq!(seg("m3", "account").1, "CA");
    // The customer holds a and b: 9 card payments and a wire; a is the busier account.
    assert_eq!(seg("cust", "customer"), ("card", "TX", "BANKUS33"));
}
