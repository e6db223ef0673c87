//! The population plan: who exists, what each customer is, which cases are planted where.
//!
//! Everything a unit needs to know about another (an employer's account, a landlord, a ROSCA
//! organiser, a household's shared device) is a pure function of the seed and the customer
//! number, so units are generated independently, in any order, on any number of threads, and
//! still agree with each other.

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::world::{CITIES, World};

/// How the ordinary and look-alike customers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Persona {
    /// Payroll in, rent, utilities, card spend, ATM.
    Salaried,
    /// Platform payouts and small P2P credits, irregular hours.
    Gig,
    /// Family support, small spend.
    Student,
    /// Pension, daytime branch cash.
    Retiree,
    /// A small cash-taking business (restaurant, salon, grocery).
    CashBusiness,
    /// A business paying the wages of customers in its block.
    Employer,
    /// Look-alike: hotels in several cities, flights (SE-2, SE-8).
    BusinessTraveller,
    /// Look-alike: motels every night in a different city, fuel, night ATM (SE-2, SE-5, SE-8).
    LongHaulDriver,
    /// Look-alike: night ATM and fast food (SE-5).
    NightShift,
    /// Look-alike: remittances abroad soon after payday (LE-2, PT-2).
    MigrantRemitter,
    /// Look-alike: small classified-ad fees (SE-1).
    ClassifiedsSeller,
    /// Look-alike: dating-site subscription and boosts (SE-1).
    DatingSubscriber,
    /// Look-alike: small regular crypto purchases (CR-1).
    CryptoInvestor,
    /// Look-alike: receives rent from many tenants, some in cash (GR-1, FN-2).
    Landlord,
    /// Look-alike: collects a rotating savings group's contributions and pays the pot (GR-1, GR-4).
    RoscaOrganiser,
    /// Look-alike: client funding in, many wages out within a day (GR-2, PT-1).
    PayrollProcessor,
    /// Look-alike: daily takings deposited in cash just under the reporting threshold (ST-1).
    CashBusinessLarge,
    /// Look-alike: relatives deposit cash in several cities, withdrawn at college (FN-1).
    FamilySupported,
    /// Look-alike: four family members share one device (GR-8).
    SharedHousehold,
}

impl Persona {
    /// Every persona.
    pub const ALL: [Persona; 19] = [
        Persona::Salaried,
        Persona::Gig,
        Persona::Student,
        Persona::Retiree,
        Persona::CashBusiness,
        Persona::Employer,
        Persona::BusinessTraveller,
        Persona::LongHaulDriver,
        Persona::NightShift,
        Persona::MigrantRemitter,
        Persona::ClassifiedsSeller,
        Persona::DatingSubscriber,
        Persona::CryptoInvestor,
        Persona::Landlord,
        Persona::RoscaOrganiser,
        Persona::PayrollProcessor,
        Persona::CashBusinessLarge,
        Persona::FamilySupported,
        Persona::SharedHousehold,
    ];

    /// The look-alike persona a label names.
    pub fn from_lookalike(label: &str) -> Option<Persona> {
        Persona::ALL
            .iter()
            .copied()
            .find(|p| p.lookalike() == Some(label))
    }

