//! `/api/v1/items`: items the operator brings (sourced offline) and their cross-listing jobs.
//!
//! - `POST /api/v1/items` records an item in stock ([`NewItem`]); its cost is booked.
//! - `POST /api/v1/items/{id}/listings` `{"channels": ["ebay", "craigslist"]}` starts (or
//!   extends) its cross-listing job; `GET` shows each channel's status (`queued`, `live`,
//!   `needs_manual_action`, `failed` with the reason, `withdrawn`, `sold`); `DELETE` cancels
//!   the job (queued channels dropped, live ones withdrawn); `POST
//!   .../listings/{channel}/retry` publishes one failed, rejected or cancelled channel again.
//! - On an assisted channel the operator reports what the marketplace has no API for:
//!   `POST .../listings/{channel}/confirm` `{"url"}` once it is up, `POST
//!   .../listings/{channel}/sold` `{"order", "total"}` when it sold there (the item then
//!   comes down everywhere else, as for an eBay sale).
//!
//! The Inventory and the Lister do the work; these handlers validate, hand over, and read
//! the store. Publishing and withdrawing go through the policy gate as always.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bazaar_agents::inventory::{InventoryMsg, NewItem, Sale, SoldListing};
use bazaar_agents::lister::{add_channels, channel_jobs, ChannelJob, ListerMsg};
use bazaar_memory::{
    Addr, InventoryItem, ItemId, ItemSource, ItemStatus, Marketplace, Money, SellingPlan,
    SendError, Store,
};
use serde::{Deserialize, Serialize};

use super::api::ApiQuery;
use super::{ApiError, ApiJson, AppState};

/// How long a handler waits for an actor's answer.
const ACTOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The item routes (behind the bearer token).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/items", get(list_items).post(add_item))
        .route("/api/v1/items/{id}", get(get_item))
        .route(
            "/api/v1/items/{id}/listings",
            get(get_listings).post(start_listing).delete(cancel_listing),
        )
        .route(
            "/api/v1/items/{id}/listings/{channel}/retry",
            post(retry_channel),
        )
        .route(
            "/api/v1/items/{id}/listings/{channel}/confirm",
            post(confirm_channel),
        )
        .route(
            "/api/v1/items/{id}/listings/{channel}/sold",
            post(sold_on_channel),
        )
}

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemView {
    pub id: ItemId,
    pub title: String,
    /// `in_stock`, `listed`, `sold` …
    pub status: String,
    pub condition: String,
    pub category: String,
    /// Cost basis.
    pub cost: Money,
    pub photos: Vec<String>,
    /// Attributes (brand, model, size …).
    pub attributes: std::collections::BTreeMap<String, String>,
    /// `operator` for an item brought in by hand, `bought` for one the agent bought.
    pub source: ItemSource,
    /// The operator's floor, price and channels, where set.
    pub selling: SellingPlan,
    /// Each channel of its listing job.
    pub listings: Vec<ChannelJob>,
}

fn view(state: &AppState, item: &InventoryItem) -> Result<ItemView, ApiError> {
    let listings = channel_jobs(&state.ctx.store, item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?;
    Ok(ItemView {
        id: item.id,
        title: item.title.clone(),
        status: item.lifecycle.status.to_string(),
        condition: item.condition.name().to_string(),
        category: item.category.clone(),
        cost: item.cost_basis,
        photos: item.images.clone(),
        attributes: item.attributes.clone(),
        source: item.source,
        selling: item.selling.clone(),
        listings,
    })
}

fn item(state: &AppState, id: &str) -> Result<InventoryItem, ApiError> {
    let id: ItemId = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{id:?} is not an item id; ids are 26-character ULIDs as `bazaar inventory` lists them"
        ))
    })?;
    state
        .ctx
        .store
        .get::<InventoryItem>(&id)
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "item {id} not found; `bazaar inventory` lists them"
            ))
        })
}

fn unavailable(error: SendError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{error}; try again in a moment"),
    )
}

fn send<M: Send + 'static>(addr: &Addr<M>, msg: M) -> Result<(), ApiError> {
    addr.send(msg).map_err(unavailable)
}

/// `GET /api/v1/items?status=` query.
#[derive(Debug, Deserialize)]
pub struct ItemsQuery {
    /// Only items in this state.
    pub status: Option<String>,
}

async fn list_items(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ItemsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items: Vec<InventoryItem> = match &query.status {
        Some(text) => {
            let status = ItemStatus::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown status {text:?}; use draft, in_stock, listed, sold, shipped, returned or archived"
                ))
            })?;
            state
                .ctx
                .store
                .with_status::<InventoryItem>(status)
        }
        None => state.ctx.store.all(),
    }
    .map_err(ApiError::store)?;
    let views: Vec<ItemView> = items
        .iter()
        .map(|i| view(&state, i))
        .collect::<Result<_, _>>()?;
    Ok(Json(serde_json::json!({ "items": views })))
}

async fn add_item(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewItem>,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let asked = state
        .ctx
        .addrs
        .inventory
        .ask(|reply| InventoryMsg::AddItem(Box::new(new), reply));
    let added = match tokio::time::timeout(ACTOR_TIMEOUT, asked).await {
        Ok(Ok(added)) => added,
        Ok(Err(error)) => return Err(unavailable(error)),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "the inventory did not answer in 30s; check `bazaar status` and the logs",
            ))
        }
    };
    let id = added.map_err(|problems| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the item was not added: {}", problems.join("; ")),
        )
    })?;
    let item = item(&state, &id.to_string())?;
    Ok((StatusCode::CREATED, Json(view(&state, &item)?)))
}

async fn get_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    let item = item(&state, &id)?;
    Ok(Json(view(&state, &item)?))
}

