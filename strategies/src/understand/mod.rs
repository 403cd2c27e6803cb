//! Understanding a seller's reply: what they mean (accept, counter, reject, question, other)
//! and the total price they mean, read the way people write it.
//!
//! ```
//! use bazaar_model::Money;
//! use bazaar_strategies::understand::{understand, Intent, Reply};
//!
//! let reading = understand(&Reply {
//!     text: "I can't do 50. Best I can do is 80, firm.",
//!     listing_price: Money::usd(100_00),
//!     our_last_offer: Some(Money::usd(50_00)),
//! });
//! assert_eq!(reading.intent, Intent::Counter);
//! assert_eq!(reading.price, Some(Money::usd(80_00)));
//! ```
//!
//! Pure and total: every text gets a [`Reading`], with a confidence; [`Reading::next_step`]
//! says whether to act on it, ask a short clarifying question, or hand it to the operator.
//!
//! How a price is found: every number-like span ("$1,200", "1.2k", "twelve hundred", "a buck
//! fifty") becomes a candidate; years, model numbers, mileage, phone numbers, times, dates,
//! counts and sizes are dropped; what remains is sorted by what the words around it say —
//! the seller's own price ("best I can do is 80", "150 firm", "$20 off" = asking − 20), the
//! buyer's number refused ("I can't do 50"), or the price of something else ("I paid 300",
//! "new ones cost $500", "$1000 deposit"). The strongest proposal, the later one on a tie, is
//! the price; when it is our last offer the seller accepted it. With no number, agreement
//! ("ok deal") means our last offer.
//!
//! A yes must answer our offer (`agreement`): a yes aimed at the deal ("deal", "it's
//! yours", "I can do that") stands whatever follows; a soft one ("sounds good", "ok",
//! "great") only in a short message that neither asks, defers ("let me think about it"),
//! talks availability nor describes ("perfect condition", "good morning", "the repairs are
//! done"). "I accept $800" when we offered $60 is a counter at $800.
//!
//! With no offer of ours to answer (the seller writes first), an aimed yes ("You have a
//! deal!") agrees to something we cannot name: it reads as accept without a price, never
//! sure enough to act on; an aimed yes with an amount ("Deal! 250!") agrees to that amount;
//! a price on terms ("$40 and we have a deal") is a counter; a bare "yes" answers some other
//! question; and only a refusal about a price ("I cannot go any lower") is a refusal.

mod amounts;
mod phrases;
pub mod second_opinion;
mod tokens;

use bazaar_model::{Currency, Money};

use amounts::{amounts, Amount, Context, Role};
use phrases::Flat;

/// A seller's message and what it answers.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The message as the seller wrote it.
    pub text: &'a str,
    /// The listing's asking price; its currency is the currency of the reading.
    pub listing_price: Money,
    /// The last price we offered, if we have offered one.
    pub our_last_offer: Option<Money>,
}

/// What the seller means to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    /// They agree to a price (usually our last offer).
    Accept,
    /// They name a price of their own.
    Counter,
    /// They refuse without naming a new price (or the item is gone).
    Reject,
    /// They ask us something.
    Question,
    /// Anything else: greetings, answers about the item, small talk.
    Other,
}

impl Intent {
    /// The lowercase name used in JSON: `"accept"`, `"counter"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Accept => "accept",
            Intent::Counter => "counter",
            Intent::Reject => "reject",
            Intent::Question => "question",
            Intent::Other => "other",
        }
    }
}

/// A finer reason behind an intent, where one is useful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The item sold to someone else (with [`Intent::Reject`]).
    SoldElsewhere,
    /// The seller says the item is still for sale.
    StillAvailable,
    /// The seller asks what we would pay (with [`Intent::Question`]).
    NeedsInfo,
}

impl Reason {
    /// The snake_case name used in JSON: `"sold_elsewhere"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SoldElsewhere => "sold_elsewhere",
            Reason::StillAvailable => "still_available",
            Reason::NeedsInfo => "needs_info",
        }
    }
}

