//! Rendering rows as canonical column values, without the formatting machinery (this is the
//! hot path of generation: about 35 fields per row).

use redflag_schema::{CanonicalEnum, PartyKind};

use crate::plan::{Plan, mix};
use crate::txn::{Chain, EXTERNAL_COUNTRIES, Location, Party, Service, Txn};
use crate::world::{BANK, CITIES, FAMILY, GIVEN, HOME_COUNTRY};

/// The columns written, in order (all canonical; see `docs/SCHEMA.md`).
pub const COLUMNS: &[&str] = &[
    "txn_id",
    "ts",
    "sender_id",
    "receiver_id",
    "amount",
    "currency",
    "channel",
    "local_offset_min",
    "status",
    "sender_kind",
    "receiver_kind",
    "sender_customer_id",
    "receiver_customer_id",
    "sender_name",
    "receiver_name",
    "sender_institution",
    "receiver_institution",
    "sender_country",
    "receiver_country",
    "conductor_id",
    "location_id",
    "geo_city",
    "geo_region",
    "geo_country",
    "mcc",
    "merchant_id",
    "merchant_name",
    "device_id",
    "ip_address",
    "chain",
    "asset",
    "tx_hash",
    "purpose_code",
];

const COMPANY_A: &[&str] = &[
    "Northern", "Blue", "Summit", "Prime", "Golden", "Pacific", "Atlas", "Cedar", "Harbor",
    "Silver", "Eagle", "Union", "Liberty", "Oak", "River", "Metro",
];
const COMPANY_B: &[&str] = &[
    "Logistics",
    "Builders",
    "Foods",
    "Health",
    "Services",
    "Staffing",
    "Holdings",
    "Trading",
    "Motors",
    "Properties",
    "Cleaning",
    "Farms",
    "Textiles",
    "Systems",
    "Supply",
    "Partners",
];

/// Appends `v` zero-padded to `width` digits.
pub fn digits(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(20));
    out.extend_from_slice(&buf[start..]);
}

fn hex(out: &mut Vec<u8>, mut seed: u64, n: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut left = n;
    while left > 0 {
        seed = mix(seed);
        for k in 0..16.min(left) {
            out.push(HEX[((seed >> (4 * k)) & 15) as usize]);
        }
        left = left.saturating_sub(16);
    }
}

/// Renders the values of one population's rows.
pub struct Renderer<'p> {
    plan: &'p Plan,
}

impl<'p> Renderer<'p> {
    /// A renderer for `plan`.
    pub fn new(plan: &'p Plan) -> Self {
        Renderer { plan }
    }

    /// `txn_id`: `T<unit>-<seq>`, or `<tx_hash>:0` for on-chain transfers.
    pub fn txn_id(&self, out: &mut Vec<u8>, t: &Txn, unit: u32, seq: u32) {
        if t.chain.is_some() {
            self.tx_hash(out, unit, seq);
            out.extend_from_slice(b":0");
        } else {
            out.push(b'T');
            digits(out, u64::from(unit), 8);
            out.push(b'-');
            digits(out, u64::from(seq), 5);
        }
    }

    /// The 64-hex-digit hash of an on-chain transfer.
    pub fn tx_hash(&self, out: &mut Vec<u8>, unit: u32, seq: u32) {
        hex(
            out,
            self.plan.seed ^ (u64::from(unit) << 24) ^ u64::from(seq),
            64,
        );
    }

    /// A party's id.
    pub fn party_id(&self, out: &mut Vec<u8>, p: Party) {
        match p {
            Party::Account { cust, slot } => {
                out.extend_from_slice(b"AC");
                digits(out, u64::from(cust), 8);
                out.push(b'0' + slot);
            }
            Party::Wallet { cust, chain } => wallet(out, 0x5747_0000_0000 ^ u64::from(cust), chain),
            Party::ServiceWallet { service, chain } => {
                let n = Service::ALL.iter().position(|s| *s == service).unwrap_or(0) as u64;
                wallet(out, 0x5345_5256_0000 ^ n, chain)
            }
            Party::Merchant(m) => {
                out.extend_from_slice(b"MR");
                digits(out, u64::from(m), 5);
            }
            Party::Front(cust) => {
                out.extend_from_slice(b"MF");
                digits(out, u64::from(cust), 8);
            }
            Party::External { id, .. } => {
                out.extend_from_slice(b"EX");
                digits(out, u64::from(id), 9);
            }
            Party::Card(n) => {
                out.extend_from_slice(b"CARD");
                digits(out, u64::from(n), 10);
            }
            Party::Cash => out.extend_from_slice(b"CASH"),
        }
    }

