//! Simulated sellers: how each one decides on an offer and how they write back.
//!
//! A seller has a hidden market value, a hidden reserve (the least they will take) and a
//! personality. [`SellerMind::answer`] decides what to do with a buyer's offer — never below
//! the reserve, never revealing it — and [`Phrasebook`] writes the reply in the words real
//! Craigslist sellers used (`sim/data/seller_messages.jsonl`, extracted from the
//! CraigslistBargain dialogues), with the price written the many ways people write prices.
//! Everything is deterministic given the RNG.

use std::sync::OnceLock;

use bazaar_memory::Money;
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a seller behaves in a negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// Barely moves from the asking price.
    Firm,
    /// Meets buyers halfway quickly.
    Flexible,
    /// Reasonable, but answers hours or days later.
    SlowToAnswer,
    /// Never answers.
    NeverAnswers,
    /// Takes the first offer at or above the reserve, and counters once otherwise.
    AcceptsFirstOffer,
    /// Haggles over several rounds, conceding a little each time.
    Haggler,
    /// Goes silent for a while, then comes back.
    GhostThenReturns,
    /// Sells to someone else during the negotiation.
    SellsElsewhere,
}

impl Personality {
    /// Every personality.
    pub const ALL: [Personality; 8] = [
        Personality::Firm,
        Personality::Flexible,
        Personality::SlowToAnswer,
        Personality::NeverAnswers,
        Personality::AcceptsFirstOffer,
        Personality::Haggler,
        Personality::GhostThenReturns,
        Personality::SellsElsewhere,
    ];

    /// Share of the gap between their last price and the reserve given up per round.
    fn concession(self) -> (u32, u32) {
        match self {
            Personality::Firm => (1, 5),
            Personality::Flexible => (3, 5),
            Personality::AcceptsFirstOffer => (1, 1),
            Personality::Haggler => (1, 3),
            _ => (2, 5),
        }
    }
}

/// What a seller knows about their own item; the agent never sees the last three fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SellerProfile {
    /// The asking price.
    pub listing_price: Money,
    /// What the item really sells for.
    pub market_value: Money,
    /// The least they will take.
    pub reserve: Money,
    /// How they behave.
    pub personality: Personality,
}

/// What the seller does with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Takes this price (the buyer's offer); a deal they honour.
    Accept {
        /// The agreed total.
        price: Money,
    },
    /// Proposes this price instead.
    Counter {
        /// Their price.
        price: Money,
    },
    /// Says no without a number.
    Reject,
    /// Answers a question, no price talk.
    Answer,
    /// Says it sold to someone else.
    SoldElsewhere,
    /// Does not answer (now).
    Silent,
}

/// One seller's state in one negotiation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SellerMind {
    /// Who they are.
    pub profile: SellerProfile,
    /// Messages answered so far.
    pub rounds: u32,
    /// Their last counter (starts at the asking price).
    pub standing_price: Money,
    /// The deal, once they accepted.
    pub agreed: Option<Money>,
    /// Sold elsewhere: every later message gets the same answer.
    pub sold: bool,
}

impl SellerMind {
    /// A seller at the start of a negotiation.
    pub fn new(profile: SellerProfile) -> SellerMind {
        SellerMind {
            standing_price: profile.listing_price,
            profile,
            rounds: 0,
            agreed: None,
            sold: false,
        }
    }

    /// The listing's price went down to `asking` (and the reserve to at most it): a seller
    /// in the middle of haggling no longer holds out for more than their own ad says.
    pub fn price_dropped(&mut self, asking: Money, reserve: Money) {
        self.profile.listing_price = asking;
        self.profile.reserve = reserve;
        if self.standing_price.minor > asking.minor {
            self.standing_price = asking;
        }
    }

