//! What a message says apart from its numbers: agreement, refusal, questions, "sold", "still
//! available". Phrases are matched on whole words of the tokenized text (apostrophes dropped,
//! so "can't" is `cant`), numbers standing in as `#`.

use super::tokens::{Kind, Token};

/// The message as space-separated words with a space at each end, numbers as `#`,
/// sentence punctuation kept: `" ok , # it is ! "`.
pub(crate) struct Flat {
    text: String,
}

const NEGATORS: &[&str] = &[
    "not", "no", "cant", "cannot", "wont", "dont", "couldnt", "wouldnt", "never", "isnt", "doesnt",
    "aint", "unable", "nope", "nothing",
];

/// Words that make "deal" a description of the price rather than a yes.
const PRAISE: &[&str] = &[
    "great",
    "good",
    "best",
    "real",
    "nice",
    "sweet",
    "fantastic",
    "amazing",
    "excellent",
    "awesome",
    "incredible",
    "better",
    "killer",
    "solid",
];

impl Flat {
    pub fn new(tokens: &[Token]) -> Flat {
        let mut text = String::from(" ");
        for token in tokens {
            match token.kind {
                Kind::Number => text.push('#'),
                Kind::Word => text.push_str(&token.text),
                Kind::Punct => {
                    let c = token.text.chars().next().unwrap_or(' ');
                    if ".,!?;:".contains(c) {
                        text.push(c);
                    } else {
                        continue;
                    }
                }
            }
            text.push(' ');
        }
        Flat { text }
    }

    /// True when `phrase` occurs as whole words.
    pub fn has(&self, phrase: &str) -> bool {
        self.find(phrase).next().is_some()
    }

    /// True when `phrase` occurs as whole words without "not", "can't", … in the three
    /// words before it.
    pub fn has_affirmed(&self, phrase: &str) -> bool {
        self.find(phrase).any(|at| !self.negated_before(at))
    }

    /// Like [`Flat::has_affirmed`], and "deal" praised ("a great deal", "good deal") is a
    /// sales pitch about the price, not agreement to ours.
    ///
    /// "Done" after "are", "was", "been"… or before "by", "in"… is a past participle ("the
    /// repairs are done", "done by Porsche"), not a yes.
    pub fn has_agreed(&self, phrase: &str) -> bool {
        self.find(phrase).any(|at| {
            let before = self.text[..at].split_whitespace().next_back();
            let after = self.text[at + phrase.len() + 1..].split_whitespace().next();
            // "a deal" alone is an invitation ("let's make a deal"); "have a deal", "got a
            // deal" … are phrases of their own.
            let praised = phrase.starts_with("deal")
                && before.is_some_and(|w| PRAISE.contains(&w) || (phrase == "deal" && w == "a"))
                || phrase == "deal" && after == Some("with");
            let participle = phrase == "done"
                && (before.is_some_and(|w| BEFORE_PARTICIPLE.contains(&w))
                    || after.is_some_and(|w| AFTER_PARTICIPLE.contains(&w)));
            // "The lowest I'll take a month is $1550" sets a floor.
            let floor = before.is_some_and(|w| ["lowest", "least", "minimum"].contains(&w));
            !self.negated_before(at)
                && !praised
                && !participle
                && !floor
                && !self.conditional_before(at)
        })
    }

    /// "…and it's a deal" after an amount in the same sentence ("50 if you can be here in
    /// one hour and it's a deal"): the amount on terms.
    pub fn deal_after_amount(&self) -> bool {
        let has =
            |text: &str, phrases: &[&str]| phrases.iter().any(|p| text.contains(&format!(" {p} ")));
        self.sentences().iter().any(|(sentence, _)| {
            sentence.find(" # ").is_some_and(|at| {
                let (before, rest) = sentence.split_at(at);
                // "If you come up to 9500 we have a deal.", "$55 and I will deliver them deal."
                has(rest, DEAL_ON_TERMS)
                    || before.contains(" if ") && has(rest, DEAL_AFTER_IF)
                    || rest.starts_with(" # and ") && rest.ends_with(" deal ")
            })
        })
    }

