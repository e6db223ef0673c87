//! Rules and the isolation forest's scoring on a DataFusion Ballista cluster (cargo feature
//! `distributed`).
//!
//! [`Engine::cluster`](crate::Engine::cluster) names a scheduler (`df://HOST:PORT`), or
//! `standalone` for a scheduler and an executor started in this process on loopback. The run
//! then writes the entity feature table as Parquet files to a staging directory the executors can
//! read (a shared mount on a real cluster), and every enabled rule's `when` and `escalate_when`
//! become one projection that Ballista plans, splits over the table's partitions and executes.
//! The boolean columns come back keyed by row, and [`RuleEngine::evaluate_with`] turns them
//! into hits, reasons and the alert policy exactly as a local run does, so alerts and scores
//! are byte-identical to a local run on the same data (held by `tests/cluster.rs`).
//!
//! The isolation forest is fitted where redflag runs (on its reference rows, as locally) and
//! scored by the cluster: the model travels inside the plan as a literal argument of
//! [`SCORE_FUNCTION`], so every task scores its partition with the same trees, and the scores
//! come back keyed by row like the rules'. Executors must know that function: the in-process
//! `standalone` cluster does, and so do the scheduler and executors that
//! `redflag cluster scheduler|executor` start (see [`session_state`]). On a cluster of stock
//! Ballista processes the rules still run there and the forest is scored locally, which the
//! manifest records.
//!
//! Ingest, the feature and graph pass and ranking still run on the machine that runs redflag;
//! see `docs/cluster-scale.md` for how they split.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, UInt32Type};
use ballista::prelude::SessionContextExt;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext, col, lit};
use ndarray::Array2;
use redflag_iforest::IsolationForest;
use redflag_rules::{Conditions, RuleEngine};

use crate::{Error, Result};

/// The column that carries each row's position through the cluster.
const ROW: &str = "__redflag_row";

/// A connection to a Ballista scheduler, with the runtime its client (and, for `standalone`,
/// its in-process scheduler and executor) run on.
pub(crate) struct Cluster {
    url: String,
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    staging: PathBuf,
}