    /// Decides what to do with a buyer's message carrying `offer` (None: a question).
    pub fn answer(&mut self, offer: Option<Money>, rng: &mut StdRng) -> Decision {
        let personality = self.profile.personality;
        if let Some(price) = self.agreed {
            // A deal is a deal: they repeat it.
            return Decision::Accept { price };
        }
        if self.sold {
            return Decision::SoldElsewhere;
        }
        if personality == Personality::NeverAnswers {
            return Decision::Silent;
        }
        if personality == Personality::GhostThenReturns && self.rounds == 1 && rng.random_bool(0.7)
        {
            // Skips this message; the next one gets an answer.
            self.rounds += 1;
            return Decision::Silent;
        }
        if personality == Personality::SellsElsewhere && self.rounds >= 1 && rng.random_bool(0.5) {
            self.sold = true;
            return Decision::SoldElsewhere;
        }
        self.rounds += 1;
        let Some(offer) = offer else {
            return Decision::Answer;
        };
        let reserve = self.profile.reserve;
        if offer.minor
            >= self
                .standing_price
                .minor
                .min(self.profile.listing_price.minor)
        {
            self.agreed = Some(offer);
            return Decision::Accept { price: offer };
        }
        if offer.minor >= reserve.minor {
            let accepts = match personality {
                Personality::AcceptsFirstOffer | Personality::Flexible => true,
                Personality::Firm => offer.minor * 100 >= self.standing_price.minor * 95,
                Personality::Haggler => {
                    self.rounds >= 3 || offer.minor * 100 >= self.standing_price.minor * 90
                }
                _ => self.rounds >= 2 || offer.minor * 100 >= self.standing_price.minor * 92,
            };
            if accepts {
                self.agreed = Some(offer);
                return Decision::Accept { price: offer };
            }
        }
        // Counter: give up part of the way toward the reserve, never below it, never below
        // the offer, and round the way people price things.
        let (num, den) = personality.concession();
        let room = (self.standing_price.minor - reserve.minor).max(0);
        let step = room * i64::from(num) / i64::from(den);
        let mut counter = self.standing_price.minor - step;
        if offer.minor < reserve.minor && rng.random_bool(0.25) && self.rounds > 3 {
            return Decision::Reject;
        }
        counter = round_price(counter).max(reserve.minor).max(offer.minor + 1);
        if counter >= self.standing_price.minor && self.rounds > 1 {
            // Nothing left to give: hold the line in words.
            return Decision::Counter {
                price: self.standing_price,
            };
        }
        self.standing_price = Money::new(counter, reserve.currency);
        Decision::Counter {
            price: self.standing_price,
        }
    }
}

/// Rounds a price in minor units up to what a person would write: whole dollars, then 5s,
/// 10s, 25s or 50s as the amount grows.
fn round_price(minor: i64) -> i64 {
    let dollars = (minor + 99) / 100;
    let unit = match dollars {
        0..=50 => 1,
        51..=200 => 5,
        201..=1_000 => 10,
        1_001..=5_000 => 50,
        _ => 100,
    };
    ((dollars + unit - 1) / unit) * unit * 100
}

#[derive(Debug, Deserialize)]
struct SellerMessage {
    category: String,
    listing_price: i64,
    text: String,
}

/// A reply template and the catalog category it was written about.
#[derive(Debug, Clone)]
struct Template {
    category: String,
    text: String,
}

/// Reply templates drawn from real seller messages, by kind.
#[derive(Debug)]
pub struct Phrasebook {
    counters: Vec<Template>,
    accepts: Vec<Template>,
    rejects: Vec<Template>,
    answers: Vec<Template>,
    sold: Vec<Template>,
}

impl Template {
    fn any(text: &str) -> Template {
        Template {
            category: String::new(),
            text: text.to_string(),
        }
    }
}

/// A template about `category` when there is one (sellers talk about their own kind of
/// item: no "per month" in a bike sale), else any.
fn pick(list: &[Template], category: &str, rng: &mut StdRng) -> String {
    let same: Vec<&Template> = list.iter().filter(|t| t.category == category).collect();
    if same.is_empty() {
        return list[rng.random_range(0..list.len())].text.clone();
    }
    same[rng.random_range(0..same.len())].text.clone()
}

const MESSAGES: &str = include_str!("../data/seller_messages.jsonl");

