//! What to offer next and when to take the seller's price, for each strategy.
//!
//! Prices are integer minor units throughout; the fractions of the time-dependent curve are
//! floats only until the offer is rounded down to whole units the way people write prices.

use bazaar_model::Money;

use super::persona::{StrategyChoice, StrategyKind};

/// The strategy's next move on a seller's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    /// Take the seller's price.
    Accept,
    /// Offer this (never above the cap).
    Offer(Money),
    /// Nothing left to offer: leave politely.
    WalkAway,
}

/// Minor units in one major unit (100 for dollars, 1 for yen).
fn unit(money: Money) -> i64 {
    10i64.pow(money.currency.exponent())
}

/// Rounds an offer down to what a person would write: whole units below 200, then fives up
/// to 1,000, tens up to 5,000, fifties above. Rounding down keeps every offer at or below
/// the amount it was computed from, so never above a ceiling.
pub fn round_offer(amount: Money) -> Money {
    let unit = unit(amount);
    let whole = amount.minor.max(0) / unit;
    let step = match whole {
        0..=199 => 1,
        200..=999 => 5,
        1_000..=4_999 => 10,
        _ => 50,
    };
    Money::new(whole / step * step * unit, amount.currency)
}

/// `share` thousandths of `amount`, rounded down.
fn permille(amount: Money, share: i64) -> Money {
    Money::new(
        (i128::from(amount.minor) * i128::from(share) / 1000) as i64,
        amount.currency,
    )
}

/// The seed's counter-offer rule: our current offer `current`, their counter `theirs`, our
/// ceiling `ceiling`, round `round` (1 for the first counter). Gaps are in whole major units
/// (the seed's dollars); never above the ceiling; rounded down to whole units.
pub fn seed_counter(current: Money, theirs: Money, ceiling: Money, round: u32) -> Money {
    let unit = unit(current);
    let gap = (theirs.minor - current.minor).max(0);
    let flex_tenths = 10 - i64::from(round.min(10));
    let raise = if gap <= 50 * unit {
        gap * 6 / 10
    } else if gap <= 100 * unit {
        gap * 4 * flex_tenths / 100
    } else {
        let by_gap = gap * 3 * flex_tenths / 100;
        let by_room = (ceiling.minor - current.minor).max(0) / 2;
        by_gap.min(by_room)
    };
    let next = Money::new(current.minor + raise, current.currency);
    let rounded = round_offer(next).max(current);
    if rounded.minor > ceiling.minor {
        return ceiling;
    }
    rounded
}

/// The most a strategy offers: the seed rule stops at its persona's share of the asking
/// price; the others at the analyzer's ceiling, and never above the asking price; rounded
/// down to a price people write.
pub(crate) fn cap(choice: &StrategyChoice, asking: Money, ceiling: Money) -> Money {
    let own = match choice.kind {
        StrategyKind::SeedRule => permille(asking, choice.persona.max_permille()),
        _ => asking,
    };
    round_offer(Money::new(
        own.minor.clamp(0, ceiling.minor.max(0)),
        ceiling.currency,
    ))
}

/// The first offer: the opening share of the asking price, at most the cap.
pub(crate) fn opening(choice: &StrategyChoice, asking: Money, cap: Money) -> Money {
    let open = round_offer(permille(asking, choice.opening_permille));
    if open.minor > cap.minor {
        return round_offer(cap);
    }
    open
}

/// The time-dependent offer after `offers_sent` offers: `open + (cap − open)·t^(1/e)` with
/// `t` running from 0 at the opening to 1 at the last allowed offer.
fn time_dependent(choice: &StrategyChoice, open: Money, cap: Money, offers_sent: usize) -> Money {
    let exponent = choice.kind.exponent().unwrap_or(1.0);
    let last_index = choice.max_rounds.saturating_sub(1).max(1) as f64;
    let t = (offers_sent as f64 / last_index).clamp(0.0, 1.0);
    let share = t.powf(1.0 / exponent);
    let room = (cap.minor - open.minor).max(0) as f64;
    let minor = open.minor + (room * share).floor() as i64;
    Money::new(minor.min(cap.minor), cap.currency)
}