impl Cluster {
    /// Connects to `url` (`df://HOST:PORT` or `standalone`) and checks that the scheduler
    /// answers, so that a wrong address fails before the feature pass, not after it.
    pub(crate) fn connect(url: &str, staging: &Path) -> Result<Cluster> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::Config(format!(
                "cluster {url}: {e} (is a Ballista scheduler listening there?)"
            ))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| fail(&e))?;
        let ctx = runtime.block_on(async {
            let ctx = if url == "standalone" {
                SessionContext::standalone_with_state(session_state(SessionConfig::new())).await?
            } else if url.starts_with("df://") {
                SessionContext::remote_with_state(url, session_state(SessionConfig::new())).await?
            } else {
                return Err(datafusion::error::DataFusionError::Configuration(
                    "expected df://HOST:PORT or standalone".into(),
                ));
            };
            ctx.sql("SELECT 1").await?.collect().await?;
            Ok(ctx)
        });
        let ctx = ctx.map_err(|e| fail(&e))?;
        let staging = std::path::absolute(staging)
            .map_err(|e| Error::Config(format!("{}: {e}", staging.display())))?;
        Ok(Cluster {
            url: url.to_owned(),
            runtime,
            ctx,
            staging,
        })
    }

    /// Writes `table` (an `entity_features` batch) where the executors read it, for
    /// [`Cluster::conditions`] and [`Cluster::scores`]; removed when the handle is dropped.
    pub(crate) fn stage(&self, table: &RecordBatch) -> Result<Staged> {
        let dir = Staging::create(&self.staging)?;
        write_with_rows(table, &dir.0)?;
        Ok(Staged {
            dir,
            rows: table.num_rows(),
        })
    }

    /// Runs one projection of `exprs` (each aliased to its result column) over the staged
    /// table on the cluster.
    fn project(
        &self,
        staged: &Staged,
        exprs: Vec<Expr>,
    ) -> datafusion::error::Result<Vec<RecordBatch>> {
        let path = format!("{}/", staged.dir.0.display());
        let mut all = vec![col(ROW)];
        all.extend(exprs);
        self.runtime.block_on(async {
            self.ctx
                .read_parquet(path, ParquetReadOptions::default())
                .await?
                .select(all)?
                .collect()
                .await
        })
    }

    /// Every enabled rule's conditions over the staged table, evaluated by the cluster; in
    /// rule order, `None` for a disabled rule, as [`RuleEngine::evaluate_with`] takes them.
    pub(crate) fn conditions(
        &self,
        engine: &RuleEngine,
        staged: &Staged,
    ) -> Result<Vec<Option<Conditions>>> {
        let mut exprs = Vec::new();
        for (k, r) in engine.rules().iter().enumerate() {
            if !r.rule.enabled {
                continue;
            }
            exprs.push(r.when.expr.clone().alias(format!("w{k}")));
            if let Some(e) = &r.escalate {
                exprs.push(e.expr.clone().alias(format!("e{k}")));
            }
        }
        let batches = self
            .project(staged, exprs)
            .map_err(|e| Error::Config(format!("cluster {}: rule evaluation: {e}", self.url)))?;
        let column = |name: &str| {
            gather(&batches, name, staged.rows, |v| {
                let b = redflag_rules::as_condition(v);
                Ok((0..b.len())
                    .map(|i| b.is_valid(i).then(|| b.value(i)))
                    .collect())
            })
            .map(|v: Vec<Option<bool>>| BooleanArray::from(v))
        };
        engine
            .rules()
            .iter()
            .enumerate()
            .map(|(k, r)| {
                if !r.rule.enabled {
                    return Ok(None);
                }
                Ok(Some(Conditions {
                    fired: column(&format!("w{k}"))?,
                    escalated: r
                        .escalate
                        .as_ref()
                        .map(|_| column(&format!("e{k}")))
                        .transpose()?,
                }))
            })
            .collect()
    }

    /// The forest's score of every staged row, computed by the cluster's executors (cells
    /// missing in the table take `medians`, as the local matrix does). `None` when the
    /// cluster does not know [`SCORE_FUNCTION`] (stock Ballista processes): the caller scores
    /// locally.
    pub(crate) fn scores(
        &self,
        staged: &Staged,
        forest: &IsolationForest,
        medians: &[f64],
    ) -> Result<Option<Vec<f64>>> {
        let mut args = vec![lit(forest.to_json()), lit(number_list(medians))];
        args.extend(forest.feature_names().iter().map(|n| col(n.as_str())));
        let call = ScalarUDF::from(ForestScore::new())
            .call(args)
            .alias("score");
        let batches = match self.project(staged, vec![call]) {
            Ok(b) => b,
            Err(e) if lacks_score_function(&e.to_string()) => return Ok(None),
            Err(e) => {
                return Err(Error::Config(format!(
                    "cluster {}: isolation forest: {e}",
                    self.url
                )));
            }
        };
        gather(&batches, "score", staged.rows, |v| {
            let s = v
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| Error::Output("cluster result: scores of another type".into()))?;
            Ok((0..s.len()).map(|i| s.value(i)).collect())
        })
        .map(Some)
    }
}

/// The feature table staged for one run's cluster work.
pub(crate) struct Staged {
    dir: Staging,
    rows: usize,
}

/// A staging directory of one evaluation, removed when dropped.
struct Staging(PathBuf);

impl Staging {
    fn create(parent: &Path) -> Result<Staging> {
        crate::spill::scratch_dir(parent, ".redflag-staging").map(Staging)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The most files the feature table is staged as: the scheduler gives each file (or part of
/// one) to a task, so this bounds how widely one evaluation spreads.
const MAX_FILES: usize = 64;

/// Writes `table`, with its row positions as a last column, as Parquet files in `dir`: about
/// [`MAX_FILES`] of them (at least 256 rows each), so that the scheduler can spread the
/// evaluation over its executors.
fn write_with_rows(table: &RecordBatch, dir: &Path) -> Result<()> {
    let out = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", dir.display()));
    let n = table.num_rows();
    let rows = u32::try_from(n).map_err(|e| out(&e))?;
    let mut fields: Vec<Arc<Field>> = table.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ROW, DataType::UInt32, false)));
    let mut columns = table.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from_iter_values(0..rows)));
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| out(&e))?;
    let per_file = n.div_ceil(MAX_FILES).max(256);
    for (i, start) in (0..n.max(1)).step_by(per_file).enumerate() {
        let path = dir.join(format!("part-{i:03}.parquet"));
        let file = std::fs::File::create(&path).map_err(|e| out(&e))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
            .map_err(|e| out(&e))?;
        writer
            .write(&batch.slice(start, per_file.min(n - start)))
            .map_err(|e| out(&e))?;
        writer.close().map_err(|e| out(&e))?;
    }
    Ok(())
}

