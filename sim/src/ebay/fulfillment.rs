//! Sell Fulfillment: the orders buyers create ([`buy`]) and `GET /sell/fulfillment/v1/order`
//! (`creationdate`, `lastmodifieddate`, `orderfulfillmentstatus` filters; `orderIds`;
//! `limit`/`offset`, newest first), `GET /sell/fulfillment/v1/order/{orderId}`, and the
//! seller's shipments with tracking (`createShippingFulfillment`, `getShippingFulfillments`),
//! which make the order FULFILLED.
//!
//! A sold listing stays live until the agent withdraws it (the quantity is not taken
//! down), so a buyer can buy a unit that no longer exists: that order is an oversell, and
//! is recorded.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bazaar_memory::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::browse::split_top_level;
use super::errors::{domain, json_response, ApiError};
use super::notification::{self, Delivery, OrderLine};
use super::oauth::{authorize, scopes};
use super::{ebay_time, href, query_get, query_pairs, Amount, Api, Reply, Shared};

const READ: &[&str] = &[scopes::SELL_FULFILLMENT, scopes::SELL_FULFILLMENT_READONLY];

/// What a buyer's purchase produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Fulfillment `orderId` (`12-34567-89012`).
    pub order_id: String,
    /// The order's one `lineItemId`.
    pub line_item_id: String,
    /// The listing bought from.
    pub listing_id: String,
    /// The agent's SKU.
    pub sku: String,
    /// Who bought.
    pub buyer: String,
    /// What the buyer paid.
    pub total: Money,
    /// More units were sold than listed: this sale cannot be fulfilled.
    pub oversold: bool,
    /// The `ORDER_CONFIRMATION` pushes it caused.
    pub deliveries: Vec<Delivery>,
}

/// Why a purchase could not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuyError {
    /// No live listing has this id (never published, or withdrawn).
    #[error("listing {0} is not live on eBay")]
    NotListed(String),
    /// The agreed price is in another currency than the listing or not positive.
    #[error("price {0} does not fit listing {1}")]
    BadPrice(String, String),
}

/// A sale of a unit that was no longer there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversell {
    /// The listing.
    pub listing_id: String,
    /// The agent's SKU.
    pub sku: String,
    /// The order that oversold.
    pub order_id: String,
    /// Who bought.
    pub buyer: String,
    /// When (simulated time).
    pub at: DateTime<Utc>,
    /// Units sold on the listing, this one included.
    pub sold: u32,
    /// Units the listing offered.
    pub available: i64,
}

#[derive(Debug, Clone)]
struct Order {
    order_id: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    buyer: String,
    seller: String,
    listing_id: String,
    line_item_id: String,
    sku: String,
    title: String,
    marketplace: String,
    price: Money,
    delivery: Money,
    fee: Money,
    payment_ref: String,
    /// Shipments the seller recorded (`createShippingFulfillment`), oldest first.
    shipments: Vec<Shipment>,
}

/// One package the seller shipped, with its tracking.
#[derive(Debug, Clone)]
struct Shipment {
    fulfillment_id: String,
    shipped: DateTime<Utc>,
    carrier: String,
    tracking: String,
}

impl Order {
    /// `FULFILLED` once a shipment covers its one line item.
    fn fulfillment_status(&self) -> &'static str {
        if self.shipments.is_empty() {
            "NOT_STARTED"
        } else {
            "FULFILLED"
        }
    }
}

/// Every order, in creation order, and the oversells.
#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: Vec<Order>,
    pub(crate) oversells: Vec<Oversell>,
}

