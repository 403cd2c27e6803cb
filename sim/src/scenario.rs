//! Scenarios: the TOML files that say how big the simulated world is and how its sellers and
//! buyers behave. `small`, `default` and `stress` ship embedded (`sim/scenarios/*.toml`); any
//! other file can be loaded with [`Scenario::from_toml`]. Unknown keys are errors, so a typo
//! never silently falls back to a default.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sellers::Personality;
use crate::sites::Category;

/// The scenarios shipped with the simulator, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("small", include_str!("../scenarios/small.toml")),
    ("default", include_str!("../scenarios/default.toml")),
    ("stress", include_str!("../scenarios/stress.toml")),
];

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in name nor a readable file.
    #[error("no scenario {name:?}: use one of small, default, stress or a path to a .toml file")]
    Unknown {
        /// What was asked for.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not fit the schema.
    #[error("scenario {name}: {message}")]
    Invalid {
        /// The scenario's name or path.
        name: String,
        /// What is wrong, with the key path.
        message: String,
    },
}

/// A whole world's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (printed in the event log and the ground truth).
    pub name: String,
    /// The seed used when none is given on the command line.
    pub seed: u64,
    /// When the simulation starts (RFC 3339).
    pub start: DateTime<Utc>,
    /// How many simulated days a full run lasts.
    pub days: u32,
    /// The sellers and their listings.
    pub sellers: SellersConfig,
    /// The buyers of the agent's listings.
    pub buyers: BuyersConfig,
    /// Mail addresses.
    pub mail: MailConfig,
}

/// Other people's listings: who posts them, how they are priced, how their sellers behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellersConfig {
    /// Listings on the Craigslist-style site over the whole run.
    pub craigslist: usize,
    /// Listings on the Marketplace-style (JavaScript) site over the whole run.
    pub marketplace: usize,
    /// Other sellers' listings on eBay (priced around market value: the comparables).
    pub ebay: usize,
    /// Only these catalog categories (`furniture`, `bike`, …); all but housing when empty.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Share of the listings present when the run starts, in percent; the rest are posted
    /// over the run.
    pub posted_before_start_percent: u32,
    /// Market values are the catalog prices times this, in thousandths.
    pub value_factor_permille: i64,
    /// Asking prices sit around market value, moved by up to this either way, in thousandths.
    pub price_jitter_permille: i64,
    /// Share of listings priced well under market value (the bargains), in percent.
    pub underpriced_percent: u32,
    /// A bargain asks this share of market value: a range in thousandths.
    pub underpriced_permille: [i64; 2],
    /// The reserve (the least a seller takes) as a share of the asking price: a range in
    /// thousandths.
    pub reserve_permille: [i64; 2],
    /// Relative weights of the personalities.
    pub personalities: BTreeMap<Personality, u32>,
    /// A reply comes this many minutes after the message: a range (slow sellers take ten
    /// times as long).
    pub reply_minutes: [u32; 2],
    /// Chance per day that a listing sells to somebody else, in thousandths.
    pub sold_elsewhere_per_day_permille: u32,
    /// A listing still for sale after this many days drops its price once.
    pub price_drop_after_days: u32,
    /// By this many percent.
    pub price_drop_percent: u32,
    /// Craigslist postings whose reply page shows a captcha instead of the seller's address
    /// (a person must read it), in thousandths; none when left out.
    #[serde(default)]
    pub craigslist_captcha_permille: u16,
    /// Craigslist postings whose reply page writes the address with its script (a browser
    /// shows it), in thousandths; none when left out.
    #[serde(default)]
    pub craigslist_script_reply_permille: u16,
    /// eBay postings listed as a multi-variation group (the real searches are full of
    /// them): search shows the cheapest variant's price, the item itself is the dearest;
    /// in thousandths, none when left out.
    #[serde(default)]
    pub ebay_variation_permille: u16,
    /// Craigslist postings whose seller takes calls or texts only (the reply page shows a
    /// phone number, no address), in thousandths; none when left out.
    #[serde(default)]
    pub craigslist_phone_only_permille: u16,
}

/// Demand for the agent's own listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyersConfig {
    /// Chance per day that a listing priced at market value sells, in thousandths, by
    /// category; `default` for the others.
    pub sale_per_day_permille: BTreeMap<String, u32>,
    /// How strongly demand falls as the price rises over market value: at price/value =
    /// 1 + x, the chance is multiplied by (1 − x · elasticity / 1000), floored at 0.
    pub elasticity_permille: u32,
    /// Demand fades with listing age: the chance halves every this many days.
    pub half_life_days: u32,
    /// Chance per day that a buyer starts watching a listing, in thousandths.
    pub watch_per_day_permille: u32,
    /// Chance per day that a buyer emails a best offer, in thousandths.
    pub best_offer_per_day_permille: u32,
    /// A best offer asks this share of the listing price, or of what the item is worth to
    /// the buyer (85–105 % of its value) when that is lower: a range in thousandths.
    pub best_offer_permille: [i64; 2],
}

