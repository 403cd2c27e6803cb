//! The books as the operator reads them: `bazaar inventory` (items, their cost and where
//! they are listed) and `bazaar pnl` (profit and loss per item and overall, from the booked
//! transactions: sales less cost of goods, fees, postage and refunds) and `bazaar trends`
//! (price and volume per category over time).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use bazaar_config::Config;
use bazaar_memory::{
    ChannelListing, ChannelStatus, Currency, InventoryItem, ItemId, ItemStatus, Money, SledStore,
    Store, Transaction, TransactionKind,
};
use chrono::{DateTime, Utc};

/// Writes one line per item (newest first), only those in `status` when given; returns how
/// many were written.
pub fn write_inventory(
    store: &SledStore,
    status: Option<ItemStatus>,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let mut items = match status {
        Some(status) => store.with_status::<InventoryItem>(status)?,
        None => store.all::<InventoryItem>()?,
    };
    items.sort_by(|a, b| b.acquired_at.cmp(&a.acquired_at).then(b.id.cmp(&a.id)));
    for item in &items {
        let channels: Vec<String> = store
            .find(ChannelListing::BY_ITEM, &item.id.to_bytes())?
            .iter()
            .filter(|c| {
                matches!(
                    c.lifecycle.status,
                    ChannelStatus::Live | ChannelStatus::AwaitingOperator | ChannelStatus::Sold
                )
            })
            .map(|c| format!("{}:{}@{}", c.marketplace, c.lifecycle.status, c.price))
            .collect();
        writeln!(
            out,
            "{}  {:<9} {:>10}  {}  {}",
            item.id,
            item.lifecycle.status.to_string(),
            item.cost_basis.to_string(),
            item.title,
            if channels.is_empty() {
                "-".to_string()
            } else {
                channels.join(" ")
            }
        )?;
    }
    Ok(items.len())
}

/// One item's profit and loss, in minor units of its currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemPnl {
    /// What buyers paid.
    pub revenue: i64,
    /// Cost of goods (purchases).
    pub cost: i64,
    /// Marketplace fees.
    pub fees: i64,
    /// Postage.
    pub shipping: i64,
    /// Money returned to buyers.
    pub refunds: i64,
}

impl ItemPnl {
    /// Revenue less everything spent.
    pub fn profit(&self) -> i64 {
        self.revenue - self.cost - self.fees - self.shipping - self.refunds
    }

    fn add(&mut self, t: &Transaction) {
        let amount = t.amount.minor;
        match t.kind {
            TransactionKind::Sale => self.revenue += amount,
            TransactionKind::Purchase => self.cost += amount,
            TransactionKind::Fee => self.fees += amount,
            TransactionKind::Shipping => self.shipping += amount,
            TransactionKind::Refund => self.refunds += amount,
        }
    }

    fn merge(&mut self, other: &ItemPnl) {
        self.revenue += other.revenue;
        self.cost += other.cost;
        self.fees += other.fees;
        self.shipping += other.shipping;
        self.refunds += other.refunds;
    }
}

/// Profit and loss from the transactions booked at or after `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pnl {
    /// Per item (transactions without an item under `None`), in one currency.
    pub items: BTreeMap<Option<ItemId>, ItemPnl>,
    /// Everything together.
    pub total: ItemPnl,
    /// The currency every amount is in.
    pub currency: Currency,
}

impl Pnl {
    /// The purchase cost of the items with no sale booked: the stock still held, at cost.
    pub fn stock_at_cost(&self) -> i64 {
        self.items
            .iter()
            .filter(|(item, p)| item.is_some() && p.revenue == 0)
            .map(|(_, p)| p.cost)
            .sum()
    }

    /// The books on an accrual basis: the cost of goods is what the items sold cost, and
    /// stock still held is an asset at cost, not yet an expense. Fees, postage and refunds
    /// count when paid, sold or not. `total` is the cash basis: every purchase spent.
    pub fn sold(&self) -> ItemPnl {
        ItemPnl {
            cost: self.total.cost - self.stock_at_cost(),
            ..self.total.clone()
        }
    }
}

