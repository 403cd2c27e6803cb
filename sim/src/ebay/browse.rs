//! Buy Browse: `GET /buy/browse/v1/item_summary/search` and `GET /buy/browse/v1/item/{item_id}`
//! over a catalog of other sellers' items (seeded through [`super::EbaySim::add_listing`])
//! and the agent's own published listings.
//!
//! `q`: words separated by spaces must all match (AND); `(a, b)` matches either (OR); words
//! are matched case-insensitively against the title's words. `filter`: `price:[lo..hi]`
//! with `priceCurrency`, `buyingOptions:{…}`, `conditions:{NEW|USED}`, `conditionIds:{…}`,
//! `sellers:{…}`, `excludeSellers:{…}`, `itemLocationCountry`. Filter mistakes are warnings
//! inside a 200, as eBay reports them (12002, 12008, 12012). `sort`: `price`, `-price`,
//! `newlyListed`; no sort is "best match", which here is listing order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use bazaar_memory::{Currency, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::errors::{domain, json_response, ApiError, Category, ErrorDetail};
use super::oauth::{authorize, scopes};
use super::{
    header_str, href, query_get, query_pairs, Amount, Api, Reply, Shared, State, MARKETPLACES,
};

/// An item's condition, named as the Inventory API names it; Browse shows its id and label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Condition {
    /// 1000 "New".
    New,
    /// 2750 "Like New".
    LikeNew,
    /// 1500 "Open box".
    NewOther,
    /// 1750 "New with defects".
    NewWithDefects,
    /// 2000.
    CertifiedRefurbished,
    /// 2010.
    ExcellentRefurbished,
    /// 2020.
    VeryGoodRefurbished,
    /// 2030.
    GoodRefurbished,
    /// 2500.
    SellerRefurbished,
    /// 3000 "Used".
    UsedExcellent,
    /// 4000 "Very Good".
    UsedVeryGood,
    /// 5000 "Good".
    UsedGood,
    /// 6000 "Acceptable".
    UsedAcceptable,
    /// 7000.
    ForPartsOrNotWorking,
    /// 2990.
    PreOwnedExcellent,
    /// 3010.
    PreOwnedFair,
}

const CONDITIONS: [Condition; 16] = [
    Condition::New,
    Condition::LikeNew,
    Condition::NewOther,
    Condition::NewWithDefects,
    Condition::CertifiedRefurbished,
    Condition::ExcellentRefurbished,
    Condition::VeryGoodRefurbished,
    Condition::GoodRefurbished,
    Condition::SellerRefurbished,
    Condition::UsedExcellent,
    Condition::UsedVeryGood,
    Condition::UsedGood,
    Condition::UsedAcceptable,
    Condition::ForPartsOrNotWorking,
    Condition::PreOwnedExcellent,
    Condition::PreOwnedFair,
];

impl Condition {
    /// eBay's condition id (`conditionId`).
    pub fn id(self) -> u32 {
        match self {
            Condition::New => 1000,
            Condition::NewOther => 1500,
            Condition::NewWithDefects => 1750,
            Condition::CertifiedRefurbished => 2000,
            Condition::ExcellentRefurbished => 2010,
            Condition::VeryGoodRefurbished => 2020,
            Condition::GoodRefurbished => 2030,
            Condition::SellerRefurbished => 2500,
            Condition::LikeNew => 2750,
            Condition::PreOwnedExcellent => 2990,
            Condition::UsedExcellent => 3000,
            Condition::PreOwnedFair => 3010,
            Condition::UsedVeryGood => 4000,
            Condition::UsedGood => 5000,
            Condition::UsedAcceptable => 6000,
            Condition::ForPartsOrNotWorking => 7000,
        }
    }

