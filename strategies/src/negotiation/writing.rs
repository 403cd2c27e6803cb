//! The emails: short, human, varied by persona, with the amount written exactly once, and the
//! check an optional LLM rewrite must pass before it may replace the template's text.
//!
//! ```
//! use bazaar_model::Money;
//! use bazaar_strategies::negotiation::writing::{compose, validate_rewrite, MessageKind};
//! use bazaar_strategies::negotiation::Persona;
//!
//! let offer = Money::usd(8_500);
//! let text = compose(Persona::FriendlyLocal, MessageKind::Opening, Some(offer), 7);
//! assert_eq!(text.matches("$85").count(), 1);
//! assert!(validate_rewrite(&text, offer, "Hi there, could you do $85 for it? Thanks").is_ok());
//! assert!(validate_rewrite(&text, offer, "Could you do $85? I can also add $10 for gas").is_err());
//! assert!(validate_rewrite(&text, offer, "Would $85 work? I'll pay cash today").is_err());
//! ```

use std::fmt;

use bazaar_model::Money;

use super::persona::Persona;
use super::safety::contains_phrase;
use super::state::{Decision, NegotiationState, Status};

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The first offer.
    Opening,
    /// A counter-offer to the seller's price.
    Counter,
    /// A nudge after silence, restating our offer.
    FollowUp,
    /// Agreeing on a price.
    Confirmation,
    /// A short question when the seller's reply was unclear, restating our offer.
    Clarify,
    /// A polite goodbye.
    WalkAway,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 6] = [
        MessageKind::Opening,
        MessageKind::Counter,
        MessageKind::FollowUp,
        MessageKind::Confirmation,
        MessageKind::Clarify,
        MessageKind::WalkAway,
    ];
}

/// Where the amount goes in a template.
const AMOUNT: &str = "{amount}";

