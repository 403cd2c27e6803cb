//! The operator console: what the business is doing, server-rendered, working without
//! JavaScript and live with it (a small script reloads the page's content when the gate
//! announces something). Behind the same login as the inbox.
//!
//! - `GET /console` — the pipeline: found → analyzed → pursued → negotiating → agreed →
//!   bought → listed → sold, with counts, and the latest opportunities with the decision's
//!   reason and their negotiation.
//! - `GET /console/negotiations/{id}` — one negotiation's email thread, round by round.
//! - `GET /console/items` — the inventory: each item's condition, cost, prices and where it
//!   stands on each channel (why, when it waits), with a form to edit it and a retry for a
//!   channel that failed or waited for a field (`POST …/edit`, `POST …/retry/{channel}`,
//!   the same as `PATCH /api/v1/items/{id}` and `…/retry`).
//! - `GET /console/pnl` — profit and loss, per item and in total, with net cash per week as
//!   a chart.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use bazaar_agents::item_fields::ItemEdit;
use bazaar_agents::lister::channel_jobs;
use bazaar_agents::selling::ChannelMode;
use bazaar_memory::{
    InventoryItem, ItemStatus, MarketListing, Negotiation, NegotiationId, Opportunity, Party,
    Seller, SledStore, Store,
};
use maud::{html, Markup};
use serde::Deserialize;

use super::business::{opportunity_views, pipeline_counts, pnl_report, WeekNet};
use super::page::{
    api_error_page, button_form, checked_form, csrf, page, see_other, session, when, HasCsrf,
};
use super::{ApiError, AppState};

/// How many opportunities the pipeline page lists.
const LATEST: usize = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pipeline))
        .route("/console/negotiations/{id}", get(thread))
        .route("/console/items", get(items))
        .route("/console/items/{id}/edit", post(form_edit))
        .route("/console/items/{id}/retry/{channel}", post(form_retry))
        .route("/console/pnl", get(pnl))
}

/// The links across the inbox and the console.
pub(super) fn nav() -> Markup {
    html! {
        nav {
            a href="/" { "Inbox" } " · "
            a href="/console" { "Pipeline" } " · "
            a href="/console/items" { "Inventory" } " · "
            a href="/console/pnl" { "P&L" }
        }
    }
}

/// Reloads `#content` when the gate announces something — unless a form there is being
/// filled in (a field in focus, or one changed and not yet saved).
const LIVE_CONTENT: &str = r#"
(function () {
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;
  var timer = null;
  function busy() {
    var a = document.activeElement;
    if (a && (a.tagName === 'INPUT' || a.tagName === 'SELECT' || a.tagName === 'TEXTAREA')) return true;
    var fields = document.querySelectorAll('#content input[type=text], #content select');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.tagName === 'SELECT' ? f.selectedIndex > 0 : f.value !== f.defaultValue) return true;
    }
    return false;
  }
  function refresh() {
    timer = null;
    if (busy()) { timer = setTimeout(refresh, 2000); return; }
    fetch(location.pathname, { credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('content');
        if (fresh) document.getElementById('content').innerHTML = fresh.innerHTML;
      })
      .catch(function () {});
  }
  var source = new EventSource('/events');
  source.onopen = function () { document.body.setAttribute('data-live', 'on'); };
  source.onerror = function () { document.body.setAttribute('data-live', 'off'); };
  source.onmessage = function () { if (!timer) timer = setTimeout(refresh, 300); };
})();
"#;

/// A console page: the heading, the links, and `content` (what the live script reloads).
fn console_page(title: &str, content: Markup) -> Response {
    let body = html! {
        header { h1 { (title) } (nav()) }
        main #content { (content) }
    };
    page(StatusCode::OK, title, body, Some(LIVE_CONTENT))
}

/// The page, or the login page when there is no session.
fn logged_in(
    state: &AppState,
    headers: &HeaderMap,
    render: impl FnOnce(&SledStore, &str) -> Result<Response, ApiError>,
) -> Response {
    let Some(session) = session(state, headers) else {
        return see_other("/login");
    };
    match render(&state.ctx.store, &session) {
        Ok(response) => response,
        Err(error) => api_error_page(error),
    }
}

