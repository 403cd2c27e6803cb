//! The books as the operator reads them: `bazaar inventory` (items, their cost and where
//! they are listed) and `bazaar pnl` (profit and loss per item and overall, from the booked
//! transactions: sales less cost of goods, fees, postage and refunds) and `bazaar trends`
//! (price and volume per category over time).

use std::collections::BTreeMap;
use std::io::Write;

use bazaar_memory::{
    ChannelListing, ChannelStatus, Currency, InventoryItem, ItemId, ItemStatus, Money, SledStore,
    Store, Transaction, TransactionKind,
};
use chrono::{DateTime, Utc};

use super::read::{write_csv_row, OutputFormat, ReadContext};

/// An item as `bazaar inventory` shows it: where it is listed, live or waiting.
#[derive(Debug, serde::Serialize)]
struct InventoryRow {
    id: ItemId,
    status: ItemStatus,
    title: String,
    cost_basis: Money,
    acquired_at: DateTime<Utc>,
    channels: Vec<ChannelRow>,
}

#[derive(Debug, serde::Serialize)]
struct ChannelRow {
    marketplace: String,
    status: ChannelStatus,
    price: Money,
}

/// The items (newest first), only those in `status` when given.
fn inventory_rows(
    store: &SledStore,
    status: Option<ItemStatus>,
) -> anyhow::Result<Vec<InventoryRow>> {
    let mut items = match status {
        Some(status) => store.with_status::<InventoryItem>(status)?,
        None => store.all::<InventoryItem>()?,
    };
    items.sort_by(|a, b| b.acquired_at.cmp(&a.acquired_at).then(b.id.cmp(&a.id)));
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let channels = store
            .find(ChannelListing::BY_ITEM, &item.id.to_bytes())?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.lifecycle.status,
                    ChannelStatus::Live | ChannelStatus::AwaitingOperator | ChannelStatus::Sold
                )
            })
            .map(|c| ChannelRow {
                marketplace: c.marketplace.to_string(),
                status: c.lifecycle.status,
                price: c.price,
            })
            .collect();
        rows.push(InventoryRow {
            id: item.id,
            status: item.lifecycle.status,
            title: item.title,
            cost_basis: item.cost_basis,
            acquired_at: item.acquired_at,
            channels,
        });
    }
    Ok(rows)
}

fn write_inventory(
    rows: &[InventoryRow],
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let channels = |row: &InventoryRow, sep: &str| {
        let channels: Vec<String> = row
            .channels
            .iter()
            .map(|c| format!("{}:{}@{}", c.marketplace, c.status, c.price))
            .collect();
        if channels.is_empty() {
            "-".to_string()
        } else {
            channels.join(sep)
        }
    };
    match format {
        OutputFormat::Text => {
            for row in rows {
                writeln!(
                    out,
                    "{}  {:<9} {:>10}  {}  {}",
                    row.id,
                    row.status.to_string(),
                    row.cost_basis.to_string(),
                    row.title,
                    channels(row, " ")
                )?;
            }
        }
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(rows)?)?,
        OutputFormat::Csv => {
            write_csv_row(
                out,
                &[
                    "id",
                    "status",
                    "title",
                    "cost_minor",
                    "currency",
                    "acquired_at",
                    "channels",
                ],
            )?;
            for row in rows {
                write_csv_row(
                    out,
                    &[
                        &row.id.to_string(),
                        &row.status.to_string(),
                        &row.title,
                        &row.cost_basis.minor.to_string(),
                        row.cost_basis.currency.code(),
                        &row.acquired_at.to_rfc3339(),
                        &channels(row, ";"),
                    ],
                )?;
            }
        }
    }
    Ok(())
}

/// One item's profit and loss, in minor units of its currency.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
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