pub(crate) async fn buy(
    sh: &Arc<Shared>,
    listing_id: &str,
    buyer: &str,
    agreed: Option<Money>,
) -> Result<Purchase, BuyError> {
    let now = sh.now();
    let (purchase, pending) = {
        let mut st = sh.lock();
        let offer = st
            .inventory
            .offer_by_listing(listing_id)
            .cloned()
            .ok_or_else(|| BuyError::NotListed(listing_id.to_string()))?;
        let listed = offer
            .details
            .price()
            .and_then(|a| a.money().ok())
            .ok_or_else(|| BuyError::NotListed(listing_id.to_string()))?;
        let price = agreed.unwrap_or(listed);
        if price.currency != listed.currency || price.minor <= 0 {
            return Err(BuyError::BadPrice(
                price.to_string(),
                listing_id.to_string(),
            ));
        }
        let title = st
            .inventory
            .items
            .get(&offer.sku)
            .and_then(|i| i.body.product.as_ref())
            .and_then(|p| p.title.clone())
            .unwrap_or_default();
        let delivery = Money::zero(price.currency);
        let total_minor = price.minor + delivery.minor;
        let fee_minor = (total_minor * st.config.final_value_fee_bps + 5_000) / 10_000
            + st.config.per_order_fee_minor;
        let order_id = format!("{}-{}-{}", st.digits(2), st.digits(5), st.digits(5));
        let line_item_id = st.digits(14);
        let payment_ref = st.digits(12);
        let order = Order {
            order_id: order_id.clone(),
            created: now,
            modified: now,
            buyer: buyer.to_string(),
            seller: st.config.seller_username.clone(),
            listing_id: listing_id.to_string(),
            line_item_id: line_item_id.clone(),
            sku: offer.sku.clone(),
            title,
            marketplace: offer.marketplace_id.clone(),
            price,
            delivery,
            fee: Money::new(fee_minor, price.currency),
            payment_ref,
            shipments: Vec::new(),
        };
        st.orders.orders.push(order);
        let available = st.inventory.available(&offer);
        let sold = match st
            .inventory
            .offer_by_listing_mut(listing_id)
            .and_then(|o| o.listing.as_mut())
        {
            Some(listing) => {
                listing.sold += 1;
                listing.sold
            }
            None => 1,
        };
        st.catalog.record_sale(listing_id);
        let oversold = i64::from(sold) > available;
        if oversold {
            st.orders.oversells.push(Oversell {
                listing_id: listing_id.to_string(),
                sku: offer.sku.clone(),
                order_id: order_id.clone(),
                buyer: buyer.to_string(),
                at: now,
                sold,
                available,
            });
        }
        let pending = notification::order_confirmation(
            &mut st,
            &OrderLine {
                order_id: &order_id,
                line_item_id: &line_item_id,
                listing_id,
                sku: &offer.sku,
                quantity: 1,
            },
            now,
        );
        let purchase = Purchase {
            order_id,
            line_item_id,
            listing_id: listing_id.to_string(),
            sku: offer.sku,
            buyer: buyer.to_string(),
            total: Money::new(total_minor, price.currency),
            oversold,
            deliveries: Vec::new(),
        };
        (purchase, pending)
    };
    let deliveries = notification::deliver(sh, pending).await;
    Ok(Purchase {
        deliveries,
        ..purchase
    })
}

