//! Builds canonical `transactions` batches from short row descriptions, for tests.

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Float64Array, Int16Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt8Array, UInt16Array,
};
use arrow::datatypes::{Float64Type, UInt32Type};
use redflag_features::{DAY, FeatureConfig, HOUR, compute};
use redflag_schema::columns as col;
use redflag_schema::{CanonicalEnum, Channel, PartyKind, Status, transactions_schema};

/// 2024-03-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_709_251_200_000_000;

/// One transaction; `Tx::new` fills the required fields, the builders the optional ones.
#[derive(Debug, Clone)]
pub struct Tx {
    pub ts: i64,
    pub sender: String,
    pub receiver: String,
    pub amount: f64,
    pub channel: Channel,
    pub opt: BTreeMap<&'static str, String>,
    pub status: Option<Status>,
    pub mcc: Option<u16>,
    pub offset: Option<i16>,
    pub sender_kind: Option<PartyKind>,
    pub receiver_kind: Option<PartyKind>,
}

impl Tx {
    /// A completed transaction `hours` after [`T0`].
    pub fn new(sender: &str, receiver: &str, amount: f64, channel: Channel, hours: f64) -> Tx {
        Tx {
            ts: T0 + (hours * HOUR as f64) as i64,
            sender: sender.into(),
            receiver: receiver.into(),
            amount,
            channel,
            opt: BTreeMap::new(),
            status: None,
            mcc: None,
            offset: None,
            sender_kind: None,
            receiver_kind: None,
        }
    }
    pub fn wire(sender: &str, receiver: &str, amount: f64, hours: f64) -> Tx {
        Tx::new(sender, receiver, amount, Channel::WireDomestic, hours)
    }
    pub fn with(mut self, column: &'static str, value: &str) -> Tx {
        self.opt.insert(column, value.into());
        self
    }
    pub fn mcc(mut self, code: u16) -> Tx {
        self.mcc = Some(code);
        self
    }
    pub fn status(mut self, s: Status) -> Tx {
        self.status = Some(s);
        self
    }
    pub fn offset(mut self, minutes: i16) -> Tx {
        self.offset = Some(minutes);
        self
    }
    pub fn kinds(mut self, s: PartyKind, r: PartyKind) -> Tx {
        self.sender_kind = Some(s);
        self.receiver_kind = Some(r);
        self
    }
}

fn enum_array<E: CanonicalEnum>(values: Vec<Option<E>>) -> ArrayRef {
    let keys = UInt8Array::from(
        values
            .into_iter()
            .map(|v| v.map(|e| e.key()))
            .collect::<Vec<_>>(),
    );
    Arc::new(DictionaryArray::new(keys, E::dictionary_values()))
}

/// The canonical batch of `txs` (ids `t0`, `t1`, ...; amounts already in the base currency).
pub fn batch(txs: &[Tx]) -> RecordBatch {
    let mut optional: Vec<&str> = txs.iter().flat_map(|t| t.opt.keys().copied()).collect();
    if txs.iter().any(|t| t.status.is_some()) {
        optional.push(col::STATUS);
    }
    if txs.iter().any(|t| t.mcc.is_some()) {
        optional.push(col::MCC);
    }
    if txs.iter().any(|t| t.offset.is_some()) {
        optional.push(col::LOCAL_OFFSET_MIN);
    }
    if txs.iter().any(|t| t.sender_kind.is_some()) {
        optional.extend([col::SENDER_KIND, col::RECEIVER_KIND]);
    }
    let schema = transactions_schema(&optional);
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            let name = f.name().as_str();
            match name {
                col::TXN_ID => Arc::new(StringArray::from_iter_values(
                    (0..txs.len()).map(|i| format!("t{i}")),
                )),
                col::TS => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(txs.iter().map(|t| t.ts))
                        .with_timezone("UTC"),
                ),
                col::SENDER_ID => Arc::new(StringArray::from_iter_values(
                    txs.iter().map(|t| t.sender.as_str()),
                )),
                col::RECEIVER_ID => Arc::new(StringArray::from_iter_values(
                    txs.iter().map(|t| t.receiver.as_str()),
                )),
                col::AMOUNT | col::AMOUNT_BASE => {
                    Arc::new(Float64Array::from_iter_values(txs.iter().map(|t| t.amount)))
                }
                col::CURRENCY => text(
                    StringArray::from_iter_values(txs.iter().map(|_| "USD")),
                    f.data_type(),
                ),
                col::CHANNEL => enum_array(txs.iter().map(|t| Some(t.channel)).collect()),
                col::STATUS => enum_array(txs.iter().map(|t| t.status).collect()),
                col::SENDER_KIND => enum_array(txs.iter().map(|t| t.sender_kind).collect()),
                col::RECEIVER_KIND => enum_array(txs.iter().map(|t| t.receiver_kind).collect()),
                col::MCC => Arc::new(UInt16Array::from(
                    txs.iter().map(|t| t.mcc).collect::<Vec<_>>(),
                )),
                col::LOCAL_OFFSET_MIN => Arc::new(Int16Array::from(
                    txs.iter().map(|t| t.offset).collect::<Vec<_>>(),
                )),
                _ => text(
                    StringArray::from(
                        txs.iter()
                            .map(|t| t.opt.get(name).map(String::as_str))
                            .collect::<Vec<_>>(),
                    ),
                    f.data_type(),
                ),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("test batch")
}

/// A text column in its canonical type (a dictionary for text other than identifiers).
fn text(values: StringArray, to: &arrow::datatypes::DataType) -> ArrayRef {
    arrow::compute::cast(&values, to).expect("text column")
}

