//! The graph pass on small hand-built graphs: each pattern, and a benign near-miss that must not
//! match. Every graph sits in background noise, and `as_of` is day 40.

mod common;

use common::{D, Tx, features, noise};
use redflag_schema::Channel;
use redflag_schema::columns as col;

const END: f64 = 40.0 * D;

fn with_noise(mut txs: Vec<Tx>) -> Vec<Tx> {
    txs.extend(noise(200, END));
    txs.push(Tx::wire("clock-a", "clock-b", 1.0, END));
    txs
}

#[test]
fn fan_in_counts_distinct_senders_inside_seven_days() {
    let mut txs = Vec::new();
    for i in 0..6 {
        txs.push(Tx::wire(
            &format!("s{i}"),
            "hub",
            900.0 + i as f64,
            30.0 * D + i as f64 * 10.0,
        ));
    }
    // Near-miss: five senders to `slow`, eight days apart.
    for i in 0..5 {
        txs.push(Tx::wire(
            &format!("p{i}"),
            "slow",
            900.0,
            11.0 * D + i as f64 * 8.0 * D,
        ));
    }
    // The span is closed: senders exactly seven days apart count together, fourteen do not.
    for (i, day) in [20.0, 27.0, 34.0].into_iter().enumerate() {
        txs.push(Tx::wire(&format!("e{i}"), "edge", 900.0, day * D));
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("edge", "fan_in_7d_max"), 2.0);
    assert_eq!(f.get("hub", "fan_in_7d_max"), 6.0);
    assert_eq!(f.get("hub", "senders_30d"), 6.0);
    assert_eq!(f.get("slow", "fan_in_7d_max"), 1.0);
    assert_eq!(
        f.get("slow", "senders_30d"),
        4.0,
        "the first payment is outside the 30 days"
    );
}

#[test]
fn fan_out_counts_distinct_receivers_inside_seven_days() {
    let mut txs = Vec::new();
    for i in 0..7 {
        txs.push(Tx::wire(
            "payer",
            &format!("r{i}"),
            700.0,
            35.0 * D + i as f64,
        ));
    }
    // Near-miss: the same receiver seven times.
    for i in 0..7 {
        txs.push(Tx::wire("loyal", "landlord", 700.0, 35.0 * D + i as f64));
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("payer", "fan_out_7d_max"), 7.0);
    assert_eq!(f.get("payer", "new_receiver_share_30d"), 1.0);
    assert_eq!(f.get("loyal", "fan_out_7d_max"), 1.0);
}

#[test]
fn cycle_must_respect_time_and_decay() {
    let ring = |p: &str, times: [f64; 4], amounts: [f64; 4]| -> Vec<Tx> {
        let n = |i: usize| format!("{p}{i}");
        (0..4)
            .map(|i| Tx::wire(&n(i), &n((i + 1) % 4), amounts[i], 30.0 * D + times[i]))
            .collect()
    };
    let mut txs = ring("c", [0.0, 5.0, 9.0, 20.0], [1000.0, 950.0, 900.0, 860.0]);
    // Near-misses: the closing hop comes first; an amount grows; all one customer's accounts.
    txs.extend(ring(
        "t",
        [30.0, 5.0, 9.0, 20.0],
        [1000.0, 950.0, 900.0, 860.0],
    ));
    txs.extend(ring(
        "g",
        [0.0, 5.0, 9.0, 20.0],
        [1000.0, 1200.0, 900.0, 860.0],
    ));
    txs.extend(
        ring("own", [0.0, 5.0, 9.0, 20.0], [1000.0, 950.0, 900.0, 860.0])
            .into_iter()
            .map(|t| {
                t.with(col::SENDER_CUSTOMER_ID, "K1")
                    .with(col::RECEIVER_CUSTOMER_ID, "K1")
            }),
    );
    let f = features(&with_noise(txs));
    for i in 0..4 {
        assert_eq!(f.get(&format!("c{i}"), "cycles_30d"), 1.0, "c{i}");
        assert_eq!(f.get(&format!("c{i}"), "cycle_min_len_30d"), 4.0);
        for p in ["t", "g", "own"] {
            assert_eq!(f.get(&format!("{p}{i}"), "cycles_30d"), 0.0, "{p}{i}");
        }
    }
}

