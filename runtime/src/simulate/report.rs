//! `report.json`: what a simulated run did, from the agent's store and the world's hidden
//! facts. `report.html` is rendered from this value alone ([`crate::report_html`]).
//!
//! Amounts are cents (minor units), shares are fractions (0.25 is 25 %). Every struct lists
//! its fields in alphabetical order, the order the report has always been written in, so
//! reports of different versions diff line by line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bazaar_memory::{
    ActionKind, ActionRecord, ActionStatus, Currency, InventoryItem, ItemStatus, MarketListing,
    Money, Negotiation, NegotiationStatus, Opportunity, OpportunityStatus, Party, SledStore, Store,
};
use bazaar_sim::world::{Counts, World};
use serde::{Deserialize, Serialize};

use crate::report_html::dollars;

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// With `--compare`: each baseline's figures on the same world and seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselines: Option<BTreeMap<String, Baseline>>,
    /// Cash and stock at cost at the end of each day.
    pub daily: Vec<DayPoint>,
    /// Simulated days.
    pub days: u32,
    /// Counts along the way from a listing found to an item sold.
    pub funnel: Funnel,
    /// Negotiations against the sellers' hidden reserves.
    pub negotiation: NegotiationFigures,
    /// Profit and loss, accrual basis.
    pub pnl: PnlFigures,
    /// What the action gate did.
    pub policy: PolicyFigures,
    /// The scenario's name.
    pub scenario: String,
    /// The world's seed.
    pub seed: u64,
    /// Selling: oversells, delisting speed, margins, days to sell.
    pub selling: SellingFigures,
    /// The strategy profile the agent ran (`ours`, `seed`, `naive`).
    pub strategy: String,
    /// Valuations against the listings' hidden market values.
    pub valuation: ValuationFigures,
    /// Wall time of the run (the one figure that depends on the machine).
    pub wall_seconds: f64,
    /// What happened in the world.
    pub world: Counts,
}

/// A baseline's figures in a comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Its funnel.
    pub funnel: Funnel,
    /// Its negotiations.
    pub negotiation: NegotiationFigures,
    /// Its profit and loss.
    pub pnl: PnlFigures,
}

/// Cash and stock at the end of a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPoint {
    /// Everything booked so far: sales less purchases, fees, postage, refunds (cents).
    pub cash: i64,
    /// Days since the scenario started.
    pub day: i64,
    /// Items bought and not sold, at cost (cents).
    pub inventory: i64,
}

/// Counts along the funnel; an item or opportunity counts at every step it ever reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    /// Negotiations agreed.
    pub agreed: usize,
    /// Listings analyzed.
    pub analyzed: usize,
    /// Items bought.
    pub bought: usize,
    /// Listings found.
    pub found: usize,
    /// Items listed for sale.
    pub listed: usize,
    /// Negotiations opened.
    pub negotiated: usize,
    /// Opportunities pursued.
    pub pursued: usize,
    /// Items sold.
    pub sold: usize,
}

/// Negotiation figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NegotiationFigures {
    /// Agreed negotiations over all negotiations.
    pub deal_rate: f64,
    /// Agreed over those whose seller's reserve was within our ceiling.
    pub feasible_deal_rate: f64,
    /// The same over those whose seller answered at least once.
    #[serde(default)]
    pub feasible_deal_rate_answered: f64,
    /// Why the feasible negotiations that did not agree were lost, by [`LostBecause`]
    /// (snake case), with how many.
    #[serde(default)]
    pub feasible_lost: BTreeMap<String, usize>,
    /// Our messages per negotiation.
    pub mean_rounds: f64,
    /// Negotiations opened.
    pub negotiations: usize,
    /// Of the room between asking and the seller's reserve, the share we kept, on average.
    pub surplus_captured: f64,
}

/// Profit and loss: the goods sold at their cost, the stock still held beside it, and the
/// cash view (every purchase spent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PnlFigures {
    /// Every booked amount, purchases of unsold stock included (cents).
    pub cash: i64,
    /// What the sold items cost (cents).
    pub cost_of_goods: i64,
    /// Marketplace fees (cents).
    pub fees: i64,
    /// Revenue less cost of goods, fees, postage and refunds (cents).
    pub profit: i64,
    /// Refunds (cents).
    pub refunds: i64,
    /// Sales (cents).
    pub revenue: i64,
    /// Profit over what the sold goods took (cost, fees, postage, refunds).
    pub roi: f64,
    /// Postage (cents).
    pub shipping: i64,
    /// Items held at the end, at cost (cents).
    pub stock_at_cost: i64,
}