/// The templates of a persona for a kind of message: with `{amount}` exactly once, or (for
/// the kinds that can go without one) none at all.
pub fn templates(
    persona: Persona,
    kind: MessageKind,
    with_amount: bool,
) -> &'static [&'static str] {
    use MessageKind::*;
    use Persona::*;
    match (persona, kind, with_amount) {
        (FriendlyLocal, Opening, _) => &[
            "Hi! Is this still available? Would you take {amount} for it? Thanks!",
            "Hey there, I really like this. Could you do {amount}?",
            "Hi, I'm interested. Would {amount} work for you?",
            "Hello! Any chance you'd take {amount}? Thanks for considering.",
        ],
        (FriendlyLocal, Counter, _) => &[
            "I hear you. Could you meet me at {amount}?",
            "Thanks for getting back to me! How about {amount}?",
            "That's a bit more than I hoped. Would you do {amount}?",
            "Fair enough. I could go up to {amount}, would that work?",
        ],
        (FriendlyLocal, FollowUp, true) => &[
            "Hi again, just checking in. Would {amount} work for you?",
            "Hey, circling back on this one. Still happy to do {amount} if you are.",
            "Hi! Did you get a chance to think about {amount}?",
        ],
        (FriendlyLocal, Confirmation, _) => &[
            "Great, {amount} it is! Thanks so much.",
            "Awesome, deal at {amount}. Thank you!",
            "Perfect, {amount} works. Thanks!",
        ],
        (FriendlyLocal, Clarify, true) => &[
            "Sorry, I want to make sure I follow. Would {amount} work for you?",
            "Just so I understand: is {amount} okay with you?",
        ],
        (ProfessionalBuyer, Opening, _) => &[
            "Hello, I'd like to offer {amount} for the item. Let me know.",
            "Hi, I can offer {amount} for this. Would that work?",
            "Hello. My offer is {amount}. Please let me know if that is acceptable.",
        ],
        (ProfessionalBuyer, Counter, _) => &[
            "Thanks. I can do {amount}.",
            "Understood. My best at this point is {amount}.",
            "Thank you for the reply. Would you accept {amount}?",
        ],
        (ProfessionalBuyer, FollowUp, true) => &[
            "Following up on my offer of {amount}. Let me know.",
            "Hello again, is {amount} acceptable?",
        ],
        (ProfessionalBuyer, Confirmation, _) => &[
            "Agreed at {amount}. Thank you.",
            "Confirmed: {amount}. Thanks.",
            "Deal at {amount}. Thank you for working with me.",
        ],
        (ProfessionalBuyer, Clarify, true) => &[
            "To confirm I understood: would you accept {amount}?",
            "Just to be clear, does {amount} work for you?",
        ],
        (UrgentCash, Opening, _) => &[
            "Hi, I'm looking to buy soon. Would you take {amount}?",
            "Hi! Could you do {amount}? Hoping to sort this out quickly.",
            "Hello, is {amount} something you'd consider?",
        ],
        (UrgentCash, Counter, _) => &[
            "Understood. Could you do {amount}?",
            "How about {amount}? I'd like to wrap this up.",
        ],
        (UrgentCash, FollowUp, true) => &[
            "Quick check: does {amount} work?",
            "Hi, still keen at {amount} if it works for you.",
        ],
        (UrgentCash, Confirmation, _) => &[
            "Great, {amount} it is. Thanks!",
            "Deal at {amount}, thank you.",
        ],
        (UrgentCash, Clarify, true) => &[
            "Sorry, to be sure: would {amount} work?",
            "Just checking I understood: is {amount} okay?",
        ],
        (Collector, Opening, _) => &[
            "Hello, what a lovely piece. Would you consider {amount}?",
            "Hi, I've been looking for one of these. Could you do {amount}?",
            "Good day! I'd love to give this a good home. Would {amount} be acceptable?",
        ],
        (Collector, Counter, _) => &[
            "I appreciate that. Could we settle on {amount}?",
            "Thank you for considering it. Would {amount} be agreeable?",
            "I understand it's a special piece. I could do {amount}.",
        ],
        (Collector, FollowUp, true) => &[
            "Hello again, I'm still very interested. Would {amount} suit you?",
            "Just following up kindly on my offer of {amount}.",
            "Hi, I hope all is well. Any thoughts on {amount}?",
        ],
        (Collector, Confirmation, _) => &[
            "Wonderful, {amount} it is. Thank you!",
            "Delighted, we have a deal at {amount}. Thank you.",
        ],
        (Collector, Clarify, true) => &[
            "Forgive me, I want to be sure: would {amount} be acceptable?",
            "Just to be certain I understood, is {amount} alright?",
        ],
        (_, FollowUp, false) => &[
            "Hi, just checking in on this. Is it still available?",
            "Hello again, any news on this one?",
        ],
        (_, Clarify, false) => &[
            "Sorry, just to be sure: what price would you take?",
            "Sorry, I didn't quite follow. What price did you have in mind?",
        ],
        (FriendlyLocal, WalkAway, _) | (Collector, WalkAway, _) => &[
            "Thanks so much for your time. I'll pass for now, good luck with the sale!",
            "No worries, I think we're too far apart. Thanks anyway and good luck!",
            "Thanks for chatting. It's a bit more than I can do, so I'll bow out. All the best!",
        ],
        (ProfessionalBuyer, WalkAway, _) | (UrgentCash, WalkAway, _) => &[
            "Thank you for your time. I'll pass on this one.",
            "Understood, we're too far apart. Thanks and good luck with the sale.",
        ],
    }
}

/// "$85" for whole amounts, "$85.50" otherwise (the currency's own symbol).
pub fn spoken_amount(amount: Money) -> String {
    let text = amount.to_string();
    let zeros = format!(".{}", "0".repeat(amount.currency.exponent() as usize));
    match text.strip_suffix(&zeros) {
        Some(whole) if amount.currency.exponent() > 0 => whole.to_string(),
        _ => text,
    }
}

