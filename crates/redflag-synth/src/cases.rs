//! Planted cases: small networks of controllers, victims and front businesses following
//! `docs/INDICATORS.md`.
//!
//! Every member is a bank customer with a thin ordinary life (card spend, some cash) from the
//! first day, so baselines exist; the scheme starts 40 to 75 days before the end and its rows
//! are labelled. `intensity` scales how often things happen: a faint case (0.3) may stay under
//! every threshold, as real ones do.

use redflag_schema::{Channel, Status};

use crate::persona::{exchange_wallet, ext};
use crate::plan::{CasePlan, Person, Role, Typology};
use crate::txn::{Chain, Gen, Label, Party, Service};
use crate::world::{CITIES, Cat, REMIT_COUNTRIES};

/// What a case generator knows about its members.
struct Case {
    plan: CasePlan,
    controllers: Vec<Person>,
    fronts: Vec<Person>,
    victims: Vec<Person>,
}

impl Case {
    fn k(&self) -> f64 {
        self.plan.intensity
    }

    fn start(&self) -> u32 {
        self.plan.start_day
    }
}

impl Gen<'_> {
    /// Generates every row of planted case `plan`: members' ordinary lives, then the scheme.
    pub fn case(&mut self, plan: &CasePlan) {
        let person = |c: u32| {
            let mut p = self.plan.person(c);
            p.accounts = 1;
            p
        };
        let case = Case {
            controllers: plan
                .members(Role::Controller)
                .into_iter()
                .map(person)
                .collect(),
            fronts: plan
                .members(Role::FrontBusiness)
                .into_iter()
                .map(person)
                .collect(),
            victims: plan.members(Role::Victim).into_iter().map(person).collect(),
            plan: plan.clone(),
        };
        self.label = Label::None;
        for p in case.controllers.iter().chain(&case.victims) {
            self.thin_life(p, 0.7);
        }
        self.label = Label::Case;
        match plan.typology {
            Typology::SexAds => self.sex_ads(&case),
            Typology::Funnel => self.funnel(&case),
            Typology::Structuring => self.structuring(&case),
            Typology::WageSweep => self.wage_sweep(&case),
            Typology::LabourFront => self.labour_front(&case),
            Typology::CorridorFanIn => self.corridor_fan_in(&case),
            Typology::CryptoAds => self.crypto_ads(&case),
            Typology::TravelVisa => self.travel_visa(&case),
            Typology::FanIn => self.fan_in(&case),
            Typology::FanOut => self.fan_out(&case),
            Typology::ScatterGather => self.scatter_gather(&case),
            Typology::GatherScatter => self.gather_scatter(&case),
            Typology::Cycle => self.cycle(&case),
            Typology::Bipartite => self.bipartite(&case, false),
            Typology::Stack => self.bipartite(&case, true),
            Typology::LayeredChain => self.layered_chain(&case),
        }
    }

    /// A thin ordinary life: card spend, bills, the odd ATM withdrawal.
    fn thin_life(&mut self, p: &Person, mean: f64) {
        for day in 0..self.plan.days {
            self.everyday(p, day, p.home, mean, 0.05);
            if self.chance(0.06) {
                self.atm_cash(p, day, p.home, 20, 200, false);
            }
            if self.plan.day_of_month(day) == 2 && self.chance(0.8) {
                let amount = self.usd(500.0, 1_500.0);
                let from = ext::person(ext::People::CaseSupport, p.cust);
                self.transfer(day, 9 * 60, from, p.main(), amount, Channel::Ach, p.home);
            }
        }
    }

    /// A count scaled by intensity, at least `min`.
    fn scaled(&self, base: f64, k: f64, min: u32) -> u32 {
        ((base * k).round() as u32).max(min)
    }

    /// A city other than `not`.
    fn other_city(&mut self, not: &[u16]) -> u16 {
        loop {
            let c = self.int(0, CITIES.len() as u32) as u16;
            if !not.contains(&c) {
                return c;
            }
        }
    }

    /// Escort-ad micro-payments, a circuit of short stays in several cities, the victims' night
    /// cash passed to the controller from the controller's phone, and a sustenance basket.
    fn sex_ads(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        let fee = [3.0, 12.0, 24.0][self.int(0, 3) as usize];
        let cat = if self.chance(0.5) {
            Cat::Classifieds
        } else {
            Cat::Dating
        };
        let site = self.world().shops(cat, boss.home)[self.int(0, 2) as usize];
        let posts = self.scaled(14.0, k, 2);
        for _ in 0..posts {
            let day = self.int(s, e);
            let amount = fee * f64::from(self.int(1, 4));
            let m = if self.chance(0.5) {
                self.night_minute()
            } else {
                self.day_minute()
            };
            self.card(day, m, boss.main(), site, amount, boss.home, boss.session());
        }
        // The circuit: two to four nights per city, the controller paying a cheap room nightly.
        let mut day = s;
        let mut city = boss.home;
        while day < e {
            city = self.other_city(&[city]);
            let nights = self.int(2, 5);
            for n in 0..nights.min(e - day) {
                if self.chance(0.4 + 0.6 * k) {
                    let m = self.int(14 * 60, 23 * 60);
                    let amount = self.usd(60.0, 140.0);
                    self.shop(
                        day + n,
                        m,
                        boss.main(),
                        Cat::Hotel,
                        city,
                        Some(amount),
                        boss.session(),
                    );
                }
                for v in &c.victims {
                    if self.chance(0.25 + 0.35 * k) {
                        let amount = f64::from(self.int(5, 31) * 20);
                        let m = self.night_minute();
                        let i = self.cash(day + n, m, v.main(), amount, true, true, city);
                        let ts = self.rows[i].ts;
                        let lag = self.int(2, 14) * 3600;
                        let j = self.transfer(
                            day + n,
                            m,
                            v.main(),
                            boss.main(),
                            amount * 0.9,
                            Channel::P2pApp,
                            city,
                        );
                        self.rows[j].ts = ts + i64::from(lag);
                        self.rows[j].offset_min = CITIES[usize::from(city)].offset_min;
                        (self.rows[j].device, self.rows[j].ip) = boss.session();
                    }
                }
            }
            day += nights;
        }
        // Living costs of the people the controller keeps, far above the controller's own past.
        for cat in [
            Cat::FastFood,
            Cat::Pharmacy,
            Cat::Cosmetics,
            Cat::WomensApparel,
            Cat::Beauty,
            Cat::Taxi,
        ] {
            let n = self.scaled(6.0, k, 1);
            for _ in 0..n {
                let day = self.int(e.saturating_sub(30).max(s), e);
                let m = self.day_minute();
                self.shop(day, m, boss.main(), cat, boss.home, None, boss.session());
            }
        }
    }

    /// Several people pay cash into the controller's account in their own cities; the
    /// controller takes it out at home within two days.
    fn funnel(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        let mut used = vec![boss.home];
        let cities: Vec<u16> = c
            .victims
            .iter()
            .map(|_| {
                let x = self.other_city(&used);
                used.push(x);
                x
            })
            .collect();
        for day in s..e {
            let mut paid_in = 0.0;
            for (v, city) in c.victims.iter().zip(&cities) {
                if self.chance(0.12 + 0.2 * k) {
                    let amount = self.usd(800.0, 4_000.0).round();
                    let m = self.int(9 * 60, 19 * 60);
                    let atm = self.chance(0.4);
                    let i = self.cash(day, m, boss.main(), amount, true, atm, *city);
                    self.rows[i].conductor = Some(v.main());
                    paid_in += amount;
                }
            }
            if paid_in > 0.0 {
                let lag = self.int(0, 2);
                let m = self.int(9 * 60, 20 * 60);
                let out = (paid_in * self.uniform(0.85, 0.98)).round();
                if self.chance(0.7) {
                    self.cash(day + lag, m, boss.main(), out, false, false, boss.home);
                } else {
                    let to = Party::company(ext::SUPPLIERS + 95);
                    self.transfer(
                        day + lag,
                        m,
                        boss.main(),
                        to,
                        out,
                        Channel::WireDomestic,
                        boss.home,
                    );
                }
            }
        }
    }

    /// Cash just under the threshold at different branches, pieces that add up within a day,
    /// and backing off after a declined large deposit.
    fn structuring(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let helper = c.victims[0];
        let (e, k) = (self.plan.days, c.k());
        let near = self.scaled(7.0, k, 2);
        for _ in 0..near {
            let day = self.int(e - 30, e);
            let amount = self.usd(8_000.0, 9_950.0).round();
            let m = self.int(9 * 60, 17 * 60);
            let city = if self.chance(0.7) {
                boss.home
            } else {
                self.other_city(&[])
            };
            let i = self.cash(day, m, boss.main(), amount, true, false, city);
            if self.chance(0.3) {
                self.rows[i].conductor = Some(helper.main());
            }
        }
        if self.chance(0.4 + 0.6 * k) {
            // Two branches the same day, together over the threshold.
            let day = self.int(e - 20, e);
            let a = self.usd(5_500.0, 7_500.0).round();
            let b = self.usd(4_500.0, 6_500.0).round();
            self.cash(day, 10 * 60, boss.main(), a, true, false, boss.home);
            let j = self.cash(day, 15 * 60, boss.main(), b, true, true, boss.home);
            self.rows[j].conductor = Some(helper.main());
        }
        if self.chance(0.3 + 0.7 * k) {
            // A declined 12-15k deposit, then two smaller ones within the hour.
            let day = self.int(e - 6, e);
            let big = self.usd(12_000.0, 15_000.0).round();
            let i = self.cash(day, 11 * 60, boss.main(), big, true, false, boss.home);
            self.rows[i].status = Status::Declined;
            let half = (big / 2.0 * self.uniform(0.9, 0.98)).round();
            let t0 = self.rows[i].ts;
            let j = self.cash(day, 11 * 60, boss.main(), half, true, true, boss.home);
            self.rows[j].ts = t0 + 1_500;
            let l = self.cash(day, 11 * 60, boss.main(), half, true, false, boss.home);
            self.rows[l].ts = t0 + 3_600;
        }
        // The money then leaves by wire.
        for w in 0..self.scaled(3.0, k, 1) {
            let day = e - 1 - w * 7 % 28;
            let amount = self.usd(8_000.0, 20_000.0).round();
            let to = Party::company(ext::SUPPLIERS + 96);
            self.transfer(
                day,
                14 * 60,
                boss.main(),
                to,
                amount,
                Channel::WireDomestic,
                boss.home,
            );
        }
    }

    /// A front employer pays the victims' wages; within two days they are moved to the
    /// controller's account from the controller's phone. Some wages are paid straight into the
    /// controller's account under the workers' names.
    fn wage_sweep(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let front = c.fronts[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        // Wages of all but two workers go straight to the controller (LE-1 from five workers).
        let direct = c.victims.len().saturating_sub(2).max(1);
        for day in s..e {
            if self.plan.weekday(day) < 5 && self.chance(0.6) {
                let client = Party::company(ext::CLIENTS + 2_000 + front.cust % 100);
                let amount = self.usd(2_000.0, 9_000.0);
                self.transfer(
                    day,
                    10 * 60,
                    client,
                    front.main(),
                    amount,
                    Channel::Ach,
                    front.home,
                );
            }
            if self.plan.weekday(day) != 4 || (day / 7) % 2 != 0 {
                continue;
            }
            for (i, v) in c.victims.iter().enumerate() {
                let wage = self.usd(900.0, 1_500.0);
                if i < direct && k > 0.5 {
                    // Paid into the controller's account, the worker's name on the payment.
                    let j = self.wage(&boss, day, front.main(), wage);
                    self.rows[j].payee_name = Some(v.cust);
                    continue;
                }
                let j = self.wage(v, day, front.main(), wage);
                let ts = self.rows[j].ts;
                if self.chance(0.5 + 0.5 * k) {
                    let lag = i64::from(self.int(2, 40)) * 3600;
                    let out = (wage * self.uniform(0.85, 0.98) * 100.0).round() / 100.0;
                    let to_cash = self.chance(0.3);
                    let t = if to_cash {
                        self.cash(day, 12 * 60, v.main(), out.round(), false, true, v.home)
                    } else {
                        let t = self.transfer(
                            day,
                            12 * 60,
                            v.main(),
                            boss.main(),
                            out,
                            Channel::P2pApp,
                            v.home,
                        );
                        (self.rows[t].device, self.rows[t].ip) = boss.session();
                        t
                    };
                    self.rows[t].ts = ts + lag;
                }
            }
        }
        // The controller sends the proceeds abroad.
        for day in (s..e).step_by(10) {
            let amount = self.usd(1_500.0, 4_000.0);
            let to = self.family_abroad(&boss);
            self.transfer(
                day + 2,
                15 * 60,
                boss.main(),
                to,
                amount,
                Channel::RemittanceMsb,
                boss.home,
            );
        }
    }

    /// A massage front: takings paid in as cash, card receipts late at night, no payroll;
    /// workers pay recruitment fees; the controller buys their tickets together.
    fn labour_front(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let front = c.fronts[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        let front_merchant = Party::Front(front.cust);
        let offset = CITIES[usize::from(front.home)].offset_min;
        for day in s..e {
            if self.chance(0.5 + 0.4 * k) {
                let amount = self.usd(900.0, 3_500.0).round();
                let m = self.int(10 * 60, 16 * 60);
                self.cash(day, m, front.main(), amount, true, false, front.home);
            }
            let clients = self.poisson(0.6 + 1.2 * k);
            for _ in 0..clients {
                let late = self.chance(0.2 + 0.4 * k);
                let m = if late {
                    self.int(21 * 60 + 30, 26 * 60)
                } else {
                    self.int(11 * 60, 20 * 60)
                };
                let ts = self.ts(day, m, offset);
                let card = Party::Card((front.cust % 1_000_000) * 2_048 + self.int(0, 2_000));
                let amount = self.usd(60.0, 200.0);
                let mut t = self.base(ts, card, front_merchant, amount, Channel::CardPresent);
                t.offset_min = offset;
                t.city = Some(front.home);
                t.location = crate::txn::Location::Terminal;
                self.push(t);
            }
            if self.plan.weekday(day) == 0 {
                let amount = self.usd(2_000.0, 6_000.0);
                self.transfer(
                    day,
                    9 * 60,
                    front.main(),
                    boss.main(),
                    amount,
                    Channel::WireDomestic,
                    front.home,
                );
            }
        }
        self.recruitment_fees(c, 1_100.0);
        self.group_tickets(c, 1);
    }

    /// Each victim pays a recruitment agency a debt in instalments.
    fn recruitment_fees(&mut self, c: &Case, total: f64) {
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        let agency = self.world().shops(Cat::Recruitment, 0)[0];
        for v in &c.victims {
            let due = total * (0.5 + k) * self.uniform(0.9, 1.3);
            let parts = self.int(2, 5);
            for _ in 0..parts {
                let day = self.int(s.saturating_sub(30), e);
                let m = self.day_minute();
                let amount = (due / f64::from(parts) * 100.0).round() / 100.0;
                self.card(day, m, v.main(), agency, amount, v.home, v.session());
            }
        }
    }

    /// The controller buys several tickets at one airline within an hour, and visa fees.
    fn group_tickets(&mut self, c: &Case, rounds: u32) {
        let boss = c.controllers[0];
        let e = self.plan.days;
        let airline = self.world().shops(Cat::Airline, 0)[self.int(0, 2) as usize];
        let visa = self.world().shops(Cat::Government, 0)[0];
        for _ in 0..rounds {
            let day = self.int(e - 55, e - 1);
            let m = self.int(9 * 60, 20 * 60);
            let n = if c.k() > 0.45 {
                c.victims.len().max(3)
            } else {
                2
            };
            for i in 0..n {
                let amount = self.usd(250.0, 600.0);
                let at = m + i as u32 * self.int(2, 12);
                self.card(
                    day,
                    at,
                    boss.main(),
                    airline,
                    amount,
                    boss.home,
                    boss.session(),
                );
                let amount = self.usd(80.0, 190.0);
                self.card(
                    day + 1,
                    m + i as u32 * 5,
                    boss.main(),
                    visa,
                    amount,
                    boss.home,
                    boss.session(),
                );
            }
        }
    }

    /// Victims move money to the controller; the controller adds cash and wires it abroad;
    /// smuggling fees arrive as remittance credits just under 3,000.
    fn corridor_fan_in(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let (e, k) = (self.plan.days, c.k());
        let rounds = self.scaled(3.0, k, 1);
        let country = 1 + self.int(0, REMIT_COUNTRIES.len() as u32) as u8;
        let abroad = Party::External {
            id: ext::People::CaseAbroad as u32 * 100_000_000 + boss.cust,
            country,
            company: false,
        };
        for r in 0..rounds {
            let day0 = e - 28 + r * 9;
            let base = self.usd(400.0, 900.0);
            let mut total = 0.0;
            for v in &c.victims {
                let day = day0 + self.int(0, 5);
                let amount = (base * self.uniform(0.9, 1.1) * 100.0).round() / 100.0;
                let m = self.day_minute();
                self.transfer(
                    day,
                    m,
                    v.main(),
                    boss.main(),
                    amount,
                    Channel::P2pApp,
                    v.home,
                );
                total += amount;
            }
            let cash = self.usd(3_000.0, 8_000.0).round();
            self.cash(day0 + 5, 11 * 60, boss.main(), cash, true, false, boss.home);
            let channel = if self.chance(0.5) {
                Channel::WireIntl
            } else {
                Channel::RemittanceMsb
            };
            let out = ((total + cash) * self.uniform(0.8, 0.95)).round();
            self.transfer(
                day0 + 6,
                14 * 60,
                boss.main(),
                abroad,
                out,
                channel,
                boss.home,
            );
        }
        let fees = self.scaled(6.0, k, 1);
        for f in 0..fees {
            let from = ext::person(ext::People::CaseAbroad, 50_000_000 + boss.cust * 16 + f);
            let day = self.int(e - 29, e);
            let amount = self.usd(2_000.0, 2_990.0);
            let m = self.day_minute();
            self.transfer(
                day,
                m,
                from,
                boss.main(),
                amount,
                Channel::RemittanceMsb,
                boss.home,
            );
        }
    }

    /// Prepaid cards bought, then crypto of about the same value, sent to an ad service's
    /// wallet (sometimes through a mixer); small crypto purchases; ad-site card payments.
    fn crypto_ads(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        let wallet = Party::Wallet {
            cust: boss.cust,
            chain: Chain::Ethereum,
        };
        let ad_wallet = Party::ServiceWallet {
            service: Service::AdService,
            chain: Chain::Ethereum,
        };
        let mixer = Party::ServiceWallet {
            service: Service::Mixer,
            chain: Chain::Ethereum,
        };
        let prepaid = Party::company(ext::SUPPLIERS + 97);
        let site = self.world().shops(Cat::Classifieds, 0)[1];
        let rounds = self.scaled(5.0, k, 1);
        for _ in 0..rounds {
            let day = self.int(e.saturating_sub(28).max(s), e - 4);
            let amount = self.usd(100.0, 450.0).round();
            let m = self.day_minute();
            let i = self.transfer(
                day,
                m,
                boss.main(),
                prepaid,
                amount,
                Channel::PrepaidPurchase,
                boss.home,
            );
            (self.rows[i].device, self.rows[i].ip) = boss.session();
            let lag = self.int(0, 3);
            let buy = (amount * self.uniform(0.92, 1.0) * 100.0).round() / 100.0;
            let m2 = self.int(20 * 60, 26 * 60);
            let j = self.transfer(
                day + lag,
                m2,
                boss.main(),
                Party::company(ext::EXCHANGE),
                buy,
                Channel::CryptoBuy,
                boss.home,
            );
            (self.rows[j].device, self.rows[j].ip) = boss.session();
            self.onchain(
                day + lag,
                m2 + 20,
                exchange_wallet(),
                wallet,
                buy * 0.99,
                boss.home,
            );
            if self.chance(0.5) {
                self.onchain(day + lag + 1, m2, wallet, mixer, buy * 0.6, boss.home);
            }
            self.onchain(
                day + lag + 1,
                m2 + 90,
                wallet,
                ad_wallet,
                buy * 0.35,
                boss.home,
            );
            if self.chance(0.6) {
                let fee = f64::from(self.int(1, 5) * 12);
                self.card(
                    day + lag + 1,
                    m2 + 120,
                    boss.main(),
                    site,
                    fee,
                    boss.home,
                    boss.session(),
                );
            }
        }
        let small = self.scaled(5.0, k, 1);
        for _ in 0..small {
            let day = self.int(e - 29, e);
            let amount = self.usd(20.0, 95.0);
            let m = self.night_minute();
            let i = self.transfer(
                day,
                m,
                boss.main(),
                Party::company(ext::EXCHANGE),
                amount,
                Channel::CryptoBuy,
                boss.home,
            );
            (self.rows[i].device, self.rows[i].ip) = boss.session();
        }
        // The people advertised move their takings to the controller, from the controller's phone.
        for v in &c.victims {
            for _ in 0..self.scaled(4.0, k, 1) {
                let day = self.int(e - 29, e);
                let amount = self.usd(100.0, 500.0);
                let m = self.night_minute();
                let i = self.transfer(
                    day,
                    m,
                    v.main(),
                    boss.main(),
                    amount,
                    Channel::P2pApp,
                    v.home,
                );
                (self.rows[i].device, self.rows[i].ip) = boss.session();
            }
        }
    }

    /// Tickets and visa fees for several recruits at once; the recruits pay fees and hand over
    /// most of their first wages.
    fn travel_visa(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let (s, e, k) = (c.start(), self.plan.days, c.k());
        self.group_tickets(c, 1 + u32::from(k > 0.7));
        self.recruitment_fees(c, 1_200.0);
        let employer = Party::company(ext::EMPLOYERS + 399);
        for v in &c.victims {
            for day in s..e {
                if self.plan.weekday(day) == 4 && (day / 7) % 2 == 1 {
                    let wage = self.usd(800.0, 1_300.0);
                    let i = self.wage(v, day, employer, wage);
                    if self.chance(0.3 + 0.6 * k) {
                        let ts = self.rows[i].ts;
                        let out = (wage * self.uniform(0.6, 0.9) * 100.0).round() / 100.0;
                        let j = self.transfer(
                            day,
                            12 * 60,
                            v.main(),
                            boss.main(),
                            out,
                            Channel::P2pApp,
                            v.home,
                        );
                        self.rows[j].ts = ts + i64::from(self.int(3, 30)) * 3600;
                    }
                }
            }
        }
    }

    /// A transfer of `amount` from `from` to `to`, `2..max_h` hours after `after`. Returns the
    /// amount and the time.
    fn hop(
        &mut self,
        day: u32,
        after: i64,
        from: &Person,
        to: Party,
        amount: f64,
        max_h: u32,
    ) -> (f64, i64) {
        let channel =
            [Channel::P2pApp, Channel::WireDomestic, Channel::Ach][self.int(0, 3) as usize];
        let i = self.transfer(day, 12 * 60, from.main(), to, amount, channel, from.home);
        let ts = after + i64::from(self.int(2, max_h.max(3))) * 3600 + i64::from(self.int(0, 3600));
        self.rows[i].ts = ts;
        (amount, ts)
    }

    /// Cash placed into `p`'s account on `day`; returns (amount, time).
    fn place(&mut self, p: &Person, day: u32, lo: f64, hi: f64) -> (f64, i64) {
        let amount = self.usd(lo, hi).round();
        let m = self.int(9 * 60, 20 * 60);
        let atm = self.chance(0.5);
        let i = self.cash(day, m, p.main(), amount, true, atm, p.home);
        (amount, self.rows[i].ts)
    }

    fn rounds(&mut self, c: &Case) -> Vec<u32> {
        let e = self.plan.days;
        let n = self.scaled(3.0, c.k(), 1);
        (0..n).map(|r| e - 27 + r * 8 + self.int(0, 3)).collect()
    }

    fn fan_in(&mut self, c: &Case) {
        let boss = c.controllers[0];
        for day in self.rounds(c) {
            for v in &c.victims {
                let d = day + self.int(0, 4);
                let (amount, ts) = self.place(v, d, 1_500.0, 4_000.0);
                let fwd = (amount * self.uniform(0.9, 0.98)).round();
                self.hop(d, ts, v, boss.main(), fwd, 30);
            }
            let out = self.usd(8_000.0, 20_000.0).round();
            let to = Party::company(ext::SUPPLIERS + 98);
            self.transfer(
                day + 5,
                15 * 60,
                boss.main(),
                to,
                out,
                Channel::WireDomestic,
                boss.home,
            );
        }
    }

    fn fan_out(&mut self, c: &Case) {
        let boss = c.controllers[0];
        for day in self.rounds(c) {
            let total = self.usd(10_000.0, 30_000.0).round();
            let src = Party::company(ext::CLIENTS + 4_000 + boss.cust % 500);
            let i = self.transfer(
                day,
                10 * 60,
                src,
                boss.main(),
                total,
                Channel::WireDomestic,
                boss.home,
            );
            let t0 = self.rows[i].ts;
            let share = total * 0.95 / c.victims.len() as f64;
            for v in &c.victims {
                let amount = (share * self.uniform(0.8, 1.2)).round();
                let (_, ts) = self.hop(day, t0, &boss, v.main(), amount, 60);
                let m = self.int(9 * 60, 21 * 60);
                let j = self.cash(
                    day + 1,
                    m,
                    v.main(),
                    (amount * 0.95).round(),
                    false,
                    true,
                    v.home,
                );
                self.rows[j].ts = self.rows[j].ts.max(ts + 3_600);
            }
        }
    }

    fn scatter_gather(&mut self, c: &Case) {
        let (a, b) = (c.controllers[0], c.controllers[1]);
        for day in self.rounds(c) {
            let (total, t0) = self.place(&a, day, 9_000.0, 9_900.0);
            let share = total / c.victims.len() as f64;
            for v in &c.victims {
                let amount = (share * self.uniform(0.9, 1.1)).round();
                let (x, ts) = self.hop(day, t0, &a, v.main(), amount, 12);
                let fwd = (x * self.uniform(0.85, 0.97)).round();
                self.hop(day, ts, v, b.main(), fwd, 48);
            }
        }
    }

    fn gather_scatter(&mut self, c: &Case) {
        let boss = c.controllers[0];
        let half = c.victims.len() / 2;
        let (senders, receivers) = c.victims.split_at(half);
        for day in self.rounds(c) {
            let mut total = 0.0;
            let mut last = 0;
            for v in senders {
                let (amount, ts) = self.place(v, day, 2_000.0, 5_000.0);
                let (x, t) = self.hop(day, ts, v, boss.main(), (amount * 0.95).round(), 24);
                total += x;
                last = last.max(t);
            }
            let share = total * self.uniform(0.85, 0.95) / receivers.len() as f64;
            for r in receivers {
                let amount = (share * self.uniform(0.9, 1.1)).round();
                self.hop(day + 1, last, &boss, r.main(), amount, 72);
            }
        }
    }

    fn cycle(&mut self, c: &Case) {
        let boss = c.controllers[0];
        for day in self.rounds(c) {
            let (mut amount, mut ts) = self.place(&boss, day, 5_000.0, 9_500.0);
            let mut from = boss;
            for v in c.victims.iter().chain(std::iter::once(&boss)) {
                amount = (amount * self.uniform(0.85, 0.97)).round();
                let (_, t) = self.hop(day, ts, &from, v.main(), amount, 20);
                ts = t;
                from = *v;
            }
        }
    }

    /// Dense blocks: originators each pay most beneficiaries; in a stack, the first block's
    /// beneficiaries forward to a second block within three days.
    fn bipartite(&mut self, c: &Case, stack: bool) {
        let origins = &c.controllers;
        let (mid, last) = if stack {
            c.victims.split_at(3)
        } else {
            (&c.victims[..], &[][..])
        };
        for day in self.rounds(c) {
            let mut received = vec![(0.0, 0i64); mid.len()];
            for o in origins {
                let (cash, t0) = self.place(o, day, 6_000.0, 9_800.0);
                let share = cash / mid.len() as f64;
                for (i, m) in mid.iter().enumerate() {
                    if self.chance(0.85) || i == 0 {
                        let amount = (share * self.uniform(0.85, 1.0)).round();
                        let (x, t) = self.hop(day, t0, o, m.main(), amount, 24);
                        received[i].0 += x;
                        received[i].1 = received[i].1.max(t);
                    }
                }
            }
            if !stack {
                continue;
            }
            for (i, m) in mid.iter().enumerate() {
                let (got, t) = received[i];
                let share = got * self.uniform(0.75, 0.95) / last.len() as f64;
                for l in last {
                    self.hop(day + 1, t, m, l.main(), share.round(), 60);
                }
            }
        }
    }

    fn layered_chain(&mut self, c: &Case) {
        let (head, tail) = (c.controllers[0], c.controllers[1]);
        for day in self.rounds(c) {
            let (mut amount, mut ts) = self.place(&head, day, 7_000.0, 9_800.0);
            let mut from = head;
            for v in c.victims.iter().chain(std::iter::once(&tail)) {
                amount = (amount * self.uniform(0.85, 0.95)).round();
                let (_, t) = self.hop(day, ts, &from, v.main(), amount, 40);
                ts = t;
                from = *v;
            }
        }
    }
}
