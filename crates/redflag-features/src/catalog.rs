//! The one place where every feature column is named and documented.
//!
//! `redflag features --list` prints this table; the rule pack's `when` expressions and the
//! isolation forest read these names; the columns of `entity_features` come out in this order,
//! after the key columns `entity_id`, `entity_kind` and `segment`.

use arrow::datatypes::DataType;

/// What a feature's number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// A number of transactions, counterparties, cities, ... (`UInt32`, never null).
    Count,
    /// An amount in the run's base currency (`Float64`).
    Amount,
    /// A share in [0, 1] (`Float64`; null when the denominator is empty).
    Share,
    /// A ratio that may exceed 1 (`Float64`; null when the denominator is empty).
    Ratio,
    /// Hours (`Float64`; null when nothing was measured).
    Hours,
    /// Days (`Float64`).
    Days,
    /// A standard score (`Float64`; null without enough history).
    ZScore,
    /// A percentile rank in [0, 100] within the entity's peer segment (`Float64`).
    Percentile,
    /// An ordinal level, documented per feature (`UInt32`).
    Level,
}

impl Unit {
    /// The unit's name as printed by `redflag features --list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Amount => "amount",
            Unit::Share => "share",
            Unit::Ratio => "ratio",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::ZScore => "z-score",
            Unit::Percentile => "percentile",
            Unit::Level => "level",
        }
    }

    /// The Arrow type of a column with this unit.
    pub fn data_type(self) -> DataType {
        match self {
            Unit::Count | Unit::Level => DataType::UInt32,
            _ => DataType::Float64,
        }
    }

    /// Whether the column can hold nulls (a count is zero, never null).
    pub fn nullable(self) -> bool {
        !matches!(self, Unit::Count | Unit::Level | Unit::Amount | Unit::Days)
    }
}

/// One documented feature column.
#[derive(Debug, Clone, Copy)]
pub struct FeatureDef {
    /// Column name in `entity_features`.
    pub name: &'static str,
    /// Unit and Arrow type.
    pub unit: Unit,
    /// Window the value is computed over, ending at `as_of` (`"all"`: the whole input).
    pub window: &'static str,
    /// The indicators (`docs/INDICATORS.md`) that read it.
    pub indicators: &'static str,
    /// What it measures.
    pub meaning: &'static str,
}

macro_rules! catalog {
    ( $( $variant:ident = $name:literal, $unit:ident, $window:literal, $ind:literal, $meaning:literal; )+ ) => {
        /// Index of each feature in [`CATALOG`] (and in a computed feature row).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types, missing_docs)]
        #[repr(usize)]
        pub enum F { $( $variant ),+ }

        /// Every feature column, in output order.
        pub const CATALOG: &[FeatureDef] = &[
            $( FeatureDef { name: $name, unit: Unit::$unit, window: $window, indicators: $ind, meaning: $meaning } ),+
        ];
    };
}

