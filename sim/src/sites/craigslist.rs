//! The Craigslist-style site: static HTML as real Craigslist serves it in 2026 (the saved
//! pages in `../shared/data/real/craigslist/` are the model; where this and a real page
//! disagree, the real page wins).
//!
//! Routes:
//! - `GET /` — the area's home page: links to every search.
//! - `GET /search/<cat>` — search results, newest first. `<cat>` is `sss` (everything for
//!   sale), `hhh` (housing), or a category: `fua` furniture, `ela` electronics, `bia` bikes,
//!   `cta` cars & trucks, `moa` cell phones, `apa` apartments (the "by owner" codes `fuo`,
//!   `ele`, `bik`, `cto`, `mob` work too). Parameters: `query` (every word must occur in the
//!   title or body, case-insensitively, as a substring; `-word` excludes), `srchType=T` (titles only), `min_price`, `max_price`
//!   (whole dollars, inclusive; anything unparsable is ignored), `sort=date|priceasc|pricedsc`,
//!   `s` (offset; a page holds [`super::SitesConfig::craigslist_page_size`] results, 120 by
//!   default). Each result is, as on the real static page, an `li.cl-static-search-result`
//!   with a `title` attribute and no `data-pid` or date, holding an absolute `a[href]` with
//!   `div.title` and `div.details` (`div.price`, `div.location`); postings of the last hour
//!   link to `/view/d/<slug>/<token>` (no numeric id), older ones to their posting path. The
//!   page's JSON-LD (`script#ld_searchpage_results`) names every row. The legend
//!   (`span.totalcount`, `a.button.next` / `a.button.prev`) is the older layout's, kept for
//!   paging: the real static page's own paging is not among the samples.
//! - `GET /<area>/<cat>/d/<slug>/<id>.html` and `GET /view/d/<slug>/<token>` — a posting, in
//!   the real 2026 markup: `ld_posting_data` JSON-LD, `span.price` and `#titletextonly` in
//!   `.postingtitletext` followed by `<span> (town)</span>`, the gallery's `#thumbs a.thumb`,
//!   a `.mapaddress` holding only a "google map" link, `#postingbody` (after the "QR Code
//!   Link to This Post" block, `<br>` line breaks), `p.postinginfo` "post id: …" and
//!   `time.date.timeago[datetime]`. No address on the page: the reply button
//!   (`button.reply-button.js-only[data-href=".../reply/<area>/<cat>/<id>/__SERVICE_ID__"]`)
//!   is the way to the seller, as on the real site. Another area, category or slug for a
//!   known id redirects (301) to the canonical path. An unknown id (or one not posted yet) is
//!   a 404 "Page Not Found"; a sold posting is a 404 page saying "This posting has been
//!   deleted by its author.", as Craigslist does.
//! - `GET /reply/<area>/<cat>/<id>` (and with a trailing service id, the segment the real
//!   button's script fills in for `__SERVICE_ID__`) — the reply options. No real reply page is
//!   among the samples, so this one is assumed and minimal: the relay address in
//!   `.reply-email-address a.mailapp[href^=mailto]` (the markup older postings carried
//!   inline); for [`super::SitesConfig::craigslist_script_reply_permille`] of the postings
//!   the same markup written by the page's script (a `noscript` note otherwise), and for
//!   [`super::SitesConfig::craigslist_captcha_permille`] an hCaptcha box and no address; for
//!   [`super::SitesConfig::craigslist_phone_only_permille`] a seller who takes calls or texts
//!   only: "contact by: call, text" and a `tel:` link, no address.
//!
//! Times in `datetime` attributes are `YYYY-MM-DDTHH:MM:SS+0000` (Craigslist's format, in UTC).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use super::{
    dollars_param, escape_html as esc, Category, Filter, ListingState, Shared, Site, SiteListing,
};