    /// The typology label of a look-alike (what it resembles), `None` for ordinary personas.
    pub fn lookalike(self) -> Option<&'static str> {
        Some(match self {
            Persona::BusinessTraveller => "lookalike_business_travel",
            Persona::LongHaulDriver => "lookalike_long_haul_driver",
            Persona::NightShift => "lookalike_night_shift",
            Persona::MigrantRemitter => "lookalike_migrant_remittance",
            Persona::ClassifiedsSeller => "lookalike_classifieds_seller",
            Persona::DatingSubscriber => "lookalike_dating_subscriber",
            Persona::CryptoInvestor => "lookalike_crypto_investor",
            Persona::Landlord => "lookalike_landlord",
            Persona::RoscaOrganiser => "lookalike_rosca",
            Persona::PayrollProcessor => "lookalike_payroll_processor",
            Persona::CashBusinessLarge => "lookalike_cash_business",
            Persona::FamilySupported => "lookalike_family_support",
            Persona::SharedHousehold => "lookalike_shared_household",
            _ => return None,
        })
    }

    /// The red-flag families (INDICATORS.md §2 groups) a look-alike resembles.
    pub fn families(self) -> &'static [&'static str] {
        match self {
            Persona::BusinessTraveller => &["SE"],
            Persona::LongHaulDriver => &["SE"],
            Persona::NightShift => &["SE"],
            Persona::MigrantRemitter => &["LE", "PT"],
            Persona::ClassifiedsSeller | Persona::DatingSubscriber => &["SE"],
            Persona::CryptoInvestor => &["CR"],
            Persona::Landlord => &["GR", "FN"],
            Persona::RoscaOrganiser => &["GR", "FN"],
            Persona::PayrollProcessor => &["GR", "PT", "LE"],
            Persona::CashBusinessLarge => &["ST"],
            Persona::FamilySupported => &["FN"],
            Persona::SharedHousehold => &["GR"],
            _ => &[],
        }
    }

    /// A business rather than a person.
    pub fn is_business(self) -> bool {
        matches!(
            self,
            Persona::CashBusiness
                | Persona::Employer
                | Persona::PayrollProcessor
                | Persona::CashBusinessLarge
        )
    }
}

/// Weighted draw for customers not in a fixed block position.
const PERSONA_WEIGHTS: &[(Persona, u32)] = &[
    (Persona::Salaried, 440),
    (Persona::Gig, 80),
    (Persona::Student, 60),
    (Persona::Retiree, 80),
    (Persona::CashBusiness, 40),
    (Persona::BusinessTraveller, 25),
    (Persona::LongHaulDriver, 15),
    (Persona::NightShift, 30),
    (Persona::MigrantRemitter, 45),
    (Persona::ClassifiedsSeller, 20),
    (Persona::DatingSubscriber, 30),
    (Persona::CryptoInvestor, 30),
    (Persona::CashBusinessLarge, 7),
    (Persona::FamilySupported, 15),
];

/// Customers come in blocks of this many; fixed positions in a block hold the businesses and
/// groups that other customers of the block deal with.
pub const BLOCK: u32 = 200;

/// A planted typology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Typology {
    /// Escort-ad micro-payments, multi-city short stays, night cash, shared device (SE-1/2/3/5, GR-8).
    SexAds,
    /// Cash paid in across cities by several people, taken out elsewhere within 48 h (FN-1/2/3).
    Funnel,
    /// Cash just under the threshold, split across branches, backing off after a decline (ST-1/2/4).
    Structuring,
    /// A front employer's wages swept to the controller within 48 h (LE-1, LE-2).
    WageSweep,
    /// Cash-intensive massage front: cash deposits, night card receipts, recruitment fees (LE-3, LE-6, SE-4).
    LabourFront,
    /// Victims' transfers gathered, cash added, wired to remittance countries (GR-1, PT-2, ST-3).
    CorridorFanIn,
    /// Prepaid card, then crypto, then an ad service's wallet (SE-6, CR-1, CR-2, CR-4, PT-4).
    CryptoAds,
    /// One payer buys several tickets and visa fees, recruits pay fees (LE-3, LE-4).
    TravelVisa,
    /// Many mule accounts pay one within days (GR-1).
    FanIn,
    /// One account pays many new receivers within days (GR-2).
    FanOut,
    /// Originator -> thin intermediaries -> beneficiary (GR-3).
    ScatterGather,
    /// Several senders -> one account -> several other receivers (GR-4).
    GatherScatter,
    /// A time-respecting loop with amounts shrinking each hop (GR-5).
    Cycle,
    /// A dense block of originators and beneficiaries (GR-6).
    Bipartite,
    /// Two dense blocks stacked through forwarding intermediaries (GR-6 stack).
    Stack,
    /// A chain of thin pass-through hops (GR-7).
    LayeredChain,
}

