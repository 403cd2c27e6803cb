//! The Craigslist-style site: static HTML, no script, Craigslist's URLs and class names.
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
//!   default). Each result is an `li.cl-static-search-result.result-row[data-pid]` holding an
//!   `a.result-title[href]` with `div.title`, `span.price`, `span.location` and
//!   `time.result-date[datetime]`; the legend has `span.rangeFrom`, `span.rangeTo`,
//!   `span.totalcount` and `a.button.next` / `a.button.prev`.
//! - `GET /<area>/<cat>/d/<slug>/<id>.html` — a posting: `#titletextonly`, `span.price` inside
//!   `.postingtitletext`, `#postingbody` (after Craigslist's "QR Code Link to This Post"
//!   block), `.mapaddress`, `time.date.timeago[datetime]`, `p.postinginfo` "post id: …", photos
//!   in `#thumbs a.thumb`, and the anonymized reply address in `.reply-email-address a.mailapp`.
//!   Another area, category or slug for a known id redirects (301) to the canonical path. An
//!   unknown id (or one not posted yet) is a 404 "Page Not Found"; a sold posting is a 404
//!   page saying "This posting has been deleted by its author.", as Craigslist does.
//!
//! Times in `datetime` attributes are `YYYY-MM-DDTHH:MM:SS+0000` (Craigslist's format, in UTC).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
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

fn page(title: &str, body_class: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"UTF-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <title>{}</title>\n</head>\n<body class=\"{body_class}\">\n\
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
    Html(page("craigslist: SF bay area", "homepage", &body))
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

/// One result row per listing.
fn write_rows(body: &mut String, shown: &[SiteListing]) {
    for listing in shown {
        let title = esc(&listing.title);
        let _ = write!(
            body,
            "<li class=\"cl-static-search-result result-row\" data-pid=\"{id}\" title=\"{title}\">\n\
             <a href=\"{href}\" class=\"result-title hdrlnk\" data-id=\"{id}\">\n\
             <div class=\"title\">{title}</div>\n<div class=\"details\">\n\
             <span class=\"price result-price\">{price}</span>\n\
             <span class=\"location result-hood\">{location}</span>\n\
             <time class=\"result-date\" datetime=\"{datetime}\" title=\"{long}\">{short}</time>\n\
             </div>\n</a>\n</li>\n",
            id = listing.id,
            href = esc(&listing.craigslist_path()),
            price = esc(&listing.price_text()),
            location = esc(&listing.location),
            datetime = datetime_attr(listing.posted_at),
            long = listing.posted_at.format("%a %d %b %H:%M:%S %Y"),
            short = listing.posted_at.format("%b %-d"),
        );
    }
}

async fn search(
    State(shared): State<Arc<Shared>>,
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
    write_rows(&mut body, shown);
    body.push_str("</ol>\n");
    if shown.is_empty() {
        body.push_str(
            "<p class=\"cl-search-noresults noresults\">Nothing found for that search.</p>\n",
        );
    }
    body.push_str("</section>\n");
    let title = format!("{AREA_NAME} {label} - craigslist");
    Html(page(&title, "search", &body)).into_response()
}

async fn posting(
    State(shared): State<Arc<Shared>>,
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
    let listing = &entry.listing;
    let canonical = listing.craigslist_path();
    if format!("/{area}/{cat}/d/{slug}/{file}") != canonical {
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, canonical)],
        )
            .into_response();
    }
    if entry.state == ListingState::Sold {
        let body = "<section class=\"body\">\n<div class=\"removed\">\n\
                    <h2>This posting has been deleted by its author.</h2>\n</div>\n</section>\n";
        return (
            StatusCode::NOT_FOUND,
            Html(page("craigslist | post not found", "posting removed", body)),
        )
            .into_response();
    }

    let title = esc(&listing.title);
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"body\">\n\
         <ul class=\"breadcrumbs\"><li class=\"crumb area\"><a href=\"/\">{AREA_NAME}</a></li>\
         <li class=\"crumb section\"><a href=\"/search/{search}\">{cat_label}</a></li></ul>\n\
         <h1 class=\"postingtitle\">\n<span class=\"postingtitletext\">\n\
         <span id=\"titletextonly\">{title}</span>\n\
         <span class=\"price\">{price}</span>\n\
         <span class=\"postingtitle-location\"> ({location})</span>\n\
         </span>\n</h1>\n<section class=\"userbody\">\n\
         <div class=\"mapAndAttrs\"><div class=\"mapbox\"><div class=\"mapaddress\">{location}, {state}</div></div>\
         <p class=\"attrgroup\"><span class=\"category\">{cat_label}</span></p></div>\n",
        search = listing.category.craigslist_search_code(),
        cat_label = esc(listing.category.craigslist_label()),
        price = esc(&listing.price_text()),
        location = esc(&listing.location),
        state = esc(&listing.state),
    );
    if !listing.images.is_empty() {
        body.push_str("<div id=\"thumbs\">");
        for (n, image) in listing.images.iter().enumerate() {
            let _ = write!(
                body,
                "<a href=\"{src}\" class=\"thumb\" title=\"{n}\"><img src=\"{src}\" alt=\"{title} {n}\"></a>",
                src = esc(image),
                n = n + 1,
            );
        }
        body.push_str("</div>\n");
    }
    body.push_str(
        "<section id=\"postingbody\">\n<div class=\"print-information print-qrcode-container\">\
         <p class=\"print-qrcode-label\">QR Code Link to This Post</p></div>\n",
    );
    let paragraphs: Vec<String> = listing
        .paragraphs()
        .map(|p| p.lines().map(esc).collect::<Vec<_>>().join("<br>\n"))
        .collect();
    body.push_str(&paragraphs.join("<br>\n<br>\n"));
    let _ = write!(
        body,
        "\n</section>\n<div class=\"postinginfos\">\n\
         <p class=\"postinginfo\">post id: {id}</p>\n\
         <p class=\"postinginfo reveal\">posted: <time class=\"date timeago\" datetime=\"{datetime}\">{shown}</time></p>\n\
         </div>\n</section>\n",
        id = listing.id,
        datetime = datetime_attr(listing.posted_at),
        shown = listing.posted_at.format("%Y-%m-%d %H:%M"),
    );
    let mailto = format!(
        "mailto:{}?{}",
        listing.reply_address,
        serde_urlencoded::to_string([("subject", listing.title.as_str())])
            .unwrap_or_default()
            .replace('+', "%20")
    );
    let _ = write!(
        body,
        "<aside class=\"reply-info\">\n<button class=\"reply-button\" type=\"button\">reply</button>\n\
         <div class=\"reply-email-address\"><a class=\"mailapp\" href=\"{}\">{}</a></div>\n\
         </aside>\n</section>\n",
        esc(&mailto),
        esc(&listing.reply_address),
    );
    let page_title = format!(
        "{} - {} - by owner - craigslist",
        listing.title,
        listing.category.craigslist_label()
    );
    let html = page(&page_title, "posting", &body);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// Craigslist's "Page Not Found", also every unknown path's answer.
pub(crate) async fn not_found() -> (StatusCode, Html<String>) {
    let body = "<section class=\"body\">\n<div class=\"page-not-found\">\n<h1>404 Error</h1>\n\
                <p>Page Not Found</p>\n</div>\n</section>\n";
    (
        StatusCode::NOT_FOUND,
        Html(page("craigslist | Page Not Found", "not-found", body)),
    )
}
