//! `/api/v1/items`: items the operator brings (sourced offline) and their cross-listing jobs.
//!
//! - `POST /api/v1/items` records an item in stock ([`NewItem`]); its cost is booked.
//! - `POST /api/v1/items/{id}/listings` `{"channels": ["ebay", "craigslist"]}` starts (or
//!   extends) its cross-listing job; `GET` shows each channel's status (`queued`, `live`,
//!   `needs_manual_action`, `failed` with the reason, `withdrawn`, `sold`); `DELETE` cancels
//!   the job (queued channels dropped, live ones withdrawn); `POST
//!   .../listings/{channel}/retry` publishes one failed, rejected or cancelled channel again,
//!   or one that waited for a field.
//! - `PATCH /api/v1/items/{id}` ([`ItemEdit`]) changes an item: condition, price, floor,
//!   photos, notes …
//! - On an assisted channel the operator reports what the marketplace has no API for:
//!   `POST .../listings/{channel}/confirm` `{"url"}` once it is up, `POST
//!   .../listings/{channel}/sold` `{"order", "total"}` when it sold there (the item then
//!   comes down everywhere else, as for an eBay sale).
//!
//! The Inventory and the Lister do the work; these handlers validate, hand over, and read
//! the store. Publishing and withdrawing go through the policy gate as always.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bazaar_agents::inventory::{InventoryMsg, NewItem, Sale, Shipment, Shipped, SoldListing};
use bazaar_agents::item_fields::ItemEdit;
use bazaar_agents::lister::{add_channels, channel_jobs, ChannelJob, ListerMsg};
use bazaar_agents::selling::ChannelMode;
use bazaar_memory::{
    Addr, InventoryItem, ItemId, ItemSource, ItemStatus, Marketplace, Money, SellingPlan,
    SendError, Store,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::ApiQuery;
use super::{ApiError, ApiJson, AppState};

/// How long a handler waits for an actor's answer.
const ACTOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The item routes (behind the bearer token).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, add_item))
        .routes(routes!(get_item, edit_item))
        .routes(routes!(get_listings, start_listing, cancel_listing))
        .routes(routes!(retry_channel))
        .routes(routes!(confirm_channel))
        .routes(routes!(sold_on_channel))
        .routes(routes!(ship_item))
}

/// `/api/v1/items/{id}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ItemPath {
    /// The item id (a 26-character ULID).
    id: String,
}

/// `/api/v1/items/{id}/listings/{channel}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ItemChannelPath {
    /// The item id (a 26-character ULID).
    id: String,
    /// The channel (ebay, craigslist, facebook …).
    channel: String,
}

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Item)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// Only items in this state (draft, in_stock, listed, sold, shipped, returned, archived).
    pub status: Option<String>,
}

/// `GET /api/v1/items`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    pub items: Vec<ItemView>,
}

/// Items we own, with each channel of their listing jobs.
#[utoipa::path(
    get,
    path = "/api/v1/items",
    params(ItemsQuery),
    responses((status = 200, description = "The items.", body = ItemList))
)]
async fn list_items(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ItemsQuery>,
) -> Result<Json<ItemList>, ApiError> {
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
    Ok(Json(ItemList { items: views }))
}

/// Add an item the operator brought (sourced offline): in stock, its cost booked. It is
/// listed only when a listing job is started.
#[utoipa::path(
    post,
    path = "/api/v1/items",
    request_body = NewItem,
    responses((status = 201, description = "The item.", body = ItemView))
)]
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
        Err(_) => return Err(inventory_timeout()),
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

/// One item and its listing job.
#[utoipa::path(
    get,
    path = "/api/v1/items/{id}",
    params(ItemPath),
    responses((status = 200, description = "The item.", body = ItemView))
)]
async fn get_item(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
) -> Result<Json<ItemView>, ApiError> {
    let item = item(&state, &id)?;
    Ok(Json(view(&state, &item)?))
}

/// Change an item: only the fields given (condition, price, floor, photos, notes …). A
/// listing that waited for a field goes out with it; a new price or floor reaches the live
/// listings through the gate (an assisted channel gets an inbox task to change it by hand).
#[utoipa::path(
    patch,
    path = "/api/v1/items/{id}",
    params(ItemPath),
    request_body = ItemEdit,
    responses((status = 200, description = "The edited item; a 422 names every problem with the change, and nothing was changed.", body = ItemView))
)]
async fn edit_item(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
    ApiJson(edit): ApiJson<ItemEdit>,
) -> Result<Json<ItemView>, ApiError> {
    let edited = edit_of(&state, &id, edit).await?;
    Ok(Json(view(&state, &edited)?))
}