/// The strategy's answer to the seller's latest price.
///
/// `our_offers` and `their_prices` are in order (their first price is the asking price when
/// they only refused). The caller enforces the round limit and the ceiling again.
pub(crate) fn respond(
    choice: &StrategyChoice,
    asking: Money,
    cap: Money,
    our_offers: &[Money],
    their_prices: &[Money],
) -> Move {
    let Some(&theirs) = their_prices.last() else {
        return Move::WalkAway;
    };
    let Some(&last) = our_offers.last() else {
        return Move::Offer(opening(choice, asking, cap));
    };
    if theirs.minor <= last.minor {
        return Move::Accept;
    }
    let rounds_left = (choice.max_rounds as usize).saturating_sub(our_offers.len());
    if choice.kind == StrategyKind::SeedRule {
        if theirs.minor <= cap.minor {
            return Move::Accept;
        }
        if rounds_left == 0 {
            return Move::WalkAway;
        }
        return Move::Offer(seed_counter(last, theirs, cap, our_offers.len() as u32));
    }
    if rounds_left == 0 {
        // The last word: their price if we can pay it, else goodbye.
        if theirs.minor <= cap.minor {
            return Move::Accept;
        }
        return Move::WalkAway;
    }
    let open = our_offers[0];
    let mut next = time_dependent(choice, open, cap, our_offers.len());
    if choice.kind == StrategyKind::Adaptive {
        next = next.max(reciprocate(last, theirs, their_prices, asking));
    }
    let next = round_offer(Money::new(next.minor.min(cap.minor), cap.currency));
    // AC_next: their price is no worse than what we would offer next. Nor is it when
    // rounding leaves no step between our last offer and their price (they are one written
    // unit above us): repeating our offer only spends a round.
    if theirs.minor <= next.minor || (next.minor <= last.minor && theirs.minor <= cap.minor) {
        return Move::Accept;
    }
    Move::Offer(next.max(last))
}

/// The adaptive part: close a share of the gap to the seller's price, a larger share when
/// the seller has stopped moving (they are near their floor) and a smaller one while they
/// are still conceding quickly.
fn reciprocate(last: Money, theirs: Money, their_prices: &[Money], asking: Money) -> Money {
    let gap = theirs.minor - last.minor;
    let before = match their_prices.len() {
        0 | 1 => asking,
        n => their_prices[n - 2],
    };
    let their_step = (before.minor - theirs.minor).max(0);
    let share_permille = if their_prices.len() >= 2 && their_step == 0 {
        // holding: they are at or near their floor
        500
    } else if their_step * 100 >= asking.minor * 8 {
        // still giving a lot each round: let them come to us
        200
    } else {
        300
    };
    Money::new(last.minor + gap * share_permille / 1000, last.currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_round(minor: i64, expected: i64) {
        assert_eq!(
            round_offer(Money::usd(minor)),
            Money::usd(expected),
            "{minor}"
        );
    }

    #[test]
    fn offers_round_down_the_way_people_write_prices() {
        check_round(8_599, 8_500);
        check_round(19_950, 19_900);
        check_round(20_300, 20_000);
        check_round(123_400, 123_000);
        check_round(1_234_500, 1_230_000);
        check_round(-5, 0);
    }

    fn check_seed(current: i64, theirs: i64, ceiling: i64, round: u32, expected: i64) {
        let got = seed_counter(
            Money::usd(current * 100),
            Money::usd(theirs * 100),
            Money::usd(ceiling * 100),
            round,
        );
        assert_eq!(got, Money::usd(expected * 100), "{current} vs {theirs}");
    }

    #[test]
    fn the_seed_rule_follows_its_three_gap_bands() {
        check_seed(70, 100, 85, 1, 85); // gap 30: 70 + 18 = 88, capped at 85
        check_seed(70, 100, 95, 1, 88);
        check_seed(300, 380, 400, 1, 325); // gap 80: 300 + 0.4·80·0.9 = 328.8, written 325
        check_seed(300, 600, 500, 2, 370); // gap 300: min(0.3·300·0.8, 0.5·200) = 72
        check_seed(300, 1000, 400, 1, 350); // half the room to the ceiling
    }
}