const AREA_NAME: &str = "SF bay area";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(home))
        .route("/search/{cat}", get(search))
        .route("/{area}/{cat}/d/{slug}/{file}", get(posting))
        .route("/view/d/{slug}/{token}", get(posting_by_token))
        .route("/reply/{area}/{cat}/{id}", get(reply))
        .route("/reply/{area}/{cat}/{id}/{service}", get(reply_for_service))
}

/// The categories a search code covers, and its label; `None` for an unknown code.
fn search_scope(code: &str) -> Option<(Vec<Category>, &'static str)> {
    match code {
        "sss" => Some((
            Category::ALL
                .into_iter()
                .filter(|c| !c.is_housing())
                .collect(),
            "for sale",
        )),
        "hhh" => Some((vec![Category::Housing], "housing")),
        _ => Category::ALL
            .into_iter()
            .find(|c| c.craigslist_search_code() == code || c.craigslist_posting_code() == code)
            .map(|c| (vec![c], c.craigslist_label())),
    }
}

/// Craigslist's `datetime` attribute format.
fn datetime_attr(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// A whole page: `head` goes at the end of `<head>` (the JSON-LD scripts).
fn page(title: &str, body_class: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"UTF-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <title>{}</title>\n{head}</head>\n<body class=\"{body_class}\">\n\
         <header class=\"cl-header global-header\"><a class=\"header-logo\" href=\"/\">CL</a> \
         <span class=\"cl-breadcrumb\"><a href=\"/\">{AREA_NAME}</a></span></header>\n\
         {body}\
         <footer class=\"cl-footer\">&copy; craigslist (simulated)</footer>\n</body>\n</html>\n",
        esc(title)
    )
}

async fn home() -> Html<String> {
    let mut body = String::from("<section class=\"body\">\n<h1>craigslist: SF bay area</h1>\n");
    body.push_str("<ul class=\"cats\">\n");
    body.push_str("<li><a href=\"/search/sss\" class=\"sss\">for sale</a></li>\n");
    body.push_str("<li><a href=\"/search/hhh\" class=\"hhh\">housing</a></li>\n");
    for cat in Category::ALL {
        let code = cat.craigslist_search_code();
        let _ = writeln!(
            body,
            "<li><a href=\"/search/{code}\" class=\"{code}\">{}</a></li>",
            esc(cat.craigslist_label())
        );
    }
    body.push_str("</ul>\n</section>\n");
    Html(page("craigslist: SF bay area", "homepage", "", &body))
}

/// The heading and the search form, as the page was asked for.
fn search_form(code: &str, label: &str, query: &str, params: &HashMap<String, String>) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"body\">\n<h1 class=\"search-title\">{}</h1>\n\
         <form id=\"searchform\" class=\"search-form\" action=\"/search/{}\" method=\"get\">\n\
         <input type=\"text\" name=\"query\" id=\"query\" value=\"{}\" placeholder=\"search {}\">\n\
         <input type=\"number\" name=\"min_price\" class=\"min\" value=\"{}\" placeholder=\"min\">\n\
         <input type=\"number\" name=\"max_price\" class=\"max\" value=\"{}\" placeholder=\"max\">\n\
         <button type=\"submit\" class=\"searchbtn\">search</button>\n</form>\n",
        esc(label),
        esc(code),
        esc(query),
        esc(label),
        esc(params.get("min_price").map(String::as_str).unwrap_or("")),
        esc(params.get("max_price").map(String::as_str).unwrap_or("")),
    );
    body
}

