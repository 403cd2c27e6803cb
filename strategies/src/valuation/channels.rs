//! Fees, shipping and net proceeds per resale channel, and the best channel.

use bazaar_model::Money;

use super::config::{ChannelTerms, ResaleChannel, ValuationConfig};

/// What selling at a market value on one channel brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelQuote {
    pub channel: ResaleChannel,
    /// The price we expect to sell at there (the value times the channel's price share).
    pub sale_price: Money,
    /// The channel's fees on that sale.
    pub fees: Money,
    /// Postage we pay (zero for local pickup or buyer-paid labels).
    pub shipping: Money,
    /// What we keep: sale price − fees − shipping.
    pub net: Money,
    /// Expected days to sell there.
    pub days_to_sell: u32,
}

/// `amount × rate_bp / 10 000`, rounded half up, saturating.
pub(crate) fn share_bp(amount: i64, rate_bp: i64) -> i64 {
    share(amount, rate_bp, 10_000)
}

/// `amount × numerator / denominator`, rounded half away from zero, saturating.
pub(crate) fn share(amount: i64, numerator: i64, denominator: i64) -> i64 {
    if denominator == 0 {
        return 0;
    }
    let product = i128::from(amount) * i128::from(numerator);
    let denominator = i128::from(denominator);
    let half = denominator.abs() / 2;
    let rounded = if (product < 0) != (denominator < 0) {
        (product - half) / denominator
    } else {
        (product + half) / denominator
    };
    clamp_i64(rounded)
}

pub(crate) fn clamp_i64(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The channel's fee on a sale of `sale` minor units.
pub fn fee_minor(terms: &ChannelTerms, sale: i64) -> i64 {
    let sale = sale.max(0);
    let commission = if terms.flat_fee_below_minor > 0 && sale < terms.flat_fee_below_minor {
        terms.flat_fee_minor
    } else {
        share_bp(sale, terms.rate_bp).saturating_add(terms.per_order_minor)
    };
    let payment =
        share_bp(sale, terms.payment_rate_bp).saturating_add(terms.payment_per_order_minor);
    let fee = commission.saturating_add(payment).max(0);
    if fee > 0 {
        fee.max(terms.min_fee_minor)
    } else {
        fee
    }
}

/// Selling `category` at `value` on `terms`' channel, or `None` when the channel does not
/// sell the category or cannot ship it.
pub fn quote(
    terms: &ChannelTerms,
    config: &ValuationConfig,
    category: &str,
    value: Money,
) -> Option<ChannelQuote> {
    if !terms.sells(category) {
        return None;
    }
    let shipping = if terms.local {
        0
    } else {
        let parcel = config.shipping.parcel_minor(category)?;
        if terms.buyer_pays_shipping {
            0
        } else {
            parcel
        }
    };
    let currency = value.currency;
    let sale = share(value.minor.max(0), terms.price_permille.max(0), 1_000);
    let fees = fee_minor(terms, sale);
    let net = sale.saturating_sub(fees).saturating_sub(shipping);
    let base_days = i64::from(config.days_to_sell.days(category));
    let days = share(base_days, terms.days_permille.max(1), 1_000).clamp(1, i64::from(u32::MAX));
    Some(ChannelQuote {
        channel: terms.channel,
        sale_price: Money::new(sale, currency),
        fees: Money::new(fees, currency),
        shipping: Money::new(shipping, currency),
        net: Money::new(net, currency),
        days_to_sell: days as u32,
    })
}

/// Every channel that can sell `category` at `value`, in configuration order.
pub fn quotes(config: &ValuationConfig, category: &str, value: Money) -> Vec<ChannelQuote> {
    config
        .channels
        .iter()
        .filter_map(|terms| quote(terms, config, category, value))
        .collect()
}

/// The quote that keeps the most (the earliest configured on a tie).
pub fn best(quotes: &[ChannelQuote]) -> Option<ChannelQuote> {
    let mut best: Option<ChannelQuote> = None;
    for quote in quotes {
        if best.is_none_or(|b| quote.net.minor > b.net.minor) {
            best = Some(*quote);
        }
    }
    best
}

/// The terms of `channel` in `config`, if configured.
pub fn terms(config: &ValuationConfig, channel: ResaleChannel) -> Option<&ChannelTerms> {
    config.channels.iter().find(|t| t.channel == channel)
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents
mod tests {
    use super::*;

    fn fee(channel: ResaleChannel, sale_cents: i64) -> i64 {
        let config = ValuationConfig::default();
        fee_minor(terms(&config, channel).expect("configured"), sale_cents)
    }

    #[test]
    fn fees_follow_each_marketplaces_table() {
        // eBay: 13.25 % + $0.30 → $100 sale: $13.25 + $0.30
        assert_eq!(fee(ResaleChannel::Ebay, 100_00), 13_55);
        // Mercari: 10 % + 2.9 % + $0.50 → $100: $10 + $2.90 + $0.50
        assert_eq!(fee(ResaleChannel::Mercari, 100_00), 13_40);
        // Poshmark: flat $2.95 under $15, 20 % from $15
        assert_eq!(fee(ResaleChannel::Poshmark, 14_99), 2_95);
        assert_eq!(fee(ResaleChannel::Poshmark, 100_00), 20_00);
        // Facebook shipped: 10 %, at least $0.80
        assert_eq!(fee(ResaleChannel::FacebookShipped, 5_00), 80);
        assert_eq!(fee(ResaleChannel::FacebookShipped, 100_00), 10_00);
        assert_eq!(fee(ResaleChannel::FacebookLocal, 100_00), 0);
        assert_eq!(fee(ResaleChannel::Craigslist, 100_00), 0);
    }

    #[test]
    fn local_only_categories_have_no_shipped_quote() {
        let config = ValuationConfig::default();
        let channels: Vec<ResaleChannel> = quotes(&config, "furniture", Money::usd(300_00))
            .iter()
            .map(|q| q.channel)
            .collect();
        assert_eq!(
            channels,
            [ResaleChannel::FacebookLocal, ResaleChannel::Craigslist]
        );
    }

    #[test]
    fn absurd_amounts_saturate() {
        assert_eq!(share_bp(i64::MAX, 20_000), i64::MAX);
        assert_eq!(share(-3, 1, 2), -2);
        assert_eq!(share(5, 1, 0), 0);
    }
}
