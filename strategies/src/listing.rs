//! Listing copy and prices per selling channel: pure functions from an item's facts.
//!
//! ```
//! use bazaar_model::{Condition, Marketplace, Money};
//! use bazaar_strategies::listing::{draft, ItemFacts};
//! use bazaar_strategies::valuation::ValuationConfig;
//!
//! let facts = ItemFacts {
//!     title: "Bose SoundLink Mini II Bluetooth Speaker, barely used, with charging cradle and the original box",
//!     description: "Works perfectly.",
//!     category: "electronics",
//!     condition: Condition::Good,
//!     images: &[],
//!     attributes: &Default::default(),
//!     cost: Money::usd(40_00),
//!     market_value: Some(Money::usd(95_00)),
//! };
//! let copy = draft(&facts, Marketplace::Ebay, &ValuationConfig::default(), 2_000);
//! assert!(copy.title.chars().count() <= 80);
//! assert!(copy.price >= copy.floor);
//! ```
//!
//! - Titles are cut at a word boundary to the channel's limit (eBay 80, Craigslist 70,
//!   Facebook 100, Poshmark 80, Mercari 80 characters); a single word longer than the limit
//!   is cut mid-word.
//! - Photos are capped per channel (eBay 12, Craigslist 8, Facebook 10, Poshmark 16, Mercari
//!   12).
//! - The price is the channel's expected sale price at the item's market value
//!   ([`crate::valuation::quote`]), never below the floor: the least price that, after the
//!   channel's fees ([`crate::valuation::fee_minor`]) and the postage we pay, returns the
//!   cost and keeps the target margin. Prices end in .99.
//! - Required fields the item lacks are named in [`ListingDraft::missing`]: a native
//!   channel cannot publish without them; an assisted one asks the operator to fill them in.

use std::collections::BTreeMap;

use bazaar_model::{Condition, Marketplace, Money};

use crate::valuation::{fee_minor, quote, share_bp, ListingPrice, ResaleChannel, ValuationConfig};

/// What a channel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRules {
    pub marketplace: Marketplace,
    /// Most characters in a title.
    pub title_max: usize,
    /// Most photos.
    pub images_max: usize,
    /// Whether at least one photo is required.
    pub needs_image: bool,
    /// Whether the condition must be known.
    pub needs_condition: bool,
    /// Attributes the channel requires (`brand` on Poshmark).
    pub required_attributes: &'static [&'static str],
}

/// The rules of `marketplace`.
pub fn rules(marketplace: Marketplace) -> ChannelRules {
    let base = ChannelRules {
        marketplace,
        title_max: 80,
        images_max: 12,
        needs_image: false,
        needs_condition: true,
        required_attributes: &[],
    };
    match marketplace {
        Marketplace::Ebay => base,
        Marketplace::Craigslist => ChannelRules {
            title_max: 70,
            images_max: 8,
            needs_condition: false,
            required_attributes: &["zip", "phone"],
            ..base
        },
        Marketplace::Facebook => ChannelRules {
            title_max: 100,
            images_max: 10,
            needs_image: true,
            ..base
        },
        Marketplace::Poshmark => ChannelRules {
            images_max: 16,
            needs_image: true,
            required_attributes: &["brand"],
            ..base
        },
        Marketplace::Mercari => ChannelRules {
            needs_image: true,
            ..base
        },
    }
}

/// The resale channel whose fee terms apply to selling on `marketplace` (Facebook: shipped).
pub fn resale_channel(marketplace: Marketplace) -> ResaleChannel {
    match marketplace {
        Marketplace::Ebay => ResaleChannel::Ebay,
        Marketplace::Craigslist => ResaleChannel::Craigslist,
        Marketplace::Facebook => ResaleChannel::FacebookShipped,
        Marketplace::Poshmark => ResaleChannel::Poshmark,
        Marketplace::Mercari => ResaleChannel::Mercari,
    }
}