/// The site's own origin (`http://127.0.0.1:PORT`), from the request: real pages link with
/// absolute URLs.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The token of a `/view/d/` link: the post id in base 36 (real tokens are opaque; the
/// connector must not need a number).
fn view_token(id: u64) -> String {
    let mut digits = Vec::new();
    let mut rest = id;
    loop {
        let digit = (rest % 36) as u32;
        digits.push(char::from_digit(digit, 36).unwrap_or('0'));
        rest /= 36;
        if rest == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

fn id_of_token(token: &str) -> Option<u64> {
    u64::from_str_radix(token, 36).ok()
}

/// Where a row links: postings of the last hour by `/view/d/` token, as the newest real rows
/// do; older ones by their posting path.
fn row_href(listing: &SiteListing, now: DateTime<Utc>) -> String {
    if now - listing.posted_at < chrono::Duration::hours(1) {
        return format!("/view/d/{}/{}", listing.slug(), view_token(listing.id));
    }
    listing.craigslist_path()
}

/// JSON for a `<script type="application/ld+json">`: `<`, `>` and `&` as JSON escapes, so
/// no text a seller wrote can close the script or open markup.
fn json_ld(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Where a listing is, as schema.org puts it.
fn postal_address(listing: &SiteListing) -> serde_json::Value {
    serde_json::json!({
        "@type": "PostalAddress",
        "addressCountry": "US",
        "addressLocality": listing.location,
        "addressRegion": listing.state,
        "postalCode": "",
        "streetAddress": "",
    })
}

/// The page's JSON-LD list of its results (`script#ld_searchpage_results`).
fn results_json_ld(shown: &[SiteListing]) -> String {
    let items: Vec<serde_json::Value> = shown
        .iter()
        .enumerate()
        .map(|(position, listing)| {
            serde_json::json!({
                "@type": "ListItem",
                "position": position.to_string(),
                "item": {
                    "@context": "http://schema.org",
                    "@type": "Product",
                    "name": listing.title,
                    "offers": {
                        "@type": "Offer",
                        "price": format!("{}.{:02}", listing.price.minor / 100, listing.price.minor % 100),
                        "priceCurrency": "USD",
                        "availableAtOrFrom": {"@type": "Place", "address": postal_address(listing)},
                    },
                },
            })
        })
        .collect();
    let list = serde_json::json!({"@type": "ItemList", "itemListElement": items});
    format!(
        "<script type=\"application/ld+json\" id=\"ld_searchpage_results\" >\n    {}\n</script>\n",
        json_ld(&list)
    )
}

/// One result row per listing, in the real static page's markup.
fn write_rows(body: &mut String, shown: &[SiteListing], origin: &str, now: DateTime<Utc>) {
    for listing in shown {
        let title = esc(&listing.title);
        let _ = write!(
            body,
            "        <li class=\"cl-static-search-result\" title=\"{title}\">\n\
             <a href=\"{href}\">\n<div class=\"title\">{title}</div>\n\n\
             <div class=\"details\">\n<div class=\"price\">{price}</div>\n\
             <div class=\"location\">\n{location}\n</div>\n</div>\n</a>\n</li>\n",
            href = esc(&format!("{origin}{}", row_href(listing, now))),
            price = esc(&listing.price_text()),
            location = esc(&listing.location),
        );
    }
}

async fn search(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some((categories, label)) = search_scope(&code) else {
        return not_found().await.into_response();
    };
    let mut filter = Filter {
        categories,
        ..Filter::default()
    };
    let query = params.get("query").map(|q| q.trim()).unwrap_or("");
    filter.set_query(query);
    filter.title_only = params.get("srchType").is_some_and(|t| t == "T");
    filter.min_minor = dollars_param(params.get("min_price"));
    filter.max_minor = dollars_param(params.get("max_price"));
    let mut found = shared.search(Site::Craigslist, &filter);
    let sort = params.get("sort").map(String::as_str).unwrap_or("date");
    match sort {
        "priceasc" => found.sort_by(|a, b| a.price.minor.cmp(&b.price.minor).then(b.id.cmp(&a.id))),
        "pricedsc" => found.sort_by(|a, b| b.price.minor.cmp(&a.price.minor).then(b.id.cmp(&a.id))),
        _ => {}
    }
    let size = shared.config.craigslist_page_size.max(1);
    let offset: usize = params
        .get("s")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let total = found.len();
    let shown = &found[offset.min(total)..(offset.saturating_add(size)).min(total)];

    // The parameters a page link keeps, in a fixed order.
    let kept: Vec<(&str, &str)> = ["query", "srchType", "min_price", "max_price", "sort"]
        .into_iter()
        .filter_map(|k| params.get(k).map(|v| (k, v.as_str())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let link = |s: usize| {
        let mut pairs = kept.clone();
        let s_text = s.to_string();
        if s > 0 {
            pairs.push(("s", &s_text));
        }
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let url = if qs.is_empty() {
            format!("/search/{code}")
        } else {
            format!("/search/{code}?{qs}")
        };
        esc(&url)
    };

    let mut body = search_form(&code, label, query, &params);
    let (from, to) = if shown.is_empty() {
        (0, 0)
    } else {
        (offset + 1, offset + shown.len())
    };
    let _ = write!(
        body,
        "<div class=\"search-legend\">\n<div class=\"paginator buttongroup\">\n\
         <span class=\"resulttotal\"><span class=\"range\"><span class=\"rangeFrom\">{from}</span> - \
         <span class=\"rangeTo\">{to}</span></span> / <span class=\"totalcount\">{total}</span></span>\n\
         <span class=\"buttons\">"
    );
    if offset > 0 && total > 0 {
        let _ = write!(
            body,
            "<a href=\"{}\" class=\"button prev\" title=\"previous page\">&lt; prev</a>",
            link(offset.saturating_sub(size))
        );
    }
    if offset.saturating_add(size) < total {
        let _ = write!(
            body,
            "<a href=\"{}\" class=\"button next\" title=\"next page\">next &gt;</a>",
            link(offset + size)
        );
    }
    body.push_str("</span>\n</div>\n</div>\n<ol class=\"cl-static-search-results\">\n");
    write_rows(&mut body, shown, &origin(&headers), shared.clock.now());
    body.push_str("</ol>\n");
    if shown.is_empty() {
        body.push_str(
            "<p class=\"cl-search-noresults noresults\">Nothing found for that search.</p>\n",
        );
    }
    body.push_str("</section>\n");
    let title = format!("{AREA_NAME} {label} - craigslist");
    Html(page(&title, "search", &results_json_ld(shown), &body)).into_response()
}

async fn posting(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((area, cat, slug, file)): Path<(String, String, String, String)>,
) -> Response {
    let Some(id) = file
        .strip_suffix(".html")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return not_found().await.into_response();
    };
    let Some(entry) = shared.visible(Site::Craigslist, id) else {
        return not_found().await.into_response();
    };
    let canonical = entry.listing.craigslist_path();
    if format!("/{area}/{cat}/d/{slug}/{file}") != canonical {
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, canonical)],
        )
            .into_response();
    }
    posting_page(&entry, &origin(&headers))
}

/// A posting by the token of a `/view/d/` link (any slug: the token names it).
async fn posting_by_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((_slug, token)): Path<(String, String)>,
) -> Response {
    let entry = id_of_token(&token).and_then(|id| shared.visible(Site::Craigslist, id));
    let Some(entry) = entry else {
        return not_found().await.into_response();
    };
    posting_page(&entry, &origin(&headers))
}

