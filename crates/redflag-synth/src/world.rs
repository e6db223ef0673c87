//! The fixed world a population lives in: cities, merchants, currencies, names.
//!
//! Nothing here depends on the seed, so the same merchant id means the same shop in every
//! population, and a population's rows can be read against this table.

/// A place where card, cash and ATM transactions happen.
#[derive(Debug, Clone, Copy)]
pub struct City {
    /// City name as written in `geo_city`.
    pub name: &'static str,
    /// Region (state or province) in `geo_region`.
    pub region: &'static str,
    /// ISO 3166-1 alpha-2 country.
    pub country: &'static str,
    /// Standard-time offset from UTC in minutes (daylight saving is not modelled).
    pub offset_min: i16,
}

const fn city(
    name: &'static str,
    region: &'static str,
    country: &'static str,
    offset_min: i16,
) -> City {
    City {
        name,
        region,
        country,
        offset_min,
    }
}

/// The home country of the synthetic bank.
pub const HOME_COUNTRY: &str = "US";
/// The bank's institution id (a fictitious BIC).
pub const BANK: &str = "RFLGUS33";

/// Domestic cities, where customers live, shop and bank. Sixteen cities in eleven states.
pub const CITIES: &[City] = &[
    city("New York", "NY", "US", -300),
    city("Newark", "NJ", "US", -300),
    city("Philadelphia", "PA", "US", -300),
    city("Atlanta", "GA", "US", -300),
    city("Miami", "FL", "US", -300),
    city("Orlando", "FL", "US", -300),
    city("Chicago", "IL", "US", -360),
    city("Houston", "TX", "US", -360),
    city("Dallas", "TX", "US", -360),
    city("San Antonio", "TX", "US", -360),
    city("Denver", "CO", "US", -420),
    city("Phoenix", "AZ", "US", -420),
    city("Las Vegas", "NV", "US", -480),
    city("Los Angeles", "CA", "US", -480),
    city("San Diego", "CA", "US", -480),
    city("Seattle", "WA", "US", -480),
];

/// Countries that receive remittances and international wires, from benign senders and planted
/// cases alike (the point: destination alone says nothing).
pub const REMIT_COUNTRIES: &[&str] = &["MX", "GT", "SV", "HN", "PH", "IN", "VN", "TH", "NG", "RO"];

/// Currencies rows are denominated in, with the rate to USD used for the rates file and the
/// amount in the transaction's own unit. Crypto assets carry 8 decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// US dollar, the base currency.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// Mexican peso.
    Mxn,
    /// Bitcoin.
    Btc,
    /// Ether.
    Eth,
    /// Tether (USDT).
    Usdt,
}

impl Currency {
    /// Every currency, in the order of the rates file.
    pub const ALL: [Currency; 7] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Mxn,
        Currency::Btc,
        Currency::Eth,
        Currency::Usdt,
    ];

    /// ISO 4217 code or asset ticker.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Mxn => "MXN",
            Currency::Btc => "BTC",
            Currency::Eth => "ETH",
            Currency::Usdt => "USDT",
        }
    }

    /// Decimal places of an amount.
    pub fn scale(self) -> u32 {
        match self {
            Currency::Btc | Currency::Eth => 8,
            Currency::Usdt => 6,
            _ => 2,
        }
    }

    /// Units of USD per unit of this currency at month `m` of the population (a gentle,
    /// deterministic drift so the rates file has more than one row per currency).
    pub fn usd_rate(self, month: u32) -> f64 {
        let drift = 1.0 + 0.01 * f64::from(month % 5) - 0.02;
        match self {
            Currency::Usd => 1.0,
            Currency::Eur => 1.08 * drift,
            Currency::Gbp => 1.26 * drift,
            Currency::Mxn => 0.058 * drift,
            Currency::Btc => 62_000.0 * (1.0 + 0.04 * f64::from(month % 4)),
            Currency::Eth => 3_100.0 * (1.0 + 0.05 * f64::from(month % 3)),
            Currency::Usdt => 1.0,
        }
    }
}