impl Typology {
    /// Every typology, in the order cases cycle through them.
    pub const ALL: [Typology; 16] = [
        Typology::SexAds,
        Typology::Funnel,
        Typology::Structuring,
        Typology::WageSweep,
        Typology::LabourFront,
        Typology::CorridorFanIn,
        Typology::CryptoAds,
        Typology::TravelVisa,
        Typology::FanIn,
        Typology::FanOut,
        Typology::ScatterGather,
        Typology::GatherScatter,
        Typology::Cycle,
        Typology::Bipartite,
        Typology::Stack,
        Typology::LayeredChain,
    ];

    /// The label written to the label files.
    pub fn name(self) -> &'static str {
        match self {
            Typology::SexAds => "sex_ads",
            Typology::Funnel => "funnel",
            Typology::Structuring => "structuring",
            Typology::WageSweep => "wage_sweep",
            Typology::LabourFront => "labour_front",
            Typology::CorridorFanIn => "corridor_fan_in",
            Typology::CryptoAds => "crypto_ads",
            Typology::TravelVisa => "travel_visa",
            Typology::FanIn => "fan_in",
            Typology::FanOut => "fan_out",
            Typology::ScatterGather => "scatter_gather",
            Typology::GatherScatter => "gather_scatter",
            Typology::Cycle => "cycle",
            Typology::Bipartite => "bipartite",
            Typology::Stack => "stack",
            Typology::LayeredChain => "layered_chain",
        }
    }

    /// Parses a label.
    pub fn from_name(name: &str) -> Option<Typology> {
        Typology::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Members by role: (controllers, front businesses, victims min, victims max).
    fn shape(self) -> (u32, u32, u32, u32) {
        match self {
            Typology::SexAds => (1, 0, 2, 4),
            Typology::Funnel => (1, 0, 3, 5),
            Typology::Structuring => (1, 0, 1, 2),
            Typology::WageSweep => (1, 1, 3, 5),
            Typology::LabourFront => (1, 1, 3, 4),
            Typology::CorridorFanIn => (1, 0, 5, 6),
            Typology::CryptoAds => (1, 0, 1, 2),
            Typology::TravelVisa => (1, 0, 3, 5),
            Typology::FanIn => (1, 0, 5, 8),
            Typology::FanOut => (1, 0, 5, 8),
            Typology::ScatterGather => (2, 0, 3, 5),
            Typology::GatherScatter => (1, 0, 6, 8),
            Typology::Cycle => (1, 0, 2, 4),
            Typology::Bipartite => (2, 0, 3, 4),
            Typology::Stack => (2, 0, 6, 6),
            Typology::LayeredChain => (2, 0, 4, 5),
        }
    }
}

/// A member's part in a planted case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Directs the scheme and receives its proceeds.
    Controller,
    /// Exploited person, or an account opened in their name and operated by the controller.
    Victim,
    /// A business used as cover.
    FrontBusiness,
}

impl Role {
    /// The label written to the label files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Controller => "controller",
            Role::Victim => "victim",
            Role::FrontBusiness => "front_business",
        }
    }
}

/// One planted case.
#[derive(Debug, Clone)]
pub struct CasePlan {
    /// Case number (label `C0001` is number 1).
    pub id: u32,
    /// What is planted.
    pub typology: Typology,
    /// Customer number of the first member; members are consecutive.
    pub first: u32,
    /// Role of each member, controllers first, then front businesses, then victims.
    pub roles: Vec<Role>,
    /// 0.3 (faint: may stay under the thresholds) to 1.0.
    pub intensity: f64,
    /// Day the scheme starts.
    pub start_day: u32,
}

impl CasePlan {
    /// The case label.
    pub fn label(&self) -> String {
        format!("C{:04}", self.id)
    }

    /// Customer numbers holding `role`.
    pub fn members(&self, role: Role) -> Vec<u32> {
        self.roles
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == role)
            .map(|(i, _)| self.first + i as u32)
            .collect()
    }
}

