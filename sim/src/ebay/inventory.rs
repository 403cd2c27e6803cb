//! Sell Inventory: the agent's inventory items (by SKU), offers, and the listings publishing
//! an offer creates.
//!
//! Revising a live listing (replacing its inventory item or offer, a bulk price/quantity
//! update, publishing it again) counts against eBay's limit of
//! [`super::EbayConfig::revisions_per_listing_per_day`] revisions per listing per day; the
//! next one is refused with errorId 25002 (the contract lists no dedicated id for this rule;
//! 25002 "A user error has occurred. {additionalInfo}" is the id the Inventory API uses to
//! pass listing-level refusals through, so that is the sim's choice).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::browse::{
    new_listing_id, BuyingOption, CatalogListing, Condition, ItemLocation, SellerProfile,
};
use super::errors::{domain, json_response, ApiError, Category, ErrorDetail};
use super::oauth::{authorize, scopes};
use super::{
    header_str, href, marketplace_currency, parse_body, query_get, query_pairs, Amount, Api, Reply,
    Shared, State, MARKETPLACES,
};

const READ: &[&str] = &[scopes::SELL_INVENTORY, scopes::SELL_INVENTORY_READONLY];
const WRITE: &[&str] = &[scopes::SELL_INVENTORY];

/// `Content-Language` values eBay accepts.
const LANGUAGES: &[&str] = &[
    "en-US", "en-GB", "en-AU", "en-CA", "fr-CA", "fr-FR", "fr-BE", "de-DE", "de-AT", "de-CH",
    "it-IT", "es-ES", "nl-NL", "nl-BE", "pl-PL", "zh-HK", "en-IE",
];

// ----- wire types (field names from sell_inventory_v1.json) -----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShipToLocationAvailability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quantity: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Availability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ship_to_location_availability: Option<ShipToLocationAvailability>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Product {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mpn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) epid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aspects: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) upc: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ean: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) isbn: Option<Vec<String>>,
}

/// `InventoryItem` as PUT takes it and GET returns it (with `sku` and `locale`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryItemBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) availability: Option<Availability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) condition_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) product: Option<Product>,
}

impl InventoryItemBody {
    fn quantity(&self) -> Option<i64> {
        self.availability
            .as_ref()?
            .ship_to_location_availability
            .as_ref()?
            .quantity
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemOut<'a> {
    sku: &'a str,
    locale: &'a str,
    #[serde(flatten)]
    body: &'a InventoryItemBody,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BestOffer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) best_offer_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auto_accept_price: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auto_decline_price: Option<Amount>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListingPolicies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fulfillment_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payment_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) return_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) best_offer_terms: Option<BestOffer>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PricingSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) price: Option<Amount>,
}

/// The part of an offer `PUT /offer/{offerId}` replaces (`EbayOfferDetailsWithId`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OfferDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) available_quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) category_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secondary_category_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) listing_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) listing_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) listing_start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) listing_policies: Option<ListingPolicies>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) merchant_location_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pricing_summary: Option<PricingSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quantity_limit_per_buyer: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lot_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) store_category_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) include_catalog_product_details: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hide_buyer_details: Option<bool>,
}

impl OfferDetails {
    pub(crate) fn price(&self) -> Option<&Amount> {
        self.pricing_summary.as_ref()?.price.as_ref()
    }
}

/// `POST /offer`'s body (`EbayOfferDetailsWithKeys`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateOffer {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    marketplace_id: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(flatten)]
    details: OfferDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListingDetailsOut<'a> {
    listing_id: &'a str,
    listing_status: &'static str,
    listing_on_hold: bool,
    sold_quantity: u32,
}

