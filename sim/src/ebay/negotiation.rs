//! Sell Negotiation: `GET /sell/negotiation/v1/find_eligible_items` (the agent's live
//! listings that buyers are watching; 204 when there are none) and
//! `POST /sell/negotiation/v1/send_offer_to_interested_buyers` (one listing per call; a
//! price at least 5 % under the listing's, or a discount of 5–80 %; offers last 2 days).
//! Both require `X-EBAY-C-MARKETPLACE-ID`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use bazaar_memory::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::errors::{domain, json_response, ApiError};
use super::fulfillment::BuyError;
use super::inventory::Offer;
use super::oauth::{authorize, scopes};
use super::{
    ebay_time, header_str, href, parse_body, query_get, query_pairs, Amount, Api, Reply, Shared,
    State, MARKETPLACES,
};

/// An offer the agent sent to a buyer watching its listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerOffer {
    /// Negotiation `offerId`.
    pub offer_id: String,
    /// The listing.
    pub listing_id: String,
    /// The buyer it went to.
    pub buyer: String,
    /// Offered price, if given as a price.
    pub price: Option<Money>,
    /// Offered discount in percent, if given as a discount.
    pub discount_percentage: Option<u32>,
    /// Units.
    pub quantity: u32,
    /// The seller's note.
    pub message: Option<String>,
    /// Whether the buyer may counter.
    pub allow_counter_offer: bool,
    /// When it was sent (simulated time).
    pub sent_at: DateTime<Utc>,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// Watchers per listing and the offers sent.
#[derive(Debug, Default)]
pub(crate) struct NegotiationState {
    interests: BTreeMap<String, BTreeSet<String>>,
    pub(crate) sent: Vec<SellerOffer>,
}

pub(crate) fn add_interest(st: &mut State, listing_id: &str, buyer: &str) -> Result<(), BuyError> {
    if st.inventory.offer_by_listing(listing_id).is_none() {
        return Err(BuyError::NotListed(listing_id.to_string()));
    }
    st.negotiation
        .interests
        .entry(listing_id.to_string())
        .or_default()
        .insert(buyer.to_string());
    Ok(())
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/sell/negotiation/v1/find_eligible_items",
            get(find_eligible_items),
        )
        .route(
            "/sell/negotiation/v1/send_offer_to_interested_buyers",
            post(send_offer_to_interested_buyers),
        )
}

fn bad(error_id: u32, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(error_id, domain::NEGOTIATION, message)
}

fn refused(error_id: u32, message: impl Into<String>) -> ApiError {
    ApiError::conflict(error_id, domain::NEGOTIATION, message)
}