    /// A party's kind.
    pub fn party_kind(p: Party) -> PartyKind {
        match p {
            Party::Account { .. } => PartyKind::Account,
            Party::Wallet { .. } | Party::ServiceWallet { .. } => PartyKind::Wallet,
            Party::Merchant(_) | Party::Front(_) => PartyKind::Merchant,
            Party::External { .. } => PartyKind::External,
            Party::Card(_) => PartyKind::Card,
            Party::Cash => PartyKind::Cash,
        }
    }

    /// A customer id, `CU` and eight digits.
    pub fn customer_id(out: &mut Vec<u8>, cust: u32) {
        out.extend_from_slice(b"CU");
        digits(out, u64::from(cust), 8);
    }

    /// A person's name, from a number.
    pub fn person_name(out: &mut Vec<u8>, n: u64) {
        let h = mix(n ^ 0x4E41_4D45);
        out.extend_from_slice(GIVEN[(h % GIVEN.len() as u64) as usize].as_bytes());
        out.push(b' ');
        out.extend_from_slice(FAMILY[((h >> 20) % FAMILY.len() as u64) as usize].as_bytes());
    }

    fn company_name(out: &mut Vec<u8>, n: u64) {
        let h = mix(n ^ 0x434F_4D50);
        out.extend_from_slice(COMPANY_A[(h % COMPANY_A.len() as u64) as usize].as_bytes());
        out.push(b' ');
        out.extend_from_slice(COMPANY_B[((h >> 16) % COMPANY_B.len() as u64) as usize].as_bytes());
        out.extend_from_slice([&b" Inc"[..], b" LLC", b" Co"][((h >> 32) % 3) as usize]);
    }

    /// The name written on a payment for a party.
    pub fn party_name(&self, out: &mut Vec<u8>, p: Party) {
        match p {
            Party::Account { cust, .. } | Party::Wallet { cust, .. } => {
                if self.plan.persona(cust).is_business() {
                    Self::company_name(out, u64::from(cust));
                } else {
                    Self::person_name(out, u64::from(cust));
                }
            }
            Party::Merchant(m) => {
                out.extend_from_slice(self.plan.world.merchants[m as usize].name.as_bytes())
            }
            Party::Front(cust) => {
                out.extend_from_slice(b"Lotus Massage ");
                digits(out, u64::from(cust % 1000), 3);
            }
            Party::External {
                id, company: true, ..
            } => Self::company_name(out, u64::from(id) << 1),
            Party::External { id, .. } => Self::person_name(out, (u64::from(id) << 1) | 1),
            Party::Card(_) | Party::ServiceWallet { .. } | Party::Cash => {}
        }
    }

    /// A party's institution.
    pub fn institution(out: &mut Vec<u8>, p: Party) {
        match p {
            Party::Account { .. } | Party::Merchant(_) | Party::Front(_) => {
                out.extend_from_slice(BANK.as_bytes())
            }
            Party::External { id, country, .. } => {
                out.extend_from_slice(b"XB");
                out.extend_from_slice(EXTERNAL_COUNTRIES[usize::from(country)].as_bytes());
                digits(out, u64::from(id % 40), 2);
            }
            Party::Card(n) => {
                out.extend_from_slice(b"XBUS");
                digits(out, u64::from(n % 20), 2);
            }
            _ => {}
        }
    }

    /// A party's country.
    pub fn country(out: &mut Vec<u8>, p: Party) {
        match p {
            Party::Account { .. } | Party::Merchant(_) | Party::Front(_) | Party::Card(_) => {
                out.extend_from_slice(HOME_COUNTRY.as_bytes())
            }
            Party::External { country, .. } => {
                out.extend_from_slice(EXTERNAL_COUNTRIES[usize::from(country)].as_bytes())
            }
            _ => {}
        }
    }

