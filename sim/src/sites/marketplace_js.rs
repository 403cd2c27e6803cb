//! The Facebook-Marketplace-style site: every page is the same empty shell; the listings
//! arrive only through the page's script.
//!
//! Routes:
//! - `GET /marketplace/`, `/marketplace/search/?query=&minPrice=&maxPrice=&category=`,
//!   `/marketplace/category/<slug>/` (`furniture`, `propertyrentals`, `bicycles`, `vehicles`,
//!   `electronics`, `cell-phones`), `/marketplace/item/<id>/` — the shell: no listing, no
//!   inline data, one external script. The path and query string are read by the script, not
//!   the server.
//! - `GET /marketplace/static/app.js`, `/marketplace/static/app.css` — the app.
//! - `POST /api/graphql/` — form-encoded like Facebook's: `fb_api_req_friendly_name` and
//!   `variables` (JSON).
//!   - `MarketplaceSearchQuery`, variables `{query?, category?, minPrice?, maxPrice?, count?,
//!     cursor?}` (prices in whole dollars) →
//!     `data.marketplace_search.feed_units.{edges[].{node.listing, cursor}, page_info.{has_next_page, end_cursor}}`
//!     plus `data.marketplace_search.total_count`. The cursor is keyset-based, so listings
//!     added meanwhile do not shift later pages.
//!   - `MarketplacePDPQuery`, variables `{targetId}` →
//!     `data.viewer.marketplace_product_details_page.target` (null when unknown).
//!   - `extensions.server_time` is the simulated clock's "now" (unix seconds); the script
//!     computes "Listed 3 days ago" against it, not against the browser's clock.
//!   - Malformed requests answer 400 with `{"errors":[{"message"}]}`.
//!
//! The rendered DOM: the feed is `div[aria-label="Collection of Marketplace items"]` of
//! `div[data-testid="marketplace-feed-item"][data-listing-id]` cards, each an
//! `a[href="/marketplace/item/<id>/"]` holding `img`, `span.card-price`, `span.card-title`,
//! `span.card-location`; then `button.see-more` ("See more") while there are more, or
//! `div.feed-end`. An item page renders `div.pdp[data-listing-id][data-status]` with
//! `h1.pdp-title`, `div.pdp-price`, `div.pdp-listed`, `div.pdp-description`,
//! `div.pdp-location`, `a.pdp-category`, photos in `div.pdp-photos img`, and
//! `a.pdp-message[href^="mailto:"]` ("Message seller") unless sold; an unknown item renders
//! `div.pdp-unavailable`. `body[data-state]` is `loading` while a request is out, then `ready`
//! (or `error`).
//!
//! With [`SitesConfig::require_session`](super::SitesConfig::require_session) set, a request
//! without that cookie meets a login wall: pages redirect (302) to `/login/?next=<path>`, a
//! static "Log in" page with a password form, and `/api/graphql/` answers 401.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dollars_param, Category, Entry, Filter, ListingState, Shared, Site, SiteListing};

const MAX_COUNT: usize = 100;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for path in [
        "/marketplace",
        "/marketplace/",
        "/marketplace/search",
        "/marketplace/search/",
        "/marketplace/category/{slug}",
        "/marketplace/category/{slug}/",
        "/marketplace/item/{id}",
        "/marketplace/item/{id}/",
    ] {
        router = router.route(path, get(shell));
    }
    router
        .route("/marketplace/static/app.js", get(app_js))
        .route("/marketplace/static/app.css", get(app_css))
        .route("/api/graphql", post(graphql))
        .route("/api/graphql/", post(graphql))
        .route("/login", get(login))
        .route("/login/", get(login))
}

/// The login wall: what a visitor without the required session cookie sees.
pub const LOGIN_HTML: &str = "<!DOCTYPE html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Log in to Marketplace</title></head>
<body>
<div class=\"login\" role=\"main\">
<h1>You must log in to continue.</h1>
<form id=\"login_form\" method=\"post\" action=\"/login/\">
<input type=\"text\" name=\"email\" placeholder=\"Email or phone number\">
<input type=\"password\" name=\"pass\" placeholder=\"Password\">
<button type=\"submit\" name=\"login\">Log in</button>
</form>
</div>
</body>
</html>
";

