//! `/api/v1/pipeline`, `/api/v1/opportunities`, `/api/v1/negotiations/{id}` and
//! `/api/v1/pnl`: what the business is doing, as JSON (the console shows the same). Reads
//! only, from the store.

use axum::extract::{Path, State};
use axum::Json;
use bazaar_memory::{
    InventoryItem, ItemId, ItemSource, ItemStatus, ListingId, MarketListing, Marketplace, Money,
    Negotiation, NegotiationId, NegotiationStatus, Opportunity, OpportunityId, OpportunityStatus,
    Party, Seller, SledStore, Store, Transaction,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::ApiQuery;
use super::{ApiError, AppState};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pipeline))
        .routes(routes!(opportunities))
        .routes(routes!(negotiation))
        .routes(routes!(profit_and_loss))
}

/// `GET /api/v1/pipeline`: how many are at each stage, found to sold.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pipeline {
    /// Listings recorded.
    pub found: usize,
    /// Listings valued (an opportunity each).
    pub analyzed: usize,
    /// Passed on, with a reason.
    pub passed: usize,
    /// Ever pursued.
    pub pursued: usize,
    /// Negotiations open now.
    pub negotiating: usize,
    /// Negotiations agreed.
    pub agreed: usize,
    /// Items the agent bought.
    pub bought: usize,
    /// Items listed now.
    pub listed: usize,
    /// Items sold (or shipped).
    pub sold: usize,
}

/// How many records are at each stage of the business.
#[utoipa::path(
    get,
    path = "/api/v1/pipeline",
    responses((status = 200, description = "The counts.", body = Pipeline))
)]
async fn pipeline(State(state): State<AppState>) -> Result<Json<Pipeline>, ApiError> {
    Ok(Json(pipeline_counts(&state.ctx.store)?))
}

/// The [`Pipeline`] as the store holds it now (the API's and the console's one count).
pub(super) fn pipeline_counts(store: &SledStore) -> Result<Pipeline, ApiError> {
    let opportunities = store.all::<Opportunity>().map_err(ApiError::store)?;
    let negotiations = store.all::<Negotiation>().map_err(ApiError::store)?;
    let items = store.all::<InventoryItem>().map_err(ApiError::store)?;
    let negotiations_in = |status: NegotiationStatus| {
        negotiations
            .iter()
            .filter(|n| n.lifecycle.status == status)
            .count()
    };
    let items_in = |statuses: &[ItemStatus]| {
        items
            .iter()
            .filter(|i| statuses.contains(&i.lifecycle.status))
            .count()
    };
    Ok(Pipeline {
        found: store.count::<MarketListing>(),
        analyzed: opportunities.len(),
        passed: opportunities
            .iter()
            .filter(|o| o.lifecycle.status == OpportunityStatus::Passed)
            .count(),
        pursued: opportunities
            .iter()
            .filter(|o| {
                o.lifecycle
                    .last_entered(OpportunityStatus::Pursuing)
                    .is_some()
            })
            .count(),
        negotiating: negotiations_in(NegotiationStatus::Open),
        agreed: negotiations_in(NegotiationStatus::Agreed),
        bought: items
            .iter()
            .filter(|i| i.source == ItemSource::Bought)
            .count(),
        listed: items_in(&[ItemStatus::Listed]),
        sold: items_in(&[ItemStatus::Sold, ItemStatus::Shipped]),
    })
}

/// `GET /api/v1/opportunities` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpportunitiesQuery {
    /// Only this state (discovered, analyzed, pursuing, agreed, purchased, passed, expired).
    pub status: Option<String>,
    /// How many, newest first (1..1000, default 50).
    pub limit: Option<usize>,
}

