//! Valuing a listing against comparable items, and deciding whether to pursue it.
//!
//! ```
//! use bazaar_model::{Condition, Marketplace, Money, PriceKind};
//! use bazaar_strategies::valuation::{analyze, Candidate, Comp, Decision, ValuationConfig};
//! use chrono::Utc;
//!
//! let now = Utc::now();
//! let candidate = Candidate::new("iPhone 12 64GB", "phone", Money::usd(150_00), Marketplace::Craigslist);
//! let comps: Vec<Comp> = [300, 310, 290, 305, 295, 320]
//!     .iter()
//!     .map(|d| Comp::new(Money::usd(d * 100), PriceKind::Sold, 1.0))
//!     .collect();
//! let analysis = analyze(&candidate, &comps, &ValuationConfig::default(), now);
//! let value = analysis.value.expect("six comparables are enough");
//! assert!(Money::usd(295_00) < value && value < Money::usd(310_00));
//! let Decision::Pursue { ceiling, .. } = analysis.decision else { panic!("{:?}", analysis.decision) };
//! assert!(ceiling >= candidate.asking);
//! ```
//!
//! Pure and total: [`analyze`] gives an [`Analysis`] for every input, with a
//! [`Decision`] — a pass and its reason, or pursue with a ceiling, a negotiation hint and a
//! confidence. Nothing here does I/O or reads a clock.
//!
//! How the value is found:
//! 1. comparables in another currency, with no positive price or one above twice the
//!    asking-price limit, or less similar than `min_similarity` are set aside (and counted);
//! 2. each price is moved to the candidate's condition (by the ratio of condition values;
//!    unknown conditions move nothing), asking prices are scaled down to stand for sold
//!    prices, and each gets a weight: similarity to the power `similarity_power`, × `sold_weight` for sold prices, ×
//!    recency (a half-life), × `condition_mismatch_weight` for another condition;
//! 3. in log price, comparables further than `outlier_sigmas` robust standard deviations
//!    (1.4826 × weighted MAD) from the weighted median are dropped;
//! 4. fewer than `min_comparables` left is a cold start: no value, a pass saying so, and
//!    [`Analysis::needs_comparables`] tells the caller that searching for more could help;
//! 5. the value is the weighted trimmed mean (or median) of what is left; the spread is the
//!    weighted interquartile range; the conservative value is the value less `conservative_z`
//!    standard errors (σ / √effective count).
//!
//! Then every configured resale channel is quoted at the value (fees, shipping, days to
//! sell) and the one that keeps the most is chosen; profit, margin and ROI are at the asking
//! price. The ceiling — the most we pay and keep the target margin — uses the conservative
//! value with [`Scoring::Default`] (never above value − fees − shipping − target margin),
//! and the value itself with [`Scoring::Seed`].

mod channels;
mod config;
mod stats;

use bazaar_model::{
    Comparable, Condition, Currency, MarketListing, Marketplace, Money, PriceKind, Valuation,
};
use chrono::{DateTime, Utc};

pub(crate) use channels::share_bp;
pub use channels::{best, fee_minor, quote, quotes, terms, ChannelQuote};
pub use config::{
    ChannelTerms, ConditionValues, DaysTable, Estimator, ListingPrice, PlatformRisk, ResaleChannel,
    RiskWeights, Scoring, SeedScoring, ShippingTable, ValuationConfig,
};

use channels::share;
use stats::{Point, Sample};

/// What we know of a seller besides the listing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SellerSignals {
    /// A shop or dealer: priced at market, rarely a bargain, but dependable.
    pub business: bool,
    /// How reliable they proved in past dealings (deals honoured / deals agreed), 0..=1;
    /// `None` when we have not dealt with them.
    pub reliability: Option<f64>,
}

/// The listing being valued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate<'a> {
    /// Title as listed (red-flag words raise the risk).
    pub title: &'a str,
    /// Normalized category (`"electronics"`).
    pub category: &'a str,
    /// Normalized condition.
    pub condition: Condition,
    /// Asking price; its currency is the analysis's currency.
    pub asking: Money,
    /// Where it is listed.
    pub marketplace: Marketplace,
    /// When it was posted, if known (freshness).
    pub posted_at: Option<DateTime<Utc>>,
    /// What we know of the seller.
    pub seller: SellerSignals,
}

