#!/usr/bin/env bash
# Entity features benchmark: redflag (all features, graph pass included) against the polars
# feature baseline of ../shared/bench/baseline_features.py on the same file, in one sitting.
#
#   benches/features.sh DATA_DIR [REPEAT]
#
# DATA_DIR holds txns_10000000.parquet and rates.csv made by
# ../shared/bench/gen.py --rows 10000000 (200k accounts). Runs each tool REPEAT times (default
# 3), alternating, each run in a fresh process so that peak memory is its own, then prints
# medians and ratios:
#   features: redflag's feature pass vs polars' fused aggregate query (both after reading);
#   end to end: redflag read + validate + features vs polars read + aggregate.
set -euo pipefail
DATA="${1:?usage: benches/features.sh DATA_DIR [REPEAT]}"
REPEAT="${2:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${REDFLAG_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/redflag}"
PY="${PYTHON:-python3}"
BASELINE="${BASELINE:-$ROOT/../shared/bench/baseline_features.py}"
F="$DATA/txns_10000000.parquet"
OUT="$(mktemp)"
POLARS="$(mktemp)"
for i in $(seq "$REPEAT"); do
    "$BIN" bench features "$F" --rates "$DATA/rates.csv" | tee -a "$OUT"
    "$PY" "$BASELINE" --input "$F" --engine polars --repeat 1 --no-e2e --json "$POLARS" >&2
done
"$PY" - "$OUT" "$POLARS" <<'PY'
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
p = [json.loads(l) for l in open(sys.argv[2])]
med = lambda xs, k: statistics.median(x[k] for x in xs)
rf, rt = med(r, "features_seconds"), med(r, "total_seconds")
pa, pr = med(p, "aggregate"), med(p, "read")
print(f"rows {r[0]['rows']}, entities {r[0]['entities']} (redflag, {r[0]['columns'] - 3} features) "
      f"vs senders {p[0]['senders']} (polars, 12 features); medians of {len(r)}")
print(f"features    redflag {rf:5.2f} s | polars aggregate {pa:5.2f} s | polars/redflag {pa / rf:4.2f}x")
print(f"end to end  redflag {rt:5.2f} s | polars read+aggregate {pr + pa:5.2f} s | polars/redflag {(pr + pa) / rt:4.2f}x")
print("redflag stages: " + "  ".join(f"{k} {med(r, k):.2f}" for k in ("ingest_seconds", "prepare", "index", "entity", "graph", "finish")))
print(f"peak memory redflag {med(r, 'peak_rss_bytes') / 2**30:4.2f} GiB | polars {med(p, 'peak_rss_mb_so_far') / 1024:4.2f} GiB")
PY
rm -f "$OUT" "$POLARS"
