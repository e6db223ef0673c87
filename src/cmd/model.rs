//! `redflag model fit` and `redflag model score`: the isolation forest on a feature table.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use linfa::ParamGuard;
use ndarray::Array2;
use rayon::prelude::*;
use redflag_iforest::{IsolationForest, IsolationForestParams, SplitKind};
use redflag_io::{AtomicFile, ParquetTable, push_csv_field, push_fixed, read_table};

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
            let table = Table::open(&input)?;
            let schema = table.schema();
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
            let (x, _) = table.matrix(&features, None, &[])?;
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
            let table = Table::open(&input)?;
            let schema = table.schema();
            let features = feature_columns(&schema, &exclude);
            let names: Vec<String> = features
                .iter()
                .map(|&i| schema.field(i).name().clone())
                .collect();
            if let Err(e) = forest.check_features(&names) {
                // Columns excluded at fit are the common case: say how to carry them.
                let extra: Vec<&str> = names
                    .iter()
                    .filter(|n| !forest.feature_names().contains(n))
                    .map(String::as_str)
                    .collect();
                let hint = if !extra.is_empty()
                    && forest.feature_names().iter().all(|n| names.contains(n))
                {
                    format!(
                        " (to carry columns that are not features through to {}, pass --exclude {})",
                        out.display(),
                        extra.join(",")
                    )
                } else {
                    String::new()
                };
                return Err(anyhow::Error::new(e).context(format!(
                    "{} against {}{hint}",
                    input.display(),
                    model.display()
                )));
            }
            // Keep only the carried columns: the features move into `x`.
            let carried: Vec<usize> = (0..schema.fields().len())
                .filter(|i| !features.contains(i))
                .collect();
            let (x, batches) = table.matrix(&features, Some(forest.medians()), &carried)?;
            let t_read = t0.elapsed().as_secs_f64();
            let carried_schema = Arc::new(schema.project(&carried)?);
            let t1 = Instant::now();
            let scores = forest.score(x.view())?;
            let t_score = t1.elapsed().as_secs_f64();
            let t2 = Instant::now();
            write_scores(
                &out,
                &carried_schema,
                &batches,
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

/// A feature table: Parquet, decoded row group by row group straight into the matrix, or CSV,
/// read whole first.
enum Table {
    Parquet(ParquetTable),
    Batches(SchemaRef, Vec<RecordBatch>),
}

impl Table {
    fn open(path: &Path) -> Result<Table> {
        Ok(match ParquetTable::open(path)? {
            Some(t) => Table::Parquet(t),
            None => {
                let (schema, batches) = read_table(path)?;
                Table::Batches(schema, batches)
            }
        })
    }

    fn schema(&self) -> SchemaRef {
        match self {
            Table::Parquet(t) => t.schema(),
            Table::Batches(s, _) => s.clone(),
        }
    }

    /// The feature matrix (row-major) and the `keep` columns of every row. Empty cells become
    /// `fill[j]`, or, when fitting, the column's median (estimated on up to 100,000 evenly
    /// spaced non-empty cells).
    ///
    /// From Parquet, each row group's feature columns are copied into the matrix as soon as
    /// the group is decoded, so the table's feature columns are never all in memory beside the
    /// matrix: the peak is the matrix plus the groups in flight.
    fn matrix(
        self,
        features: &[usize],
        fill: Option<&[f64]>,
        keep: &[usize],
    ) -> Result<(Array2<f64>, Vec<RecordBatch>)> {
        match self {
            Table::Batches(_, batches) => matrix(batches, features, fill, keep),
            Table::Parquet(t) => parquet_matrix(&t, features, fill, keep),
        }
    }
}

fn parquet_matrix(
    t: &ParquetTable,
    features: &[usize],
    fill: Option<&[f64]>,
    keep: &[usize],
) -> Result<(Array2<f64>, Vec<RecordBatch>)> {
    let rows = t.group_rows();
    let n: usize = rows.iter().sum();
    let f = features.len();
    let mut x = Array2::<f64>::zeros((n, f));
    let mut parts = Vec::with_capacity(rows.len());
    let mut starts = Vec::with_capacity(rows.len());
    let mut rest = x.view_mut();
    let mut start = 0;
    for &r in &rows {
        let (head, tail) = rest.split_at(ndarray::Axis(0), r);
        parts.push(head);
        starts.push(start);
        rest = tail;
        start += r;
    }
    // Per group: its kept columns, and the cells left empty (row-major positions) when the
    // medians are not known yet.
    let groups: Vec<(Vec<RecordBatch>, Vec<usize>)> = parts
        .into_par_iter()
        .enumerate()
        .map(|(rg, mut part)| -> Result<_> {
            let mut kept = Vec::new();
            let mut empty = Vec::new();
            let mut row = 0;
            for b in t.read_group(rg)? {
                if row + b.num_rows() > part.nrows() {
                    bail!("row group {rg} holds more rows than the file's metadata says");
                }
                for (j, &c) in features.iter().enumerate() {
                    let a = float_column(&b, c);
                    let a = a.as_primitive::<Float64Type>();
                    for i in 0..a.len() {
                        part[(row + i, j)] = if a.is_valid(i) {
                            a.value(i)
                        } else if let Some(v) = fill {
                            v[j]
                        } else {
                            empty.push((starts[rg] + row + i) * f + j);
                            0.0
                        };
                    }
                }
                kept.push(b.project(keep)?);
                row += b.num_rows();
            }
            if row != part.nrows() {
                bail!("row group {rg} holds fewer rows than the file's metadata says");
            }
            Ok((kept, empty))
        })
        .collect::<Result<_>>()?;
    let mut kept = Vec::new();
    let mut empty = Vec::new();
    for (k, e) in groups {
        kept.extend(k);
        empty.extend(e);
    }
    if !empty.is_empty() {
        // The medians `median_of_present` takes: every `step`-th row's non-empty cells.
        empty.sort_unstable();
        let step = (n / 100_000).max(1);
        let medians: Vec<f64> = (0..f)
            .into_par_iter()
            .map(|j| {
                median(
                    (0..n)
                        .step_by(step)
                        .filter(|&r| empty.binary_search(&(r * f + j)).is_err())
                        .map(|r| x[(r, j)])
                        .collect(),
                )
            })
            .collect();
        let cells = x
            .as_slice_mut()
            .context("the feature matrix is not contiguous")?;
        for &e in &empty {
            cells[e] = medians[e % f];
        }
    }
    Ok((x, kept))
}

/// The feature matrix of batches already in memory (see [`Table::matrix`]). The batches are
/// consumed: each is cut down to the `keep` columns as soon as its rows are copied.
fn matrix(
    batches: Vec<RecordBatch>,
    features: &[usize],
    fill: Option<&[f64]>,
    keep: &[usize],
) -> Result<(Array2<f64>, Vec<RecordBatch>)> {
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let f = features.len();
    let fills: Vec<f64> = match fill {
        Some(v) => v.to_vec(),
        None => features
            .par_iter()
            .map(|&c| median_of_present(&batches, c, n))
            .collect(),
    };
    let mut x = Array2::<f64>::zeros((n, f));
    let mut parts = Vec::with_capacity(batches.len());
    let mut rest = x.view_mut();
    for b in &batches {
        let (head, tail) = rest.split_at(ndarray::Axis(0), b.num_rows());
        parts.push(head);
        rest = tail;
    }
    let kept = parts
        .into_par_iter()
        .zip(batches.into_par_iter())
        .map(|(mut part, b)| {
            for (j, &c) in features.iter().enumerate() {
                let a = float_column(&b, c);
                let a = a.as_primitive::<Float64Type>();
                for i in 0..a.len() {
                    part[(i, j)] = if a.is_valid(i) { a.value(i) } else { fills[j] };
                }
            }
            b.project(keep)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((x, kept))
}

fn float_column(b: &RecordBatch, c: usize) -> arrow::array::ArrayRef {
    cast(b.column(c), &DataType::Float64)
        .unwrap_or_else(|_| arrow::array::new_null_array(&DataType::Float64, b.num_rows()))
}

fn median_of_present(batches: &[RecordBatch], c: usize, n: usize) -> f64 {
    let step = (n / 100_000).max(1);
    let mut sample = Vec::with_capacity(n / step + 1);
    let mut offset = 0usize;
    for b in batches {
        let a = float_column(b, c);
        let a = a.as_primitive::<Float64Type>();
        let first = (step - offset % step) % step;
        sample.extend(
            (first..a.len())
                .step_by(step)
                .filter(|&i| a.is_valid(i))
                .map(|i| a.value(i)),
        );
        offset += a.len();
    }
    median(sample)
}

/// The median of a sample (the upper one of an even count), 0 for none.
fn median(mut sample: Vec<f64>) -> f64 {
    if sample.is_empty() {
        return 0.0;
    }
    let mid = sample.len() / 2;
    *sample.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Writes SCORES.csv: the batches' (carried) columns, `score`, `percentile`; formatted in
/// parallel.
fn write_scores(
    out: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    scores: &[f64],
    forest: &IsolationForest,
) -> Result<()> {
    let mut file = AtomicFile::create(out)?;
    let mut header = String::new();
    for field in schema.fields() {
        push_csv_field(&mut header, field.name());
        header.push(',');
    }
    header.push_str("score,percentile\n");
    file.write_all(header.as_bytes())?;
    let mut offset = 0usize;
    for b in batches {
        let n = b.num_rows();
        let texts: Vec<arrow::array::StringArray> = b
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8).map(|a| a.as_string::<i32>().clone()))
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
                    push_fixed(&mut s, score, 6);
                    s.push(',');
                    push_fixed(&mut s, forest.percentile(score), 3);
                    s.push('\n');
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