/// What the action gate did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFigures {
    /// Actions the operator approved.
    pub approved: usize,
    /// Actions blocked.
    pub blocked: usize,
    /// Actions executed.
    pub executed: usize,
    /// Approvals the scripted operator rejected by mistake (absent with a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_mistakes: Option<usize>,
    /// Actions rejected.
    pub rejected: usize,
    /// Actions undone.
    pub undone: usize,
}

/// Selling figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SellingFigures {
    /// Per sold item, days from listed to sold.
    pub days_to_sell: Vec<i64>,
    /// Wall milliseconds from a sale's notification to the last withdrawal done.
    pub delist_latency_ms: DelistLatency,
    /// Per sold item, profit over revenue (basis points).
    pub margins_bp: Vec<i64>,
    /// Items sold twice.
    pub oversells: usize,
}

/// Delisting speed: nearest-rank percentiles over the sales measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelistLatency {
    /// Sales measured.
    pub n: usize,
    /// Median, ms.
    pub p50: Option<u64>,
    /// 99th percentile, ms.
    pub p99: Option<u64>,
}

/// Valuation error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValuationFigures {
    /// Median absolute error over the hidden market value (a share).
    pub mape: Option<f64>,
    /// Listings valued.
    pub n: usize,
}

impl Report {
    /// The report of a finished run: the world's hidden facts against the agent's store.
    /// `daily`, `strategy` and `policy.operator_mistakes` are the caller's to fill.
    pub(super) fn of_run(world: &World, store: &SledStore, wall: Duration) -> Report {
        let hidden = hidden_listings(world);
        Report {
            baselines: None,
            daily: Vec::new(),
            days: world.scenario().days,
            funnel: Funnel::of(store),
            negotiation: NegotiationFigures::of(store, &hidden),
            pnl: PnlFigures::of(store),
            policy: PolicyFigures::of(store),
            scenario: world.scenario().name.clone(),
            seed: world.seed(),
            selling: SellingFigures::of(store, world.counts().oversells),
            strategy: String::new(),
            valuation: ValuationFigures::of(store, &hidden),
            wall_seconds: wall.as_secs_f64(),
            world: world.counts(),
        }
    }

    /// These figures as a baseline in another run's comparison.
    pub(super) fn as_baseline(&self) -> Baseline {
        Baseline {
            funnel: self.funnel.clone(),
            negotiation: self.negotiation.clone(),
            pnl: self.pnl.clone(),
        }
    }
}

/// A listing's hidden facts (cents): what it asked, the least its seller takes, what it is
/// worth; by reply address (or listing id when it has none).
struct Hidden {
    asking: i64,
    reserve: i64,
    market_value: i64,
    /// It sold to someone else.
    sold_elsewhere: bool,
}

fn hidden_listings(world: &World) -> BTreeMap<String, Hidden> {
    let truth = world.ground_truth();
    truth["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let cents = |k: &str| -> Option<i64> {
                let text = l[k].as_str()?;
                Money::from_decimal_str(text, Currency::Usd)
                    .ok()
                    .map(|m| m.minor)
            };
            let key = l["reply_address"].as_str().unwrap_or(l["id"].as_str()?);
            let hidden = Hidden {
                asking: cents("asking")?,
                reserve: cents("reserve")?,
                market_value: cents("market_value")?,
                sold_elsewhere: l["sold_elsewhere_at"].is_string(),
            };
            Some((key.to_string(), hidden))
        })
        .collect()
}