impl<'a> Candidate<'a> {
    /// A candidate in unknown condition, posting time unknown, seller unknown.
    pub fn new(
        title: &'a str,
        category: &'a str,
        asking: Money,
        marketplace: Marketplace,
    ) -> Candidate<'a> {
        Candidate {
            title,
            category,
            condition: Condition::Unknown,
            asking,
            marketplace,
            posted_at: None,
            seller: SellerSignals::default(),
        }
    }

    /// The candidate a normalized listing describes (posted when listed, or when first seen).
    pub fn from_listing(listing: &'a MarketListing) -> Candidate<'a> {
        Candidate {
            title: &listing.title,
            category: &listing.category,
            condition: listing.condition,
            asking: listing.price,
            marketplace: listing.marketplace,
            posted_at: listing.listed_at.or(Some(listing.first_seen)),
            seller: SellerSignals::default(),
        }
    }
}

/// A comparable item's price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comp {
    pub price: Money,
    /// Sold or asked.
    pub kind: PriceKind,
    /// How similar to the candidate, 0..=1 (1 = the same thing).
    pub similarity: f64,
    /// Its condition.
    pub condition: Condition,
    /// When the price was seen, if known (recency).
    pub observed_at: Option<DateTime<Utc>>,
}

impl Comp {
    /// A comparable in unknown condition, observation time unknown.
    pub fn new(price: Money, kind: PriceKind, similarity: f64) -> Comp {
        Comp {
            price,
            kind,
            similarity,
            condition: Condition::Unknown,
            observed_at: None,
        }
    }

    /// The comparables the index found for a listing titled `title`. Similarity is each
    /// score over the best score (the index's scores only compare within one query) times
    /// how much of the two titles' words they share ([`title_overlap`]): the best hit is
    /// only "the same thing" when its title says what the listing's does. A sold item
    /// counts with its sold price, any other with its asking price; items with neither are
    /// left out.
    pub fn from_index(title: &str, found: &[Comparable]) -> Vec<Comp> {
        let words = title_words(title);
        let best = found
            .iter()
            .map(|c| c.score)
            .filter(|s| s.is_finite())
            .fold(0.0f32, f32::max);
        found
            .iter()
            .filter_map(|c| {
                let (price, kind) = match (c.sold, c.asking) {
                    (Some(sold), _) => (sold, PriceKind::Sold),
                    (None, Some(asking)) => (asking, PriceKind::Asking),
                    (None, None) => return None,
                };
                let similarity = if best > 0.0 {
                    f64::from(c.score / best) * overlap(&words, &title_words(&c.title))
                } else {
                    0.0
                };
                Some(Comp {
                    price,
                    kind,
                    similarity,
                    condition: condition_named(&c.condition),
                    observed_at: None,
                })
            })
            .collect()
    }
}

/// How much two titles share: the Dice coefficient of their sets of words (lowercase
/// letters and digits), 0..=1; 1 when they have the same words in any order or case.
///
/// ```
/// use bazaar_strategies::valuation::title_overlap;
/// assert_eq!(title_overlap("iPhone 6 Plus", "IPHONE 6 plus!"), 1.0);
/// assert_eq!(title_overlap("iphone 6", "iphone 6 plus 16gb"), 2.0 * 2.0 / 6.0);
/// assert_eq!(title_overlap("sofa", ""), 0.0);
/// ```
pub fn title_overlap(a: &str, b: &str) -> f64 {
    overlap(&title_words(a), &title_words(b))
}

/// A title's distinct words, lowercase, sorted.
fn title_words(title: &str) -> Vec<String> {
    let mut words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// The Dice coefficient of two sorted, deduplicated word lists.
fn overlap(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.iter().filter(|w| b.binary_search(w).is_ok()).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// The condition an index document names, `Unknown` for anything else.
fn condition_named(name: &str) -> Condition {
    [
        Condition::New,
        Condition::LikeNew,
        Condition::Good,
        Condition::Fair,
        Condition::Poor,
        Condition::ForParts,
    ]
    .into_iter()
    .find(|c| c.name() == name)
    .unwrap_or(Condition::Unknown)
}

/// How the comparables were used.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ComparablesUsed {
    /// How many the value rests on.
    pub used: u32,
    /// How many of those are sold prices.
    pub sold: u32,
    /// Kish's effective count of the weights ((Σw)² / Σw²).
    pub effective: f64,
    /// Dropped as outliers.
    pub outliers: u32,
    /// Set aside: another currency.
    pub other_currency: u32,
    /// Set aside: no positive price, or more than twice the asking-price limit.
    pub implausible_price: u32,
    /// Set aside: less similar than `min_similarity`.
    pub dissimilar: u32,
}

/// How scattered the comparables are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// The weighted interquartile range of the (condition-adjusted) prices.
    pub iqr: Money,
    /// The interquartile range relative to the value, basis points.
    pub iqr_bp: i64,
    /// The weighted median absolute deviation relative to the value, basis points.
    pub mad_bp: i64,
}

