//! The seed's four buyer personas, the concession strategies, and the choice of both per deal.

use bazaar_model::Money;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// One of the seed's four buyer personas (`../shared/ref/negotiation.md`): how a buyer opens,
/// how far they go, how many rounds they play and how often they follow up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Persona {
    /// A neighbour buying for themselves: patient, warm.
    FriendlyLocal,
    /// A dealer buying from a business: brief, quick.
    ProfessionalBuyer,
    /// Buying fast before a deadline: low opening, few rounds, quick follow-up.
    UrgentCash,
    /// A collector: opens high, patient, several follow-ups.
    Collector,
}

impl Persona {
    /// Every persona, in the seed's order.
    pub const ALL: [Persona; 4] = [
        Persona::FriendlyLocal,
        Persona::ProfessionalBuyer,
        Persona::UrgentCash,
        Persona::Collector,
    ];

    /// The opening offer as thousandths of the asking price.
    pub fn opening_permille(self) -> i64 {
        match self {
            Persona::FriendlyLocal => 700,
            Persona::ProfessionalBuyer => 650,
            Persona::UrgentCash => 600,
            Persona::Collector => 750,
        }
    }

    /// The seed's own ceiling as thousandths of the asking price.
    pub fn max_permille(self) -> i64 {
        match self {
            Persona::FriendlyLocal => 850,
            Persona::ProfessionalBuyer => 800,
            Persona::UrgentCash => 750,
            Persona::Collector => 900,
        }
    }

    /// The seed's step as thousandths of the asking price.
    pub fn step_permille(self) -> i64 {
        match self {
            Persona::UrgentCash => 75,
            _ => 50,
        }
    }

    /// How many offers at most.
    pub fn max_rounds(self) -> u32 {
        match self {
            Persona::FriendlyLocal => 4,
            Persona::ProfessionalBuyer => 3,
            Persona::UrgentCash => 2,
            Persona::Collector => 5,
        }
    }

    /// How long to wait for an answer before following up.
    pub fn follow_up_after(self) -> Duration {
        match self {
            Persona::FriendlyLocal => Duration::hours(24),
            Persona::ProfessionalBuyer => Duration::hours(12),
            Persona::UrgentCash => Duration::hours(2),
            Persona::Collector => Duration::hours(48),
        }
    }

    /// How many follow-ups before walking away from a silent seller.
    pub fn max_follow_ups(self) -> u32 {
        match self {
            Persona::FriendlyLocal => 2,
            Persona::ProfessionalBuyer => 1,
            Persona::UrgentCash => 1,
            Persona::Collector => 3,
        }
    }

    /// The seed's name for it (`"FRIENDLY_LOCAL"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Persona::FriendlyLocal => "FRIENDLY_LOCAL",
            Persona::ProfessionalBuyer => "PROFESSIONAL_BUYER",
            Persona::UrgentCash => "URGENT_CASH",
            Persona::Collector => "COLLECTOR",
        }
    }
}

/// How offers move from round to round and when a seller's price is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// The seed's counter-offer rule with the persona's own ceiling (a share of the asking
    /// price): the baseline.
    SeedRule,
    /// Time-dependent, e = 0.2: holds near the opening, concedes late.
    Boulware,
    /// Time-dependent, e = 1: equal steps.
    Linear,
    /// Time-dependent, e = 2: concedes early.
    Conceder,
    /// The default: a mildly Boulware time curve that also answers the seller's own
    /// concessions (reciprocates a share of the gap, moves faster toward a seller who holds),
    /// accepting a price no worse than its next offer.
    Adaptive,
}

