//! Incidents: a failure that keeps repeating is one incident, not one alert per failure.
//!
//! The first failure of an incident is the one to warn about and to put in the operator's
//! inbox; the ones after it only count; the first success ends it, and says how long it
//! lasted. A later failure starts a new incident. The Researcher keeps one per marketplace,
//! the Negotiator one for its mailbox.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};

/// One open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incident {
    /// When its first failure happened.
    pub since: DateTime<Utc>,
    /// Failures so far.
    pub failures: u32,
}

/// The open incidents, by what fails (a marketplace, a mailbox).
#[derive(Debug)]
pub struct Incidents<K> {
    open: HashMap<K, Incident>,
}

impl<K> Default for Incidents<K> {
    fn default() -> Self {
        Incidents {
            open: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Incidents<K> {
    /// Counts a failure of `key` at `now`; true when it starts an incident (the one failure
    /// to alert on).
    ///
    /// ```
    /// use bazaar_agents::incident::Incidents;
    /// let mut incidents = Incidents::default();
    /// let now = chrono::Utc::now();
    /// assert!(incidents.failed("imap", now));
    /// assert!(!incidents.failed("imap", now));
    /// assert_eq!(incidents.recovered(&"imap").map(|i| i.failures), Some(2));
    /// assert!(incidents.failed("imap", now), "a later failure is a new incident");
    /// ```
    pub fn failed(&mut self, key: K, now: DateTime<Utc>) -> bool {
        match self.open.get_mut(&key) {
            Some(incident) => {
                incident.failures += 1;
                false
            }
            None => {
                self.open.insert(
                    key,
                    Incident {
                        since: now,
                        failures: 1,
                    },
                );
                true
            }
        }
    }

    /// A success of `key`: the incident it ends, if one was open.
    pub fn recovered(&mut self, key: &K) -> Option<Incident> {
        self.open.remove(key)
    }

    /// The open incident of `key`.
    pub fn get(&self, key: &K) -> Option<&Incident> {
        self.open.get(key)
    }
}
