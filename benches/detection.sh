#!/usr/bin/env bash
# Detection quality and speed on a labelled synthetic population: redflag run against the
# polars + scikit-learn pipeline of ../shared/bench/baseline_pipeline.py on the same file, in
# one sitting, both scored by `redflag eval` against the same labels.
#
#   benches/detection.sh OUT_DIR [CUSTOMERS] [SEED]
#
# Generates OUT_DIR/pop with `redflag synth --customers CUSTOMERS --days 120 --format parquet`
# (default 8000 customers: about 1.45M rows), runs both tools (wall time and peak memory from
# /usr/bin/time), then prints `redflag eval` with precision and recall at 100, overall, per role
# and per typology, redflag as [1] and the baseline as [2].
set -euo pipefail
OUT="${1:?usage: benches/detection.sh OUT_DIR [CUSTOMERS] [SEED]}"
CUSTOMERS="${2:-8000}"
SEED="${3:-2026}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${REDFLAG_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/redflag}"
PY="${PYTHON:-python3}"
BASELINE="${BASELINE:-$ROOT/../shared/bench/baseline_pipeline.py}"
POP="$OUT/pop"
rm -rf "$POP" "$OUT/redflag" "$OUT/baseline"
"$BIN" synth --customers "$CUSTOMERS" --days 120 --seed "$SEED" --format parquet --out "$POP" \
    | grep -E '^(rows|suspicious|generated)'
/usr/bin/time -f "redflag run: %e s wall, peak %M KB" "$BIN" run "$POP/transactions.parquet" \
    --rates "$POP/rates.csv" --reference-dir "$POP/reference" --out "$OUT/redflag" 2>&1 \
    | grep -E 'alerts|wall'
/usr/bin/time -f "baseline_pipeline.py: %e s wall, peak %M KB" "$PY" "$BASELINE" \
    --input "$POP/transactions.parquet" --out "$OUT/baseline" 2>&1 | tail -2
echo
"$BIN" eval --scores "$OUT/redflag/scores.csv" --scores "$OUT/baseline/scores.csv" \
    --labels "$POP/account_labels.csv" --k 100
