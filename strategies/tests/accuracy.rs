//! How well the reader agrees with hand labels of real seller messages.
//!
//! `data/seller_labels.jsonl` holds 468 seller messages from the CraigslistBargain dialogues
//! (`../shared/data/craigslist/dialogues.jsonl`), each read and labeled by hand with the
//! intent, the price the seller means, and our last offer at that point (annotations in
//! `data/annotations.txt`, joined with the corpus by `data/merge_labels.py`), in three parts:
//!
//! - `dev` (252) and `held_out` (126): every seller message of 110 randomly picked dialogues
//!   (`data/extract_candidates.py`), the first two thirds and the last third;
//! - `blind` (90): a second random sample, of messages that name a number (the hard ones for
//!   prices), from other dialogues (`data/extract_fresh.py`), labeled after the reader was
//!   written and before it ever ran on them.
//!
//! The reader was developed against `dev`. Its first run on the whole first sample gave
//! dev 96.4% price / 86.5% intent, held-out 98.4% / 92.1%; the fixes after that were driven
//! by the dev errors, but that run printed the held-out errors too, so `held_out` is no
//! longer blind. After those fixes: dev 99.6% / 98.8%, held-out 98.4% / 99.2%. The first run
//! on `blind` then gave 95.6% price / 95.6% intent (all 468: 98.5% / 98.3%); three of its
//! four misses led to general fixes ("the going rate is 2000" is not an offer, "10%
//! discount", an explicit "I can accept $721" beats a later conditional floor). Now:
//!
//! | part      | messages | price  | intent |
//! |-----------|----------|--------|--------|
//! | dev       |      252 | 100.0% |  99.2% |
//! | held_out  |      126 |  97.6% |  98.4% |
//! | blind     |       90 |  97.8% |  96.7% |
//! | all       |      468 |  98.9% |  98.5% |
//!
//! (Since a yes must answer our offer — issue 26 — held_out lost one: "Yes free shipping to
//! you :)" reads as other, a short yes followed by something else being indistinguishable
//! from "Yes, this a pet friendly community." Dev gained two.)
//!
//! Expect unseen messages to land nearer the first blind run than these.
//!
//! Run with `--nocapture` to see the numbers and every disagreement.

use bazaar_model::Money;
use bazaar_strategies::understand::{understand, Reply};

#[derive(Clone)]
struct Label {
    id: String,
    part: String,
    text: String,
    listing_price: Money,
    our_last_offer: Option<Money>,
    intent: String,
    price: Option<Money>,
}

fn dollars(value: &serde_json::Value) -> Option<Money> {
    let number = value.as_f64()?;
    Some(Money::usd((number * 100.0).round() as i64))
}

fn labels(text: &str) -> Vec<Label> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("label line is JSON");
            Label {
                id: v["id"].as_str().unwrap().to_string(),
                part: v["part"].as_str().unwrap().to_string(),
                text: v["text"].as_str().unwrap().to_string(),
                listing_price: dollars(&v["listing_price"]).unwrap(),
                our_last_offer: dollars(&v["our_last_offer"]),
                intent: v["intent"].as_str().unwrap().to_string(),
                price: dollars(&v["price"]),
            }
        })
        .collect()
}

struct Score {
    total: usize,
    price: usize,
    intent: usize,
}

fn score(name: &str, labels: &[Label]) -> Score {
    let mut score = Score {
        total: labels.len(),
        price: 0,
        intent: 0,
    };
    for label in labels {
        let reading = understand(&Reply {
            text: &label.text,
            listing_price: label.listing_price,
            our_last_offer: label.our_last_offer,
        });
        let price_ok = reading.price == label.price;
        let intent_ok = reading.intent.as_str() == label.intent;
        score.price += usize::from(price_ok);
        score.intent += usize::from(intent_ok);
        // A blind part stays blind: its misses are counted, never shown.
        if (!price_ok || !intent_ok) && !name.ends_with("blind") {
            println!(
                "{name} {}: {:?}\n    listing {} last {:?}\n    want {} {:?}, got {} {:?} ({:.2})",
                label.id,
                label.text,
                label.listing_price,
                label.our_last_offer.map(|m| m.to_string()),
                label.intent,
                label.price.map(|m| m.to_string()),
                reading.intent.as_str(),
                reading.price.map(|m| m.to_string()),
                reading.confidence,
            );
        }
    }
    score
}

