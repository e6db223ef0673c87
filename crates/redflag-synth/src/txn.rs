//! One generated transaction, its parties, and the per-unit generator that makes them.
//!
//! Rows are plain values (numbers and indexes into the [`World`]); ids,
//! names and amounts are rendered only when a row is written, so generating a row allocates
//! nothing.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use redflag_schema::{Channel, Status};

use crate::plan::Plan;
use crate::world::{CITIES, Cat, Currency, World};

/// A crypto network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Bitcoin (UTXO; `n_inputs`/`n_outputs` are filled).
    Bitcoin,
    /// Ethereum (ETH and USDT).
    Ethereum,
}

impl Chain {
    /// `chain` column value.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Bitcoin => "bitcoin",
            Chain::Ethereum => "ethereum",
        }
    }
}

/// What a service wallet is, for the synthetic attribution list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// An exchange's deposit/withdrawal wallet.
    Exchange,
    /// A service selling escort or commercial-sex advertising.
    AdService,
    /// An escort service.
    EscortService,
    /// A mixer.
    Mixer,
}

impl Service {
    /// Every attributed service, in wallet-number order.
    pub const ALL: [Service; 4] = [
        Service::Exchange,
        Service::AdService,
        Service::EscortService,
        Service::Mixer,
    ];

    /// The `vasp_attribution.csv` category.
    pub fn category(self) -> &'static str {
        match self {
            Service::Exchange => "exchange",
            Service::AdService => "ad_service",
            Service::EscortService => "escort_service",
            Service::Mixer => "mixer",
        }
    }
}

/// A party to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// Account `slot` of bank customer `cust`.
    Account {
        /// Customer number.
        cust: u32,
        /// Which of the customer's accounts (0 is the main one).
        slot: u8,
    },
    /// A bank customer's self-hosted wallet.
    Wallet {
        /// Customer number.
        cust: u32,
        /// Network.
        chain: Chain,
    },
    /// A wallet the synthetic attribution list names.
    ServiceWallet {
        /// What it is.
        service: Service,
        /// Network.
        chain: Chain,
    },
    /// A merchant of the world table.
    Merchant(u32),
    /// A person or company at another institution; `country` indexes
    /// [`EXTERNAL_COUNTRIES`].
    External {
        /// Party number.
        id: u32,
        /// Index into [`EXTERNAL_COUNTRIES`].
        country: u8,
        /// A company rather than a person (for its name).
        company: bool,
    },
    /// A card issued by another bank (a front business's clients).
    Card(u32),
    /// The card-acceptance side of a front business owned by customer `cust` (a massage
    /// parlour: merchant id `MF...`, MCC 7297).
    Front(u32),
    /// The `CASH` sentinel.
    Cash,
}

/// Countries of external parties: the home country first, then remittance destinations.
pub const EXTERNAL_COUNTRIES: &[&str] = &[
    "US", "MX", "GT", "SV", "HN", "PH", "IN", "VN", "TH", "NG", "RO", "GB", "FR",
];

impl Party {
    /// Main account of customer `cust`.
    pub fn account(cust: u32) -> Party {
        Party::Account { cust, slot: 0 }
    }

    /// A domestic external person.
    pub fn person(id: u32) -> Party {
        Party::External {
            id,
            country: 0,
            company: false,
        }
    }

    /// A domestic external company.
    pub fn company(id: u32) -> Party {
        Party::External {
            id,
            country: 0,
            company: true,
        }
    }

    /// The bank customer behind the party, if any.
    pub fn customer(self) -> Option<u32> {
        match self {
            Party::Account { cust, .. } | Party::Wallet { cust, .. } => Some(cust),
            _ => None,
        }
    }
}

/// Where a cash or card transaction took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Not at a physical place (online, transfers).
    None,
    /// A branch counter: (city, branch number).
    Branch(u16, u8),
    /// An ATM: (city, ATM number).
    Atm(u16, u8),
    /// The merchant's terminal.
    Terminal,
}

/// What a row is evidence of, for `transaction_labels.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Ordinary behaviour (not listed).
    None,
    /// Part of a planted case (`is_laundering = 1`).
    Case,
    /// Behaviour of a benign look-alike (`is_laundering = 0`, listed with this typology).
    Lookalike(&'static str),
}