/// The mail side of the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The agent's address.
    pub agent: String,
    /// The domain of sellers' anonymized reply addresses.
    pub reply_domain: String,
    /// The domain buyers write from.
    pub buyer_domain: String,
}

impl Scenario {
    /// A built-in scenario by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Scenario::from_toml(name, text);
        }
        let path = Path::new(name_or_path);
        if path.extension().and_then(|e| e.to_str()) != Some("toml") && !path.exists() {
            return Err(ScenarioError::Unknown {
                name: name_or_path.to_string(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_toml(name_or_path, &text)
    }

    /// A built-in scenario; panics on a name that is not built in (for tests and benches).
    pub fn builtin(name: &str) -> Scenario {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no built-in scenario {name:?}"));
        Scenario::from_toml(name, text).expect("built-in scenarios are valid")
    }

    /// Parses and checks a scenario; `name` is only used in error messages.
    pub fn from_toml(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            name: name.to_string(),
            message,
        };
        let scenario: Scenario = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        scenario.validate().map_err(invalid)?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), String> {
        let s = &self.sellers;
        let range = |key: &str, [lo, hi]: [i64; 2], max: i64| {
            if lo <= 0 || lo > hi || hi > max {
                return Err(format!(
                    "{key} must be [low, high] with 0 < low <= high <= {max}"
                ));
            }
            Ok(())
        };
        range("sellers.underpriced_permille", s.underpriced_permille, 1000)?;
        range("sellers.reserve_permille", s.reserve_permille, 1000)?;
        range(
            "buyers.best_offer_permille",
            self.buyers.best_offer_permille,
            1000,
        )?;
        if s.reply_minutes[0] > s.reply_minutes[1] {
            return Err("sellers.reply_minutes must be [low, high] with low <= high".into());
        }
        if s.posted_before_start_percent > 100 || s.underpriced_percent > 100 {
            return Err("sellers.*_percent values must be at most 100".into());
        }
        if !(0..1000).contains(&s.price_jitter_permille) || s.value_factor_permille <= 0 {
            return Err(
                "sellers.price_jitter_permille must be in 0..1000 and value_factor_permille > 0"
                    .into(),
            );
        }
        if s.personalities.values().all(|w| *w == 0) {
            return Err("sellers.personalities needs at least one positive weight".into());
        }
        if self.days == 0 {
            return Err("days must be at least 1".into());
        }
        if self.buyers.half_life_days == 0 {
            return Err("buyers.half_life_days must be at least 1".into());
        }
        if !self.buyers.sale_per_day_permille.contains_key("default") {
            return Err("buyers.sale_per_day_permille needs a `default` entry".into());
        }
        crate::mail::parse_address(&self.mail.agent).map_err(|e| format!("mail.agent: {e}"))?;
        Ok(())
    }

    /// The categories listings are drawn from.
    pub fn categories(&self) -> Vec<Category> {
        if !self.sellers.categories.is_empty() {
            return self.sellers.categories.clone();
        }
        Category::ALL
            .into_iter()
            .filter(|c| !c.is_housing())
            .collect()
    }

    /// The chance per day (thousandths) that a listing of `category` at market value sells.
    pub fn sale_per_day_permille(&self, category: Category) -> u32 {
        let table = &self.buyers.sale_per_day_permille;
        table
            .get(category.name())
            .or_else(|| table.get("default"))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenarios_parse_and_grow_in_size() {
        let sizes: Vec<usize> = ["small", "default", "stress"]
            .iter()
            .map(|n| {
                let s = Scenario::builtin(n);
                assert_eq!(s.name, *n);
                s.sellers.craigslist + s.sellers.marketplace + s.sellers.ebay
            })
            .collect();
        assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    }

    #[test]
    fn the_held_out_scenario_files_load() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/holdout.toml");
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.name, "holdout");
        assert_eq!(scenario.days, 42);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/holdout-b.toml");
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.name, "holdout-b");
        assert_eq!(scenario.days, 35);
    }

    #[test]
    fn errors_name_the_key() {
        let text = BUILTIN[0].1.replace("days = ", "dayz = ");
        let err = Scenario::from_toml("typo", &text).unwrap_err().to_string();
        assert!(err.contains("dayz"), "{err}");
        let text = BUILTIN[0]
            .1
            .replace("reserve_permille = [", "reserve_permille = [990, 10] # [");
        let err = Scenario::from_toml("range", &text).unwrap_err().to_string();
        assert!(err.contains("sellers.reserve_permille"), "{err}");
        let err = Scenario::load("nope").unwrap_err().to_string();
        assert!(err.contains("small, default, stress"), "{err}");
    }
}