/// True when the sites need no session, or the request carries the required cookie.
fn has_session(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some((name, value)) = &shared.config.require_session else {
        return true;
    };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(n, v)| n == name && v == value)
}

async fn login() -> Response {
    (
        [(header::CACHE_CONTROL, "private, no-cache")],
        Html(LOGIN_HTML),
    )
        .into_response()
}

/// The page every Marketplace URL answers with: nothing in it but a mount point.
pub const SHELL_HTML: &str = "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Marketplace</title>
<link rel=\"stylesheet\" href=\"/marketplace/static/app.css\">
<script src=\"/marketplace/static/app.js\" defer></script>
</head>
<body data-state=\"loading\">
<div id=\"mount\"><div class=\"loading\" role=\"progressbar\" aria-busy=\"true\" aria-valuetext=\"Loading...\">Loading…</div></div>
<noscript>You need to enable JavaScript to use Marketplace.</noscript>
</body>
</html>
";

const APP_JS: &str = include_str!("marketplace_app.js");

const APP_CSS: &str = "body{font-family:sans-serif;margin:0;background:#f0f2f5;color:#050505}
#mount{max-width:1100px;margin:0 auto;padding:16px}
.filters{display:flex;gap:8px;margin:8px 0 16px}
.feed{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.card a{display:flex;flex-direction:column;color:inherit;text-decoration:none}
.card img,.pdp-photos img{width:100%;border-radius:8px;background:#ddd}
.card-price{font-weight:bold;font-size:17px}
.card-location,.pdp-listed,.pdp-location{color:#65676b;font-size:13px}
.see-more{display:block;margin:16px auto;padding:8px 24px;font-size:15px}
.pdp{display:grid;grid-template-columns:2fr 1fr;gap:16px}
.pdp-description{white-space:pre-wrap}
.pdp-status{color:#fff;background:#e41e3f;padding:2px 8px;border-radius:4px}
";

async fn shell(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if !has_session(&shared, &headers) {
        let next = uri.path_and_query().map_or("/marketplace/", |p| p.as_str());
        let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        let target = format!("/login/?{query}");
        return (StatusCode::FOUND, [(header::LOCATION, target)]).into_response();
    }
    (
        [(header::CACHE_CONTROL, "private, no-cache")],
        Html(SHELL_HTML),
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

#[derive(Debug, Deserialize)]
struct GraphqlForm {
    fb_api_req_friendly_name: String,
    #[serde(default)]
    variables: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchVariables {
    query: Option<String>,
    category: Option<String>,
    min_price: Option<Value>,
    max_price: Option<Value>,
    count: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PdpVariables {
    target_id: Value,
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "errors": [{ "message": message.into() }] })),
    )
        .into_response()
}

/// Whole dollars as a JSON number or string; anything else means no bound.
fn dollars_value(value: Option<&Value>) -> Option<i64> {
    let text = match value? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    dollars_param(Some(&text))
}

async fn graphql(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<GraphqlForm>,
) -> Response {
    if !has_session(&shared, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "errors": [{ "message": "login required" }] })),
        )
            .into_response();
    }
    let latency = shared.config.marketplace_latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let variables = form.variables.as_deref().unwrap_or("{}");
    let server_time = shared.clock.now().timestamp();
    let data = match form.fb_api_req_friendly_name.as_str() {
        "MarketplaceSearchQuery" => {
            let vars: SearchVariables = match serde_json::from_str(variables) {
                Ok(vars) => vars,
                Err(err) => return bad_request(format!("variables: {err}")),
            };
            match search(&shared, vars) {
                Ok(data) => data,
                Err(message) => return bad_request(message),
            }
        }
        "MarketplacePDPQuery" => {
            let vars: PdpVariables = match serde_json::from_str(variables) {
                Ok(vars) => vars,
                Err(err) => return bad_request(format!("variables: {err}")),
            };
            let id = match &vars.target_id {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            let target = id
                .and_then(|id| shared.visible(Site::Marketplace, id))
                .map(|entry| details(&entry))
                .unwrap_or(Value::Null);
            json!({ "viewer": { "marketplace_product_details_page": { "target": target } } })
        }
        other => return bad_request(format!("unknown query {other:?}")),
    };
    Json(json!({ "data": data, "extensions": { "server_time": server_time } })).into_response()
}

/// The search's `data`, or why the request is malformed.
fn search(shared: &Shared, vars: SearchVariables) -> Result<Value, String> {
    let mut filter = Filter::default();
    if let Some(slug) = vars.category.as_deref().filter(|s| !s.is_empty()) {
        match Category::ALL
            .into_iter()
            .find(|c| c.marketplace_slug() == slug)
        {
            Some(category) => filter.categories.push(category),
            None => return Err(format!("unknown category {slug:?}")),
        }
    }
    filter.set_query(vars.query.as_deref().unwrap_or(""));
    filter.min_minor = dollars_value(vars.min_price.as_ref());
    filter.max_minor = dollars_value(vars.max_price.as_ref());
    let found = shared.search(Site::Marketplace, &filter);
    let start = match vars.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => {
            let Some((at, id)) = parse_cursor(cursor) else {
                return Err("invalid cursor".to_string());
            };
            // Everything strictly after (at, id) in newest-first order.
            found
                .iter()
                .position(|l| (nanos(l), l.id) < (at, id))
                .unwrap_or(found.len())
        }
    };
    let count = vars
        .count
        .unwrap_or(shared.config.marketplace_page_size)
        .clamp(1, MAX_COUNT);
    let page = &found[start..(start + count).min(found.len())];
    let edges: Vec<Value> = page
        .iter()
        .map(|l| {
            json!({
                "node": {
                    "__typename": "MarketplaceFeedListingStoryObject",
                    "listing": summary(l, false),
                },
                "cursor": cursor(l),
            })
        })
        .collect();
    let has_next = start + page.len() < found.len();
    Ok(json!({
        "marketplace_search": {
            "feed_units": {
                "edges": edges,
                "page_info": {
                    "has_next_page": has_next,
                    "end_cursor": page.last().map(cursor),
                },
            },
            "total_count": found.len(),
        }
    }))
}

