//! The simulator's product catalog and the listings the sites show.
//!
//! The catalog is `sim/data/catalog.jsonl`: 665 real Craigslist postings from the
//! CraigslistBargain corpus (`{category, title, listing_price, description[]}`, prices in whole
//! US dollars), embedded in the binary so the simulator needs no file at run time.
//! [`ListingGenerator`] turns catalog rows into [`SiteListing`]s: deterministic for a seed and
//! a "now", prices scaled and perturbed, a place from a small list of Bay Area towns (the
//! corpus is from the SF Bay Area), posting times spread over the days before "now".

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use bazaar_memory::Money;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The embedded catalog, one JSON object a line.
pub const CATALOG_JSONL: &str = include_str!("../../data/catalog.jsonl");

/// The mail domain of the simulated sellers' anonymized reply addresses.
pub const REPLY_DOMAIN: &str = "reply.sim.bazaar.test";

/// A catalog category (the corpus has exactly these six).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Furniture.
    Furniture,
    /// Apartments and houses for rent (the price is the monthly rent).
    Housing,
    /// Bicycles.
    Bike,
    /// Cars and trucks.
    Car,
    /// Electronics.
    Electronics,
    /// Cell phones.
    Phone,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 6] = [
        Category::Furniture,
        Category::Housing,
        Category::Bike,
        Category::Car,
        Category::Electronics,
        Category::Phone,
    ];

    /// The catalog's name for it (`"furniture"`, `"bike"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Category::Furniture => "furniture",
            Category::Housing => "housing",
            Category::Bike => "bike",
            Category::Car => "car",
            Category::Electronics => "electronics",
            Category::Phone => "phone",
        }
    }

    /// The category named `name` in the catalog.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Craigslist's search code for the category, all sellers (`/search/fua`).
    pub fn craigslist_search_code(self) -> &'static str {
        match self {
            Category::Furniture => "fua",
            Category::Housing => "apa",
            Category::Bike => "bia",
            Category::Car => "cta",
            Category::Electronics => "ela",
            Category::Phone => "moa",
        }
    }

    /// Craigslist's code in a posting's URL, "by owner" (`/eby/fuo/d/…`).
    pub fn craigslist_posting_code(self) -> &'static str {
        match self {
            Category::Furniture => "fuo",
            Category::Housing => "apa",
            Category::Bike => "bik",
            Category::Car => "cto",
            Category::Electronics => "ele",
            Category::Phone => "mob",
        }
    }

    /// Craigslist's human name of the category.
    pub fn craigslist_label(self) -> &'static str {
        match self {
            Category::Furniture => "furniture",
            Category::Housing => "apartments / housing for rent",
            Category::Bike => "bicycles",
            Category::Car => "cars & trucks",
            Category::Electronics => "electronics",
            Category::Phone => "cell phones",
        }
    }

    /// The Marketplace-style site's category slug (`/marketplace/category/<slug>/`).
    pub fn marketplace_slug(self) -> &'static str {
        match self {
            Category::Furniture => "furniture",
            Category::Housing => "propertyrentals",
            Category::Bike => "bicycles",
            Category::Car => "vehicles",
            Category::Electronics => "electronics",
            Category::Phone => "cell-phones",
        }
    }

    /// The Marketplace-style site's human name of the category.
    pub fn marketplace_label(self) -> &'static str {
        match self {
            Category::Furniture => "Furniture",
            Category::Housing => "Property Rentals",
            Category::Bike => "Bicycles",
            Category::Car => "Vehicles",
            Category::Electronics => "Electronics",
            Category::Phone => "Mobile Phones",
        }
    }

    /// Whether Craigslist files it under housing (`hhh`) rather than for sale (`sss`).
    pub fn is_housing(self) -> bool {
        self == Category::Housing
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One posting of the catalog, as the corpus has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRow {
    /// Its category.
    pub category: Category,
    /// The posting's title.
    pub title: String,
    /// The asking price in whole US dollars.
    pub listing_price: i64,
    /// The description, one string a paragraph.
    pub description: Vec<String>,
}

/// A line of the catalog that is not a catalog row.
#[derive(Debug, thiserror::Error)]
#[error("catalog line {line}: {source}")]
pub struct CatalogError {
    /// The 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    #[source]
    pub source: serde_json::Error,
}

/// Parses catalog-shaped JSON lines (blank lines are skipped).
pub fn parse_catalog(text: &str) -> Result<Vec<CatalogRow>, CatalogError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| CatalogError {
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// The embedded catalog, parsed once.
pub fn catalog() -> &'static [CatalogRow] {
    static CATALOG: OnceLock<Vec<CatalogRow>> = OnceLock::new();
    CATALOG.get_or_init(|| parse_catalog(CATALOG_JSONL).expect("the embedded catalog parses"))
}

/// Which of the two sites shows a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The Craigslist-style static HTML site.
    Craigslist,
    /// The Facebook-Marketplace-style site rendered by JavaScript.
    Marketplace,
}