/// "3 sold_elsewhere, 1 never_answered", most first; "none" when none was lost.
pub fn lost_summary(lost: &BTreeMap<String, usize>) -> String {
    let mut reasons: Vec<(&String, &usize)> = lost.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if reasons.is_empty() {
        return "none".into();
    }
    reasons
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rate(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Funnel {
    /// Counts along the funnel, from the agent's store.
    pub(super) fn of(store: &SledStore) -> Funnel {
        let opportunities = store.all::<Opportunity>().unwrap_or_default();
        let ever = |status: OpportunityStatus| {
            opportunities
                .iter()
                .filter(|o| {
                    o.lifecycle.status == status
                        || o.lifecycle.history.iter().any(|c| c.to == status)
                })
                .count()
        };
        let items = store.all::<InventoryItem>().unwrap_or_default();
        let ever_item = |statuses: &[ItemStatus]| {
            items
                .iter()
                .filter(|i| {
                    statuses.contains(&i.lifecycle.status)
                        || i.lifecycle.history.iter().any(|c| statuses.contains(&c.to))
                })
                .count()
        };
        let negotiations = store.all::<Negotiation>().unwrap_or_default();
        let agreed = negotiations
            .iter()
            .filter(|n| n.lifecycle.status == NegotiationStatus::Agreed)
            .count();
        Funnel {
            found: store.count::<MarketListing>(),
            analyzed: ever(OpportunityStatus::Analyzed),
            pursued: ever(OpportunityStatus::Pursuing),
            negotiated: negotiations.len(),
            agreed,
            bought: items.len(),
            listed: ever_item(&[ItemStatus::Listed, ItemStatus::Sold, ItemStatus::Shipped]),
            sold: ever_item(&[ItemStatus::Sold, ItemStatus::Shipped]),
        }
    }
}

/// Why a negotiation that could have closed (the seller's reserve was within our ceiling)
/// did not, first reason that applies first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostBecause {
    /// The gate or the operator stopped one of our emails.
    GateRefused,
    /// The item sold to someone else.
    SoldElsewhere,
    /// The seller never wrote back.
    NeverAnswered,
    /// Still talking when the run ended.
    StillOpen,
    /// We walked away after our last allowed offer.
    RoundLimit,
    /// We walked away earlier (their price stayed above what we would pay).
    WalkedAway,
    /// The seller refused, or anything else.
    Other,
}

impl LostBecause {
    /// The name `report.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            LostBecause::GateRefused => "gate_refused",
            LostBecause::SoldElsewhere => "sold_elsewhere",
            LostBecause::NeverAnswered => "never_answered",
            LostBecause::StillOpen => "still_open",
            LostBecause::RoundLimit => "round_limit",
            LostBecause::WalkedAway => "walked_away",
            LostBecause::Other => "other",
        }
    }

    /// Why `n`, not agreed, was lost; `gate_refused` whether an email of it was stopped.
    fn of(n: &Negotiation, sold_elsewhere: bool, gate_refused: bool) -> LostBecause {
        let answered = n.rounds.iter().any(|r| r.from == Party::Seller);
        let state = n.strategy_state.as_ref();
        let offers = state
            .and_then(|s| s["our_offers"].as_array())
            .map_or(0, Vec::len);
        let max_rounds = state.and_then(|s| s["choice"]["max_rounds"].as_u64());
        if gate_refused {
            return LostBecause::GateRefused;
        }
        if sold_elsewhere {
            return LostBecause::SoldElsewhere;
        }
        if !answered {
            return LostBecause::NeverAnswered;
        }
        match n.lifecycle.status {
            NegotiationStatus::Open => LostBecause::StillOpen,
            NegotiationStatus::WalkedAway if max_rounds.is_some_and(|max| offers as u64 >= max) => {
                LostBecause::RoundLimit
            }
            NegotiationStatus::WalkedAway => LostBecause::WalkedAway,
            _ => LostBecause::Other,
        }
    }
}