/// Fixed traits of a customer, derivable by any unit.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    /// Customer number.
    pub cust: u32,
    /// Home city index.
    pub home: u16,
    /// Number of accounts (1 or 2).
    pub accounts: u8,
    /// Device used for online sessions.
    pub device: u32,
    /// IP address number.
    pub ip: u32,
    /// Net pay per pay cycle, USD.
    pub pay: f64,
    /// Paid on odd (1) or even (0) weeks, for biweekly payroll.
    pub parity: u32,
}

impl Person {
    /// The main account.
    pub fn main(&self) -> crate::txn::Party {
        crate::txn::Party::account(self.cust)
    }

    /// The (device, ip) of an online session.
    pub fn session(&self) -> (u32, u32) {
        (self.device, self.ip)
    }
}

/// The population plan.
#[derive(Debug)]
pub struct Plan {
    /// Population seed.
    pub seed: u64,
    /// Days covered.
    pub days: u32,
    /// First day.
    pub start: NaiveDate,
    /// First day 00:00 UTC, seconds since the epoch.
    pub start_epoch: i64,
    /// Weekday of the first day, 0 = Monday.
    pub start_weekday: u32,
    /// Merchants and their lookups.
    pub world: World,
    /// Customers 0..ordinary are ordinary or look-alike customers.
    pub ordinary: u32,
    /// Planted cases; their members are customers `ordinary..`.
    pub cases: Vec<CasePlan>,
}