/// The phrasebook built from the embedded messages (parsed once).
pub fn phrasebook() -> &'static Phrasebook {
    static BOOK: OnceLock<Phrasebook> = OnceLock::new();
    BOOK.get_or_init(|| Phrasebook::from_jsonl(MESSAGES))
}

impl Phrasebook {
    /// Builds templates from JSON lines of `{listing_price, text}`: a message naming exactly
    /// one plausible price becomes a counter template with `{price}` in its place; short
    /// agreeing messages without numbers become acceptances; refusals and plain answers
    /// likewise. Messages that fit no kind are left out.
    pub fn from_jsonl(text: &str) -> Phrasebook {
        let mut book = Phrasebook {
            counters: Vec::new(),
            accepts: Vec::new(),
            rejects: Vec::new(),
            answers: Vec::new(),
            sold: vec![
                Template::any("Sorry, it just sold."),
                Template::any("Sorry man, somebody picked it up this morning."),
                Template::any("It's gone, sorry. Sold it yesterday."),
            ],
        };
        for line in text.lines() {
            let Ok(message) = serde_json::from_str::<SellerMessage>(line) else {
                continue;
            };
            let text = message.text.trim();
            let template = |text: String| Template {
                category: message.category.clone(),
                text,
            };
            if text.len() < 4 || text.len() > 240 {
                continue;
            }
            let lower = text.to_lowercase();
            let numbers = numbers_in(text);
            let plausible: Vec<&(usize, usize, i64)> = numbers
                .iter()
                .filter(|(_, _, value)| {
                    *value * 10 >= message.listing_price * 3
                        && *value * 10 <= message.listing_price * 15
                })
                .collect();
            if numbers.len() == 1 && plausible.len() == 1 {
                let (start, end, _) = *plausible[0];
                // "a little better than $29", "cheaper than $2300", "the $2,250 as a deposit":
                // the number is not the seller's price, so the message is no counter.
                let before = lower[..start].trim_end().trim_end_matches('$').trim_end();
                if before.ends_with("than") || lower[end..].trim_start().starts_with("as a deposit")
                {
                    continue;
                }
                let counter = format!("{}{{price}}{}", &text[..start], &text[end..]);
                if !lower.contains("deal") && !lower.contains('?') {
                    book.counters.push(template(counter));
                }
                continue;
            }
            if !numbers.is_empty() {
                continue;
            }
            let refusing = [
                "too low",
                "can't do",
                "cannot do",
                "no way",
                "not going",
                "won't",
            ];
            if refusing.iter().any(|w| lower.contains(w)) {
                book.rejects.push(template(text.to_string()));
            } else if is_acceptance(&lower) {
                book.accepts.push(template(text.to_string()));
            } else if !lower.contains('?') && text.split_whitespace().count() >= 5 {
                book.answers.push(template(text.to_string()));
            }
        }
        book
    }

    /// Template counts by kind (counters, accepts, rejects, answers).
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.counters.len(),
            self.accepts.len(),
            self.rejects.len(),
            self.answers.len(),
        )
    }

    /// Writes the reply of a seller of a `category` item (a catalog category such as
    /// `"electronics"`) to a decision; `None` for silence.
    pub fn write(&self, decision: &Decision, category: &str, rng: &mut StdRng) -> Option<String> {
        match decision {
            Decision::Silent => None,
            Decision::SoldElsewhere => Some(pick(&self.sold, category, rng)),
            Decision::Reject => Some(pick(&self.rejects, category, rng)),
            Decision::Answer => Some(pick(&self.answers, category, rng)),
            Decision::Counter { price } => {
                let template = pick(&self.counters, category, rng);
                Some(template.replacen("{price}", &spell_price(*price, rng), 1))
            }
            Decision::Accept { price } => {
                // Say the number half the time, so "ok deal" must be read as "your last offer".
                let words = pick(&self.accepts, category, rng);
                if rng.random_bool(0.5) {
                    Some(format!("{words} {} it is.", spell_price(*price, rng)))
                } else {
                    Some(words)
                }
            }
        }
    }
}