/// Writes the P&L: one line (or row, or JSON object) per item, then the totals.
pub fn write_pnl(
    store: &SledStore,
    pnl: &Pnl,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut rows = Vec::with_capacity(pnl.items.len() + 2);
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
        rows.push((name, p.clone(), title));
    }
    let sold = pnl.sold();
    let money = |minor: i64| Money::new(minor, pnl.currency).to_string();
    match format {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(item, p, title)| {
                    serde_json::json!({
                        "item": item, "title": title, "revenue": p.revenue, "cost": p.cost,
                        "fees": p.fees, "shipping": p.shipping, "refunds": p.refunds,
                        "profit": p.profit(),
                    })
                })
                .collect();
            let totals = |p: &ItemPnl| {
                let mut value = serde_json::to_value(p).unwrap_or_default();
                value["profit"] = p.profit().into();
                value
            };
            let report = serde_json::json!({
                "currency": pnl.currency.code(),
                "items": items,
                "total": totals(&pnl.total),
                "sold": totals(&sold),
                "stock_at_cost": pnl.stock_at_cost(),
            });
            writeln!(out, "{report}")?;
            return Ok(());
        }
        OutputFormat::Csv => {
            write_csv_row(
                out,
                &[
                    "item", "title", "currency", "revenue", "cost", "fees", "shipping", "refunds",
                    "profit",
                ],
            )?;
            rows.push(("total".into(), pnl.total.clone(), "cash".into()));
            rows.push(("sold".into(), sold, "accrual".into()));
            for (item, p, title) in &rows {
                write_csv_row(
                    out,
                    &[
                        item,
                        title,
                        pnl.currency.code(),
                        &p.revenue.to_string(),
                        &p.cost.to_string(),
                        &p.fees.to_string(),
                        &p.shipping.to_string(),
                        &p.refunds.to_string(),
                        &p.profit().to_string(),
                    ],
                )?;
            }
            return Ok(());
        }
        OutputFormat::Text => {}
    }
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
    for (name, p, title) in &rows {
        line(out, name, p, title)?;
    }
    line(out, "total", &pnl.total, "(cash: every purchase spent)")?;
    line(
        out,
        "sold",
        &sold,
        &format!(
            "(accrual: {} of stock held at cost)",
            money(pnl.stock_at_cost())
        ),
    )?;
    Ok(())
}

/// What `bazaar trends` shows: its arguments.
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct InventoryArgs {
    /// Only items in this state (draft, in_stock, listed, sold, shipped, returned,
    /// archived).
    #[arg(long, value_name = "S", value_parser = super::parse_item_status)]
    status: Option<ItemStatus>,
    /// text, json (money in minor units) or csv.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// `bazaar pnl`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct PnlArgs {
    /// Only transactions booked at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
    /// text, json or csv (amounts in minor units: cents).
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Writes the items we own.
pub fn inventory(
    context: &ReadContext,
    args: &InventoryArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let rows = inventory_rows(context.store()?, args.status)?;
    write_inventory(&rows, args.output, out)?;
    if rows.is_empty() && args.output == OutputFormat::Text {
        writeln!(err, "no items")?;
    }
    Ok(0)
}

/// Writes profit and loss.
pub fn profit_and_loss(
    context: &ReadContext,
    args: &PnlArgs,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let store = context.store()?;
    let pnl = pnl(store, args.since)?;
    write_pnl(store, &pnl, args.output, out)?;
    Ok(0)
}

/// Writes price and volume per category over time.
pub fn trend_report(
    context: &ReadContext,
    query: &TrendQuery,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let rows = write_trends(context.store()?, query, out)?;
    if rows == 0 {
        writeln!(err, "no prices in memory for that selection; `bazaar run` (or `bazaar sim --data-dir DIR`) fills it")?;
    }
    Ok(0)
}

/// Writes price and volume per category and period from the product history in memory:
/// asking prices seen (listings and price changes) and prices paid, with their quartiles.
/// The window ends with the day of the latest price seen (so a copied or simulated store
/// reads the same later). Returns the rows written.
pub fn write_trends(
    store: &SledStore,
    query: &TrendQuery,
    out: &mut dyn Write,
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
