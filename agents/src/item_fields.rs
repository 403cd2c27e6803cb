//! What an operator may write on an item — a new one (`NewItem`) or an edit ([`ItemEdit`]) —
//! checked one way for both. Pure: every problem is collected, so the operator fixes them
//! all in one go.

use std::collections::BTreeMap;

use bazaar_memory::{Condition, InventoryItem, ItemStatus, Money};
use serde::{Deserialize, Serialize};

/// The most photos an item keeps (eBay's limit is the highest of the channels').
pub const MAX_PHOTOS: usize = 24;
/// The most a hand-added item may cost or be priced at, in cents: $1,000,000.
const MAX_AMOUNT_MINOR: i64 = 100_000_000;
/// The attribute an item's notes are kept under.
pub const NOTES: &str = "notes";

/// An amount in dollars (`"40"`, `"39.99"`, `"$1,200"`), zero to $1,000,000.
pub fn parse_amount(field: &str, text: &str, problems: &mut Vec<String>) -> Option<Money> {
    let trimmed = text.trim().trim_start_matches('$').replace(',', "");
    match Money::from_decimal_str(&trimmed, bazaar_memory::Currency::Usd) {
        Ok(money) if money.minor < 0 => {
            problems.push(format!("{field} {text:?} is negative"));
            None
        }
        Ok(money) if money.minor > MAX_AMOUNT_MINOR => {
            problems.push(format!("{field} {text:?} is over $1,000,000"));
            None
        }
        Ok(money) => Some(money),
        Err(_) => {
            problems.push(format!(
                "{field} {text:?} is not an amount in dollars (e.g. 40 or 39.99)"
            ));
            None
        }
    }
}

/// A title buyers can read: not empty, at most 200 characters, no control characters.
pub fn check_title(text: &str, problems: &mut Vec<String>) -> String {
    let title = text.trim().to_string();
    if title.is_empty() {
        problems.push("title is empty".to_string());
    } else if title.chars().count() > 200 {
        problems.push("title is over 200 characters".to_string());
    } else if title.chars().any(char::is_control) {
        problems.push("title has control characters".to_string());
    }
    title
}

/// A condition by its name (`like_new`, any case).
pub fn parse_condition(text: &str, problems: &mut Vec<String>) -> Option<Condition> {
    let condition =
        serde_json::from_value::<Condition>(serde_json::Value::String(text.trim().to_lowercase()))
            .ok()
            .filter(|c| *c != Condition::Unknown);
    if condition.is_none() {
        problems.push(format!(
            "condition {text:?} is not one of new, like_new, good, fair, poor, for_parts"
        ));
    }
    condition
}

/// Photos: at most [`MAX_PHOTOS`], each an http(s) URL or an absolute file path.
pub fn check_photos(photos: &[String], problems: &mut Vec<String>) {
    if photos.len() > MAX_PHOTOS {
        problems.push(format!("{} photos; at most {MAX_PHOTOS}", photos.len()));
    }
    for photo in photos {
        let url = photo.starts_with("https://") || photo.starts_with("http://");
        if !(url || photo.starts_with('/'))
            || photo.len() > 2_048
            || photo.contains(char::is_whitespace)
        {
            problems.push(format!(
                "photo {photo:?} is neither an http(s) URL nor an absolute file path"
            ));
        }
    }
}

/// A category: one plain lowercase word (`electronics`, `road-bike`).
pub fn check_category(text: &str, problems: &mut Vec<String>) -> String {
    let category = text.trim().to_lowercase();
    if category.is_empty()
        || category.len() > 64
        || !category
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        problems.push(format!("category {category:?} is not a plain word"));
    }
    category
}

/// A description of at most 10,000 characters.
pub fn check_description(text: &str, problems: &mut Vec<String>) -> String {
    let description = text.trim().to_string();
    if description.chars().count() > 10_000 {
        problems.push("description is over 10,000 characters".to_string());
    }
    description
}

/// Attributes with short keys (64 bytes) and values (500 characters).
pub fn check_attributes(attributes: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    for (key, value) in attributes {
        if key.len() > 64 || value.chars().count() > 500 {
            problems.push(format!("attribute {key:?} is too long"));
        }
    }
}

/// The price not under the floor, when both are set.
pub fn check_price_over_floor(
    price: Option<Money>,
    floor: Option<Money>,
    problems: &mut Vec<String>,
) {
    if let (Some(floor), Some(price)) = (floor, price) {
        if price < floor {
            problems.push(format!("price {price} is below the floor {floor}"));
        }
    }
}