impl NegotiationFigures {
    fn of(store: &SledStore, hidden: &BTreeMap<String, Hidden>) -> NegotiationFigures {
        let negotiations = store.all::<Negotiation>().unwrap_or_default();
        // Emails the gate or the operator stopped, by seller address.
        let refused: std::collections::BTreeSet<String> = store
            .all::<ActionRecord>()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| {
                a.kind == ActionKind::SendEmail
                    && matches!(
                        a.lifecycle.status,
                        ActionStatus::Rejected | ActionStatus::Blocked
                    )
            })
            .map(|a| a.target)
            .collect();
        let (mut deals, mut feasible, mut feasible_deals, mut rounds) =
            (0usize, 0usize, 0usize, 0usize);
        let (mut answered, mut answered_deals) = (0usize, 0usize);
        let mut lost = BTreeMap::new();
        let mut surplus = Vec::new();
        for n in &negotiations {
            let Some(listing) = hidden.get(&n.seller_address) else {
                continue;
            };
            let agreed = n.lifecycle.status == NegotiationStatus::Agreed;
            rounds += n.rounds.iter().filter(|r| r.from == Party::Us).count();
            if listing.reserve <= n.ceiling.minor {
                feasible += 1;
                feasible_deals += usize::from(agreed);
                if n.rounds.iter().any(|r| r.from == Party::Seller) {
                    answered += 1;
                    answered_deals += usize::from(agreed);
                }
                if !agreed {
                    let why = LostBecause::of(
                        n,
                        listing.sold_elsewhere,
                        refused.contains(&n.seller_address),
                    );
                    *lost.entry(why.name().to_string()).or_insert(0) += 1;
                }
            }
            if let (true, Some(price)) = (agreed, n.agreed_price) {
                deals += 1;
                if listing.asking > listing.reserve {
                    surplus.push(
                        (listing.asking - price.minor) as f64
                            / (listing.asking - listing.reserve) as f64,
                    );
                }
            }
        }
        let surplus_captured = if surplus.is_empty() {
            0.0
        } else {
            surplus.iter().sum::<f64>() / surplus.len() as f64
        };
        NegotiationFigures {
            negotiations: negotiations.len(),
            deal_rate: rate(deals, negotiations.len()),
            feasible_deal_rate: rate(feasible_deals, feasible),
            feasible_deal_rate_answered: rate(answered_deals, answered),
            feasible_lost: lost,
            surplus_captured,
            mean_rounds: rate(rounds, negotiations.len()),
        }
    }
}

impl ValuationFigures {
    /// The median error of the listings valued, against their hidden market values.
    fn of(store: &SledStore, hidden: &BTreeMap<String, Hidden>) -> ValuationFigures {
        let mut errors: Vec<f64> = Vec::new();
        for opportunity in store.all::<Opportunity>().unwrap_or_default() {
            let (Some(valuation), Ok(Some(listing))) = (
                &opportunity.valuation,
                store.get::<MarketListing>(&opportunity.listing),
            ) else {
                continue;
            };
            let value = hidden
                .get(&listing.seller.external_id)
                .or_else(|| hidden.get(&listing.external_id))
                .map(|h| h.market_value);
            if let Some(value) = value.filter(|v| *v > 0) {
                errors.push((valuation.market_value.minor - value).abs() as f64 / value as f64);
            }
        }
        errors.sort_by(f64::total_cmp);
        ValuationFigures {
            mape: errors.get(errors.len() / 2).copied(),
            n: errors.len(),
        }
    }
}

impl PnlFigures {
    /// Accrual basis, as a reseller's books read: the cost of goods is what the sold items
    /// cost; stock still held at the end is reported at cost beside it, and the cash view
    /// (every purchase spent) is kept as `cash`.
    fn of(store: &SledStore) -> PnlFigures {
        let (books, stock, cash) = crate::commands::books::pnl(store, None)
            .ok()
            .map(|p| (p.sold(), p.stock_at_cost(), p.total.profit()))
            .unwrap_or_default();
        let invested = books.cost + books.fees + books.shipping + books.refunds;
        PnlFigures {
            revenue: books.revenue,
            cost_of_goods: books.cost,
            fees: books.fees,
            shipping: books.shipping,
            refunds: books.refunds,
            profit: books.profit(),
            roi: if invested > 0 {
                books.profit() as f64 / invested as f64
            } else {
                0.0
            },
            stock_at_cost: stock,
            cash,
        }
    }
}

impl PolicyFigures {
    fn of(store: &SledStore) -> PolicyFigures {
        let actions = store.all::<ActionRecord>().unwrap_or_default();
        let count = |status: ActionStatus| {
            actions
                .iter()
                .filter(|a| a.lifecycle.status == status)
                .count()
        };
        PolicyFigures {
            executed: count(ActionStatus::Executed),
            approved: super::inbox::approved_by_operator(store),
            rejected: count(ActionStatus::Rejected),
            blocked: count(ActionStatus::Blocked),
            undone: count(ActionStatus::Undone),
            operator_mistakes: None,
        }
    }
}

impl SellingFigures {
    fn of(store: &SledStore, oversells: usize) -> SellingFigures {
        let (margins_bp, days_to_sell) = sold_items(store);
        SellingFigures {
            oversells,
            delist_latency_ms: delist_latency(store),
            margins_bp,
            days_to_sell,
        }
    }
}

