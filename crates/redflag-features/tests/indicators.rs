//! Sequence features the indicators read, each on a small planted case and a benign
//! look-alike. `as_of` is day 40.

mod common;

use common::{D, Tx, features, features_with, noise};
use redflag_features::FeatureConfig;
use redflag_schema::columns as col;
use redflag_schema::{Channel, Status};

const END: f64 = 40.0 * D;

fn with_noise(mut txs: Vec<Tx>) -> Vec<Tx> {
    txs.extend(noise(100, END));
    txs.push(Tx::wire("clock-a", "clock-b", 1.0, END));
    txs
}

fn cash_in(account: &str, amount: f64, hours: f64, city: &str) -> Tx {
    Tx::new("CASH", account, amount, Channel::CashDeposit, hours).with(col::GEO_CITY, city)
}

#[test]
fn funnel_cash_in_several_cities_out_elsewhere_fast() {
    let mut txs = Vec::new();
    for (i, city) in ["Reno", "Boise", "Tulsa", "Omaha"].iter().enumerate() {
        let t = 32.0 * D + i as f64 * D;
        txs.push(cash_in("funnel", 9000.0, t, city));
        txs.push(
            Tx::new("funnel", "CASH", 8800.0, Channel::AtmWithdrawal, t + 6.0)
                .with(col::GEO_CITY, "Los Angeles"),
        );
    }
    // Look-alike: a route-sales business withdrawing where it deposits.
    for (i, city) in ["Reno", "Boise", "Tulsa"].iter().enumerate() {
        let t = 32.0 * D + i as f64 * D;
        txs.push(cash_in("route", 9000.0, t, city));
        txs.push(
            Tx::new("route", "CASH", 3000.0, Channel::CashWithdrawal, t + 1.0)
                .with(col::GEO_CITY, city),
        );
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("funnel", "cash_in_cities_30d"), 4.0);
    assert!((f.get("funnel", "remote_out_ratio_30d") - 8800.0 / 9000.0).abs() < 1e-9);
    assert_eq!(f.get("funnel", "remote_out_lag_median_h_30d"), 6.0);
    assert_eq!(f.get("funnel", "cash_near_threshold_30d"), 8.0);
    assert_eq!(f.get("route", "remote_out_ratio_30d"), 0.0);
    assert!(f.value("route", "remote_out_lag_median_h_30d").is_none());
    assert!(
        f.value("clock-a", "remote_out_ratio_30d").is_none(),
        "no cash in: undefined"
    );
}

#[test]
fn structuring_split_across_branches_within_a_day() {
    let mut txs = Vec::new();
    for (i, loc) in ["B1", "B2", "B3"].iter().enumerate() {
        txs.push(
            cash_in("smurf", 4000.0, 35.0 * D + i as f64 * 3.0, "Metz").with(col::LOCATION_ID, loc),
        );
    }
    // Look-alike: a shop banking its takings at one branch, two days apart.
    for i in 0..3 {
        txs.push(
            cash_in("shop", 6000.0, 35.0 * D + i as f64 * 48.0, "Metz")
                .with(col::LOCATION_ID, "B1"),
        );
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("smurf", "cash_24h_max_sum"), 12_000.0);
    assert_eq!(
        f.get("smurf", "split_24h_30d"),
        1.0,
        "the third piece completes the split"
    );
    assert_eq!(f.get("shop", "split_24h_30d"), 0.0);
    assert_eq!(f.get("shop", "cash_24h_max_sum"), 6000.0);
}