/// `EbayOfferDetailsWithAll`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferOut<'a> {
    offer_id: &'a str,
    sku: &'a str,
    marketplace_id: &'a str,
    format: &'a str,
    #[serde(flatten)]
    details: &'a OfferDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    listing: Option<ListingDetailsOut<'a>>,
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Offers<'a> {
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    limit: u64,
    size: u64,
    total: u64,
    offers: Vec<OfferOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferResponse {
    offer_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListingIdResponse {
    listing_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfferPriceQuantity {
    #[serde(default)]
    offer_id: Option<String>,
    #[serde(default)]
    available_quantity: Option<i64>,
    #[serde(default)]
    price: Option<Amount>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceQuantity {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    ship_to_location_availability: Option<ShipToLocationAvailability>,
    #[serde(default)]
    offers: Vec<OfferPriceQuantity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkPriceQuantity {
    #[serde(default)]
    requests: Vec<PriceQuantity>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PriceQuantityResponse {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offer_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ErrorDetail>,
}

#[derive(Serialize)]
struct BulkPriceQuantityResponse {
    responses: Vec<PriceQuantityResponse>,
}

// ----- state -----

#[derive(Debug, Clone)]
pub(crate) struct StoredItem {
    pub(crate) locale: String,
    pub(crate) body: InventoryItemBody,
}

/// A listing an offer created when it was published.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) listing_id: String,
    pub(crate) active: bool,
    pub(crate) sold: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub(crate) offer_id: String,
    pub(crate) sku: String,
    pub(crate) marketplace_id: String,
    pub(crate) format: String,
    pub(crate) details: OfferDetails,
    pub(crate) published: bool,
    pub(crate) listing: Option<Listing>,
}

impl Offer {
    /// The live listing's id, if the offer is published.
    pub(crate) fn live_listing(&self) -> Option<&str> {
        self.listing
            .as_ref()
            .filter(|l| self.published && l.active)
            .map(|l| l.listing_id.as_str())
    }
}

/// The agent's inventory.
#[derive(Debug, Default)]
pub(crate) struct InventoryState {
    pub(crate) items: BTreeMap<String, StoredItem>,
    pub(crate) offers: BTreeMap<String, Offer>,
    revisions: BTreeMap<(String, NaiveDate), u32>,
    /// Where the seller ships from.
    pub(crate) locations: super::location::LocationState,
}

impl InventoryState {
    /// The offer whose live listing is `listing_id`.
    pub(crate) fn offer_by_listing(&self, listing_id: &str) -> Option<&Offer> {
        self.offers
            .values()
            .find(|o| o.live_listing() == Some(listing_id))
    }

    pub(crate) fn offer_by_listing_mut(&mut self, listing_id: &str) -> Option<&mut Offer> {
        self.offers
            .values_mut()
            .find(|o| o.live_listing() == Some(listing_id))
    }

    /// Units the offer sells: its own `availableQuantity`, else the item's ship-to-home one.
    pub(crate) fn available(&self, offer: &Offer) -> i64 {
        offer
            .details
            .available_quantity
            .or_else(|| self.items.get(&offer.sku).and_then(|i| i.body.quantity()))
            .unwrap_or(0)
    }

    fn live_listings_of_sku(&self, sku: &str) -> Vec<String> {
        self.offers
            .values()
            .filter(|o| o.sku == sku)
            .filter_map(|o| o.live_listing().map(str::to_string))
            .collect()
    }
}

fn revision_error(listing_id: &str, limit: u32) -> ErrorDetail {
    ErrorDetail::new(
        25002,
        domain::INVENTORY,
        Category::Request,
        format!(
            "A user error has occurred. Listing {listing_id} has been revised {limit} times today, the most allowed in one calendar day."
        ),
    )
    .long(format!(
        "Each listing can be revised up to {limit} times in one calendar day. Try again tomorrow."
    ))
    .param("listingId", listing_id)
}

/// Refuses when any of `listings` has no revision left today.
fn check_revisions(st: &State, listings: &[String], day: NaiveDate) -> Result<(), ErrorDetail> {
    let limit = st.config.revisions_per_listing_per_day;
    for id in listings {
        let used = st
            .inventory
            .revisions
            .get(&(id.clone(), day))
            .copied()
            .unwrap_or(0);
        if used >= limit {
            return Err(revision_error(id, limit));
        }
    }
    Ok(())
}

fn record_revisions(st: &mut State, listings: &[String], day: NaiveDate) {
    for id in listings {
        *st.inventory.revisions.entry((id.clone(), day)).or_insert(0) += 1;
    }
}

/// Rewrites what Browse shows for the offer's live listing.
fn sync_catalog(st: &mut State, offer_id: &str, now: DateTime<Utc>) {
    let Some(offer) = st.inventory.offers.get(offer_id) else {
        return;
    };
    let Some(listing_id) = offer.live_listing().map(str::to_string) else {
        return;
    };
    let item = st.inventory.items.get(&offer.sku);
    let product = item
        .and_then(|i| i.body.product.clone())
        .unwrap_or_default();
    let condition = item
        .and_then(|i| i.body.condition.as_deref())
        .and_then(Condition::from_inventory_name)
        .unwrap_or(Condition::UsedGood);
    let currency = marketplace_currency(&offer.marketplace_id);
    let price = offer
        .details
        .price()
        .and_then(|a| a.money().ok())
        .unwrap_or(bazaar_memory::Money::zero(currency));
    let mut buying_options = vec![BuyingOption::FixedPrice];
    if offer
        .details
        .listing_policies
        .as_ref()
        .and_then(|p| p.best_offer_terms.as_ref())
        .and_then(|b| b.best_offer_enabled)
        .unwrap_or(false)
    {
        buying_options.push(BuyingOption::BestOffer);
    }
    let available = st.inventory.available(offer).max(0) as u32;
    let listing = CatalogListing {
        title: product.title.clone().unwrap_or_default(),
        description: offer
            .details
            .listing_description
            .clone()
            .or(product.description.clone())
            .unwrap_or_default(),
        price,
        condition,
        buying_options,
        seller: SellerProfile {
            username: st.config.seller_username.clone(),
            feedback_percentage: "100.0".into(),
            feedback_score: 0,
        },
        category_id: offer.details.category_id.clone().unwrap_or_default(),
        category_path: offer.details.category_id.clone().unwrap_or_default(),
        location: ItemLocation {
            city: "San Jose".into(),
            state_or_province: "CA".into(),
            postal_code: "95125".into(),
            country: "US".into(),
        },
        shipping_cost: None,
        image_url: product.image_urls.as_ref().and_then(|u| u.first().cloned()),
        brand: product.brand.clone(),
        aspects: product
            .aspects
            .iter()
            .flatten()
            .map(|(name, values)| (name.clone(), values.join(", ")))
            .collect(),
        quantity: available,
        listed_at: None,
        variations: Vec::new(),
    };
    st.catalog.upsert_own(&listing_id, listing, now);
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/sell/inventory/v1/inventory_item/{sku}",
            get(get_inventory_item).put(put_inventory_item),
        )
        .route(
            "/sell/inventory/v1/offer",
            get(get_offers).post(create_offer),
        )
        .route(
            "/sell/inventory/v1/offer/{offer_id}",
            get(get_offer).put(update_offer).delete(delete_offer),
        )
        .route(
            "/sell/inventory/v1/inventory_item",
            get(get_inventory_items),
        )
        .route("/sell/inventory/v1/offer/{offer_id}/publish", post(publish))
        .route(
            "/sell/inventory/v1/offer/{offer_id}/withdraw",
            post(withdraw),
        )
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(bulk_update_price_quantity),
        )
}

fn invalid_value(field: &str) -> ApiError {
    ApiError::bad_request(
        25709,
        domain::INVENTORY,
        format!("Invalid value for {field}."),
    )
    .param("fieldName", field)
}

fn body_error(path: String, detail: String) -> ApiError {
    if path.is_empty() || path == "." {
        ApiError::invalid_request(detail)
    } else {
        invalid_value(&path).long(detail)
    }
}

/// The locale `Content-Language` names, as eBay stores it (`en_US`). Language tags are
/// case-insensitive (RFC 5646), so `en-us` names the same locale as `en-US`.
fn content_language(headers: &HeaderMap) -> Result<String, ApiError> {
    let header = header_str(headers, "content-language");
    let known = header.and_then(|lang| {
        LANGUAGES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(lang.trim()))
    });
    match known {
        Some(lang) => Ok(lang.replace('-', "_")),
        None => Err(ApiError::bad_request(
            25709,
            domain::INVENTORY,
            "Invalid value for header Content-Language.",
        )
        .long(
            "The Content-Language header is required and must name a supported locale, e.g. en-US.",
        )
        .param("fieldName", "Content-Language")
        .param("value", header.unwrap_or(""))),
    }
}

fn offer_not_found(offer_id: &str) -> ApiError {
    ApiError::not_found(
        25713,
        domain::INVENTORY,
        "This Offer is not available : Offer not found.",
    )
    .param("offerId", offer_id)
}

fn sku_not_found(sku: &str) -> ApiError {
    ApiError::bad_request(
        25702,
        domain::INVENTORY,
        format!("{sku} could not be found or is not available in the system."),
    )
    .param("sku", sku)
}

fn valid_sku(sku: &str) -> bool {
    (1..=50).contains(&sku.len())
        && sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn put_inventory_item(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(sku): Path<String>,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    let locale = content_language(&headers)?;
    if !valid_sku(&sku) {
        return Err(ApiError::bad_request(
            25707,
            domain::INVENTORY,
            "This is an invalid value for a SKU. Only alphanumeric characters can be used for SKUs, and their length must not exceed 50 characters",
        )
        .param("sku", sku));
    }
    let item: InventoryItemBody = parse_body(&body, body_error)?;
    if let Some(c) = &item.condition {
        if Condition::from_inventory_name(c).is_none() {
            return Err(ApiError::bad_request(
                25021,
                domain::INVENTORY,
                "The eBay listing associated with the inventory item, or the unpublished offer has invalid item condition information.",
            )
            .param("condition", c.clone()));
        }
    }
    if item.quantity().is_some_and(|q| q < 0) {
        return Err(ApiError::bad_request(
            25004,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has an invalid quantity.",
        ));
    }
    if let Some(title) = item.product.as_ref().and_then(|p| p.title.as_ref()) {
        if title.chars().count() > 80 {
            return Err(
                invalid_value("product.title").long("A title can have at most 80 characters.")
            );
        }
    }
    let live = st.inventory.live_listings_of_sku(&sku);
    let day = st.day(now);
    check_revisions(&st, &live, day).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        errors: vec![e],
    })?;
    record_revisions(&mut st, &live, day);
    st.inventory
        .items
        .insert(sku.clone(), StoredItem { locale, body: item });
    let offer_ids: Vec<String> = st
        .inventory
        .offers
        .values()
        .filter(|o| o.sku == sku)
        .map(|o| o.offer_id.clone())
        .collect();
    for id in offer_ids {
        sync_catalog(&mut st, &id, now);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_inventory_item(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let Some(item) = st.inventory.items.get(&sku) else {
        return Err(ApiError::not_found(
            25710,
            domain::INVENTORY,
            "We didn't find the resource/entity you are requesting. Please verify the request",
        )
        .param("sku", sku));
    };
    Ok(json_response(
        StatusCode::OK,
        &InventoryItemOut {
            sku: &sku,
            locale: &item.locale,
            body: &item.body,
        },
    ))
}

/// Checks the fields both create and update take.
fn check_details(details: &OfferDetails, marketplace: &str) -> Result<(), ApiError> {
    if let Some(price) = details.price() {
        match price.money() {
            Ok(m) if m.currency == marketplace_currency(marketplace) && m.minor > 0 => {}
            _ => {
                return Err(invalid_value("pricingSummary.price").long(format!(
                    "The price must be a positive decimal string in {} for {marketplace}.",
                    marketplace_currency(marketplace).code()
                )))
            }
        }
    }
    if details.available_quantity.is_some_and(|q| q < 0) {
        return Err(invalid_value("availableQuantity"));
    }
    if details
        .listing_duration
        .as_deref()
        .is_some_and(|d| d != "GTC")
    {
        return Err(invalid_value("listingDuration")
            .long("Fixed-price listings run Good 'Til Cancelled: listingDuration must be GTC."));
    }
    if let Some(terms) = details
        .listing_policies
        .as_ref()
        .and_then(|p| p.best_offer_terms.as_ref())
    {
        for (name, amount) in [
            ("autoAcceptPrice", &terms.auto_accept_price),
            ("autoDeclinePrice", &terms.auto_decline_price),
        ] {
            if amount.as_ref().is_some_and(|a| a.money().is_err()) {
                return Err(invalid_value(&format!(
                    "listingPolicies.bestOfferTerms.{name}"
                )));
            }
        }
    }
    Ok(())
}

async fn create_offer(AxState(sh): AxState<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    content_language(&headers)?;
    let req: CreateOffer = parse_body(&body, body_error)?;
    let sku = req.sku.clone().ok_or_else(|| invalid_value("sku"))?;
    if !st.inventory.items.contains_key(&sku) {
        return Err(sku_not_found(&sku));
    }
    let marketplace = req
        .marketplace_id
        .clone()
        .filter(|m| MARKETPLACES.contains(&m.as_str()))
        .ok_or_else(|| invalid_value("marketplaceId"))?;
    let format = req
        .format
        .clone()
        .filter(|f| f == "FIXED_PRICE")
        .ok_or_else(|| {
            invalid_value("format").long("The simulator lists FIXED_PRICE offers only.")
        })?;
    check_details(&req.details, &marketplace)?;
    if let Some(existing) = st
        .inventory
        .offers
        .values()
        .find(|o| o.sku == sku && o.marketplace_id == marketplace && o.format == format)
    {
        return Err(ApiError::bad_request(
            25002,
            domain::INVENTORY,
            "A user error has occurred. Offer entity already exists.",
        )
        .param("offerId", existing.offer_id.clone()));
    }
    let offer_id = loop {
        let id = st.digits(10);
        if !st.inventory.offers.contains_key(&id) {
            break id;
        }
    };
    st.inventory.offers.insert(
        offer_id.clone(),
        Offer {
            offer_id: offer_id.clone(),
            sku,
            marketplace_id: marketplace,
            format,
            details: req.details,
            published: false,
            listing: None,
        },
    );
    Ok(json_response(
        StatusCode::CREATED,
        &OfferResponse { offer_id },
    ))
}

fn offer_out(offer: &Offer) -> OfferOut<'_> {
    OfferOut {
        offer_id: &offer.offer_id,
        sku: &offer.sku,
        marketplace_id: &offer.marketplace_id,
        format: &offer.format,
        details: &offer.details,
        listing: offer.listing.as_ref().map(|l| ListingDetailsOut {
            listing_id: &l.listing_id,
            listing_status: if l.active && offer.published {
                "ACTIVE"
            } else {
                "ENDED"
            },
            listing_on_hold: false,
            sold_quantity: l.sold,
        }),
        status: if offer.published {
            "PUBLISHED"
        } else {
            "UNPUBLISHED"
        },
    }
}

/// `limit` and `offset` of the Inventory API's lists, where `offset` is a page number
/// ("the first page of records has a value of 0, the second page of records has a value
/// of 1"), not a record count as in Browse.
struct Paging {
    limit: u64,
    page: u64,
}

impl Paging {
    fn from_query(pairs: &[(String, String)], default_limit: u64) -> Result<Paging, ApiError> {
        let invalid = |name: &str, value: &str| {
            ApiError::bad_request(
                25706,
                domain::INVENTORY,
                "You have provided invalid pagination values.",
            )
            .param(name, value)
        };
        let read = |name: &str, default: u64| match query_get(pairs, name) {
            None => Ok(default),
            Some(t) => t.parse::<u64>().map_err(|_| invalid(name, t)),
        };
        let limit = read("limit", default_limit)?;
        if limit == 0 || limit > 200 {
            return Err(invalid("limit", &limit.to_string()));
        }
        Ok(Paging {
            limit,
            page: read("offset", 0)?,
        })
    }

    fn page<'a, T>(&self, all: &'a [T]) -> impl Iterator<Item = &'a T> {
        let skip = self.page.saturating_mul(self.limit);
        all.iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(self.limit as usize)
    }

    /// `href`, `next` and `prev` of this page of `total` records: `path` with the query's
    /// own `filters`, then this page's `limit` and `offset`.
    fn links(
        &self,
        base: &str,
        path: &str,
        filters: &[(&str, String)],
        total: u64,
    ) -> (String, Option<String>, Option<String>) {
        let link = |page: u64| {
            let mut pairs = filters.to_vec();
            pairs.push(("limit", self.limit.to_string()));
            pairs.push(("offset", page.to_string()));
            href(base, path, &pairs)
        };
        let has_next = (self.page + 1).saturating_mul(self.limit) < total;
        (
            link(self.page),
            has_next.then(|| link(self.page + 1)),
            (self.page > 0).then(|| link(self.page - 1)),
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItems<'a> {
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    limit: u64,
    /// The contract: "the total number of pages of results that are available".
    size: u64,
    total: u64,
    inventory_items: Vec<InventoryItemOut<'a>>,
}

/// `GET /inventory_item`: every inventory item of the seller, a page at a time (25 by
/// default): how a seller finds SKUs it lost track of.
async fn get_inventory_items(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let paging = Paging::from_query(&pairs, 25)?;
    let all: Vec<(&String, &StoredItem)> = st.inventory.items.iter().collect();
    let total = all.len() as u64;
    let items = paging
        .page(&all)
        .map(|(sku, item)| InventoryItemOut {
            sku,
            locale: &item.locale,
            body: &item.body,
        })
        .collect();
    let (href, next, prev) = paging.links(
        &st.base_url,
        "/sell/inventory/v1/inventory_item",
        &[],
        total,
    );
    let body = InventoryItems {
        href,
        next,
        prev,
        limit: paging.limit,
        size: total.div_ceil(paging.limit),
        total,
        inventory_items: items,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /offer/{offerId}`: the offer is gone, and its listing ends if it was live.
async fn delete_offer(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(offer_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    let offer = st
        .inventory
        .offers
        .remove(&offer_id)
        .ok_or_else(|| offer_not_found(&offer_id))?;
    if let Some(listing_id) = offer.live_listing() {
        st.catalog.end(listing_id, now);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_offers(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let sku = query_get(&pairs, "sku")
        .map(str::to_string)
        .ok_or_else(|| invalid_value("sku"))?;
    // getOffers: "If this query parameter is not set, up to 100 records will be returned".
    let paging = Paging::from_query(&pairs, 100)?;
    if !st.inventory.items.contains_key(&sku) {
        return Err(sku_not_found(&sku));
    }
    let marketplace = query_get(&pairs, "marketplace_id");
    let format = query_get(&pairs, "format");
    let matching: Vec<&Offer> = st
        .inventory
        .offers
        .values()
        .filter(|o| o.sku == sku)
        .filter(|o| marketplace.is_none_or(|m| o.marketplace_id == m))
        .filter(|o| format.is_none_or(|f| o.format == f))
        .collect();
    if matching.is_empty() {
        return Err(ApiError::not_found(
            25713,
            domain::INVENTORY,
            "This Offer is not available : No offer exists for this SKU.",
        )
        .param("sku", sku));
    }
    let total = matching.len() as u64;
    let page: Vec<OfferOut<'_>> = paging.page(&matching).map(|o| offer_out(o)).collect();
    let (href, next, prev) = paging.links(
        &st.base_url,
        "/sell/inventory/v1/offer",
        &[("sku", sku.clone())],
        total,
    );
    let body = Offers {
        href,
        next,
        prev,
        limit: paging.limit,
        size: page.len() as u64,
        total,
        offers: page,
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_offer(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(offer_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let offer = st
        .inventory
        .offers
        .get(&offer_id)
        .ok_or_else(|| offer_not_found(&offer_id))?;
    Ok(json_response(StatusCode::OK, &offer_out(offer)))
}

async fn update_offer(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(offer_id): Path<String>,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    content_language(&headers)?;
    let details: OfferDetails = parse_body(&body, body_error)?;
    let offer = st
        .inventory
        .offers
        .get(&offer_id)
        .ok_or_else(|| offer_not_found(&offer_id))?;
    check_details(&details, &offer.marketplace_id)?;
    let live: Vec<String> = offer
        .live_listing()
        .map(str::to_string)
        .into_iter()
        .collect();
    if !live.is_empty() && details.price().is_none() {
        return Err(ApiError::bad_request(
            25003,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has an invalid price.",
        )
        .long("A published offer must keep a price: send every field when replacing an offer."));
    }
    let day = st.day(now);
    check_revisions(&st, &live, day).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        errors: vec![e],
    })?;
    record_revisions(&mut st, &live, day);
    if let Some(offer) = st.inventory.offers.get_mut(&offer_id) {
        offer.details = details;
    }
    sync_catalog(&mut st, &offer_id, now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What publishing needs; the first thing missing, in eBay's words.
fn publish_ready(st: &State, offer: &Offer) -> Result<(), ApiError> {
    let Some(item) = st.inventory.items.get(&offer.sku) else {
        return Err(sku_not_found(&offer.sku));
    };
    let title_ok = item
        .body
        .product
        .as_ref()
        .and_then(|p| p.title.as_ref())
        .is_some_and(|t| !t.trim().is_empty());
    if !title_ok {
        return Err(ApiError::bad_request(
            25002,
            domain::INVENTORY,
            "A user error has occurred. The item has no title: set product.title on the inventory item.",
        )
        .param("sku", offer.sku.clone()));
    }
    if item.body.condition.is_none() {
        return Err(ApiError::bad_request(
            25021,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has invalid item condition information.",
        )
        .param("sku", offer.sku.clone()));
    }
    if st.inventory.available(offer) <= 0 {
        return Err(ApiError::bad_request(
            25004,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has an invalid quantity.",
        )
        .long("Set availability.shipToLocationAvailability.quantity or availableQuantity above 0."));
    }
    if offer.details.price().is_none() {
        return Err(ApiError::bad_request(
            25003,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has an invalid price.",
        ));
    }
    if offer
        .details
        .category_id
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        return Err(ApiError::bad_request(
            25005,
            domain::INVENTORY,
            "The eBay listing associated with the inventory item, or the unpublished offer has an invalid category ID.",
        ));
    }
    check_policies(st, offer)?;
    check_location(st, offer)
}

/// Each policy named, and a policy of the seller's of that kind.
fn check_policies(st: &State, offer: &Offer) -> Result<(), ApiError> {
    let policies = offer.details.listing_policies.clone().unwrap_or_default();
    let account = &st.config.seller_policies;
    let all: Vec<&String> = account
        .fulfillment
        .iter()
        .chain(&account.payment)
        .chain(&account.returns)
        .collect();
    for (named, of_kind, error_id, what, kind) in [
        (
            &policies.fulfillment_policy_id,
            &account.fulfillment,
            25007,
            "Fulfillment",
            "FULFILLMENT_POLICY",
        ),
        (
            &policies.payment_policy_id,
            &account.payment,
            25008,
            "Payment",
            "PAYMENT_POLICY",
        ),
        (
            &policies.return_policy_id,
            &account.returns,
            25009,
            "Return",
            "RETURN_POLICY",
        ),
    ] {
        let id = named.as_deref().unwrap_or("");
        if id.is_empty() {
            return Err(ApiError::bad_request(
                error_id,
                domain::INVENTORY,
                format!("The eBay listing associated with the inventory item, or the unpublished offer has invalid data in the associated {what} policy."),
            ));
        }
        if of_kind.iter().any(|p| p == id) {
            continue;
        }
        if all.iter().any(|p| *p == id) {
            return Err(ApiError::bad_request(
                25036,
                domain::INVENTORY,
                format!("The policy(ies) {id} is not of type {kind}"),
            )
            .param("PolicyId", id)
            .param("PolicyEnum", kind));
        }
        return Err(ApiError::bad_request(
            25035,
            domain::INVENTORY,
            "The specified policy is not found for the market place",
        )
        .param("policyId", id));
    }
    Ok(())
}

/// A location the seller created and has not disabled. Without one eBay cannot tell
/// where the item ships from and answers with the Trading API's words for it.
fn check_location(st: &State, offer: &Offer) -> Result<(), ApiError> {
    let key = offer.details.merchant_location_key.as_deref().unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::bad_request(
            25002,
            domain::INVENTORY,
            "A user error has occurred. No <Item.Country> exists or <Item.Country> is specified as an empty tag in the request.",
        )
        .long("Set merchantLocationKey on the offer to an inventory location created with createInventoryLocation."));
    }
    if !st.inventory.locations.usable(key) {
        return Err(ApiError::bad_request(
            25012,
            domain::INVENTORY,
            "Invalid inventory location. No enabled location has this merchantLocationKey.",
        )
        .param("merchantLocationKey", key));
    }
    Ok(())
}

async fn publish(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(offer_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    let offer = st
        .inventory
        .offers
        .get(&offer_id)
        .ok_or_else(|| offer_not_found(&offer_id))?
        .clone();
    publish_ready(&st, &offer)?;
    let listing_id = match offer.live_listing() {
        Some(live) => {
            // Publishing a live offer again revises its listing.
            let live = vec![live.to_string()];
            let day = st.day(now);
            check_revisions(&st, &live, day).map_err(|e| ApiError {
                status: StatusCode::BAD_REQUEST,
                errors: vec![e],
            })?;
            record_revisions(&mut st, &live, day);
            live[0].clone()
        }
        None => {
            let listing_id = new_listing_id(&mut st);
            if let Some(o) = st.inventory.offers.get_mut(&offer_id) {
                o.published = true;
                o.listing = Some(Listing {
                    listing_id: listing_id.clone(),
                    active: true,
                    sold: 0,
                });
            }
            listing_id
        }
    };
    sync_catalog(&mut st, &offer_id, now);
    Ok(json_response(
        StatusCode::OK,
        &ListingIdResponse { listing_id },
    ))
}

async fn withdraw(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(offer_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    let offer = st
        .inventory
        .offers
        .get_mut(&offer_id)
        .ok_or_else(|| offer_not_found(&offer_id))?;
    let Some(listing_id) = offer.live_listing().map(str::to_string) else {
        return Err(ApiError::bad_request(
            25713,
            domain::INVENTORY,
            "This Offer is not available : The offer is not published.",
        )
        .param("offerId", offer_id));
    };
    offer.published = false;
    if let Some(l) = offer.listing.as_mut() {
        l.active = false;
    }
    st.catalog.end(&listing_id, now);
    Ok(json_response(
        StatusCode::OK,
        &ListingIdResponse { listing_id },
    ))
}

/// What is wrong with one SKU's update, if anything: every offer must exist, belong to the
/// SKU and carry valid values, and the quantity must not be negative.
fn price_quantity_error(st: &State, pq: &PriceQuantity, sku: &str) -> Option<ErrorDetail> {
    // Every offer must exist, belong to the SKU and carry valid values.
    let mut bad = None;
    for o in &pq.offers {
        let id = o.offer_id.clone().unwrap_or_default();
        match st.inventory.offers.get(&id) {
            Some(offer) if offer.sku == *sku => {
                let price_ok = o.price.as_ref().is_none_or(|p| {
                    p.money().is_ok_and(|m| {
                        m.currency == marketplace_currency(&offer.marketplace_id) && m.minor > 0
                    })
                });
                if !price_ok {
                    bad = Some(invalid_value("price").into_detail());
                } else if o.available_quantity.is_some_and(|q| q < 0) {
                    bad = Some(invalid_value("availableQuantity").into_detail());
                }
            }
            _ => bad = Some(offer_not_found(&id).into_detail()),
        }
        if bad.is_some() {
            break;
        }
    }
    let quantity = pq
        .ship_to_location_availability
        .as_ref()
        .and_then(|s| s.quantity);
    if quantity.is_some_and(|q| q < 0) {
        bad = Some(invalid_value("shipToLocationAvailability.quantity").into_detail());
    }
    bad
}

/// Applies one SKU's price and quantity update, all or nothing, and answers for each of
/// its offers.
fn update_price_quantity(
    st: &mut State,
    pq: &PriceQuantity,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<PriceQuantityResponse> {
    let mut responses = Vec::new();
    let sku = pq.sku.clone().unwrap_or_default();
    let fail = |offer_id: Option<String>, error: ErrorDetail| PriceQuantityResponse {
        status_code: 400,
        sku: Some(sku.clone()),
        offer_id,
        errors: vec![error],
    };
    let fail_all = |error: ErrorDetail| -> Vec<PriceQuantityResponse> {
        if pq.offers.is_empty() {
            vec![fail(None, error)]
        } else {
            pq.offers
                .iter()
                .map(|o| fail(o.offer_id.clone(), error.clone()))
                .collect()
        }
    };
    if !st.inventory.items.contains_key(&sku) {
        return fail_all(sku_not_found(&sku).into_detail());
    }
    let quantity = pq
        .ship_to_location_availability
        .as_ref()
        .and_then(|s| s.quantity);
    if let Some(error) = price_quantity_error(st, pq, &sku) {
        return fail_all(error);
    }
    let mut touched: BTreeSet<String> = BTreeSet::new();
    if quantity.is_some() {
        touched.extend(st.inventory.live_listings_of_sku(&sku));
    }
    for o in &pq.offers {
        if let Some(live) = o
            .offer_id
            .as_ref()
            .and_then(|id| st.inventory.offers.get(id))
            .and_then(|offer| offer.live_listing())
        {
            touched.insert(live.to_string());
        }
    }
    let touched: Vec<String> = touched.into_iter().collect();
    if let Err(error) = check_revisions(st, &touched, day) {
        return fail_all(error);
    }
    record_revisions(st, &touched, day);
    if let Some(q) = quantity {
        if let Some(item) = st.inventory.items.get_mut(&sku) {
            item.body
                .availability
                .get_or_insert_with(Availability::default)
                .ship_to_location_availability
                .get_or_insert_with(ShipToLocationAvailability::default)
                .quantity = Some(q);
        }
    }
    for o in &pq.offers {
        let id = o.offer_id.clone().unwrap_or_default();
        if let Some(offer) = st.inventory.offers.get_mut(&id) {
            if let Some(q) = o.available_quantity {
                offer.details.available_quantity = Some(q);
            }
            if let Some(price) = &o.price {
                offer
                    .details
                    .pricing_summary
                    .get_or_insert_with(PricingSummary::default)
                    .price = Some(price.clone());
            }
        }
        responses.push(PriceQuantityResponse {
            status_code: 200,
            sku: Some(sku.clone()),
            offer_id: Some(id),
            errors: Vec::new(),
        });
    }
    if pq.offers.is_empty() {
        responses.push(PriceQuantityResponse {
            status_code: 200,
            sku: Some(sku.clone()),
            offer_id: None,
            errors: Vec::new(),
        });
    }
    let offer_ids: Vec<String> = st
        .inventory
        .offers
        .values()
        .filter(|o| o.sku == sku)
        .map(|o| o.offer_id.clone())
        .collect();
    for id in offer_ids {
        sync_catalog(st, &id, now);
    }
    responses
}

async fn bulk_update_price_quantity(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    let req: BulkPriceQuantity = parse_body(&body, body_error)?;
    if req.requests.is_empty() || req.requests.len() > 25 {
        return Err(invalid_value("requests").long("Send between 1 and 25 requests."));
    }
    let day = st.day(now);
    let mut responses = Vec::new();
    for pq in &req.requests {
        responses.extend(update_price_quantity(&mut st, pq, day, now));
    }
    let status = if responses.iter().all(|r| r.status_code == 200) {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok(json_response(
        status,
        &BulkPriceQuantityResponse { responses },
    ))
}
