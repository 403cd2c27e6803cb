use bazaar_model::Money;
use bazaar_strategies::understand::{understand, Reply};
#[test]
fn explore() {
    for line in std::fs::read_to_string("/tmp/explore.jsonl")
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let lp = Money::usd((v["listing_price"].as_f64().unwrap() * 100.0).round() as i64);
        let r = understand(&Reply {
            text,
            listing_price: lp,
            our_last_offer: None,
        });
        println!(
            "{}\t{}\t{}\t{}\t{:.2}\t{}",
            v["line"],
            lp,
            r.intent.as_str(),
            r.price.map(|p| p.to_string()).unwrap_or("-".into()),
            r.confidence,
            text.replace('\n', " ")
        );
    }
}
