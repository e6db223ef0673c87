//! Ordinary customers and benign look-alikes: daily and weekly rhythms in local time.
//!
//! Each look-alike shows the surface of a red flag for an innocent reason (INDICATORS.md §2,
//! "False positives"): business travellers and drivers sleep in many cities, night-shift
//! workers use ATMs at night, migrants send most of their pay home, landlords and rotating
//! savings groups collect from many people, payroll processors pay many new people at once.

use redflag_schema::Channel;

use crate::plan::{BLOCK, Person, Persona, Plan};
use crate::txn::{Gen, Label, Party};
use crate::world::{CITIES, Cat, Currency, REMIT_COUNTRIES};

/// External party numbers with a fixed meaning.
pub mod ext {
    /// The public pension fund.
    pub const PENSION_FUND: u32 = 1;
    /// The gig platform paying drivers and couriers.
    pub const GIG_PLATFORM: u32 = 2;
    /// The card acquirer settling merchants' takings.
    pub const ACQUIRER: u32 = 3;
    /// The crypto exchange's fiat account.
    pub const EXCHANGE: u32 = 4;
    /// The mortgage lender.
    pub const MORTGAGE: u32 = 5;
    /// The trucking company employing long-haul drivers.
    pub const TRUCKING: u32 = 6;
    /// The hospital employing night-shift workers.
    pub const HOSPITAL: u32 = 7;
    /// Suppliers: `SUPPLIERS..SUPPLIERS + 90`.
    pub const SUPPLIERS: u32 = 10;
    /// Employers at other banks: `EMPLOYERS..EMPLOYERS + 400`.
    pub const EMPLOYERS: u32 = 1_000;
    /// Landlords at other banks: `LANDLORDS..LANDLORDS + 600`.
    pub const LANDLORDS: u32 = 2_000;
    /// Clients of payroll processors.
    pub const CLIENTS: u32 = 3_000;
    /// Strangers at other banks (friends, buyers): `PEOPLE..PEOPLE + 2_000_000`.
    pub const PEOPLE: u32 = 10_000;

    /// Blocks of 10^8 person numbers, one per relationship, so that no two relationships
    /// share a person however large the population (ids stay within nine digits).
    #[derive(Debug, Clone, Copy)]
    #[repr(u32)]
    pub enum People {
        /// A student's parent.
        Parents = 1,
        /// A small business's staff (4 per business).
        Staff,
        /// A migrant's family abroad.
        FamilyAbroad,
        /// A landlord's tenants at other banks (8 per landlord).
        Tenants,
        /// A payroll processor's workers (64 per processor).
        Workers,
        /// A supported student's relatives (4 per student).
        Relatives,
        /// Whoever pays a case member's monthly support.
        CaseSupport,
        /// A gig worker's regular clients (32 per worker).
        TipClients,
        /// A case's recipients abroad and fee payers.
        CaseAbroad,
    }

    /// Person number `n` of a relationship block.
    pub fn person(block: People, n: u32) -> super::Party {
        super::Party::person(block as u32 * 100_000_000 + n % 100_000_000)
    }
}

/// Card-spend mix of an ordinary person.
const EVERYDAY: &[(Cat, u32)] = &[
    (Cat::Grocery, 25),
    (Cat::Restaurant, 10),
    (Cat::FastFood, 12),
    (Cat::Fuel, 9),
    (Cat::Pharmacy, 5),
    (Cat::DepartmentStore, 6),
    (Cat::Clothing, 3),
    (Cat::WomensApparel, 2),
    (Cat::Cosmetics, 2),
    (Cat::Beauty, 2),
    (Cat::Bar, 4),
    (Cat::Taxi, 4),
    (Cat::Gym, 1),
    (Cat::OnlineShop, 9),
    (Cat::Spa, 1),
];

/// Card-spend mix at night.
const NIGHT: &[(Cat, u32)] = &[
    (Cat::FastFood, 5),
    (Cat::Fuel, 3),
    (Cat::Grocery, 2),
    (Cat::Taxi, 1),
];