/// What a reply means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// What the seller means to do.
    pub intent: Intent,
    /// A finer reason, when there is one.
    pub reason: Option<Reason>,
    /// The total price the seller means, in the listing's currency.
    pub price: Option<Money>,
    /// How sure the reading is, from 0 to 1.
    pub confidence: f64,
}

/// What to do with a reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Sure enough to act on.
    Proceed,
    /// Ask the seller this short question first.
    Clarify(String),
    /// Too unclear to guess: show the operator.
    Inbox,
}

/// Readings at least this sure are acted on.
pub const PROCEED_AT: f64 = 0.75;
/// Readings at least this sure (and below [`PROCEED_AT`]) get a clarifying question.
pub const CLARIFY_AT: f64 = 0.5;

impl Reading {
    fn new(intent: Intent, price: Option<Money>, confidence: f64) -> Reading {
        Reading {
            intent,
            reason: None,
            price,
            confidence,
        }
    }

    fn because(mut self, reason: Reason) -> Reading {
        self.reason = Some(reason);
        self
    }

    /// Act, ask a short clarifying question, or hand the reply to the operator.
    pub fn next_step(&self) -> NextStep {
        if self.confidence >= PROCEED_AT {
            return NextStep::Proceed;
        }
        if self.confidence < CLARIFY_AT {
            return NextStep::Inbox;
        }
        let question = match (self.intent, self.price) {
            (Intent::Accept, Some(price)) => format!("Great, so {} it is?", spoken(price)),
            (Intent::Counter, Some(price)) => {
                format!("Just to be sure: you'd take {} for it?", spoken(price))
            }
            (Intent::Reject, _) => "Is there a price you would take?".to_string(),
            (_, Some(price)) => format!("Just to be sure: is {} your price?", spoken(price)),
            _ => "Sorry, just to be sure: what price would you take?".to_string(),
        };
        NextStep::Clarify(question)
    }
}

/// "$80" for whole amounts, "$12.50" otherwise.
fn spoken(price: Money) -> String {
    let text = price.to_string();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_string(),
        None => text,
    }
}

/// The most of a reply that is read, in bytes (cut back to a character boundary): a
/// seller's answer fits many times over, and the time to read it stays bounded. Reading
/// is linear in the text up to this cap.
pub const MAX_READ_BYTES: usize = 64 * 1024;