    /// `conductor_id`: the customer id of a customer, the party id of anyone else.
    pub fn conductor(&self, out: &mut Vec<u8>, t: &Txn) {
        match t.conductor {
            Some(Party::Account { cust, .. }) => Self::customer_id(out, cust),
            Some(p) => self.party_id(out, p),
            None => {}
        }
    }

    /// `location_id`.
    pub fn location(out: &mut Vec<u8>, t: &Txn) {
        match t.location {
            Location::None => {}
            Location::Branch(c, n) => {
                out.extend_from_slice(b"BR");
                digits(out, u64::from(c), 2);
                digits(out, u64::from(n), 1);
            }
            Location::Atm(c, n) => {
                out.extend_from_slice(b"ATM");
                digits(out, u64::from(c), 2);
                digits(out, u64::from(n), 2);
            }
            Location::Terminal => {
                out.extend_from_slice(b"POS");
                match (t.merchant, t.receiver) {
                    (Some(m), _) => digits(out, u64::from(m), 5),
                    (None, Party::Front(c)) => digits(out, u64::from(c), 8),
                    _ => {}
                }
            }
        }
    }

    /// MCC, merchant id and name of a row, if it was paid to a merchant.
    pub fn merchant(&self, t: &Txn) -> Option<(u16, Party)> {
        match (t.merchant, t.receiver) {
            (Some(m), _) => Some((
                self.plan.world.merchants[m as usize].mcc,
                Party::Merchant(m),
            )),
            (None, Party::Front(c)) => Some((7297, Party::Front(c))),
            _ => None,
        }
    }

    /// `device_id`.
    pub fn device(out: &mut Vec<u8>, t: &Txn) {
        if t.device != 0 {
            out.extend_from_slice(b"DV");
            digits(out, u64::from(t.device), 8);
        }
    }

    /// `ip_address`: a public-looking IPv4 address derived from the number.
    pub fn ip(out: &mut Vec<u8>, t: &Txn) {
        if t.ip == 0 {
            return;
        }
        let h = mix(u64::from(t.ip) ^ 0x4950);
        let first = [24u64, 47, 66, 68, 71, 73, 76, 98, 99, 107, 172, 174, 184][(h % 13) as usize];
        digits(out, first, 1);
        for k in 1..4 {
            out.push(b'.');
            digits(out, (h >> (8 * k)) & 0xFF, 1);
        }
    }

    /// `amount` as a plain decimal.
    pub fn amount(out: &mut Vec<u8>, t: &Txn) {
        let scale = t.currency.scale();
        let p = 10u64.pow(scale);
        let v = t.amount.unsigned_abs();
        digits(out, v / p, 1);
        out.push(b'.');
        digits(out, v % p, scale as usize);
    }

    /// `ts` as RFC 3339 UTC (`2024-03-01T22:14:05Z`).
    pub fn ts(out: &mut Vec<u8>, secs: i64) {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u64;
        let (y, m, d) = civil(days);
        digits(out, y as u64, 4);
        out.push(b'-');
        digits(out, u64::from(m), 2);
        out.push(b'-');
        digits(out, u64::from(d), 2);
        out.push(b'T');
        digits(out, rem / 3600, 2);
        out.push(b':');
        digits(out, rem / 60 % 60, 2);
        out.push(b':');
        digits(out, rem % 60, 2);
        out.push(b'Z');
    }

