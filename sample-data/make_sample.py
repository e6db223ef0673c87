#!/usr/bin/env python3
"""Writes the committed sample data (seeded, deterministic for a given pyarrow version).

    python3 sample-data/make_sample.py            # from the repository root

Outputs, all holding the same records:
    sample-data/transactions.csv       canonical layout, RFC 3339 timestamps
    sample-data/transactions.ndjson    one JSON object per line
    sample-data/transactions.parquet   typed: timestamp[us, UTC], float64, int16 ...
    sample-data/rates.csv              EUR and GBP to USD
    sample-data/amlworld/HI-Sample_Trans.csv   a small file in IBM AMLworld's layout

The population is small and plain: salaried customers paying by card, rent and ATM cash,
a few small businesses taking cash, wires abroad. Five records are deliberately bad, so that
`redflag check` has something to report in every format: a negative amount, an unknown
channel value, a lower-case currency, an empty receiver and a repeated txn_id.
The labelled population made by `redflag synth` is in `population/` (see its README).
"""
import csv
import datetime as dt
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20241101)
START = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
DAYS = 60

CITIES = [("Chicago", "US", -360), ("Toronto", "CA", -300), ("Houston", "US", -360),
          ("Atlanta", "US", -300), ("Denver", "US", -420), ("Seattle", "US", -480)]
MERCHANTS = [("GROCER-%02d" % i, "Fresh Grocer %d" % i, 5411) for i in range(6)] + \
            [("FUEL-%02d" % i, "Gas Stop %d" % i, 5541) for i in range(3)] + \
            [("REST-%02d" % i, "Diner %d" % i, 5812) for i in range(4)] + \
            [("FAST-%02d" % i, "Burger Hut %d" % i, 5814) for i in range(3)] + \
            [("HOTEL-%02d" % i, "Inn & Suites %d" % i, 7011) for i in range(3)] + \
            [("PHARM-%02d" % i, "Pharmacy %d" % i, 5912) for i in range(2)] + \
            [("ONLINE-%02d" % i, "Web Shop %d" % i, 5999) for i in range(3)]

customers = []
for c in range(120):
    home = rng.choice(CITIES)
    kind = "business" if c % 15 == 0 else "personal"
    n_acc = 2 if rng.random() < 0.15 else 1
    customers.append({"id": "C%05d" % c, "home": home, "kind": kind,
                      "accounts": ["AC%07d" % (c * 10 + a) for a in range(n_acc)],
                      "device": "DEV%05d" % (c if rng.random() > 0.05 else 999)})
employers = ["EMPLOYER-%02d" % i for i in range(5)]
landlords = ["LANDLORD-%02d" % i for i in range(8)]

rows = []


def add(ts, sender, receiver, amount, currency, channel, cust_s=None, cust_r=None,
        kind_s="account", kind_r="account", city=None, mcc=None, merchant=None,
        device=None, status="completed"):
    city_name, country, offset = city if city else (None, None, None)
    rows.append({
        "ts": ts, "sender_id": sender, "receiver_id": receiver, "amount": round(amount, 2),
        "currency": currency, "channel": channel, "local_offset_min": offset, "status": status,
        "sender_kind": kind_s, "receiver_kind": kind_r, "sender_customer_id": cust_s,
        "receiver_customer_id": cust_r, "geo_city": city_name, "geo_country": country,
        "mcc": mcc, "merchant_name": merchant, "device_id": device,
    })


def at(day, hour, local_offset):
    """UTC time of a local hour on a day, with minutes and seconds drawn."""
    local = START + dt.timedelta(days=day, hours=hour, minutes=rng.randrange(60),
                                 seconds=rng.randrange(60))
    return local - dt.timedelta(minutes=local_offset)


for cu in customers:
    acc = cu["accounts"][0]
    home = cu["home"]
    off = home[2]
    if cu["kind"] == "personal":
        employer = rng.choice(employers)
        salary = rng.choice([1800, 2100, 2500, 3200, 4100])
        for day in (0, 14, 28, 42, 56):
            add(at(day, 6, off), employer, acc, salary * rng.uniform(0.98, 1.02), "USD", "ach",
                cust_r=cu["id"], kind_s="external")
        for day in (2, 32):
            add(at(day, 10, off), acc, rng.choice(landlords), rng.choice([950, 1200, 1450]),
                "USD", "ach", cust_s=cu["id"], kind_r="external", device=cu["device"])
        for _ in range(rng.randint(8, 22)):
            mid, mname, mcc = rng.choice(MERCHANTS)
            hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9,
                                                   10, 9, 9, 9, 9, 10, 10, 9, 7, 5, 3, 2])[0]
            cnp = mcc == 5999
            add(at(rng.randrange(DAYS), hour, off), acc, mid, rng.lognormvariate(3.3, 0.8),
                "USD", "card_not_present" if cnp else "card_present", cust_s=cu["id"],
                kind_s="card", kind_r="merchant", city=None if cnp else home, mcc=mcc,
                merchant=mname, device=cu["device"] if cnp else None)
        for _ in range(rng.randint(0, 3)):
            add(at(rng.randrange(DAYS), rng.randrange(8, 22), off), acc, "CASH",
                rng.choice([40, 60, 100, 200]), "USD", "atm_withdrawal", cust_s=cu["id"],
                kind_r="cash", city=home)
        if rng.random() < 0.1:
            add(at(rng.randrange(DAYS), 11, off), acc, "EXT-MX-%03d" % rng.randrange(50),
                rng.uniform(150, 450), "USD", "remittance_msb", cust_s=cu["id"],
                kind_r="external", device=cu["device"])
        if rng.random() < 0.08:
            add(at(rng.randrange(DAYS), 14, off), acc, "EXT-DE-%03d" % rng.randrange(50),
                rng.uniform(300, 900), "EUR", "wire_intl", cust_s=cu["id"], kind_r="external")
    else:
        for day in range(DAYS):
            if day % 7 in (5, 6):
                continue
            add(at(day, 17, off), "CASH", acc, rng.uniform(300, 2500), "USD", "cash_deposit",
                cust_r=cu["id"], kind_s="cash", city=home)
        for day in (10, 40):
            add(at(day, 9, off), acc, "EXT-GB-%03d" % rng.randrange(9), rng.uniform(2000, 6000),
                "GBP", "wire_intl", cust_s=cu["id"], kind_r="external")
        for p in range(3):
            add(at(25, 8, off), acc, rng.choice(customers)["accounts"][0],
                rng.uniform(900, 1600), "USD", "p2p_app", cust_s=cu["id"])