/// Column `name` of the cluster's result batches, put back in row order (the batches arrive
/// in whatever order the partitions finish), each batch's column read by `values`. Every row
/// must come back exactly once.
fn gather<T: Clone + Default>(
    batches: &[RecordBatch],
    name: &str,
    n: usize,
    values: impl Fn(&dyn Array) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = vec![T::default(); n];
    let mut seen = vec![false; n];
    for b in batches {
        let lost = |what: &str| Error::Output(format!("cluster result: {what}"));
        let rows = b
            .column_by_name(ROW)
            .ok_or_else(|| lost("no row column"))?
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| lost("row column of another type"))?;
        let v = values(
            b.column_by_name(name)
                .ok_or_else(|| lost(&format!("no column {name}")))?
                .as_ref(),
        )?;
        for (i, value) in v.into_iter().enumerate() {
            let row = rows.value(i) as usize;
            if row >= n || seen[row] {
                return Err(lost(&format!("row {row} out of range or returned twice")));
            }
            seen[row] = true;
            out[row] = value;
        }
    }
    if let Some(row) = seen.iter().position(|s| !s) {
        return Err(Error::Output(format!(
            "cluster result: row {row} of {n} did not come back"
        )));
    }
    Ok(out)
}

/// Numbers as text that parses back to the same bits (Rust's shortest round-trip form).
fn number_list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `error` is what DataFusion or Ballista say when a plan names [`SCORE_FUNCTION`] and
/// they do not know it (the function's own errors begin with its name instead).
fn lacks_score_function(error: &str) -> bool {
    error.contains(&format!("no UDF named \"{SCORE_FUNCTION}\""))
        || error.contains(&format!(
            "not provided for scalar function {SCORE_FUNCTION}"
        ))
}

/// The name under which executors know the forest's scoring function.
pub const SCORE_FUNCTION: &str = "redflag_iforest_score";

/// `redflag_iforest_score(model_json, medians, feature...)`: the isolation forest's score of
/// each row. `model_json` is a model file's text and `medians` the comma-separated values that
/// stand in for missing cells, both literals (so the model is broadcast inside the plan);
/// the features follow in the model's order, as `UInt32` or `Float64` columns. Executors keep
/// the last model they parsed, so each task parses it once.
#[derive(Debug)]
struct ForestScore {
    signature: Signature,
    last: Mutex<Option<(String, Arc<IsolationForest>)>>,
}

impl ForestScore {
    fn new() -> ForestScore {
        ForestScore {
            signature: Signature::variadic_any(Volatility::Immutable),
            last: Mutex::new(None),
        }
    }

    /// The model of `text`, parsed once for as long as the same text keeps coming.
    fn model(&self, text: &str) -> datafusion::error::Result<Arc<IsolationForest>> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((t, m)) = last.as_ref()
            && t == text
        {
            return Ok(m.clone());
        }
        let m = Arc::new(IsolationForest::from_json(text).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!("{SCORE_FUNCTION}: {e}"))
        })?);
        *last = Some((text.to_owned(), m.clone()));
        Ok(m)
    }
}

impl PartialEq for ForestScore {
    fn eq(&self, _: &Self) -> bool {
        // One function: its arguments, not its state, say what it computes.
        true
    }
}

impl Eq for ForestScore {}

impl std::hash::Hash for ForestScore {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        SCORE_FUNCTION.hash(state);
    }
}