// ---------------------------------------------------------------------------------------
// Pipeline

async fn pipeline(State(state): State<AppState>, headers: HeaderMap) -> Response {
    logged_in(&state, &headers, |store, _| {
        let stages = pipeline_counts(store)?;
        let rows = opportunity_views(store, None, LATEST)?;
        let stage_list = [
            ("found", "found", stages.found),
            ("analyzed", "analyzed", stages.analyzed),
            ("passed", "passed", stages.passed),
            ("pursued", "pursued", stages.pursued),
            ("negotiating", "negotiating", stages.negotiating),
            ("agreed", "agreed", stages.agreed),
            ("bought", "bought", stages.bought),
            ("listed", "listed", stages.listed),
            ("sold", "sold", stages.sold),
        ];
        let content = html! {
            ol.pipeline #pipeline {
                @for (id, name, count) in stage_list {
                    li #{"stage-" (id)} { strong.count { (count) } " " (name) }
                }
            }
            h2 { "Latest opportunities" }
            @if rows.is_empty() {
                p.muted { "Nothing found yet: the saved searches fill this as they run." }
            } @else {
                table #opportunities {
                    tr { th { "listing" } th { "asking" } th { "value" } th { "decision" } th { "why" } th { "negotiation" } }
                    @for row in &rows {
                        tr {
                            td {
                                @match (&row.url, row.marketplace) {
                                    (Some(url), Some(marketplace)) => { a href=(url) rel="noreferrer" { (row.title) } " " span.muted { (marketplace) } },
                                    _ => span.muted { "(listing gone)" },
                                }
                            }
                            td { (row.asking.map(|p| p.to_string()).unwrap_or_default()) }
                            td { (row.value.map_or_else(|| "-".to_string(), |v| v.to_string())) }
                            td { (row.status) }
                            td { (row.reason.as_deref().unwrap_or("")) }
                            td {
                                @if let (Some(id), Some(status)) = (row.negotiation, &row.negotiation_status) {
                                    a href={"/console/negotiations/" (id)} { (status) " · " (row.emails) " emails" }
                                }
                            }
                        }
                    }
                }
            }
        };
        Ok(console_page("Bazaar pipeline", content))
    })
}

// ---------------------------------------------------------------------------------------
// A negotiation's thread

async fn thread(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    logged_in(&state, &headers, |store, _| {
        let id: NegotiationId = id
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{id:?} is not a negotiation id")))?;
        let negotiation = store
            .get::<Negotiation>(&id)
            .map_err(ApiError::store)?
            .ok_or_else(|| ApiError::not_found(format!("negotiation {id} not found")))?;
        let listing = match store
            .get::<Opportunity>(&negotiation.opportunity)
            .map_err(ApiError::store)?
        {
            Some(o) => store
                .get::<MarketListing>(&o.listing)
                .map_err(ApiError::store)?,
            None => None,
        };
        let seller = store
            .get::<Seller>(&negotiation.seller)
            .map_err(ApiError::store)?
            .and_then(|s| s.display_name)
            .unwrap_or_else(|| negotiation.seller_address.clone());
        let content = html! {
            dl #negotiation {
                dt { "item" } dd { (listing.as_ref().map_or(negotiation.subject.as_str(), |l| l.title.as_str())) }
                @if let Some(l) = &listing { dt { "asking" } dd { (l.price) " on " (l.marketplace) } }
                dt { "seller" } dd { (seller) }
                dt { "state" } dd { (negotiation.lifecycle.status) }
                dt { "most we pay" } dd { (negotiation.ceiling) }
                @if let Some(agreed) = negotiation.agreed_price { dt { "agreed" } dd { (agreed) } }
            }
            h2 { "Thread" }
            @for round in &negotiation.rounds {
                @let from = if round.from == Party::Us { "us" } else { "seller" };
                article.round.{(from)} {
                    h3 {
                        (if round.from == Party::Us { "We wrote" } else { "The seller wrote" })
                        " " (when(round.at))
                        @if let Some(price) = round.price { " · " (price) }
                    }
                    pre.mail { (round.text) }
                }
            }
        };
        Ok(console_page(&format!("Negotiation with {seller}"), content))
    })
}