rows.sort(key=lambda r: (r["ts"], r["sender_id"], r["receiver_id"]))
for i, r in enumerate(rows):
    r["txn_id"] = "T%06d" % (i + 1)
# The deliberately bad records.
rows[100]["amount"] = -5.0
rows[200]["channel"] = "Wire"
rows[300]["currency"] = "US$"
rows[400]["receiver_id"] = None
rows[500]["txn_id"] = rows[499]["txn_id"]

COLS = ["txn_id", "ts", "sender_id", "receiver_id", "amount", "currency", "channel",
        "local_offset_min", "status", "sender_kind", "receiver_kind", "sender_customer_id",
        "receiver_customer_id", "geo_city", "geo_country", "mcc", "merchant_name", "device_id"]


def text(v):
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, float):
        return ("%.2f" % v)
    return str(v)


with open(os.path.join(HERE, "transactions.csv"), "w", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(COLS)
    for r in rows:
        w.writerow([text(r[c]) for c in COLS])

with open(os.path.join(HERE, "transactions.ndjson"), "w") as fh:
    for r in rows:
        obj = {c: (text(r[c]) if c == "ts" else r[c]) for c in COLS}
        fh.write(json.dumps(obj, separators=(",", ":")) + "\n")

schema = pa.schema([
    ("txn_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("sender_id", pa.string()),
    ("receiver_id", pa.string()), ("amount", pa.float64()), ("currency", pa.string()),
    ("channel", pa.string()), ("local_offset_min", pa.int16()), ("status", pa.string()),
    ("sender_kind", pa.string()), ("receiver_kind", pa.string()),
    ("sender_customer_id", pa.string()), ("receiver_customer_id", pa.string()),
    ("geo_city", pa.string()), ("geo_country", pa.string()), ("mcc", pa.uint16()),
    ("merchant_name", pa.string()), ("device_id", pa.string()),
])
table = pa.table({c: [r[c] for r in rows] for c in COLS}, schema=schema)
pq.write_table(table, os.path.join(HERE, "transactions.parquet"), compression="snappy",
               row_group_size=1000)

with open(os.path.join(HERE, "rates.csv"), "w") as fh:
    fh.write("date,currency,rate_to_base\n")
    for day, eur, gbp in [("2024-02-29", 1.08, 1.26), ("2024-04-01", 1.07, 1.25)]:
        fh.write(f"{day},EUR,{eur}\n{day},GBP,{gbp}\n")

# A small synthetic file in IBM AMLworld's layout (not AMLworld data).
AML_CUR = ["US Dollar", "Euro", "UK Pound", "Yuan", "Bitcoin"]
AML_FMT = ["ACH", "Cheque", "Credit Card", "Wire", "Cash", "Reinvestment", "Bitcoin"]
with open(os.path.join(HERE, "amlworld", "HI-Sample_Trans.csv"), "w", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(["Timestamp", "From Bank", "Account", "To Bank", "Account", "Amount Received",
                "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format",
                "Is Laundering"])
    t = dt.datetime(2022, 9, 1, 0, 0)
    for i in range(200):
        t += dt.timedelta(minutes=rng.randrange(1, 30))
        fmt = AML_FMT[i % len(AML_FMT)]
        cur = "Bitcoin" if fmt == "Bitcoin" else AML_CUR[i % 4]
        amt = round(rng.lognormvariate(6, 1.5), 2) if cur != "Bitcoin" else round(rng.uniform(0.001, 0.3), 6)
        w.writerow([t.strftime("%Y/%m/%d %H:%M"), "%03d" % rng.randrange(1, 40),
                    "8%08X" % rng.randrange(1 << 32), "%03d" % rng.randrange(1, 40),
                    "8%08X" % rng.randrange(1 << 32), amt, cur, amt, cur, fmt,
                    1 if rng.random() < 0.02 else 0])

print(f"{len(rows)} transactions")
