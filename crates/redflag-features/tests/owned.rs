//! `compute_owned` lets the table's columns go as it reads them: the features must not change
//! for it, and the kept columns must come back intact.

mod common;

use arrow::array::{Array, AsArray, RecordBatch};
use common::{batch, rich};
use redflag_features::{FeatureConfig, compute_owned};
use redflag_schema::columns as col;

fn names(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn letting_columns_go_early_changes_no_feature_and_keeps_what_was_asked() {
    let txs = rich();
    let (first, second) = txs.split_at(txs.len() / 2);
    let batches = vec![batch(first), batch(second)];
    let mut cfg = FeatureConfig::default();
    // The sender's id is then read again after interning.
    cfg.payroll_originators.insert("employer".to_owned());
    cfg.corridors.insert("MX".to_owned());
    cfg.ad_site_merchants.push("escort".to_owned());

    // Keeping every column means none is let go: the reference.
    let all: Vec<String> = names(&batches[0]);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let (reference, whole) = compute_owned(batches.clone(), &all, &cfg).expect("reference");
    assert_eq!(whole, batches, "kept columns come back untouched");

    for keep in [&[][..], &[col::TXN_ID][..]] {
        let (got, kept) = compute_owned(batches.clone(), keep, &cfg).expect("features");
        assert_eq!(got.batch, reference.batch, "features, keeping {keep:?}");
        assert_eq!(
            got.profiles, reference.profiles,
            "profiles, keeping {keep:?}"
        );
        assert_eq!(got.as_of, reference.as_of);
        assert_eq!(got.ledger.len(), txs.len());
        assert_eq!(kept.len(), 2);
        for (k, b) in kept.iter().zip(&batches) {
            assert_eq!(k.num_rows(), b.num_rows());
            assert_eq!(names(k), keep.to_vec());
            if !keep.is_empty() {
                let ids = k.column(0).as_string::<i32>();
                let want = b.column_by_name(col::TXN_ID).expect("txn_id");
                assert_eq!(ids, want.as_string::<i32>());
            }
        }
    }

    // The rich columns did reach the features: otherwise the comparison above shows nothing.
    let ids = reference.batch.column(0).as_string::<i32>();
    let row = (0..ids.len())
        .find(|&r| ids.value(r) == "acct-1")
        .expect("acct-1 scored");
    let value = |name: &str| {
        let c = reference.batch.column_by_name(name).expect(name);
        let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Float64).expect("cast");
        c.as_primitive::<arrow::datatypes::Float64Type>().value(row)
    };
    for name in [
        "ad_site_payments_30d",   // merchant name
        "payroll_in_90d",         // purpose code and the originator's id
        "corridor_out_share_30d", // receiver country
        "geo_cities_30d",         // city
        "shared_id_cluster_30d",  // device and IP
        "lodging_30d",            // MCC
    ] {
        assert!(value(name) > 0.0, "{name} of acct-1 is {}", value(name));
    }
    assert_ne!(
        reference.profiles.institution[row],
        u32::MAX,
        "institution read"
    );
}