/// `title` cut to at most `max` characters at a word boundary, whitespace collapsed and
/// trailing punctuation dropped; a first word longer than `max` is cut mid-word.
pub fn truncate_title(title: &str, max: usize) -> String {
    let words: Vec<&str> = title.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        let len = out.chars().count();
        let extra = word.chars().count() + usize::from(len > 0);
        if len + extra > max {
            if len == 0 {
                out = word.chars().take(max).collect();
            }
            break;
        }
        if len > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    let trimmed = out.trim_end_matches([',', ';', ':', '-', '/', '|', '&']);
    trimmed.trim_end().to_string()
}

/// The first `max` photos.
pub fn limit_images(images: &[String], max: usize) -> Vec<String> {
    images.iter().take(max).cloned().collect()
}

/// What the copy is written from.
#[derive(Debug, Clone, Copy)]
pub struct ItemFacts<'a> {
    /// The item's title (from the source listing).
    pub title: &'a str,
    /// Its description.
    pub description: &'a str,
    /// Normalized category.
    pub category: &'a str,
    /// Normalized condition.
    pub condition: Condition,
    /// Photo URLs.
    pub images: &'a [String],
    /// Attributes (brand, model …).
    pub attributes: &'a BTreeMap<String, String>,
    /// What the item cost us, all in.
    pub cost: Money,
    /// What it is worth, when a valuation says.
    pub market_value: Option<Money>,
}

/// One channel's listing copy and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingDraft {
    /// The channel.
    pub marketplace: Marketplace,
    /// The title, within the channel's limit.
    pub title: String,
    pub description: String,
    /// Photos, within the channel's limit.
    pub images: Vec<String>,
    pub condition: Condition,
    /// The asking price.
    pub price: Money,
    /// The least price that keeps the target margin after fees and postage.
    pub floor: Money,
    /// The channel's fee at the asking price.
    pub fees: Money,
    /// Postage we pay on a sale.
    pub shipping: Money,
    /// Required fields the item lacks.
    pub missing: Vec<String>,
}

/// Postage we pay selling `category` on `marketplace` (0 for local pickup or buyer-paid
/// labels, or when the category cannot ship).
pub fn shipping_minor(config: &ValuationConfig, marketplace: Marketplace, category: &str) -> i64 {
    let channel = resale_channel(marketplace);
    let Some(terms) = crate::valuation::terms(config, channel) else {
        return config.shipping.parcel_minor(category).unwrap_or(0);
    };
    if terms.local || terms.buyer_pays_shipping {
        return 0;
    }
    config.shipping.parcel_minor(category).unwrap_or(0)
}

/// The channel's fee on a sale of `sale` on `marketplace` (0 when the channel has no terms).
pub fn channel_fee(config: &ValuationConfig, marketplace: Marketplace, sale: Money) -> Money {
    let fee = crate::valuation::terms(config, resale_channel(marketplace))
        .map_or(0, |terms| fee_minor(terms, sale.minor));
    Money::new(fee, sale.currency)
}