    /// Any of `phrases` agreed to (see [`Flat::has_agreed`]).
    pub fn any_agreed(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has_agreed(p))
    }

    fn find(&self, phrase: &str) -> impl Iterator<Item = usize> {
        let needle = format!(" {phrase} ");
        self.text
            .match_indices(needle.as_str())
            .map(|(at, _)| at)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// "If you come get it today…", "if we can make this deal right now": a condition, not
    /// a yes.
    fn conditional_before(&self, at: usize) -> bool {
        self.text[..at]
            .split_whitespace()
            .rev()
            .take_while(|w| !matches!(*w, "." | "!" | "?" | ";" | ","))
            .take(5)
            .any(|w| w == "if")
    }

    fn negated_before(&self, at: usize) -> bool {
        self.text[..at]
            .split_whitespace()
            .rev()
            .take_while(|w| !matches!(*w, "." | "!" | "?" | ";"))
            .take(3)
            .any(|w| NEGATORS.contains(&w))
    }

    /// Any of `phrases` occurs.
    pub fn any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has(p))
    }

    /// Any of `phrases` occurs negated ("I can't go that low").
    pub fn any_negated(&self, phrases: &[&str]) -> bool {
        phrases
            .iter()
            .any(|p| self.find(p).any(|at| self.negated_before(at)))
    }

    /// Any of `phrases` occurs un-negated.
    pub fn any_affirmed(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has_affirmed(p))
    }

    /// The words of the message (numbers as `#`), without punctuation.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.text
            .split_whitespace()
            .filter(|w| !matches!(*w, "." | "," | "!" | "?" | ";" | ":"))
    }

    /// The clauses: the words between any two of `. , ! ? ; :`.
    pub fn clauses(&self) -> Vec<String> {
        self.text
            .split(|c| ".,!?;:".contains(c))
            .map(str::trim)
            .filter(|clause| !clause.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The sentences, each with whether it ended in a question mark.
    pub fn sentences(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut current = String::from(" ");
        for word in self.text.split_whitespace() {
            match word {
                "." | "!" | "?" | ";" => {
                    if current.trim().is_empty() {
                        if word == "?" {
                            if let Some(last) = out.last_mut() {
                                let (_, asked): &mut (String, bool) = last;
                                *asked = true;
                            }
                        }
                        continue;
                    }
                    out.push((
                        std::mem::replace(&mut current, String::from(" ")),
                        word == "?",
                    ));
                }
                "," | ":" => {}
                w => {
                    current.push_str(w);
                    current.push(' ');
                }
            }
        }
        if !current.trim().is_empty() {
            out.push((current, false));
        }
        out
    }
}

/// Agreement aimed at the deal: it answers an offer and says yes to it, whatever else the
/// message goes on to ask ("I can work with that. Want to come look at it?").
pub(crate) const AIMED_ACCEPT: &[&str] = &[
    "deal",
    "deal then",
    "its a deal",
    "it is a deal",
    "is a deal",
    "thats a deal",
    "have a deal",
    "got a deal",
    "got yourself a deal",
    "have yourself a deal",
    "done deal",
    "sounds like a deal",
    "ok deal",
    "okay deal",
    "you got it",
    "youve got it",
    "its yours",
    "its all yours",
    "all yours",
    "come get it",
    "come and get it",
    "that works",
    "that would work",
    "thatll work",
    "that will work",
    "that can work",
    "that could work",
    "would work",
    "works for me",
    "works for us",
    "that is fine",
    "thats fine",
    "i can do that",
    "i could do that",
    "can do that",
    "could do that",
    "we can do that",
    "i can work with that",
    "work with that",
    "make that work",
    "make it work",
    "i accept",
    "ill accept",
    "i will accept",
    "accepted",
    "agreed",
    "i agree",
    "ill take it",
    "i will take it",
    "ill take that",
    "ill take",
    "lets do it",
    "lets do that",
    "thats acceptable",
    "fair enough",
    "thats a reasonable offer",
    "that is a reasonable offer",
    "thats a fair offer",
    "that is a fair offer",
    "im ok with that",
    "im okay with that",
    "ok with that",
    "okay with that",
    "fine with me",
    "fine by me",
    "you win",
    "twist my arm",
    "i can live with that",
    "you bet",
    "youre on",
    "willing to do that",
    "ill do that",
    "i will do that",
    "i take it",
    "thats fair",
    "that is fair",
    "seems fair",
    "seems like a fair price",
    "sounds like a good deal",
    "make that deal",
    "make the deal",
    "# is fine",
    "# works",
    "# will work",
    "will be fine",
    "thatll be fine",
    "do it for that",
    "drive a hard bargain",
    "accept your offer",
    "# would work",
    "willing to accept that",
    "accept that",
    "# is good",
    "# it is",
    "# bucks it is",
    "# dollars it is",
    "is agreeable",
    "settled at",
    "sounds like a great deal",
    "doing business with you",
    "would be fine",
    "go that low if",
    "go that low as long as",
    "thatll do",
    "that will do",
];

/// A yes in so many words: "I accept", "5 bucks it is". ("I can accept $180 if you pick
/// it up" names the seller's price on terms: a counter.)
pub(crate) const EXPLICIT_ACCEPT: &[&str] = &[
    "i accept",
    "ill accept",
    "i will accept",
    "accepted",
    "# it is",
    "# bucks it is",
    "# dollars it is",
];

/// Agreement that settles the deal only when the message neither asks, defers nor talks
/// about something else: "Sounds good!" says yes; "Sounds great. Any dietary restrictions?"
/// and "Sounds good, I will check with my wife" do not.
pub(crate) const SOFT_ACCEPT: &[&str] = &[
    "sounds good",
    "sounds great",
    "sounds fair",
    "sounds reasonable",
    "sounds fine",
    "sounds perfect",
    "sounds like a plan",
    "sounds very fair",
    "acceptable",
    "satisfactory",
    "go ahead",
    "why not",
    "done",
    "that would be great",
];

/// "No problem" says yes to a request: to our offer when there is one, to who knows what
/// when there is not ("No problem. Thanks.").
pub(crate) const NO_PROBLEM: &[&str] = &["no problem", "not a problem"];

/// The seller puts the decision off: no answer yet, whatever agreeable words come with it.
pub(crate) const DEFERS: &[&str] = &[
    "let me think",
    "think about it",
    "think it over",
    "ill let you know",
    "i will let you know",
    "let you know if",
    "let you know tomorrow",
    "get back to you",
    "check with",
    "talk to my",
    "talk with my",
    "ask my",
    "sleep on it",
    "need to think",
    "not sure yet",
    "let me see",
    "let me check",
    "ill see if",
    "ill see what",
    "i will see if",
    "well see",
    "we will see",
    "ill consider",
    "will consider",
    "consider it",
    "look at it first",
    "see it first",
    "check it out first",
    "look at it before",
];

/// Nouns after an agreeable word that make it a description or a greeting, not a yes:
/// "perfect condition", "great shape", "good morning", "good luck".
pub(crate) const DESCRIBED: &[&str] = &[
    "condition",
    "shape",
    "quality",
    "working",
    "order",
    "state",
    "sound",
    "morning",
    "afternoon",
    "evening",
    "night",
    "day",
    "luck",
    "bike",
    "chair",
    "table",
    "car",
    "price",
    "one",
    "ones",
    "to",
    "with",
    "at",
    "and",
];

/// Words before "done" that make it a past participle ("the repairs are done", "all service
/// was done by Porsche") rather than a yes.
pub(crate) const BEFORE_PARTICIPLE: &[&str] = &[
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "get",
    "got",
    "gets",
    "getting",
    "had",
    "has",
    "have",
    "just",
    "recently",
    "already",
    "professionally",
    "work",
    "repairs",
];

/// Words after "done" that make it a past participle ("done by", "done in 2019").
pub(crate) const AFTER_PARTICIPLE: &[&str] = &[
    "by",
    "in",
    "on",
    "at",
    "with",
    "recently",
    "last",
    "this",
    "professionally",
    "and",
];

/// Words that may stand with a yes in a message that is only a yes: "Ok fine!", "Sure,
/// my pleasure.", "Yes I would!", "Great thanks!".
pub(crate) const BARE_YES_FILLERS: &[&str] = &[
    "then", "thanks", "thank", "you", "very", "much", "so", "oh", "well", "my", "pleasure", "i",
    "would", "will", "can", "could", "do", "that", "it", "is", "thing", "sir", "maam", "lol",
    "haha", "again", "deal", "just", "sounds", "me", "to", "guess", "suppose", "for",
];

/// Agreement words that settle the deal only when nothing else in the message speaks
/// against it.
pub(crate) const WEAK_ACCEPT: &[&str] = &[
    "ok",
    "okay",
    "k",
    "alright",
    "all right",
    "sure",
    "yes",
    "yeah",
    "ya",
    "yea",
    "absolutely",
    "yep",
    "yup",
    "perfect",
    "great",
    "cool",
    "awesome",
    "fine",
    "excellent",
    "wonderful",
    "fantastic",
    "good",
];

/// A price offered on terms: "$40 and we have a deal" proposes $40, it agrees to nothing.
pub(crate) const OFFER_ON_TERMS: &[&str] = &[
    "# and you have a deal",
    "# and we have a deal",
    "# and you got a deal",
    "# and youve got a deal",
    "# and we got a deal",
    "# and its a deal",
    "# and its yours",
    "# and it is yours",
    "# and deal",
];

/// How a sentence that names an amount ends when the amount is offered on terms.
const DEAL_ON_TERMS: &[&str] = &[
    "and you have a deal",
    "and we have a deal",
    "and you got a deal",
    "and youve got a deal",
    "and we got a deal",
    "and its a deal",
    "and it is a deal",
    "and its yours",
    "and it is yours",
    "and its all yours",
    "and it is all yours",
    "and you have yourself a deal",
    "and deal",
];

/// How a sentence that names an amount after "if" ends when the amount is the condition.
const DEAL_AFTER_IF: &[&str] = &[
    "we have a deal",
    "you have a deal",
    "we got a deal",
    "you got a deal",
    "its a deal",
    "it is a deal",
    "its yours",
    "it is yours",
];

/// Refusals about a price, a refusal even when we have offered none ("I cannot go any
/// lower").
pub(crate) const REFUSES_PRICE: &[&str] = &[
    "too low",
    "to low",
    "way low",
    "far too low",
    "lowball",
    "lowballing",
    "low balling",
    "low ball",
    "low offer",
    "cant go",
    "cannot go",
    "cant accept",
    "cannot accept",
    "not enough",
    "not low enough",
    "no deal",
    "not budge",
    "wont budge",
    "not budging",
    "not negotiable",
    "non negotiable",
    "nonnegotiable",
    "is firm",
    "firm on",
    "hold firm",
    "stay firm",
    "lower than i",
    "less than i",
    "than i was hoping",
    "low side",
    "cant negotiate",
    "cannot negotiate",
    "wont negotiate",
    "not negotiating",
    "thats a bit low",
    "that is a bit low",
    "thats a little low",
    "that is a little low",
    "thats pretty low",
    "that is pretty low",
    "thats very low",
    "that is very low",
    "thats quite low",
    "thats kind of low",
    "thats not fair",
    "that is not fair",
    "not a fair offer",
    "worth more than that",
    "sorry i cant do that",
    "sorry i cannot do that",
    "sorry i cant do it",
    "wont even cover",
    "doesnt even cover",
    "not even cover",
    "come up a little",
    "come up a bit",
    "come up some",
    "up your offer",
    "not going to find",
    "wont find anything",
    "too far apart",
    "so far apart",
    "are you insane",
    "are you crazy",
    "are you kidding",
    "you must be joking",
    "you must be kidding",
    "you must be crazy",
];

/// Refusals about a price only when negated: "I can't go that low" refuses, "I'll only go
/// that low if you have no pets" agrees on terms, "I can go lower if you pick up" offers.
pub(crate) const REFUSES_PRICE_NEGATED: &[&str] =
    &["that low", "this low", "go lower", "any lower"];

/// A seller hedging before asking what the buyer would pay ("I don't want to go too low,
/// but what did you have in mind?"): no refusal of anything yet.
pub(crate) const HEDGES: &[&str] = &[
    "want to go too low",
    "want to go that low",
    "want to go much lower",
    "want to take too big",
    "want to take a big",
];

/// A refusal taken back: "A little lower than I was hoping to go, but I accept."
pub(crate) const RELENTS: &[&str] = &[
    "but i accept",
    "but ill accept",
    "but i will accept",
    "but ill take it",
    "but i will take it",
    "but ill do it",
    "but i can do it",
    "but i can do that",
    "but ok",
    "but okay",
    "but fine",
    "but alright",
    "but deal",
];

/// Warnings against offers to come, not refusals of one: "open to offers, but no
/// lowballers".
pub(crate) const WARNS_OFF: &[&str] = &[
    "no lowball",
    "no lowballs",
    "no lowballers",
    "no lowballing",
    "no low ball",
    "no low balls",
    "no low balling",
    "no low ballers",
    "no low-balling",
];

/// Refusals of the buyer's offer that are not about a price ("sorry", "unfortunately",
/// "more than"): read as a refusal only when we have offered; [`REFUSES_PRICE`] always.
pub(crate) const REFUSES_OFFER: &[&str] = &[
    "very low",
    "so low",
    "pretty low",
    "quite low",
    "bit low",
    "little low",
    "kind of low",
    "kinda low",
    "rather low",
    "a little lower than",
    "cant do that",
    "cannot do that",
    "cant do it",
    "can not",
    "cant take",
    "couldnt",
    "wouldnt",
    "no way",
    "need more",
    "more than that",
    "lower than what",
    "less than what",
    "than i was wanting",
    "than i wanted",
    "than id like",
    "ill pass",
    "i pass",
    "no thanks",
    "no thank you",
    "not interested",
    "not going to",
    "not gonna",
    "not willing",
    "too little",
    "insult",
    "i dont think so",
    "dont think i can",
    "i am afraid",
    "im afraid",
    "unfortunately",
    "sorry",
    "pretty firm",
    "stick with",
    "stick to",
    "need to get more",
    "have to get more",
    "more than",
    "not that",
    "i need at least",
    "come up",
    "higher",
];

/// The seller holds to the asking price without saying it.
pub(crate) const HOLDS_ASKING: &[&str] = &[
    "price is firm",
    "prices are firm",
    "price is pretty firm",
    "price is going to have to be pretty firm",
    "firm on the price",
    "firm on this",
    "firm with the",
    "firm at the asking",
    "stick with my original",
    "stick with the original",
    "stick to my original",
    "stick with the asking",
    "stick to the asking",
    "full price",
    "full asking",
    "at the asking price",
    "need the asking price",
    "want the asking price",
    "original price",
    "listed price",
    "not budging",
    "wont budge",
    "not going to budge",
    "not negotiable",
];

/// The seller argues for the asking price they name: with it, the price is held, not
/// offered anew.
pub(crate) const DEFENDS_ASKING: &[&str] = &[
    "reasonable asking price",
    "fair asking price",
    "asking price is reasonable",
    "asking price is fair",
    "without any profit",
    "without profit",
    "no profit",
    "someone else for",
    "somebody else for",
    "keep rent at",
    "keep the rent at",
    "keep the price at",
    "keep it at",
    "already priced",
    "priced to sell",
    "already a good price",
    "already a great price",
    "already a fair price",
    "a steal",
    "steal at",
    "only asking",
    "wont see this deal",
    "wont find a better",
    "a killer deal",
    "a very good price",
    "a really good price",
];

/// The item is gone.
pub(crate) const SOLD_ELSEWHERE: &[&str] = &[
    "already sold",
    "just sold",
    "been sold",
    "was sold",
    "got sold",
    "has sold",
    "its sold",
    "it is sold",
    "is sold",
    "are sold",
    "i sold it",
    "we sold it",
    "i sold them",
    "we sold them",
    "sold it already",
    "sold them already",
    "sold it yesterday",
    "sold it today",
    "sold it to someone",
    "sold yesterday",
    "sold today",
    "sold this morning",
    "sold last night",
    "sold to someone",
    "sold to somebody",
    "sold to another",
    "someone bought",
    "somebody bought",
    "someone else bought",
    "someone picked",
    "somebody picked",
    "someone took",
    "somebody took",
    "no longer available",
    "not available anymore",
    "not available any more",
    "isnt available anymore",
    "no longer have",
    "dont have it anymore",
    "dont have it any more",
    "its gone",
    "it is gone",
    "theyre gone",
    "already gone",
    "sale pending",
    "sale is pending",
    "is pending",
    "already rented",
    "been rented",
    "been leased",
    "already leased",
];

/// The item is still for sale.
pub(crate) const STILL_AVAILABLE: &[&str] = &[
    "still available",
    "still for sale",
    "still have it",
    "still have them",
    "still got it",
    "still up for grabs",
    "still on the market",
    "not sold yet",
    "hasnt sold",
    "havent sold",
    "it is available",
    "its available",
    "is still available",
    "yes it is",
    "yes i do",
    "still have the",
    "is available",
    "are available",
    "still available",
];

/// Questions that are only a greeting.
pub(crate) const GREETING_QUESTIONS: &[&str] = &[
    "how are you",
    "how r u",
    "hows it going",
    "how is it going",
    "how are things",
    "how you doing",
    "how are you doing",
    "how is your day",
    "hows your day",
    "hows everything",
    "whats up",
    "sup",
    "and yourself",
    "how about yourself",
    "thank you for asking",
    "thanks for asking",
    "how do you do",
    "you there",
];

/// Questions that only offer to answer more of the buyer's, after answering one ("It's in
/// great condition. Any other questions?"). "Do you have any questions?" on its own does
/// ask.
const OFFERS_TO_ANSWER: &[&str] = &[
    "any other questions",
    "any more questions",
    "any further questions",
];

const INTERROGATIVES: &[&str] = &[
    "what", "when", "where", "which", "who", "why", "how", "do", "does", "did", "are", "is",
    "would", "could", "can", "will", "have", "has", "any", "whats", "hows", "wheres",
];

/// True when a sentence (as from [`Flat::sentences`]) asks something beyond a greeting.
pub(crate) fn asks(sentence: &str, question_mark: bool) -> bool {
    let padded = format!(" {} ", sentence.trim());
    let words: Vec<&str> = padded
        .split_whitespace()
        .skip_while(|w| LEAD_INS.contains(w))
        .collect();
    if GREETING_QUESTIONS
        .iter()
        .any(|g| padded.contains(&format!(" {g} ")))
        && words.len() <= 8
    {
        return false;
    }
    // "Any other questions?" offers to answer; it asks nothing.
    if OFFERS_TO_ANSWER
        .iter()
        .any(|o| padded.contains(&format!(" {o} ")))
        && words.len() <= 7
    {
        return false;
    }
    if words
        .last()
        .is_some_and(|w| ["huh", "eh", "right", "lol", "haha"].contains(w))
    {
        return false;
    }
    // "…let's just meet downtown, okay?" tags a statement; "Is the price okay?" and "Cash
    // okay?" ask.
    let tagged_ok = words.len() >= 4
        && words.last().is_some_and(|w| ["okay", "ok"].contains(w))
        && words.first().is_some_and(|w| !INTERROGATIVES.contains(w));
    if tagged_ok {
        return false;
    }
    // "174? I could do that.": the buyer's number said back, not a question.
    if words == ["#"] {
        return false;
    }
    // "Possibly, it depends on what you are offering."
    if padded.contains(" depends on what you ") {
        return true;
    }
    if question_mark {
        return true;
    }
    let first = words.first().copied().unwrap_or("");
    let second = words.get(1).copied().unwrap_or("");
    // "What you see is what you get." tells.
    if first == "what" && second == "you" {
        return false;
    }
    // "when will i get paid", "can we have the deal": a question without its mark.
    let wh_then_auxiliary = WH_WORDS.contains(&first) && AUXILIARIES.contains(&second);
    let auxiliary_then_we = AUXILIARIES.contains(&first) && second == "we";
    wh_then_auxiliary
        || auxiliary_then_we
        || INTERROGATIVES.contains(&first) && padded.contains(" you ")
}

const WH_WORDS: &[&str] = &["what", "when", "where", "which", "who", "why", "how"];

const AUXILIARIES: &[&str] = &[
    "do", "does", "did", "are", "is", "would", "could", "can", "will", "should", "shall",
];

/// Words that open a sentence without changing what it asks.
const LEAD_INS: &[&str] = &[
    "hey", "hi", "hello", "so", "well", "ok", "okay", "and", "great", "yes", "yeah", "sure", "but",
    "also", "oh", "um", "hmm", "alright", "cool", "then", "now",
];
