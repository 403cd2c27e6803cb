//! Every number the valuation uses, with defaults. Amounts are integer minor units of the
//! listing's currency (cents for USD); rates are basis points (1 % = 100 bp).
//!
//! The fee numbers are the publicly stated US fees as of 2025, written down here as
//! assumptions to check against each marketplace's current fee page:
//!
//! | channel | fee on the sale total | per order | minimum | shipping |
//! |---|---|---|---|---|
//! | eBay | 13.25 % final-value fee (most categories) | $0.30 | – | seller pays |
//! | Poshmark | 20 %, or a flat $2.95 under $15 | – | – | buyer pays the prepaid label |
//! | Mercari | 10 % selling fee + 2.9 % payment processing | $0.50 | – | seller pays |
//! | Facebook, shipped | 10 % | – | $0.80 | seller pays |
//! | Facebook, local pickup | none | – | – | none |
//! | Craigslist | none | – | – | none (local) |
//!
//! Shipping is what a parcel of the category costs us (the item is listed with free
//! shipping, so the fee base is the sale price); furniture, cars and bikes sell locally only.

use std::collections::BTreeMap;

use bazaar_model::{Condition, Marketplace};
use serde::{Deserialize, Serialize};

/// How the analyzer turns an estimate into a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// Ours: a conservative value (the estimate less its uncertainty), the best resale
    /// channel's fees and shipping, the target margin kept at the ceiling, a risk cap.
    Default,
    /// The seed's: a weighted sum of margin (0.4), demand (0.3), low risk (0.2) and
    /// freshness (0.1), each normalized to 0..=1; pursue at or above a threshold.
    Seed,
}

/// Which robust centre of the comparables' (log) prices is the value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Estimator {
    /// The weighted median.
    Median,
    /// The weighted mean of the middle of the weight mass: `trim_permille` of the mass is
    /// cut from each end (200 = the 20 % trimmed mean).
    TrimmedMean {
        /// Share of the weight cut from each end, in thousandths (0..500).
        trim_permille: u32,
    },
}

/// Everything [`analyze`](super::analyze) needs besides the listing and its comparables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValuationConfig {
    /// Which decision rule: ours or the seed's.
    pub scoring: Scoring,
    /// Fewer usable comparables than this is a cold start: no value, a pass.
    pub min_comparables: u32,
    /// Comparables less similar than this (0..=1) are not comparable.
    pub min_similarity: f64,
    /// A comparable's weight is its similarity to this power: high, so the same product
    /// outweighs many that merely share a word or two with it.
    pub similarity_power: f64,
    /// Weight of a sold price relative to an asking price.
    pub sold_weight: f64,
    /// Weight of an asking price.
    pub asking_weight: f64,
    /// Asking prices are scaled by this many thousandths to stand for what things sell for
    /// (sellers ask more than they get).
    pub asking_to_sold_permille: i64,
    /// A comparable this many days old weighs half as much as a fresh one.
    pub recency_half_life_days: f64,
    /// Weight factor for a comparable with no observation time.
    pub unknown_age_weight: f64,
    /// Weight factor for a comparable in another (known) condition.
    pub condition_mismatch_weight: f64,
    /// What each condition is worth relative to new; a comparable's price is moved by the
    /// ratio of the candidate's condition to its own (unknown conditions move nothing).
    pub condition_value: ConditionValues,
    /// Comparables more than this many robust standard deviations (1.4826 × MAD, in log
    /// price) from the median are outliers and dropped.
    pub outlier_sigmas: f64,
    /// The centre that becomes the value.
    pub estimator: Estimator,
    /// The conservative value is the estimate less this many standard errors.
    pub conservative_z: f64,
    /// Floor on the log-price standard deviation used for the standard error (a handful of
    /// identical comparables does not make the value certain).
    pub min_sigma: f64,
    /// The margin on the resale price we keep at the ceiling, in basis points.
    pub target_margin_bp: i64,
    /// The least profit worth a purchase, in minor units.
    pub min_profit_minor: i64,
    /// Pursue when the asking price is at most the ceiling plus this share of it (sellers
    /// come down), in basis points.
    pub negotiation_headroom_bp: i64,
    /// The opening offer is this far below the asking price (or the ceiling, when the
    /// asking price is above it), in basis points.
    pub opening_discount_bp: i64,
    /// Pay the asking price outright when the margin at asking is at least this many times
    /// the target margin (a deep bargain goes to the fastest buyer).
    pub pay_asking_margin_multiple: f64,
    /// Pass when the risk score (0..=1) is above this.
    pub max_risk: f64,
    /// Asking prices above this (minor units) are passed as implausible or out of scope;
    /// comparables above twice it are set aside.
    pub max_asking_minor: i64,
    /// The most we may pay for one item (the operator's `policy.limits.max_price_per_item`),
    /// in minor units: the ceiling never goes above it, so no seller is talked into a deal
    /// the gate would not let us buy.
    pub max_price_minor: Option<i64>,
    /// Categories we never buy to resell (e.g. housing).
    pub unsellable_categories: Vec<String>,
    /// Words in a title that raise the risk (broken, for parts, …); matched lowercase.
    pub red_flags: Vec<String>,
    /// The channels we resell on, with their fees; the best net one is chosen.
    pub channels: Vec<ChannelTerms>,
    /// Parcel costs per category.
    pub shipping: ShippingTable,
    /// Days to sell per category at market value.
    pub days_to_sell: DaysTable,
    /// How risky buying on each source marketplace is (0..=1).
    pub platform_risk: PlatformRisk,
    /// How the risk factors add up.
    pub risk_weights: RiskWeights,
    /// The seed's scoring numbers.
    pub seed: SeedScoring,
    /// How a listing's asking price is set.
    pub listing_price: ListingPrice,
    /// With [`ListingPrice::Quote`], the asking price is the quote plus this share of it, in
    /// basis points: room for a buyer who values the item more, for best offers to meet in
    /// the middle and for the repricer to come down from. The floor holds either way.
    pub listing_markup_bp: i64,
}