/// The least price (in .99) whose proceeds after fees and `shipping` cover `cost` and keep
/// `margin_bp` of the price.
pub fn floor_price(
    config: &ValuationConfig,
    marketplace: Marketplace,
    cost: Money,
    shipping: i64,
    margin_bp: i64,
) -> Money {
    let terms = crate::valuation::terms(config, resale_channel(marketplace));
    let keeps = |price: i64| {
        let fee = terms.map_or(0, |t| fee_minor(t, price));
        let margin = (i128::from(price) * i128::from(margin_bp.max(0)) / 10_000) as i64;
        price
            .saturating_sub(fee)
            .saturating_sub(shipping)
            .saturating_sub(margin)
            >= cost.minor
    };
    // Fees and margin are below 100 % of the price in any sane configuration; the search is
    // bounded either way.
    let (mut low, mut high) = (0i64, cost.minor.max(1).saturating_add(shipping).max(1));
    let mut doublings = 0;
    while !keeps(high) && doublings < 40 {
        high = high.saturating_mul(2);
        doublings += 1;
    }
    while low < high {
        let mid = low + (high - low) / 2;
        if keeps(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    Money::new(end_in_99(high), cost.currency)
}

/// Rounds up to the next price ending in .99 (for currencies with cents).
fn end_in_99(minor: i64) -> i64 {
    if minor <= 99 {
        return 99;
    }
    let dollars = (minor + 1 + 99) / 100;
    dollars * 100 - 1
}

/// The listing copy and price of an item on `marketplace`, keeping `margin_bp` of the
/// price at the floor.
pub fn draft(
    facts: &ItemFacts<'_>,
    marketplace: Marketplace,
    config: &ValuationConfig,
    margin_bp: i64,
) -> ListingDraft {
    let rules = rules(marketplace);
    let shipping = shipping_minor(config, marketplace, facts.category);
    let floor = floor_price(config, marketplace, facts.cost, shipping, margin_bp);
    let quoted = facts
        .market_value
        .and_then(|value| match config.listing_price {
            ListingPrice::MarketValue => Some(value),
            ListingPrice::Quote => {
                let terms = crate::valuation::terms(config, resale_channel(marketplace))?;
                // A local-only category has no shipped quote; listed here it sells by pickup
                // at what it is worth (plus the markup), not at the floor.
                let quoted =
                    quote(terms, config, facts.category, value).map_or(value, |q| q.sale_price);
                let markup = share_bp(quoted.minor, config.listing_markup_bp.max(0));
                Some(Money::new(
                    quoted.minor.saturating_add(markup),
                    quoted.currency,
                ))
            }
        });
    let price = match quoted {
        Some(q) if q.currency == floor.currency && q.minor > floor.minor => {
            Money::new(end_in_99(q.minor), q.currency)
        }
        _ => floor,
    };
    let mut missing = Vec::new();
    if facts.title.trim().is_empty() {
        missing.push("title".to_string());
    }
    if rules.needs_condition && facts.condition == Condition::Unknown {
        missing.push("condition".to_string());
    }
    if rules.needs_image && facts.images.is_empty() {
        missing.push("photo".to_string());
    }
    for attribute in rules.required_attributes {
        if facts
            .attributes
            .get(*attribute)
            .is_none_or(|v| v.trim().is_empty())
        {
            missing.push((*attribute).to_string());
        }
    }
    ListingDraft {
        marketplace,
        title: truncate_title(facts.title, rules.title_max),
        description: facts.description.trim().to_string(),
        images: limit_images(facts.images, rules.images_max),
        condition: facts.condition,
        fees: channel_fee(config, marketplace, price),
        price,
        floor,
        shipping: Money::new(shipping, facts.cost.currency),
        missing,
    }
}

/// eBay's leaf category for a normalized category (`99`, Everything Else, when unknown).
pub fn ebay_category_id(category: &str) -> &'static str {
    match category.to_ascii_lowercase().as_str() {
        "phone" | "phones" => "9355",
        "electronics" => "48647",
        "computer" | "computers" | "laptop" => "177",
        "clothing" => "11450",
        "shoes" => "93427",
        "accessories" => "4251",
        "books" => "261186",
        "toys" => "220",
        "furniture" => "3197",
        "bike" | "bikes" => "7294",
        "appliances" => "20710",
        _ => "99",
    }
}

/// A description in our own words for an item bought second-hand: what it is, its
/// condition and the facts we know of it — never the previous owner's first-person text
/// ("I bought it for my son…"), which would be false in our mouth.
///
/// ```
/// use bazaar_strategies::listing::resale_description;
/// use bazaar_model::Condition;
/// let attributes = [("brand".to_string(), "Sony".to_string()), ("zip".to_string(), "97201".to_string())].into();
/// assert_eq!(
///     resale_description("Sony WH-1000XM4 headphones", Condition::LikeNew, &attributes),
///     "Sony WH-1000XM4 headphones, in like-new condition.\nBrand: Sony\nQuestions welcome."
/// );
/// ```
pub fn resale_description(
    title: &str,
    condition: Condition,
    attributes: &BTreeMap<String, String>,
) -> String {
    /// What buyers are told of; the rest (notes, zip, phone) is the operator's.
    const SHOWN: &[&str] = &[
        "brand", "model", "size", "color", "colour", "year", "material",
    ];
    let condition = match condition {
        Condition::New => Some("new"),
        Condition::LikeNew => Some("like-new"),
        Condition::Good => Some("good"),
        Condition::Fair => Some("fair"),
        Condition::Poor => Some("worn"),
        Condition::ForParts => Some("for-parts"),
        Condition::Unknown => None,
    };
    let mut text = title.trim().trim_end_matches('.').to_string();
    match condition {
        Some(condition) => text.push_str(&format!(", in {condition} condition.")),
        None => text.push('.'),
    }
    for (key, value) in attributes {
        if SHOWN.contains(&key.to_ascii_lowercase().as_str()) && !value.trim().is_empty() {
            let mut label = key.clone();
            if let Some(first) = label.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            text.push_str(&format!("\n{label}: {}", value.trim()));
        }
    }
    text.push_str("\nQuestions welcome.");
    text
}

/// The text an operator pastes into an assisted channel's listing form.
pub fn template(draft: &ListingDraft, sku: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "List on {} (SKU {sku})\n\n",
        draft.marketplace.name()
    ));
    out.push_str(&format!("Title: {}\n", draft.title));
    out.push_str(&format!("Price: {}\n", draft.price));
    out.push_str(&format!("Condition: {}\n", draft.condition.name()));
    if !draft.description.is_empty() {
        out.push_str(&format!("Description:\n{}\n", draft.description));
    }
    if !draft.images.is_empty() {
        out.push_str("Photos:\n");
        for image in &draft.images {
            out.push_str(&format!("  {image}\n"));
        }
    }
    if !draft.missing.is_empty() {
        out.push_str(&format!("Fill in: {}\n", draft.missing.join(", ")));
    }
    out.push_str("\nWhen it is live, confirm the listing's URL.");
    out
}

