//! A language model's reading of a seller's reply, taken as advice and never as fact.
//!
//! The rule-based [`understand`](super::understand) reading decides. A model is asked only
//! when that reading is unsure (below [`SECOND_OPINION_BELOW`]), and its answer counts only
//! if every price it names is one the rule reader itself finds in the text: a model cannot
//! put a number into a negotiation that the seller did not write.
//!
//! ```
//! use bazaar_model::Money;
//! use bazaar_strategies::understand::second_opinion::{reconcile, LlmReading, Verdict};
//! use bazaar_strategies::understand::{understand, Intent, Reply};
//!
//! let reply = Reply {
//!     text: "hmm 80",
//!     listing_price: Money::usd(100_00),
//!     our_last_offer: Some(Money::usd(60_00)),
//! };
//! let rule = understand(&reply);
//! assert!(rule.confidence < 0.75);
//!
//! // the model agrees with the reader: sure enough to act on
//! let agrees = LlmReading { intent: Intent::Counter, price: Some(Money::usd(80_00)) };
//! let kept = reconcile(&rule, &agrees, &reply);
//! assert_eq!(kept.verdict, Verdict::Agrees);
//! assert!(kept.reading.confidence >= 0.75);
//!
//! // a price the seller never wrote is thrown away with the whole opinion
//! let invented = LlmReading { intent: Intent::Counter, price: Some(Money::usd(75_00)) };
//! let kept = reconcile(&rule, &invented, &reply);
//! assert_eq!(kept.verdict, Verdict::PriceNotInText { price: Money::usd(75_00) });
//! assert_eq!(kept.reading, rule);
//! ```

use std::fmt;
use std::str::FromStr;

use bazaar_model::Money;

use super::amounts::{amounts, Context, Role};
use super::{from_hundredths, to_hundredths, tokens, Intent, Reading, Reply, PROCEED_AT};

/// Rule readings less sure than this may get a second opinion; surer ones never do.
pub const SECOND_OPINION_BELOW: f64 = PROCEED_AT;

/// The confidence of a model reading that differs from an unsure rule reading: in the band
/// where the negotiation asks the seller a clarifying question, never acts on it.
pub const DIFFERS_CONFIDENCE: f64 = 0.55;

/// What a model says a reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmReading {
    /// The intent the model read.
    pub intent: Intent,
    /// The total price the model read, in the listing's currency.
    pub price: Option<Money>,
}

/// How a second opinion was weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The rule reading was sure enough; the opinion was not used.
    RuleSure,
    /// The model named a price the text does not state: the opinion is discarded.
    PriceNotInText {
        /// The price the model named.
        price: Money,
    },
    /// The model read a counter-offer without a price: nothing to act on, discarded.
    NoPrice,
    /// The model read what the rules read: the reading is surer.
    Agrees,
    /// The model read something else, with a price the text states: its reading replaces
    /// the unsure rule reading, at a confidence that asks the seller before acting.
    Differs,
}

impl Verdict {
    /// Whether the opinion changed the reading.
    pub fn used(self) -> bool {
        matches!(self, Verdict::Agrees | Verdict::Differs)
    }

    /// A short lowercase name for logs: `"rule_sure"`, `"price_not_in_text"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::RuleSure => "rule_sure",
            Verdict::PriceNotInText { .. } => "price_not_in_text",
            Verdict::NoPrice => "no_price",
            Verdict::Agrees => "agrees",
            Verdict::Differs => "differs",
        }
    }
}

/// The reading to act on, and how the opinion was weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconciled {
    /// The reading to act on.
    pub reading: Reading,
    /// Why it is what it is.
    pub verdict: Verdict,
}

/// An intent name the model did not use correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownIntent(pub String);

impl fmt::Display for UnknownIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown intent {:?}: expected accept, counter, reject, question or other",
            self.0
        )
    }
}

impl std::error::Error for UnknownIntent {}

impl FromStr for Intent {
    type Err = UnknownIntent;

    /// The names of [`Intent::as_str`], in any case, surrounding spaces ignored.
    fn from_str(text: &str) -> Result<Intent, UnknownIntent> {
        match text.trim().to_ascii_lowercase().as_str() {
            "accept" => Ok(Intent::Accept),
            "counter" => Ok(Intent::Counter),
            "reject" => Ok(Intent::Reject),
            "question" => Ok(Intent::Question),
            "other" => Ok(Intent::Other),
            _ => Err(UnknownIntent(text.to_string())),
        }
    }
}

/// Every price the rule reader finds in the reply as the seller's own, the buyer's number,
/// or a derived one ("$20 off" the asking): the prices a reading may point to. Prices of
/// other things ("I paid 300") and numbers that are not prices (years, model numbers,
/// mileage, phone numbers, …) are left out.
pub fn stated_prices(reply: &Reply<'_>) -> Vec<Money> {
    let currency = reply.listing_price.currency;
    let context = Context {
        listing: to_hundredths(reply.listing_price),
        last_offer: reply
            .our_last_offer
            .filter(|offer| offer.currency == currency)
            .map(to_hundredths),
    };
    let tokens = tokens::tokenize(super::readable_part(reply.text));
    let mut prices: Vec<Money> = amounts(&tokens, context)
        .iter()
        .filter(|a| a.role != Role::Reference)
        .map(|a| from_hundredths(a.hundredths, currency))
        .collect();
    prices.dedup();
    prices
}

/// Weighs a model's reading of `reply` against the rule reading `rule`.
///
/// - A rule reading at or above [`SECOND_OPINION_BELOW`] stands ([`Verdict::RuleSure`]).
/// - The model's price must be one of [`stated_prices`], or, for an acceptance, our own last
///   offer (what "ok, deal" agrees to without restating it); otherwise the whole opinion is
///   discarded ([`Verdict::PriceNotInText`]). A counter without a price is discarded too.
/// - Agreement (same intent, same price) makes the reading surer: halfway from the rule's
///   confidence to certainty ([`Verdict::Agrees`]).
/// - Disagreement replaces the unsure rule reading with the model's, at
///   [`DIFFERS_CONFIDENCE`], so the negotiation asks the seller rather than acts
///   ([`Verdict::Differs`]).
pub fn reconcile(rule: &Reading, llm: &LlmReading, reply: &Reply<'_>) -> Reconciled {
    let keep = |verdict: Verdict| Reconciled {
        reading: *rule,
        verdict,
    };
    if rule.confidence >= SECOND_OPINION_BELOW {
        return keep(Verdict::RuleSure);
    }
    let ours = reply.our_last_offer;
    let price = match (llm.intent, llm.price) {
        (Intent::Accept, None) => ours,
        (_, price) => price,
    };
    if let Some(price) = price {
        let own_offer = llm.intent == Intent::Accept && Some(price) == ours;
        if !own_offer && !stated_prices(reply).contains(&price) {
            return keep(Verdict::PriceNotInText { price });
        }
    }
    if llm.intent == Intent::Counter && price.is_none() {
        return keep(Verdict::NoPrice);
    }
    if llm.intent == rule.intent && price == rule.price {
        let mut reading = *rule;
        reading.confidence = rule.confidence + (1.0 - rule.confidence) / 2.0;
        return Reconciled {
            reading,
            verdict: Verdict::Agrees,
        };
    }
    Reconciled {
        reading: Reading {
            intent: llm.intent,
            reason: None,
            price,
            confidence: DIFFERS_CONFIDENCE,
        },
        verdict: Verdict::Differs,
    }
}
