//! Criterion benchmark of the isolation forest: fit and score on seeded data.
//!
//! What is timed: `fit` (100 trees, ψ = 256, 16 features) on 100k rows, and `score` of the
//! same 100k rows. Data: a seeded Gaussian-like cloud with 0.5 % far outliers. The
//! side-by-side comparison with scikit-learn at 1M and 10M rows is `redflag model fit/score`
//! against `../shared/bench/baseline_iforest.py` (see the README).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{Criterion, criterion_group, criterion_main};
use linfa::DatasetBase;
use linfa::traits::Fit;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redflag_iforest::IsolationForestParams;

fn data(n: usize, f: usize) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    Array2::from_shape_fn((n, f), |(i, _)| {
        let v: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum();
        if i % 200 == 0 { v + 10.0 } else { v }
    })
}

fn bench(c: &mut Criterion) {
    let x = data(100_000, 16);
    let ds = DatasetBase::from(x.clone());
    let params = IsolationForestParams::new()
        .n_trees(100)
        .sample_size(256)
        .seed(1);
    let mut g = c.benchmark_group("iforest_100k_x16");
    g.sample_size(10);
    g.bench_function("fit", |b| b.iter(|| params.fit(&ds).expect("fit")));
    let forest = params.fit(&ds).expect("fit");
    g.bench_function("score", |b| {
        b.iter(|| forest.score(x.view()).expect("score"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
