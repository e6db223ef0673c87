#!/usr/bin/env bash
# Read + validate benchmark, redflag against polars on the same files, in one sitting.
#
#   benches/ingest.sh DATA_DIR [REPEAT]
#
# DATA_DIR holds txns_10000000.parquet / .csv and rates.csv made by
# ../shared/bench/gen.py --rows 10000000 (see README). Runs each tool REPEAT times
# (default 3), alternating, each run in a fresh process so that peak memory is its own, and
# prints every run's JSON line followed by medians and ratios.
set -euo pipefail
DATA="${1:?usage: benches/ingest.sh DATA_DIR [REPEAT]}"
REPEAT="${2:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${REDFLAG_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/redflag}"
PY="${PYTHON:-python3}"
OUT="$(mktemp)"
for fmt in parquet csv; do
    f="$DATA/txns_10000000.$fmt"
    for i in $(seq "$REPEAT"); do
        "$BIN" bench ingest "$f" --rates "$DATA/rates.csv" | sed "s/^/$fmt redflag /" | tee -a "$OUT"
        "$PY" "$ROOT/benches/ingest_polars.py" "$f" | sed "s/^/$fmt polars /" | tee -a "$OUT"
    done
done
"$PY" - "$OUT" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    fmt, tool, js = line.split(" ", 2)
    runs.setdefault((fmt, tool), []).append(json.loads(js))
for fmt in ("parquet", "csv"):
    r, p = runs[(fmt, "redflag")], runs[(fmt, "polars")]
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    rs, ps = med(r, "seconds"), med(p, "seconds")
    rows = r[0]["rows_read"]
    print(f"{fmt:8} redflag {rs:6.2f} s {rows / rs / 1e6:6.2f} M rows/s peak {med(r, 'peak_rss_bytes') / 2**30:5.2f} GiB "
          f"(arrow {r[0]['arrow_bytes'] / 2**30:4.2f} GiB, peak/arrow {med(r, 'peak_over_arrow'):4.2f}) | "
          f"polars {ps:6.2f} s peak {med(p, 'peak_rss_bytes') / 2**30:5.2f} GiB | polars/redflag time {ps / rs:4.2f}x")
PY
rm -f "$OUT"