#[test]
fn threshold_avoidance_after_a_declined_large_deposit() {
    let txs = vec![
        Tx::new("CASH", "avoider", 12_000.0, Channel::CashDeposit, 38.0 * D)
            .status(Status::Declined),
        Tx::new(
            "CASH",
            "avoider",
            6000.0,
            Channel::CashDeposit,
            38.0 * D + 0.5,
        ),
        Tx::new(
            "CASH",
            "avoider",
            5500.0,
            Channel::AtmDeposit,
            38.0 * D + 1.5,
        ),
        // Look-alike: a declined card payment, nothing after it.
        Tx::new("carduser", "shop", 15_000.0, Channel::CardPresent, 38.0 * D)
            .status(Status::Declined),
        Tx::new(
            "carduser",
            "shop",
            50.0,
            Channel::CardPresent,
            38.0 * D + 1.0,
        ),
    ];
    let f = features(&with_noise(txs));
    assert_eq!(f.get("avoider", "threshold_avoidance_7d"), 1.0);
    assert_eq!(
        f.get("avoider", "n_in_30d"),
        2.0,
        "declined rows are not counted as credits"
    );
    assert_eq!(f.get("carduser", "threshold_avoidance_7d"), 0.0);
}

#[test]
fn wage_sweeps_tag_the_destination_that_collects_them() {
    let mut txs = Vec::new();
    for w in 0..3 {
        let worker = format!("worker{w}");
        for cycle in 0..3 {
            let t = 5.0 * D + cycle as f64 * 14.0 * D + w as f64;
            txs.push(
                Tx::new("farm", &worker, 1500.0, Channel::Ach, t)
                    .with(col::PURPOSE_CODE, "SALA")
                    .with(col::RECEIVER_NAME, &format!("Worker {w}")),
            );
            txs.push(Tx::new(&worker, "boss", 1400.0, Channel::P2pApp, t + 5.0));
        }
    }
    // Look-alike: rent paid a week after payday.
    for cycle in 0..3 {
        let t = 12.0 * D + cycle as f64 * 14.0 * D;
        txs.push(
            Tx::new("farm", "tenant", 1500.0, Channel::Ach, t).with(col::PURPOSE_CODE, "SALA"),
        );
        txs.push(Tx::new(
            "tenant",
            "landlord",
            900.0,
            Channel::Ach,
            t + 7.0 * D,
        ));
    }
    let f = features(&with_noise(txs));
    for w in 0..3 {
        assert_eq!(f.get(&format!("worker{w}"), "payroll_in_90d"), 3.0);
        assert_eq!(f.get(&format!("worker{w}"), "wage_sweeps_90d"), 3.0);
        assert_eq!(f.get(&format!("worker{w}"), "wage_sweeps_last3_90d"), 3.0);
    }
    assert_eq!(f.get("boss", "sweep_sources_90d"), 3.0);
    assert_eq!(f.get("tenant", "wage_sweeps_90d"), 0.0);
    assert_eq!(f.get("landlord", "sweep_sources_90d"), 0.0);
}

#[test]
fn several_payroll_names_into_one_account() {
    let mut txs = Vec::new();
    for (i, name) in ["A. Lee", "B. Chan", "C. Diaz"].iter().enumerate() {
        txs.push(
            Tx::new(
                &format!("employer{i}"),
                "shared",
                1200.0,
                Channel::Ach,
                30.0 * D + i as f64,
            )
            .with(col::PURPOSE_CODE, "SALA")
            .with(col::RECEIVER_NAME, name),
        );
    }
    // Look-alike: a couple, two names.
    for (i, name) in ["D. Kim", "E. Kim"].iter().enumerate() {
        txs.push(
            Tx::new(
                "employer0",
                "joint",
                1200.0,
                Channel::Ach,
                30.0 * D + i as f64,
            )
            .with(col::PURPOSE_CODE, "SALA")
            .with(col::RECEIVER_NAME, name),
        );
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("shared", "payroll_names_35d"), 3.0);
    assert_eq!(f.get("shared", "payroll_employers_35d"), 3.0);
    assert_eq!(f.get("joint", "payroll_names_35d"), 2.0);
}

