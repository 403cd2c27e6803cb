//! Craigslist-style static HTML: search pages and posting pages, read with CSS selectors.
//!
//! - Search: `GET /search/<cat>?query=&min_price=&max_price=&sort=&s=<offset>`; each result
//!   is an `li.cl-static-search-result[data-pid]` with an `a[href]` to its posting. Prices in
//!   the query are whole dollars (min rounded down, max rounded up).
//! - Posting: `#titletextonly`, `.postingtitletext .price`, `#postingbody` (without the
//!   "QR Code Link to This Post" block), `.mapaddress`, `time[datetime]`, photos in
//!   `#thumbs a.thumb`, the reply address in `.reply-email-address a.mailapp` where the page
//!   shows it (older postings did).
//! - Reply page: today's postings hide the address behind the reply button
//!   (`button.reply-button[data-href]`, 2018's `a#replylink`); the listing keeps that page as
//!   [`SellerRef::contact_url`], and [`Craigslist::reveal_contact`] reads the relay address
//!   from it when a deal is worth starting — one request per pursued listing, not per
//!   posting read.
//!
//! A search returns full listings: for each result (up to the query's `limit` posting
//! requests) the posting page is fetched too, since only it holds the description and the
//! seller's reply address. `next_offset` continues where the page (or the limit) stopped.
//!
//! A search page that answered but gave no listing (and does not say "no results"), or
//! fewer than half of those its JSON-LD item list names, comes back with
//! [`SearchPage::degraded`](super::SearchPage::degraded) set: the layout changed, and the
//! Researcher raises it as an incident.
//!
//! Prices are written by people ([`parse_price`]): `"$1,200"`, `"$1.2k"`, `"$500 OBO"` are
//! prices; `"free"` is $0 and kept (free things are real finds); `"OBO"` alone, `"call"` or no
//! price at all skips the listing; anything above [`MAX_SANE_PRICE_MAJOR`](super::MAX_SANE_PRICE_MAJOR) dollars is absurd
//! and skipped. A posting without a reply address keeps `craigslist:<post id>` as its seller.
//!
//! A login wall or CAPTCHA (on a page that lacks the content it should have, or behind a
//! redirect to a login URL) pauses the host through its [`PoliteGate`]; redirects are
//! followed only on the same host.

use std::collections::HashSet;

use bazaar_memory::{
    Condition, Currency, ListingId, MarketListing, Marketplace, Money, MoneyError, SellerRef,
    SharedClock,
};
use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Node, Selector};

use super::polite::{
    detect_block, looks_like_login_url, retry_after, Outcome, PoliteConfig, PoliteGate,
};
use super::{
    check_price, shorten, skip, SearchPage, SearchQuery, SortOrder, Source, SourceAlert,
    SourceError, SourceFuture,
};

/// The most of one page read; a bigger page is malformed.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Normalized categories and Craigslist's search and "by owner" posting codes.
const CATEGORIES: &[(&str, &str, &str)] = &[
    ("furniture", "fua", "fuo"),
    ("housing", "apa", "apa"),
    ("bike", "bia", "bik"),
    ("car", "cta", "cto"),
    ("electronics", "ela", "ele"),
    ("phone", "moa", "mob"),
];

/// Where the site is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CraigslistSettings {
    /// The site's root (`https://sfbay.craigslist.org`; the simulator's URL in tests).
    pub base_url: String,
    /// The sub-area used to build a posting URL from a bare post id (`sfo`); the site
    /// redirects it to the canonical path.
    pub area: String,
    /// Postings fetched per search call when the query sets no limit.
    pub postings_per_search: u32,
}

impl CraigslistSettings {
    /// Settings for the site at `base_url`.
    pub fn new(base_url: impl Into<String>) -> CraigslistSettings {
        CraigslistSettings {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            area: "sfo".into(),
            postings_per_search: 25,
        }
    }
}

/// Why a written price is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceProblem {
    /// No price at all (or only "OBO", "negotiable").
    #[error("no price")]
    Missing,
    /// Words where a number should be.
    #[error("price {0:?} is not a number")]
    NotANumber(String),
    /// Less than nothing.
    #[error("negative price {0:?}")]
    Negative(String),
    /// More than any real listing asks.
    #[error("absurd price {0:?}")]
    Absurd(String),
}