    /// The label Browse shows (`condition`).
    pub fn label(self) -> &'static str {
        match self {
            Condition::New => "New",
            Condition::NewOther => "Open box",
            Condition::NewWithDefects => "New with defects",
            Condition::CertifiedRefurbished => "Certified - Refurbished",
            Condition::ExcellentRefurbished => "Excellent - Refurbished",
            Condition::VeryGoodRefurbished => "Very Good - Refurbished",
            Condition::GoodRefurbished => "Good - Refurbished",
            Condition::SellerRefurbished => "Seller refurbished",
            Condition::LikeNew => "Like New",
            Condition::PreOwnedExcellent => "Pre-owned - Excellent",
            Condition::UsedExcellent => "Used",
            Condition::PreOwnedFair => "Pre-owned - Fair",
            Condition::UsedVeryGood => "Very Good",
            Condition::UsedGood => "Good",
            Condition::UsedAcceptable => "Acceptable",
            Condition::ForPartsOrNotWorking => "For parts or not working",
        }
    }

    /// The Inventory API's name (`USED_EXCELLENT`).
    pub fn inventory_name(self) -> &'static str {
        match self {
            Condition::New => "NEW",
            Condition::LikeNew => "LIKE_NEW",
            Condition::NewOther => "NEW_OTHER",
            Condition::NewWithDefects => "NEW_WITH_DEFECTS",
            Condition::CertifiedRefurbished => "CERTIFIED_REFURBISHED",
            Condition::ExcellentRefurbished => "EXCELLENT_REFURBISHED",
            Condition::VeryGoodRefurbished => "VERY_GOOD_REFURBISHED",
            Condition::GoodRefurbished => "GOOD_REFURBISHED",
            Condition::SellerRefurbished => "SELLER_REFURBISHED",
            Condition::UsedExcellent => "USED_EXCELLENT",
            Condition::UsedVeryGood => "USED_VERY_GOOD",
            Condition::UsedGood => "USED_GOOD",
            Condition::UsedAcceptable => "USED_ACCEPTABLE",
            Condition::ForPartsOrNotWorking => "FOR_PARTS_OR_NOT_WORKING",
            Condition::PreOwnedExcellent => "PRE_OWNED_EXCELLENT",
            Condition::PreOwnedFair => "PRE_OWNED_FAIR",
        }
    }

    /// Parses the Inventory API's name.
    pub fn from_inventory_name(name: &str) -> Option<Condition> {
        CONDITIONS.into_iter().find(|c| c.inventory_name() == name)
    }

    /// Browse's `conditions` filter class: NEW for ids below 2000, USED otherwise.
    pub fn is_new(self) -> bool {
        self.id() < 2000
    }
}

/// `buyingOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuyingOption {
    /// Buy It Now.
    FixedPrice,
    /// Accepts offers.
    BestOffer,
    /// Auction.
    Auction,
}

impl BuyingOption {
    /// eBay's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyingOption::FixedPrice => "FIXED_PRICE",
            BuyingOption::BestOffer => "BEST_OFFER",
            BuyingOption::Auction => "AUCTION",
        }
    }
}

/// The seller as Browse shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerProfile {
    /// eBay user id.
    pub username: String,
    /// Positive feedback percentage as eBay writes it (`"99.6"`).
    pub feedback_percentage: String,
    pub feedback_score: u32,
}

/// Where the item is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLocation {
    pub city: String,
    /// State or province code.
    pub state_or_province: String,
    pub postal_code: String,
    /// Two-letter country code.
    pub country: String,
}

/// An item for sale, as the simulator seeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogListing {
    /// Title (eBay allows 80 characters).
    pub title: String,
    /// Description (HTML allowed).
    pub description: String,
    /// Asking price.
    pub price: Money,
    pub condition: Condition,
    /// How it can be bought.
    pub buying_options: Vec<BuyingOption>,
    /// Who sells it.
    pub seller: SellerProfile,
    /// Leaf category id.
    pub category_id: String,
    /// `Parent|Child` path.
    pub category_path: String,
    /// Where it is.
    pub location: ItemLocation,
    /// Shipping cost, if it ships.
    pub shipping_cost: Option<Money>,
    /// Picture URL.
    pub image_url: Option<String>,
    pub brand: Option<String>,
    /// Item specifics, as name/value pairs.
    pub aspects: Vec<(String, String)>,
    /// Units for sale.
    pub quantity: u32,
    /// When it was listed; the clock's now when `None`.
    pub listed_at: Option<DateTime<Utc>>,
    /// A multi-variation listing's variants (empty: one item). Search shows the group
    /// once, at its first variant's price (eBay's one display price), with `itemGroupHref`;
    /// `getItemsByItemGroup` gives every variant at its own price.
    pub variations: Vec<Variation>,
}

/// One variant of a multi-variation listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variation {
    /// What sets it apart (`Storage Capacity` = `64 GB`).
    pub aspects: Vec<(String, String)>,
    pub price: Money,
}