/// Adds up the books since `since`; refuses a mix of currencies.
pub fn pnl(store: &SledStore, since: Option<DateTime<Utc>>) -> anyhow::Result<Pnl> {
    let mut items: BTreeMap<Option<ItemId>, ItemPnl> = BTreeMap::new();
    let mut total = ItemPnl::default();
    let mut currency = None;
    for t in store.all::<Transaction>()? {
        if since.is_some_and(|since| t.at < since) {
            continue;
        }
        match currency {
            None => currency = Some(t.amount.currency),
            Some(c) if c != t.amount.currency => anyhow::bail!(
                "the books mix {} and {}; a per-currency report is not built yet",
                c.code(),
                t.amount.currency.code()
            ),
            Some(_) => {}
        }
        items.entry(t.item).or_default().add(&t);
    }
    for item in items.values() {
        total.merge(item);
    }
    Ok(Pnl {
        items,
        total,
        currency: currency.unwrap_or(Currency::Usd),
    })
}

/// Writes the P&L: one line per item, then the total.
pub fn write_pnl(store: &SledStore, pnl: &Pnl, out: &mut impl Write) -> anyhow::Result<()> {
    let money = |minor: i64| Money::new(minor, pnl.currency).to_string();
    writeln!(
        out,
        "{:<26}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  title",
        "item", "revenue", "cost", "fees", "shipping", "refunds", "profit"
    )?;
    let line = |out: &mut dyn Write, name: &str, p: &ItemPnl, title: &str| {
        writeln!(
            out,
            "{:<26}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {title}",
            name,
            money(p.revenue),
            money(p.cost),
            money(p.fees),
            money(p.shipping),
            money(p.refunds),
            money(p.profit()),
        )
    };
    for (item, p) in &pnl.items {
        let (name, title) = match item {
            Some(id) => (
                id.to_string(),
                store
                    .get::<InventoryItem>(id)?
                    .map(|i| i.title)
                    .unwrap_or_default(),
            ),
            None => ("-".to_string(), "(no item)".to_string()),
        };
        line(out, &name, p, &title)?;
    }
    line(out, "total", &pnl.total, "(cash: every purchase spent)")?;
    line(
        out,
        "sold",
        &pnl.sold(),
        &format!(
            "(accrual: {} of stock held at cost)",
            money(pnl.stock_at_cost())
        ),
    )?;
    Ok(())
}

/// What `bazaar trends` shows: its arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrendQuery {
    /// Only this category (e.g. electronics, bike).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// Only products whose title names this brand (a whole word, any case).
    #[arg(long, value_name = "B")]
    pub brand: Option<String>,
    /// How many days back from the latest price seen.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub days: u32,
    /// Days per row.
    #[arg(long, value_name = "P", default_value_t = 7)]
    pub period_days: u32,
}

/// `bazaar inventory`.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// Only items in this state (draft, in_stock, listed, sold, shipped, returned,
    /// archived).
    #[arg(long, value_name = "S", value_parser = super::parse_item_status)]
    status: Option<ItemStatus>,
}

/// `bazaar pnl`.
#[derive(Debug, clap::Args)]
pub struct PnlArgs {
    /// Only transactions booked at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
}