/// The risk score and the factors it adds up (each 0..=1; see [`RiskWeights`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Risk {
    /// The weighted sum of the factors, capped at 1.
    pub score: f64,
    pub few_comparables: f64,
    /// Scattered comparables.
    pub scattered: f64,
    /// Asking prices only, no sold ones.
    pub no_sold: f64,
    /// The seller: unknown or unreliable.
    pub seller: f64,
    /// The marketplace we would buy on.
    pub platform: f64,
    /// The asking price is far below the value.
    pub too_good: f64,
    /// A red-flag word in the title, or a poor or for-parts condition.
    pub red_flag: f64,
}

/// How to open the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegotiationHint {
    /// A deep but plausible bargain: offer the asking price at once (haggling risks losing
    /// it to a faster buyer).
    PayAsking,
    /// The asking price is within the ceiling: open at `opening`, concede toward the asking
    /// price.
    Haggle {
        /// The first offer.
        opening: Money,
    },
    /// The asking price is above the ceiling: open at `opening`, go no higher than the
    /// ceiling, and walk away above it.
    BelowAsking {
        /// The first offer.
        opening: Money,
    },
}

/// Why we pass.
#[derive(Debug, Clone, PartialEq)]
pub enum PassReason {
    /// The asking price is zero or negative: no real price to act on.
    NoAskingPrice,
    /// The asking price is above the configured limit.
    AskingAboveLimit { limit: Money },
    /// Even a hard bargain would cost more than we may pay for one item.
    OverPriceCap {
        /// The most we may pay for one item.
        cap: Money,
    },
    /// We do not resell this category.
    UnsellableCategory { category: String },
    /// Too few comparables to value it (cold start).
    TooFewComparables {
        /// How many were usable.
        found: u32,
        /// How many are needed.
        needed: u32,
    },
    /// No enabled channel sells the category (e.g. local-only items with only shipped
    /// channels).
    NoChannel { category: String },
    /// Even at a price of zero the target margin is out of reach.
    NoProfit,
    /// The asking price leaves less than the target margin, beyond negotiation headroom.
    MarginBelowTarget {
        /// The margin at the asking price, basis points.
        margin_bp: i64,
        /// The target, basis points.
        target_bp: i64,
    },
    /// The risk is above the cap.
    TooRisky {
        /// The risk score.
        risk: f64,
        /// The cap.
        max: f64,
    },
    /// The seed's score is below its threshold.
    ScoreBelowThreshold { score: f64, threshold: f64 },
}

impl std::fmt::Display for PassReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassReason::NoAskingPrice => f.write_str("no asking price (zero or negative)"),
            PassReason::AskingAboveLimit { limit } => {
                write!(f, "asking price above the {limit} limit")
            }
            PassReason::OverPriceCap { cap } => write!(
                f,
                "out of reach: we may pay at most {cap} for one item (policy.limits.max_price_per_item)"
            ),
            PassReason::UnsellableCategory { category } => {
                write!(f, "we do not resell {category}")
            }
            PassReason::TooFewComparables { found, needed } => {
                write!(f, "too few comparables ({found} of {needed})")
            }
            PassReason::NoChannel { category } => {
                write!(f, "no enabled resale channel sells {category}")
            }
            PassReason::NoProfit => f.write_str("no profit after fees and shipping"),
            PassReason::MarginBelowTarget {
                margin_bp,
                target_bp,
            } => write!(
                f,
                "margin below target ({} at asking, target {})",
                percent(*margin_bp),
                percent(*target_bp)
            ),
            PassReason::TooRisky { risk, max } => write!(f, "too risky ({risk:.2} > {max:.2})"),
            PassReason::ScoreBelowThreshold { score, threshold } => {
                write!(f, "score below threshold ({score:.2} < {threshold:.2})")
            }
        }
    }
}