/// Changes to an item the operator makes (`PATCH /api/v1/items/{id}`, `bazaar item edit`):
/// only the fields given change. Amounts are decimal strings in US dollars; an empty
/// `price` or `floor` goes back to the Lister's own, an empty attribute value removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemEdit {
    #[serde(default)]
    pub title: Option<String>,
    /// `new`, `like_new`, `good`, `fair`, `poor` or `for_parts`.
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// The asking price (`""`: the Lister's from the margin rules).
    #[serde(default)]
    pub price: Option<String>,
    /// The least it may sell for (`""`: the Lister's from cost, fees and margin).
    #[serde(default)]
    pub floor: Option<String>,
    /// The photos, all of them (replaces the list): http(s) URLs or absolute file paths.
    #[serde(default)]
    pub photos: Option<Vec<String>>,
    /// The operator's notes (kept as the `notes` attribute; never shown to buyers).
    #[serde(default)]
    pub notes: Option<String>,
    /// Attributes to set (brand, model, size …); an empty value removes one.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl ItemEdit {
    /// `item` with the changes, or every problem with them. A sold, shipped, returned or
    /// archived item is history and is not edited.
    pub fn apply(&self, item: &InventoryItem) -> Result<InventoryItem, Vec<String>> {
        let mut problems = Vec::new();
        if !matches!(
            item.lifecycle.status,
            ItemStatus::Draft | ItemStatus::InStock | ItemStatus::Listed
        ) {
            return Err(vec![format!(
                "item {} is {}; only an item in stock or listed can be edited",
                item.id, item.lifecycle.status
            )]);
        }
        if *self == ItemEdit::default() {
            return Err(vec![
                "nothing to change: give at least one field".to_string()
            ]);
        }
        let mut edited = item.clone();
        if let Some(title) = &self.title {
            edited.title = check_title(title, &mut problems);
        }
        if let Some(condition) = self.condition.as_deref() {
            if let Some(condition) = parse_condition(condition, &mut problems) {
                edited.condition = condition;
            }
        }
        if let Some(description) = &self.description {
            edited.description = check_description(description, &mut problems);
        }
        if let Some(category) = &self.category {
            edited.category = check_category(category, &mut problems);
        }
        let amount = |field: &str, text: &Option<String>, problems: &mut Vec<String>| {
            text.as_deref().map(|text| match text.trim() {
                "" => None,
                text => parse_amount(field, text, problems),
            })
        };
        if let Some(price) = amount("price", &self.price, &mut problems) {
            edited.selling.price = price;
        }
        if let Some(floor) = amount("floor", &self.floor, &mut problems) {
            edited.selling.floor = floor;
        }
        check_price_over_floor(edited.selling.price, edited.selling.floor, &mut problems);
        if let Some(photos) = &self.photos {
            check_photos(photos, &mut problems);
            edited.images = photos.clone();
        }
        check_attributes(&self.attributes, &mut problems);
        for (key, value) in &self.attributes {
            if value.trim().is_empty() {
                edited.attributes.remove(key);
            } else {
                edited
                    .attributes
                    .insert(key.clone(), value.trim().to_string());
            }
        }
        if let Some(notes) = &self.notes {
            let notes = notes.trim();
            if notes.chars().count() > 500 {
                problems.push("notes are over 500 characters".to_string());
            } else if notes.is_empty() {
                edited.attributes.remove(NOTES);
            } else {
                edited
                    .attributes
                    .insert(NOTES.to_string(), notes.to_string());
            }
        }
        if problems.is_empty() {
            Ok(edited)
        } else {
            Err(problems)
        }
    }

    /// Whether the change touches what buyers see on a live listing's price.
    pub fn changes_price(&self) -> bool {
        self.price.is_some() || self.floor.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::ItemEdit;
    use bazaar_memory::{
        Condition, Currency, InventoryItem, ItemId, ItemSource, ItemStatus, Lifecycle, Money,
        SellingPlan,
    };

    fn item(status: ItemStatus) -> InventoryItem {
        let now = chrono::Utc::now();
        InventoryItem {
            id: ItemId::new_at(now),
            opportunity: None,
            title: "Trek FX 3".into(),
            description: String::new(),
            category: "bike".into(),
            condition: Condition::Unknown,
            cost_basis: Money::new(20_000, Currency::Usd),
            images: vec![],
            attributes: [("notes".to_string(), "old".to_string())].into(),
            lifecycle: Lifecycle::new(status),
            acquired_at: now,
            source: ItemSource::Bought,
            selling: SellingPlan {
                floor: Some(Money::new(25_000, Currency::Usd)),
                ..SellingPlan::default()
            },
        }
    }

    /// Applies the edit given as JSON; the edited item, or the problems joined by "; ".
    fn check(status: ItemStatus, edit: &str) -> Result<InventoryItem, String> {
        let edit: ItemEdit = serde_json::from_str(edit).unwrap();
        edit.apply(&item(status)).map_err(|p| p.join("; "))
    }

    #[test]
    fn fields_given_change_and_nothing_else() {
        let edited = check(
            ItemStatus::InStock,
            r#"{"condition": "Like_New", "price": "$349.99", "photos": ["https://x/1.jpg"], "notes": ""}"#,
        )
        .unwrap();
        assert_eq!(edited.condition, Condition::LikeNew);
        assert_eq!(
            edited.selling.price,
            Some(Money::new(34_999, Currency::Usd))
        );
        assert_eq!(
            edited.selling.floor,
            Some(Money::new(25_000, Currency::Usd))
        );
        assert_eq!(edited.images, vec!["https://x/1.jpg".to_string()]);
        assert!(!edited.attributes.contains_key("notes"));
        assert_eq!(edited.title, "Trek FX 3");

        let cleared = check(ItemStatus::Listed, r#"{"floor": ""}"#).unwrap();
        assert_eq!(cleared.selling.floor, None);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let problems = check(
            ItemStatus::InStock,
            r#"{"condition": "mint", "price": "100", "photos": ["photo.jpg"]}"#,
        )
        .unwrap_err();
        assert!(problems.contains("condition \"mint\""), "{problems}");
        assert!(problems.contains("below the floor $250.00"), "{problems}");
        assert!(problems.contains("photo \"photo.jpg\""), "{problems}");
        assert!(check(ItemStatus::InStock, "{}")
            .unwrap_err()
            .contains("nothing to change"));
        assert!(serde_json::from_str::<ItemEdit>(r#"{"colour": "red"}"#).is_err());
    }

    #[test]
    fn history_is_not_edited() {
        for status in [ItemStatus::Sold, ItemStatus::Shipped, ItemStatus::Archived] {
            let problems = check(status, r#"{"condition": "good"}"#).unwrap_err();
            assert!(
                problems.contains("only an item in stock or listed"),
                "{problems}"
            );
        }
    }
}