/// Why a rewrite of listing copy was thrown away (the template's copy is used instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyRejected {
    /// The title is empty.
    EmptyTitle,
    /// The title is over the channel's limit.
    TitleTooLong {
        /// Characters in the rewritten title.
        chars: usize,
        /// The channel's limit.
        max: usize,
    },
    /// A number the original never states (a price, a size, a year, a model number).
    AddsNumber(String),
    /// A condition the original never claims.
    ClaimsCondition(String),
    /// A brand the original never names.
    NamesBrand(String),
    /// A letter size the original never states.
    StatesSize(String),
    /// The item's brand or size is gone.
    Drops(String),
}

impl std::fmt::Display for CopyRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyRejected::EmptyTitle => f.write_str("the title is empty"),
            CopyRejected::TitleTooLong { chars, max } => {
                write!(
                    f,
                    "the title has {chars} characters, over the limit of {max}"
                )
            }
            CopyRejected::AddsNumber(n) => {
                write!(f, "it states {n:?}, which the item's copy does not")
            }
            CopyRejected::ClaimsCondition(c) => {
                write!(f, "it claims {c:?}, which the item's copy does not")
            }
            CopyRejected::NamesBrand(b) => write!(
                f,
                "it names the brand {b:?}, which the item's copy does not"
            ),
            CopyRejected::StatesSize(size) => write!(
                f,
                "it states the size {size:?}, which the item's copy does not"
            ),
            CopyRejected::Drops(fact) => write!(f, "it leaves out {fact:?}"),
        }
    }
}

/// Words and phrases that say what condition an item is in, with the conditions they are
/// true of.
const CONDITION_PHRASES: &[(&str, &[Condition])] = {
    use Condition::*;
    const NEW: &[Condition] = &[New];
    const AS_NEW: &[Condition] = &[New, LikeNew];
    const BROKEN: &[Condition] = &[Poor, ForParts];
    &[
        ("brand new", NEW),
        ("new in box", NEW),
        ("new with tags", NEW),
        ("nwt", NEW),
        ("nib", NEW),
        ("bnib", NEW),
        ("sealed", NEW),
        ("unopened", NEW),
        ("unused", NEW),
        ("never used", NEW),
        ("never worn", NEW),
        ("like new", AS_NEW),
        ("mint", AS_NEW),
        ("pristine", AS_NEW),
        ("flawless", AS_NEW),
        ("perfect condition", AS_NEW),
        ("excellent condition", AS_NEW),
        ("barely used", AS_NEW),
        ("refurbished", &[]),
        ("for parts", BROKEN),
        ("not working", BROKEN),
        ("broken", BROKEN),
        ("as is", BROKEN),
    ]
};

