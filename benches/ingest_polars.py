#!/usr/bin/env python3
"""What a user would run instead of `redflag bench ingest`: polars reading the same file.

Reads all seven canonical columns (CSV with an explicit schema and ISO timestamps parsed), then
the checks redflag makes that polars can express vectorised: required fields present, amount
positive and finite, currency and channel values valid, duplicate txn_ids dropped (first kept).
Prints one JSON line like `redflag bench ingest`.

    python ingest_polars.py FILE [--read-only]
"""
import json
import resource
import sys
import time

import polars as pl

CHANNELS = ["cash_deposit", "cash_withdrawal", "atm_deposit", "atm_withdrawal", "card_present",
            "card_not_present", "ach", "wire_domestic", "wire_intl", "remittance_msb", "p2p_app",
            "cheque", "prepaid_purchase", "prepaid_load", "crypto_buy", "crypto_sell",
            "crypto_transfer", "internal", "other"]
SCHEMA = {"txn_id": pl.Utf8, "ts": pl.Utf8, "sender_id": pl.Utf8, "receiver_id": pl.Utf8,
          "amount": pl.Float64, "currency": pl.Utf8, "channel": pl.Utf8}


def main():
    path = sys.argv[1]
    read_only = "--read-only" in sys.argv
    t0 = time.perf_counter()
    if path.endswith(".parquet"):
        df = pl.read_parquet(path)
    else:
        df = pl.read_csv(path, schema=SCHEMA)
        df = df.with_columns(pl.col("ts").str.to_datetime(time_unit="us", time_zone="UTC"))
    t_read = time.perf_counter() - t0
    if not read_only:
        ok = (pl.col("txn_id").is_not_null() & pl.col("ts").is_not_null()
              & pl.col("sender_id").is_not_null() & pl.col("receiver_id").is_not_null()
              & pl.col("amount").is_finite() & (pl.col("amount") > 0)
              & pl.col("currency").str.contains(r"^[A-Z][A-Z0-9]{1,9}$")
              & pl.col("channel").is_in(CHANNELS))
        df = df.filter(ok)
        df = df.filter(pl.col("txn_id").is_first_distinct())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"stage": "polars_read" if read_only else "polars_read_validate",
                      "input": path, "rows": df.height, "seconds": seconds,
                      "read_seconds": t_read, "rows_per_s": df.height / seconds,
                      "arrow_bytes": df.estimated_size(), "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