/// A place sellers post from: a town and the Craigslist sub-area it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The town, as a seller types it ("Oakland").
    pub city: &'static str,
    /// Its state.
    pub state: &'static str,
    /// Craigslist's sub-area code (`sfc`, `eby`, `sby`, `pen`, `nby`).
    pub area: &'static str,
}

/// The towns listings come from.
pub const PLACES: [Place; 10] = [
    Place {
        city: "San Francisco",
        state: "CA",
        area: "sfc",
    },
    Place {
        city: "Oakland",
        state: "CA",
        area: "eby",
    },
    Place {
        city: "Berkeley",
        state: "CA",
        area: "eby",
    },
    Place {
        city: "Walnut Creek",
        state: "CA",
        area: "eby",
    },
    Place {
        city: "Fremont",
        state: "CA",
        area: "eby",
    },
    Place {
        city: "San Jose",
        state: "CA",
        area: "sby",
    },
    Place {
        city: "Mountain View",
        state: "CA",
        area: "sby",
    },
    Place {
        city: "Palo Alto",
        state: "CA",
        area: "pen",
    },
    Place {
        city: "Daly City",
        state: "CA",
        area: "pen",
    },
    Place {
        city: "San Rafael",
        state: "CA",
        area: "nby",
    },
];

/// A listing as one of the sites shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteListing {
    /// Its id on its site: ten digits on Craigslist, fifteen on Marketplace.
    pub id: u64,
    /// The site that shows it.
    pub site: Site,
    pub title: String,
    /// The asking price.
    pub price: Money,
    /// The description; paragraphs are separated by a blank line.
    pub description: String,
    /// Its category.
    pub category: Category,
    /// The town ("Oakland").
    pub location: String,
    /// The state ("CA").
    pub state: String,
    /// Craigslist's sub-area code, part of a posting's URL (`eby`).
    pub area: String,
    /// When it was posted. Listings posted after the site's clock are not shown yet.
    pub posted_at: DateTime<Utc>,
    /// The seller's anonymized reply address (`<hex>@reply.sim.bazaar.test`).
    pub reply_address: String,
    /// Placeholder photos: absolute paths on the sim's host (`/images/<id>/1.svg`).
    pub images: Vec<String>,
    /// The catalog row it was made from, if any (never shown by the sites).
    pub catalog_index: Option<usize>,
}

impl SiteListing {
    /// The price as the sites print it: `$1,200`, or `$12.50` when there are cents.
    pub fn price_text(&self) -> String {
        price_text(self.price)
    }

    /// The Craigslist URL slug: town and title, lowercase words joined by `-`.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        let source = format!("{} {}", self.location, self.title);
        for word in source
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if slug.len() + word.len() + 1 > 80 {
                break;
            }
            if !slug.is_empty() {
                slug.push('-');
            }
            slug.push_str(&word.to_ascii_lowercase());
        }
        if slug.is_empty() {
            slug.push_str("posting");
        }
        slug
    }

    /// The path of its Craigslist posting page: `/<area>/<cat>/d/<slug>/<id>.html`.
    pub fn craigslist_path(&self) -> String {
        format!(
            "/{}/{}/d/{}/{}.html",
            self.area,
            self.category.craigslist_posting_code(),
            self.slug(),
            self.id
        )
    }

    /// The path of its Marketplace item page: `/marketplace/item/<id>/`.
    pub fn marketplace_path(&self) -> String {
        format!("/marketplace/item/{}/", self.id)
    }

    /// The paragraphs of the description.
    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.description
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }
}

/// `$1,200` for whole dollars, `$1,200.50` otherwise.
pub fn price_text(price: Money) -> String {
    let text = price.to_string();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_string(),
        None => text,
    }
}

/// Turns catalog rows into site listings, deterministically for a seed.
#[derive(Debug, Clone)]
pub struct ListingGenerator {
    /// Every random choice comes from this seed.
    pub seed: u64,
    /// The site the listings are for (decides the id format).
    pub site: Site,
    /// How many listings; past the catalog's size (after filtering) rows are reused.
    pub count: usize,
    /// Only these categories (all when empty).
    pub categories: Vec<Category>,
    /// Prices are multiplied by this, in thousandths (1000 = as the catalog has them).
    pub price_factor_permille: i64,
    /// Each price is then moved by a random amount up to this, in thousandths either way.
    pub price_jitter_permille: i64,
    /// Posting times are spread uniformly over this much time before "now".
    pub spread: Duration,
    /// The mail domain of the reply addresses.
    pub reply_domain: String,
    /// At most this many placeholder photos per listing (at least one).
    pub max_images: usize,
}

