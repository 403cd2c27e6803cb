//! `/api/v1/pipeline`, `/api/v1/opportunities`, `/api/v1/negotiations/{id}` and
//! `/api/v1/pnl`: what the business is doing, as JSON (the console shows the same). Reads
//! only, from the store.

use axum::extract::{Path, State};
use axum::Json;
use bazaar_memory::{
    InventoryItem, ItemId, ListingId, MarketListing, Marketplace, Money, Negotiation,
    NegotiationId, Opportunity, OpportunityId, OpportunityStatus, Party, Seller, Store,
    Transaction,
};
use chrono::{DateTime, NaiveDate, Utc};
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
    let s = super::console::stages(&state.ctx.store)?;
    Ok(Json(Pipeline {
        found: s.found,
        analyzed: s.analyzed,
        passed: s.passed,
        pursued: s.pursued,
        negotiating: s.negotiating,
        agreed: s.agreed,
        bought: s.bought,
        listed: s.listed,
        sold: s.sold,
    }))
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
    let store = &state.ctx.store;
    let mut found = match &query.status {
        Some(text) => {
            let status = OpportunityStatus::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown status {text:?}; use discovered, analyzed, pursuing, agreed, purchased, passed or expired"
                ))
            })?;
            store.with_status::<Opportunity>(status)
        }
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
            .pop()
            .map(|n| n.id);
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
            negotiation,
            created_at: o.created_at,
        });
    }
    Ok(Json(OpportunityList {
        opportunities: views,
    }))
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
    use crate::commands::books::{pnl, ItemPnl};
    let store = &state.ctx.store;
    let books = pnl(store, query.since).map_err(|e| {
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
        .filter(|t| query.since.is_none_or(|since| t.at >= since))
        .collect();
    let weeks = super::console::weekly_net(&transactions)
        .into_iter()
        .map(|(week, net)| WeekNet { week, net })
        .collect();
    Ok(Json(PnlReport {
        currency: books.currency.code().to_string(),
        items,
        total: line(None, "total".into(), &books.total),
        sold: line(None, "sold".into(), &books.sold()),
        stock_at_cost: books.stock_at_cost(),
        weeks,
    }))
}