catalog! {
    // --- activity -------------------------------------------------------------------------
    NIn30 = "n_in_30d", Count, "30d", "PT-1", "Credits received (completed).";
    InSum30 = "in_sum_30d", Amount, "30d", "PT-1, LE-5", "Value received, base currency.";
    NOut30 = "n_out_30d", Count, "30d", "", "Debits paid (completed).";
    OutSum30 = "out_sum_30d", Amount, "30d", "GR-2", "Value paid, base currency.";
    Senders30 = "senders_30d", Count, "30d", "GR-1, FN-2", "Distinct counterparties that paid in (cash excluded).";
    Receivers30 = "receivers_30d", Count, "30d", "GR-2", "Distinct counterparties paid (cash excluded).";
    NewCpShare30 = "new_counterparty_share_30d", Share, "30d vs 180d before", "GR-1, GR-2", "Share of the window's distinct transfer counterparties (card purchases excluded) with no transfer in the 180 days before the window.";
    NewReceiverShare30 = "new_receiver_share_30d", Share, "30d vs 180d before", "GR-2", "Share of the window's distinct transfer receivers (card purchases excluded) not paid in the 180 days before the window.";
    HistoryDays = "history_days", Days, "all", "baselines", "Days from the entity's first transaction in the input to as_of.";
    ActiveDays30 = "active_days_30d", Count, "30d", "", "Distinct UTC days with a transaction.";
    RoundShare30 = "round_amount_share_30d", Share, "30d", "ST-1", "Share of transactions whose amount (in its own currency) is a whole multiple of 100.";
    NightShare30 = "night_share_30d", Share, "30d", "SE-5", "Share of transactions at local night time (22:00-06:00; local_offset_min, else the configured default offset).";
    Velocity30 = "velocity_ratio_30d", Ratio, "30d vs 180d before", "behavioural change", "Transactions in the window / mean per 30 days over the 180-day baseline; null with under 60 days of baseline history.";
    AmountZMax30 = "amount_z_max_30d", ZScore, "30d vs 180d before", "single large", "Largest z-score of a window amount against the baseline's mean and standard deviation; null with fewer than 5 baseline transactions.";
    // --- cash and structuring -----------------------------------------------------------------
    CashIn30 = "cash_in_30d", Count, "30d", "FN-1, LE-6", "Cash and ATM deposits into the entity.";
    CashInSum30 = "cash_in_sum_30d", Amount, "30d", "FN-1, PT-2", "Value of cash and ATM deposits.";
    CashOut30 = "cash_out_30d", Count, "30d", "FN-1", "Cash and ATM withdrawals.";
    CashOutSum30 = "cash_out_sum_30d", Amount, "30d", "FN-1", "Value of cash and ATM withdrawals.";
    CashInShare30 = "cash_in_share_30d", Share, "30d", "LE-5, LE-6", "Cash share of the value received.";
    CashAtm30 = "cash_atm_30d", Count, "30d", "SE-5", "Cash and ATM deposits and withdrawals.";
    CashAtmNight30 = "cash_atm_night_30d", Count, "30d", "SE-5", "Cash and ATM movements at local night time (22:00-06:00).";
    CashAtmCities30 = "cash_atm_cities_30d", Count, "30d", "SE-5", "Distinct cities (geo_city) of cash and ATM movements.";
    NearThreshold30 = "cash_near_threshold_30d", Count, "30d", "ST-1", "Cash movements with amount_base in [0.8 T, T), T the reporting threshold.";
    NearThreshold7 = "cash_near_threshold_7d", Count, "7d", "ST-1", "As cash_near_threshold_30d, last 7 days.";
    Cash24hMax = "cash_24h_max_sum", Amount, "30d", "ST-2", "Largest cash total (in or out) in any 24-hour span.";
    Split24h30 = "split_24h_30d", Count, "30d", "ST-2", "Cash movements that complete a 24-hour span totalling >= T from >= 2 pieces each < T at >= 2 locations or channels.";
    Avoidance7 = "threshold_avoidance_7d", Count, "7d", "ST-4", "Attempted, declined or reversed transactions >= T followed within 2 h by >= 2 completed ones < T that sum to >= 0.8 of it.";
    Remit2k3k30 = "remit_2k_3k_in_30d", Count, "30d", "ST-3", "Wire and remittance credits each in [2000, 3000) base currency.";
    Remit2k3kSenders30 = "remit_2k_3k_senders_30d", Count, "30d", "ST-3", "Distinct senders of those credits.";
    // --- funnel -----------------------------------------------------------------------------
    CashInCities30 = "cash_in_cities_30d", Count, "30d", "FN-1", "Distinct cities where cash was paid in.";
    RemoteOutRatio30 = "remote_out_ratio_30d", Ratio, "30d", "FN-1", "Debits (cash, ATM, wires, cheques) made outside every cash-in city, over cash paid in.";
    RemoteOutLagH30 = "remote_out_lag_median_h_30d", Hours, "30d", "FN-1", "Median hours from a cash deposit to the next such remote debit.";
    Depositors30 = "depositors_30d", Count, "30d", "FN-2", "Distinct non-holder conductors of cash deposits plus distinct senders of P2P and remittance credits.";
    // --- pass-through -------------------------------------------------------------------------
    PassThrough30 = "pass_through_ratio_30d", Share, "30d", "PT-1, GR-3, GR-7", "Value of debits matched first-in-first-out to earlier credits within 72 h, over credits.";
    ForwardMedianH30 = "forward_median_h_30d", Hours, "30d", "PT-1", "Median hours between a credit and the debits matched to it.";
    BalanceRatio30 = "balance_ratio_30d", Ratio, "30d", "PT-1", "Mean daily running balance of the window's flows (starting at 0, never below), over credits.";
    CashThenIntl30 = "cash_then_intl_ratio_30d", Ratio, "30d", "PT-2", "International wires and remittances within 7 days after cash deposits, over cash paid in.";
    CorridorOutShare30 = "corridor_out_share_30d", Share, "30d", "PT-2, GR-2", "Share of international out value to countries on the corridors list (severity only).";
    // --- wages --------------------------------------------------------------------------------
    PayrollIn90 = "payroll_in_90d", Count, "90d", "LE-1, LE-2", "Payroll credits (purpose code or payroll originator list).";
    WageSweeps90 = "wage_sweeps_90d", Count, "90d", "LE-2", "Payroll credits of which >= 80% left within 48 h as cash or transfers to another customer.";
    WageSweepsLast3 = "wage_sweeps_last3_90d", Count, "90d", "LE-2", "How many of the last 3 payroll credits were swept so.";
    SweepSources90 = "sweep_sources_90d", Count, "90d", "LE-2", "Distinct wage earners whose swept wages arrived at this entity (possible controller).";
    PayrollNames35 = "payroll_names_35d", Count, "35d", "LE-1", "Distinct receiver names on payroll credits.";
    PayrollEmployers35 = "payroll_employers_35d", Count, "35d", "LE-1", "Distinct originators of payroll credits.";
    // --- spending (sexual and labour exploitation) --------------------------------------------
    AdSite30 = "ad_site_payments_30d", Count, "30d", "SE-1", "Payments to ad sites (MCC 7311, 7273 or the ad-site merchant list).";
    AdSiteWeeks30 = "ad_site_weeks_30d", Count, "30d", "SE-1", "Distinct ISO weeks with an ad-site payment.";
    AdSiteMedian30 = "ad_site_median_amount_30d", Amount, "30d", "SE-1", "Median ad-site payment (0 when none).";
    AdSiteRepeat30 = "ad_site_repeat_share_30d", Share, "30d", "SE-1", "Share of ad-site payments whose amount repeats another one within 1%.";
    Lodging30 = "lodging_30d", Count, "30d", "SE-2", "Lodging payments (MCC 7011, 3501-3999, or the short-term-rental list).";
    LodgingCities30 = "lodging_cities_30d", Count, "30d", "SE-2", "Distinct cities of lodging payments.";
    LodgingMerchants7Max = "lodging_merchants_7d_max", Count, "30d", "SE-2", "Most distinct lodging merchants inside any 7-day span.";
    LodgingSmallShare30 = "lodging_small_share_30d", Share, "30d", "SE-2", "Share of lodging payments under the single-night amount (150).";
    SustenanceCats30 = "sustenance_categories_30d", Count, "30d", "SE-3", "Sustenance categories (fast food, pharmacy, cosmetics, apparel, beauty, taxi, lodging) with >= 3 payments.";
    SustenanceSpend30 = "sustenance_spend_30d", Amount, "30d", "SE-3", "Spend in those categories.";
    SustenanceRatio30 = "sustenance_baseline_ratio_30d", Ratio, "30d vs 180d before", "SE-3", "That spend over the entity's own mean 30-day spend in them before the window; null with under 60 days of baseline or none spent.";
    AdultAfterHours30 = "adult_venue_after_hours_30d", Count, "30d", "SE-4", "Card payments at adult-service-type venues (7297, 7298, 7230, 7273, 5813) outside 09:00-21:00 local.";
    AfterHoursReceipts30 = "after_hours_receipt_share_30d", Share, "30d", "SE-4, LE-6", "For a receiver of >= 20 card payments at adult-service-type MCCs (7297, 7298, 7230, 7273, 5813): share outside 09:00-21:00 local.";
    GeoCities30 = "geo_cities_30d", Count, "30d", "SE-8", "Distinct cities of card-present and cash movements.";
    GeoRegions30 = "geo_regions_30d", Count, "30d", "SE-8", "Distinct regions of card-present and cash movements.";
    CityChangesWeek30 = "city_changes_per_week_30d", Ratio, "30d", "SE-8", "Changes of city between consecutive located movements, per week.";
    Travel60 = "travel_payments_60d", Count, "60d", "LE-4", "Airline, rail, bus, travel-agency and government-fee payments.";
    TravelBurst60 = "travel_same_merchant_1h_max_60d", Count, "60d", "LE-4", "Most such payments at one merchant within one hour.";
    Recruitment365 = "recruitment_fees_365d", Amount, "365d", "LE-3", "Paid to employment and recruitment agencies (MCC 7361, 8299).";
    Prepaid30 = "prepaid_30d", Count, "30d", "PT-4", "Prepaid card purchases and loads.";
    PrepaidSum30 = "prepaid_sum_30d", Amount, "30d", "PT-4", "Value of prepaid purchases and loads.";
    CryptoBuy30 = "crypto_buy_30d", Count, "30d", "CR-1", "Crypto purchases (crypto_buy or card spend at MCC 6051).";
    CryptoBuySmall30 = "crypto_buy_small_30d", Count, "30d", "CR-1", "Crypto purchases of at most 100.";
    PrepaidCryptoAd7 = "prepaid_crypto_ad_chain_7d", Level, "30d", "SE-6", "0 none; 1 prepaid then crypto purchase within 7 days; 2 prepaid, crypto, then an ad-site payment within 7 days.";
    P2pMicro30 = "p2p_micro_30d", Count, "30d", "PT-5", "P2P app movements under 100.";
    P2pMicroToCrypto30 = "p2p_micro_to_crypto_share_30d", Share, "30d", "PT-5", "Crypto purchases within 7 days after P2P micro credits, over the value of those credits.";
    CryptoSmallSends90 = "crypto_small_sends_max_90d", Count, "90d", "CR-3", "Most crypto sends of 10-100 to one recipient.";
    CryptoSmallNight90 = "crypto_small_night_share_90d", Share, "90d", "CR-3", "Share of those sends at local 23:00-05:00.";
    IllicitExposure90 = "illicit_exposure_90d", Count, "90d", "CR-2", "Transfers to or from counterparties a reference list attributes to darknet markets, CSAM vendors, escort or ad services, guarantee marketplaces or sanctioned parties (incoming dust ignored).";
    IllicitValue90 = "illicit_exposure_value_90d", Amount, "90d", "CR-2", "Value of those transfers.";
    ObfuscationShare90 = "obfuscation_share_90d", Share, "90d", "CR-4", "Value moved through listed mixers, instant exchangers, privacy-coin swaps or bridges within 72 h of an illicit exposure, over the exposure value.";
    Wires30 = "wires_30d", Count, "30d", "PT-3", "Wires, ACH and remittances, in and out.";
    TpppShare30 = "tppp_wire_share_30d", Share, "30d", "PT-3", "Share of that value with a listed third-party payment processor as counterparty.";
    // --- graph --------------------------------------------------------------------------------
    FanIn7Max = "fan_in_7d_max", Count, "30d", "GR-1", "Most distinct senders of transfers (card takings excluded) inside any 7-day span.";
    FanOut7Max = "fan_out_7d_max", Count, "30d", "GR-2", "Most distinct receivers of transfers (card purchases excluded) inside any 7-day span.";
    GatherScatter = "gather_scatter_30d", Level, "30d", "GR-4", "1 if >= 3 senders then >= 3 other receivers within 14 days passed on >= 80% of what came in.";
    SgSource = "scatter_gather_source_30d", Count, "30d", "GR-3", "Beneficiaries this entity reached through >= 3 thin intermediaries that each forwarded >= 80% within 72 h.";
    SgIntermediary = "scatter_gather_intermediary_30d", Level, "30d", "GR-3", "1 if the entity is such an intermediary.";
    SgSink = "scatter_gather_sink_30d", Count, "30d", "GR-3", "Originators that reached this entity so.";
    Cycles30 = "cycles_30d", Count, "30d", "GR-5", "Time-respecting cycles of 2-6 hops through the entity, each hop 50-100% of the previous (capped at 1000).";
    CycleMinLen30 = "cycle_min_len_30d", Count, "30d", "GR-5", "Hops of the shortest such cycle (0 when none).";
    ChainHops30 = "chain_hops_max_30d", Count, "30d", "GR-7", "Hops of the longest time-respecting chain through the entity whose inner nodes are thin and forward >= 70% within 72 h.";
    Bipartite30 = "bipartite_block_30d", Count, "14d", "GR-6", "Size (originators + beneficiaries) of the dense bipartite block the entity is in (0 when none).";
    Stack30 = "bipartite_stack_30d", Level, "14d", "GR-6", "1 if the entity is a beneficiary of one dense block and an originator of another, forwarding >= 70% within 72 h.";
    SharedIdCluster30 = "shared_id_cluster_30d", Count, "30d", "GR-8, FN-3", "Distinct customers (accounts when no customer ids) joined to this one through shared devices or IP addresses (itself included).";
    ConductorAccounts30 = "conductor_accounts_max_30d", Count, "30d", "FN-3", "Most accounts of different holders that one conductor of this entity's cash movements operated.";
    // --- peers --------------------------------------------------------------------------------
    PctInSum30 = "peer_pct_in_sum_30d", Percentile, "30d", "LE-6, FN-1", "Percentile of in_sum_30d among entities of the same kind and segment.";
    PctOutSum30 = "peer_pct_out_sum_30d", Percentile, "30d", "GR-2", "Percentile of out_sum_30d among peers.";
    PctCashIn30 = "peer_pct_cash_in_sum_30d", Percentile, "30d", "LE-6", "Percentile of cash_in_sum_30d among peers.";
    PctTxn30 = "peer_pct_txn_30d", Percentile, "30d", "velocity", "Percentile of n_in_30d + n_out_30d among peers.";
}

/// Number of feature columns.
pub const N_FEATURES: usize = CATALOG.len();

impl F {
    /// The feature's column name.
    pub fn name(self) -> &'static str {
        CATALOG[self as usize].name
    }
}

/// Looks a feature up by column name.
pub fn feature(name: &str) -> Option<&'static FeatureDef> {
    CATALOG.iter().find(|d| d.name == name)
}