fn percent(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let bp = bp.unsigned_abs();
    format!("{sign}{}.{}%", bp / 100, (bp % 100) / 10)
}

/// What to do with the listing.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Leave it, and record why.
    Pass {
        /// Why.
        reason: PassReason,
    },
    /// Go after it.
    Pursue {
        /// The most we pay and keep the target margin.
        ceiling: Money,
        /// How to open.
        strategy: NegotiationHint,
        /// How sure we are, 0..=1.
        confidence: f64,
    },
}

impl Decision {
    /// Whether it is a pursue.
    pub fn is_pursue(&self) -> bool {
        matches!(self, Decision::Pursue { .. })
    }
}

/// Everything the analyzer worked out about one listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The estimated market value (what it sells for); `None` on a cold start.
    pub value: Option<Money>,
    /// The value less its uncertainty; `None` on a cold start.
    pub conservative_value: Option<Money>,
    /// How the comparables were used.
    pub comparables: ComparablesUsed,
    /// How scattered they are; `None` on a cold start.
    pub spread: Option<Spread>,
    /// The best resale channel at the value (fees, shipping, net, days).
    pub channel: Option<ChannelQuote>,
    /// Every channel that can sell it, in configuration order.
    pub channels: Vec<ChannelQuote>,
    /// Expected days to sell on the best channel.
    pub days_to_sell: Option<u32>,
    /// Profit at the asking price: net on the best channel − asking.
    pub profit: Option<Money>,
    /// Profit over the resale price, basis points.
    pub margin_bp: Option<i64>,
    /// Profit over the asking price, basis points.
    pub roi_bp: Option<i64>,
    /// The most we would pay and keep the target margin (also computed when passing).
    pub ceiling: Option<Money>,
    /// The risk score and its factors.
    pub risk: Risk,
    /// The scoring's score, 0..=1 (ours: risk-adjusted conservative margin; the seed's:
    /// its weighted sum).
    pub profit_score: f64,
    /// How sure we are of a pursue, 0..=1.
    pub confidence: f64,
    pub decision: Decision,
}

impl Analysis {
    /// Whether the pass is a cold start, where finding more comparables could change it.
    pub fn needs_comparables(&self) -> bool {
        matches!(
            self.decision,
            Decision::Pass {
                reason: PassReason::TooFewComparables { .. }
            }
        )
    }

    /// The record the store keeps for an analyzed opportunity, when there is a value.
    pub fn valuation(&self) -> Option<Valuation> {
        let value = self.value?;
        Some(Valuation {
            market_value: value,
            ceiling: self.ceiling.unwrap_or(Money::zero(value.currency)),
            comparables: self.comparables.used,
            confidence: self.confidence,
        })
    }
}

/// Values `candidate` against `comps` and decides. Never fails: every input gets an
/// analysis, a pass with its reason when nothing better can be said.
pub fn analyze(
    candidate: &Candidate<'_>,
    comps: &[Comp],
    config: &ValuationConfig,
    now: DateTime<Utc>,
) -> Analysis {
    let currency = candidate.asking.currency;
    let (sample, mut used) = weigh(candidate, comps, config, now);
    let estimate = estimate(sample, &mut used, config);
    let mut analysis = Analysis {
        value: None,
        conservative_value: None,
        comparables: used,
        spread: None,
        channel: None,
        channels: Vec::new(),
        days_to_sell: None,
        profit: None,
        margin_bp: None,
        roi_bp: None,
        ceiling: None,
        risk: Risk::default(),
        profit_score: 0.0,
        confidence: 0.0,
        decision: Decision::Pass {
            reason: PassReason::NoAskingPrice,
        },
    };
    let asking = candidate.asking.minor;
    if let Some(estimate) = &estimate {
        price_it(&mut analysis, candidate, estimate, config);
    }
    analysis.risk = risk(candidate, &analysis, estimate.as_ref(), config);
    analysis.confidence = confidence(&analysis, candidate);
    let pass = |reason| Decision::Pass { reason };
    analysis.decision = if asking <= 0 {
        pass(PassReason::NoAskingPrice)
    } else if asking > config.max_asking_minor {
        pass(PassReason::AskingAboveLimit {
            limit: Money::new(config.max_asking_minor, currency),
        })
    } else if config.is_unsellable(candidate.category) {
        pass(PassReason::UnsellableCategory {
            category: candidate.category.to_string(),
        })
    } else if estimate.is_none() {
        pass(PassReason::TooFewComparables {
            found: analysis.comparables.used,
            needed: config.min_comparables.max(1),
        })
    } else if analysis.channel.is_none() {
        pass(PassReason::NoChannel {
            category: candidate.category.to_string(),
        })
    } else {
        match config.scoring {
            Scoring::Default => decide_default(&mut analysis, candidate, config),
            Scoring::Seed => decide_seed(&mut analysis, candidate, config, now),
        }
    };
    analysis
}