impl DayPoint {
    /// Cash (everything booked: sales less purchases, fees, postage, refunds) and inventory
    /// value at cost (items bought and not sold) at the end of `day`.
    pub(super) fn of(store: &SledStore, day: i64) -> DayPoint {
        let cash = crate::commands::books::pnl(store, None)
            .map(|p| p.total.profit())
            .unwrap_or_default();
        let inventory: i64 = store
            .all::<InventoryItem>()
            .unwrap_or_default()
            .iter()
            .filter(|i| {
                matches!(
                    i.lifecycle.status,
                    ItemStatus::Draft | ItemStatus::InStock | ItemStatus::Listed
                )
            })
            .map(|i| i.cost_basis.minor)
            .sum();
        DayPoint {
            cash,
            day,
            inventory,
        }
    }
}

/// Wall milliseconds from a sale's notification to the last withdrawal done: p50, p99
/// (nearest rank) and how many sales were measured.
pub fn delist_latency(store: &SledStore) -> DelistLatency {
    let mut ms: Vec<u64> = bazaar_agents::lister::delist_latencies(store)
        .unwrap_or_default()
        .into_values()
        .collect();
    ms.sort_unstable();
    DelistLatency {
        p50: nearest_rank(&ms, 50),
        p99: nearest_rank(&ms, 99),
        n: ms.len(),
    }
}

/// The `percent` percentile of `sorted` by nearest rank; `None` when it is empty.
pub fn nearest_rank(sorted: &[u64], percent: usize) -> Option<u64> {
    let n = sorted.len();
    (n > 0).then(|| sorted[(n * percent).div_ceil(100).clamp(1, n) - 1])
}

/// Per sold item: its margin (profit over revenue, basis points) and days from listed to
/// sold.
fn sold_items(store: &SledStore) -> (Vec<i64>, Vec<i64>) {
    let books = crate::commands::books::pnl(store, None).ok();
    let (mut margins, mut days) = (Vec::new(), Vec::new());
    for item in store.all::<InventoryItem>().unwrap_or_default() {
        let at = |status: ItemStatus| {
            item.lifecycle
                .history
                .iter()
                .find(|c| c.to == status)
                .map(|c| c.at)
        };
        let Some(sold) = at(ItemStatus::Sold) else {
            continue;
        };
        if let Some(listed) = at(ItemStatus::Listed) {
            days.push((sold - listed).num_days());
        }
        let pnl = books.as_ref().and_then(|b| b.items.get(&Some(item.id)));
        if let Some(pnl) = pnl.filter(|p| p.revenue > 0) {
            margins.push(pnl.profit() * 10_000 / pnl.revenue);
        }
    }
    (margins, days)
}

/// Ours against each baseline: profit, ROI, deals.
pub(super) fn print_comparison(report: &Report, out: &mut dyn Write) {
    let row = |name: &str, pnl: &PnlFigures, funnel: &Funnel, n: &NegotiationFigures| {
        format!(
            "  {name:<8} profit {:>10}  ROI {:>5.1} %  stock at cost {:>9}  bought {:>3}  sold {:>3}  deal rate {:>5.1} %",
            dollars(pnl.profit),
            pnl.roi * 100.0,
            dollars(pnl.stock_at_cost),
            funnel.bought,
            funnel.sold,
            n.deal_rate * 100.0,
        )
    };
    let _ = writeln!(out, "compared on the same world:");
    let _ = writeln!(
        out,
        "{}",
        row(
            &report.strategy,
            &report.pnl,
            &report.funnel,
            &report.negotiation
        )
    );
    for (name, baseline) in report.baselines.iter().flatten() {
        let _ = writeln!(
            out,
            "{}",
            row(name, &baseline.pnl, &baseline.funnel, &baseline.negotiation)
        );
    }
}