/// The posting page of `entry`, or Craigslist's page for a deleted one.
fn posting_page(entry: &super::Entry, origin: &str) -> Response {
    if entry.state == ListingState::Sold {
        let body = "<section class=\"body\">\n<div class=\"removed\">\n\
                    <h2>This posting has been deleted by its author.</h2>\n</div>\n</section>\n";
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "craigslist | post not found",
                "posting removed",
                "",
                body,
            )),
        )
            .into_response();
    }
    let listing = &entry.listing;
    let title = esc(&listing.title);
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"body\">\n<header class=\"dateReplyBar\">\n\
         <div class=\"reply-button-row\">\n<div class=\"actions-combo\">\n\
         <button role=\"button\" class=\"reply-button js-only\" data-href=\"{origin}/reply/{area}/{cat}/{id}/__SERVICE_ID__\">\n\
         reply\n</button>\n<div class=\"reply-info js-only\"></div>\n</div>\n\
         <p id=\"display-date\" class=\"postinginfo reveal\">Posted\n\
         <time class=\"date timeago\" datetime=\"{datetime}\">{shown}</time>\n</p>\n\
         </div>\n</header>\n\
         <h1 class=\"postingtitle\">\n<span class=\"postingtitletext\">\n\
         <span class=\"price\">{price}</span> <span id=\"titletextonly\">{title}</span>\
         <span> ({location})</span> </span>\n</h1>\n<section class=\"userbody\">\n",
        area = esc(&listing.area),
        cat = listing.category.craigslist_posting_code(),
        id = listing.id,
        price = esc(&listing.price_text()),
        location = esc(&listing.location),
        datetime = datetime_attr(listing.posted_at),
        shown = listing.posted_at.format("%Y-%m-%d %H:%M"),
    );
    if !listing.images.is_empty() {
        body.push_str("<figure class=\"iw multiimage\">\n<div id=\"thumbs\">");
        for (n, image) in listing.images.iter().enumerate() {
            let _ = write!(
                body,
                "<a id=\"{n}_thumb\" class=\"thumb\" href=\"{src}\" title=\"{n}\"><img src=\"{src}\" alt=\"{title} {n} thumbnail\"></a>",
                src = esc(image),
                n = n + 1,
            );
        }
        body.push_str("</div>\n</figure>\n");
    }
    let _ = write!(
        body,
        "<div class=\"mapAndAttrs\">\n<div class=\"mapbox\">\n<p class=\"mapaddress\">\n\
         <small><a target=\"_blank\" href=\"https://www.google.com/maps/search/{place}\">google map</a></small>\n\
         </p>\n</div>\n</div>\n\
         <section id=\"postingbody\">\n<div class=\"print-information print-qrcode-container\">\n\
         <p class=\"print-qrcode-label\">QR Code Link to This Post</p>\n</div>\n",
        place = esc(
            &format!("{}, {}", listing.location, listing.state)
                .replace(' ', "+")
        ),
    );
    for line in listing.description.trim().lines() {
        let _ = writeln!(body, "{}<br>", esc(line.trim()));
    }
    let _ = write!(
        body,
        "</section>\n<div class=\"postinginfos\">\n\
         <p class=\"postinginfo\">post id: {id}</p>\n\
         <p class=\"postinginfo reveal\">posted: <time class=\"date timeago\" datetime=\"{datetime}\">{shown}</time></p>\n\
         </div>\n</section>\n</section>\n",
        id = listing.id,
        datetime = datetime_attr(listing.posted_at),
        shown = listing.posted_at.format("%Y-%m-%d %H:%M"),
    );
    let page_title = format!(
        "{} - {} - by owner - craigslist",
        listing.title,
        listing.category.craigslist_label()
    );
    let ld = serde_json::json!({
        "@context": "http://schema.org",
        "@type": "Product",
        "name": listing.title,
        "address": postal_address(listing),
    });
    let head = format!(
        "<link rel=\"canonical\" href=\"{origin}{}\">\n\
         <script type=\"application/ld+json\" id=\"ld_posting_data\" >\n    {}\n</script>\n",
        esc(&listing.craigslist_path()),
        json_ld(&ld)
    );
    let html = page(&page_title, "posting", &head, &body);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// How the reply page of a posting shows the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyPage {
    /// In its markup.
    Markup,
    /// Only once its script ran (a browser).
    Script,
    /// Only to a person who solved its captcha.
    Captcha,
    /// Never: the seller takes calls or texts only.
    PhoneOnly,
}