/// Brands a rewrite might swap in; one the original copy never names is a changed fact.
const BRANDS: &[&str] = &[
    "apple",
    "samsung",
    "google",
    "sony",
    "lg",
    "bose",
    "jbl",
    "beats",
    "sennheiser",
    "canon",
    "nikon",
    "fujifilm",
    "panasonic",
    "microsoft",
    "nintendo",
    "dell",
    "hp",
    "lenovo",
    "asus",
    "acer",
    "dyson",
    "kitchenaid",
    "vitamix",
    "trek",
    "specialized",
    "giant",
    "cannondale",
    "schwinn",
    "santa cruz",
    "nike",
    "adidas",
    "jordan",
    "new balance",
    "patagonia",
    "north face",
    "lululemon",
    "levi's",
    "coach",
    "gucci",
    "louis vuitton",
    "prada",
    "ikea",
    "herman miller",
    "west elm",
    "lego",
    "fisher-price",
    "yeti",
    "garmin",
    "fitbit",
    "gopro",
];

/// Letter sizes, whole words.
const SIZE_WORDS: &[&str] = &["xxs", "xs", "xl", "xxl", "xxxl", "small", "medium", "large"];

/// Checks a language model's rewrite (`title`, `description`) of `original` listing copy
/// for an item in `condition` with `attributes`: the title fits the channel; no number,
/// brand or letter size the original copy (title, description, attributes) lacks; no claim
/// about the condition that is neither in the copy nor true of `condition`; the brand and
/// size attributes, when the original mentions them, still there.
///
/// ```
/// use std::collections::BTreeMap;
/// use bazaar_model::{Condition, Marketplace};
/// use bazaar_strategies::listing::{check_copy_rewrite, CopyRejected};
///
/// let attributes = BTreeMap::from([("brand".to_string(), "Trek".to_string())]);
/// let original = ("Trek FX 3 hybrid bike, 54cm", "Rides well.");
/// let ok = check_copy_rewrite(Marketplace::Ebay, original, Condition::Good, &attributes, ("Trek FX 3 Hybrid Bike 54cm", "Rides well. Good condition for its age."));
/// assert_eq!(ok, Ok(()));
/// let bigger = check_copy_rewrite(Marketplace::Ebay, original, Condition::Good, &attributes, ("Trek FX 3 hybrid bike, 56cm", "Rides well."));
/// assert_eq!(bigger, Err(CopyRejected::AddsNumber("56".into())));
/// ```
pub fn check_copy_rewrite(
    marketplace: Marketplace,
    original: (&str, &str),
    condition: Condition,
    attributes: &BTreeMap<String, String>,
    rewrite: (&str, &str),
) -> Result<(), CopyRejected> {
    let (title, description) = (rewrite.0.trim(), rewrite.1.trim());
    if title.is_empty() {
        return Err(CopyRejected::EmptyTitle);
    }
    let max = rules(marketplace).title_max;
    let chars = title.chars().count();
    if chars > max {
        return Err(CopyRejected::TitleTooLong { chars, max });
    }
    let mut before = format!("{} \n {}", original.0, original.1);
    for value in attributes.values() {
        before.push_str(" \n ");
        before.push_str(value);
    }
    let before = before.to_lowercase();
    let after = format!("{title} \n {description}").to_lowercase();
    let known_numbers = number_tokens(&before);
    if let Some(number) = number_tokens(&after)
        .into_iter()
        .find(|n| !known_numbers.contains(n))
    {
        return Err(CopyRejected::AddsNumber(number));
    }
    let has = |text: &str, phrase: &str| contains_words(text, phrase);
    if let Some((phrase, _)) = CONDITION_PHRASES.iter().find(|(phrase, true_of)| {
        has(&after, phrase) && !has(&before, phrase) && !true_of.contains(&condition)
    }) {
        return Err(CopyRejected::ClaimsCondition(phrase.to_string()));
    }
    if let Some(brand) = BRANDS.iter().find(|b| has(&after, b) && !has(&before, b)) {
        return Err(CopyRejected::NamesBrand(brand.to_string()));
    }
    if let Some(size) = SIZE_WORDS
        .iter()
        .find(|s| has(&after, s) && !has(&before, s))
    {
        return Err(CopyRejected::StatesSize(size.to_string()));
    }
    let original_copy = format!("{} \n {}", original.0, original.1).to_lowercase();
    for key in ["brand", "size"] {
        let Some(value) = attributes.get(key).map(|v| v.trim().to_lowercase()) else {
            continue;
        };
        if !value.is_empty() && has(&original_copy, &value) && !has(&after, &value) {
            return Err(CopyRejected::Drops(value));
        }
    }
    Ok(())
}