/// SplitMix64: the mixing function behind every derived seed.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Plan {
    /// Plans a population of `customers` customers over `days` days from `start`, with
    /// `cases` planted cases (their members are part of the customer count).
    pub fn new(customers: u32, days: u32, seed: u64, start: NaiveDate, cases: u32) -> Plan {
        Plan::with_typologies(customers, days, seed, start, cases, &Typology::ALL)
    }

    /// As [`Plan::new`], the cases cycling through `typologies` (all when empty).
    pub fn with_typologies(
        customers: u32,
        days: u32,
        seed: u64,
        start: NaiveDate,
        cases: u32,
        typologies: &[Typology],
    ) -> Plan {
        let typologies = if typologies.is_empty() {
            &Typology::ALL[..]
        } else {
            typologies
        };
        let start_epoch = start
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default();
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 0xCA5E));
        let mut plan_cases = Vec::new();
        let mut members = 0u32;
        for k in 0..cases {
            let typology = typologies[(k as usize) % typologies.len()];
            let (controllers, fronts, vmin, vmax) = typology.shape();
            let victims = rand::Rng::gen_range(&mut rng, vmin..=vmax);
            let mut roles = vec![Role::Controller; controllers as usize];
            roles.extend(std::iter::repeat_n(Role::FrontBusiness, fronts as usize));
            roles.extend(std::iter::repeat_n(Role::Victim, victims as usize));
            let intensity = if k < typologies.len() as u32 {
                // The first case of each typology is clear, so a small population shows every one.
                rand::Rng::gen_range(&mut rng, 0.75..1.0)
            } else {
                rand::Rng::gen_range(&mut rng, 0.3..1.0)
            };
            let lead = rand::Rng::gen_range(&mut rng, 40..75u32).min(days);
            plan_cases.push(CasePlan {
                id: k + 1,
                typology,
                first: 0,
                roles,
                intensity,
                start_day: days - lead,
            });
            members += controllers + fronts + victims;
        }
        let ordinary = customers.saturating_sub(members).max(1);
        let mut next = ordinary;
        for c in &mut plan_cases {
            c.first = next;
            next += c.roles.len() as u32;
        }
        Plan {
            seed,
            days,
            start,
            start_epoch,
            start_weekday: start.weekday().num_days_from_monday(),
            world: World::new(),
            ordinary,
            cases: plan_cases,
        }
    }

    /// Total customers (ordinary plus case members).
    pub fn customers(&self) -> u32 {
        self.ordinary + self.cases.iter().map(|c| c.roles.len() as u32).sum::<u32>()
    }

    /// Units: one per ordinary customer, then one per case.
    pub fn units(&self) -> u32 {
        self.ordinary + self.cases.len() as u32
    }

    /// The RNG of a unit (or any other derived stream).
    pub fn rng(&self, unit: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(unit.wrapping_add(1))))
    }

    /// A derived 64-bit value for customer `cust` and purpose `salt`.
    pub fn hash(&self, cust: u32, salt: u64) -> u64 {
        mix(self.seed ^ mix((u64::from(cust) << 8) ^ salt))
    }

    /// Weekday of `day`, 0 = Monday.
    pub fn weekday(&self, day: u32) -> u32 {
        (self.start_weekday + day) % 7
    }

    /// Day of the month (1-based) of `day`.
    pub fn day_of_month(&self, day: u32) -> u32 {
        (self.start + chrono::Days::new(u64::from(day))).day()
    }

    /// Month number since the start (for the rates file).
    pub fn month(&self, day: u32) -> u32 {
        let d = self.start + chrono::Days::new(u64::from(day));
        (d.year() - self.start.year()) as u32 * 12 + d.month() - self.start.month()
    }

    /// The persona of an ordinary customer.
    pub fn persona(&self, cust: u32) -> Persona {
        if cust >= self.ordinary {
            return Persona::Salaried;
        }
        match cust % BLOCK {
            0 | 100 => return Persona::Employer,
            25 | 125 => return Persona::Landlord,
            110 => return Persona::RoscaOrganiser,
            60..=63 => return Persona::SharedHousehold,
            170 => return Persona::PayrollProcessor,
            _ => {}
        }
        let total: u32 = PERSONA_WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut x = (self.hash(cust, 1) % u64::from(total)) as u32;
        for (p, w) in PERSONA_WEIGHTS {
            if x < *w {
                return *p;
            }
            x -= w;
        }
        Persona::Salaried
    }

    /// Fixed traits of a customer.
    pub fn person(&self, cust: u32) -> Person {
        let h = self.hash(cust, 2);
        let home = (h % CITIES.len() as u64) as u16;
        let accounts = if (h >> 8) % 100 < 15 { 2 } else { 1 };
        let pay = 900.0 * (1.0 + ((h >> 16) % 1000) as f64 / 300.0);
        let head = if cust < self.ordinary && (60..=63).contains(&(cust % BLOCK)) {
            cust - cust % BLOCK + 60
        } else {
            cust
        };
        let home = if head != cust {
            self.person(head).home
        } else {
            home
        };
        Person {
            cust,
            home,
            accounts,
            device: head + 1,
            ip: (self.hash(head, 3) % 4_000_000) as u32 + 1,
            pay,
            parity: ((h >> 32) & 1) as u32,
        }
    }

    /// The in-bank employer of customer `cust`, if it has one (the block's employers pay about
    /// a quarter of the salaried customers of their half-block).
    pub fn employer(&self, cust: u32) -> Option<u32> {
        let e = cust - cust % 100;
        (cust < self.ordinary
            && e != cust
            && e < self.ordinary
            && self.hash(cust, 4).is_multiple_of(4))
        .then_some(e)
    }

    /// The in-bank landlord of customer `cust`, if it rents from one (about a third of the
    /// half-block's tenants).
    pub fn landlord(&self, cust: u32) -> Option<u32> {
        let l = cust - cust % 100 + 25;
        (cust < self.ordinary
            && l != cust
            && l < self.ordinary
            && self.hash(cust, 5).is_multiple_of(3))
        .then_some(l)
    }

    /// The ROSCA organiser customer `cust` contributes to, if it is a member.
    pub fn rosca(&self, cust: u32) -> Option<u32> {
        let o = cust - cust % BLOCK + 110;
        (cust < self.ordinary && (111..=118).contains(&(cust % BLOCK)) && o < self.ordinary)
            .then_some(o)
    }

    /// Each member's monthly contribution to the ROSCA organised by `organiser` (200 to 600).
    pub fn rosca_share(&self, organiser: u32) -> f64 {
        (self.hash(organiser, 13) % 5 + 2) as f64 * 100.0
    }

    /// Members of the ROSCA organised by `organiser`.
    pub fn rosca_members(&self, organiser: u32) -> Vec<u32> {
        (organiser + 1..=organiser + 8)
            .filter(|c| *c < self.ordinary)
            .collect()
    }
}
