//! The valuation core on hand-made cases. Each case is `check(listing, comps, expected)`:
//! comparables are written `s300` (sold at $300), `a300` (asking $300), `e300` (sold at
//! €300), with `@0.5` for a similarity below 1; the expected text is the value and the
//! decision. `check` also holds every analysis to the invariants (ceiling within value −
//! fees − shipping − target margin, confidence in 0..=1, no value without enough
//! comparables).

#![allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents

use bazaar_model::{Comparable, Condition, Currency, Marketplace, Money, PriceKind};
use bazaar_strategies::valuation::{
    analyze, Analysis, Candidate, Comp, Decision, NegotiationHint, ResaleChannel, Scoring,
    SellerSignals, ValuationConfig,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
}

/// A listing: asking price in dollars, category, on Craigslist, posted an hour ago.
struct Listing {
    title: &'static str,
    category: &'static str,
    asking_cents: i64,
    condition: Condition,
    marketplace: Marketplace,
    seller: SellerSignals,
}

fn listing(asking: f64) -> Listing {
    Listing {
        title: "Sony WH-1000XM4 wireless headphones",
        category: "electronics",
        asking_cents: (asking * 100.0).round() as i64,
        condition: Condition::Unknown,
        marketplace: Marketplace::Craigslist,
        seller: SellerSignals::default(),
    }
}

impl Listing {
    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            title: self.title,
            category: self.category,
            condition: self.condition,
            asking: Money::usd(self.asking_cents),
            marketplace: self.marketplace,
            posted_at: Some(now() - Duration::hours(1)),
            seller: self.seller,
        }
    }
}

fn comps(spec: &str) -> Vec<Comp> {
    spec.split_whitespace()
        .map(|token| {
            let (head, similarity) = match token.split_once('@') {
                Some((head, s)) => (head, s.parse().expect("similarity")),
                None => (token, 1.0),
            };
            let (kind, currency) = match &head[..1] {
                "s" => (PriceKind::Sold, Currency::Usd),
                "a" => (PriceKind::Asking, Currency::Usd),
                "e" => (PriceKind::Sold, Currency::Eur),
                other => panic!("unknown comparable kind {other:?} in {token:?}"),
            };
            let dollars: f64 = head[1..].parse().expect("price");
            Comp {
                observed_at: Some(now() - Duration::days(3)),
                ..Comp::new(
                    Money::new((dollars * 100.0).round() as i64, currency),
                    kind,
                    similarity,
                )
            }
        })
        .collect()
}

fn describe(analysis: &Analysis) -> String {
    let value = analysis
        .value
        .map_or("value -".to_string(), |v| format!("value {v}"));
    let decision = match &analysis.decision {
        Decision::Pass { reason } => format!("pass: {reason}"),
        Decision::Pursue {
            ceiling, strategy, ..
        } => {
            let hint = match strategy {
                NegotiationHint::PayAsking => "pay asking".to_string(),
                NegotiationHint::Haggle { opening } => format!("haggle from {opening}"),
                NegotiationHint::BelowAsking { opening } => format!("below asking from {opening}"),
            };
            format!("pursue up to {ceiling}, {hint}")
        }
    };
    format!("{value}; {decision}")
}

/// Analyzes with `config` and checks the invariants every analysis must hold.
#[track_caller]
fn analyze_checked(listing: &Listing, spec: &str, config: &ValuationConfig) -> Analysis {
    let candidate = listing.candidate();
    let analysis = analyze(&candidate, &comps(spec), config, now());
    assert!((0.0..=1.0).contains(&analysis.confidence), "{analysis:?}");
    assert!((0.0..=1.0).contains(&analysis.risk.score), "{analysis:?}");
    assert!(analysis.profit_score.is_finite(), "{analysis:?}");
    if analysis.value.is_none() {
        assert!(!analysis.decision.is_pursue(), "no value, yet pursued");
    } else {
        assert!(analysis.comparables.used >= config.min_comparables);
    }
    if let (Some(value), Some(channel), Some(ceiling)) =
        (analysis.value, analysis.channel, analysis.ceiling)
    {
        let target = channel.sale_price.minor * config.target_margin_bp / 10_000;
        let limit = value.minor - channel.fees.minor - channel.shipping.minor - target;
        // the channel's price share only lowers the sale below the value
        assert!(
            ceiling.minor <= limit.max(0),
            "ceiling {ceiling} above value − fees − shipping − target margin ({limit}) in {analysis:?}"
        );
        assert!(ceiling.minor >= 0);
    }
    if let Decision::Pursue {
        ceiling,
        confidence,
        ..
    } = analysis.decision
    {
        assert_eq!(Some(ceiling), analysis.ceiling);
        assert!(ceiling.minor > 0);
        assert_eq!(confidence, analysis.confidence);
    }
    analysis
}