impl StrategyKind {
    /// Every strategy, baseline first.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::SeedRule,
        StrategyKind::Boulware,
        StrategyKind::Linear,
        StrategyKind::Conceder,
        StrategyKind::Adaptive,
    ];

    /// The concession exponent `e` of `f(t) = t^(1/e)` (GENIUS presets); the seed rule has none.
    pub fn exponent(self) -> Option<f64> {
        match self {
            StrategyKind::SeedRule => None,
            StrategyKind::Boulware => Some(0.2),
            StrategyKind::Linear => Some(1.0),
            StrategyKind::Conceder => Some(2.0),
            StrategyKind::Adaptive => Some(0.5),
        }
    }

    /// The lowercase name (`"seed_rule"`, `"boulware"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::SeedRule => "seed_rule",
            StrategyKind::Boulware => "boulware",
            StrategyKind::Linear => "linear",
            StrategyKind::Conceder => "conceder",
            StrategyKind::Adaptive => "adaptive",
        }
    }
}

/// What the analysis knows about a deal when the negotiation starts.
#[derive(Debug, Clone, PartialEq)]
pub struct DealContext {
    /// The seller's asking price.
    pub asking: Money,
    /// The most we pay, from the analyzer (its currency is the asking price's).
    pub ceiling: Money,
    /// How sure the valuation is, 0 to 1.
    pub valuation_confidence: f64,
    /// Expected margin at the asking price, as a fraction of it (0.5 = 50 %).
    pub expected_margin: f64,
    /// The analysis found a deep bargain (the margin at the asking price is well above the
    /// target): offer the asking price at once, before a faster buyer takes it.
    pub pay_asking: bool,
    /// The listing's category (`"electronics"`, `"collectibles"`, …).
    pub category: String,
    /// The seller is a business (a shop, a dealer).
    pub business_seller: bool,
    /// Time left before the opportunity closes, when there is a deadline.
    pub time_left: Option<Duration>,
}

impl DealContext {
    /// A plain deal for examples and tests: $100 asked, $85 ceiling, a confident valuation.
    pub fn example() -> DealContext {
        DealContext {
            asking: Money::usd(10_000),
            ceiling: Money::usd(8_500),
            valuation_confidence: 0.9,
            expected_margin: 0.2,
            pay_asking: false,
            category: "electronics".to_string(),
            business_seller: false,
            time_left: None,
        }
    }
}

/// What memory says about this seller from earlier negotiations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SellerHistory {
    /// How many negotiations with them ended (any way).
    pub past_negotiations: u32,
    /// Mean discount they gave, as a fraction of their asking price (0.12 = 12 % off).
    pub mean_discount: f64,
    /// Mean time they took to answer.
    pub mean_response: Option<Duration>,
    /// Share of their agreed deals they honoured, 0 to 1 (1 when unknown).
    pub reliability: f64,
}

/// The strategy for one negotiation: everything [`super::step`] needs to price each round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyChoice {
    /// The persona: tone, cadence, follow-ups, and the seed rule's shares.
    pub persona: Persona,
    /// How offers move.
    pub kind: StrategyKind,
    /// The opening offer as thousandths of the asking price.
    pub opening_permille: i64,
    /// How many offers at most.
    pub max_rounds: u32,
    /// Why this choice, in words, for the audit log.
    pub why: Vec<String>,
}

impl StrategyChoice {
    /// The same persona and parameters played with another strategy (the evaluation plays
    /// every strategy over the same deals). The seed rule gets the seed persona's own opening
    /// and round limit.
    pub fn with_kind(&self, kind: StrategyKind) -> StrategyChoice {
        let mut choice = self.clone();
        choice.kind = kind;
        if kind == StrategyKind::SeedRule {
            choice.opening_permille = self.persona.opening_permille();
            choice.max_rounds = self.persona.max_rounds();
        }
        choice.why.push(format!("played as {}", kind.as_str()));
        choice
    }

    /// The naive baseline: the asking price offered once, the seller's price taken if it is
    /// within the cap, no haggling (the Negotiator does not start it when the asking price is
    /// above the ceiling: naive buys at the asking price or not at all).
    pub fn naive(&self) -> StrategyChoice {
        let mut choice = self.clone();
        choice.kind = StrategyKind::Linear;
        choice.opening_permille = 1000;
        choice.max_rounds = 1;
        choice
            .why
            .push("naive baseline: the asking price, once".to_string());
        choice
    }
}