/// One generated transaction.
#[derive(Debug, Clone, Copy)]
pub struct Txn {
    /// Seconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Paying party.
    pub sender: Party,
    /// Receiving party.
    pub receiver: Party,
    /// Amount in units of 10^-scale of `currency`.
    pub amount: i64,
    /// Currency of `amount`.
    pub currency: Currency,
    /// Channel.
    pub channel: Channel,
    /// Status.
    pub status: Status,
    /// Local offset of the place, minutes.
    pub offset_min: i16,
    /// City index into [`CITIES`] where it happened.
    pub city: Option<u16>,
    /// Branch, ATM or terminal.
    pub location: Location,
    /// Merchant number, for card rows.
    pub merchant: Option<u32>,
    /// Who physically conducted a cash transaction, when not the holder.
    pub conductor: Option<Party>,
    /// Device number (0 = none).
    pub device: u32,
    /// IP number (0 = none).
    pub ip: u32,
    /// Purpose code.
    pub purpose: Option<&'static str>,
    /// Customer whose name is written as the receiver's, when it is not the holder's (wages of
    /// several workers paid into one account).
    pub payee_name: Option<u32>,
    /// Network, for on-chain transfers.
    pub chain: Option<Chain>,
    /// Evidence label.
    pub label: Label,
}

impl Txn {
    /// The amount as a floating-point number of currency units.
    pub fn amount_f64(&self) -> f64 {
        self.amount as f64 / 10f64.powi(self.currency.scale() as i32)
    }
}

/// Minutes of a local day.
pub type Minute = u32;

/// Generates the rows of one unit (a customer or a planted case) from its own RNG.
pub struct Gen<'p> {
    /// The population plan.
    pub plan: &'p Plan,
    /// The unit's RNG.
    pub rng: ChaCha8Rng,
    /// Rows made so far.
    pub rows: Vec<Txn>,
    /// Label given to rows pushed from now on.
    pub label: Label,
}

impl<'p> Gen<'p> {
    /// A generator for `unit`, seeded from the population seed and the unit number.
    pub fn new(plan: &'p Plan, unit: u64) -> Gen<'p> {
        Gen {
            plan,
            rng: plan.rng(unit),
            rows: Vec::new(),
            label: Label::None,
        }
    }

    /// The world table.
    pub fn world(&self) -> &'p World {
        &self.plan.world
    }

    /// UTC seconds of local minute `minute` (may exceed a day) on day `day` at `offset_min`,
    /// with random seconds.
    pub fn ts(&mut self, day: u32, minute: Minute, offset_min: i16) -> i64 {
        let secs = self.rng.gen_range(0..60);
        self.plan.start_epoch + i64::from(day) * 86_400 + i64::from(minute) * 60 + secs
            - i64::from(offset_min) * 60
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.r#gen::<f64>() < p
    }