/// `text` cut to at most [`MAX_READ_BYTES`], on a character boundary.
pub(crate) fn readable_part(text: &str) -> &str {
    if text.len() <= MAX_READ_BYTES {
        return text;
    }
    let mut end = MAX_READ_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Reads a seller's reply (its first [`MAX_READ_BYTES`]). Never fails: an unclear message
/// gets a low confidence.
pub fn understand(reply: &Reply<'_>) -> Reading {
    let currency = reply.listing_price.currency;
    let context = Context {
        listing: to_hundredths(reply.listing_price),
        last_offer: reply
            .our_last_offer
            .filter(|offer| offer.currency == currency)
            .map(to_hundredths),
    };
    let tokens = tokens::tokenize(readable_part(reply.text));
    let flat = Flat::new(&tokens);
    let found = amounts(&tokens, context);
    let signals = Signals::read(&flat, &tokens, &found, context);
    decide(&found, &signals, context, currency)
}

/// What the words say, apart from the numbers.
struct Signals {
    sold: bool,
    available: bool,
    /// A yes to our offer (see `agreement`): aimed at the deal, or soft with nothing
    /// against it.
    strong_accept: bool,
    /// A yes aimed at the deal ("deal", "it's yours", "$20 works"), not put off.
    aimed_accept: bool,
    /// A yes in so many words ("I accept", "5 bucks it is"): a question after it only
    /// checks.
    explicit_accept: bool,
    /// A message that is little more than a yes ("Ok.", "Sure, my pleasure.").
    weak_accept: bool,
    /// A clause sets a condition ("if you can pick it up today"): terms of a deal.
    conditional: bool,
    /// Something is asked of the buyer ("…if you'd be willing to pay full price").
    asks_of_buyer: bool,
    /// The whole reply is a few agreement words ("Ok great.", "yes sure"): a plain yes.
    bare_agreement: bool,
    /// The seller puts the decision off ("let me think about it", "I'll check with my wife").
    defers: bool,
    /// A money amount other than our last offer is written ("I accept $800").
    other_money: Option<i64>,
    reject: bool,
    /// A refusal taken back later in the message ("…lower than I hoped, but I accept").
    relents: bool,
    holds_asking: bool,
    /// The seller argues for the asking price ("a reasonable asking price", "I can sell it
    /// to someone else for my asking price").
    defends_asking: bool,
    asks: bool,
    asks_price: bool,
    empty: bool,
}

/// How a reply's words say yes to our offer, each way read once (see [`agreement`]).
#[derive(Debug, Clone, Copy)]
struct Agreement {
    /// A yes aimed at the deal ("deal", "it's yours", "I can do that"), whatever follows.
    aimed: bool,
    /// A soft yes phrase in a short message ("Sounds good!"): it stands only when nothing
    /// else is going on.
    soft: bool,
    /// A short message with a clause that is only a yes ("Ok.", "Sure, my pleasure.").
    bare: bool,
}

/// Whether a reply says yes to our offer. A yes must answer the offer: agreeable words in a
/// sentence about repairs ("the repairs are done"), the item ("perfect condition"), a
/// greeting ("good morning") or availability ("yes it is still available") are not one;
/// a soft yes followed by a question or a deferral ("Sounds good, I'll check with my wife")
/// is not one; a yes aimed at the deal is one even with a question after it.
fn agreement(flat: &Flat, context: Context) -> Agreement {
    // "Sold!" on its own is a yes; "they sold old frames" is not.
    let sold = flat.clauses().iter().any(|clause| clause == "sold");
    Agreement {
        aimed: sold || gives_in(flat) || flat.any_agreed(phrases::AIMED_ACCEPT),
        soft: soft_yes(flat, context),
        bare: bare_yes(flat),
    }
}

/// "Fine." or "Ok fine!" on its own gives in.
fn gives_in(flat: &Flat) -> bool {
    flat.words().any(|w| w == "fine")
        && flat
            .words()
            .all(|w| phrases::WEAK_ACCEPT.contains(&w) || w == "then")
}

/// A soft yes in a message short enough to be about our offer: "Sounds good. Thanks." is
/// one; "Sounds good. The cabinet is 3 feet long by 3 feet wide…" answers something else.
/// "No problem" says yes only when there is an offer of ours to answer.
fn soft_yes(flat: &Flat, context: Context) -> bool {
    const MOST_WORDS: usize = 14;
    let no_problem = context.last_offer.is_some() && flat.any_agreed(phrases::NO_PROBLEM);
    flat.words().count() <= MOST_WORDS && (no_problem || flat.any_agreed(phrases::SOFT_ACCEPT))
}

/// How a clause that sets a condition starts.
const CONDITIONS: &[&str] = &[
    "if ",
    "as long as ",
    "only if ",
    "provided ",
    "once ",
    "but you have to ",
    "but you must ",
    "but you need to ",
    "but youll have to ",
    "but you will have to ",
];

/// The words of the clauses that set a condition ("if you can pick it up today").
fn condition_words(flat: &Flat) -> usize {
    flat.clauses()
        .iter()
        .filter(|clause| CONDITIONS.iter().any(|c| clause.starts_with(c)))
        .map(|clause| clause.split_whitespace().count())
        .sum()
}

/// A short message with a clause that is only a yes ("Ok.", "Alright, you won't regret
/// it!", "I can deliver. Great!"); a longer one talks about something else.
fn bare_yes(flat: &Flat) -> bool {
    const MOST_WORDS: usize = 6;
    // A condition beside the yes ("If you can pick them up today, absolutely!") is part of
    // the answer, not something else talked about.
    if flat.words().count().saturating_sub(condition_words(flat)) > MOST_WORDS {
        return false;
    }
    flat.clauses().iter().any(|clause| {
        let words: Vec<&str> = clause.split_whitespace().collect();
        let yes = |w: &str| phrases::WEAK_ACCEPT.contains(&w);
        let described = words
            .windows(2)
            .any(|pair| yes(pair[0]) && phrases::DESCRIBED.contains(&pair[1]));
        words.iter().any(|w| yes(w))
            && !described
            && words
                .iter()
                .all(|w| yes(w) || phrases::BARE_YES_FILLERS.contains(w))
    })
}

impl Signals {
    fn read(flat: &Flat, tokens: &[tokens::Token], found: &[Amount], context: Context) -> Signals {
        let first_words: Vec<&str> = flat.words().take(3).collect();
        let sentences = flat.sentences();
        let negated_start = first_words
            .first()
            .is_some_and(|w| ["not", "no"].contains(w));
        let bare_agreement =
            flat.words().count() <= 3 && flat.words().all(|w| phrases::WEAK_ACCEPT.contains(&w));
        let flat_no = first_words
            .first()
            .is_some_and(|w| ["no", "nope", "nah", "sorry"].contains(w))
            && flat.words().count() <= 4
            && context.last_offer.is_some()
            && !flat.any(&["no problem", "no prob", "no worries"]);
        let asks = sentences.iter().any(|(s, q)| phrases::asks(s, *q));
        let asks_price = asks
            && flat.any(&[
                "what would you offer",
                "what do you offer",
                "what are you willing",
                "what would you pay",
                "what would you like to pay",
                "what are you thinking",
                "what did you have in mind",
                "what price",
                "your offer",
                "an offer",
                "your budget",
                "how much",
                "what can you",
                "whats your best",
                "what is your best",
                "what were you thinking",
                "willing to pay",
                "want to pay",
                "offer in mind",
                "price in mind",
                "what is fair",
                "is fair",
            ]);
        let defers = flat.any(phrases::DEFERS);
        let available = flat.any_affirmed(phrases::STILL_AVAILABLE);
        // "Yes it is" answers our offer; "yes it is still available" answers another question.
        let talks_availability = flat
            .words()
            .any(|w| ["available", "still", "availability"].contains(&w));
        let yes = agreement(flat, context);
        // "$40 and we have a deal" (or "50 if you can be here in one hour and it's a deal")
        // proposes that amount; it says yes to nothing.
        let on_terms = flat.any(phrases::OFFER_ON_TERMS) || flat.deal_after_amount();
        let soft_stands = !asks && !defers;
        let explicit_accept = flat.any_affirmed(phrases::EXPLICIT_ACCEPT);
        // "I accept $800" when we offered $60 names its own price: it is not a yes to ours.
        // Only after an explicit "I accept", and never an amount that is about something
        // else ("Deal! I paid $300 for it new").
        let other_money = tokens
            .iter()
            .find(|t| {
                t.kind == tokens::Kind::Number
                    && t.money
                    && Some(t.hundredths) != context.last_offer
                    && !found
                        .iter()
                        .any(|a| a.role == Role::Reference && a.hundredths == t.hundredths)
            })
            .map(|t| t.hundredths)
            .filter(|_| explicit_accept);
        Signals {
            sold: flat.any_affirmed(phrases::SOLD_ELSEWHERE),
            available,
            strong_accept: !on_terms
                && if yes.aimed {
                    !defers
                } else {
                    yes.soft && soft_stands
                },
            aimed_accept: yes.aimed && !defers && !on_terms,
            explicit_accept,
            weak_accept: !yes.aimed
                && yes.bare
                && soft_stands
                && !talks_availability
                && !negated_start,
            bare_agreement,
            conditional: condition_words(flat) > 0,
            asks_of_buyer: flat.any(&["if you", "if youd", "if youll", "as long as you"]),
            defers,
            other_money,
            // "No lowballers" warns off offers to come; it refuses none. With no offer of
            // ours, only a refusal about a price is one ("I cannot go any lower").
            // "No way, it's less than 6 months old."
            reject: (flat.any(phrases::REFUSES_PRICE)
                || first_words.starts_with(&["no", "way"])
                || flat.any_negated(phrases::REFUSES_PRICE_NEGATED)
                || context.last_offer.is_some() && (flat.any(phrases::REFUSES_OFFER) || flat_no))
                && !flat.any(phrases::WARNS_OFF)
                && !flat.any(phrases::HEDGES),
            relents: flat.any(phrases::RELENTS),
            holds_asking: flat.any(phrases::HOLDS_ASKING),
            defends_asking: flat.any(phrases::DEFENDS_ASKING),
            asks,
            asks_price,
            empty: flat.words().next().is_none(),
        }
    }
}

fn decide(found: &[Amount], signals: &Signals, context: Context, currency: Currency) -> Reading {
    let reading = decide_on_words(found, signals, context, currency);
    // A yes to no offer of ours ("You have a deal!" out of context) agrees to something we
    // cannot name: never sure enough to act on without asking.
    if reading.intent == Intent::Accept && reading.price.is_none() {
        return Reading {
            confidence: reading.confidence.min(0.6),
            ..reading
        };
    }
    reading
}

fn decide_on_words(
    found: &[Amount],
    signals: &Signals,
    context: Context,
    currency: Currency,
) -> Reading {
    let money = |hundredths: i64| from_hundredths(hundredths, currency);
    let last = context.last_offer;
    let proposals: Vec<&Amount> = found.iter().filter(|a| a.role == Role::Proposal).collect();
    let best = proposals
        .iter()
        .copied()
        .max_by_key(|a| (a.strength, !a.derived))
        .copied();
    let best = best.map(|b| {
        // the later of equally strong proposals
        proposals
            .iter()
            .rev()
            .find(|a| a.strength == b.strength && a.derived == b.derived)
            .map(|a| **a)
            .unwrap_or(b)
    });

    // an explicit "I can accept 721" / "I'll take 50" settles it, whatever else is said
    let agreed = proposals
        .iter()
        .find(|a| Some(a.hundredths) == last && a.strength >= 3 && !a.derived);
    if let Some(agreed) = agreed {
        return Reading::new(Intent::Accept, Some(money(agreed.hundredths)), 0.9);
    }

    if signals.sold && best.is_none() {
        return Reading::new(Intent::Reject, None, 0.9).because(Reason::SoldElsewhere);
    }

    if let Some(best) = best {
        return read_amount(best, &proposals, signals, context, currency);
    }

    let echoed = found.iter().any(|a| a.role == Role::Echo);
    let refused = found.iter().any(|a| a.role == Role::Rejected);
    if echoed && signals.strong_accept {
        return Reading::new(Intent::Accept, last.map(money), 0.8);
    }
    if signals.holds_asking && !signals.strong_accept {
        // "…if you'd be willing to pay full price" names the asking price as terms.
        let intent = if signals.asks_of_buyer && last.is_none() {
            Intent::Counter
        } else {
            Intent::Reject
        };
        return Reading::new(intent, Some(money(context.listing)), 0.75);
    }
    if refused || echoed {
        return Reading::new(Intent::Reject, None, 0.85);
    }
    if let Some(theirs) = signals.other_money.filter(|_| signals.strong_accept) {
        // A yes with a price of its own ("I accept $800" when we offered $60) is that price,
        // however unlikely it looks beside the listing: confirm it with the seller.
        return Reading::new(Intent::Counter, Some(money(theirs)), 0.6);
    }
    if signals.defers {
        return ask_or_tell(signals);
    }
    // With no offer of ours, a yes in a question ("are you ok with that?") asks.
    if signals.strong_accept && !signals.reject && (last.is_some() || !signals.asks) {
        return Reading::new(Intent::Accept, last.map(money), 0.9);
    }
    if signals.reject && !signals.strong_accept {
        let sure = if signals.asks { 0.7 } else { 0.8 };
        return Reading::new(Intent::Reject, None, sure);
    }
    if signals.reject && signals.strong_accept && signals.relents {
        return Reading::new(Intent::Accept, last.map(money), 0.7);
    }
    if signals.reject && signals.strong_accept {
        return Reading::new(Intent::Reject, None, 0.5);
    }
    if signals.weak_accept && (last.is_some() || signals.conditional) {
        // With no offer of ours, a bare "yes" answers some other question, unless it sets
        // terms ("If you can pick them up today, absolutely!").
        let sure = if signals.bare_agreement && !signals.asks {
            0.8
        } else {
            0.7
        };
        return Reading::new(Intent::Accept, last.map(money), sure);
    }
    ask_or_tell(signals)
}

/// What a reply naming `best` (the strongest of `proposals`) means: the amount agreed, a
/// counter, or the asking price held.
fn read_amount(
    best: Amount,
    proposals: &[&Amount],
    signals: &Signals,
    context: Context,
    currency: Currency,
) -> Reading {
    let money = |hundredths: i64| from_hundredths(hundredths, currency);
    let last = context.last_offer;
    // With no offer of ours to answer, a yes with an amount agrees to that amount
    // ("Deal! 250!", "$230 is agreeable to me"); with one, a yes to another amount is
    // a counter ("I accept $800" when we offered $60).
    // A range ("anything around 100-150 would work") is terms, not a yes to one amount.
    // A soft yes then the asking price ("Sure go ahead, my asking price is $9200") states it.
    if last.is_none()
        && (signals.aimed_accept || signals.strong_accept && best.hundredths != context.listing)
        && !best.range
        && (!signals.asks || signals.explicit_accept)
        && !signals.reject
    {
        return Reading::new(Intent::Accept, Some(money(best.hundredths)), 0.7);
    }
    if Some(best.hundredths) == last {
        let sure = if signals.strong_accept || signals.weak_accept {
            0.95
        } else {
            0.85
        };
        return Reading::new(Intent::Accept, Some(money(best.hundredths)), sure);
    }
    let rivals = proposals
        .iter()
        .filter(|a| a.strength >= best.strength && a.hundredths != best.hundredths)
        .count();
    let mut sure: f64 = match best.strength {
        4 => 0.92,
        3 => 0.88,
        2 => 0.8,
        _ => 0.65,
    };
    if rivals > 0 {
        sure -= 0.15;
    }
    if best.range {
        sure -= 0.15;
    }
    // Arguing for the asking price ("I can sell it to someone else for my asking price
    // of $75") holds it: a refusal, not a new price. ("I can't go lower than $3000",
    // the asking price, names it as the price: a counter.)
    if best.hundredths == context.listing && signals.defends_asking && !signals.strong_accept {
        return Reading::new(Intent::Reject, Some(money(best.hundredths)), 0.8);
    }
    let reading = Reading::new(Intent::Counter, Some(money(best.hundredths)), sure);
    if signals.available && !signals.sold {
        return reading.because(Reason::StillAvailable);
    }
    reading
}

/// A reply that neither settles nor refuses a price: a question, or something else.
fn ask_or_tell(signals: &Signals) -> Reading {
    if signals.available && !signals.asks {
        return Reading::new(Intent::Other, None, 0.85).because(Reason::StillAvailable);
    }
    if signals.asks {
        let reading = Reading::new(Intent::Question, None, 0.8);
        if signals.asks_price {
            return reading.because(Reason::NeedsInfo);
        }
        if signals.available {
            // "Yes, I still have it. Any questions?"
            return reading.because(Reason::StillAvailable);
        }
        return reading;
    }
    if signals.empty {
        return Reading::new(Intent::Other, None, 0.3);
    }
    Reading::new(Intent::Other, None, 0.75)
}

/// Money as hundredths of its major unit (cents for dollars, 100 per yen).
fn to_hundredths(money: Money) -> i64 {
    let exponent = money.currency.exponent();
    if exponent <= 2 {
        return money.minor.saturating_mul(10i64.pow(2 - exponent));
    }
    money.minor / 10i64.pow(exponent - 2)
}

fn from_hundredths(hundredths: i64, currency: Currency) -> Money {
    let exponent = currency.exponent();
    if exponent <= 2 {
        return Money::new(hundredths / 10i64.pow(2 - exponent), currency);
    }
    Money::new(hundredths.saturating_mul(10i64.pow(exponent - 2)), currency)
}