#[track_caller]
fn check(listing: Listing, spec: &str, expected: &str) -> Analysis {
    let analysis = analyze_checked(&listing, spec, &ValuationConfig::default());
    assert_eq!(describe(&analysis), expected, "comparables {spec:?}");
    analysis
}

const AROUND_300: &str = "s300 s310 s290 s305 s295 s320 s285 a330 a315 a300";

#[test]
fn a_clear_bargain_is_pursued_with_a_ceiling_that_keeps_the_target_margin() {
    let analysis = check(
        listing(120.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, pay asking",
    );
    assert_eq!(analysis.comparables.used, 10);
    assert_eq!(analysis.comparables.sold, 7);
    let channel = analysis.channel.expect("a channel");
    assert_eq!(channel.channel, ResaleChannel::FacebookShipped);
    assert!(analysis.margin_bp.unwrap() > 2_500);
    assert!(analysis.roi_bp.unwrap() > 5_000);
    check(
        listing(150.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
}

#[test]
fn asking_above_the_ceiling_within_headroom_is_pursued_below_asking() {
    check(
        listing(195.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, below asking from $147.00",
    );
}

/// The operator's per-item cap bounds the ceiling: below the cap nothing changes, above it
/// the ceiling is the cap, and an asking price no bargain brings under the cap is passed as
/// out of reach (not negotiated, since the gate would not let us buy it).
#[test]
fn the_per_item_price_cap_bounds_the_ceiling() {
    let capped = |cap: i64, asking: f64| {
        let config = ValuationConfig {
            max_price_minor: Some(cap),
            ..ValuationConfig::default()
        };
        describe(&analyze_checked(&listing(asking), AROUND_300, &config))
    };
    assert_eq!(
        capped(300_00, 150.0),
        "value $299.88; pursue up to $174.00, haggle from $127.00"
    );
    assert_eq!(
        capped(160_00, 150.0),
        "value $299.88; pursue up to $160.00, haggle from $127.00"
    );
    assert_eq!(
        capped(100_00, 150.0),
        "value $299.88; pass: out of reach: we may pay at most $100.00 for one item \
         (policy.limits.max_price_per_item)"
    );
}

#[test]
fn a_fair_price_is_passed_for_its_margin() {
    check(
        listing(300.0),
        AROUND_300,
        "value $299.88; pass: margin below target (-14.7% at asking, target 25.0%)",
    );
    check(
        listing(240.0),
        AROUND_300,
        "value $299.88; pass: margin below target (5.3% at asking, target 25.0%)",
    );
}

#[test]
fn a_cold_start_says_so_and_invents_no_value() {
    // items that merely share a word or two (similarity below 0.5) do not count
    let analysis = check(
        listing(50.0),
        "s300@0.45 a310@0.3 s290@0.1",
        "value -; pass: too few comparables (0 of 1)",
    );
    assert!(analysis.needs_comparables());
    assert_eq!(analysis.valuation(), None);
    check(
        listing(50.0),
        "",
        "value -; pass: too few comparables (0 of 1)",
    );
    // one that is the same thing is enough to value it, though one alone is a risk
    check(
        listing(50.0),
        "s300 s310@0.2",
        "value $300.00; pass: too risky (0.69 > 0.60)",
    );
    // and a stricter configuration asks for more
    let strict = ValuationConfig {
        min_comparables: 5,
        ..ValuationConfig::default()
    };
    let analysis = analyze(
        &listing(50.0).candidate(),
        &comps("s300 s310 s290 s305@0.1 s295@0.05"),
        &strict,
        now(),
    );
    let Decision::Pass { reason } = &analysis.decision else {
        panic!("{:?}", analysis.decision)
    };
    assert_eq!(reason.to_string(), "too few comparables (3 of 5)");
}

#[test]
fn scattered_comparables_mean_more_risk_and_less_confidence() {
    let tight = check(
        listing(150.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
    let scattered = check(
        listing(130.0),
        "s200 s420 s250 s380 s300 s160 s450 a300 a220 a360",
        "value $295.81; pursue up to $139.00, haggle from $110.00",
    );
    assert!(scattered.risk.scattered > tight.risk.scattered);
    assert!(scattered.risk.score > tight.risk.score);
    assert!(scattered.confidence < tight.confidence);
    assert!(scattered.spread.unwrap().iqr_bp > tight.spread.unwrap().iqr_bp);
    // the conservative value sits further below the value
    let gap = |a: &Analysis| a.value.unwrap().minor - a.conservative_value.unwrap().minor;
    assert!(gap(&scattered) > gap(&tight));
}

#[test]
fn sold_prices_weigh_more_than_asking_prices() {
    let analysis = check(
        listing(150.0),
        "s240 s250 s260 s255 s245 a300 a310 a290 a320 a305",
        "value $254.92; pursue up to $156.00, haggle from $127.00",
    );
    // halfway between the sold (250) and the scaled asking (290) would be 270
    assert!(analysis.value.unwrap() < Money::usd(265_00));
    // asking prices alone: the scaled asking price
    check(
        listing(150.0),
        "a300 a300 a310 a290 a300",
        "value $285.00; pursue up to $162.00, haggle from $127.00",
    );
}

#[test]
fn other_currencies_are_ignored() {
    let analysis = check(
        listing(150.0),
        &format!("{AROUND_300} e1000 e1200 e9"),
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
    assert_eq!(analysis.comparables.other_currency, 3);
    check(
        listing(150.0),
        "e300 e310 e290 e305 e295 e320",
        "value -; pass: too few comparables (0 of 1)",
    );
}

#[test]
fn absurd_prices_are_handled() {
    check(
        listing(0.0),
        AROUND_300,
        "value $299.88; pass: no asking price (zero or negative)",
    );
    check(
        listing(-25.0),
        AROUND_300,
        "value $299.88; pass: no asking price (zero or negative)",
    );
    check(
        listing(1e9),
        AROUND_300,
        "value $299.88; pass: asking price above the $50,000.00 limit",
    );
    // absurd comparables: zero, negative and a billion are set aside or trimmed
    let analysis = check(
        listing(150.0),
        &format!("{AROUND_300} s0 s-5 s1000000000 a0.01"),
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
    assert_eq!(analysis.comparables.implausible_price, 3);
    assert_eq!(analysis.comparables.outliers, 1);
    // a market of absurd prices is no market
    check(
        listing(1.0),
        "s90000000000 s90000000000 s90000000000 s90000000000 s90000000000",
        "value -; pass: too few comparables (0 of 1)",
    );
}

#[test]
fn the_ceiling_never_exceeds_value_less_fees_shipping_and_margin() {
    let markets = [
        AROUND_300,
        "s20 s22 s18 s21 s19",
        "s12 s14 s13 s15 s11 a16",
        "s2000 s1500 s2600 a1800 a2200 s1900",
        "a5 a6 a5 a7 a5",
        "s100 s300 s50 s400 s120 s80 a500",
    ];
    for spec in markets {
        for category in ["electronics", "phone", "clothing", "furniture", "toys"] {
            for asking in [1.0, 10.0, 50.0, 150.0, 300.0, 1500.0] {
                for scoring in [Scoring::Default, Scoring::Seed] {
                    let config = ValuationConfig {
                        scoring,
                        ..ValuationConfig::default()
                    };
                    let listing = Listing {
                        category,
                        ..listing(asking)
                    };
                    analyze_checked(&listing, spec, &config);
                }
            }
        }
    }
}

#[test]
fn local_only_categories_resell_locally() {
    let analysis = check(
        Listing {
            title: "Mid-century walnut dresser",
            category: "furniture",
            ..listing(120.0)
        },
        "s400 s380 s420 a450 a400 s390",
        "value $396.26; pursue up to $241.00, haggle from $102.00",
    );
    let channel = analysis.channel.unwrap();
    assert_eq!(channel.channel, ResaleChannel::FacebookLocal);
    assert_eq!(channel.shipping, Money::usd(0));
    let only_ebay = ValuationConfig {
        channels: ValuationConfig::default()
            .channels
            .into_iter()
            .filter(|c| c.channel == ResaleChannel::Ebay)
            .collect(),
        ..ValuationConfig::default()
    };
    let listing = Listing {
        category: "furniture",
        ..listing(120.0)
    };
    let analysis = analyze_checked(&listing, "s400 s380 s420 a450 a400 s390", &only_ebay);
    assert_eq!(
        describe(&analysis),
        "value $396.26; pass: no enabled resale channel sells furniture"
    );
}

#[test]
fn categories_we_do_not_resell_are_passed() {
    check(
        Listing {
            category: "housing",
            ..listing(900.0)
        },
        "s1500 s1600 s1400 s1550 s1450",
        "value $1,499.44; pass: we do not resell housing",
    );
}

#[test]
fn red_flags_sellers_and_platforms_move_the_risk() {
    let base = check(
        listing(150.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
    let broken = check(
        Listing {
            title: "Sony WH-1000XM4 headphones - broken, for parts",
            ..listing(150.0)
        },
        AROUND_300,
        "value $299.88; pass: too risky (0.68 > 0.60)",
    );
    assert!(broken.risk.red_flag == 1.0 && broken.risk.score > base.risk.score);
    let trusted = check(
        Listing {
            marketplace: Marketplace::Ebay,
            seller: SellerSignals {
                business: true,
                reliability: Some(1.0),
            },
            ..listing(150.0)
        },
        AROUND_300,
        "value $299.88; pursue up to $174.00, haggle from $127.00",
    );
    assert!(trusted.risk.score < base.risk.score);
    assert!(trusted.confidence > base.confidence);
    // far too cheap to be true
    let suspicious = check(
        listing(40.0),
        AROUND_300,
        "value $299.88; pursue up to $174.00, haggle from $34.00",
    );
    assert_eq!(suspicious.risk.too_good, 1.0);
    assert!(suspicious.confidence < base.confidence);
}

#[test]
fn condition_moves_comparable_prices() {
    let good = Listing {
        condition: Condition::Good,
        ..listing(100.0)
    };
    let candidate = good.candidate();
    let new_comps: Vec<Comp> = comps(AROUND_300)
        .into_iter()
        .map(|c| Comp {
            condition: Condition::New,
            ..c
        })
        .collect();
    let analysis = analyze(&candidate, &new_comps, &ValuationConfig::default(), now());
    // good is worth 80 % of new
    assert_eq!(analysis.value, Some(Money::usd(239_90)));
}

#[test]
fn the_seed_scoring_is_selectable() {
    let seed = ValuationConfig {
        scoring: Scoring::Seed,
        ..ValuationConfig::default()
    };
    let describe_seed =
        |asking: f64| describe(&analyze_checked(&listing(asking), AROUND_300, &seed));
    assert_eq!(
        describe_seed(150.0),
        "value $299.88; pursue up to $180.00, pay asking"
    );
    assert_eq!(
        describe_seed(300.0),
        "value $299.88; pass: score below threshold (0.50 < 0.60)"
    );
    // a thin margin on a fast-selling, fresh listing clears the seed's threshold; ours
    // wants the target margin within negotiating reach
    assert_eq!(
        describe_seed(210.0),
        "value $299.88; pursue up to $180.00, below asking from $153.00"
    );
    check(
        listing(210.0),
        AROUND_300,
        "value $299.88; pass: margin below target (15.3% at asking, target 25.0%)",
    );
}

#[test]
fn index_comparables_become_comps_with_relative_similarity() {
    let found = |score: f32, title: &str, asking: Option<i64>, sold: Option<i64>| Comparable {
        product_id: "p".into(),
        title: title.into(),
        category: "electronics".into(),
        condition: "like_new".into(),
        asking: asking.map(Money::usd),
        sold: sold.map(Money::usd),
        score,
    };
    // similarity: the score over the best score, times the titles' word overlap
    let comps = Comp::from_index(
        "Bose QC35 headphones",
        &[
            found(8.0, "bose qc35 headphones", Some(300_00), Some(280_00)),
            found(4.0, "Bose QC35 headphones", Some(250_00), None),
            found(2.0, "bose qc35", None, None),
            found(8.0, "Bose speaker", Some(90_00), None),
        ],
    );
    assert_eq!(comps.len(), 3);
    assert_eq!(
        (comps[0].price, comps[0].kind, comps[0].similarity),
        (Money::usd(280_00), PriceKind::Sold, 1.0)
    );
    assert_eq!(
        (comps[1].price, comps[1].kind, comps[1].similarity),
        (Money::usd(250_00), PriceKind::Asking, 0.5)
    );
    // one word of the three shared, one more of its own: Dice 2 x 1 / (3 + 2)
    assert_eq!(comps[2].similarity, 0.4);
    assert_eq!(comps[0].condition, Condition::LikeNew);
}

#[test]
fn the_default_config_round_trips_through_serde() {
    let config = ValuationConfig::default();
    let json = serde_json::to_string(&config).unwrap();
    let back: ValuationConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
    // a partial config keeps the defaults for the rest
    let partial: ValuationConfig =
        serde_json::from_str(r#"{"scoring": "seed", "target_margin_bp": 3000}"#).unwrap();
    assert_eq!(partial.scoring, Scoring::Seed);
    assert_eq!(partial.min_comparables, 1);
    assert!(serde_json::from_str::<ValuationConfig>(r#"{"no_such_key": 1}"#).is_err());
}