#[test]
fn two_hop_cycle_is_found_once_from_its_first_edge() {
    let txs = vec![
        Tx::wire("x", "y", 5000.0, 30.0 * D),
        Tx::wire("y", "x", 4800.0, 31.0 * D),
        // A loan repaid with interest is not a decaying cycle.
        Tx::wire("lender", "borrower", 5000.0, 30.0 * D),
        Tx::wire("borrower", "lender", 5100.0, 36.0 * D),
    ];
    let f = features(&with_noise(txs));
    assert_eq!(f.get("x", "cycles_30d"), 1.0);
    assert_eq!(f.get("y", "cycle_min_len_30d"), 2.0);
    assert_eq!(f.get("lender", "cycles_30d"), 0.0);
}

#[test]
fn scatter_gather_needs_three_thin_intermediaries_forwarding() {
    let mut txs = Vec::new();
    for i in 0..3 {
        let m = format!("m{i}");
        txs.push(Tx::wire("origin", &m, 3000.0, 30.0 * D + i as f64));
        txs.push(Tx::wire(&m, "sink", 2900.0, 30.0 * D + 20.0 + i as f64));
    }
    // Near-miss: the intermediaries keep most of it (salaries, not a pass-through).
    for i in 0..3 {
        let m = format!("e{i}");
        txs.push(Tx::wire("employer", &m, 3000.0, 30.0 * D + i as f64));
        txs.push(Tx::wire(&m, "shop", 400.0, 30.0 * D + 20.0 + i as f64));
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("origin", "scatter_gather_source_30d"), 1.0);
    assert_eq!(f.get("sink", "scatter_gather_sink_30d"), 1.0);
    for i in 0..3 {
        assert_eq!(
            f.get(&format!("m{i}"), "scatter_gather_intermediary_30d"),
            1.0
        );
        assert_eq!(
            f.get(&format!("e{i}"), "scatter_gather_intermediary_30d"),
            0.0
        );
    }
    assert_eq!(f.get("employer", "scatter_gather_source_30d"), 0.0);
    assert_eq!(f.get("shop", "scatter_gather_sink_30d"), 0.0);
}

#[test]
fn gather_scatter_collects_then_redistributes() {
    let mut txs = Vec::new();
    for i in 0..3 {
        txs.push(Tx::wire(
            &format!("v{i}"),
            "collector",
            1000.0,
            30.0 * D + i as f64 * 5.0,
        ));
        txs.push(Tx::wire(
            "collector",
            &format!("k{i}"),
            950.0,
            33.0 * D + i as f64 * 5.0,
        ));
    }
    // Near-miss: a small shop that banks most of its takings.
    for i in 0..3 {
        txs.push(Tx::wire(
            &format!("c{i}"),
            "shopkeeper",
            1000.0,
            30.0 * D + i as f64 * 5.0,
        ));
        txs.push(Tx::wire(
            "shopkeeper",
            &format!("u{i}"),
            300.0,
            33.0 * D + i as f64 * 5.0,
        ));
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("collector", "gather_scatter_30d"), 1.0);
    assert_eq!(f.get("shopkeeper", "gather_scatter_30d"), 0.0);
}