/// Prints the items we own.
pub fn inventory(config: &Config, args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(&config.store.data_dir)?;
    let shown = write_inventory(&store, args.status, &mut std::io::stdout().lock())?;
    if shown == 0 {
        eprintln!("no items");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints profit and loss.
pub fn profit_and_loss(config: &Config, args: PnlArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(&config.store.data_dir)?;
    let pnl = pnl(&store, args.since)?;
    write_pnl(&store, &pnl, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// Prints price and volume per category over time.
pub fn trend_report(config: &Config, query: TrendQuery) -> anyhow::Result<ExitCode> {
    let store = super::open_store(&config.store.data_dir)?;
    let rows = write_trends(&store, &query, &mut std::io::stdout().lock())?;
    if rows == 0 {
        eprintln!("no prices in memory for that selection; `bazaar run` (or `bazaar sim --data-dir DIR`) fills it");
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes price and volume per category and period from the product history in memory:
/// asking prices seen (listings and price changes) and prices paid, with their quartiles.
/// The window ends with the day of the latest price seen (so a copied or simulated store
/// reads the same later). Returns the rows written.
pub fn write_trends(
    store: &SledStore,
    query: &TrendQuery,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    use bazaar_memory::ProductRecord;
    use bazaar_strategies::trends::{trends, PriceObservation, PriceStats};

    let brand = query.brand.as_ref().map(|b| b.to_lowercase());
    let mut observations = Vec::new();
    for product in store.all::<ProductRecord>()? {
        if query
            .category
            .as_ref()
            .is_some_and(|c| !product.category.eq_ignore_ascii_case(c))
        {
            continue;
        }
        if let Some(brand) = &brand {
            let title = product.title.to_lowercase();
            let named = title
                .split(|c: char| !c.is_alphanumeric())
                .any(|word| word == brand.as_str());
            if !named {
                continue;
            }
        }
        observations.extend(product.price_history.iter().map(|point| PriceObservation {
            category: product.category.clone(),
            at: point.at,
            price: point.price,
            kind: point.kind,
        }));
    }
    let Some(latest) = observations.iter().map(|o| o.at).max() else {
        return Ok(0);
    };
    // Whole days: up to the end of the latest price's day (UTC).
    let end = (latest.date_naive() + chrono::Days::new(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let from = end - chrono::Duration::days(i64::from(query.days.max(1)));
    let rows = trends(&observations, from, end, query.period_days);
    let cell = |stats: &Option<PriceStats>| match stats {
        Some(s) => format!(
            "{:>5} {:>10} {:>10} {:>10}",
            s.count,
            s.p25.to_string(),
            s.median.to_string(),
            s.p75.to_string()
        ),
        None => format!("{:>5} {:>10} {:>10} {:>10}", 0, "-", "-", "-"),
    };
    writeln!(
        out,
        "{:<14} {:<10}  {:>5} {:>10} {:>10} {:>10}  {:>5} {:>10} {:>10} {:>10}",
        "category", "from", "asked", "p25", "median", "p75", "sold", "p25", "median", "p75"
    )?;
    for row in &rows {
        writeln!(
            out,
            "{:<14} {:<10}  {}  {}",
            row.category,
            row.period_start.format("%Y-%m-%d"),
            cell(&row.asking),
            cell(&row.sold)
        )?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::{ItemPnl, Pnl};
    use bazaar_memory::{Currency, ItemId};

    fn item(revenue: i64, cost: i64, fees: i64) -> ItemPnl {
        ItemPnl {
            revenue,
            cost,
            fees,
            ..ItemPnl::default()
        }
    }

    #[test]
    fn stock_still_held_is_an_asset_at_cost_not_an_expense() {
        let now = chrono::Utc::now();
        let (sold, held) = (ItemId::new_at(now), ItemId::new_at(now));
        let mut items = std::collections::BTreeMap::new();
        items.insert(Some(sold), item(20_000, 10_000, 2600));
        // Listed, not sold: its listing fee is spent, its purchase is stock.
        items.insert(Some(held), item(0, 9000, 100));
        // A fee booked against no item is spent either way.
        items.insert(None, item(0, 0, 500));
        let mut total = ItemPnl::default();
        for p in items.values() {
            total.merge(p);
        }
        let pnl = Pnl {
            items,
            total,
            currency: Currency::Usd,
        };
        assert_eq!(pnl.stock_at_cost(), 9000);
        assert_eq!(pnl.total.profit(), 20_000 - 19_000 - 3200);
        let accrual = pnl.sold();
        assert_eq!(accrual.cost, 10_000);
        assert_eq!(accrual.fees, 3200);
        assert_eq!(accrual.profit(), 20_000 - 10_000 - 3200);
        assert_eq!(accrual.profit() - pnl.total.profit(), pnl.stock_at_cost());
    }
}