// ---------------------------------------------------------------------------------------
// Inventory

async fn items(State(state): State<AppState>, headers: HeaderMap) -> Response {
    logged_in(&state, &headers, |store, session| {
        let csrf = csrf(&state, session);
        let mut items = store.all::<InventoryItem>().map_err(ApiError::store)?;
        items.sort_by(|a, b| b.acquired_at.cmp(&a.acquired_at).then(b.id.cmp(&a.id)));
        let mut cards = Vec::with_capacity(items.len());
        for item in &items {
            let jobs =
                channel_jobs(store, item, &state.ctx.selling_channels).map_err(ApiError::store)?;
            cards.push(item_card(&state, item, &jobs, &csrf));
        }
        let content = html! {
            @if cards.is_empty() {
                p.muted { "No items yet: what the agent buys, and what you add with `bazaar item add`, shows here." }
            }
            @for card in cards { (card) }
        };
        Ok(console_page("Bazaar inventory", content))
    })
}

fn item_card(
    state: &AppState,
    item: &InventoryItem,
    jobs: &[bazaar_agents::lister::ChannelJob],
    csrf: &str,
) -> Markup {
    let id = item.id.to_string();
    let editable = matches!(
        item.lifecycle.status,
        ItemStatus::Draft | ItemStatus::InStock | ItemStatus::Listed
    );
    let native = |marketplace| {
        state
            .ctx
            .selling_channels
            .iter()
            .any(|c| c.marketplace == marketplace && c.mode == ChannelMode::Native)
    };
    let money = |m: Option<bazaar_memory::Money>| {
        m.map_or_else(|| "the Lister's".to_string(), |m| m.to_string())
    };
    html! {
        article.item #{"item-" (id)} {
            h3 { (item.title) " " span.muted { (item.lifecycle.status) } }
            dl {
                dt { "condition" } dd.condition { (item.condition.name()) }
                dt { "cost" } dd { (item.cost_basis) }
                dt { "price" } dd { (money(item.selling.price)) }
                dt { "floor" } dd { (money(item.selling.floor)) }
                dt { "photos" } dd { (item.images.len()) }
                @if let Some(notes) = item.attributes.get(bazaar_agents::item_fields::NOTES) {
                    dt { "notes" } dd { (notes) }
                }
            }
            table.jobs {
                @for job in jobs {
                    tr #{"job-" (id) "-" (job.marketplace)} {
                        td { (job.marketplace) }
                        td.status { (job.status) }
                        td { (job.price.map(|p| p.to_string()).unwrap_or_default()) }
                        td { (job.reason.as_deref().unwrap_or("")) }
                        td {
                            @if let Some(url) = &job.url { a href=(url) rel="noreferrer" { "view" } }
                            @let retryable = matches!(job.status.as_str(), "failed" | "rejected" | "withdrawn")
                                || (job.status == "needs_manual_action" && native(job.marketplace));
                            @if editable && retryable {
                                (button_form(&format!("/console/items/{id}/retry/{}", job.marketplace), csrf, html! {},
                                    html! { button type="submit" class="retry" { "Retry" } }))
                            }
                        }
                    }
                }
            }
            @if editable {
                form.edit method="post" action={"/console/items/" (id) "/edit"} {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "Condition " select name="condition" {
                        option value="" { "(keep)" }
                        @for c in ["new", "like_new", "good", "fair", "poor", "for_parts"] {
                            option value=(c) { (c) }
                        }
                    } }
                    label { " Price $" input type="text" name="price" size="8"; }
                    label { " Floor $" input type="text" name="floor" size="8"; }
                    label { " Notes " input type="text" name="notes" size="24"; }
                    " " button type="submit" { "Save" }
                }
            }
        }
    }
}

/// `POST /console/items/{id}/edit`: empty fields change nothing.
#[derive(Debug, Deserialize)]
struct EditForm {
    csrf: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    floor: String,
    #[serde(default)]
    notes: String,
}

impl HasCsrf for EditForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Debug, Deserialize)]
struct RetryForm {
    csrf: String,
}