#[test]
fn prepaid_then_crypto_then_ad_site() {
    let txs = vec![
        Tx::new("buyer", "giftco", 200.0, Channel::PrepaidPurchase, 33.0 * D),
        Tx::new("buyer", "paxful", 190.0, Channel::CryptoBuy, 33.0 * D + 3.0),
        Tx::new("buyer", "ads", 24.0, Channel::CardNotPresent, 34.0 * D).mcc(7311),
        // Look-alike: a gift card, and a crypto purchase a month later.
        Tx::new(
            "hobbyist",
            "giftco",
            200.0,
            Channel::PrepaidPurchase,
            11.0 * D,
        ),
        Tx::new("hobbyist", "exchange", 190.0, Channel::CryptoBuy, 38.0 * D),
    ];
    let f = features(&with_noise(txs));
    assert_eq!(f.get("buyer", "prepaid_crypto_ad_chain_7d"), 2.0);
    assert_eq!(f.get("hobbyist", "prepaid_crypto_ad_chain_7d"), 0.0);
}

#[test]
fn ad_site_micropayments_and_multi_city_short_stays() {
    let mut txs = Vec::new();
    for week in 0..4 {
        let t = 12.0 * D + week as f64 * 7.0 * D;
        txs.push(Tx::new("poster", "escortads", 12.0, Channel::CardNotPresent, t).mcc(7311));
        txs.push(
            Tx::new(
                "poster",
                &format!("motel{week}"),
                89.0,
                Channel::CardPresent,
                t + 2.0,
            )
            .mcc(7011)
            .with(
                col::GEO_CITY,
                ["Fresno", "Modesto", "Stockton", "Merced"][week],
            ),
        );
    }
    // Look-alike: one classified ad for a sofa, one business hotel stay.
    txs.push(
        Tx::new(
            "seller",
            "classifieds",
            12.0,
            Channel::CardNotPresent,
            20.0 * D,
        )
        .mcc(7311),
    );
    txs.push(
        Tx::new("seller", "hilton", 420.0, Channel::CardPresent, 22.0 * D)
            .mcc(3504)
            .with(col::GEO_CITY, "Denver"),
    );
    let f = features(&with_noise(txs));
    assert_eq!(f.get("poster", "ad_site_payments_30d"), 4.0);
    assert_eq!(f.get("poster", "ad_site_weeks_30d"), 4.0);
    assert_eq!(f.get("poster", "ad_site_median_amount_30d"), 12.0);
    assert_eq!(f.get("poster", "ad_site_repeat_share_30d"), 1.0);
    assert_eq!(f.get("poster", "lodging_cities_30d"), 4.0);
    assert_eq!(f.get("poster", "lodging_small_share_30d"), 1.0);
    assert_eq!(f.get("seller", "ad_site_payments_30d"), 1.0);
    assert_eq!(f.get("seller", "lodging_small_share_30d"), 0.0);
}

#[test]
fn after_hours_receipts_use_local_time() {
    let mut txs = Vec::new();
    for i in 0..20 {
        // 03:00 UTC is 22:00 the day before at UTC-5: outside 09:00-21:00 local.
        let t = 20.0 * D + i as f64 * D + 3.0;
        txs.push(
            Tx::new(&format!("client{i}"), "spa", 80.0, Channel::CardPresent, t)
                .mcc(7297)
                .offset(-300),
        );
        // At UTC+9, 03:00 and 15:00 UTC are 12:00 and 00:00 local: half inside.
        let t = 30.0 * D + i as f64 * 12.0 + 3.0;
        txs.push(
            Tx::new(&format!("guest{i}"), "bar", 8.0, Channel::CardPresent, t)
                .mcc(5813)
                .offset(540),
        );
        // A fast-food place open all night is not an adult-service-type venue.
        txs.push(
            Tx::new(&format!("eater{i}"), "diner", 8.0, Channel::CardPresent, t)
                .mcc(5814)
                .offset(540),
        );
    }
    let f = features(&with_noise(txs));
    assert_eq!(f.get("spa", "after_hours_receipt_share_30d"), 1.0);
    assert_eq!(f.get("bar", "after_hours_receipt_share_30d"), 0.5);
    assert!(f.value("diner", "after_hours_receipt_share_30d").is_none());
    assert_eq!(f.get("client3", "adult_venue_after_hours_30d"), 1.0);
    assert!(
        f.value("clock-b", "after_hours_receipt_share_30d")
            .is_none(),
        "under 20 receipts"
    );
}

