//! Sell Inventory's inventory locations: where the seller ships from. eBay refuses to
//! publish an offer without one (`merchantLocationKey` of a location the seller created),
//! so a seller integration creates its location once (`POST /location/{key}`) before its
//! first listing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};

use super::errors::{domain, json_response, ApiError};
use super::oauth::{authorize, scopes};
use super::{href, parse_body, query_get, query_pairs, Api, Reply, Shared};

const READ: &[&str] = &[scopes::SELL_INVENTORY, scopes::SELL_INVENTORY_READONLY];
const WRITE: &[&str] = &[scopes::SELL_INVENTORY];

/// `Address`, the fields a warehouse location uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address_line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_or_province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocationDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
}

/// `InventoryLocationFull`, as `createInventoryLocation` takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateLocation {
    #[serde(default)]
    location: Option<LocationDetails>,
    #[serde(default)]
    location_types: Option<Vec<String>>,
    #[serde(default)]
    merchant_location_status: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// One location the seller created.
#[derive(Debug, Clone)]
pub(crate) struct StoredLocation {
    address: Address,
    types: Vec<String>,
    enabled: bool,
    name: Option<String>,
}

/// `InventoryLocationResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationOut<'a> {
    location: LocationDetailsOut<'a>,
    location_types: &'a [String],
    merchant_location_key: &'a str,
    merchant_location_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationDetailsOut<'a> {
    address: &'a Address,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Locations<'a> {
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    limit: u64,
    offset: u64,
    total: u64,
    locations: Vec<LocationOut<'a>>,
}

/// The seller's locations, by `merchantLocationKey`.
#[derive(Debug, Default)]
pub(crate) struct LocationState {
    locations: BTreeMap<String, StoredLocation>,
}

impl LocationState {
    /// Whether an offer naming `key` can be published: the location exists and is enabled.
    pub(crate) fn usable(&self, key: &str) -> bool {
        self.locations.get(key).is_some_and(|l| l.enabled)
    }
}

fn out<'a>(key: &'a str, location: &'a StoredLocation) -> LocationOut<'a> {
    LocationOut {
        location: LocationDetailsOut {
            address: &location.address,
        },
        location_types: &location.types,
        merchant_location_key: key,
        merchant_location_status: if location.enabled {
            "ENABLED"
        } else {
            "DISABLED"
        },
        name: location.name.as_deref(),
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/sell/inventory/v1/location/{merchant_location_key}",
            get(get_location).post(create_location),
        )
        .route("/sell/inventory/v1/location", get(get_locations))
}

fn invalid(field: &str) -> ApiError {
    ApiError::bad_request(25800, domain::INVENTORY, format!("Invalid {field}."))
        .param("fieldName", field)
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request(25801, domain::INVENTORY, format!("Missing field {field}."))
        .param("fieldName", field)
}

/// "Max length: 36", letters, digits, `-` and `_`.
fn valid_key(key: &str) -> bool {
    (1..=36).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A warehouse needs "the postal code and country OR city, province/state, and country".
fn check_address(address: Option<&Address>) -> Result<Address, ApiError> {
    let Some(address) = address else {
        return Err(missing("location.address"));
    };
    let filled = |v: &Option<String>| v.as_deref().is_some_and(|t| !t.trim().is_empty());
    if !filled(&address.country) {
        return Err(missing("location.address.country"));
    }
    if address.country.as_deref().is_some_and(|c| c.len() != 2) {
        return Err(invalid("location.address.country"));
    }
    let by_postal_code = filled(&address.postal_code);
    let by_city = filled(&address.city) && filled(&address.state_or_province);
    if !by_postal_code && !by_city {
        return Err(missing("location.address.postalCode"));
    }
    Ok(address.clone())
}

async fn create_location(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, WRITE)?;
    if !valid_key(&key) {
        return Err(invalid("merchantLocationKey"));
    }
    let request: CreateLocation = parse_body(&body, |path, detail| {
        if path.is_empty() || path == "." {
            ApiError::invalid_request(detail)
        } else {
            invalid(&path).long(detail)
        }
    })?;
    if st.inventory.locations.locations.contains_key(&key) {
        let exists = ApiError::bad_request(
            25803,
            domain::INVENTORY,
            "merchantLocationKey already exists.",
        )
        .param("fieldName", "merchantLocationKey");
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            ..exists
        });
    }
    let address = check_address(request.location.as_ref().and_then(|l| l.address.as_ref()))?;
    let types = request
        .location_types
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| vec!["WAREHOUSE".to_string()]);
    if let Some(bad) = types
        .iter()
        .find(|t| !matches!(t.as_str(), "WAREHOUSE" | "STORE" | "FULFILLMENT_CENTER"))
    {
        return Err(invalid("locationTypes").param("value", bad.clone()));
    }
    let enabled = match request.merchant_location_status.as_deref() {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(_) => return Err(invalid("merchantLocationStatus")),
    };
    st.inventory.locations.locations.insert(
        key,
        StoredLocation {
            address,
            types,
            enabled,
            name: request.name,
        },
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_location(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let Some(location) = st.inventory.locations.locations.get(&key) else {
        return Err(ApiError::not_found(
            25805,
            domain::INVENTORY,
            "merchantLocationKey Not Found.",
        )
        .param("fieldName", "merchantLocationKey"));
    };
    Ok(json_response(StatusCode::OK, &out(&key, location)))
}

/// `GET /location`: `offset` counts records here ("the number of locations to skip").
async fn get_locations(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Inventory, READ)?;
    let number = |name: &str, default: u64| match query_get(&pairs, name) {
        None => Ok(default),
        Some(t) => t.parse::<u64>().map_err(|_| invalid(name)),
    };
    let limit = number("limit", 100)?.clamp(1, 100);
    let offset = number("offset", 0)?;
    let all = &st.inventory.locations.locations;
    let total = all.len() as u64;
    let locations = all
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .map(|(key, location)| out(key, location))
        .collect();
    let link = |offset: u64| {
        href(
            &st.base_url,
            "/sell/inventory/v1/location",
            &[("limit", limit.to_string()), ("offset", offset.to_string())],
        )
    };
    let body = Locations {
        href: link(offset),
        next: (offset + limit < total).then(|| link(offset + limit)),
        prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        limit,
        offset,
        total,
        locations,
    };
    Ok(json_response(StatusCode::OK, &body))
}