// ----- wire types (field names from sell_fulfillment_v1.json) -----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuyerOut {
    username: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PricingSummaryOut {
    price_subtotal: Amount,
    delivery_cost: Amount,
    total: Amount,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelStatusOut {
    cancel_state: &'static str,
    cancel_requests: Vec<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentOut {
    payment_method: &'static str,
    payment_reference_id: String,
    payment_date: String,
    amount: Amount,
    payment_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentSummaryOut {
    total_due_seller: Amount,
    refunds: Vec<()>,
    payments: Vec<PaymentOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryCostOut {
    shipping_cost: Amount,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineItemOut {
    line_item_id: String,
    legacy_item_id: String,
    sku: String,
    title: String,
    line_item_cost: Amount,
    quantity: u32,
    sold_format: &'static str,
    listing_marketplace_id: String,
    purchase_marketplace_id: String,
    line_item_fulfillment_status: &'static str,
    total: Amount,
    delivery_cost: DeliveryCostOut,
    applied_promotions: Vec<()>,
    taxes: Vec<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderOut {
    order_id: String,
    creation_date: String,
    last_modified_date: String,
    order_fulfillment_status: &'static str,
    order_payment_status: &'static str,
    seller_id: String,
    buyer: BuyerOut,
    pricing_summary: PricingSummaryOut,
    cancel_status: CancelStatusOut,
    payment_summary: PaymentSummaryOut,
    fulfillment_hrefs: Vec<String>,
    line_items: Vec<LineItemOut>,
    sales_record_reference: String,
    total_fee_basis_amount: Amount,
    total_marketplace_fee: Amount,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderSearchPagedCollection {
    href: String,
    total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    limit: u64,
    offset: u64,
    orders: Vec<OrderOut>,
}

fn shipment_href(base: &str, order_id: &str, fulfillment_id: &str) -> String {
    format!("{base}/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{fulfillment_id}")
}

fn order_out(o: &Order, index: usize, base: &str) -> OrderOut {
    let total = Money::new(o.price.minor + o.delivery.minor, o.price.currency);
    let due = Money::new(total.minor - o.fee.minor, total.currency);
    OrderOut {
        order_id: o.order_id.clone(),
        creation_date: ebay_time(o.created),
        last_modified_date: ebay_time(o.modified),
        order_fulfillment_status: o.fulfillment_status(),
        order_payment_status: "PAID",
        seller_id: o.seller.clone(),
        buyer: BuyerOut {
            username: o.buyer.clone(),
        },
        pricing_summary: PricingSummaryOut {
            price_subtotal: Amount::of(o.price),
            delivery_cost: Amount::of(o.delivery),
            total: Amount::of(total),
        },
        cancel_status: CancelStatusOut {
            cancel_state: "NONE_REQUESTED",
            cancel_requests: Vec::new(),
        },
        payment_summary: PaymentSummaryOut {
            total_due_seller: Amount::of(due),
            refunds: Vec::new(),
            payments: vec![PaymentOut {
                payment_method: "EBAY",
                payment_reference_id: o.payment_ref.clone(),
                payment_date: ebay_time(o.created),
                amount: Amount::of(total),
                payment_status: "PAID",
            }],
        },
        fulfillment_hrefs: o
            .shipments
            .iter()
            .map(|s| shipment_href(base, &o.order_id, &s.fulfillment_id))
            .collect(),
        line_items: vec![LineItemOut {
            line_item_id: o.line_item_id.clone(),
            legacy_item_id: o.listing_id.clone(),
            sku: o.sku.clone(),
            title: o.title.clone(),
            line_item_cost: Amount::of(o.price),
            quantity: 1,
            sold_format: "FIXED_PRICE",
            listing_marketplace_id: o.marketplace.clone(),
            purchase_marketplace_id: o.marketplace.clone(),
            line_item_fulfillment_status: o.fulfillment_status(),
            total: Amount::of(total),
            delivery_cost: DeliveryCostOut {
                shipping_cost: Amount::of(o.delivery),
            },
            applied_promotions: Vec::new(),
            taxes: Vec::new(),
        }],
        sales_record_reference: (index + 1).to_string(),
        total_fee_basis_amount: Amount::of(total),
        total_marketplace_fee: Amount::of(o.fee),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sell/fulfillment/v1/order", get(get_orders))
        .route("/sell/fulfillment/v1/order/{order_id}", get(get_order))
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment",
            get(get_shipping_fulfillments).post(create_shipping_fulfillment),
        )
}

fn bad(error_id: u32, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(error_id, domain::FULFILLMENT, message)
}

type Range = (DateTime<Utc>, Option<DateTime<Utc>>);

/// `[start..]` or `[start..end]`, ISO 8601 UTC.
fn date_range(name: &str, value: &str, now: DateTime<Utc>) -> Result<Range, ApiError> {
    let invalid = || {
        bad(
            30800,
            format!("Invalid filter value {value} for filter {name}"),
        )
        .param(name, value)
    };
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .ok_or_else(invalid)?;
    let (start, end) = inner.split_once("..").ok_or_else(invalid)?;
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t.trim())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| bad(30810, "Invalid date format").param(name, t))
    };
    if start.trim().is_empty() {
        return Err(bad(30820, "Start date is missing").param(name, value));
    }
    let start = parse(start)?;
    let end = if end.trim().is_empty() {
        None
    } else {
        Some(parse(end)?)
    };
    if end.is_some_and(|e| e < start) {
        return Err(bad(30840, "Start date should be before end date").param(name, value));
    }
    if start > now || end.is_some_and(|e| e > now) {
        return Err(bad(30850, "Start and end dates can't be in the future").param(name, value));
    }
    Ok((start, end))
}

fn in_range(t: DateTime<Utc>, r: &Range) -> bool {
    t >= r.0 && r.1.is_none_or(|e| t <= e)
}

/// The `filter` of a getOrders call: creation or modification date ranges and
/// fulfillment statuses.
struct OrderFilter {
    created: Option<Range>,
    modified: Option<Range>,
    statuses: Option<Vec<String>>,
}

impl OrderFilter {
    fn parse(filter_text: Option<&str>, now: DateTime<Utc>) -> Result<OrderFilter, ApiError> {
        let mut created: Option<Range> = None;
        let mut modified: Option<Range> = None;
        let mut statuses: Option<Vec<String>> = None;
        for part in filter_text.map(split_top_level).unwrap_or_default() {
            let Some((name, value)) = part.split_once(':') else {
                return Err(
                    bad(30700, format!("Invalid filter name: {part}")).param("filter", part)
                );
            };
            match name.trim() {
                "creationdate" => created = Some(date_range("creationdate", value.trim(), now)?),
                "lastmodifieddate" => {
                    modified = Some(date_range("lastmodifieddate", value.trim(), now)?)
                }
                "orderfulfillmentstatus" => {
                    let set = value
                        .trim()
                        .strip_prefix('{')
                        .and_then(|v| v.strip_suffix('}'))
                        .map(|v| {
                            v.split('|')
                                .map(|s| s.trim().to_string())
                                .collect::<Vec<_>>()
                        });
                    match set {
                        Some(s)
                            if s.iter().all(|v| {
                                matches!(v.as_str(), "NOT_STARTED" | "IN_PROGRESS" | "FULFILLED")
                            }) =>
                        {
                            statuses = Some(s)
                        }
                        _ => {
                            return Err(bad(
                                30800,
                                format!(
                                "Invalid filter value {value} for filter orderfulfillmentstatus"
                            ),
                            ))
                        }
                    }
                }
                other => {
                    return Err(
                        bad(30700, format!("Invalid filter name: {other}")).param("filter", other)
                    )
                }
            }
        }
        // "If creationdate and lastmodifieddate are both included, only creationdate is used."
        if created.is_some() {
            modified = None;
        }
        Ok(OrderFilter {
            created,
            modified,
            statuses,
        })
    }

    fn matches(&self, order: &Order) -> bool {
        self.created
            .as_ref()
            .is_none_or(|r| in_range(order.created, r))
            && self
                .modified
                .as_ref()
                .is_none_or(|r| in_range(order.modified, r))
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|v| v == order.fulfillment_status()))
    }
}

async fn get_orders(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Fulfillment, READ)?;
    let number = |name: &str, default: u64, error_id: u32| -> Result<u64, ApiError> {
        match query_get(&pairs, name) {
            None => Ok(default),
            Some(t) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| bad(error_id, format!("Invalid {name}: {t}")).param(name, t)),
        }
    };
    let limit = number("limit", 50, 31100)?;
    if limit == 0 || limit > 200 {
        return Err(bad(31100, format!("Invalid limit: {limit}")).param("limit", limit.to_string()));
    }
    let offset = number("offset", 0, 31000)?;
    let all = &st.orders.orders;
    let mut hits: Vec<(usize, &Order)> = Vec::new();
    let filter_text = query_get(&pairs, "filter").map(str::to_string);
    let order_ids = query_get(&pairs, "orderIds").map(str::to_string);
    if let Some(ids) = &order_ids {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > 50 {
            return Err(bad(
                30900,
                "Exceeded maximum number of order IDs (the current limit is 50)",
            ));
        }
        hits.extend(
            all.iter()
                .enumerate()
                .filter(|(_, o)| ids.contains(&o.order_id.as_str())),
        );
    } else {
        let filter = OrderFilter::parse(filter_text.as_deref(), now)?;
        hits.extend(all.iter().enumerate().filter(|(_, o)| filter.matches(o)));
    }
    // Newest first.
    hits.sort_by_key(|(i, o)| std::cmp::Reverse((o.created, *i)));
    let total = hits.len() as u64;
    let orders: Vec<OrderOut> = hits
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(i, o)| order_out(o, *i, &st.base_url))
        .collect();
    let base = &st.base_url;
    let link = |offset: u64| {
        let mut p: Vec<(&str, String)> = Vec::new();
        if let Some(ids) = &order_ids {
            p.push(("orderIds", ids.clone()));
        } else if let Some(f) = &filter_text {
            p.push(("filter", f.clone()));
        }
        p.push(("limit", limit.to_string()));
        p.push(("offset", offset.to_string()));
        href(base, "/sell/fulfillment/v1/order", &p)
    };
    let body = OrderSearchPagedCollection {
        href: link(offset),
        total,
        next: (offset + limit < total).then(|| link(offset + limit)),
        prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        limit,
        offset,
        orders,
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_order(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Fulfillment, READ)?;
    let found = st
        .orders
        .orders
        .iter()
        .enumerate()
        .find(|(_, o)| o.order_id == order_id);
    match found {
        Some((i, o)) => Ok(json_response(
            StatusCode::OK,
            &order_out(o, i, &st.base_url),
        )),
        None => Err(ApiError::not_found(
            32100,
            domain::FULFILLMENT,
            format!("Invalid order ID: {order_id}"),
        )
        .param("orderId", order_id)),
    }
}