/// FNV-1a of a negotiation id and a salt: picks template variants deterministically.
pub fn variant_seed(id: &str, salt: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes().chain(salt.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Writes a message of a persona: template `seed` (mod the variants) with the amount once.
pub fn compose(persona: Persona, kind: MessageKind, amount: Option<Money>, seed: u64) -> String {
    let list = templates(persona, kind, amount.is_some());
    let template = list[(seed % list.len() as u64) as usize];
    match amount {
        Some(amount) => template.replacen(AMOUNT, &spoken_amount(amount), 1),
        None => template.replace(AMOUNT, "it"),
    }
}

/// The email for a decision, or `None` when the decision sends nothing.
pub fn message_for(state: &NegotiationState, decision: &Decision) -> Option<String> {
    let (kind, amount) = match decision {
        Decision::SendOffer { amount } if state.our_offers.len() <= 1 => {
            (MessageKind::Opening, Some(*amount))
        }
        Decision::SendOffer { amount } => (MessageKind::Counter, Some(*amount)),
        Decision::SendFollowUp { amount } => (MessageKind::FollowUp, *amount),
        Decision::Confirm { amount } => (MessageKind::Confirmation, Some(*amount)),
        Decision::AskClarify { amount } => (MessageKind::Clarify, *amount),
        Decision::WalkAway => (MessageKind::WalkAway, None),
        Decision::ToInbox { .. } | Decision::Wait { .. } | Decision::Done { .. } => return None,
    };
    let salt = u64::from(state.rounds()) * 31
        + u64::from(state.follow_ups_sent) * 7
        + u64::from(state.clarifications) * 3
        + u64::from(matches!(state.status, Status::Confirming { .. }));
    Some(compose(
        state.choice.persona,
        kind,
        amount,
        variant_seed(&state.id, salt),
    ))
}

/// Why a rewrite was thrown away (the template's text is sent instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteRejected {
    /// The offer amount is missing or different.
    AmountChanged,
    /// The offer amount appears more than once.
    AmountRepeated,
    /// Another amount (a number or a spelled-out one) the original does not have.
    AddsAmount {
        /// The added amount as written.
        text: String,
    },
    /// A promise the original does not make.
    AddsPromise {
        /// The phrase that promises it.
        phrase: String,
    },
}

impl fmt::Display for RewriteRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteRejected::AmountChanged => {
                write!(f, "the rewrite changes or drops the offer amount")
            }
            RewriteRejected::AmountRepeated => {
                write!(f, "the rewrite states the offer amount more than once")
            }
            RewriteRejected::AddsAmount { text } => {
                write!(f, "the rewrite adds an amount: {text:?}")
            }
            RewriteRejected::AddsPromise { phrase } => {
                write!(f, "the rewrite adds a promise: {phrase:?}")
            }
        }
    }
}

impl std::error::Error for RewriteRejected {}

/// Promises an email must not make unless the template made them: when and how we pay,
/// pickup and delivery, deposits, extra money, guarantees and commitments. Each is a reason a
/// seller could hold us to something the offer never said.
const PROMISES: &[&str] = &[
    // when: pickup and timing commitments
    "pick up",
    "pick it up",
    "pickup",
    "come by",
    "come get",
    "collect it",
    "today",
    "tonight",
    "tomorrow",
    "this weekend",
    "this week",
    "right away",
    "immediately",
    "asap",
    "within",
    "same day",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "o'clock",
    "a.m.",
    "p.m.",
    "noon",
    "morning",
    "evening",
    "afternoon",
    // how we pay
    "cash",
    "venmo",
    "paypal",
    "zelle",
    "cash app",
    "cashapp",
    "by check",
    "a check",
    "personal check",
    "cheque",
    "wire",
    "bank transfer",
    "credit card",
    "debit card",
    "gift card",
    "crypto",
    "bitcoin",
    "apple pay",
    "google pay",
    // money before the goods
    "deposit",
    "hold it",
    "half now",
    "upfront",
    "up front",
    "in advance",
    "prepay",
    // delivery and its costs
    "ship",
    "shipping",
    "postage",
    "deliver",
    "delivery",
    "courier",
    "i'll cover",
    "i will cover",
    "i'll pay for",
    "i will pay for",
    "fees",
    // more money
    "extra",
    "tip",
    "on top",
    "more if",
    "plus",
    "bonus",
    "round up",
    "throw in",
    "make it worth",
    // guarantees and commitments
    "guarantee",
    "promise",
    "definitely",
    "for sure",
    "no matter what",
    "no questions asked",
    "sight unseen",
    "as-is",
    "as is",
    "without seeing",
    "without inspecting",
    "final offer",
    "best and final",
    "i'll take it",
    "i will take it",
    "you have my word",
    // contact outside the thread
    "call me",
    "text me",
    "my number",
    "my address",
    "whatsapp",
];

/// Spelled-out amounts ("eighty", "two hundred", "a grand").
const NUMBER_WORDS: &[&str] = &[
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "grand",
    "bucks",
    "dollars",
    "k",
];