/// The numbers in `text` as written, without thousands separators (`1,200` → `1200`).
fn number_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            current.push(c);
            continue;
        }
        let continues = chars.peek().is_some_and(|n| n.is_ascii_digit());
        if c == ',' && !current.is_empty() && continues {
            continue;
        }
        if c == '.' && !current.is_empty() && continues {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether `phrase` occurs in `text` (both lowercase) with no letter or digit on either side.
fn contains_words(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents
mod tests {
    use super::*;

    #[test]
    fn titles_are_cut_at_word_boundaries_within_each_channel_limit() {
        let title = "Apple iPhone 12 Pro Max 256GB Pacific Blue Unlocked - excellent condition, with original box, charger and two cases";
        for marketplace in Marketplace::ALL {
            let max = rules(marketplace).title_max;
            let cut = truncate_title(title, max);
            assert!(cut.chars().count() <= max, "{marketplace}: {cut}");
            assert!(title.starts_with(&cut), "{marketplace}: {cut}");
            let next = title[cut.len()..].chars().next();
            assert!(
                next.is_none_or(|c| c.is_whitespace() || c == ','),
                "{marketplace}: {cut}"
            );
        }
        assert_eq!(truncate_title("short  title ", 80), "short title");
        assert_eq!(truncate_title("Speaker, with box", 9), "Speaker");
        assert_eq!(truncate_title("Supercalifragilistic", 5), "Super");
        assert_eq!(rules(Marketplace::Craigslist).title_max, 70);
        assert_eq!(rules(Marketplace::Facebook).title_max, 100);
    }

    /// One rewrite of the same Trek listing (brand and size attributes set) and how the
    /// check judges it.
    fn check(rewrite: (&str, &str), expected: Result<(), CopyRejected>) {
        let attributes: BTreeMap<String, String> = [
            ("brand".to_string(), "Trek".to_string()),
            ("size".to_string(), "Medium".to_string()),
            ("zip".to_string(), "97201".to_string()),
        ]
        .into();
        let original = (
            "Trek FX 3 Disc hybrid bike, medium 54cm frame, 1,200 miles",
            "Good condition. Shimano 2x10 drivetrain, tuned in 2024.",
        );
        assert_eq!(
            check_copy_rewrite(
                Marketplace::Craigslist,
                original,
                Condition::Good,
                &attributes,
                rewrite
            ),
            expected,
            "{rewrite:?}"
        );
    }

    #[test]
    fn a_copy_rewrite_is_kept_only_when_it_keeps_the_facts() {
        use CopyRejected::*;
        let description = "Good condition. Shimano 2x10 drivetrain, tuned in 2024.";
        check(
            (
                "Trek FX 3 Disc Hybrid Bike - Medium 54cm, 1200 mi",
                description,
            ),
            Ok(()),
        );
        check(
            (
                "Medium Trek FX 3 Disc, 54cm",
                "Shimano 2x10. Tuned 2024; 1,200 miles. Pickup in 97201.",
            ),
            Ok(()),
        );
        check((" ", description), Err(EmptyTitle));
        check(
            ("Trek FX 3 Disc hybrid bike, medium 54cm frame, 1,200 miles, Shimano 2x10, tuned 2024", description),
            Err(TitleTooLong { chars: 84, max: 70 }),
        );
        check(
            ("Trek FX 3 Disc, medium 56cm", description),
            Err(AddsNumber("56".into())),
        );
        check(
            ("Trek FX 3 Disc, medium 54cm - $350", description),
            Err(AddsNumber("350".into())),
        );
        check(
            ("Trek FX 3 Disc, medium 54cm", "Tuned in 2025."),
            Err(AddsNumber("2025".into())),
        );
        check(
            ("Like new Trek FX 3 Disc, medium 54cm", description),
            Err(ClaimsCondition("like new".into())),
        );
        check(
            ("Trek FX 3 Disc, medium 54cm", "Mint. Shimano 2x10."),
            Err(ClaimsCondition("mint".into())),
        );
        check(
            ("Specialized FX 3 Disc, medium 54cm", description),
            Err(NamesBrand("specialized".into())),
        );
        check(
            ("FX 3 Disc hybrid, medium 54cm", description),
            Err(Drops("trek".into())),
        );
        check(
            ("Trek FX 3 Disc, 54cm", description),
            Err(Drops("medium".into())),
        );
        check(
            ("Trek FX 3 Disc, XL 54cm", "medium"),
            Err(StatesSize("xl".into())),
        );
        // A claim true of the item's condition is no new fact.
        let like_new = check_copy_rewrite(
            Marketplace::Ebay,
            ("Trek FX 3", ""),
            Condition::LikeNew,
            &BTreeMap::new(),
            ("Trek FX 3 - like new", "Mint."),
        );
        assert_eq!(like_new, Ok(()));
        // Words inside other words are not claims: "mint" in "minty", "new" alone is no condition.
        check(
            (
                "Trek FX 3 Disc, medium 54cm, minty green",
                "New tyres. Shimano 2x10.",
            ),
            Ok(()),
        );
    }

    #[test]
    fn images_are_capped_per_channel() {
        let images: Vec<String> = (0..20).map(|i| format!("http://x/{i}.jpg")).collect();
        assert_eq!(
            limit_images(&images, rules(Marketplace::Ebay).images_max).len(),
            12
        );
        assert_eq!(
            limit_images(&images, rules(Marketplace::Craigslist).images_max).len(),
            8
        );
        assert_eq!(
            limit_images(&images, rules(Marketplace::Facebook).images_max).len(),
            10
        );
        assert_eq!(limit_images(&images[..3], 12).len(), 3);
    }

    fn facts<'a>(attributes: &'a BTreeMap<String, String>, images: &'a [String]) -> ItemFacts<'a> {
        ItemFacts {
            title: "Bose SoundLink Mini II",
            description: "Works.",
            category: "clothing",
            condition: Condition::Good,
            images,
            attributes,
            cost: Money::usd(40_00),
            market_value: None,
        }
    }

    #[test]
    fn the_floor_keeps_the_margin_after_fees_and_postage_on_every_channel() {
        let config = ValuationConfig::default();
        for marketplace in Marketplace::ALL {
            let shipping = shipping_minor(&config, marketplace, "clothing");
            let floor = floor_price(&config, marketplace, Money::usd(40_00), shipping, 2_000);
            let fee = channel_fee(&config, marketplace, floor).minor;
            let kept = floor.minor - fee - shipping - floor.minor * 2_000 / 10_000;
            assert!(kept >= 40_00, "{marketplace}: floor {floor} keeps {kept}");
            assert_eq!(floor.minor % 100, 99, "{marketplace}: {floor}");
            // One dollar less would not keep it.
            let lower = floor.minor - 100;
            let fee = channel_fee(&config, marketplace, Money::usd(lower)).minor;
            assert!(
                lower - fee - shipping - lower * 2_000 / 10_000 < 40_00,
                "{marketplace}"
            );
        }
        // Fees differ, so prices do.
        let ebay = floor_price(&config, Marketplace::Ebay, Money::usd(40_00), 8_00, 2_000);
        let craigslist = floor_price(
            &config,
            Marketplace::Craigslist,
            Money::usd(40_00),
            0,
            2_000,
        );
        assert!(ebay > craigslist, "{ebay} vs {craigslist}");
    }

    #[test]
    fn the_price_follows_the_market_value_but_never_goes_below_the_floor() {
        let config = ValuationConfig::default();
        let attributes = BTreeMap::new();
        let mut item = facts(&attributes, &[]);
        let cheap = draft(&item, Marketplace::Ebay, &config, 2_000);
        assert_eq!(cheap.price, cheap.floor);
        item.market_value = Some(Money::usd(150_00));
        let rich = draft(&item, Marketplace::Ebay, &config, 2_000);
        // The quote plus the 20 % markup, in .99.
        assert_eq!(rich.price, Money::usd(180_99));
        assert!(rich.price > rich.floor);
        let unmarked = ValuationConfig {
            listing_markup_bp: 0,
            ..config.clone()
        };
        assert_eq!(
            draft(&item, Marketplace::Ebay, &unmarked, 2_000).price,
            Money::usd(150_99)
        );
        assert_eq!(
            rich.fees,
            channel_fee(&config, Marketplace::Ebay, rich.price)
        );
        item.market_value = Some(Money::usd(10_00));
        assert_eq!(
            draft(&item, Marketplace::Ebay, &config, 2_000).price,
            cheap.floor
        );
        // Furniture ships nowhere (local pickup): listed on eBay it still asks its worth.
        let furniture = ItemFacts {
            category: "furniture",
            market_value: Some(Money::usd(484_13)),
            cost: Money::usd(270_00),
            ..item
        };
        let sofa = draft(&furniture, Marketplace::Ebay, &config, 2_000);
        assert_eq!(sofa.price, Money::usd(580_99));
        assert!(sofa.floor < sofa.price, "{} vs {}", sofa.floor, sofa.price);
    }

    #[test]
    fn missing_required_fields_are_named() {
        let config = ValuationConfig::default();
        let attributes = BTreeMap::new();
        let item = facts(&attributes, &[]);
        assert!(draft(&item, Marketplace::Ebay, &config, 2_000)
            .missing
            .is_empty());
        assert_eq!(
            draft(&item, Marketplace::Poshmark, &config, 2_000).missing,
            ["photo", "brand"]
        );
        let attributes: BTreeMap<String, String> =
            [("brand".to_string(), "Bose".to_string())].into();
        let images = ["http://x/1.jpg".to_string()];
        let mut item = facts(&attributes, &images);
        assert!(draft(&item, Marketplace::Poshmark, &config, 2_000)
            .missing
            .is_empty());
        item.condition = Condition::Unknown;
        assert_eq!(
            draft(&item, Marketplace::Ebay, &config, 2_000).missing,
            ["condition"]
        );
        // Craigslist does not ask for a condition, but for a ZIP code and a phone number.
        assert_eq!(
            draft(&item, Marketplace::Craigslist, &config, 2_000).missing,
            ["zip", "phone"]
        );
    }

    #[test]
    fn the_template_holds_everything_the_operator_pastes() {
        let config = ValuationConfig::default();
        let attributes = BTreeMap::new();
        let images = ["http://x/1.jpg".to_string()];
        let copy = draft(
            &facts(&attributes, &images),
            Marketplace::Poshmark,
            &config,
            2_000,
        );
        let text = template(&copy, "SKU1");
        for needle in [
            "poshmark",
            "SKU1",
            "Bose SoundLink Mini II",
            "http://x/1.jpg",
            "Fill in: brand",
            "URL",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        assert!(text.contains(&copy.price.to_string()));
    }
}