/// Sets comparables aside, adjusts and weighs the rest (log prices).
fn weigh(
    candidate: &Candidate<'_>,
    comps: &[Comp],
    config: &ValuationConfig,
    now: DateTime<Utc>,
) -> (Sample, ComparablesUsed) {
    let currency = candidate.asking.currency;
    let mut used = ComparablesUsed::default();
    let target_condition = config.condition_value.permille(candidate.condition);
    let asking_factor = config.asking_to_sold_permille as f64 / 1_000.0;
    let mut points = Vec::with_capacity(comps.len());
    for comp in comps {
        if comp.price.currency != currency {
            used.other_currency += 1;
            continue;
        }
        if comp.price.minor <= 0 || comp.price.minor / 2 > config.max_asking_minor {
            used.implausible_price += 1;
            continue;
        }
        let similarity = if comp.similarity.is_finite() {
            comp.similarity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if similarity <= 0.0 || similarity < config.min_similarity {
            used.dissimilar += 1;
            continue;
        }
        let sold = comp.kind == PriceKind::Sold;
        let mut price = comp.price.minor as f64;
        let mut weight = similarity.powf(config.similarity_power);
        if sold {
            weight *= config.sold_weight;
        } else {
            weight *= config.asking_weight;
            price *= asking_factor;
        }
        if let (Some(ours), Some(theirs)) = (
            target_condition,
            config.condition_value.permille(comp.condition),
        ) {
            price *= ours as f64 / theirs as f64;
            if comp.condition != candidate.condition {
                weight *= config.condition_mismatch_weight;
            }
        }
        weight *= recency(comp.observed_at, now, config);
        points.push(Point {
            x: price.ln(),
            w: weight,
            sold,
        });
    }
    let before = points.len();
    let sample = Sample::new(points);
    // zero weights (e.g. a sold weight of 0 configured) count as not usable
    used.implausible_price += (before - sample.len()) as u32;
    (sample, used)
}

fn recency(observed: Option<DateTime<Utc>>, now: DateTime<Utc>, config: &ValuationConfig) -> f64 {
    let Some(observed) = observed else {
        return config.unknown_age_weight;
    };
    if config.recency_half_life_days <= 0.0 {
        return 1.0;
    }
    let age_days = (now - observed).num_seconds().max(0) as f64 / 86_400.0;
    0.5f64.powf(age_days / config.recency_half_life_days)
}

/// The value and its uncertainty, in log price.
struct Estimate {
    center: f64,
    conservative: f64,
    q25: f64,
    q75: f64,
    mad: f64,
    sold_share: f64,
    effective: f64,
}

fn estimate(
    sample: Sample,
    used: &mut ComparablesUsed,
    config: &ValuationConfig,
) -> Option<Estimate> {
    if sample.is_empty() {
        return None;
    }
    let median = sample.median();
    let sigma = 1.482_6 * sample.mad(median);
    let limit = config.outlier_sigmas.max(0.0) * sigma.max(config.min_sigma);
    let (sample, outliers) = sample.within(median, limit);
    used.outliers = outliers as u32;
    used.used = sample.len() as u32;
    used.sold = sample.points().iter().filter(|p| p.sold).count() as u32;
    used.effective = sample.effective_size();
    if sample.is_empty() || used.used < config.min_comparables.max(1) {
        return None;
    }
    let median = sample.median();
    let center = match config.estimator {
        Estimator::Median => median,
        Estimator::TrimmedMean { trim_permille } => {
            sample.trimmed_mean(f64::from(trim_permille) / 1_000.0)
        }
    };
    let mad = sample.mad(median);
    let sigma = (1.482_6 * mad).max(config.min_sigma);
    let standard_error = sigma / used.effective.max(1.0).sqrt();
    Some(Estimate {
        center,
        conservative: center - config.conservative_z.max(0.0) * standard_error,
        q25: sample.quantile(0.25),
        q75: sample.quantile(0.75),
        mad,
        sold_share: sample.sold_share(),
        effective: used.effective,
    })
}

/// exp(x) in minor units, at least one, saturating.
fn money_of(log_price: f64, currency: Currency) -> Money {
    let minor = log_price.exp().round();
    let minor = if minor.is_nan() {
        1
    } else {
        (minor as i64).max(1)
    };
    Money::new(minor, currency)
}

/// Rounds down to whole currency units (whole dollars): offers people write.
fn whole_units_down(amount: i64, currency: Currency) -> i64 {
    let unit = 10i64.pow(currency.exponent());
    amount.div_euclid(unit) * unit
}

/// Fills in value, spread, channels, profit, margin, ROI and the ceiling.
fn price_it(
    analysis: &mut Analysis,
    candidate: &Candidate<'_>,
    estimate: &Estimate,
    config: &ValuationConfig,
) {
    let currency = candidate.asking.currency;
    let value = money_of(estimate.center, currency);
    let conservative = money_of(estimate.conservative.min(estimate.center), currency);
    analysis.value = Some(value);
    analysis.conservative_value = Some(conservative);
    let iqr = (estimate.q75.exp() - estimate.q25.exp()).max(0.0);
    let relative = |x: f64| -> i64 { (x * 10_000.0).round().clamp(0.0, 1e15) as i64 };
    let value_f = value.minor as f64;
    analysis.spread = Some(Spread {
        iqr: Money::new(iqr.round().min(9e18) as i64, currency),
        iqr_bp: relative(iqr / value_f),
        mad_bp: relative(estimate.mad.exp() - 1.0),
    });
    analysis.channels = quotes(config, candidate.category, value);
    let Some(best) = best(&analysis.channels) else {
        return;
    };
    analysis.channel = Some(best);
    let iqr_share = iqr / value_f;
    let slow_without_sales = if estimate.sold_share < 0.2 { 1.25 } else { 1.0 };
    let days = f64::from(best.days_to_sell) * (1.0 + iqr_share.min(2.0)) * slow_without_sales;
    analysis.days_to_sell = Some(days.round().clamp(1.0, f64::from(u32::MAX)) as u32);

    let asking = candidate.asking.minor;
    let profit = best.net.minor.saturating_sub(asking);
    analysis.profit = Some(Money::new(profit, currency));
    if best.sale_price.minor > 0 {
        analysis.margin_bp = Some(share(profit, 10_000, best.sale_price.minor));
    }
    if asking > 0 {
        analysis.roi_bp = Some(share(profit, 10_000, asking));
    }

    let keep = |quote: &ChannelQuote| -> i64 {
        quote.net.minor.saturating_sub(share(
            quote.sale_price.minor,
            config.target_margin_bp,
            10_000,
        ))
    };
    let at_value = keep(&best);
    let ceiling = match config.scoring {
        Scoring::Seed => at_value,
        Scoring::Default => {
            let at_conservative = terms(config, best.channel)
                .and_then(|t| quote(t, config, candidate.category, conservative))
                .map_or(at_value, |q| {
                    keep(&q).min(q.net.minor.saturating_sub(config.min_profit_minor))
                });
            at_value.min(at_conservative)
        }
    };
    let ceiling = config
        .max_price_minor
        .map_or(ceiling, |cap| ceiling.min(cap));
    analysis.ceiling = Some(Money::new(
        whole_units_down(ceiling, currency).max(0),
        currency,
    ));
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    x.clamp(0.0, 1.0)
}

/// Whether `text` holds `phrase` as whole words, ignoring case and punctuation: "locked"
/// is in "iCloud locked" but not in "unlocked".
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let phrase = words(phrase);
    if phrase.is_empty() {
        return false;
    }
    words(text)
        .windows(phrase.len())
        .any(|w| w == phrase.as_slice())
}