/// What a merchant sells, with its category code and the amounts it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cat {
    /// 5411 grocery stores.
    Grocery,
    /// 5812 restaurants.
    Restaurant,
    /// 5814 fast food.
    FastFood,
    /// 5541 service stations.
    Fuel,
    /// 5912 drug stores and pharmacies.
    Pharmacy,
    /// 5311 department stores.
    DepartmentStore,
    /// 5651 family clothing.
    Clothing,
    /// 5621 women's ready-to-wear.
    WomensApparel,
    /// 5977 cosmetic stores.
    Cosmetics,
    /// 7230 beauty and barber shops.
    Beauty,
    /// 7298 health and beauty spas.
    Spa,
    /// 7297 massage parlours.
    Massage,
    /// 5813 drinking places.
    Bar,
    /// 4121 taxis and ride-share.
    Taxi,
    /// 7011 lodging.
    Hotel,
    /// 7997 clubs and gyms.
    Gym,
    /// 5999 online retail (card not present).
    OnlineShop,
    /// 4899 streaming and subscriptions.
    Streaming,
    /// 4511 airlines.
    Airline,
    /// 4722 travel agencies.
    TravelAgency,
    /// 4131 bus lines.
    Bus,
    /// 9399 government services (visa and permit fees).
    Government,
    /// 7311 advertising services (online classifieds).
    Classifieds,
    /// 7273 dating and escort services.
    Dating,
    /// 6051 quasi-cash (card-funded crypto and money orders).
    QuasiCash,
    /// 7361 employment agencies.
    Recruitment,
    /// 4900 utilities.
    Utilities,
}

/// A merchant category: code, brand names, shops per city (0 = online only), amount range in
/// USD.
pub type CategoryRow = (Cat, u16, &'static [&'static str], u8, f64, f64);

/// The merchant categories.
pub const CATEGORIES: &[CategoryRow] = &[
    (
        Cat::Grocery,
        5411,
        &["FreshMart", "Green Basket", "ValueGrocer"],
        3,
        8.0,
        160.0,
    ),
    (
        Cat::Restaurant,
        5812,
        &[
            "Corner Bistro",
            "Golden Wok",
            "Trattoria Roma",
            "Taqueria Sol",
        ],
        4,
        15.0,
        120.0,
    ),
    (
        Cat::FastFood,
        5814,
        &["Burger Hut", "Chicken Shack", "Pizza Corner"],
        3,
        5.0,
        30.0,
    ),
    (Cat::Fuel, 5541, &["Gas Stop", "FuelWay"], 2, 20.0, 90.0),
    (
        Cat::Pharmacy,
        5912,
        &["CarePharm", "HealthPlus Drugs"],
        2,
        6.0,
        80.0,
    ),
    (Cat::DepartmentStore, 5311, &["MegaMart"], 1, 15.0, 250.0),
    (Cat::Clothing, 5651, &["Urban Threads"], 1, 20.0, 180.0),
    (
        Cat::WomensApparel,
        5621,
        &["Belle Boutique"],
        1,
        20.0,
        160.0,
    ),
    (Cat::Cosmetics, 5977, &["Glow Cosmetics"], 1, 8.0, 90.0),
    (
        Cat::Beauty,
        7230,
        &["Style Studio", "Cutz Barbers"],
        2,
        15.0,
        90.0,
    ),
    (Cat::Spa, 7298, &["Serenity Spa"], 1, 40.0, 160.0),
    (Cat::Massage, 7297, &["Relax Massage"], 1, 40.0, 120.0),
    (
        Cat::Bar,
        5813,
        &["The Tap Room", "Night Owl Lounge"],
        2,
        8.0,
        90.0,
    ),
    (Cat::Taxi, 4121, &["City Cab"], 1, 8.0, 60.0),
    (
        Cat::Hotel,
        7011,
        &["Inn & Suites", "Budget Motel", "Grand Hotel"],
        3,
        60.0,
        320.0,
    ),
    (Cat::Gym, 7997, &["FitLife Gym"], 1, 25.0, 60.0),
    (
        Cat::OnlineShop,
        5999,
        &["ShopOnline", "MarketHub"],
        0,
        10.0,
        200.0,
    ),
    (
        Cat::Streaming,
        4899,
        &["StreamFlix", "TuneBox"],
        0,
        8.0,
        20.0,
    ),
    (
        Cat::Airline,
        4511,
        &["SkyWays Airlines", "AeroJet"],
        0,
        90.0,
        650.0,
    ),
    (
        Cat::TravelAgency,
        4722,
        &["TripPlanner Travel"],
        0,
        100.0,
        900.0,
    ),
    (Cat::Bus, 4131, &["Greyline Bus"], 0, 20.0, 120.0),
    (
        Cat::Government,
        9399,
        &["Gov Visa Services"],
        0,
        50.0,
        400.0,
    ),
    (
        Cat::Classifieds,
        7311,
        &["QuickClassifieds", "CityListings Ads"],
        0,
        3.0,
        60.0,
    ),
    (
        Cat::Dating,
        7273,
        &["MatchMate Dating", "Companion Directory"],
        0,
        10.0,
        45.0,
    ),
    (
        Cat::QuasiCash,
        6051,
        &["CoinCard Quasi-Cash"],
        0,
        20.0,
        500.0,
    ),
    (
        Cat::Recruitment,
        7361,
        &["GlobalStaff Recruitment"],
        0,
        200.0,
        1500.0,
    ),
    (
        Cat::Utilities,
        4900,
        &["City Power & Water"],
        0,
        40.0,
        220.0,
    ),
];