/// Reads a price as people write it on classifieds (dollars):
/// `"$1,200"`, `"1200"`, `"$12.50"`, `"$1.2k"`, `"$500 OBO"`, `"free"` ($0). Fails on no price,
/// words, negatives and amounts above [`MAX_SANE_PRICE_MAJOR`](super::MAX_SANE_PRICE_MAJOR).
pub fn parse_price(text: &str) -> Result<Money, PriceProblem> {
    let lower = text.trim().to_lowercase();
    if lower.is_empty() {
        return Err(PriceProblem::Missing);
    }
    let Some(start) = lower.find(|c: char| c.is_ascii_digit()) else {
        if lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "free")
        {
            return Ok(Money::zero(Currency::Usd));
        }
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let only_terms = !words.is_empty()
            && words.iter().all(|w| {
                [
                    "obo",
                    "ono",
                    "or",
                    "best",
                    "offer",
                    "neg",
                    "negotiable",
                    "firm",
                ]
                .contains(w)
            });
        if only_terms || lower.chars().all(|c| !c.is_alphanumeric()) {
            return Err(PriceProblem::Missing);
        }
        return Err(PriceProblem::NotANumber(text.trim().to_string()));
    };
    let before = lower[..start].trim_end_matches(['$', ' ', 'u', 's', 'd']);
    if before.ends_with('-') {
        return Err(PriceProblem::Negative(text.trim().to_string()));
    }
    let rest = &lower[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(rest.len());
    let number = rest[..end].trim_end_matches(['.', ',']);
    // Letters glued to the number are a unit or terms ("1.2k", "500obo"), or they make it
    // something else ("1e9", "12x").
    let glued: String = rest[end..]
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect();
    let known = [
        "k", "m", "obo", "ono", "firm", "neg", "or", "usd", "dollars", "each", "ea",
    ];
    if !glued.is_empty() && !known.contains(&glued.as_str()) {
        return Err(PriceProblem::NotANumber(text.trim().to_string()));
    }
    let after = rest[end..].trim_start();
    let multiplier: i64 = match after.chars().next() {
        Some('k') if !after[1..].starts_with(|c: char| c.is_alphabetic()) => 1_000,
        Some('m') if !after[1..].starts_with(|c: char| c.is_alphabetic()) => 1_000_000,
        _ => 1,
    };
    let base = match Money::from_decimal_str(number, Currency::Usd) {
        Ok(base) => base,
        Err(MoneyError::Overflow) => return Err(PriceProblem::Absurd(text.trim().to_string())),
        Err(_) => return Err(PriceProblem::NotANumber(text.trim().to_string())),
    };
    let price = base
        .checked_mul(multiplier)
        .map_err(|_| PriceProblem::Absurd(text.trim().to_string()))?;
    check_price(price).map_err(|_| PriceProblem::Absurd(text.trim().to_string()))
}

/// What the page should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageKind {
    Search,
    Posting,
    /// The reply options behind a posting's reply button.
    Reply,
}

impl PageKind {
    /// Elements only a real page of this kind has.
    fn content_css(self) -> &'static str {
        match self {
            PageKind::Search => {
                "ol.cl-static-search-results, .cl-search-noresults, span.totalcount"
            }
            PageKind::Posting => "#titletextonly, #postingbody, .postingtitletext",
            // A reply page's captcha is the posting's, not a wall in front of the site.
            PageKind::Reply => ".reply-info, .reply-email-address, .reply-options",
        }
    }
}

/// A page as fetched: where it ended up and what it said.
#[derive(Debug, Clone)]
struct Page {
    url: String,
    body: String,
}

/// A selector from a literal in this file (each is covered by the tests, so a typo fails
/// them rather than a user's run).
fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css:?}: {e}"))
}

fn text_of(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of a search page.
#[derive(Debug, Clone)]
struct Row {
    pid: String,
    url: String,
    price: Option<String>,
    title: Option<String>,
    location: Option<String>,
}

struct ParsedSearch {
    rows: Vec<Result<Row, (Option<String>, String)>>,
    total: Option<u64>,
    has_next: bool,
    /// The page says it found nothing.
    no_results: bool,
    /// Items the page's JSON-LD item list names.
    named: Option<usize>,
}

/// How many items the page's JSON-LD result list (`script#ld_searchpage_results`) names.
fn named_in_json_ld(doc: &Html) -> Option<usize> {
    let script = doc.select(&sel("script#ld_searchpage_results")).next()?;
    let data: serde_json::Value = serde_json::from_str(&script.text().collect::<String>()).ok()?;
    data["itemListElement"].as_array().map(Vec::len)
}

fn parse_search(page: &Page) -> Result<ParsedSearch, SourceError> {
    let doc = Html::parse_document(&page.body);
    // 2026: `ol.cl-static-search-results`; 2018: `ul.rows` (real pages have both).
    let list = doc
        .select(&sel("ol.cl-static-search-results, ul.rows"))
        .next();
    let no_results = doc
        .select(&sel(".cl-search-noresults, .noresults"))
        .next()
        .is_some();
    let total = doc
        .select(&sel("span.totalcount"))
        .next()
        .and_then(|e| text_of(e).replace(',', "").parse::<u64>().ok());
    let named = named_in_json_ld(&doc);
    let Some(list) = list else {
        if no_results {
            return Ok(ParsedSearch {
                rows: Vec::new(),
                total: Some(0),
                has_next: false,
                no_results,
                named,
            });
        }
        return Err(SourceError::Malformed(format!(
            "{}: no result list on the search page",
            page.url
        )));
    };
    let base = reqwest::Url::parse(&page.url).ok();
    let rows = list
        .select(&sel("li.cl-static-search-result, li.result-row"))
        .map(|li| {
            let href = li
                .select(&sel("a[href]"))
                .next()
                .and_then(|a| a.attr("href"));
            // Real 2026 rows carry no `data-pid`: the id is in the link (`…/7936415355.html`,
            // or the token of the newest `/view/d/<slug>/<token>` links).
            let data_pid = li.attr("data-pid").map(str::trim).filter(|p| !p.is_empty());
            if let Some(pid) = data_pid.filter(|p| !p.chars().all(|c| c.is_ascii_digit())) {
                return Err((
                    Some(pid.to_string()),
                    format!("post id {pid:?} is not a number"),
                ));
            }
            let pid = data_pid
                .map(str::to_string)
                .or_else(|| href.and_then(post_id_of_link));
            let Some(pid) = pid else {
                return Err((None, "result row without a post id".to_string()));
            };
            let pid = pid.as_str();
            let url = href
                .and_then(|h| base.as_ref()?.join(h).ok())
                .map(|u| u.to_string());
            let Some(url) = url else {
                return Err((
                    Some(pid.to_string()),
                    "result row without a link".to_string(),
                ));
            };
            let price = li
                .select(&sel(".price, .result-price"))
                .next()
                .map(text_of)
                .filter(|p| !p.is_empty());
            let title = li
                .attr("title")
                .map(str::to_string)
                .or_else(|| li.select(&sel(".title, .result-title")).next().map(text_of))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty());
            let location = li
                .select(&sel(".location, .result-hood"))
                .next()
                .map(text_of)
                .map(|l| {
                    l.trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .trim()
                        .to_string()
                })
                .filter(|l| !l.is_empty());
            Ok(Row {
                pid: pid.to_string(),
                url,
                price,
                title,
                location,
            })
        })
        .collect();
    let has_next = doc
        .select(&sel(".paginator a.button.next, a.next"))
        .next()
        .is_some();
    Ok(ParsedSearch {
        rows,
        total,
        has_next,
        no_results,
        named,
    })
}