/// How posting `id`'s reply page shows the address: a fixed share of the postings by id, so
/// a page answers the same every time.
fn reply_page_kind(shared: &Shared, id: u64) -> ReplyPage {
    let captcha = u64::from(shared.config.craigslist_captcha_permille);
    let script = captcha + u64::from(shared.config.craigslist_script_reply_permille);
    let phone = script + u64::from(shared.config.craigslist_phone_only_permille);
    match id % 1000 {
        n if n < captcha => ReplyPage::Captcha,
        n if n < script => ReplyPage::Script,
        n if n < phone => ReplyPage::PhoneOnly,
        _ => ReplyPage::Markup,
    }
}

async fn reply_for_service(
    state: State<Arc<Shared>>,
    Path((area, cat, id, _service)): Path<(String, String, String, String)>,
) -> Response {
    reply(state, Path((area, cat, id))).await
}

/// The reply options of a posting (assumed markup, see the module's doc).
async fn reply(
    State(shared): State<Arc<Shared>>,
    Path((_area, _cat, id)): Path<(String, String, String)>,
) -> Response {
    let entry = id
        .parse::<u64>()
        .ok()
        .and_then(|id| shared.visible(Site::Craigslist, id));
    let Some(entry) = entry.filter(|e| e.state == ListingState::Active) else {
        return not_found().await.into_response();
    };
    let listing = &entry.listing;
    let mut body = String::from("<section class=\"body\">\n<div class=\"reply-info\">\n");
    let kind = reply_page_kind(&shared, listing.id);
    if kind == ReplyPage::Script {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&listing.reply_address);
        let _ = write!(
            body,
            "<div class=\"reply-options\" id=\"reply-options\" data-reply=\"{encoded}\"></div>\n\
             <noscript><p class=\"reply-noscript\">turn on JavaScript to see the reply options</p></noscript>\n\
             <script>(function () {{ var o = document.getElementById('reply-options'); \
             var a = atob(o.dataset.reply); o.innerHTML = '<p class=\"reply-email\">reply by email:</p>' + \
             '<div class=\"reply-email-address\"><a class=\"mailapp\" href=\"mailto:' + a + '\">' + a + '</a></div>'; }})();</script>\n"
        );
    } else if kind == ReplyPage::PhoneOnly {
        // 555-01xx numbers are reserved for fiction.
        let line = 100 + listing.id % 100;
        let _ = write!(
            body,
            "<div class=\"reply-options\">\n<p class=\"reply-contact-by\">contact by: call, text</p>\n\
             <div class=\"reply-tel\"><a class=\"reply-tel-link\" href=\"tel:+1555555{line:04}\">(555) 555-{line:04}</a></div>\n</div>\n"
        );
    } else if kind == ReplyPage::Captcha {
        body.push_str(
            "<div class=\"reply-captcha\">\n<p>Please complete the challenge below to see the \
             contact info.</p>\n<div class=\"h-captcha\" data-sitekey=\"sim-sitekey\"></div>\n</div>\n",
        );
    } else {
        let mailto = format!(
            "mailto:{}?{}",
            listing.reply_address,
            serde_urlencoded::to_string([("subject", listing.title.as_str())])
                .unwrap_or_default()
                .replace('+', "%20")
        );
        let _ = write!(
            body,
            "<div class=\"reply-options\">\n<p class=\"reply-email\">reply by email:</p>\n\
             <div class=\"reply-email-address\"><a class=\"mailapp\" href=\"{}\">{}</a></div>\n</div>\n",
            esc(&mailto),
            esc(&listing.reply_address),
        );
    }
    body.push_str("</div>\n</section>\n");
    let html = page("craigslist | reply", "reply", "", &body);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// Craigslist's "Page Not Found", also every unknown path's answer.
pub(crate) async fn not_found() -> (StatusCode, Html<String>) {
    let body = "<section class=\"body\">\n<div class=\"page-not-found\">\n<h1>404 Error</h1>\n\
                <p>Page Not Found</p>\n</div>\n</section>\n";
    (
        StatusCode::NOT_FOUND,
        Html(page("craigslist | Page Not Found", "not-found", "", body)),
    )
}