impl ScalarUDFImpl for ForestScore {
    fn name(&self) -> &str {
        SCORE_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let text = |k: usize| match args.args.get(k) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(t)))) => Ok(t.as_str()),
            _ => exec_err!(
                "{SCORE_FUNCTION}: argument {} must be a text literal",
                k + 1
            ),
        };
        let forest = self.model(text(0)?)?;
        let medians = text(1)?
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::parse::<f64>)
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!(
                    "{SCORE_FUNCTION}: medians: {e}"
                ))
            })?;
        let f = forest.feature_names().len();
        if args.args.len() != f + 2 || medians.len() != f {
            return exec_err!(
                "{SCORE_FUNCTION}: {} features and {} medians for a model of {f}",
                args.args.len().saturating_sub(2),
                medians.len()
            );
        }
        let n = args.number_rows;
        let columns: Vec<ArrayRef> = args.args[2..]
            .iter()
            .map(|c| c.to_array(n))
            .collect::<datafusion::error::Result<_>>()?;
        let mut cells = vec![0.0; n * f];
        for (j, (c, &median)) in columns.iter().zip(&medians).enumerate() {
            let value: Box<dyn Fn(usize) -> f64 + '_> = match c.data_type() {
                DataType::UInt32 => {
                    let a = c.as_primitive::<UInt32Type>();
                    Box::new(move |i| f64::from(a.value(i)))
                }
                DataType::Float64 => {
                    let a = c.as_primitive::<Float64Type>();
                    Box::new(move |i| a.value(i))
                }
                other => {
                    return exec_err!(
                        "{SCORE_FUNCTION}: feature {} is {other}, expected UInt32 or Float64",
                        forest.feature_names()[j]
                    );
                }
            };
            for i in 0..n {
                cells[i * f + j] = if c.is_null(i) { median } else { value(i) };
            }
        }
        let x = Array2::from_shape_vec((n, f), cells)
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        let scores = forest.score(x.view()).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!("{SCORE_FUNCTION}: {e}"))
        })?;
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(
            scores.to_vec(),
        ))))
    }
}