impl ListingGenerator {
    /// A generator for `site` with `seed`, the whole catalog, prices moved by up to ±15 %,
    /// postings spread over the last seven days.
    pub fn new(seed: u64, site: Site) -> ListingGenerator {
        ListingGenerator {
            seed,
            site,
            count: catalog().len(),
            categories: Vec::new(),
            price_factor_permille: 1000,
            price_jitter_permille: 150,
            spread: Duration::from_secs(7 * 24 * 3600),
            reply_domain: REPLY_DOMAIN.to_string(),
            max_images: 4,
        }
    }

    /// Listings from the embedded catalog, as of `now`.
    pub fn generate(&self, now: DateTime<Utc>) -> Vec<SiteListing> {
        self.generate_from(catalog(), now)
    }

    /// Listings from `rows`, as of `now`: the same seed, rows and `now` give the same
    /// listings. Newest first.
    pub fn generate_from(&self, rows: &[CatalogRow], now: DateTime<Utc>) -> Vec<SiteListing> {
        // One stream per site, so the two sites' listings differ for one seed.
        let salt = match self.site {
            Site::Craigslist => 0x6372_6169_6773_6c69,
            Site::Marketplace => 0x6d61_726b_6574_706c,
        };
        let mut rng = StdRng::seed_from_u64(self.seed ^ salt);
        let eligible: Vec<usize> = (0..rows.len())
            .filter(|&i| self.categories.is_empty() || self.categories.contains(&rows[i].category))
            .collect();
        if eligible.is_empty() {
            return Vec::new();
        }
        // Shuffled rounds through the eligible rows: each row once before any repeats.
        let mut picks = Vec::with_capacity(self.count);
        while picks.len() < self.count {
            let mut round = eligible.clone();
            round.shuffle(&mut rng);
            let take = (self.count - picks.len()).min(round.len());
            picks.extend_from_slice(&round[..take]);
        }
        let spread_secs = i64::try_from(self.spread.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut ids = BTreeSet::new();
        let mut listings: Vec<SiteListing> = picks
            .into_iter()
            .map(|index| {
                let row = &rows[index];
                let id = loop {
                    let id = match self.site {
                        Site::Craigslist => rng.random_range(7_000_000_000..8_000_000_000u64),
                        Site::Marketplace => {
                            rng.random_range(100_000_000_000_000..1_000_000_000_000_000u64)
                        }
                    };
                    if ids.insert(id) {
                        break id;
                    }
                };
                let jitter = if self.price_jitter_permille > 0 {
                    rng.random_range(-self.price_jitter_permille..=self.price_jitter_permille)
                } else {
                    0
                };
                let dollars = self.price(row.listing_price, jitter);
                let place = PLACES[rng.random_range(0..PLACES.len())];
                let age = rng.random_range(0..spread_secs);
                let posted_at = now - chrono::Duration::seconds(age);
                let reply: u128 = rng.random();
                let images = rng.random_range(1..=self.max_images.max(1));
                SiteListing {
                    id,
                    site: self.site,
                    title: row.title.trim().to_string(),
                    price: Money::usd(dollars * 100),
                    description: row.description.join("\n\n"),
                    category: row.category,
                    location: place.city.to_string(),
                    state: place.state.to_string(),
                    area: place.area.to_string(),
                    posted_at,
                    reply_address: format!("{reply:032x}@{}", self.reply_domain),
                    images: (1..=images)
                        .map(|n| format!("/images/{id}/{n}.svg"))
                        .collect(),
                    catalog_index: Some(index),
                }
            })
            .collect();
        listings.sort_by(newest_first);
        listings
    }

    /// The catalog price scaled by the factor and moved by `jitter` thousandths; a moved
    /// price is rounded the way people price things.
    fn price(&self, dollars: i64, jitter: i64) -> i64 {
        let scaled = dollars.saturating_mul(self.price_factor_permille) / 1000;
        let moved = scaled.saturating_mul(1000 + jitter) / 1000;
        if moved == dollars {
            return dollars.max(1);
        }
        let step = match moved {
            ..20 => 1,
            20..200 => 5,
            200..2000 => 10,
            _ => 50,
        };
        (((moved + step / 2) / step) * step).max(1)
    }
}

/// The sites' order: newest posting first, then the higher id.
pub fn newest_first(a: &SiteListing, b: &SiteListing) -> std::cmp::Ordering {
    b.posted_at.cmp(&a.posted_at).then(b.id.cmp(&a.id))
}