    /// A uniform integer in `lo..hi`.
    pub fn int(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            lo
        } else {
            self.rng.gen_range(lo..hi)
        }
    }

    /// A uniform float in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.r#gen::<f64>()
    }

    /// A log-uniform amount in `[lo, hi)`, in whole cents.
    pub fn usd(&mut self, lo: f64, hi: f64) -> f64 {
        let x = (lo.ln() + (hi.ln() - lo.ln()) * self.rng.r#gen::<f64>()).exp();
        (x * 100.0).round() / 100.0
    }

    /// A draw from a Poisson distribution with a small mean.
    pub fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.rng.r#gen::<f64>();
        while p > limit && k < 64 {
            k += 1;
            p *= self.rng.r#gen::<f64>();
        }
        k
    }

    /// A local minute of the day for shopping: mostly 07:00-22:00, peaking at lunch and early
    /// evening.
    pub fn day_minute(&mut self) -> Minute {
        const HOURS: [u32; 16] = [7, 8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 18, 19, 20];
        let h = HOURS[self.rng.gen_range(0..HOURS.len())];
        h * 60 + self.rng.gen_range(0..60) + if self.chance(0.08) { 120 } else { 0 }
    }

    /// A local minute between 22:00 and 05:59 (as minutes past the day's start, so past
    /// midnight is 24:00 and later).
    pub fn night_minute(&mut self) -> Minute {
        22 * 60 + self.rng.gen_range(0..8 * 60)
    }

    /// Pushes a row with the current label.
    pub fn push(&mut self, mut t: Txn) {
        t.label = self.label;
        self.rows.push(t);
    }

    /// A bare completed row: no place, no merchant, no device.
    pub fn base(&self, ts: i64, sender: Party, receiver: Party, usd: f64, channel: Channel) -> Txn {
        Txn {
            ts,
            sender,
            receiver,
            amount: (usd * 100.0).round() as i64,
            currency: Currency::Usd,
            channel,
            status: Status::Completed,
            offset_min: 0,
            city: None,
            location: Location::None,
            merchant: None,
            conductor: None,
            device: 0,
            ip: 0,
            purpose: None,
            payee_name: None,
            chain: None,
            label: Label::None,
        }
    }

    /// A card payment by `payer` at merchant `m` at local `minute` of `day`; online merchants
    /// take the card not present, with the payer's device and IP.
    #[allow(clippy::too_many_arguments)]
    pub fn card(
        &mut self,
        day: u32,
        minute: Minute,
        payer: Party,
        m: u32,
        usd: f64,
        home: u16,
        session: (u32, u32),
    ) {
        let merchant = &self.world().merchants[m as usize];
        let (channel, city, location) = match merchant.city {
            Some(c) => (Channel::CardPresent, c, Location::Terminal),
            None => (Channel::CardNotPresent, home, Location::None),
        };
        let offset = CITIES[usize::from(city)].offset_min;
        let ts = self.ts(day, minute, offset);
        let mut t = self.base(ts, payer, Party::Merchant(m), usd, channel);
        t.offset_min = offset;
        t.merchant = Some(m);
        t.location = location;
        if merchant.city.is_some() {
            t.city = Some(city);
        } else {
            (t.device, t.ip) = session;
        }
        self.push(t);
    }

    /// A card payment at a random merchant of `cat` in `city` (amount drawn from the category's
    /// range unless given).
    #[allow(clippy::too_many_arguments)]
    pub fn shop(
        &mut self,
        day: u32,
        minute: Minute,
        payer: Party,
        cat: Cat,
        city: u16,
        usd: Option<f64>,
        session: (u32, u32),
    ) {
        let shops = self.world().shops(cat, city);
        let m = shops[self.rng.gen_range(0..shops.len())];
        let usd = match usd {
            Some(a) => a,
            None => {
                let (lo, hi) = World::range(cat);
                self.usd(lo, hi)
            }
        };
        self.card(day, minute, payer, m, usd, city, session);
    }

    /// Cash in or out at a branch counter or an ATM in `city`.
    #[allow(clippy::too_many_arguments)]
    pub fn cash(
        &mut self,
        day: u32,
        minute: Minute,
        account: Party,
        usd: f64,
        deposit: bool,
        atm: bool,
        city: u16,
    ) -> usize {
        let offset = CITIES[usize::from(city)].offset_min;
        let ts = self.ts(day, minute, offset);
        let channel = match (deposit, atm) {
            (true, true) => Channel::AtmDeposit,
            (true, false) => Channel::CashDeposit,
            (false, true) => Channel::AtmWithdrawal,
            (false, false) => Channel::CashWithdrawal,
        };
        let (s, r) = if deposit {
            (Party::Cash, account)
        } else {
            (account, Party::Cash)
        };
        let mut t = self.base(ts, s, r, usd, channel);
        t.offset_min = offset;
        t.city = Some(city);
        let n = self.rng.gen_range(0..3u8);
        t.location = if atm {
            Location::Atm(city, n)
        } else {
            Location::Branch(city, n)
        };
        self.push(t);
        self.rows.len() - 1
    }

    /// A transfer between two parties at local `minute` of `day` in the sender's home time.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        day: u32,
        minute: Minute,
        from: Party,
        to: Party,
        usd: f64,
        channel: Channel,
        home: u16,
    ) -> usize {
        let offset = CITIES[usize::from(home)].offset_min;
        let ts = self.ts(day, minute, offset);
        let mut t = self.base(ts, from, to, usd, channel);
        t.offset_min = offset;
        self.push(t);
        self.rows.len() - 1
    }
}