fn report(name: &str, score: &Score) -> (f64, f64) {
    let price = score.price as f64 / score.total as f64;
    let intent = score.intent as f64 / score.total as f64;
    println!(
        "{name:<9} {:>4} messages  price {:>5.1}%  intent {:>5.1}%",
        score.total,
        price * 100.0,
        intent * 100.0
    );
    (price, intent)
}

#[test]
fn reads_hand_labeled_seller_messages() {
    let labels = labels(include_str!("data/seller_labels.jsonl"));
    assert!(labels.len() >= 300, "only {} labels", labels.len());
    let mut all = Score {
        total: 0,
        price: 0,
        intent: 0,
    };
    let mut lines = Vec::new();
    for part in ["dev", "held_out", "blind"] {
        let labels: Vec<Label> = labels.iter().filter(|l| l.part == part).cloned().collect();
        assert!(!labels.is_empty(), "no {part} labels");
        let part_score = score(part, &labels);
        all.total += part_score.total;
        all.price += part_score.price;
        all.intent += part_score.intent;
        lines.push((part, part_score));
    }
    assert_eq!(all.total, labels.len(), "every label belongs to a part");
    for (part, part_score) in &lines {
        report(part, part_score);
    }
    let (price, intent) = report("all", &all);
    assert!(price >= 0.97, "price accuracy {:.1}% < 97%", price * 100.0);
    assert!(
        intent >= 0.90,
        "intent accuracy {:.1}% < 90%",
        intent * 100.0
    );
}