async fn get_listings(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let item = item(&state, &id)?;
    let jobs = channel_jobs(&state.ctx.store, &item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?;
    Ok(Json(
        serde_json::json!({ "item": item.id, "listings": jobs }),
    ))
}

/// `POST /api/v1/items/{id}/listings` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    /// The channels: ebay, craigslist, facebook, poshmark, mercari.
    pub channels: Vec<String>,
}

fn listable(item: &InventoryItem) -> Result<(), ApiError> {
    if matches!(
        item.lifecycle.status,
        ItemStatus::InStock | ItemStatus::Listed
    ) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "item {} is {}; only items in stock or listed can be listed",
            item.id, item.lifecycle.status
        ),
    ))
}

async fn start_listing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ListingRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mut item = item(&state, &id)?;
    listable(&item)?;
    if request.channels.is_empty() {
        return Err(ApiError::bad_request(
            "no channels; name at least one of ebay, craigslist, facebook, poshmark, mercari",
        ));
    }
    let channels: Vec<Marketplace> = request
        .channels
        .iter()
        .map(|c| channel_of(c))
        .collect::<Result<_, _>>()?;
    send(
        &state.ctx.addrs.lister,
        ListerMsg::ListOn {
            item: item.id,
            channels: channels.clone(),
        },
    )?;
    // The job as it stands once the Lister takes it: the new channels queued.
    add_channels(&mut item, &state.ctx.selling_channels, &channels);
    let jobs = channel_jobs(&state.ctx.store, &item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "item": item.id, "listings": jobs })),
    ))
}

async fn cancel_listing(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let item = item(&state, &id)?;
    listable(&item)?;
    send(&state.ctx.addrs.lister, ListerMsg::Cancel(item.id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "item": item.id, "cancelled": true })),
    ))
}

fn channel_of(text: &str) -> Result<Marketplace, ApiError> {
    text.trim()
        .to_lowercase()
        .parse()
        .map_err(ApiError::bad_request)
}

/// The item's job on `marketplace`, or 404.
fn job_on(
    state: &AppState,
    item: &InventoryItem,
    marketplace: Marketplace,
) -> Result<ChannelJob, ApiError> {
    channel_jobs(&state.ctx.store, item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?
        .into_iter()
        .find(|j| j.marketplace == marketplace)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "item {} has no listing job on {marketplace}; start one with POST /api/v1/items/{}/listings",
                item.id, item.id
            ))
        })
}

/// `POST .../confirm` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// Where buyers see the listing.
    pub url: String,
}

async fn confirm_channel(
    State(state): State<AppState>,
    Path((id, channel)): Path<(String, String)>,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let item = item(&state, &id)?;
    let marketplace = channel_of(&channel)?;
    let job = job_on(&state, &item, marketplace)?;
    let url = request.url.trim().to_string();
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2_048
        && !url.contains(char::is_whitespace);
    if !valid {
        return Err(ApiError::bad_request(format!(
            "{url:?} is not the listing's http(s) URL"
        )));
    }
    let (Some(channel_listing), "needs_manual_action") = (job.channel_listing, job.status.as_str())
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{marketplace} is {}; only a listing waiting for you can be confirmed",
                job.status
            ),
        ));
    };
    send(
        &state.ctx.addrs.lister,
        ListerMsg::Confirm {
            channel_listing,
            url,
        },
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "item": item.id, "confirmed": marketplace.name() })),
    ))
}

/// `POST .../sold` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoldRequest {
    /// The marketplace's order or a note that identifies the sale (unique per channel).
    pub order: String,
    /// What the buyer paid, in dollars; the listing's price when absent.
    pub total: Option<String>,
    /// The buyer, when known.
    pub buyer: Option<String>,
}

async fn sold_on_channel(
    State(state): State<AppState>,
    Path((id, channel)): Path<(String, String)>,
    ApiJson(request): ApiJson<SoldRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let item = item(&state, &id)?;
    let marketplace = channel_of(&channel)?;
    let job = job_on(&state, &item, marketplace)?;
    let Some(channel_listing) = job.channel_listing.filter(|_| job.status == "live") else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{marketplace} is {}; only a live listing can sell",
                job.status
            ),
        ));
    };
    let order = request.order.trim().to_string();
    if order.is_empty() || order.len() > 200 {
        return Err(ApiError::bad_request(
            "order must name the sale (1 to 200 characters)",
        ));
    }
    let total = match request.total.as_deref() {
        None => None,
        Some(text) => {
            let money = Money::from_decimal_str(
                text.trim().trim_start_matches('$'),
                item.cost_basis.currency,
            )
            .ok()
            .filter(|m| m.minor > 0)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "total {text:?} is not a positive amount in dollars (e.g. 80 or 79.99)"
                ))
            })?;
            Some(money)
        }
    };
    send(
        &state.ctx.addrs.inventory,
        InventoryMsg::Sold(Box::new(Sale {
            listing: SoldListing::ChannelListing(channel_listing),
            order,
            buyer: request.buyer,
            total,
            at: None,
            notified: None,
        })),
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "item": item.id, "sold_on": marketplace.name() })),
    ))
}

async fn retry_channel(
    State(state): State<AppState>,
    Path((id, channel)): Path<(String, String)>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let item = item(&state, &id)?;
    listable(&item)?;
    let marketplace = channel_of(&channel)?;
    let job = job_on(&state, &item, marketplace)?;
    if !matches!(job.status.as_str(), "failed" | "rejected" | "withdrawn") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{marketplace} is {}; only a failed, rejected or cancelled channel can be retried",
                job.status
            ),
        ));
    }
    send(
        &state.ctx.addrs.lister,
        ListerMsg::Retry {
            item: item.id,
            marketplace,
        },
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "item": item.id, "retrying": marketplace.name() })),
    ))
}