    /// Every column of `t`, in [`COLUMNS`] order, each rendered into `buf` and passed to
    /// `field` with its index.
    pub fn fields(
        &self,
        t: &Txn,
        unit: u32,
        seq: u32,
        mut field: impl FnMut(usize, &[u8]),
        buf: &mut Vec<u8>,
    ) {
        let mut put = |i: usize, buf: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
            buf.clear();
            f(buf);
            field(i, buf);
        };
        let city = t.city.map(|c| &CITIES[usize::from(c)]);
        let merchant = self.merchant(t);
        put(0, buf, &|o| self.txn_id(o, t, unit, seq));
        put(1, buf, &|o| Self::ts(o, t.ts));
        put(2, buf, &|o| self.party_id(o, t.sender));
        put(3, buf, &|o| self.party_id(o, t.receiver));
        put(4, buf, &|o| Self::amount(o, t));
        put(5, buf, &|o| {
            o.extend_from_slice(t.currency.code().as_bytes())
        });
        put(6, buf, &|o| {
            o.extend_from_slice(t.channel.as_str().as_bytes())
        });
        put(7, buf, &|o| signed(o, i64::from(t.offset_min)));
        put(8, buf, &|o| {
            o.extend_from_slice(t.status.as_str().as_bytes())
        });
        put(9, buf, &|o| {
            o.extend_from_slice(Self::party_kind(t.sender).as_str().as_bytes())
        });
        put(10, buf, &|o| {
            o.extend_from_slice(Self::party_kind(t.receiver).as_str().as_bytes())
        });
        put(11, buf, &|o| {
            if let Some(c) = t.sender.customer() {
                Self::customer_id(o, c)
            }
        });
        put(12, buf, &|o| {
            if let Some(c) = t.receiver.customer() {
                Self::customer_id(o, c)
            }
        });
        put(13, buf, &|o| self.party_name(o, t.sender));
        put(14, buf, &|o| match t.payee_name {
            Some(c) => Self::person_name(o, u64::from(c)),
            None => self.party_name(o, t.receiver),
        });
        put(15, buf, &|o| Self::institution(o, t.sender));
        put(16, buf, &|o| Self::institution(o, t.receiver));
        put(17, buf, &|o| Self::country(o, t.sender));
        put(18, buf, &|o| Self::country(o, t.receiver));
        put(19, buf, &|o| self.conductor(o, t));
        put(20, buf, &|o| Self::location(o, t));
        put(21, buf, &|o| {
            o.extend_from_slice(city.map_or("", |c| c.name).as_bytes())
        });
        put(22, buf, &|o| {
            o.extend_from_slice(city.map_or("", |c| c.region).as_bytes())
        });
        put(23, buf, &|o| {
            o.extend_from_slice(city.map_or("", |c| c.country).as_bytes())
        });
        put(24, buf, &|o| {
            if let Some((mcc, _)) = merchant {
                digits(o, u64::from(mcc), 4)
            }
        });
        put(25, buf, &|o| {
            if let Some((_, m)) = merchant {
                self.party_id(o, m)
            }
        });
        put(26, buf, &|o| {
            if let Some((_, m)) = merchant {
                self.party_name(o, m)
            }
        });
        put(27, buf, &|o| Self::device(o, t));
        put(28, buf, &|o| Self::ip(o, t));
        put(29, buf, &|o| {
            o.extend_from_slice(t.chain.map_or("", Chain::name).as_bytes())
        });
        put(30, buf, &|o| {
            if t.chain.is_some() {
                o.extend_from_slice(t.currency.code().as_bytes())
            }
        });
        put(31, buf, &|o| {
            if t.chain.is_some() {
                self.tx_hash(o, unit, seq)
            }
        });
        put(32, buf, &|o| {
            o.extend_from_slice(t.purpose.unwrap_or("").as_bytes())
        });
    }
}

fn wallet(out: &mut Vec<u8>, seed: u64, chain: Chain) {
    match chain {
        Chain::Ethereum => {
            out.extend_from_slice(b"0x");
            hex(out, seed, 40);
        }
        Chain::Bitcoin => {
            out.extend_from_slice(b"bc1q");
            hex(out, seed, 38);
        }
    }
}

fn signed(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    digits(out, v.unsigned_abs(), 1);
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_chrono() {
        for secs in [
            0i64,
            951_782_400,
            1_709_331_245,
            1_735_689_599,
            4_102_444_800,
        ] {
            let mut out = Vec::new();
            Renderer::ts(&mut out, secs);
            let want = chrono::DateTime::from_timestamp(secs, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn digits_pad_and_overflow_width() {
        let mut out = Vec::new();
        digits(&mut out, 42, 5);
        out.push(b' ');
        digits(&mut out, 123_456, 2);
        out.push(b' ');
        digits(&mut out, 0, 1);
        assert_eq!(out, b"00042 123456 0");
    }
}