/// Whether a search page that parsed was read as well as it should be (see
/// [`Degradation`](super::Degradation)).
fn degradation(parsed: &ParsedSearch, url: &str) -> Option<super::Degradation> {
    let read = parsed.rows.iter().filter(|row| row.is_ok()).count();
    let too_few = read == 0 || parsed.named.is_some_and(|named| read * 2 < named);
    if parsed.no_results || !too_few {
        return None;
    }
    tracing::warn!(marketplace = "craigslist", %url, read, expected = ?parsed.named, "search page read short");
    Some(super::Degradation {
        marketplace: Marketplace::Craigslist,
        url: url.to_string(),
        read,
        expected: parsed.named,
    })
}

/// A search page with no result list at all (nor a "no results"): nothing read, degraded.
fn unreadable_search(page: &Page, reason: &str) -> SearchPage {
    tracing::warn!(marketplace = "craigslist", url = %page.url, %reason, "search page unreadable");
    let doc = Html::parse_document(&page.body);
    SearchPage {
        degraded: Some(super::Degradation {
            marketplace: Marketplace::Craigslist,
            url: page.url.clone(),
            read: 0,
            expected: named_in_json_ld(&doc),
        }),
        ..SearchPage::default()
    }
}

/// The post id a posting link names: the number of `…/d/<slug>/7936415355.html`, or the
/// token of `…/view/d/<slug>/<token>`.
fn post_id_of_link(href: &str) -> Option<String> {
    let path = href.split(['?', '#']).next()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let id = last.strip_suffix(".html").unwrap_or(last);
    let plausible = id.len() >= 6 && id.chars().all(|c| c.is_ascii_alphanumeric());
    let posting = path.contains("/d/") || last.ends_with(".html");
    (plausible && posting).then(|| id.to_string())
}

/// The text of `#postingbody` without the QR-code block, `<br>` as line breaks.
fn posting_body(body: ElementRef<'_>) -> String {
    fn walk(element: ElementRef<'_>, out: &mut String) {
        for child in element.children() {
            // Newlines in the source are formatting (a browser shows them as spaces); only
            // `<br>` and blocks break lines.
            if let Node::Text(text) = child.value() {
                out.push_str(&text.replace(['\n', '\r'], " "));
                continue;
            }
            let Some(child) = ElementRef::wrap(child) else {
                continue;
            };
            let el = child.value();
            if el.name() == "br" {
                out.push('\n');
                continue;
            }
            if el
                .classes()
                .any(|c| c == "print-information" || c == "print-qrcode-container")
            {
                continue;
            }
            walk(child, out);
            if matches!(el.name(), "p" | "div" | "li") {
                out.push('\n');
            }
        }
    }
    let mut out = String::new();
    walk(body, &mut out);
    out.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn category_from_url(url: &str) -> Option<&'static str> {
    let path = reqwest::Url::parse(url).ok()?.path().to_string();
    let code = path
        .split('/')
        .filter(|s| !s.is_empty())
        .nth(1)?
        .to_string();
    CATEGORIES
        .iter()
        .find(|(_, search, posting)| *search == code || *posting == code)
        .map(|(name, _, _)| *name)
}