/// Feature rows by entity id (customers prefixed `customer:`).
pub struct Table {
    pub batch: RecordBatch,
    pub as_of: i64,
    index: BTreeMap<String, usize>,
}

impl Table {
    pub fn value(&self, entity: &str, feature: &str) -> Option<f64> {
        let row = *self
            .index
            .get(entity)
            .unwrap_or_else(|| panic!("no entity {entity}"));
        let c = self
            .batch
            .column_by_name(feature)
            .unwrap_or_else(|| panic!("no feature {feature}"));
        if c.is_null(row) {
            return None;
        }
        Some(match c.data_type() {
            arrow::datatypes::DataType::UInt32 => {
                f64::from(c.as_primitive::<UInt32Type>().value(row))
            }
            _ => c.as_primitive::<Float64Type>().value(row),
        })
    }
    /// The value, with null read as NaN.
    pub fn get(&self, entity: &str, feature: &str) -> f64 {
        self.value(entity, feature).unwrap_or(f64::NAN)
    }
    pub fn has(&self, entity: &str) -> bool {
        self.index.contains_key(entity)
    }
    pub fn entities(&self) -> impl Iterator<Item = &String> {
        self.index.keys()
    }
}

pub fn features_with(txs: &[Tx], cfg: &FeatureConfig) -> Table {
    let f = compute(&[batch(txs)], cfg).expect("features");
    let ids = f.batch.column(0).as_string::<i32>();
    let kinds = f.batch.column(1).as_string::<i32>();
    let index = (0..f.batch.num_rows())
        .map(|i| {
            let id = ids.value(i);
            let key = if kinds.value(i) == "customer" {
                format!("customer:{id}")
            } else {
                id.to_owned()
            };
            (key, i)
        })
        .collect();
    Table {
        batch: f.batch,
        as_of: f.as_of,
        index,
    }
}

pub fn features(txs: &[Tx]) -> Table {
    features_with(txs, &FeatureConfig::default())
}

/// Background noise that touches none of the named accounts: `n` payments among `bg0..bg9`,
/// spread over the 30 days before `as_of_hours`.
pub fn noise(n: usize, as_of_hours: f64) -> Vec<Tx> {
    (0..n)
        .map(|i| {
            let s = format!("bg{}", i % 10);
            let r = format!("bg{}", (i * 7 + 3) % 10);
            let r = if r == s {
                format!("bg{}", (i + 1) % 10)
            } else {
                r
            };
            Tx::wire(
                &s,
                &r,
                50.0 + i as f64,
                as_of_hours - 1.0 - (i as f64 * 7.0) % 700.0,
            )
        })
        .collect()
}

pub const D: f64 = (DAY / HOUR) as f64;

/// Transactions that fill every optional column a feature or profile reads.
pub fn rich() -> Vec<Tx> {
    let mut txs = noise(40, 30.0 * D);
    for i in 0..12 {
        let h = 29.0 * D - f64::from(i) * 5.0;
        let acct = format!("acct-{}", i % 4);
        txs.push(
            Tx::new(&acct, "adsite", 40.0, Channel::CardNotPresent, h)
                .with(col::MERCHANT_NAME, "Escort ads listing")
                .with(col::MERCHANT_ID, &format!("m-{}", i % 2))
                .with(col::GEO_CITY, "Houston")
                .with(col::GEO_REGION, "TX")
                .with(col::LOCATION_ID, &format!("loc-{}", i % 5))
                .with(col::DEVICE_ID, "dev-shared")
                .with(col::IP_ADDRESS, &format!("10.0.0.{}", i % 3))
                .with(col::SENDER_CUSTOMER_ID, &format!("cust-{}", i % 3))
                .with(col::SENDER_INSTITUTION, "BANKUS33")
                .mcc(5999)
                .offset(-360),
        );
        // A hotel stay (lodging MCC) paid to a merchant, one of them refused (status).
        let stay = Tx::new(&acct, "hotel", 180.0, Channel::CardPresent, h - 4.0)
            .mcc(7011)
            .with(col::MERCHANT_ID, &format!("hotel-{}", i % 3))
            .kinds(PartyKind::Account, PartyKind::Merchant);
        txs.push(if i == 0 {
            stay.status(Status::Declined)
        } else {
            stay
        });
        txs.push(
            // Payroll by the originator's id (even i) or by the purpose code only (odd i).
            Tx::wire(
                ["employer", "employer-2"][i as usize % 2],
                &acct,
                900.0,
                h - 2.0,
            )
            .with(col::PURPOSE_CODE, "SALA")
            .with(col::RECEIVER_NAME, &format!("Worker {}", i % 4))
            .with(col::RECEIVER_CUSTOMER_ID, &format!("cust-{}", i % 3))
            .with(col::RECEIVER_INSTITUTION, "BANKUS33")
            .kinds(PartyKind::External, PartyKind::Account),
        );
        txs.push(
            Tx::new(&acct, "boss", 850.0, Channel::WireIntl, h - 1.0)
                .with(col::RECEIVER_COUNTRY, "MX")
                .with(col::CONDUCTOR_ID, "cust-9"),
        );
        txs.push(
            Tx::new("CASH", &acct, 500.0, Channel::CashDeposit, h - 3.0).with(
                col::GEO_CITY,
                ["Houston", "Dallas", "Austin"][i as usize % 3],
            ),
        );
    }
    // Cash under the threshold at three branches of one city within a day (location).
    for k in 0..3 {
        txs.push(
            Tx::new(
                "CASH",
                "acct-9",
                4000.0,
                Channel::CashDeposit,
                28.0 * D + f64::from(k),
            )
            .with(col::GEO_CITY, "Houston")
            .with(col::LOCATION_ID, &format!("branch-{k}")),
        );
    }
    txs
}
