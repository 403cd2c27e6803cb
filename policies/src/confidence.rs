//! Confidence scoring (pure): the seed's model, its numbers from configuration, and a
//! rule's accuracy learned from how the operator and the world answered it.

use bazaar_config::ConfidenceConfig;
use bazaar_memory::Money;
use serde::{Deserialize, Serialize};

/// How sure the gate is that an action is right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    /// Below `low`: blocked.
    VeryLow,
    /// At or above `low`: needs the operator.
    Low,
    /// At or above `medium`: executes.
    Medium,
    /// At or above `high`: executes.
    High,
}

impl Tier {
    /// Whether this tier executes without the operator.
    pub fn executes(self) -> bool {
        matches!(self, Tier::High | Tier::Medium)
    }
}

/// What the score is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreInput {
    /// Money at stake, if any.
    pub value: Option<Money>,
    /// How well the situation matched the rule's pattern, 0..=1.
    pub pattern_match: f64,
    /// The rule's historical accuracy, 0..=1.
    pub rule_accuracy: f64,
    /// Hours since the operator last did anything (None: never seen).
    pub operator_idle_hours: Option<u64>,
    /// Whether the rule has never executed before.
    pub first_execution: bool,
}

/// A score with the factors that made it, for the operator to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The confidence, 0..=1.
    pub value: f64,
    /// Its tier.
    pub tier: Tier,
    /// Each factor applied, by name.
    pub factors: Vec<(String, f64)>,
    /// The score without the oversight factors (operator away, first execution): how sure
    /// the gate is of the action itself. Those two factors ask for a person; they never
    /// block on their own, or a rule blocked at its first execution would never run.
    #[serde(default)]
    pub merit: f64,
}

impl Score {
    /// Whether the action is blocked (very low confidence on its merits), rather than
    /// shown to the operator.
    pub fn blocks(&self, config: &ConfidenceConfig) -> bool {
        self.tier == Tier::VeryLow && self.merit < config.low
    }
}

/// Scores an action. Never fails: bad inputs (NaN, out of range) clamp to 0..=1.
pub fn score(config: &ConfidenceConfig, input: &ScoreInput) -> Score {
    let mut factors = Vec::new();
    if let Some(value) = input.value {
        if value.minor > config.high_value_over.minor {
            factors.push((
                format!("value over {}", config.high_value_over),
                config.high_value_factor,
            ));
        } else if value.minor > config.medium_value_over.minor {
            factors.push((
                format!("value over {}", config.medium_value_over),
                config.medium_value_factor,
            ));
        }
    }
    factors.push(("pattern match".into(), clamp(input.pattern_match)));
    factors.push(("rule accuracy".into(), clamp(input.rule_accuracy)));
    let merit = clamp(factors.iter().map(|(_, f)| *f).product());
    let away = input
        .operator_idle_hours
        .is_none_or(|h| h > config.operator_away_hours);
    if away {
        factors.push(("operator away".into(), config.operator_away_factor));
    }
    if input.first_execution {
        factors.push((
            "first execution of the rule".into(),
            config.first_execution_factor,
        ));
    }
    let value = clamp(factors.iter().map(|(_, f)| *f).product());
    Score {
        value,
        tier: tier(config, value),
        factors,
        merit,
    }
}

/// The tier of a confidence value.
pub fn tier(config: &ConfidenceConfig, value: f64) -> Tier {
    if value >= config.high {
        Tier::High
    } else if value >= config.medium {
        Tier::Medium
    } else if value >= config.low {
        Tier::Low
    } else {
        Tier::VeryLow
    }
}

fn clamp(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    x.clamp(0.0, 1.0)
}

/// What a rule's past actions came to; its accuracy is learned from this.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// Actions that executed.
    pub executed: u64,
    /// Actions the operator approved.
    pub approved: u64,
    /// Actions the operator rejected.
    pub rejected: u64,
    /// Executed actions later undone.
    pub undone: u64,
}

impl RuleRecord {
    /// Accuracy with a prior of four good outcomes, so one rejection does not condemn a new
    /// rule and a long record outweighs the prior.
    pub fn accuracy(&self) -> f64 {
        const PRIOR: f64 = 4.0;
        let bad = (self.rejected + self.undone) as f64;
        let good = (self.approved + self.executed.saturating_sub(self.undone)) as f64;
        (good + PRIOR) / (good + bad + PRIOR)
    }

    /// Whether the rule has never executed.
    pub fn first_execution(&self) -> bool {
        self.executed == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConfidenceConfig {
        bazaar_config::Config::load(None, std::iter::empty())
            .unwrap()
            .policy
            .confidence
    }

    fn input(
        dollars: Option<i64>,
        pattern: f64,
        accuracy: f64,
        idle: Option<u64>,
        first: bool,
    ) -> ScoreInput {
        ScoreInput {
            value: dollars.map(|d| Money::usd(d * 100)),
            pattern_match: pattern,
            rule_accuracy: accuracy,
            operator_idle_hours: idle,
            first_execution: first,
        }
    }

    fn check(input: ScoreInput, expected: f64, tier: Tier) {
        let got = score(&config(), &input);
        assert!(
            (got.value - expected).abs() < 1e-9,
            "{input:?}: {} != {expected}",
            got.value
        );
        assert_eq!(got.tier, tier, "{input:?}");
    }

    #[test]
    fn the_seed_model() {
        check(input(Some(50), 1.0, 1.0, Some(1), false), 1.0, Tier::High);
        check(
            input(Some(150), 1.0, 1.0, Some(1), false),
            0.8,
            Tier::Medium,
        );
        check(input(Some(250), 1.0, 1.0, Some(1), false), 0.6, Tier::Low);
        check(
            input(Some(200), 1.0, 1.0, Some(1), false),
            0.8,
            Tier::Medium,
        );
        check(
            input(Some(50), 0.9, 1.0, Some(30), false),
            0.81,
            Tier::Medium,
        );
        check(input(Some(50), 1.0, 1.0, Some(1), true), 0.7, Tier::Medium);
        check(input(Some(150), 1.0, 1.0, Some(1), true), 0.56, Tier::Low);
        check(
            input(Some(250), 1.0, 1.0, None, true),
            0.6 * 0.9 * 0.7,
            Tier::VeryLow,
        );
        check(input(None, 0.95, 0.95, Some(0), false), 0.9025, Tier::High);
        check(
            input(None, f64::NAN, 1.0, Some(0), false),
            0.0,
            Tier::VeryLow,
        );
        check(input(None, 7.0, 1.0, Some(0), false), 1.0, Tier::High);
    }

    #[test]
    fn accuracy_is_learned_from_outcomes() {
        let fresh = RuleRecord::default();
        assert_eq!(fresh.accuracy(), 1.0);
        assert!(fresh.first_execution());
        let rejected_once = RuleRecord {
            rejected: 1,
            ..fresh
        };
        assert!((rejected_once.accuracy() - 0.8).abs() < 1e-9);
        let seasoned = RuleRecord {
            executed: 96,
            approved: 0,
            rejected: 0,
            undone: 4,
        };
        assert!((seasoned.accuracy() - (96.0 / 100.0)).abs() < 1e-9);
    }
}