impl HasCsrf for RetryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn form_edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<EditForm>, FormRejection>,
) -> Response {
    let form = match checked_form(&state, &headers, form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let given = |text: String| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let edit = ItemEdit {
        condition: given(form.condition),
        price: given(form.price),
        floor: given(form.floor),
        notes: given(form.notes),
        ..ItemEdit::default()
    };
    match super::items::edit_of(&state, &id, edit).await {
        Ok(_) => see_other(&format!("/console/items#item-{id}")),
        Err(error) => api_error_page(error),
    }
}

async fn form_retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, channel)): Path<(String, String)>,
    form: Result<Form<RetryForm>, FormRejection>,
) -> Response {
    if let Err(response) = checked_form(&state, &headers, form) {
        return response;
    }
    match super::items::retry_of(&state, &id, &channel) {
        Ok(_) => see_other(&format!("/console/items#item-{id}")),
        Err(error) => api_error_page(error),
    }
}

// ---------------------------------------------------------------------------------------
// Profit and loss

/// Bars of net cash per week, drawn as SVG (attributes only: the page's CSP allows no
/// inline styles).
fn chart(weeks: &[WeekNet], currency: bazaar_memory::Currency) -> Markup {
    const WIDTH: i64 = 640;
    const HEIGHT: i64 = 160;
    let most = weeks.iter().map(|w| w.net.abs()).max().unwrap_or(0).max(1);
    let bar = (WIDTH / (weeks.len() as i64).max(1)).clamp(4, 60);
    let middle = HEIGHT / 2;
    html! {
        svg #chart width=(WIDTH) height=(HEIGHT + 20) viewBox={"0 0 " (WIDTH) " " (HEIGHT + 20)} role="img"
            aria-label="net cash per week" {
            line x1="0" y1=(middle) x2=(WIDTH) y2=(middle) stroke="#999" {}
            @for (i, WeekNet { week, net }) in weeks.iter().enumerate() {
                @let height = (net.abs() * (middle - 4) / most).max(1);
                @let x = i as i64 * bar + 2;
                @let y = if *net >= 0 { middle - height } else { middle };
                rect x=(x) y=(y) width=(bar - 4) height=(height)
                    fill=(if *net >= 0 { "#2e7d32" } else { "#c62828" }) {
                    title { (week.format("week of %Y-%m-%d")) ": " (bazaar_memory::Money::new(*net, currency)) }
                }
            }
        }
    }
}

async fn pnl(State(state): State<AppState>, headers: HeaderMap) -> Response {
    logged_in(&state, &headers, |store, _| {
        let report = pnl_report(store, None)?;
        let currency = bazaar_memory::Currency::from_code(&report.currency)
            .unwrap_or(bazaar_memory::Currency::Usd);
        let money = |minor: i64| bazaar_memory::Money::new(minor, currency).to_string();
        let (total, sold) = (&report.total, &report.sold);
        let content = html! {
            dl #totals {
                dt { "profit on what sold" } dd #profit-sold { (money(sold.profit)) }
                dt { "cash" } dd #profit-cash { (money(total.profit)) }
                dt { "stock held, at cost" } dd { (money(report.stock_at_cost)) }
                dt { "revenue" } dd { (money(total.revenue)) }
                dt { "fees and postage" } dd { (money(total.fees + total.shipping)) }
                @if let Some(since) = report.first_booked { dt { "since" } dd { (when(since)) } }
            }
            h2 { "Net cash per week" }
            @if report.weeks.is_empty() { p.muted { "Nothing booked yet." } } @else { (chart(&report.weeks, currency)) }
            h2 { "Per item" }
            table #per-item {
                tr { th { "item" } th { "revenue" } th { "cost" } th { "fees" } th { "postage" } th { "profit" } }
                @for p in &report.items {
                    tr {
                        td { (p.title) } td { (money(p.revenue)) } td { (money(p.cost)) }
                        td { (money(p.fees)) } td { (money(p.shipping)) } td { (money(p.profit)) }
                    }
                }
            }
        };
        Ok(console_page("Bazaar P&L", content))
    })
}