/// The lines `bazaar sim` ends with.
pub(super) fn print_summary(report: &Report, dir: &Path, out: &mut dyn Write) {
    let (f, n, p) = (&report.funnel, &report.negotiation, &report.pnl);
    let lines = [
        format!(
            "funnel: {} listings found, {} analyzed, {} pursued, {} negotiated, {} agreed",
            f.found, f.analyzed, f.pursued, f.negotiated, f.agreed
        ),
        format!(
            "negotiation: deal rate {:.0}%, feasible deal rate {:.0}% ({:.0}% of sellers who answered; lost: {}), surplus captured {:.0}%, {:.1} rounds",
            n.deal_rate * 100.0,
            n.feasible_deal_rate * 100.0,
            n.feasible_deal_rate_answered * 100.0,
            lost_summary(&n.feasible_lost),
            n.surplus_captured * 100.0,
            n.mean_rounds
        ),
        format!(
            "valuation: median error {} over {} listings",
            report
                .valuation
                .mape
                .map_or("n/a".to_string(), |m| format!("{:.0}%", m * 100.0)),
            report.valuation.n
        ),
        format!(
            "policy: {} executed, {} approved by the operator, {} blocked",
            report.policy.executed, report.policy.approved, report.policy.blocked
        ),
        format!(
            "profit: {} on {} sold: revenue {}, cost of goods sold {}, fees {}, postage {}; ROI {:.0}%. {} bought; stock held {} at cost; cash {}",
            Money::usd(p.profit),
            f.sold,
            Money::usd(p.revenue),
            Money::usd(p.cost_of_goods),
            Money::usd(p.fees),
            Money::usd(p.shipping),
            p.roi * 100.0,
            f.bought,
            Money::usd(p.stock_at_cost),
            Money::usd(p.cash),
        ),
        format!(
            "wrote {} and report.html ({:.1} s)",
            dir.join("report.json").display(),
            report.wall_seconds
        ),
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use bazaar_memory::{
        Lifecycle, Money, Negotiation, NegotiationId, NegotiationStatus, OpportunityId, Party,
        Round, SellerId,
    };
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::LostBecause;

    /// One negotiation that did not agree: its end, who spoke, our offers against the limit,
    /// and what else happened — and the reason it was lost.
    #[test]
    fn a_lost_feasible_deal_is_put_down_to_its_first_reason() {
        let check = |status: NegotiationStatus,
                     speakers: &[Party],
                     offers: usize,
                     (sold_elsewhere, gate_refused): (bool, bool),
                     want: LostBecause| {
            let now = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
            let mut lifecycle = Lifecycle::new(NegotiationStatus::Open);
            if status != NegotiationStatus::Open {
                lifecycle.advance(status, now, "ended").unwrap();
            }
            let rounds = speakers
                .iter()
                .map(|from| Round {
                    at: now,
                    from: *from,
                    message_id: String::new(),
                    text: String::new(),
                    price: None,
                })
                .collect();
            let negotiation = Negotiation {
                id: NegotiationId::new_at(now),
                opportunity: OpportunityId::new_at(now),
                seller: SellerId::new_at(now),
                ceiling: Money::usd(10_000),
                lifecycle,
                rounds,
                agreed_price: None,
                seller_address: "s@example.test".into(),
                subject: "Oak table".into(),
                strategy_state: Some(json!({
                    "choice": {"max_rounds": 4},
                    "our_offers": vec![json!({"minor": 5000, "currency": "USD"}); offers],
                })),
                wake_at: None,
            };
            let got = LostBecause::of(&negotiation, sold_elsewhere, gate_refused);
            assert_eq!(
                got, want,
                "{status:?} {speakers:?} {offers} offers, sold elsewhere {sold_elsewhere}, gate refused {gate_refused}"
            );
        };
        use LostBecause::*;
        use NegotiationStatus::{Failed, Open, WalkedAway as Walked};
        use Party::{Seller, Us};
        check(Failed, &[Us, Us], 1, (false, true), GateRefused);
        check(Failed, &[Us, Seller], 1, (true, false), SoldElsewhere);
        check(Failed, &[Us], 1, (true, false), SoldElsewhere);
        check(Failed, &[Us, Us, Us], 1, (false, false), NeverAnswered);
        check(Open, &[Us], 1, (false, false), NeverAnswered);
        check(Open, &[Us, Seller], 2, (false, false), StillOpen);
        check(
            Walked,
            &[Us, Seller, Us, Seller],
            4,
            (false, false),
            RoundLimit,
        );
        check(Walked, &[Us, Seller], 2, (false, false), WalkedAway);
        check(Failed, &[Us, Seller], 1, (false, false), Other);
    }
}
