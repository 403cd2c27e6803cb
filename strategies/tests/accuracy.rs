//! How well the reader agrees with hand labels of real seller messages.
//!
//! `data/seller_labels.jsonl` holds 378 seller messages from the CraigslistBargain dialogues
//! (`../shared/data/craigslist/dialogues.jsonl`: 110 randomly picked dialogues, every seller
//! message in them, by `data/extract_candidates.py`), each read and labeled by hand with the
//! intent, the price the seller means, and our last offer at that point (annotations in
//! `data/annotations.txt`, joined with the corpus by `data/merge_labels.py`).
//!
//! The reader was developed against the first two thirds of the file (the dev part) and
//! checked on the last third (held out). On the first run of the whole reader:
//!
//! | part      | messages | price | intent |
//! |-----------|----------|-------|--------|
//! | dev       |      252 | 96.4% |  86.5% |
//! | held-out  |      126 | 98.4% |  92.1% |
//! | all       |      378 | 97.1% |  88.4% |
//!
//! The fixes after that were driven by the dev errors (a greeting-question rule, "it is" no
//! longer read as agreement, no accepting or refusing when we have offered nothing), but
//! that run printed the held-out errors too, so the held-out part is no longer blind; after
//! the fixes: dev 99.6% / 98.8%, held-out 98.4% / 99.2%, all 99.2% / 98.9%.
//!
//! Run with `--nocapture` to see the numbers and every disagreement.

use bazaar_memory::Money;
use bazaar_strategies::understand::{understand, Reply};

struct Label {
    id: String,
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

fn labels() -> Vec<Label> {
    let text = include_str!("data/seller_labels.jsonl");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("label line is JSON");
            Label {
                id: v["id"].as_str().unwrap().to_string(),
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
        if !price_ok || !intent_ok {
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
    let labels = labels();
    assert!(labels.len() >= 300, "only {} labels", labels.len());
    let split = labels.len() * 2 / 3;
    let (dev, held_out) = labels.split_at(split);
    let dev_score = score("dev", dev);
    let held_score = score("held-out", held_out);
    let all = Score {
        total: dev_score.total + held_score.total,
        price: dev_score.price + held_score.price,
        intent: dev_score.intent + held_score.intent,
    };
    report("dev", &dev_score);
    report("held-out", &held_score);
    let (price, intent) = report("all", &all);
    assert!(price >= 0.97, "price accuracy {:.1}% < 97%", price * 100.0);
    assert!(
        intent >= 0.90,
        "intent accuracy {:.1}% < 90%",
        intent * 100.0
    );
}
