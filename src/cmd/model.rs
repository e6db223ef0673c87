//! `redflag model fit` and `redflag model score`: the isolation forest on a feature table.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use linfa::ParamGuard;
use ndarray::Array2;
use rayon::prelude::*;
use redflag_iforest::{IsolationForest, IsolationForestParams, SplitKind};
use redflag_io::{AtomicFile, push_csv_field, read_table};

use crate::cli::ModelCommand;

pub fn run(cmd: ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Fit {
            input,
            out,
            n_trees,
            sample_size,
            seed,
            exclude,
            extended,
        } => {
            let t0 = Instant::now();
            let (schema, batches) = read_table(&input)?;
            let features = feature_columns(&schema, &exclude);
            if features.is_empty() {
                bail!(
                    "{}: no numeric feature column (after --exclude); columns: {}",
                    input.display(),
                    column_list(&schema)
                );
            }
            let names: Vec<String> = features
                .iter()
                .map(|&i| schema.field(i).name().clone())
                .collect();
            let x = matrix(&batches, &features, None);
            let t_read = t0.elapsed().as_secs_f64();
            let params = IsolationForestParams::new()
                .n_trees(n_trees)
                .sample_size(sample_size)
                .seed(seed)
                .split(if extended {
                    SplitKind::Extended
                } else {
                    SplitKind::AxisParallel
                })
                .check()?;
            let t1 = Instant::now();
            let forest = IsolationForest::fit_named(&params, x.view(), names)
                .with_context(|| format!("fitting on {}", input.display()))?;
            let t_fit = t1.elapsed().as_secs_f64();
            redflag_io::write_atomic(&out, forest.to_json().as_bytes())?;
            eprintln!(
                "fitted {} trees (ψ = {}) on {} rows × {} features in {t_fit:.3} s (read {t_read:.3} s); constant features skipped: [{}]; wrote {}",
                forest.n_trees(),
                forest.sample_size(),
                x.nrows(),
                x.ncols(),
                forest.constant_features().join(", "),
                out.display()
            );
        }
        ModelCommand::Score {
            model,
            input,
            out,
            exclude,
        } => {
            let t0 = Instant::now();
            let text = std::fs::read_to_string(&model)
                .with_context(|| format!("reading model file {}", model.display()))?;
            let forest = IsolationForest::from_json(&text)
                .with_context(|| format!("loading {}", model.display()))?;
            let (schema, batches) = read_table(&input)?;
            let features = feature_columns(&schema, &exclude);
            let names: Vec<String> = features
                .iter()
                .map(|&i| schema.field(i).name().clone())
                .collect();
            forest
                .check_features(&names)
                .with_context(|| format!("{} against {}", input.display(), model.display()))?;
            let x = matrix(&batches, &features, Some(forest.medians()));
            let t_read = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let scores = forest.score(x.view())?;
            let t_score = t1.elapsed().as_secs_f64();
            let carried: Vec<usize> = (0..schema.fields().len())
                .filter(|i| !features.contains(i))
                .collect();
            let t2 = Instant::now();
            write_scores(
                &out,
                &schema,
                &batches,
                &carried,
                scores.as_slice().unwrap_or(&[]),
                &forest,
            )?;
            eprintln!(
                "scored {} rows in {t_score:.3} s (read {t_read:.3} s, write {:.3} s); wrote {}",
                x.nrows(),
                t2.elapsed().as_secs_f64(),
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn column_list(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} ({})", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Indices of the numeric columns that are not excluded.
fn feature_columns(schema: &SchemaRef, exclude: &[String]) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.data_type().is_numeric() && !exclude.contains(f.name()))
        .map(|(i, _)| i)
        .collect()
}

/// The feature matrix (row-major). Empty cells become `fill[j]`, or the column's median
/// (estimated on up to 100,000 evenly spaced non-empty cells) when fitting.
fn matrix(batches: &[RecordBatch], features: &[usize], fill: Option<&[f64]>) -> Array2<f64> {
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let f = features.len();
    let cols: Vec<Vec<Option<f64>>> = features
        .par_iter()
        .map(|&c| {
            let mut v = Vec::with_capacity(n);
            for b in batches {
                let a = cast(b.column(c), &DataType::Float64).unwrap_or_else(|_| {
                    arrow::array::new_null_array(&DataType::Float64, b.num_rows())
                });
                let a = a.as_primitive::<Float64Type>();
                v.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))));
            }
            v
        })
        .collect();
    let fills: Vec<f64> = match fill {
        Some(f) => f.to_vec(),
        None => cols.iter().map(|c| median_of_present(c)).collect(),
    };
    let mut x = Array2::<f64>::zeros((n, f));
    x.axis_chunks_iter_mut(ndarray::Axis(0), 1 << 14)
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut chunk)| {
            let start = k << 14;
            for (r, mut row) in chunk.outer_iter_mut().enumerate() {
                for j in 0..f {
                    row[j] = cols[j][start + r].unwrap_or(fills[j]);
                }
            }
        });
    x
}

fn median_of_present(col: &[Option<f64>]) -> f64 {
    let present: Vec<f64> = col.iter().flatten().copied().collect();
    if present.is_empty() {
        return 0.0;
    }
    let step = (present.len() / 100_000).max(1);
    let mut sample: Vec<f64> = present.iter().step_by(step).copied().collect();
    let mid = sample.len() / 2;
    *sample.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Writes SCORES.csv: carried columns, `score`, `percentile`; formatted in parallel.
fn write_scores(
    out: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    carried: &[usize],
    scores: &[f64],
    forest: &IsolationForest,
) -> Result<()> {
    let mut file = AtomicFile::create(out)?;
    let mut header = String::new();
    for &c in carried {
        push_csv_field(&mut header, schema.field(c).name());
        header.push(',');
    }
    header.push_str("score,percentile\n");
    file.write_all(header.as_bytes())?;
    let mut offset = 0usize;
    for b in batches {
        let n = b.num_rows();
        let texts: Vec<arrow::array::StringArray> = carried
            .iter()
            .map(|&c| cast(b.column(c), &DataType::Utf8).map(|a| a.as_string::<i32>().clone()))
            .collect::<Result<_, _>>()?;
        let text: Vec<String> = (0..n)
            .into_par_iter()
            .chunks(4096)
            .map(|rows| {
                let mut s = String::with_capacity(rows.len() * 32);
                for r in rows {
                    for t in &texts {
                        if t.is_valid(r) {
                            push_csv_field(&mut s, t.value(r));
                        }
                        s.push(',');
                    }
                    let score = scores[offset + r];
                    s.push_str(&format!("{score:.6},{:.3}\n", forest.percentile(score)));
                }
                s
            })
            .collect();
        for t in text {
            file.write_all(t.as_bytes())?;
        }
        offset += n;
    }
    file.commit()?;
    Ok(())
}