/// How the Lister prices an item (never below its floor either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingPrice {
    /// Ours: the price the channel's quote gives for the market value (fees, shipping and
    /// days to sell weighed), plus the listing markup.
    Quote,
    /// The naive baseline's: the market value itself (the comparables' centre).
    MarketValue,
}

impl Default for ValuationConfig {
    fn default() -> Self {
        ValuationConfig {
            scoring: Scoring::Default,
            min_comparables: 1,
            min_similarity: 0.5,
            similarity_power: 4.0,
            sold_weight: 3.0,
            asking_weight: 1.0,
            asking_to_sold_permille: 950,
            recency_half_life_days: 45.0,
            unknown_age_weight: 0.8,
            condition_mismatch_weight: 0.7,
            condition_value: ConditionValues::default(),
            outlier_sigmas: 3.0,
            estimator: Estimator::TrimmedMean { trim_permille: 200 },
            conservative_z: 1.28,
            min_sigma: 0.08,
            target_margin_bp: 2_500,
            min_profit_minor: 15_00,
            negotiation_headroom_bp: 1_500,
            opening_discount_bp: 1_500,
            pay_asking_margin_multiple: 1.4,
            max_risk: 0.6,
            max_asking_minor: 5_000_000,
            max_price_minor: None,
            unsellable_categories: vec!["housing".into()],
            red_flags: [
                "broken",
                "for parts",
                "parts only",
                "not working",
                "doesn't work",
                "cracked",
                "icloud",
                "locked",
                "needs repair",
                "salvage",
                "replica",
                "read description",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            channels: ChannelTerms::defaults(),
            shipping: ShippingTable::default(),
            days_to_sell: DaysTable::default(),
            platform_risk: PlatformRisk::default(),
            risk_weights: RiskWeights::default(),
            seed: SeedScoring::default(),
            listing_price: ListingPrice::Quote,
            listing_markup_bp: 2_000,
        }
    }
}

impl ValuationConfig {
    /// Whether `category` is one we never resell.
    pub fn is_unsellable(&self, category: &str) -> bool {
        self.unsellable_categories
            .iter()
            .any(|c| c.eq_ignore_ascii_case(category))
    }
}

/// What each condition is worth relative to new, in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionValues {
    pub new: i64,
    pub like_new: i64,
    pub good: i64,
    pub fair: i64,
    pub poor: i64,
    pub for_parts: i64,
}