#[test]
fn customers_roll_up_their_accounts_without_own_transfers() {
    let txs = vec![
        Tx::wire("emp", "a1", 1000.0, 35.0 * D).with(col::RECEIVER_CUSTOMER_ID, "K"),
        Tx::wire("emp", "a2", 500.0, 35.0 * D + 1.0).with(col::RECEIVER_CUSTOMER_ID, "K"),
        Tx::wire("a1", "a2", 700.0, 36.0 * D)
            .with(col::SENDER_CUSTOMER_ID, "K")
            .with(col::RECEIVER_CUSTOMER_ID, "K"),
        Tx::wire("a2", "rent", 900.0, 37.0 * D).with(col::SENDER_CUSTOMER_ID, "K"),
    ];
    let f = features(&with_noise(txs));
    assert_eq!(f.get("customer:K", "n_in_30d"), 2.0);
    assert_eq!(f.get("customer:K", "in_sum_30d"), 1500.0);
    assert_eq!(f.get("customer:K", "n_out_30d"), 1.0);
    assert_eq!(
        f.get("a2", "n_in_30d"),
        2.0,
        "at account level the own transfer counts"
    );
}

#[test]
fn velocity_and_amount_z_against_own_history() {
    let mut txs = Vec::new();
    // 180 days of one 100.00 payment every 3 days, then a burst of 20 in the window.
    for k in 0..60 {
        txs.push(Tx::wire(
            "steady",
            "utility",
            100.0 + (k % 3) as f64,
            200.0 * D - 30.0 * D - k as f64 * 3.0 * D,
        ));
    }
    for k in 0..20 {
        txs.push(Tx::wire(
            "steady",
            &format!("new{k}"),
            5000.0,
            200.0 * D - k as f64 * D,
        ));
    }
    // A newcomer has no baseline: both undefined.
    txs.push(Tx::wire("newcomer", "utility", 100.0, 199.0 * D));
    txs.push(Tx::wire("clock-a", "clock-b", 1.0, 200.0 * D));
    let f = features_with(&txs, &FeatureConfig::default());
    let v = f.get("steady", "velocity_ratio_30d");
    assert!((v - 20.0 / (60.0 / 6.0)).abs() < 1e-9, "{v}");
    assert!(f.get("steady", "amount_z_max_30d") > 1000.0);
    assert!(f.value("newcomer", "velocity_ratio_30d").is_none());
    assert!(f.value("newcomer", "amount_z_max_30d").is_none());
}

#[test]
fn peer_percentiles_within_kind_and_segment() {
    let mut txs = Vec::new();
    for i in 0..10 {
        txs.push(Tx::wire(
            "src",
            &format!("p{i}"),
            100.0 * (i + 1) as f64,
            35.0 * D + i as f64,
        ));
    }
    txs.push(Tx::wire("clock-a", "clock-b", 1.0, END));
    let f = features(&txs);
    // p0..p9 and both clocks have one transaction: one segment of twelve (src, with ten, is in
    // the next). clock-a received nothing, clock-b 1.00, p9 the most.
    assert!((f.get("p9", "peer_pct_in_sum_30d") - 100.0 * 11.5 / 12.0).abs() < 1e-9);
    assert!((f.get("clock-b", "peer_pct_in_sum_30d") - 100.0 * 1.5 / 12.0).abs() < 1e-9);
    assert!((f.get("clock-a", "peer_pct_in_sum_30d") - 100.0 * 0.5 / 12.0).abs() < 1e-9);
    assert_eq!(
        f.get("src", "peer_pct_out_sum_30d"),
        50.0,
        "alone in its segment"
    );
}