/// Has the Inventory apply `edit` to item `id` (the API's and the console's one way).
pub(super) async fn edit_of(
    state: &AppState,
    id: &str,
    edit: ItemEdit,
) -> Result<InventoryItem, ApiError> {
    let found = item(state, id)?;
    let asked = state
        .ctx
        .addrs
        .inventory
        .ask(|reply| InventoryMsg::Edit(found.id, Box::new(edit), reply));
    let edited = match tokio::time::timeout(ACTOR_TIMEOUT, asked).await {
        Ok(Ok(edited)) => edited,
        Ok(Err(error)) => return Err(unavailable(error)),
        Err(_) => return Err(inventory_timeout()),
    };
    edited.map_err(|problems| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the item was not changed: {}", problems.join("; ")),
        )
    })
}

fn inventory_timeout() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "the inventory did not answer in 30s; check `bazaar status` and the logs",
    )
}

/// An item's cross-listing job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListingJob {
    pub item: ItemId,
    /// Each channel and where it stands.
    pub listings: Vec<ChannelJob>,
}

/// Each channel of the item's cross-listing job and where it stands.
#[utoipa::path(
    get,
    path = "/api/v1/items/{id}/listings",
    params(ItemPath),
    responses((status = 200, description = "The job.", body = ListingJob))
)]
async fn get_listings(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
) -> Result<Json<ListingJob>, ApiError> {
    let item = item(&state, &id)?;
    let listings = channel_jobs(&state.ctx.store, &item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?;
    Ok(Json(ListingJob {
        item: item.id,
        listings,
    }))
}

/// `POST /api/v1/items/{id}/listings` body.
#[derive(Debug, Deserialize, ToSchema)]
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

/// Start (or extend) the item's cross-listing job on these channels. Native channels are
/// published through the gate; assisted ones become inbox tasks with a copy-paste template.
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/listings",
    params(ItemPath),
    request_body = ListingRequest,
    responses((status = 202, description = "The job as the Lister takes it.", body = ListingJob))
)]
async fn start_listing(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
    ApiJson(request): ApiJson<ListingRequest>,
) -> Result<(StatusCode, Json<ListingJob>), ApiError> {
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
    let listings = channel_jobs(&state.ctx.store, &item, &state.ctx.selling_channels)
        .map_err(ApiError::store)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ListingJob {
            item: item.id,
            listings,
        }),
    ))
}

/// What a change to one item's job was taken as: exactly one of the fields besides `item`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobChange {
    pub item: ItemId,
    /// The job is being cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<bool>,
    /// The assisted channel recorded live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<Marketplace>,
    /// The channel whose sale is being booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sold_on: Option<Marketplace>,
    /// The channel being published again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<Marketplace>,
}

impl JobChange {
    fn about(item: ItemId) -> JobChange {
        JobChange {
            item,
            cancelled: None,
            confirmed: None,
            sold_on: None,
            retrying: None,
        }
    }
}

/// Cancel the job: queued channels are dropped, live ones withdrawn (assisted ones become
/// tasks); the item goes back in stock.
#[utoipa::path(
    delete,
    path = "/api/v1/items/{id}/listings",
    params(ItemPath),
    responses((status = 202, description = "Cancelling.", body = JobChange))
)]
async fn cancel_listing(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
) -> Result<(StatusCode, Json<JobChange>), ApiError> {
    let item = item(&state, &id)?;
    listable(&item)?;
    send(&state.ctx.addrs.lister, ListerMsg::Cancel(item.id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobChange {
            cancelled: Some(true),
            ..JobChange::about(item.id)
        }),
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// Where buyers see the listing.
    pub url: String,
}

/// The operator put the item up on an assisted channel: record its URL; the channel is live.
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/listings/{channel}/confirm",
    params(ItemChannelPath),
    request_body = ConfirmRequest,
    responses((status = 202, description = "Recorded.", body = JobChange))
)]
async fn confirm_channel(
    State(state): State<AppState>,
    Path(ItemChannelPath { id, channel }): Path<ItemChannelPath>,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<(StatusCode, Json<JobChange>), ApiError> {
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
        Json(JobChange {
            confirmed: Some(marketplace),
            ..JobChange::about(item.id)
        }),
    ))
}