/// Whether a real seller's message (lowercased, without numbers) says yes to an offer: a
/// phrase aimed at the deal ("deal", "sounds good", "that works", "it's yours"), or a short
/// yes with nothing else ("Sure thing.", "Ok."). Answers that merely start with "sure" or
/// "yes" ("Sure, I have a bike lock I can include.", "Yes remotes are included."), pitches
/// ("a great deal") and anything hedged ("ok but…", "if…", a question) are not: real buyers
/// would not read them as a yes, so sellers in the world do not use them as one.
fn is_acceptance(lower: &str) -> bool {
    const AIMED: &[&str] = &[
        "deal",
        "you got it",
        "that works",
        "works for me",
        "it's yours",
        "its yours",
        "i'll take it",
        "i can do that",
        "sounds good",
        "sounds great",
        "sounds fair",
        "that's fair",
        "i'll do that",
    ];
    const YES: &[&str] = &[
        "ok", "okay", "sure", "yes", "yeah", "alright", "ya", "yea", "yep", "great", "perfect",
    ];
    const WITH_YES: &[&str] = &[
        "sure",
        "thing",
        "absolutely",
        "then",
        "thanks",
        "ok",
        "okay",
        "fine",
        "great",
        "perfect",
        "deal",
        "it",
        "is",
    ];
    const HEDGES: &[&str] = &["but", "not", "luck", "sorry", "if", "no"];
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphabetic() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let pitch = lower.contains("great deal") || lower.contains("good deal");
    let sounds_like_one = lower.contains("sounds like a good deal");
    let hedged = lower.contains('?')
        || lower.contains("n't")
        || lower.contains("negotiat")
        || words.iter().any(|w| HEDGES.contains(w))
        || (pitch && !sounds_like_one);
    if hedged || words.len() > 12 {
        return false;
    }
    if AIMED.iter().any(|phrase| lower.contains(phrase)) {
        return true;
    }
    words.len() <= 3
        && words.first().is_some_and(|w| YES.contains(w))
        && words[1..].iter().all(|w| WITH_YES.contains(w))
}