fn condition_from_text(text: &str) -> Condition {
    match text.trim().to_lowercase().as_str() {
        "new" => Condition::New,
        "like new" | "excellent" => Condition::LikeNew,
        "good" => Condition::Good,
        "fair" => Condition::Fair,
        "salvage" | "for parts" => Condition::ForParts,
        _ => Condition::Unknown,
    }
}

/// One row of a search-results page, as the connector reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SearchRow {
    /// The post id (a number, or the token of a `/view/d/` link).
    pub external_id: String,
    /// The posting's URL.
    pub url: String,
    /// The price as the row shows it (`$1,325`).
    pub price: Option<String>,
    /// The row's title.
    pub title: Option<String>,
    /// The neighbourhood or town the row names.
    pub location: Option<String>,
}

/// A saved page as the connector reads it: a posting page (it has a posting title) becomes
/// the listing, or why not; a search page becomes its rows, each read or refused with the
/// reason. An unreadable search page is an error.
pub fn read_page(url: &str, html: &str, now: DateTime<Utc>) -> Result<ReadPage, SourceError> {
    let doc = Html::parse_document(html);
    // A saved page (a `file://` URL) is where the site served it: its canonical link, so
    // links and the listing's URL resolve as on the site.
    let served = url.starts_with("http://") || url.starts_with("https://");
    let page = Page {
        url: if served {
            url.to_string()
        } else {
            canonical_url(&doc, url)
        },
        body: html.to_string(),
    };
    let posting = doc.select(&sel("#titletextonly")).next().is_some();
    if posting {
        return Ok(ReadPage::Posting(Box::new(parse_posting(
            &page, None, None, now,
        ))));
    }
    let parsed = parse_search(&page)?;
    let rows = parsed
        .rows
        .into_iter()
        .map(|row| {
            row.map(|row| SearchRow {
                external_id: row.pid,
                url: row.url,
                price: row.price,
                title: row.title,
                location: row.location,
            })
            .map_err(|(id, why)| match id {
                Some(id) => format!("row {id}: {why}"),
                None => why,
            })
        })
        .collect();
    Ok(ReadPage::Search(rows))
}

/// What [`read_page`] found.
#[derive(Debug)]
pub enum ReadPage {
    /// A posting page: the listing, or why it is not one.
    Posting(Box<Result<MarketListing, String>>),
    /// A search page: its rows, each read or refused.
    Search(Vec<Result<SearchRow, String>>),
}

/// What the connector makes of one search-results page and one posting page, without a
/// server: the rows it found (listings or reasons to skip) and the posting as a listing, or
/// why not. The fuzz targets drive it; any input gives an answer, never a panic.
pub fn read_pages(
    url: &str,
    search_html: &str,
    posting_html: &str,
    now: DateTime<Utc>,
) -> (Result<usize, SourceError>, Result<MarketListing, String>) {
    let page = |body: &str| Page {
        url: url.to_string(),
        body: body.to_string(),
    };
    let rows = parse_search(&page(search_html)).map(|parsed| parsed.rows.len());
    let posting = parse_posting(&page(posting_html), None, None, now);
    (rows, posting)
}

/// A posting page as a listing, or why it cannot be one.
fn parse_posting(
    page: &Page,
    fallback_price: Option<&str>,
    asked_category: Option<&str>,
    now: DateTime<Utc>,
) -> Result<MarketListing, String> {
    let doc = Html::parse_document(&page.body);
    let title = doc
        .select(&sel("#titletextonly"))
        .next()
        .map(text_of)
        .filter(|t| !t.is_empty())
        .ok_or("posting has no title")?;
    let post_id = doc
        .select(&sel("p.postinginfo"))
        .map(text_of)
        .find_map(|t| t.strip_prefix("post id:").map(|id| id.trim().to_string()))
        .or_else(|| {
            let file = page.url.rsplit('/').next()?.split(['?', '#']).next()?;
            file.strip_suffix(".html").map(str::to_string)
        })
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .ok_or("posting has no post id")?;
    let price_text = doc
        .select(&sel(".postingtitletext .price, .postingtitle .price"))
        .next()
        .map(text_of)
        .filter(|p| !p.is_empty());
    let price_text = price_text.as_deref().or(fallback_price).unwrap_or("");
    let price = parse_price(price_text).map_err(|p| p.to_string())?;
    let description = doc
        .select(&sel("#postingbody"))
        .next()
        .map(posting_body)
        .unwrap_or_default();
    let location = posting_location(&doc);
    let images = posting_images(&doc, &page.url);
    let reply = reply_address(&doc);
    let contact_url = reply
        .is_none()
        .then(|| reply_page_url(&doc, &page.url))
        .flatten();
    let condition = posting_condition(&doc);
    let listed_at = doc
        .select(&sel("time.date[datetime], .postinginfos time[datetime]"))
        .next()
        .and_then(|t| t.attr("datetime"))
        .and_then(|t| {
            DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z")
                .or_else(|_| DateTime::parse_from_rfc3339(t))
                .ok()
        })
        .map(|t| t.with_timezone(&Utc));
    let url = canonical_url(&doc, &page.url);
    let category = category_from_url(&url)
        .map(str::to_string)
        .or_else(|| asked_category.map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    let (seller_id, display) = match reply {
        Some(address) => (address.clone(), Some(address)),
        None => (format!("craigslist:{post_id}"), None),
    };
    Ok(MarketListing {
        id: ListingId::new_at(now),
        marketplace: Marketplace::Craigslist,
        external_id: post_id,
        url,
        title,
        description,
        price,
        condition,
        category,
        seller: SellerRef {
            external_id: seller_id,
            display_name: display,
            contact_url,
        },
        location,
        images,
        listed_at,
        first_seen: now,
        last_seen: now,
        raw: page.body.clone(),
    })
}

/// Where the item is: the "(Glen Ellyn)" after the title first; then a map address that
/// is text, never a link's ("google map"); then the older title location.
fn posting_location(doc: &Html) -> Option<String> {
    let in_parens = |text: String| {
        let text = text.trim();
        text.strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .map(|t| t.trim().to_string())
    };
    doc.select(&sel(".postingtitletext > span, .postingtitletext > small"))
        .find_map(|e| in_parens(text_of(e)))
        .or_else(|| {
            doc.select(&sel(".mapaddress"))
                .find(|e| e.select(&sel("a")).next().is_none())
                .map(|e| text_of(e).trim().to_string())
        })
        .or_else(|| {
            doc.select(&sel(".postingtitle-location")).next().map(|e| {
                text_of(e)
                    .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace())
                    .to_string()
            })
        })
        .filter(|l| !l.is_empty())
}

