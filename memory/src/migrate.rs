//! Moving records written by an older schema to the current one. A store opened by a newer
//! Bazaar is upgraded in place before anything reads it, and an export from an older one is
//! upgraded line by line as it is imported, so no reseller loses data on upgrade.
//!
//! Each step works on a record's JSON, so it needs no copy of the old types, and is
//! idempotent: a record already in the new shape is left as it is, which makes a migration
//! interrupted by a crash safe to run again.
//!
//! | from | to | what changes |
//! |---|---|---|
//! | 1 | 2 | an item's selling plan (`floor`, `price`, `channels`) and its `source` move from string attributes into typed fields |

use serde_json::{Map, Value};

use crate::{Currency, Marketplace, Money};

/// The oldest schema this Bazaar can upgrade.
pub const OLDEST_UPGRADABLE: u32 = 1;

/// Whether any step from schema `from` changes records of `tree`.
pub fn changes(tree: &str, from: u32) -> bool {
    from < 2 && tree == "item"
}

/// Upgrades one record of `tree`, written by schema `from`, to the current schema's shape.
/// Returns whether it changed.
pub fn upgrade(tree: &str, from: u32, record: &mut Value) -> bool {
    if !changes(tree, from) {
        return false;
    }
    selling_plan_out_of_attributes(record)
}

/// Schema 2: the attributes `floor`, `price` (decimals in the cost's currency), `channels`
/// (`ebay,craigslist`) and `source` (`operator`) become `selling.floor`, `selling.price`,
/// `selling.channels` and `source`. A value that does not read stays an attribute, so
/// nothing is lost.
fn selling_plan_out_of_attributes(item: &mut Value) -> bool {
    let currency = item
        .pointer("/cost_basis/currency")
        .and_then(Value::as_str)
        .and_then(Currency::from_code)
        .unwrap_or(Currency::Usd);
    let Some(attributes) = item.get_mut("attributes").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut plan = Map::new();
    let mut source = None;
    for name in ["floor", "price"] {
        let money = attributes
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| Money::from_decimal_str(text, currency).ok());
        if let Some(money) = money {
            attributes.remove(name);
            plan.insert(
                name.to_string(),
                serde_json::to_value(money).unwrap_or_default(),
            );
        }
    }
    if let Some(Value::String(list)) = attributes.get("channels") {
        let channels: Vec<Value> = list
            .split(',')
            .filter_map(|name| name.trim().parse::<Marketplace>().ok())
            .map(|m| Value::String(m.name().to_string()))
            .collect();
        attributes.remove("channels");
        plan.insert("channels".to_string(), Value::Array(channels));
    }
    if attributes.get("source").and_then(Value::as_str) == Some("operator") {
        attributes.remove("source");
        source = Some("operator");
    }
    let changed = !plan.is_empty() || source.is_some();
    if let Some(object) = item.as_object_mut() {
        if !plan.is_empty() {
            object.insert("selling".to_string(), Value::Object(plan));
        }
        if let Some(source) = source {
            object.insert("source".to_string(), Value::String(source.to_string()));
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::upgrade;

    #[test]
    fn an_items_selling_plan_leaves_its_attributes() {
        let check = |before: Value, after: Value| {
            let mut record = before.clone();
            upgrade("item", 1, &mut record);
            assert_eq!(record, after, "from {before}");
            // Idempotent: a second run changes nothing.
            assert!(!upgrade("item", 1, &mut record));
        };
        check(
            json!({"cost_basis": {"minor": 4000, "currency": "USD"},
                   "attributes": {"brand": "Trek", "floor": "60.00", "price": "95",
                                  "channels": "ebay, craigslist,teleshop", "source": "operator"}}),
            json!({"cost_basis": {"minor": 4000, "currency": "USD"},
                   "attributes": {"brand": "Trek"},
                   "selling": {"floor": {"minor": 6000, "currency": "USD"},
                               "price": {"minor": 9500, "currency": "USD"},
                               "channels": ["ebay", "craigslist"]},
                   "source": "operator"}),
        );
        // Cancelled: an empty list stays an empty list (not "every channel").
        check(
            json!({"cost_basis": {"minor": 1, "currency": "USD"}, "attributes": {"channels": ""}}),
            json!({"cost_basis": {"minor": 1, "currency": "USD"}, "attributes": {},
                   "selling": {"channels": []}}),
        );
        // A value that does not read stays where it was.
        check(
            json!({"cost_basis": {"minor": 1, "currency": "USD"},
                   "attributes": {"floor": "cheap", "source": "flea market"}}),
            json!({"cost_basis": {"minor": 1, "currency": "USD"},
                   "attributes": {"floor": "cheap", "source": "flea market"}}),
        );
        // A bought item has none of them.
        check(
            json!({"cost_basis": {"minor": 1, "currency": "USD"}, "attributes": {"color": "red"}}),
            json!({"cost_basis": {"minor": 1, "currency": "USD"}, "attributes": {"color": "red"}}),
        );
    }

    #[test]
    fn other_records_and_current_schemas_are_left_alone() {
        let record =
            json!({"attributes": {"floor": "60"}, "cost_basis": {"minor": 1, "currency": "USD"}});
        let mut copy = record.clone();
        assert!(!upgrade("listing", 1, &mut copy));
        assert!(!upgrade("item", 2, &mut copy));
        assert_eq!(copy, record);
    }
}