/// 567 more real seller messages (`data/more_seller_labels.jsonl`, from
/// `../shared/data/craigslist/more_seller_messages.jsonl`; picked, labelled and joined as
/// `data/merge_more_labels.py` says), labelled before the reader ever ran on them. Each
/// stands alone: no earlier turn, no offer of ours. `more_dev` (198) is to develop against;
/// `more_blind` (99) shows only its score.
///
/// The first run, before any change for them:
///
/// | part        | messages | price  | intent |
/// |-------------|----------|--------|--------|
/// | more_dev    |      198 |  99.0% |  77.8% |
/// | more_blind  |       99 |  96.0% |  70.7% |
///
/// Most misses were replies read with no offer of ours to answer (each message here stands
/// alone): "You have a deal!", "I cannot go any lower." read as other, because the reader
/// took a yes or a no only as an answer to a known offer. It now reads an aimed yes as
/// agreeing to something it cannot name (asked about before anything is done), a yes with
/// a price as that price agreed, and a refusal about a price as a refusal; a bare "yes", a
/// warning ("no lowballers") or an invitation ("let's make a deal") stays other. After that
/// (the first labels moved: dev 99.2 % intent as before, held_out 97.6 % from 98.4 %, blind
/// 95.6 % from 96.7 %):
///
/// | part        | messages | price  | intent |
/// |-------------|----------|--------|--------|
/// | more_dev    |      198 |  99.0% |  93.4% |
/// | more_blind  |       99 |  96.0% |  82.8% |
///
/// 120 more (`batch4_dev`, 80, and `batch4_blind`, 40: lines not labelled before, picked
/// at random with a fixed seed) were labelled the same way before the reader ran on them.
/// Their first run:
///
/// | part          | messages | price  | intent |
/// |---------------|----------|--------|--------|
/// | batch4_dev    |       80 |  93.8% |  87.5% |
/// | batch4_blind  |       40 |  97.5% |  90.0% |
///
/// Fixes from the dev misses of both batches: "take 2000 off" is a discount, not a year;
/// "let's meet in the middle at 700" closes over "I want 800 and you want 600"; "$325 for
/// all 4" is judged against four listings; "that low", "go lower" and "any lower" refuse
/// only when negated ("I'll only go that low if you have no pets" agrees on terms); "I
/// can't negotiate on the price" and "on the low side" refuse; "I don't want to go too
/// low, but what did you have in mind?" is a hedge before a question; "…lower than I was
/// hoping, but I accept" relents; what the seller once wanted ("I wanted $75") and the
/// "actual"/"original" price are references; "Any other questions?" asks nothing. Now:
///
/// | part          | messages | price  | intent |
/// |---------------|----------|--------|--------|
/// | more_dev      |      198 |  99.5% |  94.4% |
/// | more_blind    |       99 |  96.0% |  82.8% |
/// | batch4_dev    |       80 |  98.8% |  95.0% |
/// | batch4_blind  |       40 | 100.0% |  90.0% |
///
/// 150 more (`batch5_dev`, 100, and `batch5_blind`, 50: lines not labelled before, seed
/// 2712, split with seed 5) were labelled by a second annotator who never saw the reader's
/// code or output, learning the conventions from the labels above. Their first run:
///
/// | part          | messages | price  | intent |
/// |---------------|----------|--------|--------|
/// | batch5_dev    |      100 |  96.0% |  85.0% |
/// | batch5_blind  |       50 | 100.0% |  88.0% |
///
/// Fixes from the dev misses: arguing for the asking price ("a reasonable asking price", "I
/// can sell it to someone else for my asking price", "a steal at 3500", "I'm only asking
/// 1000") holds it — a refusal at that price, where naming it as a floor ("can't go lower
/// than $3000") stays a counter; a yes in so many words stands before a checking question
/// ("5 bucks it is?"); "could do that" agrees; an amount before "…and it's a deal" is on
/// terms however long the terms, and so is a range ("anything around 100-150 would
/// work"); "I will drop it 5" is a discount; "when will I get paid" and "can we have the
/// deal" ask; "are you insane?" refuses. Now:
///
/// | part          | messages | price  | intent |
/// |---------------|----------|--------|--------|
/// | more_dev      |      198 |  99.5% |  97.5% |
/// | more_blind    |       99 |  96.0% |  82.8% |
/// | batch4_dev    |       80 |  98.8% |  95.0% |
/// | batch4_blind  |       40 | 100.0% |  90.0% |
/// | batch5_dev    |      100 |  97.0% |  92.0% |
/// | batch5_blind  |       50 | 100.0% |  88.0% |
///
/// 150 more picked among messages that look hard (`batch6_dev`, 100, and `batch6_blind`, 50:
/// lines not labelled before that name a number before a question mark, "middle", "paid",
/// "miles", "firm", "lowest", "deal", "works", "accept", "yours", or open with a bare yes;
/// seed 2812, split with seed 6), labelled the same way by an annotator who never saw the
/// reader. Their first run: dev 96.0 % / 87.0 %, blind 100.0 % / 84.0 %. A second
/// annotator, blind to the first's labels and to the reader, relabelled `more_blind`
/// (`data/more_blind_second_annotator.jsonl`): the
/// two agree on 93.9 % of intents and 99.0 % of prices, so a reader can do much better
/// there than it does.
///
/// Fixes from the dev misses: a yes after "if" is a condition ("If you come get it today I
/// can give it to you for $45"), an amount before "…we have a deal" after "if" is on terms,
/// "the lowest I'll take" is a floor, "Fine." / "Ok fine!" gives in, "yes, but you have to
/// get it today" agrees on terms, "I couldn't just let it go for $1000" refuses six words
/// on, "No way", "that's a bit low" and "too far apart" refuse with no offer named, "and
/// yourself?" is a greeting.
///
/// 300 more: `batch7` (150 at random, seed 2912) and `batch8` (150 that look hard, seed
/// 3012), each split 100/50 into dev and blind (seeds 7 and 8), labelled blind to the
/// reader. (While looking for misreadings among the ~2,400 messages not labelled then, some
/// 200 of them were skimmed; a few of those may have been picked into these batches.)
/// Their first run:
///
/// | part          | messages | price  | intent |
/// |---------------|----------|--------|--------|
/// | batch7_dev    |      100 |  97.0% |  84.0% |
/// | batch7_blind  |       50 |  94.0% |  80.0% |
/// | batch8_dev    |      100 |  95.0% |  92.0% |
/// | batch8_blind  |       50 |  96.0% |  94.0% |
///
/// Fixes from their dev misses: "174? I could do that." (the buyer's number said back, then a
/// yes), "35 will work", "willing to accept that"; "no problem" is a yes only to an offer of
/// ours; "it depends on what you are offering" asks, "what you see is what you get" and
/// "…meet downtown, okay?" do not; the market's price ("you won't find anything cheaper
/// than $2300"), a deposit ("take the $2,250 as a deposit") and a difference ("150 less than
/// what I am selling it") are not the seller's price; "decrease the price by $20" is a
/// discount; the full price asked for on terms ("…if you'd be willing to pay full price") is
/// a counter; "that won't even cover the taxes" and "if you could come up a little more"
/// refuse.
///
/// 300 more: `batch9` (150 at random, seed 3112) and `batch10` (150 that look hard, seed
/// 3212), split the same way (seeds 9 and 10). Their first run:
///
/// | part           | messages | price  | intent |
/// |----------------|----------|--------|--------|
/// | batch9_dev     |      100 |  96.0% |  91.0% |
/// | batch9_blind   |       50 |  94.0% |  86.0% |
/// | batch10_dev    |      100 |  99.0% |  88.0% |
/// | batch10_blind  |       50 |  94.0% |  80.0% |
///
/// Fixes from their dev misses: a soft yes with an amount agrees to it ("Sounds good. let's
/// do 9.", "That would be acceptable, at $350") unless the amount is the asking price ("Sure
/// go ahead, my asking price is $9200"); "that will be fine", "we can do it for that", "you
/// drive a hard bargain", "I'm willing to accept your offer if…" agree; "$55 and I will
/// deliver them deal." sets terms; what it was asking stays a reference whatever follows
/// ("I was asking $10, if you pick up I can do $6"); "a little better than $29", "I don't
/// think I can go as low as $1850", "sorry I can't do that" and "worth more than that"
/// refuse; "a very good price" defends the asking price. Now:
///
/// | part           | messages | price  | intent |
/// |----------------|----------|--------|--------|
/// | more_dev       |      198 |  99.5% |  97.5% |
/// | more_blind     |       99 |  96.0% |  85.9% |
/// | batch4_dev     |       80 |  98.8% |  96.2% |
/// | batch4_blind   |       40 | 100.0% |  90.0% |
/// | batch5_dev     |      100 |  97.0% |  94.0% |
/// | batch5_blind   |       50 | 100.0% |  90.0% |
/// | batch6_dev     |      100 |  97.0% |  93.0% |
/// | batch6_blind   |       50 | 100.0% |  90.0% |
/// | batch7_dev     |      100 |  99.0% |  92.0% |
/// | batch7_blind   |       50 |  94.0% |  80.0% |
/// | batch8_dev     |      100 |  97.0% |  98.0% |
/// | batch8_blind   |       50 |  96.0% |  96.0% |
/// | batch9_dev     |      100 |  98.0% |  95.0% |
/// | batch9_blind   |       50 |  94.0% |  86.0% |
/// | batch10_dev    |      100 | 100.0% |  96.0% |
/// | batch10_blind  |       50 |  94.0% |  82.0% |
///
/// The goal is the first labels' (97 % price, 90 % intent on each part). Short of it:
/// `more_blind` (price and intent), `batch7_blind`, `batch9_blind` and `batch10_blind`
/// (price and intent), `batch8_blind` (price). Each batch's fixes moved the blind parts
/// labelled before it by a point or two; a new blind part's first run has stayed at 80–94 %
/// intent. The floors below are the latest figures, so the reader can only get better.
#[test]
fn reads_more_real_seller_messages() {
    let labels = labels(include_str!("data/more_seller_labels.jsonl"));
    assert!(labels.len() >= 1310, "only {} labels", labels.len());
    for (part, floor_price, floor_intent) in [
        ("more_dev", 0.994, 0.974),
        ("more_blind", 0.959, 0.858),
        ("batch4_dev", 0.987, 0.961),
        ("batch4_blind", 0.999, 0.899),
        ("batch5_dev", 0.969, 0.939),
        ("batch5_blind", 0.999, 0.899),
        ("batch6_dev", 0.969, 0.929),
        ("batch6_blind", 0.999, 0.899),
        ("batch7_dev", 0.989, 0.919),
        ("batch7_blind", 0.939, 0.799),
        ("batch8_dev", 0.969, 0.979),
        ("batch8_blind", 0.959, 0.959),
        ("batch9_dev", 0.979, 0.949),
        ("batch9_blind", 0.939, 0.859),
        ("batch10_dev", 0.999, 0.959),
        ("batch10_blind", 0.939, 0.819),
    ] {
        let labels: Vec<Label> = labels.iter().filter(|l| l.part == part).cloned().collect();
        assert!(!labels.is_empty(), "no {part} labels");
        let (price, intent) = report(part, &score(part, &labels));
        assert!(
            price >= floor_price,
            "{part}: price accuracy {:.1}% fell below {:.1}%",
            price * 100.0,
            floor_price * 100.0
        );
        assert!(
            intent >= floor_intent,
            "{part}: intent accuracy {:.1}% fell below {:.1}%",
            intent * 100.0,
            floor_intent * 100.0
        );
    }
}