fn risk(
    candidate: &Candidate<'_>,
    analysis: &Analysis,
    estimate: Option<&Estimate>,
    config: &ValuationConfig,
) -> Risk {
    let w = &config.risk_weights;
    let effective = estimate.map_or(0.0, |e| e.effective);
    let few_comparables = if w.enough_comparables > 0.0 {
        clamp01((w.enough_comparables - effective) / w.enough_comparables)
    } else {
        0.0
    };
    let scattered = match (analysis.spread, w.scattered_at > 0.0) {
        (Some(spread), true) => clamp01(spread.iqr_bp as f64 / 10_000.0 / w.scattered_at),
        (None, _) => 1.0,
        (Some(_), false) => 0.0,
    };
    let no_sold = estimate.map_or(1.0, |e| clamp01(1.0 - e.sold_share));
    let seller = candidate
        .seller
        .reliability
        .filter(|r| r.is_finite())
        .map_or(0.5, |r| 1.0 - clamp01(r))
        * if candidate.seller.business { 0.5 } else { 1.0 };
    let platform = clamp01(config.platform_risk.of(candidate.marketplace));
    let too_good = match analysis.value {
        Some(value) if candidate.asking.minor > 0 => {
            let ratio = candidate.asking.minor as f64 / value.minor as f64;
            let full = w.too_good_below_permille as f64 / 1_000.0;
            let start = full + 0.2;
            clamp01((start - ratio) / (start - full))
        }
        _ => 0.0,
    };
    let flagged = config
        .red_flags
        .iter()
        .any(|flag| contains_phrase(candidate.title, flag));
    let red_flag = if flagged || candidate.condition == Condition::ForParts {
        1.0
    } else if candidate.condition == Condition::Poor {
        0.5
    } else {
        0.0
    };
    let score = clamp01(
        w.few_comparables * few_comparables
            + w.scattered * scattered
            + w.no_sold * no_sold
            + w.seller * clamp01(seller)
            + w.platform * platform
            + w.too_good * too_good
            + w.red_flag * red_flag,
    );
    Risk {
        score,
        few_comparables,
        scattered,
        no_sold,
        seller: clamp01(seller),
        platform,
        too_good,
        red_flag,
    }
}