impl CatalogListing {
    /// A used, fixed-price, single-unit listing by `seller_42` in San Jose, with no
    /// category, shipping, picture or aspects: fill in what a test or scenario needs.
    pub fn new(title: impl Into<String>, price: Money) -> CatalogListing {
        CatalogListing {
            title: title.into(),
            description: String::new(),
            price,
            condition: Condition::UsedGood,
            buying_options: vec![BuyingOption::FixedPrice],
            seller: SellerProfile {
                username: "seller_42".into(),
                feedback_percentage: "99.1".into(),
                feedback_score: 412,
            },
            category_id: "293".into(),
            category_path: "Consumer Electronics".into(),
            location: ItemLocation {
                city: "San Jose".into(),
                state_or_province: "CA".into(),
                postal_code: "95125".into(),
                country: "US".into(),
            },
            shipping_cost: None,
            image_url: None,
            brand: None,
            aspects: Vec::new(),
            quantity: 1,
            listed_at: None,
            variations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct CatalogItem {
    legacy_id: String,
    /// Each variation's `legacyVariationId`, in the order of `listing.variations`.
    variation_ids: Vec<String>,
    listing: CatalogListing,
    listed_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    sold: u32,
}

/// Everything Browse can find.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    items: Vec<CatalogItem>,
    by_legacy: BTreeMap<String, usize>,
}

impl Catalog {
    fn insert(
        &mut self,
        legacy_id: String,
        variation_ids: Vec<String>,
        mut listing: CatalogListing,
        now: DateTime<Utc>,
    ) {
        let listed_at = listing.listed_at.unwrap_or(now);
        if let Some(first) = listing.variations.first() {
            listing.price = first.price;
        }
        self.by_legacy.insert(legacy_id.clone(), self.items.len());
        self.items.push(CatalogItem {
            legacy_id,
            variation_ids,
            listing,
            listed_at,
            ended_at: None,
            sold: 0,
        });
    }

    fn get_mut(&mut self, legacy_id: &str) -> Option<&mut CatalogItem> {
        let i = *self.by_legacy.get(legacy_id)?;
        self.items.get_mut(i)
    }

    /// Whether a listing id is taken (by another seller or the agent).
    pub(crate) fn contains(&self, legacy_id: &str) -> bool {
        self.by_legacy.contains_key(legacy_id)
    }

    /// The agent's listing went live or was revised: (re)write what Browse shows.
    pub(crate) fn upsert_own(
        &mut self,
        listing_id: &str,
        listing: CatalogListing,
        now: DateTime<Utc>,
    ) {
        match self.get_mut(listing_id) {
            Some(item) => {
                item.listing = listing;
                item.ended_at = None;
            }
            None => self.insert(listing_id.to_string(), Vec::new(), listing, now),
        }
    }

    /// The listing ended.
    pub(crate) fn end(&mut self, listing_id: &str, now: DateTime<Utc>) -> bool {
        match self.get_mut(listing_id) {
            Some(item) if item.ended_at.is_none() => {
                item.ended_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// One unit sold.
    pub(crate) fn record_sale(&mut self, listing_id: &str) {
        if let Some(item) = self.get_mut(listing_id) {
            item.sold += 1;
        }
    }
}

/// A fresh 12-digit listing id no listing has.
pub(crate) fn new_listing_id(st: &mut State) -> String {
    loop {
        let id = st.digits(12);
        if !st.catalog.contains(&id) {
            return id;
        }
    }
}

pub(crate) fn add_listing(st: &mut State, listing: CatalogListing, now: DateTime<Utc>) -> String {
    let legacy = loop {
        let id = st.catalog_digits(12);
        if !st.catalog.contains(&id) {
            break id;
        }
    };
    let variation_ids = listing
        .variations
        .iter()
        .map(|_| st.catalog_digits(12))
        .collect::<Vec<_>>();
    let first = variation_ids.first().cloned();
    st.catalog
        .insert(legacy.clone(), variation_ids, listing, now);
    match first {
        Some(variation) => format!("v1|{legacy}|{variation}"),
        None => item_id(&legacy),
    }
}

pub(crate) fn end_listing(st: &mut State, item_id: &str, now: DateTime<Utc>) -> bool {
    let legacy = parse_item_id(item_id).unwrap_or_else(|| item_id.to_string());
    st.catalog.end(&legacy, now)
}

/// `v1|<legacy>|0`.
pub(crate) fn item_id(legacy: &str) -> String {
    format!("v1|{legacy}|0")
}

fn parse_item_id(item_id: &str) -> Option<String> {
    parse_item_variation(item_id).map(|(legacy, _)| legacy)
}

/// `v1|<legacy>|<variation>` → (legacy, variation), `0` for a listing without variations.
fn parse_item_variation(item_id: &str) -> Option<(String, String)> {
    let mut parts = item_id.split('|');
    let (Some("v1"), Some(legacy), Some(variation), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    (digits(legacy) && digits(variation)).then(|| (legacy.to_string(), variation.to_string()))
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/buy/browse/v1/item_summary/search", get(search))
        .route("/buy/browse/v1/item/{item_id}", get(get_item))
        .route("/itm/{legacy_id}", get(item_page))
        .route(
            "/buy/browse/v1/item/get_item_by_legacy_id",
            get(get_item_by_legacy_id),
        )
        .route(
            "/buy/browse/v1/item/get_items_by_item_group",
            get(get_items_by_item_group),
        )
}

fn check_marketplace(headers: &HeaderMap) -> Result<(), ApiError> {
    match header_str(headers, "x-ebay-c-marketplace-id") {
        None => Ok(()),
        Some(m) if MARKETPLACES.contains(&m) => Ok(()),
        Some(m) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorDetail::new(
                12019,
                domain::BROWSE,
                Category::Business,
                format!(
                    "Currently, the {m} marketplace is not supported. The supported Marketplaces are: {}",
                    MARKETPLACES.join(",")
                ),
            )
            .param("marketplaceId", m),
        )),
    }
}

// ----- wire types (field names from buy_browse_v1.json) -----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchPagedCollection {
    href: String,
    total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    limit: u64,
    offset: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    item_summaries: Vec<ItemSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<ErrorDetail>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Image {
    image_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SellerOut {
    username: String,
    feedback_percentage: String,
    feedback_score: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationOut {
    city: String,
    state_or_province: String,
    postal_code: String,
    country: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CategoryRef {
    category_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShippingOptionOut {
    shipping_cost_type: &'static str,
    shipping_cost: Amount,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemSummary {
    item_id: String,
    title: String,
    legacy_item_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Image>,
    price: Amount,
    item_href: String,
    seller: SellerOut,
    condition: &'static str,
    condition_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shipping_options: Vec<ShippingOptionOut>,
    buying_options: Vec<&'static str>,
    item_web_url: String,
    item_location: LocationOut,
    categories: Vec<CategoryRef>,
    adult_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_group_href: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_group_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TypedNameValue {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EstimatedAvailability {
    estimated_availability_status: &'static str,
    estimated_available_quantity: u32,
    estimated_sold_quantity: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemOut {
    item_id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_description: Option<String>,
    price: Amount,
    category_path: String,
    category_id: String,
    condition: &'static str,
    condition_id: String,
    item_location: LocationOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Image>,
    #[serde(skip_serializing_if = "Option::is_none")]
    brand: Option<String>,
    seller: SellerOut,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    localized_aspects: Vec<TypedNameValue>,
    buying_options: Vec<&'static str>,
    item_web_url: String,
    estimated_availabilities: Vec<EstimatedAvailability>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shipping_options: Vec<ShippingOptionOut>,
    legacy_item_id: String,
    adult_only: bool,
    enabled_for_guest_checkout: bool,
    eligible_for_inline_checkout: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_item_group: Option<ItemGroupSummary>,
}

/// `ItemGroupSummary`: the group a variant belongs to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemGroupSummary {
    item_group_id: String,
    item_group_type: &'static str,
    item_group_href: String,
    item_group_title: String,
}

/// `CommonDescriptions`: one description shared by the variants named.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommonDescriptions {
    description: String,
    item_ids: Vec<String>,
}

/// `ItemGroup`: getItemsByItemGroup's answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemGroup {
    items: Vec<ItemOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    common_descriptions: Vec<CommonDescriptions>,
}

const GROUP_TYPE: &str = "SELLER_DEFINED_VARIATIONS";

fn group_href(base: &str, legacy: &str) -> String {
    format!("{base}/buy/browse/v1/item/get_items_by_item_group?item_group_id={legacy}")
}

fn seller_out(s: &SellerProfile) -> SellerOut {
    SellerOut {
        username: s.username.clone(),
        feedback_percentage: s.feedback_percentage.clone(),
        feedback_score: s.feedback_score,
    }
}

fn location_out(l: &ItemLocation) -> LocationOut {
    LocationOut {
        city: l.city.clone(),
        state_or_province: l.state_or_province.clone(),
        postal_code: l.postal_code.clone(),
        country: l.country.clone(),
    }
}

fn shipping_out(cost: Option<Money>) -> Vec<ShippingOptionOut> {
    cost.map(|c| ShippingOptionOut {
        shipping_cost_type: "FIXED",
        shipping_cost: Amount::of(c),
    })
    .into_iter()
    .collect()
}

/// A search result: a multi-variation listing shows as its first variant, with the
/// group's href, as eBay's do.
fn summary(base: &str, item: &CatalogItem) -> ItemSummary {
    let l = &item.listing;
    let variation = item.variation_ids.first().map_or("0", String::as_str);
    let grouped = !item.variation_ids.is_empty();
    ItemSummary {
        item_id: format!("v1|{}|{variation}", item.legacy_id),
        title: l.title.clone(),
        legacy_item_id: item.legacy_id.clone(),
        image: l.image_url.clone().map(|image_url| Image { image_url }),
        price: Amount::of(l.price),
        item_href: format!(
            "{base}/buy/browse/v1/item/v1%7C{}%7C{variation}",
            item.legacy_id
        ),
        item_group_href: grouped.then(|| group_href(base, &item.legacy_id)),
        item_group_type: grouped.then_some(GROUP_TYPE),
        seller: seller_out(&l.seller),
        condition: l.condition.label(),
        condition_id: l.condition.id().to_string(),
        shipping_options: shipping_out(l.shipping_cost),
        buying_options: l.buying_options.iter().map(|b| b.as_str()).collect(),
        item_web_url: format!("{base}/itm/{}", item.legacy_id),
        item_location: location_out(&l.location),
        categories: vec![CategoryRef {
            category_id: l.category_id.clone(),
        }],
        adult_only: false,
    }
}

// ----- q -----

/// `q` as AND of groups; a group is an OR of alternatives; an alternative is an AND of words.
fn parse_q(q: &str) -> Vec<Vec<Vec<String>>> {
    let mut groups = Vec::new();
    let mut rest = q;
    while !rest.trim().is_empty() {
        let trimmed = rest.trim_start();
        if let Some(inner) = trimmed.strip_prefix('(') {
            let (body, after) = match inner.find(')') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => (inner, ""),
            };
            let alternatives: Vec<Vec<String>> = body
                .split(',')
                .map(words)
                .filter(|w| !w.is_empty())
                .collect();
            if !alternatives.is_empty() {
                groups.push(alternatives);
            }
            rest = after;
        } else {
            let end = trimmed
                .find(|c: char| c.is_whitespace() || c == '(')
                .unwrap_or(trimmed.len());
            for word in words(&trimmed[..end]) {
                groups.push(vec![vec![word]]);
            }
            rest = &trimmed[end..];
        }
    }
    groups
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn matches_q(groups: &[Vec<Vec<String>>], title: &str) -> bool {
    let title: BTreeSet<String> = words(title).into_iter().collect();
    groups.iter().all(|group| {
        group
            .iter()
            .any(|alt| alt.iter().all(|w| title.contains(w)))
    })
}

// ----- filter -----

#[derive(Default)]
struct Filters {
    price: Option<(Option<String>, Option<String>)>,
    price_currency: Option<Currency>,
    buying_options: Option<BTreeSet<String>>,
    conditions: Option<BTreeSet<String>>,
    condition_ids: Option<BTreeSet<String>>,
    sellers: Option<BTreeSet<String>>,
    exclude_sellers: Option<BTreeSet<String>>,
    item_location_country: Option<String>,
}

/// Splits at commas outside `[]` and `{}`.
pub(crate) fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

fn value_set(value: &str) -> Option<BTreeSet<String>> {
    let inner = value.strip_prefix('{')?.strip_suffix('}')?;
    let set: BTreeSet<String> = inner
        .split('|')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    (!set.is_empty()).then_some(set)
}

fn filter_warning(name: &str) -> ErrorDetail {
    ErrorDetail::new(
        12002,
        domain::BROWSE,
        Category::Request,
        format!("The {name} value is invalid. For the valid values, refer to the API call documentation."),
    )
    .param("filterName", name)
}

fn parse_filters(text: &str, warnings: &mut Vec<ErrorDetail>) -> Filters {
    let mut f = Filters::default();
    for part in split_top_level(text) {
        let Some((name, value)) = part.split_once(':') else {
            warnings.push(filter_warning(part));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        let ok = match name {
            "price" => {
                let range = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .and_then(|v| v.split_once(".."));
                match range {
                    Some((lo, hi)) if !(lo.is_empty() && hi.is_empty()) => {
                        let side = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
                        f.price = Some((side(lo), side(hi)));
                        true
                    }
                    _ => false,
                }
            }
            "priceCurrency" => {
                f.price_currency = Currency::from_code(value);
                f.price_currency.is_some()
            }
            "buyingOptions" => {
                f.buying_options = value_set(value);
                f.buying_options.is_some()
            }
            "conditions" => {
                f.conditions = value_set(value);
                f.conditions.is_some()
            }
            "conditionIds" => {
                f.condition_ids = value_set(value);
                f.condition_ids.is_some()
            }
            "sellers" => {
                f.sellers = value_set(value);
                f.sellers.is_some()
            }
            "excludeSellers" => {
                f.exclude_sellers = value_set(value);
                f.exclude_sellers.is_some()
            }
            "itemLocationCountry" => {
                f.item_location_country = Some(value.to_string());
                !value.is_empty()
            }
            _ => false,
        };
        if !ok {
            warnings.push(filter_warning(name));
        }
    }
    f
}

struct PriceRange {
    currency: Currency,
    lo: Option<Money>,
    hi: Option<Money>,
}

fn price_range(f: &Filters, warnings: &mut Vec<ErrorDetail>) -> Option<PriceRange> {
    let (lo, hi) = f.price.as_ref()?;
    let Some(currency) = f.price_currency else {
        warnings.push(
            ErrorDetail::new(
                12012,
                domain::BROWSE,
                Category::Request,
                "A valid 'price' filter and a valid 'priceCurrency' filter is necessary to filter based on price.",
            )
            .param("filterName", "priceCurrency"),
        );
        return None;
    };
    let parse = |s: &Option<String>| match s {
        None => Ok(None),
        Some(s) => Money::from_decimal_str(s, currency).map(Some),
    };
    match (parse(lo), parse(hi)) {
        (Ok(lo), Ok(hi)) => Some(PriceRange { currency, lo, hi }),
        _ => {
            warnings.push(filter_warning("price"));
            None
        }
    }
}

fn passes(f: &Filters, price: &Option<PriceRange>, l: &CatalogListing) -> bool {
    if let Some(p) = price {
        if l.price.currency != p.currency
            || p.lo.is_some_and(|lo| l.price.minor < lo.minor)
            || p.hi.is_some_and(|hi| l.price.minor > hi.minor)
        {
            return false;
        }
    }
    if let Some(set) = &f.buying_options {
        if !l.buying_options.iter().any(|b| set.contains(b.as_str())) {
            return false;
        }
    }
    if let Some(set) = &f.conditions {
        let class = if l.condition.is_new() { "NEW" } else { "USED" };
        if !set.contains(class) {
            return false;
        }
    }
    if let Some(set) = &f.condition_ids {
        if !set.contains(&l.condition.id().to_string()) {
            return false;
        }
    }
    if let Some(set) = &f.sellers {
        if !set.contains(&l.seller.username) {
            return false;
        }
    }
    if let Some(set) = &f.exclude_sellers {
        if set.contains(&l.seller.username) {
            return false;
        }
    }
    if let Some(country) = &f.item_location_country {
        if &l.location.country != country {
            return false;
        }
    }
    true
}

fn parse_int(
    pairs: &[(String, String)],
    name: &str,
    default: i64,
    not_int: u32,
) -> Result<i64, ApiError> {
    match query_get(pairs, name) {
        None => Ok(default),
        Some(text) => text.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                not_int,
                domain::BROWSE,
                format!("The '{name}' value must be an integer value."),
            )
            .param(name, text)
        }),
    }
}

/// `limit` (1 to 200) and `offset` (0 to 10,000), with eBay's errors.
fn page_window(pairs: &[(String, String)]) -> Result<(u64, u64), ApiError> {
    let limit = parse_int(pairs, "limit", 50, 12007)?;
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            12006,
            domain::BROWSE,
            "The 'limit' value should be between 1 and 200 (inclusive).",
        )
        .param("limit", limit.to_string()));
    }
    let offset = parse_int(pairs, "offset", 0, 12005)?;
    if offset < 0 {
        return Err(ApiError::bad_request(
            12004,
            domain::BROWSE,
            "The 'offset' value cannot be negative.",
        )
        .param("offset", offset.to_string()));
    }
    if offset > 10_000 {
        return Err(ApiError::bad_request(
            12029,
            domain::BROWSE,
            "The maximum number of listings that can be retrieved is 10,000, so your offset value must be less than 10,000.",
        )
        .param("offset", offset.to_string()));
    }
    Ok((limit as u64, offset as u64))
}

async fn search(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Browse, &[scopes::API])?;
    check_marketplace(&headers)?;
    let q = query_get(&pairs, "q").map(str::to_string);
    let category = query_get(&pairs, "category_ids").map(str::to_string);
    let q_groups = q.as_deref().map(parse_q).unwrap_or_default();
    if q_groups.is_empty() && category.is_none() {
        return Err(ApiError::bad_request(
            12001,
            domain::BROWSE,
            "The call must have a valid 'q', 'category_ids', 'epid' or 'gtin' query parameter.",
        ));
    }
    let (limit, offset) = page_window(&pairs)?;
    let mut warnings = Vec::new();
    let filter_text = query_get(&pairs, "filter").map(str::to_string);
    let filters = filter_text
        .as_deref()
        .map(|t| parse_filters(t, &mut warnings))
        .unwrap_or_default();
    let price = price_range(&filters, &mut warnings);
    let mut hits: Vec<(usize, &CatalogItem)> = st
        .catalog
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.ended_at.is_none())
        .filter(|(_, item)| {
            category
                .as_deref()
                .is_none_or(|c| c.split(',').any(|c| c.trim() == item.listing.category_id))
        })
        .filter(|(_, item)| matches_q(&q_groups, &item.listing.title))
        .filter(|(_, item)| passes(&filters, &price, &item.listing))
        .collect();
    let sort = query_get(&pairs, "sort").map(str::to_string);
    match sort.as_deref() {
        None => {}
        Some("price") => hits.sort_by_key(|(i, item)| (item.listing.price.minor, *i)),
        Some("-price") => {
            hits.sort_by_key(|(i, item)| (std::cmp::Reverse(item.listing.price.minor), *i))
        }
        Some("newlyListed") => hits.sort_by_key(|(i, item)| std::cmp::Reverse((item.listed_at, *i))),
        // Fixed-price GTC listings have no end; "distance" needs pickup filters.
        Some("endingSoonest") | Some("distance") => {}
        Some(other) => warnings.push(
            ErrorDetail::new(
                12008,
                domain::BROWSE,
                Category::Request,
                "The 'sort' value is invalid. For the valid values, refer to the API call documentation.",
            )
            .param("sort", other),
        ),
    }
    let total = hits.len() as u64;
    let base = st.base_url.clone();
    let page: Vec<ItemSummary> = hits
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(_, item)| summary(&base, item))
        .collect();
    let link = |offset: u64| {
        let mut p: Vec<(&str, String)> = Vec::new();
        if let Some(q) = &q {
            p.push(("q", q.clone()));
        }
        if let Some(c) = &category {
            p.push(("category_ids", c.clone()));
        }
        if let Some(f) = &filter_text {
            p.push(("filter", f.clone()));
        }
        if let Some(s) = &sort {
            p.push(("sort", s.clone()));
        }
        p.push(("limit", limit.to_string()));
        p.push(("offset", offset.to_string()));
        href(&base, "/buy/browse/v1/item_summary/search", &p)
    };
    let body = SearchPagedCollection {
        href: link(offset),
        total,
        next: (offset + limit < total).then(|| link(offset + limit)),
        prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        limit,
        offset,
        item_summaries: page,
        warnings,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// Browse's `Item` for one listing, or for variant `variant` of a multi-variation one.
fn item_out(base: &str, item: &CatalogItem, variant: Option<usize>) -> ItemOut {
    let l = &item.listing;
    let chosen = variant.and_then(|v| Some((v, l.variations.get(v)?)));
    let variation_id = chosen.map_or("0", |(v, _)| item.variation_ids[v].as_str());
    let aspects = l
        .aspects
        .iter()
        .chain(chosen.iter().flat_map(|(_, var)| var.aspects.iter()));
    ItemOut {
        item_id: format!("v1|{}|{variation_id}", item.legacy_id),
        title: l.title.clone(),
        short_description: None,
        price: Amount::of(chosen.map_or(l.price, |(_, var)| var.price)),
        category_path: l.category_path.clone(),
        category_id: l.category_id.clone(),
        condition: l.condition.label(),
        condition_id: l.condition.id().to_string(),
        item_location: location_out(&l.location),
        image: l.image_url.clone().map(|image_url| Image { image_url }),
        brand: l.brand.clone(),
        seller: seller_out(&l.seller),
        description: l.description.clone(),
        localized_aspects: aspects
            .map(|(name, value)| TypedNameValue {
                kind: "STRING",
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        buying_options: l.buying_options.iter().map(|b| b.as_str()).collect(),
        item_web_url: format!("{base}/itm/{}", item.legacy_id),
        estimated_availabilities: vec![EstimatedAvailability {
            estimated_availability_status: if item.sold < l.quantity {
                "IN_STOCK"
            } else {
                "OUT_OF_STOCK"
            },
            estimated_available_quantity: l.quantity.saturating_sub(item.sold),
            estimated_sold_quantity: item.sold,
        }],
        shipping_options: shipping_out(l.shipping_cost),
        legacy_item_id: item.legacy_id.clone(),
        adult_only: false,
        enabled_for_guest_checkout: false,
        eligible_for_inline_checkout: false,
        primary_item_group: chosen.map(|_| ItemGroupSummary {
            item_group_id: item.legacy_id.clone(),
            item_group_type: GROUP_TYPE,
            item_group_href: group_href(base, &item.legacy_id),
            item_group_title: l.title.clone(),
        }),
    }
}

/// The live catalog entry for `legacy`, if any.
fn live<'a>(st: &'a State, legacy: &str) -> Option<&'a CatalogItem> {
    let index = *st.catalog.by_legacy.get(legacy)?;
    st.catalog.items.get(index).filter(|i| i.ended_at.is_none())
}

/// `GET /itm/{legacy id}`: the page buyers see, where `itemWebUrl` points (on eBay,
/// `https://www.ebay.com/itm/…`; here on the simulated eBay's own host). Ended listings
/// stay, saying so, as eBay's do.
async fn item_page(
    AxState(sh): AxState<Arc<Shared>>,
    Path(legacy): Path<String>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let st = sh.lock();
    let html = [("content-type", "text/html; charset=utf-8")];
    let Some(item) = st
        .catalog
        .by_legacy
        .get(&legacy)
        .and_then(|i| st.catalog.items.get(*i))
    else {
        let body = "<!doctype html><title>Error Page | eBay</title><p>We looked everywhere. \
                    Looks like this page is missing.</p>";
        return (StatusCode::NOT_FOUND, html, body.to_string());
    };
    let title = crate::sites::escape_html(&item.listing.title);
    let state = match item.ended_at {
        Some(_) => "This listing was ended by the seller because the item is no longer available.",
        None => "Buy It Now",
    };
    let body = format!(
        "<!doctype html><html><head><title>{title} | eBay</title></head><body>\
         <h1 class=\"x-item-title__mainTitle\">{title}</h1>\
         <div class=\"x-price-primary\">{price}</div>\
         <div class=\"x-item-condition\">{condition:?}</div>\
         <p class=\"x-listing-state\">{state}</p>\
         <p>Item number: {legacy}</p></body></html>",
        price = item.listing.price,
        condition = item.listing.condition,
    );
    (StatusCode::OK, html, body)
}

async fn get_item(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(item_id_text): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Browse, &[scopes::API])?;
    check_marketplace(&headers)?;
    let Some((legacy, variation)) = parse_item_variation(&item_id_text) else {
        return Err(ApiError::bad_request(
            11012,
            domain::BROWSE,
            "The specified item IDs are invalid, or the format of the specified values are invalid.",
        )
        .param("itemId", item_id_text));
    };
    let not_found = || {
        ApiError::not_found(
            11001,
            domain::BROWSE,
            "The specified item ID was not found.",
        )
        .param("itemId", item_id_text.clone())
    };
    let item = live(&st, &legacy).ok_or_else(not_found)?;
    // A variant by its id; a multi-variation listing has no item without one.
    let variant = match item.variation_ids.iter().position(|v| *v == variation) {
        Some(v) => Some(v),
        None if item.variation_ids.is_empty() => None,
        None => return Err(not_found()),
    };
    let body = item_out(&st.base_url, item, variant);
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /item/get_item_by_legacy_id?legacy_item_id=&legacy_variation_id=`: the item a
/// Trading-API id names; a multi-variation listing needs the variation too.
async fn get_item_by_legacy_id(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Browse, &[scopes::API])?;
    check_marketplace(&headers)?;
    let legacy = query_get(&pairs, "legacy_item_id")
        .unwrap_or("")
        .to_string();
    let variation = query_get(&pairs, "legacy_variation_id");
    if variation.is_some() && query_get(&pairs, "legacy_variation_sku").is_some() {
        return Err(ApiError::bad_request(
            11010,
            domain::BROWSE,
            "You cannot submit legacy_variation_sku and legacy_variation_id in the same request. For help, see the documentation.",
        ));
    }
    let not_found = || {
        ApiError::bad_request(
            11003,
            domain::BROWSE,
            "The specified legacy item ID was not found.",
        )
        .param("legacyItemId", legacy.clone())
    };
    let item = live(&st, &legacy).ok_or_else(not_found)?;
    let base = &st.base_url;
    let variant = match variation {
        None if item.variation_ids.is_empty() => None,
        None => {
            let href = group_href(base, &legacy);
            return Err(ApiError::bad_request(
                11006,
                domain::BROWSE,
                format!("The legacy ID is invalid. Use {href} to get the item group details."),
            )
            .param("itemGroupHref", href));
        }
        Some(v) => Some(
            item.variation_ids
                .iter()
                .position(|id| id == v)
                .ok_or_else(not_found)?,
        ),
    };
    Ok(json_response(
        StatusCode::OK,
        &item_out(base, item, variant),
    ))
}

/// `GET /item/get_items_by_item_group?item_group_id=`: every variant of a multi-variation
/// listing, each at its own price, and the description they share.
async fn get_items_by_item_group(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Browse, &[scopes::API])?;
    check_marketplace(&headers)?;
    let group = query_get(&pairs, "item_group_id").unwrap_or("").to_string();
    let Some(item) = live(&st, &group) else {
        return Err(ApiError::bad_request(
            11002,
            domain::BROWSE,
            "The specified item group was not found.",
        )
        .param("itemGroupId", group));
    };
    let base = &st.base_url;
    if item.variation_ids.is_empty() {
        let href = format!("{base}/buy/browse/v1/item/v1%7C{group}%7C0");
        return Err(ApiError::bad_request(
            11005,
            domain::BROWSE,
            format!("Item Group Id is invalid. Use {href} to get the item details."),
        )
        .param("itemHref", href));
    }
    let mut items: Vec<ItemOut> = (0..item.variation_ids.len())
        .map(|v| item_out(base, item, Some(v)))
        .collect();
    // The shared description is given once, in commonDescriptions.
    for out in &mut items {
        out.description = String::new();
    }
    let body = ItemGroup {
        common_descriptions: vec![CommonDescriptions {
            description: item.listing.description.clone(),
            item_ids: items.iter().map(|i| i.item_id.clone()).collect(),
        }],
        items,
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_is_and_of_or_groups() {
        let g = parse_q("drone (dji, parrot anafi)");
        assert!(matches_q(&g, "DJI Mini 2 Drone"));
        assert!(matches_q(&g, "Parrot Anafi drone, like new"));
        assert!(!matches_q(&g, "Parrot drone"));
        assert!(!matches_q(&g, "DJI Osmo camera"));
    }

    #[test]
    fn filters_split_outside_brackets() {
        assert_eq!(
            split_top_level("price:[10..50],priceCurrency:USD,conditions:{NEW|USED}"),
            vec![
                "price:[10..50]",
                "priceCurrency:USD",
                "conditions:{NEW|USED}"
            ]
        );
    }
}