impl Default for ConditionValues {
    fn default() -> Self {
        ConditionValues {
            new: 1_000,
            like_new: 900,
            good: 800,
            fair: 650,
            poor: 450,
            for_parts: 250,
        }
    }
}

impl ConditionValues {
    /// The factor for `condition`, `None` when the condition is unknown.
    pub fn permille(&self, condition: Condition) -> Option<i64> {
        let value = match condition {
            Condition::New => self.new,
            Condition::LikeNew => self.like_new,
            Condition::Good => self.good,
            Condition::Fair => self.fair,
            Condition::Poor => self.poor,
            Condition::ForParts => self.for_parts,
            Condition::Unknown => return None,
        };
        (value > 0).then_some(value)
    }
}

/// A place and way we resell: a marketplace, and for Facebook whether shipped or local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResaleChannel {
    /// eBay, shipped.
    Ebay,
    /// Poshmark, shipped with the buyer's prepaid label.
    Poshmark,
    /// Mercari, shipped.
    Mercari,
    /// Facebook Marketplace with shipping.
    FacebookShipped,
    /// Facebook Marketplace, local pickup.
    FacebookLocal,
    /// Craigslist, local pickup.
    Craigslist,
}

impl ResaleChannel {
    /// The marketplace the channel is on.
    pub fn marketplace(self) -> Marketplace {
        match self {
            ResaleChannel::Ebay => Marketplace::Ebay,
            ResaleChannel::Poshmark => Marketplace::Poshmark,
            ResaleChannel::Mercari => Marketplace::Mercari,
            ResaleChannel::FacebookShipped | ResaleChannel::FacebookLocal => Marketplace::Facebook,
            ResaleChannel::Craigslist => Marketplace::Craigslist,
        }
    }

    /// Lowercase name, as in config.
    pub fn name(self) -> &'static str {
        match self {
            ResaleChannel::Ebay => "ebay",
            ResaleChannel::Poshmark => "poshmark",
            ResaleChannel::Mercari => "mercari",
            ResaleChannel::FacebookShipped => "facebook_shipped",
            ResaleChannel::FacebookLocal => "facebook_local",
            ResaleChannel::Craigslist => "craigslist",
        }
    }
}

/// One resale channel's terms: its fees, whether it ships, and how it sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTerms {
    /// Which channel.
    pub channel: ResaleChannel,
    /// Considered at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Commission or final-value fee on the sale total, basis points.
    #[serde(default)]
    pub rate_bp: i64,
    /// Fixed fee per order, minor units.
    #[serde(default)]
    pub per_order_minor: i64,
    /// Payment processing on the sale total, basis points.
    #[serde(default)]
    pub payment_rate_bp: i64,
    /// Fixed payment processing fee per order, minor units.
    #[serde(default)]
    pub payment_per_order_minor: i64,
    /// The fee is never less than this (when any fee applies), minor units.
    #[serde(default)]
    pub min_fee_minor: i64,
    /// Sales below this total pay `flat_fee_minor` instead of the rate and per-order fee
    /// (0 = never).
    #[serde(default)]
    pub flat_fee_below_minor: i64,
    /// The flat fee for small sales, minor units.
    #[serde(default)]
    pub flat_fee_minor: i64,
    /// Sold by local pickup: no shipping, and possible for local-only categories.
    #[serde(default)]
    pub local: bool,
    /// The buyer pays postage (a prepaid label), so shipping costs us nothing.
    #[serde(default)]
    pub buyer_pays_shipping: bool,
    /// Share of the market value a sale here realizes, in thousandths.
    #[serde(default = "thousand")]
    pub price_permille: i64,
    /// Days to sell here relative to the category's, in thousandths.
    #[serde(default = "thousand")]
    pub days_permille: i64,
    /// Only these categories sell here (empty: all).
    #[serde(default)]
    pub categories: Vec<String>,
}