fn confidence(analysis: &Analysis, candidate: &Candidate<'_>) -> f64 {
    if analysis.value.is_none() {
        return 0.0;
    }
    let evidence = 1.0 - (-analysis.comparables.effective / 4.0).exp();
    let within_ceiling = match analysis.ceiling {
        Some(ceiling) if candidate.asking.minor <= ceiling.minor => 1.0,
        Some(_) => 0.75,
        None => 0.5,
    };
    let raw = (1.0 - analysis.risk.score) * evidence * within_ceiling;
    // three decimals: the same inputs print the same confidence everywhere
    (clamp01(raw) * 1_000.0).round() / 1_000.0
}

/// The margin at the asking price on the conservative value, as a share of the sale.
fn conservative_margin(
    analysis: &Analysis,
    candidate: &Candidate<'_>,
    config: &ValuationConfig,
) -> f64 {
    let (Some(channel), Some(conservative)) = (analysis.channel, analysis.conservative_value)
    else {
        return 0.0;
    };
    let Some(quote) = terms(config, channel.channel)
        .and_then(|t| quote(t, config, candidate.category, conservative))
    else {
        return 0.0;
    };
    if quote.sale_price.minor <= 0 {
        return 0.0;
    }
    (quote.net.minor as f64 - candidate.asking.minor as f64) / quote.sale_price.minor as f64
}

fn hint(
    candidate: &Candidate<'_>,
    analysis: &Analysis,
    ceiling: Money,
    margin_share: f64,
    config: &ValuationConfig,
) -> NegotiationHint {
    let currency = ceiling.currency;
    let asking = candidate.asking.minor;
    let target = config.target_margin_bp as f64 / 10_000.0;
    let discounted = |amount: i64| {
        let opening = share(
            amount,
            10_000 - config.opening_discount_bp.clamp(0, 10_000),
            10_000,
        );
        Money::new(whole_units_down(opening, currency).max(0), currency)
    };
    if asking > ceiling.minor {
        return NegotiationHint::BelowAsking {
            opening: discounted(ceiling.minor),
        };
    }
    // a price much too good to be true is asked about, not paid at once
    let plausible = analysis.risk.too_good < 0.5;
    if plausible && target > 0.0 && margin_share >= config.pay_asking_margin_multiple * target {
        return NegotiationHint::PayAsking;
    }
    NegotiationHint::Haggle {
        opening: discounted(asking),
    }
}