impl Gen<'_> {
    fn pick(&mut self, mix: &[(Cat, u32)]) -> Cat {
        let total: u32 = mix.iter().map(|(_, w)| w).sum();
        let mut x = self.int(0, total);
        for (c, w) in mix {
            if x < *w {
                return *c;
            }
            x -= w;
        }
        mix[0].0
    }

    /// A person's card spend on `day` in `city`: a Poisson number of purchases, more at
    /// weekends, a share of them at night.
    pub fn everyday(&mut self, p: &Person, day: u32, city: u16, mean: f64, night_share: f64) {
        let weekend = self.plan.weekday(day) >= 5;
        let n = self.poisson(if weekend { mean * 1.4 } else { mean });
        for _ in 0..n {
            let night = self.chance(night_share);
            let (cat, minute) = if night {
                let c = self.pick(NIGHT);
                (c, self.night_minute())
            } else {
                let c = self.pick(EVERYDAY);
                (c, self.day_minute())
            };
            self.shop(day, minute, p.main(), cat, city, None, p.session());
            if cat == Cat::OnlineShop && self.chance(0.1) {
                // A foreign web shop, charged in its own currency.
                let currency = if self.chance(0.6) {
                    Currency::Eur
                } else {
                    Currency::Gbp
                };
                let month = self.plan.month(day);
                if let Some(t) = self.rows.last_mut() {
                    let usd = t.amount as f64 / 100.0;
                    t.amount = (usd / currency.usd_rate(month) * 100.0).round() as i64;
                    t.currency = currency;
                }
            }
        }
    }

    /// An ATM withdrawal in round twenties.
    pub fn atm_cash(&mut self, p: &Person, day: u32, city: u16, lo: u32, hi: u32, night: bool) {
        let amount = f64::from(self.int(lo / 20, hi / 20 + 1) * 20);
        let minute = if night {
            self.night_minute()
        } else {
            self.day_minute()
        };
        self.cash(day, minute, p.main(), amount, false, true, city);
    }

    fn payday(&self, p: &Person, day: u32) -> bool {
        self.plan.weekday(day) == 4 && ((day + self.plan.start_weekday) / 7) % 2 == p.parity
    }

    /// A payroll credit from `employer`.
    pub fn wage(&mut self, p: &Person, day: u32, employer: Party, amount: f64) -> usize {
        let minute = self.int(5 * 60, 8 * 60);
        let i = self.transfer(
            day,
            minute,
            employer,
            p.main(),
            amount,
            Channel::Ach,
            p.home,
        );
        self.rows[i].purpose = Some("SALA");
        i
    }

    /// A domestic person at another bank, drawn from a population of `n` around `base`.
    pub fn stranger(&mut self, base: u32, n: u32) -> Party {
        Party::person(ext::PEOPLE + base + self.int(0, n))
    }

    /// A remittance recipient abroad, fixed per customer.
    pub fn family_abroad(&self, p: &Person) -> Party {
        let h = self.plan.hash(p.cust, 7);
        Party::External {
            id: ext::People::FamilyAbroad as u32 * 100_000_000 + (h % 10_000_000) as u32,
            country: 1 + (h >> 24) as u8 % REMIT_COUNTRIES.len() as u8,
            company: false,
        }
    }

    /// The monthly bills of a household: rent (to a landlord at the bank for some), utilities
    /// and a streaming subscription.
    fn bills(&mut self, p: &Person, day: u32, rent: f64) {
        let dom = self.plan.day_of_month(day);
        if dom == 1 {
            let landlord = match self.plan.landlord(p.cust) {
                Some(l) => Party::account(l),
                None => Party::company(ext::LANDLORDS + (self.plan.hash(p.cust, 8) % 600) as u32),
            };
            let m = self.day_minute();
            if self.plan.landlord(p.cust).is_some() && self.plan.hash(p.cust, 9).is_multiple_of(4) {
                // Pays the in-bank landlord in cash at the branch, on the landlord's account.
                let i = self.cash(day, m, landlord, rent, true, false, p.home);
                self.rows[i].conductor = Some(p.main());
            } else {
                self.transfer(day, m, p.main(), landlord, rent, Channel::Ach, p.home);
            }
        }
        if dom == 10 {
            let m = self.day_minute();
            let utility = self.world().shops(Cat::Utilities, p.home)[0];
            let amount = self.usd(40.0, 220.0);
            let i = self.transfer(
                day,
                m,
                p.main(),
                Party::Merchant(utility),
                amount,
                Channel::Ach,
                p.home,
            );
            self.rows[i].merchant = Some(utility);
        }
        if dom == 17 {
            let m = self.day_minute();
            self.shop(day, m, p.main(), Cat::Streaming, p.home, None, p.session());
        }
    }

    /// Small P2P payments to and from friends (customers of the same block, or people at other
    /// banks).
    fn friends(&mut self, p: &Person, day: u32, rate: f64) {
        if !self.chance(rate) {
            return;
        }
        let block = p.cust - p.cust % BLOCK;
        let friend = if self.chance(0.5) {
            let f = block + self.int(0, BLOCK);
            if f != p.cust && f < self.plan.ordinary {
                Party::account(f)
            } else {
                self.stranger(0, 2_000_000)
            }
        } else {
            self.stranger(0, 2_000_000)
        };
        let amount = self.usd(10.0, 150.0);
        let m = self.day_minute();
        let (from, to) = if self.chance(0.5) {
            (p.main(), friend)
        } else {
            (friend, p.main())
        };
        let i = self.transfer(day, m, from, to, amount, Channel::P2pApp, p.home);
        if from == p.main() {
            (self.rows[i].device, self.rows[i].ip) = p.session();
        }
    }

    /// Occasional trips: a few days in another city with a hotel and meals.
    fn trip(&mut self, p: &Person, day: u32, rate: f64) -> Option<u16> {
        if !self.chance(rate) {
            return None;
        }
        let city = self.int(0, CITIES.len() as u32) as u16;
        if city == p.home {
            return None;
        }
        let m = self.int(15 * 60, 23 * 60);
        self.shop(day, m, p.main(), Cat::Hotel, city, None, p.session());
        Some(city)
    }

    /// Salaried life: payroll every other Friday, bills, card spend, weekly cash, friends, a
    /// savings transfer for customers with two accounts.
    pub fn salaried(&mut self, p: &Person, employer: Party) {
        let label = std::mem::replace(&mut self.label, Label::None);
        let mut away: Option<(u16, u32)> = None;
        for day in 0..self.plan.days {
            if self.payday(p, day) {
                let amount = p.pay * self.uniform(0.98, 1.02);
                self.wage(p, day, employer, amount);
                if p.accounts > 1 {
                    let m = self.day_minute();
                    let save = (amount * 0.1 * 100.0).round() / 100.0;
                    self.transfer(
                        day + 1,
                        m,
                        p.main(),
                        Party::Account {
                            cust: p.cust,
                            slot: 1,
                        },
                        save,
                        Channel::Internal,
                        p.home,
                    );
                }
            }
            self.bills(p, day, (p.pay * 0.6).round());
            let city = match away {
                Some((c, until)) if day < until => c,
                _ => {
                    away = self.trip(p, day, 0.006).map(|c| (c, day + 3));
                    away.map_or(p.home, |(c, _)| c)
                }
            };
            self.everyday(p, day, city, 1.1, 0.03);
            if self.chance(0.12) {
                self.atm_cash(p, day, city, 40, 300, false);
            }
            self.friends(p, day, 0.04);
        }
        self.label = label;
    }

    /// Generates the whole period of ordinary customer `cust`.
    pub fn ordinary(&mut self, cust: u32) {
        let plan: &Plan = self.plan;
        let p = plan.person(cust);
        let persona = plan.persona(cust);
        self.label = persona.lookalike().map_or(Label::None, Label::Lookalike);
        let employer = match plan.employer(cust) {
            Some(e) => Party::account(e),
            None => Party::company(ext::EMPLOYERS + (plan.hash(cust, 10) % 400) as u32),
        };
        if let Some(org) = plan.rosca(cust) {
            self.rosca_contributions(&p, org);
        }
        match persona {
            Persona::Salaried => self.salaried(&p, employer),
            Persona::Gig => self.gig(&p),
            Persona::Student => self.student(&p),
            Persona::Retiree => self.retiree(&p),
            Persona::CashBusiness => self.business(&p, 200.0, 2_500.0, 0.8),
            Persona::CashBusinessLarge => self.business(&p, 5_500.0, 9_900.0, 0.9),
            Persona::Employer => self.employer_business(&p),
            Persona::BusinessTraveller => self.traveller(&p, employer),
            Persona::LongHaulDriver => self.driver(&p),
            Persona::NightShift => self.night_shift(&p),
            Persona::MigrantRemitter => self.remitter(&p, employer),
            Persona::ClassifiedsSeller => self.ad_buyer(&p, employer, Cat::Classifieds),
            Persona::DatingSubscriber => self.ad_buyer(&p, employer, Cat::Dating),
            Persona::CryptoInvestor => self.investor(&p, employer),
            Persona::Landlord => self.landlord(&p),
            Persona::RoscaOrganiser => self.rosca_organiser(&p, employer),
            Persona::PayrollProcessor => self.payroll_processor(&p),
            Persona::FamilySupported => self.family_supported(&p),
            Persona::SharedHousehold => self.salaried(&p, employer),
        }
    }

    fn gig(&mut self, p: &Person) {
        for day in 0..self.plan.days {
            if self.plan.weekday(day) == 0 {
                let amount = p.pay * self.uniform(0.3, 0.8);
                let m = self.int(6 * 60, 9 * 60);
                self.transfer(
                    day,
                    m,
                    Party::company(ext::GIG_PLATFORM),
                    p.main(),
                    amount,
                    Channel::Ach,
                    p.home,
                );
            }
            // Tips by P2P from a pool of regular clients.
            let tips = self.poisson(0.15);
            for _ in 0..tips {
                let from = {
                    let n = p.cust * 32 + self.int(0, 25);
                    ext::person(ext::People::TipClients, n)
                };
                let amount = self.usd(3.0, 40.0);
                let m = self.day_minute();
                self.transfer(day, m, from, p.main(), amount, Channel::P2pApp, p.home);
            }
            self.bills(p, day, (p.pay * 0.5).round());
            self.everyday(p, day, p.home, 1.0, 0.2);
            if self.chance(0.1) {
                let night = self.chance(0.3);
                self.atm_cash(p, day, p.home, 20, 200, night);
            }
            self.friends(p, day, 0.05);
        }
    }

    fn student(&mut self, p: &Person) {
        let parent = ext::person(ext::People::Parents, p.cust);
        for day in 0..self.plan.days {
            if self.plan.day_of_month(day) == 2 {
                let amount = self.usd(300.0, 1_200.0);
                let m = self.day_minute();
                self.transfer(day, m, parent, p.main(), amount, Channel::Ach, p.home);
            }
            if self.plan.day_of_month(day) == 17 {
                let m = self.day_minute();
                self.shop(day, m, p.main(), Cat::Streaming, p.home, None, p.session());
            }
            self.everyday(p, day, p.home, 0.8, 0.1);
            if self.chance(0.06) {
                self.atm_cash(p, day, p.home, 20, 120, false);
            }
            self.friends(p, day, 0.08);
        }
    }

    fn retiree(&mut self, p: &Person) {
        for day in 0..self.plan.days {
            if self.plan.day_of_month(day) == 3 {
                let m = self.int(5 * 60, 8 * 60);
                let i = self.transfer(
                    day,
                    m,
                    Party::company(ext::PENSION_FUND),
                    p.main(),
                    p.pay * 1.5,
                    Channel::Ach,
                    p.home,
                );
                self.rows[i].purpose = Some("PENS");
            }
            if self.plan.day_of_month(day) == 5 {
                let amount = f64::from(self.int(10, 40) * 20);
                let m = self.int(9 * 60, 15 * 60);
                self.cash(day, m, p.main(), amount, false, false, p.home);
            }
            self.bills(p, day, (p.pay * 0.5).round());
            self.everyday(p, day, p.home, 0.7, 0.0);
        }
    }

    /// A cash-taking business: takings paid in at the branch most weekdays, card takings
    /// settled by the acquirer, suppliers weekly, staff every other Friday, rent monthly.
    fn business(&mut self, p: &Person, lo: f64, hi: f64, cash_days: f64) {
        let supplier = Party::company(ext::SUPPLIERS + (self.plan.hash(p.cust, 11) % 90) as u32);
        let staff: Vec<Party> = (0..3)
            .map(|k| ext::person(ext::People::Staff, p.cust * 4 + k))
            .collect();
        for day in 0..self.plan.days {
            let wd = self.plan.weekday(day);
            if wd < 6 && self.chance(cash_days) {
                let amount = self.usd(lo, hi);
                let m = self.int(9 * 60, 17 * 60);
                self.cash(day, m, p.main(), amount, true, false, p.home);
            }
            if wd < 5 {
                let amount = self.usd(lo * 0.3, hi * 0.4);
                let m = self.int(4 * 60, 7 * 60);
                self.transfer(
                    day,
                    m,
                    Party::company(ext::ACQUIRER),
                    p.main(),
                    amount,
                    Channel::Ach,
                    p.home,
                );
            }
            if wd == 2 {
                let amount = self.usd(lo * 2.0, hi * 2.5);
                let m = self.day_minute();
                self.transfer(day, m, p.main(), supplier, amount, Channel::Ach, p.home);
            }
            if self.payday(p, day) {
                for s in staff.clone() {
                    let amount = self.usd(700.0, 1_600.0);
                    let i = self.transfer(day, 6 * 60, p.main(), s, amount, Channel::Ach, p.home);
                    self.rows[i].purpose = Some("SALA");
                }
            }
            if self.plan.day_of_month(day) == 1 {
                let amount = (hi * 1.5).round();
                self.transfer(
                    day,
                    10 * 60,
                    p.main(),
                    Party::company(ext::LANDLORDS + 599),
                    amount,
                    Channel::Ach,
                    p.home,
                );
            }
        }
    }

    /// A business that employs customers of its half-block: revenue from clients, suppliers;
    /// its payroll credits are written by the employees' units.
    fn employer_business(&mut self, p: &Person) {
        for day in 0..self.plan.days {
            let wd = self.plan.weekday(day);
            if wd < 5 && self.chance(0.5) {
                let client = Party::company(ext::CLIENTS + self.int(0, 500));
                let amount = self.usd(2_000.0, 40_000.0);
                let m = self.day_minute();
                let channel = if self.chance(0.3) {
                    Channel::WireDomestic
                } else {
                    Channel::Ach
                };
                self.transfer(day, m, client, p.main(), amount, channel, p.home);
            }
            if wd == 3 {
                let supplier = Party::company(ext::SUPPLIERS + self.int(0, 90));
                let amount = self.usd(1_000.0, 15_000.0);
                let m = self.day_minute();
                self.transfer(day, m, p.main(), supplier, amount, Channel::Ach, p.home);
            }
        }
    }

    fn traveller(&mut self, p: &Person, employer: Party) {
        self.salaried(p, employer);
        let mut day = self.int(0, 7);
        while day + 4 < self.plan.days {
            // A trip of 2-4 nights every week or two, billed per night at some hotels.
            let city = ((u32::from(p.home) + self.int(1, CITIES.len() as u32))
                % CITIES.len() as u32) as u16;
            let nights = self.int(2, 5);
            let m = self.int(7 * 60, 20 * 60);
            self.shop(day, m, p.main(), Cat::Airline, p.home, None, p.session());
            let per_night = self.chance(0.5);
            let rate = self.usd(140.0, 320.0);
            for n in 0..nights {
                if per_night || n == nights - 1 {
                    let amount = if per_night {
                        rate
                    } else {
                        rate * f64::from(nights)
                    };
                    let m = self.int(18 * 60, 23 * 60);
                    self.shop(
                        day + n,
                        m,
                        p.main(),
                        Cat::Hotel,
                        city,
                        Some(amount),
                        p.session(),
                    );
                }
                self.everyday(p, day + n, city, 1.5, 0.05);
                let m = self.day_minute();
                self.shop(day + n, m, p.main(), Cat::Taxi, city, None, p.session());
            }
            day += nights + self.int(5, 12);
        }
    }

    fn driver(&mut self, p: &Person) {
        let employer = Party::company(ext::TRUCKING);
        for day in 0..self.plan.days {
            if self.payday(p, day) {
                let amount = p.pay * self.uniform(0.95, 1.1);
                self.wage(p, day, employer, amount);
            }
            self.bills(p, day, (p.pay * 0.5).round());
            let on_road = self.plan.weekday(day) < 5;
            if on_road {
                // A different city every night; motels are cheap and paid at night.
                let city = ((u32::from(p.home) + day * 3 + 1) % CITIES.len() as u32) as u16;
                let m = self.int(20 * 60, 26 * 60);
                let amount = self.usd(55.0, 110.0);
                self.shop(
                    day,
                    m,
                    p.main(),
                    Cat::Hotel,
                    city,
                    Some(amount),
                    p.session(),
                );
                let m = self.day_minute();
                let fuel = self.usd(150.0, 450.0);
                self.shop(day, m, p.main(), Cat::Fuel, city, Some(fuel), p.session());
                let m = self.night_minute();
                self.shop(day, m, p.main(), Cat::FastFood, city, None, p.session());
                if self.chance(0.25) {
                    self.atm_cash(p, day, city, 40, 200, true);
                }
            } else {
                self.everyday(p, day, p.home, 1.2, 0.05);
            }
        }
    }

    fn night_shift(&mut self, p: &Person) {
        let employer = Party::company(ext::HOSPITAL);
        let second = ((u32::from(p.home) + 1) % CITIES.len() as u32) as u16;
        for day in 0..self.plan.days {
            if self.payday(p, day) {
                let amount = p.pay * self.uniform(0.98, 1.05);
                self.wage(p, day, employer, amount);
            }
            self.bills(p, day, (p.pay * 0.6).round());
            self.everyday(p, day, p.home, 1.0, 0.6);
            if self.chance(0.18) {
                let city = if self.chance(0.2) { second } else { p.home };
                self.atm_cash(p, day, city, 20, 200, true);
            }
            self.friends(p, day, 0.03);
        }
    }

    fn remitter(&mut self, p: &Person, employer: Party) {
        let family = self.family_abroad(p);
        let share = if self.plan.hash(p.cust, 12).is_multiple_of(4) {
            0.85
        } else {
            0.5
        };
        for day in 0..self.plan.days {
            if self.payday(p, day) {
                let pay = p.pay * self.uniform(0.98, 1.02) * 0.8;
                self.wage(p, day, employer, pay);
                let lag = self.int(0, 2);
                let m = self.int(10 * 60, 20 * 60);
                let amount = (pay * share * self.uniform(0.9, 1.0) * 100.0).round() / 100.0;
                self.transfer(
                    day + lag,
                    m,
                    p.main(),
                    family,
                    amount,
                    Channel::RemittanceMsb,
                    p.home,
                );
            }
            if self.plan.day_of_month(day) == 1 {
                // Rent in cash to the landlord directly.
                self.atm_cash(p, day, p.home, 400, 800, false);
            }
            self.everyday(p, day, p.home, 0.7, 0.05);
        }
    }

    fn ad_buyer(&mut self, p: &Person, employer: Party, cat: Cat) {
        self.salaried(p, employer);
        let fee = if cat == Cat::Dating {
            self.usd(15.0, 40.0)
        } else {
            [5.0, 10.0, 12.0][self.int(0, 3) as usize]
        };
        let site = self.world().shops(cat, p.home)[self.int(0, 2) as usize];
        for day in 0..self.plan.days {
            let dom = self.plan.day_of_month(day);
            let post = match cat {
                Cat::Dating => dom == 6 || self.chance(0.03),
                _ => self.chance(0.09),
            };
            if post {
                let amount = if dom == 6 || cat != Cat::Dating {
                    fee
                } else {
                    self.usd(3.0, 10.0)
                };
                let m = self.int(8 * 60, 23 * 60);
                self.card(day, m, p.main(), site, amount, p.home, p.session());
                if cat == Cat::Classifieds && self.chance(0.5) {
                    // A buyer pays for the item sold.
                    let buyer = self.stranger(0, 2_000_000);
                    let amount = self.usd(20.0, 400.0);
                    let paid = day + self.int(1, 4);
                    self.transfer(paid, m, buyer, p.main(), amount, Channel::P2pApp, p.home);
                }
            }
        }
    }

    fn investor(&mut self, p: &Person, employer: Party) {
        self.salaried(p, employer);
        let weekly = self.usd(25.0, 250.0);
        let wallet = Party::Wallet {
            cust: p.cust,
            chain: crate::txn::Chain::Ethereum,
        };
        for day in 0..self.plan.days {
            if self.plan.weekday(day) == 1 {
                let m = self.int(7 * 60, 23 * 60);
                let amount = (weekly * self.uniform(0.9, 1.1) * 100.0).round() / 100.0;
                let i = self.transfer(
                    day,
                    m,
                    p.main(),
                    Party::company(ext::EXCHANGE),
                    amount,
                    Channel::CryptoBuy,
                    p.home,
                );
                (self.rows[i].device, self.rows[i].ip) = p.session();
                if self.chance(0.25) {
                    self.onchain(
                        day,
                        m + 30,
                        exchange_wallet(),
                        wallet,
                        amount * 0.99,
                        p.home,
                    );
                }
            }
        }
    }

    fn landlord(&mut self, p: &Person) {
        // Rent arrives from tenants' own units; here the mortgage, repairs and some spend.
        for day in 0..self.plan.days {
            if self.plan.day_of_month(day) == 5 {
                let amount = self.usd(3_000.0, 6_000.0);
                self.transfer(
                    day,
                    9 * 60,
                    p.main(),
                    Party::company(ext::MORTGAGE),
                    amount,
                    Channel::Ach,
                    p.home,
                );
            }
            if self.chance(0.04) {
                let supplier = Party::company(ext::SUPPLIERS + self.int(0, 90));
                let amount = self.usd(100.0, 2_000.0);
                let m = self.day_minute();
                self.transfer(day, m, p.main(), supplier, amount, Channel::Ach, p.home);
            }
            // Outside tenants at other banks.
            if self.plan.day_of_month(day) == 1 {
                for k in 0..4 {
                    let tenant = ext::person(ext::People::Tenants, p.cust * 8 + k);
                    let amount = self.usd(900.0, 1_800.0).round();
                    let m = self.day_minute();
                    self.transfer(day, m, tenant, p.main(), amount, Channel::Ach, p.home);
                }
            }
            self.everyday(p, day, p.home, 0.8, 0.02);
        }
    }

    fn rosca_contributions(&mut self, p: &Person, organiser: u32) {
        let before = self.label;
        self.label = Label::Lookalike("lookalike_rosca");
        let amount = self.plan.rosca_share(organiser);
        for day in 0..self.plan.days {
            if self.plan.day_of_month(day) == 28 {
                let m = self.day_minute();
                let i = self.transfer(
                    day,
                    m,
                    p.main(),
                    Party::account(organiser),
                    amount,
                    Channel::P2pApp,
                    p.home,
                );
                (self.rows[i].device, self.rows[i].ip) = p.session();
            }
        }
        self.label = before;
    }

    fn rosca_organiser(&mut self, p: &Person, employer: Party) {
        self.salaried(p, employer);
        let members = self.plan.rosca_members(p.cust);
        let amount = self.plan.rosca_share(p.cust);
        let mut turn = 0;
        for day in 0..self.plan.days {
            if self.plan.day_of_month(day) == 30 && !members.is_empty() {
                // The pot (every member's share plus the organiser's) goes to this month's turn.
                let to = Party::account(members[turn % members.len()]);
                turn += 1;
                let pot = amount * (members.len() + 1) as f64;
                let m = self.day_minute();
                self.transfer(day, m, p.main(), to, pot, Channel::P2pApp, p.home);
            }
        }
    }

    fn payroll_processor(&mut self, p: &Person) {
        for day in 0..self.plan.days {
            if self.plan.weekday(day) != 3 {
                continue;
            }
            // Clients fund the run on Thursday morning; workers are paid that afternoon.
            let clients = self.int(2, 5);
            let mut total = 0.0;
            for k in 0..clients {
                let client = Party::company(ext::CLIENTS + 500 + (p.cust % 50) * 8 + k);
                let amount = self.usd(15_000.0, 60_000.0);
                total += amount;
                let m = self.int(7 * 60, 10 * 60);
                self.transfer(
                    day,
                    m,
                    client,
                    p.main(),
                    amount,
                    Channel::WireDomestic,
                    p.home,
                );
            }
            let workers = self.int(20, 60);
            let each = total * 0.97 / f64::from(workers);
            for w in 0..workers {
                let worker = ext::person(ext::People::Workers, p.cust * 64 + w);
                let amount = (each * self.uniform(0.7, 1.3) * 100.0).round() / 100.0;
                let m = self.int(13 * 60, 16 * 60);
                let i = self.transfer(day, m, p.main(), worker, amount, Channel::Ach, p.home);
                self.rows[i].purpose = Some("SALA");
            }
        }
    }

    fn family_supported(&mut self, p: &Person) {
        // Relatives in three other cities pay cash into the student's account at their own
        // branch; the student draws it at the campus ATM a day or two later.
        let relatives: Vec<(Party, u16)> = (0..3u32)
            .map(|k| {
                let city = ((u32::from(p.home) + 1 + k * 4) % CITIES.len() as u32) as u16;
                (ext::person(ext::People::Relatives, p.cust * 4 + k), city)
            })
            .collect();
        for day in 0..self.plan.days {
            if self.plan.weekday(day) == 0 && self.chance(0.6) {
                let (who, city) = relatives[self.int(0, 3) as usize];
                let amount = self.usd(60.0, 400.0).round();
                let m = self.int(9 * 60, 17 * 60);
                let i = self.cash(day, m, p.main(), amount, true, false, city);
                self.rows[i].conductor = Some(who);
                let lag = self.int(1, 3);
                self.atm_cash(p, day + lag, p.home, 40, (amount * 0.9) as u32, false);
            }
            self.everyday(p, day, p.home, 0.8, 0.1);
        }
    }

    /// An on-chain transfer between two wallets.
    pub fn onchain(
        &mut self,
        day: u32,
        minute: u32,
        from: Party,
        to: Party,
        usd: f64,
        home: u16,
    ) -> usize {
        let i = self.transfer(day, minute, from, to, usd, Channel::CryptoTransfer, home);
        let month = self.plan.month(day.min(self.plan.days.saturating_sub(1)));
        let t = &mut self.rows[i];
        t.chain = Some(crate::txn::Chain::Ethereum);
        t.currency = Currency::Usdt;
        let rate = t.currency.usd_rate(month);
        t.amount = (usd / rate * 1e6).round() as i64;
        i
    }
}

/// The exchange's hot wallet (attributed `exchange`).
pub fn exchange_wallet() -> Party {
    Party::ServiceWallet {
        service: crate::txn::Service::Exchange,
        chain: crate::txn::Chain::Ethereum,
    }
}