fn yes() -> bool {
    true
}

fn thousand() -> i64 {
    1_000
}

impl ChannelTerms {
    fn new(channel: ResaleChannel) -> ChannelTerms {
        ChannelTerms {
            channel,
            enabled: true,
            rate_bp: 0,
            per_order_minor: 0,
            payment_rate_bp: 0,
            payment_per_order_minor: 0,
            min_fee_minor: 0,
            flat_fee_below_minor: 0,
            flat_fee_minor: 0,
            local: false,
            buyer_pays_shipping: false,
            price_permille: 1_000,
            days_permille: 1_000,
            categories: Vec::new(),
        }
    }

    /// The shipped defaults (see the module's table).
    pub fn defaults() -> Vec<ChannelTerms> {
        vec![
            ChannelTerms {
                rate_bp: 1_325,
                per_order_minor: 30,
                ..ChannelTerms::new(ResaleChannel::Ebay)
            },
            ChannelTerms {
                rate_bp: 1_000,
                payment_rate_bp: 290,
                payment_per_order_minor: 50,
                ..ChannelTerms::new(ResaleChannel::Mercari)
            },
            ChannelTerms {
                rate_bp: 2_000,
                flat_fee_below_minor: 15_00,
                flat_fee_minor: 2_95,
                buyer_pays_shipping: true,
                // buyers pay postage on top, so the item itself fetches a bit less
                price_permille: 950,
                categories: [
                    "clothing",
                    "shoes",
                    "accessories",
                    "bags",
                    "jewelry",
                    "beauty",
                ]
                .into_iter()
                .map(String::from)
                .collect(),
                ..ChannelTerms::new(ResaleChannel::Poshmark)
            },
            ChannelTerms {
                rate_bp: 1_000,
                min_fee_minor: 80,
                days_permille: 1_200,
                ..ChannelTerms::new(ResaleChannel::FacebookShipped)
            },
            ChannelTerms {
                local: true,
                // local buyers haggle and there are fewer of them
                price_permille: 850,
                days_permille: 1_500,
                ..ChannelTerms::new(ResaleChannel::FacebookLocal)
            },
            ChannelTerms {
                local: true,
                price_permille: 800,
                days_permille: 2_000,
                ..ChannelTerms::new(ResaleChannel::Craigslist)
            },
        ]
    }

    /// Whether the channel sells items of `category`.
    pub fn sells(&self, category: &str) -> bool {
        self.enabled
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(category)))
    }
}

/// What a parcel costs per category, and which categories only sell locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShippingTable {
    /// Parcel cost per category, minor units.
    pub by_category: BTreeMap<String, i64>,
    /// Parcel cost for any other category, minor units.
    pub default_minor: i64,
    /// Categories too big or awkward to ship: local sale only.
    pub local_only: Vec<String>,
}

impl Default for ShippingTable {
    fn default() -> Self {
        let by_category = [
            ("phone", 8_00),
            ("electronics", 14_00),
            ("clothing", 8_00),
            ("shoes", 12_00),
            ("accessories", 6_00),
            ("books", 5_00),
            ("toys", 12_00),
        ]
        .into_iter()
        .map(|(c, m)| (c.to_string(), m))
        .collect();
        ShippingTable {
            by_category,
            default_minor: 18_00,
            local_only: ["furniture", "car", "bike", "housing", "appliances"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

impl ShippingTable {
    /// The parcel cost for `category`, `None` when it only sells locally.
    pub fn parcel_minor(&self, category: &str) -> Option<i64> {
        if self
            .local_only
            .iter()
            .any(|c| c.eq_ignore_ascii_case(category))
        {
            return None;
        }
        let cost = self
            .by_category
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(category))
            .map_or(self.default_minor, |(_, m)| *m);
        Some(cost.max(0))
    }
}

/// Days to sell at market value, per category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaysTable {
    /// Days per category.
    pub by_category: BTreeMap<String, u32>,
    /// Days for any other category.
    pub default_days: u32,
}

impl Default for DaysTable {
    fn default() -> Self {
        let by_category = [
            ("phone", 7),
            ("electronics", 10),
            ("clothing", 21),
            ("bike", 14),
            ("furniture", 21),
            ("car", 30),
        ]
        .into_iter()
        .map(|(c, d)| (c.to_string(), d))
        .collect();
        DaysTable {
            by_category,
            default_days: 14,
        }
    }
}

impl DaysTable {
    /// The days for `category`.
    pub fn days(&self, category: &str) -> u32 {
        self.by_category
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(category))
            .map_or(self.default_days, |(_, d)| *d)
            .max(1)
    }
}

/// How risky buying on each marketplace is (no-shows, scams, no buyer protection), 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformRisk {
    /// eBay (buyer protection).
    pub ebay: f64,
    /// Craigslist (cash, strangers, no protection).
    pub craigslist: f64,
    /// Facebook Marketplace.
    pub facebook: f64,
    /// Poshmark (buyer protection).
    pub poshmark: f64,
    /// Mercari (buyer protection).
    pub mercari: f64,
}