/// The seed's persona rule: margin > 50 % with under an hour left → URGENT_CASH; a business
/// seller → PROFESSIONAL_BUYER; collectibles → COLLECTOR; otherwise FRIENDLY_LOCAL.
fn seed_persona(deal: &DealContext) -> (Persona, &'static str) {
    let hurried = deal.time_left.is_some_and(|left| left < Duration::hours(1));
    if deal.expected_margin > 0.5 && hurried {
        return (
            Persona::UrgentCash,
            "margin over 50 % with under an hour left",
        );
    }
    if deal.business_seller {
        return (Persona::ProfessionalBuyer, "a business seller");
    }
    let category = deal.category.to_lowercase();
    let collectible = [
        "collectible",
        "antique",
        "vintage",
        "coins",
        "stamps",
        "trading card",
        "art",
    ]
    .iter()
    .any(|word| category.contains(word));
    if collectible {
        return (Persona::Collector, "a collectible");
    }
    (Persona::FriendlyLocal, "the default persona")
}

/// Chooses the persona (the seed's rule) and the strategy for a deal.
///
/// The default is [`StrategyKind::Adaptive`] with three more rounds than the persona's limit
/// (it concedes in smaller steps, so it needs them; in the simulator's side-by-side run it
/// closes more deals than the seed rule and keeps more of the surplus on the same sellers). The seller's history adjusts it: a seller known to give
/// large discounts gets a lower opening; a seller who often failed to honour deals gets
/// [`StrategyKind::Conceder`] (close quickly or not at all); so does a deal with under an
/// hour left. A deal that earns 25 % or more at the asking price opens 10 points nearer it,
/// and one the analysis calls a deep bargain is offered the asking price at once (haggling
/// over a few dollars loses such items to faster buyers). An unsure valuation is not shaded again here: the analyzer's ceiling already
/// stands on the conservative value (the estimate less its uncertainty), and shading it twice
/// walked away from sellers holding at a price inside the ceiling.
pub fn choose_strategy(deal: &DealContext, history: &SellerHistory) -> StrategyChoice {
    let (persona, persona_why) = seed_persona(deal);
    let mut why = vec![format!("{}: {persona_why}", persona.as_str())];
    let mut kind = StrategyKind::Adaptive;
    let mut opening_permille = persona.opening_permille();
    let mut max_rounds = persona.max_rounds() + 3;
    // A deep bargain is lost by haggling long, not by paying a little more: open nearer the
    // asking price the more it would earn at that price.
    if deal.pay_asking {
        opening_permille = 1000;
        why.push("a deep bargain: offer the asking price at once".to_string());
    } else if deal.expected_margin >= 0.25 {
        opening_permille += 100;
        why.push(format!(
            "{:.0} % profit at the asking price: open nearer it",
            deal.expected_margin * 100.0
        ));
    }

    let known = history.past_negotiations >= 2;
    if known && history.mean_discount >= 0.15 {
        opening_permille -= 50;
        why.push(format!(
            "seller usually gives {:.0} % off: open lower",
            history.mean_discount * 100.0
        ));
    }
    if known && history.reliability < 0.5 {
        kind = StrategyKind::Conceder;
        max_rounds = persona.max_rounds();
        why.push("seller often failed to honour deals: close quickly".to_string());
    }
    if deal.time_left.is_some_and(|left| left < Duration::hours(1)) {
        kind = StrategyKind::Conceder;
        max_rounds = persona.max_rounds().min(2);
        why.push("under an hour left: concede early".to_string());
    }

    why.push(format!("{} strategy", kind.as_str()));
    StrategyChoice {
        persona,
        kind,
        opening_permille,
        max_rounds,
        why,
    }
}