fn decide_default(
    analysis: &mut Analysis,
    candidate: &Candidate<'_>,
    config: &ValuationConfig,
) -> Decision {
    let margin_share = conservative_margin(analysis, candidate, config);
    let target = config.target_margin_bp as f64 / 10_000.0;
    analysis.profit_score = if target > 0.0 {
        clamp01(margin_share / (2.0 * target)) * (1.0 - analysis.risk.score)
    } else {
        clamp01(margin_share) * (1.0 - analysis.risk.score)
    };
    let Some(ceiling) = analysis.ceiling.filter(|c| c.minor > 0) else {
        return Decision::Pass {
            reason: PassReason::NoProfit,
        };
    };
    let reachable = share(
        ceiling.minor,
        10_000 + config.negotiation_headroom_bp.max(0),
        10_000,
    );
    if candidate.asking.minor > reachable {
        if let Some(cap) = config.max_price_minor.filter(|cap| ceiling.minor >= *cap) {
            return Decision::Pass {
                reason: PassReason::OverPriceCap {
                    cap: Money::new(cap, ceiling.currency),
                },
            };
        }
        return Decision::Pass {
            reason: PassReason::MarginBelowTarget {
                margin_bp: analysis.margin_bp.unwrap_or(0),
                target_bp: config.target_margin_bp,
            },
        };
    }
    if analysis.risk.score > config.max_risk {
        return Decision::Pass {
            reason: PassReason::TooRisky {
                risk: analysis.risk.score,
                max: config.max_risk,
            },
        };
    }
    Decision::Pursue {
        ceiling,
        strategy: hint(candidate, analysis, ceiling, margin_share, config),
        confidence: analysis.confidence,
    }
}

fn decide_seed(
    analysis: &mut Analysis,
    candidate: &Candidate<'_>,
    config: &ValuationConfig,
    now: DateTime<Utc>,
) -> Decision {
    let seed = &config.seed;
    let margin = if seed.margin_full_bp > 0 {
        clamp01(analysis.margin_bp.unwrap_or(0) as f64 / seed.margin_full_bp as f64)
    } else {
        0.0
    };
    let demand = match analysis.days_to_sell {
        Some(days) if seed.demand_zero_days > 0.0 => {
            clamp01(1.0 - f64::from(days) / seed.demand_zero_days)
        }
        _ => 0.0,
    };
    let low_risk = 1.0 - analysis.risk.score;
    let freshness = match candidate.posted_at {
        Some(posted) if seed.freshness_half_life_hours > 0.0 => {
            let hours = (now - posted).num_seconds().max(0) as f64 / 3_600.0;
            0.5f64.powf(hours / seed.freshness_half_life_hours)
        }
        _ => 0.5,
    };
    let score = seed.margin * margin
        + seed.demand * demand
        + seed.risk * low_risk
        + seed.freshness * freshness;
    analysis.profit_score = score;
    if score < seed.threshold {
        return Decision::Pass {
            reason: PassReason::ScoreBelowThreshold {
                score,
                threshold: seed.threshold,
            },
        };
    }
    let Some(ceiling) = analysis.ceiling.filter(|c| c.minor > 0) else {
        return Decision::Pass {
            reason: PassReason::NoProfit,
        };
    };
    let margin_share = analysis.margin_bp.unwrap_or(0) as f64 / 10_000.0;
    Decision::Pursue {
        ceiling,
        strategy: hint(candidate, analysis, ceiling, margin_share, config),
        confidence: analysis.confidence,
    }
}

#[cfg(test)]
mod phrase_tests {
    use super::contains_phrase;

    #[test]
    fn red_flags_match_whole_words() {
        let cases = [
            ("iPhone 7 unlocked", "locked", false),
            ("iPhone 7 iCloud locked", "locked", true),
            ("Sold for parts only!", "for parts", true),
            ("Doesn't work, sorry", "doesn't work", true),
            ("Partsonly bundle", "parts only", false),
            ("anything", "", false),
        ];
        for (text, phrase, want) in cases {
            assert_eq!(contains_phrase(text, phrase), want, "{text:?} / {phrase:?}");
        }
    }
}