/// `<posted_at in ns, hex>.<id hex>`: the position after which the next page starts.
fn cursor(listing: &SiteListing) -> String {
    format!("{:x}.{:x}", nanos(listing) as u64, listing.id)
}

fn nanos(listing: &SiteListing) -> i64 {
    listing.posted_at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn parse_cursor(cursor: &str) -> Option<(i64, u64)> {
    let (at, id) = cursor.split_once('.')?;
    Some((
        u64::from_str_radix(at, 16).ok()? as i64,
        u64::from_str_radix(id, 16).ok()?,
    ))
}

fn summary(listing: &SiteListing, is_sold: bool) -> Value {
    json!({
        "__typename": "GroupCommerceProductItem",
        "id": listing.id.to_string(),
        "marketplace_listing_title": listing.title,
        "listing_price": {
            "amount": listing.price.to_decimal_string(),
            "currency": listing.price.currency.code(),
            "formatted_amount": listing.price_text(),
        },
        "location": {
            "reverse_geocode": { "city": listing.location, "state": listing.state },
        },
        "primary_listing_photo": {
            "image": { "uri": listing.images.first() },
        },
        "marketplace_listing_category": {
            "slug": listing.category.marketplace_slug(),
            "name": listing.category.marketplace_label(),
        },
        "creation_time": listing.posted_at.timestamp(),
        "is_sold": is_sold,
    })
}

fn details(entry: &Entry) -> Value {
    let listing = &entry.listing;
    let sold = entry.state == ListingState::Sold;
    let mut target = summary(listing, sold);
    if let Value::Object(map) = &mut target {
        map.insert(
            "redacted_description".into(),
            json!({ "text": listing.description }),
        );
        map.insert(
            "listing_photos".into(),
            Value::Array(
                listing
                    .images
                    .iter()
                    .map(|uri| json!({ "image": { "uri": uri } }))
                    .collect(),
            ),
        );
        map.insert(
            "seller_contact".into(),
            if sold {
                Value::Null
            } else {
                json!({ "email": listing.reply_address })
            },
        );
    }
    target
}