/// One shop or online merchant.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// Its category.
    pub cat: Cat,
    /// ISO 18245 code.
    pub mcc: u16,
    /// Descriptor (`merchant_name`).
    pub name: String,
    /// Index into [`CITIES`], or `None` for an online merchant.
    pub city: Option<u16>,
}

/// The merchant table and its lookups.
#[derive(Debug)]
pub struct World {
    /// Every merchant; the index is the merchant number in `merchant_id`.
    pub merchants: Vec<Merchant>,
    /// (category, city) -> merchant numbers; online merchants under city `u16::MAX`.
    by_cat_city: Vec<Vec<Vec<u32>>>,
}

const ONLINE: usize = CITIES.len();

impl World {
    /// Builds the merchant table.
    pub fn new() -> World {
        let mut merchants = Vec::new();
        let mut by_cat_city = vec![vec![Vec::new(); CITIES.len() + 1]; CATEGORIES.len()];
        for (ci, (cat, mcc, brands, per_city, _, _)) in CATEGORIES.iter().enumerate() {
            if *per_city == 0 {
                for b in *brands {
                    by_cat_city[ci][ONLINE].push(merchants.len() as u32);
                    merchants.push(Merchant {
                        cat: *cat,
                        mcc: *mcc,
                        name: (*b).to_owned(),
                        city: None,
                    });
                }
                continue;
            }
            for (city_i, c) in CITIES.iter().enumerate() {
                for k in 0..*per_city as usize {
                    let brand = brands[k % brands.len()];
                    by_cat_city[ci][city_i].push(merchants.len() as u32);
                    merchants.push(Merchant {
                        cat: *cat,
                        mcc: *mcc,
                        name: format!("{brand} {}", c.name),
                        city: Some(city_i as u16),
                    });
                }
            }
        }
        World {
            merchants,
            by_cat_city,
        }
    }

    /// Merchants of `cat` in `city` (or online ones when the category has no shops).
    pub fn shops(&self, cat: Cat, city: u16) -> &[u32] {
        let ci = cat_index(cat);
        let local = &self.by_cat_city[ci][usize::from(city)];
        if local.is_empty() {
            &self.by_cat_city[ci][ONLINE]
        } else {
            local
        }
    }

    /// The amount range of a category, USD.
    pub fn range(cat: Cat) -> (f64, f64) {
        let (_, _, _, _, lo, hi) = CATEGORIES[cat_index(cat)];
        (lo, hi)
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

fn cat_index(cat: Cat) -> usize {
    CATEGORIES.iter().position(|c| c.0 == cat).unwrap_or(0)
}

/// Given names for synthetic people (drawn from many languages; a name is never a feature).
pub const GIVEN: &[&str] = &[
    "Alex", "Sam", "Jordan", "Taylor", "Maria", "Jose", "Wei", "Li", "Fatima", "Omar", "Anna",
    "Ivan", "Priya", "Ravi", "Ngozi", "Kwame", "Sofia", "Mateo", "Yuki", "Hana", "Elena", "Luca",
    "Grace", "John", "Mary", "James", "Linda", "David", "Ana", "Carlos", "Mei", "Minh", "Thao",
    "Ali", "Leila", "Noah", "Emma", "Olivia", "Liam", "Chloe", "Daniel", "Sara", "Nadia", "Tomas",
    "Irina", "Pavel", "Aisha", "Musa", "Rosa", "Diego", "Kofi", "Amara", "Jin", "Soo", "Arjun",
    "Deepa", "Lucia", "Marco", "Ewa", "Piotr",
];

/// Family names for synthetic people.
pub const FAMILY: &[&str] = &[
    "Smith",
    "Garcia",
    "Nguyen",
    "Kim",
    "Patel",
    "Okafor",
    "Rossi",
    "Novak",
    "Cohen",
    "Silva",
    "Johnson",
    "Lopez",
    "Chen",
    "Wang",
    "Singh",
    "Mensah",
    "Ivanova",
    "Kowalski",
    "Haddad",
    "Brown",
    "Martinez",
    "Tran",
    "Park",
    "Shah",
    "Adeyemi",
    "Bianchi",
    "Horvat",
    "Levi",
    "Santos",
    "Williams",
    "Hernandez",
    "Le",
    "Choi",
    "Kumar",
    "Boateng",
    "Popescu",
    "Nowak",
    "Mizrahi",
    "Costa",
    "Jones",
    "Gonzalez",
    "Pham",
    "Yamamoto",
    "Reddy",
    "Diallo",
    "Petrov",
    "Müller",
    "Khan",
    "Ferreira",
    "Miller",
    "Rodriguez",
    "Vu",
    "Sato",
    "Das",
    "Eze",
    "Moreau",
    "Jensen",
    "Ali",
    "Pereira",
    "Davis",
];