/// A number as written and its value in minor units of the offer's currency.
fn numbers(text: &str, exponent: u32) -> Vec<(String, i64)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || ((chars[i] == ',' || chars[i] == '.')
                    && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())))
        {
            i += 1;
        }
        let written: String = chars[start..i].iter().collect();
        let plain: String = written.chars().filter(|c| *c != ',').collect();
        let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
        let scale = 10i64.pow(exponent);
        let whole: i64 = whole.parse().unwrap_or(i64::MAX / 1000);
        let mut cents: i64 = 0;
        for (n, digit) in fraction.chars().take(exponent as usize).enumerate() {
            let value = i64::from(digit.to_digit(10).unwrap_or(0));
            cents += value * 10i64.pow(exponent - 1 - n as u32);
        }
        let mut minor = whole.saturating_mul(scale).saturating_add(cents);
        if chars.get(i).is_some_and(|c| *c == 'k' || *c == 'K') {
            minor = minor.saturating_mul(1000);
        }
        found.push((written, minor));
    }
    found
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn lowered(text: &str) -> String {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks an LLM rewrite of an offer email: it must state `offer` exactly once, add no other
/// amount (digits or words) the original lacks, and add no promise the original lacks.
pub fn validate_rewrite(
    original: &str,
    offer: Money,
    rewritten: &str,
) -> Result<(), RewriteRejected> {
    let exponent = offer.currency.exponent();
    let found = numbers(rewritten, exponent);
    let matching = found
        .iter()
        .filter(|(_, minor)| *minor == offer.minor)
        .count();
    if matching == 0 {
        return Err(RewriteRejected::AmountChanged);
    }
    if matching > 1 {
        return Err(RewriteRejected::AmountRepeated);
    }
    check_additions(original, rewritten, Some(offer))
}

/// Checks an LLM rewrite of an email without an amount (a goodbye, a question): no amount and
/// no promise the original lacks.
pub fn validate_plain_rewrite(original: &str, rewritten: &str) -> Result<(), RewriteRejected> {
    check_additions(original, rewritten, None)
}

fn check_additions(
    original: &str,
    rewritten: &str,
    offer: Option<Money>,
) -> Result<(), RewriteRejected> {
    let exponent = offer.map_or(2, |o| o.currency.exponent());
    let before: Vec<String> = numbers(original, exponent)
        .into_iter()
        .map(|(written, _)| written)
        .collect();
    for (written, minor) in numbers(rewritten, exponent) {
        if Some(minor) == offer.map(|o| o.minor) {
            continue;
        }
        if !before.contains(&written) {
            return Err(RewriteRejected::AddsAmount { text: written });
        }
    }
    let original_words = words(original);
    for word in words(rewritten) {
        if NUMBER_WORDS.contains(&word.as_str()) && !original_words.contains(&word) {
            return Err(RewriteRejected::AddsAmount { text: word });
        }
    }
    let (old, new) = (lowered(original), lowered(rewritten));
    for phrase in PROMISES {
        if contains_phrase(&new, phrase) && !contains_phrase(&old, phrase) {
            return Err(RewriteRejected::AddsPromise {
                phrase: phrase.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_model::Currency;

    #[test]
    fn every_template_states_the_amount_exactly_once_and_promises_nothing() {
        use MessageKind::*;
        let cases = [
            (Opening, true, 1),
            (Counter, true, 1),
            (Confirmation, true, 1),
            (FollowUp, true, 1),
            (FollowUp, false, 0),
            (Clarify, true, 1),
            (Clarify, false, 0),
            (WalkAway, false, 0),
        ];
        for persona in Persona::ALL {
            for (kind, with_amount, amounts) in cases {
                let list = templates(persona, kind, with_amount);
                assert!(list.len() >= 2, "{persona:?} {kind:?}: too few variants");
                for template in list {
                    assert_eq!(template.matches(AMOUNT).count(), amounts, "{template}");
                    assert!(!template.chars().any(|c| c.is_ascii_digit()), "{template}");
                    assert!(!template.contains('$'), "{template}");
                    let text = lowered(template);
                    for phrase in PROMISES {
                        assert!(!contains_phrase(&text, phrase), "{template}: {phrase}");
                    }
                }
            }
        }
    }

    #[test]
    fn amounts_are_spoken_the_way_people_write_them() {
        assert_eq!(spoken_amount(Money::usd(8_500)), "$85");
        assert_eq!(spoken_amount(Money::usd(8_550)), "$85.50");
        assert_eq!(spoken_amount(Money::usd(125_000)), "$1,250");
        assert_eq!(spoken_amount(Money::new(1_500, Currency::Jpy)), "¥1,500");
    }

    #[test]
    fn the_same_seed_gives_the_same_words_and_seeds_vary_them() {
        let offer = Some(Money::usd(6_000));
        let texts: std::collections::BTreeSet<String> = (0..20)
            .map(|n| {
                compose(
                    Persona::FriendlyLocal,
                    MessageKind::Opening,
                    offer,
                    variant_seed("n", n),
                )
            })
            .collect();
        assert!(texts.len() >= 3);
        assert_eq!(
            compose(Persona::Collector, MessageKind::Counter, offer, 5),
            compose(Persona::Collector, MessageKind::Counter, offer, 5)
        );
    }
}