/// The posting's photos, as absolute URLs, each once.
fn posting_images(doc: &Html, page_url: &str) -> Vec<String> {
    let base = reqwest::Url::parse(page_url).ok();
    doc.select(&sel("#thumbs a.thumb[href], .gallery img[src]"))
        .filter_map(|e| e.attr("href").or(e.attr("src")))
        .filter_map(|h| base.as_ref()?.join(h).ok())
        .map(|u| u.to_string())
        .fold(Vec::<String>::new(), |mut all, u| {
            if !all.contains(&u) {
                all.push(u);
            }
            all
        })
}

/// The seller's address when the page shows it (older postings did; the reply button
/// hides it on today's).
fn reply_address(doc: &Html) -> Option<String> {
    doc.select(&sel(
        ".reply-email-address a.mailapp, .reply-email-address a[href^=mailto]",
    ))
    .next()
    .and_then(|a| {
        let shown = text_of(a);
        if shown.contains('@') {
            return Some(shown);
        }
        let href = a.attr("href")?.strip_prefix("mailto:")?;
        Some(href.split('?').next()?.to_string())
    })
    .map(|a| a.trim().to_lowercase())
    .filter(|a| a.contains('@'))
}

/// The posting's own address: its canonical link on the same host (a `/view/d/` token link
/// and the posting path are one posting), else where it was fetched.
fn canonical_url(doc: &Html, fetched: &str) -> String {
    let fetched_url = reqwest::Url::parse(fetched).ok();
    doc.select(&sel("link[rel=canonical][href]"))
        .find_map(|l| l.attr("href"))
        .and_then(|href| fetched_url.as_ref()?.join(href).ok())
        .filter(|url| {
            fetched_url.as_ref().is_some_and(|f| {
                f.scheme() == "file" || (f.host_str() == url.host_str() && f.port() == url.port())
            })
        })
        .map(|url| url.to_string())
        .unwrap_or_else(|| fetched.to_string())
}