/// One listing valued, and what was decided.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpportunityView {
    pub id: OpportunityId,
    pub listing: ListingId,
    pub title: String,
    pub marketplace: Option<Marketplace>,
    pub url: Option<String>,
    pub asking: Option<Money>,
    /// What comparables say it is worth, when they said.
    pub value: Option<Money>,
    /// The most to pay, when pursued.
    pub ceiling: Option<Money>,
    /// `passed`, `pursuing`, `purchased` …
    pub status: String,
    /// Why it is where it is (the decision's reason).
    pub reason: Option<String>,
    /// Its negotiation, if one started.
    pub negotiation: Option<NegotiationId>,
    /// Where that negotiation stands (`open`, `agreed` …).
    pub negotiation_status: Option<String>,
    /// Emails in that negotiation so far.
    pub emails: usize,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/opportunities`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpportunityList {
    pub opportunities: Vec<OpportunityView>,
}

/// Listings valued and the decision on each, with its reason; newest first.
#[utoipa::path(
    get,
    path = "/api/v1/opportunities",
    params(OpportunitiesQuery),
    responses((status = 200, description = "Opportunities.", body = OpportunityList))
)]
async fn opportunities(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OpportunitiesQuery>,
) -> Result<Json<OpportunityList>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let status = match &query.status {
        Some(text) => Some(OpportunityStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown status {text:?}; use discovered, analyzed, pursuing, agreed, purchased, passed or expired"
            ))
        })?),
        None => None,
    };
    Ok(Json(OpportunityList {
        opportunities: opportunity_views(&state.ctx.store, status, limit)?,
    }))
}

/// The newest `limit` opportunities (in `status` when given), each with its listing and
/// negotiation (the API's and the console's one reading).
pub(super) fn opportunity_views(
    store: &SledStore,
    status: Option<OpportunityStatus>,
    limit: usize,
) -> Result<Vec<OpportunityView>, ApiError> {
    let mut found = match status {
        Some(status) => store.with_status::<Opportunity>(status),
        None => store.all::<Opportunity>(),
    }
    .map_err(ApiError::store)?;
    found.sort_by_key(|o| std::cmp::Reverse(o.id));
    found.truncate(limit);
    let mut views = Vec::with_capacity(found.len());
    for o in found {
        let listing = store
            .get::<MarketListing>(&o.listing)
            .map_err(ApiError::store)?;
        let negotiation = store
            .find::<Negotiation>(Negotiation::BY_OPPORTUNITY, &o.id.to_bytes())
            .map_err(ApiError::store)?
            .pop();
        views.push(OpportunityView {
            id: o.id,
            listing: o.listing,
            title: listing
                .as_ref()
                .map(|l| l.title.clone())
                .unwrap_or_default(),
            marketplace: listing.as_ref().map(|l| l.marketplace),
            url: listing.as_ref().map(|l| l.url.clone()),
            asking: listing.as_ref().map(|l| l.price),
            value: o.valuation.as_ref().map(|v| v.market_value),
            ceiling: o.valuation.as_ref().map(|v| v.ceiling),
            status: o.lifecycle.status.to_string(),
            reason: o.lifecycle.last_reason().map(str::to_string),
            negotiation: negotiation.as_ref().map(|n| n.id),
            negotiation_status: negotiation.as_ref().map(|n| n.lifecycle.status.to_string()),
            emails: negotiation.as_ref().map_or(0, |n| n.rounds.len()),
            created_at: o.created_at,
        });
    }
    Ok(views)
}

/// `/api/v1/negotiations/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct NegotiationPath {
    /// The negotiation id (a 26-character ULID).
    id: String,
}

/// One email of a negotiation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub at: DateTime<Utc>,
    /// `us` or `seller`.
    pub from: String,
    /// The text, quoted history stripped.
    pub text: String,
    /// The total price it offered or was read to mean.
    pub price: Option<Money>,
}

/// A negotiation and its thread.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NegotiationView {
    pub id: NegotiationId,
    pub opportunity: OpportunityId,
    /// `open`, `agreed`, `failed` or `walked_away`.
    pub status: String,
    pub seller: String,
    pub title: String,
    pub ceiling: Money,
    pub agreed_price: Option<Money>,
    /// Every email, oldest first.
    pub rounds: Vec<RoundView>,
}

/// One negotiation with its email thread.
#[utoipa::path(
    get,
    path = "/api/v1/negotiations/{id}",
    params(NegotiationPath),
    responses((status = 200, description = "The negotiation.", body = NegotiationView))
)]
async fn negotiation(
    State(state): State<AppState>,
    Path(NegotiationPath { id }): Path<NegotiationPath>,
) -> Result<Json<NegotiationView>, ApiError> {
    let store = &state.ctx.store;
    let id: NegotiationId = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{id:?} is not a negotiation id; /api/v1/opportunities names them"
        ))
    })?;
    let n = store
        .get::<Negotiation>(&id)
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("negotiation {id} not found")))?;
    let title = match store
        .get::<Opportunity>(&n.opportunity)
        .map_err(ApiError::store)?
    {
        Some(o) => store
            .get::<MarketListing>(&o.listing)
            .map_err(ApiError::store)?
            .map(|l| l.title),
        None => None,
    }
    .unwrap_or_else(|| n.subject.clone());
    let seller = store
        .get::<Seller>(&n.seller)
        .map_err(ApiError::store)?
        .and_then(|s| s.display_name)
        .unwrap_or_else(|| n.seller_address.clone());
    Ok(Json(NegotiationView {
        id: n.id,
        opportunity: n.opportunity,
        status: n.lifecycle.status.to_string(),
        seller,
        title,
        ceiling: n.ceiling,
        agreed_price: n.agreed_price,
        rounds: n
            .rounds
            .iter()
            .map(|r| RoundView {
                at: r.at,
                from: if r.from == Party::Us { "us" } else { "seller" }.into(),
                text: r.text.clone(),
                price: r.price,
            })
            .collect(),
    }))
}