#[test]
fn layered_chain_of_thin_fast_hops() {
    let chain = |p: &str, gaps: [f64; 4]| -> Vec<Tx> {
        let names = [
            format!("{p}a"),
            format!("{p}1"),
            format!("{p}2"),
            format!("{p}3"),
            format!("{p}b"),
        ];
        let mut t = 30.0 * D;
        let mut amount = 10_000.0;
        (0..4)
            .map(|i| {
                t += gaps[i];
                amount *= 0.95;
                Tx::wire(&names[i], &names[i + 1], amount, t)
            })
            .collect()
    };
    let mut txs = chain("l", [0.0, 10.0, 20.0, 30.0]);
    // Near-miss: the middle hop waits five days.
    txs.extend(chain("h", [0.0, 10.0, 5.0 * D, 30.0]));
    let f = features(&with_noise(txs));
    for n in ["la", "l1", "l2", "l3", "lb"] {
        assert_eq!(f.get(n, "chain_hops_max_30d"), 4.0, "{n}");
    }
    for n in ["ha", "h1", "h2", "h3", "hb"] {
        assert!(f.get(n, "chain_hops_max_30d") < 4.0, "{n}");
    }
}

#[test]
fn dense_bipartite_block_and_stack() {
    let mut txs = Vec::new();
    for (i, o) in ["o1", "o2"].iter().enumerate() {
        for (j, m) in ["m1", "m2", "m3"].iter().enumerate() {
            txs.push(Tx::wire(o, m, 1000.0, 30.0 * D + (i * 3 + j) as f64));
        }
    }
    for (i, m) in ["m1", "m2", "m3"].iter().enumerate() {
        for (j, c) in ["c1", "c2", "c3"].iter().enumerate() {
            txs.push(Tx::wire(m, c, 600.0, 30.0 * D + 12.0 + (i * 3 + j) as f64));
        }
    }
    // Near-miss: two payers with disjoint suppliers.
    for (o, rs) in [("p1", ["x1", "x2", "x3"]), ("p2", ["y1", "y2", "y3"])] {
        for (j, r) in rs.iter().enumerate() {
            txs.push(Tx::wire(o, r, 500.0, 31.0 * D + j as f64));
        }
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("o1", "bipartite_block_30d"), 5.0);
    assert_eq!(f.get("c3", "bipartite_block_30d"), 6.0);
    assert_eq!(f.get("m2", "bipartite_block_30d"), 6.0);
    for m in ["m1", "m2", "m3"] {
        assert_eq!(f.get(m, "bipartite_stack_30d"), 1.0, "{m}");
    }
    assert_eq!(f.get("o1", "bipartite_stack_30d"), 0.0);
    for n in ["p1", "p2", "x1", "y3"] {
        assert_eq!(f.get(n, "bipartite_block_30d"), 0.0, "{n}");
    }
}

#[test]
fn shared_device_joins_customers_but_a_public_hotspot_does_not() {
    let mut txs = Vec::new();
    for i in 0..3 {
        txs.push(
            Tx::new(
                &format!("acc{i}"),
                "shop",
                20.0,
                Channel::CardNotPresent,
                35.0 * D + i as f64,
            )
            .with(col::SENDER_CUSTOMER_ID, &format!("cust{i}"))
            .with(col::DEVICE_ID, "phone-1"),
        );
    }
    // Sixty customers behind one carrier address: ignored (more than 50 share it).
    for i in 0..60 {
        txs.push(
            Tx::new(
                &format!("pub{i}"),
                "shop",
                20.0,
                Channel::CardNotPresent,
                36.0 * D + i as f64,
            )
            .with(col::SENDER_CUSTOMER_ID, &format!("pc{i}"))
            .with(col::IP_ADDRESS, "100.64.0.1"),
        );
    }
    // Two households on one /24: joined (a shared prefix counts, and only two of them).
    txs.push(
        Tx::new("home1", "shop", 20.0, Channel::CardNotPresent, 37.0 * D)
            .with(col::SENDER_CUSTOMER_ID, "h1")
            .with(col::IP_ADDRESS, "203.0.113.7"),
    );
    txs.push(
        Tx::new(
            "home2",
            "shop",
            20.0,
            Channel::CardNotPresent,
            37.0 * D + 1.0,
        )
        .with(col::SENDER_CUSTOMER_ID, "h2")
        .with(col::IP_ADDRESS, "203.0.113.9"),
    );
    let f = features(&with_noise(txs));
    for i in 0..3 {
        assert_eq!(f.get(&format!("acc{i}"), "shared_id_cluster_30d"), 3.0);
        assert_eq!(
            f.get(&format!("customer:cust{i}"), "shared_id_cluster_30d"),
            3.0
        );
    }
    assert_eq!(f.get("pub7", "shared_id_cluster_30d"), 1.0);
    assert_eq!(f.get("home1", "shared_id_cluster_30d"), 2.0);
}