/// Where the reply button leads: 2026's `button.reply-button[data-href]` without the
/// `/__SERVICE_ID__` its script fills in, or 2018's `a#replylink`; absolute.
fn reply_page_url(doc: &Html, page_url: &str) -> Option<String> {
    let href = doc
        .select(&sel("button.reply-button[data-href]"))
        .find_map(|b| b.attr("data-href"))
        .map(|h| h.trim().trim_end_matches("/__SERVICE_ID__").to_string())
        .or_else(|| {
            doc.select(&sel("a#replylink[href]"))
                .find_map(|a| a.attr("href"))
                .map(|h| h.trim().to_string())
        })?;
    let url = reqwest::Url::parse(page_url).ok()?.join(&href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Why a reply page shows no address to a plain request when its script writes it.
const WRITTEN_BY_SCRIPT: &str = "written by the page's script";

/// What shows when a reply page's script is done: the address, or a captcha.
const REPLY_READY: &str = ".reply-email-address a, .h-captcha, .g-recaptcha";

/// What a reply page gives: the seller's relay address, or why it gives none.
fn read_reply_page(page: &Page) -> Result<String, SourceError> {
    let doc = Html::parse_document(&page.body);
    if let Some(address) = reply_address(&doc) {
        return Ok(address);
    }
    if let Some(phone) = doc.select(&sel("a[href^='tel:']")).next() {
        let shown = text_of(phone).trim().to_string();
        let phone = if shown.is_empty() {
            phone
                .value()
                .attr("href")
                .unwrap_or("")
                .trim_start_matches("tel:")
                .to_string()
        } else {
            shown
        };
        return Err(SourceError::PhoneOnly {
            url: page.url.clone(),
            phone,
        });
    }
    let captcha = doc
        .select(&sel(
            ".h-captcha, .g-recaptcha, [data-sitekey], iframe[src*=captcha]",
        ))
        .next()
        .is_some();
    if captcha {
        return Err(SourceError::ContactHidden {
            url: page.url.clone(),
            why: "behind a captcha".into(),
        });
    }
    // Reply options the page's script writes: only a browser shows them.
    let scripted = doc.select(&sel("noscript, script")).next().is_some();
    if scripted {
        return Err(SourceError::ContactHidden {
            url: page.url.clone(),
            why: WRITTEN_BY_SCRIPT.into(),
        });
    }
    Err(SourceError::Malformed(format!(
        "{}: no reply address on the reply page",
        page.url
    )))
}

/// The condition attribute. 2018: `<span>condition: <b>excellent</b></span>`; 2026: a
/// `.labl` span ("condition:") beside a `.valu` span ("excellent") in one `.attr`.
fn posting_condition(doc: &Html) -> Condition {
    let labelled = doc.select(&sel(".attrgroup .attr")).find_map(|attr| {
        let label = attr.select(&sel(".labl")).next().map(text_of)?;
        if !label.trim().eq_ignore_ascii_case("condition:") {
            return None;
        }
        attr.select(&sel(".valu"))
            .next()
            .map(|v| condition_from_text(text_of(v).trim()))
    });
    labelled
        .or_else(|| {
            doc.select(&sel(".attrgroup span"))
                .map(text_of)
                .find_map(|t| {
                    t.to_lowercase()
                        .strip_prefix("condition:")
                        .map(condition_from_text)
                })
        })
        .unwrap_or(Condition::Unknown)
}

/// The Craigslist-style connector.
pub struct Craigslist {
    settings: CraigslistSettings,
    http: reqwest::Client,
    gate: PoliteGate,
    clock: SharedClock,
    host: String,
    /// A browser for the reply pages whose script writes the address, when one is at hand.
    renderer: Option<std::sync::Arc<dyn super::PageRenderer>>,
}

impl std::fmt::Debug for Craigslist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Craigslist")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Craigslist {
    /// A connector for the site in `settings`, polite by `polite`, timed on `clock`.
    pub fn new(
        settings: CraigslistSettings,
        polite: PoliteConfig,
        clock: SharedClock,
    ) -> Result<Craigslist, SourceError> {
        let base = reqwest::Url::parse(&settings.base_url)
            .map_err(|e| SourceError::Config(format!("base url {:?}: {e}", settings.base_url)))?;
        let host = base.host_str().unwrap_or_default().to_string();
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("too many redirects");
            }
            let same_host = attempt.previous().first().is_some_and(|first| {
                first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if !same_host || looks_like_login_url(attempt.url().as_str()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(bazaar_mail::tls_client_config())
            .redirect(redirects)
            .timeout(polite.timeout)
            .user_agent(concat!(
                "Mozilla/5.0 (compatible; bazaar/",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .map_err(|e| SourceError::Config(format!("http client: {e}")))?;
        Ok(Craigslist {
            gate: PoliteGate::new(Marketplace::Craigslist, host.clone(), clock.clone(), polite),
            settings,
            http,
            clock,
            host,
            renderer: None,
        })
    }

    /// Reads the reply pages whose script writes the address in `renderer` (a browser);
    /// without one they are left to the operator.
    pub fn with_renderer(
        mut self,
        renderer: std::sync::Arc<dyn super::PageRenderer>,
    ) -> Craigslist {
        self.renderer = Some(renderer);
        self
    }

    /// The host's politeness gate.
    pub fn gate(&self) -> &PoliteGate {
        &self.gate
    }

    /// Reads a body up to [`MAX_PAGE_BYTES`].
    async fn read_body(mut response: reqwest::Response) -> Result<String, SourceError> {
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_PAGE_BYTES {
                        return Err(SourceError::Malformed(format!(
                            "page larger than {MAX_PAGE_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(SourceError::Network(error.to_string())),
            }
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// One GET, classified for the retry loop.
    async fn attempt(&self, url: &str, kind: PageKind) -> Outcome<Page> {
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Retry {
                    error: SourceError::Network(error.to_string()),
                    retry_after: None,
                }
            }
        };
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let after = retry_after(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        if (300..400).contains(&status) {
            let target = location.unwrap_or_default();
            if looks_like_login_url(&target) {
                return Outcome::Fail(self.gate.pause(super::BlockKind::LoginWall, &final_url));
            }
            return Outcome::Fail(SourceError::Http {
                status,
                detail: format!("redirected to {target:?} (not followed)"),
            });
        }
        let body = match Craigslist::read_body(response).await {
            Ok(body) => body,
            Err(SourceError::Network(e)) => {
                return Outcome::Retry {
                    error: SourceError::Network(e),
                    retry_after: None,
                }
            }
            Err(error) => return Outcome::Fail(error),
        };
        if status == 401 {
            return Outcome::Fail(self.gate.pause(super::BlockKind::LoginWall, &final_url));
        }
        if !matches!(status, 404 | 410) {
            if let Some(block) = detect_block(&final_url, &body, Some(&sel(kind.content_css()))) {
                return Outcome::Fail(self.gate.pause(block, &final_url));
            }
        }
        match status {
            200..=299 => Outcome::Done(Page {
                url: final_url,
                body,
            }),
            // A posting that is gone was sold or deleted; a search page that is gone is a
            // wrong address (a category or area the site no longer has).
            404 | 410 if kind == PageKind::Search => Outcome::Fail(SourceError::Http {
                status,
                detail: format!(
                    "no search page at {final_url}; check the area and category in the \
                     saved search"
                ),
            }),
            404 | 410 => Outcome::Fail(SourceError::NotFound(final_url)),
            429 => Outcome::Retry {
                error: SourceError::RateLimited { retry_after: after },
                retry_after: after,
            },
            403 | 500..=599 => Outcome::Retry {
                error: SourceError::Http {
                    status,
                    detail: shorten(&body, 120),
                },
                retry_after: after,
            },
            _ => Outcome::Fail(SourceError::Http {
                status,
                detail: shorten(&body, 120),
            }),
        }
    }

    async fn get(&self, what: &str, url: &str, kind: PageKind) -> Result<Page, SourceError> {
        self.gate.run(what, || self.attempt(url, kind)).await
    }

    fn search_url(&self, query: &SearchQuery, offset: u32) -> Result<String, SourceError> {
        let code = match query.category.as_deref() {
            None => "sss",
            Some(name) => CATEGORIES
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, code, _)| *code)
                .ok_or_else(|| {
                    SourceError::Config(format!("craigslist has no category {name:?}"))
                })?,
        };
        let mut url = reqwest::Url::parse(&format!("{}/search/{code}", self.settings.base_url))
            .map_err(|e| SourceError::Config(e.to_string()))?;
        {
            let mut pairs = url.query_pairs_mut();
            if !query.text.trim().is_empty() {
                pairs.append_pair("query", query.text.trim());
            }
            let (min, max) = query.whole_dollar_range();
            if let Some(min) = min {
                pairs.append_pair("min_price", &min.to_string());
            }
            if let Some(max) = max {
                pairs.append_pair("max_price", &max.to_string());
            }
            match query.sort {
                SortOrder::BestMatch => {}
                SortOrder::Newest => {
                    pairs.append_pair("sort", "date");
                }
                SortOrder::PriceAscending => {
                    pairs.append_pair("sort", "priceasc");
                }
                SortOrder::PriceDescending => {
                    pairs.append_pair("sort", "pricedsc");
                }
            }
            if offset > 0 {
                pairs.append_pair("s", &offset.to_string());
            }
        }
        let url = url.to_string();
        Ok(url.strip_suffix('?').unwrap_or(&url).to_string())
    }

    /// One page of search results, each with its posting read.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SourceError> {
        let url = self.search_url(query, query.offset)?;
        let page = self.get("search", &url, PageKind::Search).await?;
        let parsed = match parse_search(&page) {
            Ok(parsed) => parsed,
            // A page that answered with no result list at all: the layout changed.
            Err(SourceError::Malformed(reason)) => return Ok(unreadable_search(&page, &reason)),
            Err(error) => return Err(error),
        };
        let degraded = degradation(&parsed, &url);
        let limit = query
            .limit
            .unwrap_or(self.settings.postings_per_search)
            .max(1) as usize;
        let now = self.clock.now();
        let mut out = SearchPage {
            total: parsed.total,
            degraded,
            ..SearchPage::default()
        };
        let mut seen = HashSet::new();
        let rows_on_page = parsed.rows.len();
        let mut consumed = 0usize;
        // The limit counts posting requests, not listings read: when postings fail to
        // read, a search still stops after `limit` of them.
        let mut fetched = 0usize;
        for row in parsed.rows {
            if fetched >= limit {
                break;
            }
            consumed += 1;
            let row = match row {
                Ok(row) => row,
                Err((id, reason)) => {
                    skip(&mut out.skipped, Marketplace::Craigslist, id, reason);
                    continue;
                }
            };
            if !seen.insert(row.pid.clone()) {
                skip(
                    &mut out.skipped,
                    Marketplace::Craigslist,
                    Some(row.pid),
                    "duplicate in the same page".into(),
                );
                continue;
            }
            match row.price.as_deref().map(parse_price) {
                Some(Err(problem @ (PriceProblem::Absurd(_) | PriceProblem::Negative(_)))) => {
                    skip(
                        &mut out.skipped,
                        Marketplace::Craigslist,
                        Some(row.pid),
                        problem.to_string(),
                    );
                    continue;
                }
                // Read lately at this price: not fetched again, and not counted as a fetch.
                Some(Ok(price)) if query.known.holds(&row.pid, price) => {
                    out.unchanged += 1;
                    continue;
                }
                _ => {}
            }
            fetched += 1;
            let posting = match self.get("posting", &row.url, PageKind::Posting).await {
                Ok(posting) => posting,
                Err(SourceError::NotFound(_)) => {
                    skip(
                        &mut out.skipped,
                        Marketplace::Craigslist,
                        Some(row.pid),
                        "posting deleted or gone".into(),
                    );
                    continue;
                }
                Err(
                    error @ (SourceError::Http { .. }
                    | SourceError::Malformed(_)
                    | SourceError::Network(_)),
                ) => {
                    skip(
                        &mut out.skipped,
                        Marketplace::Craigslist,
                        Some(row.pid),
                        format!("posting unreadable: {error}"),
                    );
                    continue;
                }
                Err(error) => return Err(error),
            };
            match parse_posting(
                &posting,
                row.price.as_deref(),
                query.category.as_deref(),
                now,
            ) {
                Ok(listing) => out.listings.push(listing),
                Err(reason) => skip(
                    &mut out.skipped,
                    Marketplace::Craigslist,
                    Some(row.pid),
                    reason,
                ),
            }
        }
        let offset = query.offset as usize;
        if consumed < rows_on_page || parsed.has_next {
            out.next_offset = u32::try_from(offset + consumed).ok();
        }
        Ok(out)
    }

    fn posting_url(&self, external_id: &str) -> Result<String, SourceError> {
        let id = external_id.trim();
        if id.starts_with("http://") || id.starts_with("https://") {
            let url = reqwest::Url::parse(id).map_err(|e| SourceError::Config(e.to_string()))?;
            if url.host_str() != Some(self.host.as_str()) {
                return Err(SourceError::Config(format!("{id} is not on {}", self.host)));
            }
            return Ok(url.to_string());
        }
        if id.starts_with('/') {
            return Ok(format!("{}{id}", self.settings.base_url));
        }
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SourceError::Config(format!(
                "{id:?} is not a craigslist post id or url"
            )));
        }
        Ok(format!(
            "{}/{}/sss/d/posting/{id}.html",
            self.settings.base_url, self.settings.area
        ))
    }

    /// The seller's relay address from a posting's reply page (the listing's
    /// [`SellerRef::contact_url`]), read over plain HTTP; a captcha on it is
    /// [`SourceError::ContactHidden`] (a person must solve it), and the host is not paused.
    pub async fn reveal_contact(&self, contact_url: &str) -> Result<String, SourceError> {
        let url = reqwest::Url::parse(contact_url)
            .map_err(|e| SourceError::Config(format!("reply page {contact_url:?}: {e}")))?;
        if url.host_str() != Some(self.host.as_str()) {
            return Err(SourceError::Config(format!(
                "reply page {contact_url} is not on {}",
                self.host
            )));
        }
        let page = self
            .get("reply page", url.as_str(), PageKind::Reply)
            .await?;
        let hidden = match read_reply_page(&page) {
            Err(hidden @ SourceError::ContactHidden { .. }) => hidden,
            read => return read,
        };
        let scripted =
            matches!(&hidden, SourceError::ContactHidden { why, .. } if why == WRITTEN_BY_SCRIPT);
        let (Some(renderer), true) = (&self.renderer, scripted) else {
            return Err(hidden);
        };
        // The page's script writes the address: show it in the browser, as politely.
        let rendered = self
            .gate
            .run("reply page in the browser", || async {
                match renderer.render(url.as_str(), REPLY_READY).await {
                    Ok(body) => Outcome::Done(body),
                    Err(error @ SourceError::Network(_)) => Outcome::Retry {
                        error,
                        retry_after: None,
                    },
                    Err(error) => Outcome::Fail(error),
                }
            })
            .await?;
        read_reply_page(&Page {
            url: page.url,
            body: rendered,
        })
    }

    /// One posting by its post id (or URL on this site).
    pub async fn fetch(&self, external_id: &str) -> Result<MarketListing, SourceError> {
        let url = self.posting_url(external_id)?;
        let page = self.get("posting", &url, PageKind::Posting).await?;
        parse_posting(&page, None, None, self.clock.now()).map_err(|reason| {
            tracing::warn!(marketplace = "craigslist", external_id, %reason, "listing skipped");
            SourceError::Malformed(reason)
        })
    }
}

impl Source for Craigslist {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Craigslist
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> SourceFuture<'a, SearchPage> {
        Box::pin(Craigslist::search(self, query))
    }

    fn fetch<'a>(&'a self, external_id: &'a str) -> SourceFuture<'a, MarketListing> {
        Box::pin(Craigslist::fetch(self, external_id))
    }

    fn reveal_contact<'a>(&'a self, contact_url: &'a str) -> SourceFuture<'a, String> {
        Box::pin(Craigslist::reveal_contact(self, contact_url))
    }

    fn take_alerts(&self) -> Vec<SourceAlert> {
        self.gate.take_alerts()
    }

    fn resume(&self) {
        self.gate.resume();
    }

    fn close(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {
            if let Some(renderer) = &self.renderer {
                renderer.close().await;
            }
        })
    }
}