/// `POST .../sold` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoldRequest {
    /// The marketplace's order or a note that identifies the sale (unique per channel).
    pub order: String,
    /// What the buyer paid, in dollars; the listing's price when absent.
    pub total: Option<String>,
    /// The buyer, when known.
    pub buyer: Option<String>,
}

/// The item sold on a channel without an API: book the sale and take every other listing
/// down.
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/listings/{channel}/sold",
    params(ItemChannelPath),
    request_body = SoldRequest,
    responses((status = 202, description = "Booking.", body = JobChange))
)]
async fn sold_on_channel(
    State(state): State<AppState>,
    Path(ItemChannelPath { id, channel }): Path<ItemChannelPath>,
    ApiJson(request): ApiJson<SoldRequest>,
) -> Result<(StatusCode, Json<JobChange>), ApiError> {
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
        Json(JobChange {
            sold_on: Some(marketplace),
            ..JobChange::about(item.id)
        }),
    ))
}

/// Publish one failed, rejected or cancelled channel again (a new attempt, its own
/// idempotency key).
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/listings/{channel}/retry",
    params(ItemChannelPath),
    responses((status = 202, description = "Retrying.", body = JobChange))
)]
async fn retry_channel(
    State(state): State<AppState>,
    Path(ItemChannelPath { id, channel }): Path<ItemChannelPath>,
) -> Result<(StatusCode, Json<JobChange>), ApiError> {
    let (item, marketplace) = retry_of(&state, &id, &channel)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobChange {
            retrying: Some(marketplace),
            ..JobChange::about(item)
        }),
    ))
}

/// Asks the Lister to publish `channel` of item `id` again, if it can be (the API's and the
/// console's one way).
pub(super) fn retry_of(
    state: &AppState,
    id: &str,
    channel: &str,
) -> Result<(ItemId, Marketplace), ApiError> {
    let item = item(state, id)?;
    listable(&item)?;
    let marketplace = channel_of(channel)?;
    let job = job_on(state, &item, marketplace)?;
    // A native channel waiting for a field (filled in since with `bazaar item edit`) is
    // listed again; an assisted one waits for the operator to paste it.
    let waiting_for_fields = job.status == "needs_manual_action"
        && state
            .ctx
            .selling_channels
            .iter()
            .any(|c| c.marketplace == marketplace && c.mode == ChannelMode::Native);
    if !(waiting_for_fields || matches!(job.status.as_str(), "failed" | "rejected" | "withdrawn")) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{marketplace} is {}; only a failed, rejected, cancelled or waiting channel can be retried",
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
    Ok((item.id, marketplace))
}

/// `POST /api/v1/items/{id}/shipped` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippedRequest {
    /// The carrier's code as the marketplace names it (`USPS`, `UPS`, `FedEx` …).
    pub carrier: String,
    /// The tracking number on the label (spaces are dropped).
    pub tracking: String,
}

/// The sold item went out: its marketplace is told (eBay: the order is marked shipped with
/// the carrier and tracking number, through the gate), and the item and its order are
/// shipped. Asking again with the same tracking number does nothing twice.
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/shipped",
    params(ItemPath),
    request_body = ShippedRequest,
    responses((status = 200, description = "Shipped, or waiting for an approval.", body = Shipped))
)]
async fn ship_item(
    State(state): State<AppState>,
    Path(ItemPath { id }): Path<ItemPath>,
    ApiJson(request): ApiJson<ShippedRequest>,
) -> Result<Json<Shipped>, ApiError> {
    let item = item(&state, &id)?;
    let shipment = Shipment {
        item: item.id,
        carrier: request.carrier,
        tracking: request.tracking,
    };
    let asked = state
        .ctx
        .addrs
        .inventory
        .ask(|reply| InventoryMsg::Shipped(Box::new(shipment), reply));
    let shipped = match tokio::time::timeout(ACTOR_TIMEOUT, asked).await {
        Ok(Ok(shipped)) => shipped,
        Ok(Err(error)) => return Err(unavailable(error)),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "the inventory did not answer in 30s; check `bazaar status` and the logs",
            ))
        }
    };
    shipped
        .map(Json)
        .map_err(|why| ApiError::new(StatusCode::CONFLICT, why))
}