impl Default for PlatformRisk {
    fn default() -> Self {
        PlatformRisk {
            ebay: 0.1,
            craigslist: 0.4,
            facebook: 0.3,
            poshmark: 0.1,
            mercari: 0.15,
        }
    }
}

impl PlatformRisk {
    /// The risk of buying on `marketplace`.
    pub fn of(&self, marketplace: Marketplace) -> f64 {
        match marketplace {
            Marketplace::Ebay => self.ebay,
            Marketplace::Craigslist => self.craigslist,
            Marketplace::Facebook => self.facebook,
            Marketplace::Poshmark => self.poshmark,
            Marketplace::Mercari => self.mercari,
        }
    }
}

/// How much each risk factor (each 0..=1) adds to the risk score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskWeights {
    /// Few comparables (effective count below `enough_comparables`).
    pub few_comparables: f64,
    /// The effective number of comparables that counts as plenty.
    pub enough_comparables: f64,
    /// Scattered comparables (interquartile range relative to the value).
    pub scattered: f64,
    /// The relative interquartile range that counts as fully scattered.
    pub scattered_at: f64,
    /// No sold prices among the comparables, only asking prices.
    pub no_sold: f64,
    /// The seller (unknown, unreliable; a business seller counts half).
    pub seller: f64,
    /// The source marketplace.
    pub platform: f64,
    /// Too good to be true (asking far below value).
    pub too_good: f64,
    /// Asking below this share of the value is fully too good to be true, in thousandths
    /// (the factor rises from zero at 200 thousandths above it).
    pub too_good_below_permille: i64,
    /// A red-flag word in the title, or a poor / for-parts condition.
    pub red_flag: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            few_comparables: 0.25,
            enough_comparables: 10.0,
            scattered: 0.25,
            scattered_at: 0.6,
            no_sold: 0.1,
            seller: 0.1,
            platform: 0.15,
            too_good: 0.35,
            too_good_below_permille: 250,
            red_flag: 0.5,
        }
    }
}

/// The seed's scoring: weights of the normalized components, and what "full marks" means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedScoring {
    /// Weight of the margin at the asking price.
    pub margin: f64,
    /// Weight of demand (how fast it sells).
    pub demand: f64,
    /// Weight of low risk.
    pub risk: f64,
    /// Weight of freshness (how recently it was posted).
    pub freshness: f64,
    /// Pursue at or above this score.
    pub threshold: f64,
    /// A margin this large (basis points) scores full marks.
    pub margin_full_bp: i64,
    /// Demand scores zero at this many days to sell.
    pub demand_zero_days: f64,
    /// Freshness halves every this many hours since posting.
    pub freshness_half_life_hours: f64,
}

impl Default for SeedScoring {
    fn default() -> Self {
        SeedScoring {
            margin: 0.4,
            demand: 0.3,
            risk: 0.2,
            freshness: 0.1,
            threshold: 0.6,
            margin_full_bp: 5_000,
            demand_zero_days: 60.0,
            freshness_half_life_hours: 48.0,
        }
    }
}