/// A DataFusion session that knows redflag's cluster functions ([`SCORE_FUNCTION`]): what the
/// client, and the scheduler and executors of `redflag cluster`, plan and execute with.
pub fn session_state(config: SessionConfig) -> SessionState {
    SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_scalar_functions(vec![Arc::new(ScalarUDF::from(ForestScore::new()))])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(rows: &[u32], fired: &[Option<bool>]) -> RecordBatch {
        RecordBatch::try_from_iter([
            (ROW, Arc::new(UInt32Array::from(rows.to_vec())) as _),
            ("w0", Arc::new(BooleanArray::from(fired.to_vec())) as _),
        ])
        .expect("batch")
    }

    #[test]
    fn results_are_put_back_in_row_order_and_every_row_must_come_back_once() {
        let parts = [
            part(&[3, 1], &[Some(true), None]),
            part(&[0, 2], &[Some(false), Some(true)]),
        ];
        let read = |v: &dyn Array| {
            let b = v.as_boolean();
            Ok((0..b.len())
                .map(|i| b.is_valid(i).then(|| b.value(i)))
                .collect())
        };
        let got: Vec<Option<bool>> = gather(&parts, "w0", 4, read).expect("gather");
        assert_eq!(got, [Some(false), None, Some(true), Some(true)]);

        let twice = [part(&[0, 1], &[None, None]), part(&[1], &[None])];
        let err = gather(&twice, "w0", 2, read).expect_err("row 1 twice");
        assert!(err.to_string().contains("row 1"), "{err}");
        let err = gather(&parts[..1], "w0", 4, read).expect_err("rows 0 and 2 missing");
        assert!(err.to_string().contains("row 0 of 4"), "{err}");
        assert!(gather(&parts, "w9", 4, read).is_err());
    }

    /// A two-feature table with empty cells in both columns, the forest fitted on it, its
    /// local scores and the values its empty cells took.
    fn fitted(n: usize) -> (RecordBatch, IsolationForest, Vec<f64>, Vec<f64>) {
        use crate::engine::matrix;
        use redflag_iforest::IsolationForestParams;

        let counts: Vec<Option<u32>> = (0..n)
            .map(|i| (i % 17 != 3).then_some((i * 7 % 101) as u32))
            .collect();
        let reals: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 23 != 5).then_some(((i * 13 % 997) as f64).sqrt() * 1.5))
            .collect();
        let table = RecordBatch::try_from_iter([
            ("n", Arc::new(UInt32Array::from(counts)) as ArrayRef),
            ("v", Arc::new(Float64Array::from(reals)) as ArrayRef),
        ])
        .expect("table");
        let names = vec!["n".to_owned(), "v".to_owned()];
        let (x, medians) = matrix(&table, &names);
        let params = linfa::ParamGuard::check(
            IsolationForestParams::new()
                .n_trees(20)
                .sample_size(64)
                .seed(5),
        )
        .expect("params");
        let forest = IsolationForest::fit_named(&params, x.view(), names).expect("fit");
        let local = forest.score(x.view()).expect("score").to_vec();
        (table, forest, local, medians)
    }

    /// The scoring function, run by a plain DataFusion session over a table with empty cells
    /// in batches of uneven size, gives the forest's scores of the matrix imputed locally.
    #[test]
    fn the_scoring_function_gives_the_local_scores_of_the_imputed_matrix() {
        let n = 3000;
        let (table, forest, local, medians) = fitted(n);
        let names = forest.feature_names().to_vec();

        let ctx = SessionContext::new_with_state(session_state(SessionConfig::new()));
        let parts = vec![vec![
            table.slice(0, 1000),
            table.slice(1000, 1500),
            table.slice(2500, 500),
        ]];
        let mem = datafusion::datasource::MemTable::try_new(table.schema(), parts).expect("mem");
        let mut args = vec![lit(forest.to_json()), lit(number_list(&medians))];
        args.extend(names.iter().map(|c| col(c.as_str())));
        let call = ScalarUDF::from(ForestScore::new())
            .call(args)
            .alias("score");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let got: Vec<f64> = runtime
            .block_on(async {
                ctx.read_table(Arc::new(mem))?
                    .select(vec![call])?
                    .collect()
                    .await
            })
            .expect("query")
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Float64Type>().values().to_vec())
            .collect();
        assert_eq!(got.len(), n);
        for (i, (g, l)) in got.iter().zip(local.iter()).enumerate() {
            assert_eq!(g.to_bits(), l.to_bits(), "row {i}");
        }
        // Medians that do not parse, or a model of other features, are refused by name.
        let bad = ScalarUDF::from(ForestScore::new()).call(vec![
            lit(forest.to_json()),
            lit("1.0,x"),
            col("n"),
            col("v"),
        ]);
        let mem = datafusion::datasource::MemTable::try_new(
            table.schema(),
            vec![vec![table.slice(0, 10)]],
        )
        .expect("mem");
        let err = runtime
            .block_on(async {
                ctx.read_table(Arc::new(mem))?
                    .select(vec![bad])?
                    .collect()
                    .await
            })
            .expect_err("bad medians");
        assert!(err.to_string().contains(SCORE_FUNCTION), "{err}");
    }

    /// Stock Ballista processes lack the scoring function: the caller is told to score
    /// locally. On a cluster that has it, an error inside the function is reported, not taken
    /// for a missing function.
    #[test]
    fn a_missing_scoring_function_falls_back_but_a_failing_one_is_an_error() {
        let (table, forest, local, medians) = fitted(600);
        let dir = tempfile::tempdir().expect("tmp");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let ctx = runtime
            .block_on(SessionContext::standalone())
            .expect("stock standalone cluster");
        let stock = Cluster {
            url: "stock".into(),
            runtime,
            ctx,
            staging: dir.path().to_owned(),
        };
        let staged = stock.stage(&table).expect("stage");
        assert!(
            stock
                .scores(&staged, &forest, &medians)
                .expect("no error")
                .is_none()
        );
        drop(staged);

        let ours = Cluster::connect("standalone", dir.path()).expect("standalone");
        let staged = ours.stage(&table).expect("stage");
        let got = ours
            .scores(&staged, &forest, &medians)
            .expect("scores")
            .expect("scored on the cluster");
        assert!(
            got.iter()
                .zip(&local)
                .all(|(g, l)| g.to_bits() == l.to_bits())
        );
        let err = ours
            .scores(&staged, &forest, &medians[..1])
            .expect_err("one median for two features");
        assert!(err.to_string().contains("1 medians"), "{err}");
        drop(staged);
        let left = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(left, 0, "staged files left behind");
    }
}