#[test]
fn one_conductor_operating_several_holders_accounts() {
    let mut txs = Vec::new();
    for i in 0..3 {
        txs.push(
            Tx::new(
                "CASH",
                &format!("victim{i}"),
                2000.0,
                Channel::CashDeposit,
                35.0 * D + i as f64,
            )
            .with(col::RECEIVER_CUSTOMER_ID, &format!("vc{i}"))
            .with(col::CONDUCTOR_ID, "boss"),
        );
    }
    // Near-miss: a holder depositing into their own two accounts.
    for (i, a) in ["own1", "own2"].iter().enumerate() {
        txs.push(
            Tx::new("CASH", a, 2000.0, Channel::CashDeposit, 35.0 * D + i as f64)
                .with(col::RECEIVER_CUSTOMER_ID, "self")
                .with(col::CONDUCTOR_ID, "self"),
        );
    }
    let f = features(&with_noise(txs));
    for i in 0..3 {
        assert_eq!(
            f.get(&format!("victim{i}"), "conductor_accounts_max_30d"),
            3.0
        );
        assert_eq!(f.get(&format!("victim{i}"), "depositors_30d"), 1.0);
    }
    assert_eq!(f.get("own1", "conductor_accounts_max_30d"), 0.0);
    assert_eq!(f.get("own1", "depositors_30d"), 0.0);
}

/// Found on `redflag synth` data (issue 3): mule accounts have a cover life of card spend, and
/// shops must not make a hop look busy, nor an ordinary payday look like gather-scatter.
#[test]
fn issue_3_card_spend_is_not_a_transfer_counterparty() {
    let mut txs = Vec::new();
    let mut t = 30.0 * D;
    let mut amount = 10_000.0;
    let names = ["ma", "m1", "m2", "m3", "mb"];
    for i in 0..4 {
        t += 10.0;
        amount *= 0.95;
        txs.push(Tx::wire(names[i], names[i + 1], amount, t));
    }
    // Each hop also buys groceries and fuel at four different shops.
    for (k, hop) in ["m1", "m2", "m3"].iter().enumerate() {
        for s in 0..4 {
            let shop = format!("shop{s}");
            let at = 25.0 * D + (k * 4 + s) as f64 * 7.0;
            txs.push(Tx::new(hop, &shop, 40.0, Channel::CardPresent, at).mcc(5411));
        }
    }
    // A wage earner paid by three payers who spends it all at five shops within days.
    for p in 0..3 {
        txs.push(Tx::wire(
            &format!("payer{p}"),
            "earner",
            800.0,
            30.0 * D + p as f64 * 5.0,
        ));
    }
    for s in 0..5 {
        let shop = format!("store{s}");
        let at = 31.0 * D + s as f64 * 9.0;
        txs.push(Tx::new("earner", &shop, 470.0, Channel::CardPresent, at).mcc(5311));
    }
    let f = features(&with_noise(txs));
    for n in names {
        assert_eq!(f.get(n, "chain_hops_max_30d"), 4.0, "{n}");
    }
    assert_eq!(f.get("earner", "gather_scatter_30d"), 0.0);
    assert_eq!(f.get("earner", "fan_out_7d_max"), 0.0);
}