/// Number-looking spans in `text` as (byte start, byte end, whole dollars), skipping years,
/// phone-number fragments and model-number-like tokens glued to letters.
fn numbers_in(text: &str) -> Vec<(usize, usize, i64)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start_dollar = bytes[i] == b'$';
        let digits_start = if start_dollar { i + 1 } else { i };
        if digits_start < bytes.len()
            && bytes[digits_start].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            let mut end = digits_start;
            while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b',') {
                end += 1;
            }
            let glued = end < bytes.len() && bytes[end].is_ascii_alphabetic() && bytes[end] != b'k';
            let digits: String = text[digits_start..end]
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect();
            if let (false, Ok(value)) = (glued, digits.parse::<i64>()) {
                let year = !start_dollar && (1950..=2030).contains(&value) && digits.len() == 4;
                if !year {
                    found.push((i, end, value));
                }
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// Writes a price the way a person might: "$1,200", "1200", "1.2k", "twelve hundred".
pub fn spell_price(price: Money, rng: &mut StdRng) -> String {
    let dollars = price.minor / 100;
    let style = rng.random_range(0..4);
    match style {
        0 => Money::new(dollars * 100, price.currency)
            .to_string()
            .trim_end_matches(".00")
            .to_string(),
        1 if dollars >= 1_000 && dollars % 100 == 0 => {
            let k = dollars as f64 / 1000.0;
            format!("{}k", format!("{k:.1}").trim_end_matches(".0"))
        }
        2 => words(dollars).unwrap_or_else(|| dollars.to_string()),
        _ => dollars.to_string(),
    }
}

fn words(dollars: i64) -> Option<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
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
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let below_100 = |n: i64| -> String {
        if n < 20 {
            return ONES[n as usize].to_string();
        }
        let tens = TENS[(n / 10) as usize];
        if n % 10 == 0 {
            tens.to_string()
        } else {
            format!("{tens} {}", ONES[(n % 10) as usize])
        }
    };
    match dollars {
        1..=99 => Some(below_100(dollars)),
        100..=9_999 if dollars % 100 == 0 && dollars / 100 < 20 => {
            Some(format!("{} hundred", below_100(dollars / 100)))
        }
        100..=999 if dollars % 10 == 0 => Some(format!(
            "{} {}",
            ONES[(dollars / 100) as usize],
            below_100(dollars % 100)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn profile(personality: Personality) -> SellerProfile {
        SellerProfile {
            listing_price: Money::usd(20_000),
            market_value: Money::usd(17_000),
            reserve: Money::usd(15_000),
            personality,
        }
    }

    #[test]
    fn after_a_price_drop_the_seller_asks_no_more_than_the_ad() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut mind = SellerMind::new(profile(Personality::Firm));
        let _ = mind.answer(Some(Money::usd(10_000)), &mut rng);
        mind.price_dropped(Money::usd(16_000), Money::usd(15_000));
        for _ in 0..4 {
            match mind.answer(Some(Money::usd(10_000)), &mut rng) {
                Decision::Counter { price } => assert!(price.minor <= 16_000, "{price}"),
                Decision::Reject => {}
                other => panic!("firm seller at 100 of 160: {other:?}"),
            }
        }
        assert_eq!(
            mind.answer(Some(Money::usd(16_000)), &mut rng),
            Decision::Accept {
                price: Money::usd(16_000)
            }
        );
    }

    #[test]
    fn an_offer_below_reserve_draws_a_counter_at_or_above_it() {
        for personality in [
            Personality::Firm,
            Personality::Flexible,
            Personality::Haggler,
            Personality::SlowToAnswer,
        ] {
            let mut rng = StdRng::seed_from_u64(1);
            let mut mind = SellerMind::new(profile(personality));
            let Decision::Counter { price } = mind.answer(Some(Money::usd(10_000)), &mut rng)
            else {
                panic!("{personality:?} should counter");
            };
            assert!(
                price.minor >= 15_000 && price.minor < 20_000,
                "{personality:?}: {price}"
            );
        }
    }

    #[test]
    fn only_a_real_yes_is_an_acceptance() {
        for yes in [
            "ok deal",
            "Sounds good!",
            "That works for me.",
            "Sure thing",
            "Ok.",
            "Yes absolutely!",
            "That sounds like a good deal!",
        ] {
            assert!(is_acceptance(&yes.to_lowercase()), "{yes}");
        }
        for answer in [
            "Sure, I have a bike lock I can include.",
            "Pets are ok but smoking inside is not.",
            "Yes remotes are included.",
            "A great deal",
            "Great condition!",
            "okay, best of luck in your search",
            "Sure I can definitely negotiate the price. What price range were you thinking of...",
            "No deal.",
        ] {
            assert!(!is_acceptance(&answer.to_lowercase()), "{answer}");
        }
    }

    #[test]
    fn an_offer_at_the_reserve_is_accepted_by_an_easy_seller_and_the_deal_holds() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut mind = SellerMind::new(profile(Personality::AcceptsFirstOffer));
        assert_eq!(
            mind.answer(Some(Money::usd(15_000)), &mut rng),
            Decision::Accept {
                price: Money::usd(15_000)
            }
        );
        assert_eq!(
            mind.answer(Some(Money::usd(9_000)), &mut rng),
            Decision::Accept {
                price: Money::usd(15_000)
            }
        );
    }

    #[test]
    fn haggling_converges_without_ever_going_below_the_reserve() {
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let personality = Personality::ALL[(seed % 8) as usize];
            let mut mind = SellerMind::new(profile(personality));
            let mut offer = 12_000;
            for _ in 0..8 {
                match mind.answer(Some(Money::usd(offer)), &mut rng) {
                    Decision::Counter { price } => {
                        assert!(
                            price.minor >= 15_000,
                            "{personality:?} countered below reserve: {price}"
                        );
                        offer = (offer + price.minor) / 2;
                    }
                    Decision::Accept { price } => {
                        assert!(
                            price.minor >= 15_000,
                            "{personality:?} accepted below reserve: {price}"
                        );
                        break;
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn replies_use_real_sellers_words_and_state_the_price() {
        let book = phrasebook();
        let (counters, accepts, rejects, answers) = book.sizes();
        assert!(
            counters > 100 && accepts > 20 && rejects > 10 && answers > 100,
            "{:?}",
            book.sizes()
        );
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let text = book
                .write(
                    &Decision::Counter {
                        price: Money::usd(17_500),
                    },
                    "electronics",
                    &mut rng,
                )
                .unwrap();
            let stated = ["$175", "175", "one seventy five"]
                .iter()
                .any(|p| text.contains(p));
            assert!(stated, "the counter must state the price: {text}");
            assert!(!text.contains("{price}"));
        }
        assert_eq!(book.write(&Decision::Silent, "bike", &mut rng), None);
    }

    #[test]
    fn a_number_that_is_not_the_sellers_price_makes_no_counter() {
        let book = Phrasebook::from_jsonl(concat!(
            r#"{"text": "I think we can do a little better than $29.", "listing_price": 49, "category": "bike"}"#,
            "\n",
            r#"{"text": "You won't find one for cheaper than 45", "listing_price": 50, "category": "bike"}"#,
            "\n",
            r#"{"text": "I can take the $2,250 as a deposit and hold it", "listing_price": 4500, "category": "housing"}"#,
            "\n",
            r#"{"text": "I could do $40 if you pick it up", "listing_price": 50, "category": "bike"}"#,
        ));
        assert_eq!(book.sizes().0, 1, "only the last one is a counter");
    }

    #[test]
    fn sellers_talk_about_their_own_kind_of_item() {
        let mut rng = StdRng::seed_from_u64(6);
        let rent = |text: &str| {
            let lower = text.to_lowercase();
            ["/mo", "month", "rent", "lease", "apartment"]
                .iter()
                .any(|w| lower.contains(w))
        };
        let electronics: Vec<String> = (0..200)
            .filter_map(|_| {
                phrasebook().write(
                    &Decision::Counter {
                        price: Money::usd(9_000),
                    },
                    "electronics",
                    &mut rng,
                )
            })
            .collect();
        assert!(
            !electronics.iter().any(|t| rent(t)),
            "housing talk in an electronics sale"
        );
        let housing = (0..200)
            .filter_map(|_| {
                phrasebook().write(
                    &Decision::Counter {
                        price: Money::usd(190_000),
                    },
                    "housing",
                    &mut rng,
                )
            })
            .filter(|t| rent(t))
            .count();
        assert!(housing > 10, "housing sellers talk about rent ({housing})");
    }

    #[test]
    fn prices_are_written_the_ways_people_write_them() {
        let mut rng = StdRng::seed_from_u64(4);
        let spelled: std::collections::BTreeSet<String> = (0..200)
            .map(|_| spell_price(Money::usd(120_000), &mut rng))
            .collect();
        let expected: std::collections::BTreeSet<String> =
            ["$1,200", "1.2k", "twelve hundred", "1200"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(spelled, expected);
        assert_eq!(words(85).as_deref(), Some("eighty five"));
        assert_eq!(words(350).as_deref(), Some("three fifty"));
    }

    #[test]
    fn numbers_in_skips_years_and_model_numbers() {
        let spans = |t: &str| {
            numbers_in(t)
                .into_iter()
                .map(|(_, _, v)| v)
                .collect::<Vec<_>>()
        };
        assert_eq!(spans("I can do $150 for the 2014 model"), vec![150]);
        assert_eq!(spans("it's an X100 with 3 lenses"), vec![3]);
        assert_eq!(spans("how about 1,200?"), vec![1200]);
    }

    #[test]
    fn the_same_seed_gives_the_same_conversation() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut mind = SellerMind::new(profile(Personality::Haggler));
            let mut lines = Vec::new();
            for offer in [10_000, 12_000, 14_000, 16_000] {
                let decision = mind.answer(Some(Money::usd(offer)), &mut rng);
                lines.push(phrasebook().write(&decision, "furniture", &mut rng));
            }
            lines
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