/// `GET /api/v1/pnl` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PnlQuery {
    /// Only transactions booked at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}

/// Amounts in minor units (cents) of the report's currency.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PnlLine {
    /// The item, or none for what was booked against no item.
    pub item: Option<ItemId>,
    pub title: String,
    pub revenue: i64,
    pub cost: i64,
    pub fees: i64,
    pub shipping: i64,
    pub refunds: i64,
    pub profit: i64,
}

/// Net cash of one week (Monday to Sunday, UTC), in minor units.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WeekNet {
    pub week: NaiveDate,
    pub net: i64,
}

/// `GET /api/v1/pnl`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PnlReport {
    /// ISO 4217 code of every amount.
    pub currency: String,
    pub items: Vec<PnlLine>,
    /// Cash basis: every purchase spent.
    pub total: PnlLine,
    /// Accrual basis: the cost of what sold; stock held is an asset at cost.
    pub sold: PnlLine,
    pub stock_at_cost: i64,
    /// When the first transaction counted was booked.
    pub first_booked: Option<DateTime<Utc>>,
    /// Net cash per week, oldest first.
    pub weeks: Vec<WeekNet>,
}

/// Profit and loss per item and overall, and net cash per week.
#[utoipa::path(
    get,
    path = "/api/v1/pnl",
    params(PnlQuery),
    responses((status = 200, description = "The books.", body = PnlReport))
)]
async fn profit_and_loss(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PnlQuery>,
) -> Result<Json<PnlReport>, ApiError> {
    Ok(Json(pnl_report(&state.ctx.store, query.since)?))
}

/// The books since `since` (the API's and the console's one report).
pub(super) fn pnl_report(
    store: &SledStore,
    since: Option<DateTime<Utc>>,
) -> Result<PnlReport, ApiError> {
    use crate::commands::books::{pnl, ItemPnl};
    let books = pnl(store, since).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("{e:#}"),
        )
    })?;
    let line = |item: Option<ItemId>, title: String, p: &ItemPnl| PnlLine {
        item,
        title,
        revenue: p.revenue,
        cost: p.cost,
        fees: p.fees,
        shipping: p.shipping,
        refunds: p.refunds,
        profit: p.profit(),
    };
    let mut items = Vec::with_capacity(books.items.len());
    for (item, p) in &books.items {
        let title = match item {
            Some(id) => store
                .get::<InventoryItem>(id)
                .map_err(ApiError::store)?
                .map(|i| i.title)
                .unwrap_or_default(),
            None => "(no item)".to_string(),
        };
        items.push(line(*item, title, p));
    }
    let transactions: Vec<Transaction> = store
        .all::<Transaction>()
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|t| since.is_none_or(|since| t.at >= since))
        .collect();
    Ok(PnlReport {
        currency: books.currency.code().to_string(),
        items,
        total: line(None, "total".into(), &books.total),
        sold: line(None, "sold".into(), &books.sold()),
        stock_at_cost: books.stock_at_cost(),
        first_booked: transactions.iter().map(|t| t.at).min(),
        weeks: weekly_net(&transactions),
    })
}

/// Net cash per week (Monday to Sunday, UTC): sales less everything spent, oldest first.
pub(crate) fn weekly_net(transactions: &[Transaction]) -> Vec<WeekNet> {
    let mut weeks = std::collections::BTreeMap::new();
    for t in transactions {
        let day = t.at.date_naive();
        let monday = day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()));
        *weeks.entry(monday).or_insert(0) += t.signed_amount().minor;
    }
    weeks
        .into_iter()
        .map(|(week, net)| WeekNet { week, net })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::weekly_net;
    use bazaar_memory::{Money, Transaction, TransactionId, TransactionKind};

    #[test]
    fn net_cash_is_summed_per_monday_week() {
        let at = |day: &str| format!("{day}T12:00:00Z").parse().unwrap();
        let t = |day: &str, kind, minor| Transaction {
            id: TransactionId::new_at(at(day)),
            kind,
            amount: Money::usd(minor),
            item: None,
            order: None,
            at: at(day),
            memo: String::new(),
        };
        let weeks = weekly_net(&[
            t("2026-03-02", TransactionKind::Purchase, 6_000), // a Monday
            t("2026-03-08", TransactionKind::Sale, 10_000),    // its Sunday
            t("2026-03-09", TransactionKind::Fee, 1_300),      // the next Monday
        ]);
        let monday = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
        let weeks: Vec<_> = weeks.into_iter().map(|w| (w.week, w.net)).collect();
        assert_eq!(
            weeks,
            [
                (monday("2026-03-02"), 4_000),
                (monday("2026-03-09"), -1_300)
            ]
        );
    }
}