fn marketplace(headers: &HeaderMap) -> Result<String, ApiError> {
    match header_str(headers, "x-ebay-c-marketplace-id") {
        None => Err(bad(150001, "Mandatory headers are missing.")
            .param("header", "X-EBAY-C-MARKETPLACE-ID")),
        Some(m) if MARKETPLACES.contains(&m) => Ok(m.to_string()),
        Some(m) => Err(bad(
            150002,
            format!(
                "The marketplace value {m} is not supported. The supported values are: {}",
                MARKETPLACES.join(",")
            ),
        )
        .param("marketplaceId", m)),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EligibleItem {
    listing_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PagedEligibleItemCollection {
    eligible_items: Vec<EligibleItem>,
    href: String,
    limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    total: u64,
}

async fn find_eligible_items(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(
        &mut st,
        &headers,
        now,
        Api::Negotiation,
        &[scopes::SELL_INVENTORY, scopes::SELL_INVENTORY_READONLY],
    )?;
    marketplace(&headers)?;
    let limit = match query_get(&pairs, "limit") {
        None => 10,
        Some(t) => match t.parse::<u64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(
                    bad(150003, "Invalid limit. Limit should be between 1 and 200.")
                        .param("limit", t),
                )
            }
        },
    };
    let offset = match query_get(&pairs, "offset") {
        None => 0,
        Some(t) => t.parse::<u64>().map_err(|_| {
            bad(150004, "Invalid offset. Offset cannot be less than 0.").param("offset", t)
        })?,
    };
    let eligible: Vec<String> = st
        .negotiation
        .interests
        .iter()
        .filter(|(_, buyers)| !buyers.is_empty())
        .filter(|(listing, _)| st.inventory.offer_by_listing(listing).is_some())
        .map(|(listing, _)| listing.clone())
        .collect();
    if eligible.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let total = eligible.len() as u64;
    let base = &st.base_url;
    let link = |offset: u64| {
        href(
            base,
            "/sell/negotiation/v1/find_eligible_items",
            &[("limit", limit.to_string()), ("offset", offset.to_string())],
        )
    };
    let body = PagedEligibleItemCollection {
        eligible_items: eligible
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|listing_id| EligibleItem { listing_id })
            .collect(),
        href: link(offset),
        limit,
        next: (offset + limit < total).then(|| link(offset + limit)),
        offset,
        prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        total,
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimeDuration {
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    value: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfferedItemIn {
    #[serde(default)]
    listing_id: Option<String>,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    price: Option<Amount>,
    #[serde(default)]
    discount_percentage: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateOffersRequest {
    #[serde(default)]
    allow_counter_offer: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    offer_duration: Option<TimeDuration>,
    #[serde(default)]
    offered_items: Option<Vec<OfferedItemIn>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferedItemOut {
    listing_id: String,
    quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_percentage: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserOut {
    masked_username: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DurationOut {
    unit: &'static str,
    value: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferOut {
    offer_id: String,
    offer_status: &'static str,
    offer_type: &'static str,
    initiated_by: &'static str,
    buyer: UserOut,
    creation_date: String,
    last_modified_date: String,
    allow_counter_offer: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    offer_duration: DurationOut,
    offered_items: Vec<OfferedItemOut>,
    revision: String,
}

#[derive(Serialize)]
struct SendOfferToInterestedBuyersCollectionResponse {
    offers: Vec<OfferOut>,
}

fn masked(username: &str) -> String {
    let mut chars = username.chars();
    match (chars.next(), chars.next_back()) {
        (Some(first), Some(last)) => format!("{first}***{last}"),
        (Some(first), None) => format!("{first}***"),
        _ => "***".into(),
    }
}

/// The offer's price or discount: one of them, a price at least 5 % under the listing's and
/// a discount of 5 to 80 %, as eBay checks them.
fn offer_terms(
    item: &OfferedItemIn,
    listed: Money,
    listing_id: &str,
) -> Result<(Option<Money>, Option<u32>), ApiError> {
    match (&item.price, &item.discount_percentage) {
        (Some(_), Some(_)) => Err(bad(
            150007,
            "Both offer price and discount percentage cannot be present in the request.",
        )),
        (None, None) => Err(bad(
            150009,
            "Invalid value for price. Send a price or a discountPercentage.",
        )
        .param("fieldName", "offeredItems.price")),
        (Some(p), None) => {
            let money = p
                .money()
                .ok()
                .filter(|m| m.currency == listed.currency && m.minor > 0)
                .ok_or_else(|| {
                    bad(150009, "Invalid value for price.").param("fieldName", "offeredItems.price")
                })?;
            if money.minor > listed.minor {
                return Err(refused(
                    150016,
                    format!("Invalid price for listing {listing_id}. Price value exceeds the listing price."),
                ));
            }
            if money.minor * 100 > listed.minor * 95 {
                return Err(bad(
                    150008,
                    "Price must be at least 5% less than your Buy It Now price.",
                ));
            }
            Ok((Some(money), None))
        }
        (None, Some(d)) => match d.trim().parse::<u32>() {
            Ok(n) if (5..=80).contains(&n) => Ok((None, Some(n))),
            _ => Err(bad(
                150009,
                "Invalid value for discountPercentage. It must be a whole number from 5 to 80.",
            )
            .param("fieldName", "offeredItems.discountPercentage")),
        },
    }
}

/// The offer's message, once it and the duration pass eBay's checks (no HTML, at most
/// 2,000 characters; two days).
fn checked_message(req: &CreateOffersRequest) -> Result<Option<String>, ApiError> {
    if req
        .message
        .as_deref()
        .is_some_and(|m| m.chars().count() > 2000 || m.contains('<'))
    {
        return Err(refused(
            150010,
            "Invalid message. Message cannot contain HTML or blocked words and cannot exceed maximum character limit of 2000.",
        ));
    }
    let duration = req.offer_duration.clone().unwrap_or(TimeDuration {
        unit: Some("DAY".into()),
        value: Some(2),
    });
    if duration.unit.as_deref() != Some("DAY") || duration.value != Some(2) {
        return Err(bad(
            150027,
            "Offer is invalid. Please specify a valid duration of 2 DAY",
        ));
    }
    Ok(req.message.clone())
}

/// The seller's live listing `listing_id` and its price; eBay's errors for one that ended,
/// never was, or has no price.
fn live_listing(st: &State, listing_id: &str) -> Result<(Offer, Money), ApiError> {
    let Some(offer) = st.inventory.offer_by_listing(listing_id).cloned() else {
        let ended = st.inventory.offers.values().any(|o| {
            o.listing
                .as_ref()
                .is_some_and(|l| l.listing_id == listing_id)
        });
        return Err(if ended {
            refused(
                150011,
                format!("Invalid listingId {listing_id}. The listing for this offer has ended."),
            )
        } else {
            refused(
                150012,
                format!("Invalid listingId {listing_id}. No such listing for this seller."),
            )
        }
        .param("listingId", listing_id));
    };
    let listed = offer
        .details
        .price()
        .and_then(|a| a.money().ok())
        .ok_or_else(|| {
            refused(
                150013,
                format!("Invalid listingId {listing_id}. It has no price."),
            )
        })?;
    Ok((offer, listed))
}

async fn send_offer_to_interested_buyers(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(
        &mut st,
        &headers,
        now,
        Api::Negotiation,
        &[scopes::SELL_INVENTORY],
    )?;
    marketplace(&headers)?;
    let empty = || bad(150006, "Request cannot be null/empty.");
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(empty());
    }
    let req: CreateOffersRequest = parse_body(&body, |path, detail| {
        bad(150009, format!("Invalid value for {path}. {detail}")).param("fieldName", path)
    })?;
    let items = req.offered_items.clone().unwrap_or_default();
    if items.len() > 1 {
        let ids: Vec<String> = items.iter().filter_map(|i| i.listing_id.clone()).collect();
        return Err(bad(
            150005,
            format!("Offer contains multiple listings {}.", ids.join(",")),
        ));
    }
    let Some(item) = items.into_iter().next() else {
        return Err(empty());
    };
    let listing_id = item.listing_id.clone().unwrap_or_default();
    let (offer, listed) = live_listing(&st, &listing_id)?;
    let (price, discount) = offer_terms(&item, listed, &listing_id)?;
    let quantity = item.quantity.unwrap_or(1);
    let available = st.inventory.available(&offer);
    if quantity < 1 {
        return Err(
            bad(150009, "Invalid value for quantity.").param("fieldName", "offeredItems.quantity")
        );
    }
    if quantity > available {
        return Err(refused(
            150014,
            format!("Current available quantity for this listing {listing_id} is less than the offer quantity."),
        ));
    }
    let message = checked_message(&req)?;
    let buyers: Vec<String> = st
        .negotiation
        .interests
        .get(&listing_id)
        .map(|b| b.iter().cloned().collect())
        .unwrap_or_default();
    if buyers.is_empty() {
        return Err(refused(
            150020,
            format!("Listing {listing_id} has no interested buyers."),
        ));
    }
    let allow_counter_offer = req.allow_counter_offer.unwrap_or(false);
    let quantity = quantity as u32;
    let mut offers = Vec::new();
    for buyer in buyers {
        let offer_id = st.digits(10);
        st.negotiation.sent.push(SellerOffer {
            offer_id: offer_id.clone(),
            listing_id: listing_id.clone(),
            buyer: buyer.clone(),
            price,
            discount_percentage: discount,
            quantity,
            message: message.clone(),
            allow_counter_offer,
            sent_at: now,
            expires_at: now + chrono::Duration::days(2),
        });
        offers.push(OfferOut {
            offer_id,
            offer_status: "PENDING",
            offer_type: "SELLER_INITIATED_OFFER",
            initiated_by: "SELLER",
            buyer: UserOut {
                masked_username: masked(&buyer),
            },
            creation_date: ebay_time(now),
            last_modified_date: ebay_time(now),
            allow_counter_offer,
            message: message.clone(),
            offer_duration: DurationOut {
                unit: "DAY",
                value: 2,
            },
            offered_items: vec![OfferedItemOut {
                listing_id: listing_id.clone(),
                quantity,
                price: price.map(Amount::of),
                discount_percentage: discount.map(|d| d.to_string()),
            }],
            revision: "1".into(),
        });
    }
    Ok(json_response(
        StatusCode::OK,
        &SendOfferToInterestedBuyersCollectionResponse { offers },
    ))
}