const WRITE: &[&str] = &[scopes::SELL_FULFILLMENT];

/// `ShippingFulfillmentDetails`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingFulfillmentDetails {
    #[serde(default)]
    line_items: Vec<LineItemReference>,
    #[serde(default)]
    shipped_date: Option<String>,
    #[serde(default)]
    shipping_carrier_code: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemReference {
    #[serde(default)]
    line_item_id: Option<String>,
    #[serde(default)]
    quantity: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineItemReferenceOut {
    line_item_id: String,
    quantity: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShippingFulfillmentOut {
    fulfillment_id: String,
    line_items: Vec<LineItemReferenceOut>,
    shipment_tracking_number: String,
    shipped_date: String,
    shipping_carrier_code: String,
}

#[derive(Serialize)]
struct ShippingFulfillmentPagedCollection {
    fulfillments: Vec<ShippingFulfillmentOut>,
    total: u64,
}

/// The shipping-fulfillment calls declare an unknown order a 400 (getOrder a 404).
fn order_not_found(order_id: &str) -> ApiError {
    bad(32100, format!("Invalid Order Id: {order_id}")).param("orderId", order_id)
}

/// A carrier code or tracking number eBay would take: letters and digits (and `-`, `_` in
/// carrier codes such as `USPS` or `UPS_MI`), no spaces.
fn valid_token(text: &str, extra: &[char]) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// `POST /order/{orderId}/shipping_fulfillment`: the seller shipped the order's line
/// items with this carrier and tracking number. 201 with the fulfillment's `Location`.
async fn create_shipping_fulfillment(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Fulfillment, WRITE)?;
    let details: ShippingFulfillmentDetails = super::parse_body(&body, |path, detail| {
        ApiError::invalid_request(format!("{path}: {detail}"))
    })?;
    let Some(index) = st.orders.orders.iter().position(|o| o.order_id == order_id) else {
        return Err(order_not_found(&order_id));
    };
    let line_item_id = st.orders.orders[index].line_item_id.clone();
    if details.line_items.is_empty() {
        return Err(bad(32200, "Invalid line item id: (none)").param("lineItemId", ""));
    }
    let mut seen = std::collections::BTreeSet::new();
    for line in &details.line_items {
        let id = line.line_item_id.clone().unwrap_or_default();
        if id != line_item_id || line.quantity.is_some_and(|q| q != 1) {
            return Err(bad(32200, format!("Invalid line item id: {id}")).param("lineItemId", id));
        }
        if !seen.insert(id) {
            return Err(bad(32210, "Duplicate line item in the request"));
        }
    }
    let carrier = details.shipping_carrier_code.unwrap_or_default();
    let tracking = details.tracking_number.unwrap_or_default();
    if !valid_token(&carrier, &['-', '_']) || !valid_token(&tracking, &[]) {
        return Err(bad(32300, "Invalid shipment tracking number or carrier")
            .param("shippingCarrierCode", carrier)
            .param("trackingNumber", tracking));
    }
    let shipped = match details.shipped_date.as_deref() {
        None => now,
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| bad(32500, "Invalid shipped date").param("shippedDate", text))?,
    };
    let fulfillment_id = tracking.clone();
    let order = &mut st.orders.orders[index];
    if !order.shipments.is_empty() {
        // The order's one line item is shipped already: eBay wants that record changed,
        // not a second one.
        return Err(bad(
            34500,
            "Please use PUT operation for updating shipping fulfillment",
        )
        .param("orderId", order_id));
    }
    order.shipments.push(Shipment {
        fulfillment_id: fulfillment_id.clone(),
        shipped,
        carrier,
        tracking,
    });
    order.modified = now;
    let location = shipment_href(&st.base_url, &order_id, &fulfillment_id);
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    Ok(response)
}

/// `GET /order/{orderId}/shipping_fulfillment`: every shipment recorded for the order.
async fn get_shipping_fulfillments(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Fulfillment, READ)?;
    let Some(order) = st.orders.orders.iter().find(|o| o.order_id == order_id) else {
        return Err(order_not_found(&order_id));
    };
    let fulfillments: Vec<ShippingFulfillmentOut> = order
        .shipments
        .iter()
        .map(|s| ShippingFulfillmentOut {
            fulfillment_id: s.fulfillment_id.clone(),
            line_items: vec![LineItemReferenceOut {
                line_item_id: order.line_item_id.clone(),
                quantity: 1,
            }],
            shipment_tracking_number: s.tracking.clone(),
            shipped_date: ebay_time(s.shipped),
            shipping_carrier_code: s.carrier.clone(),
        })
        .collect();
    let body = ShippingFulfillmentPagedCollection {
        total: fulfillments.len() as u64,
        fulfillments,
    };
    Ok(json_response(StatusCode::OK, &body))
}
