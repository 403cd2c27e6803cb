//! The one state-machine mechanism every status-carrying record uses.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A status whose legal moves are known.
pub trait Status: Copy + Eq + Debug + Serialize + DeserializeOwned {
    /// The record kind, for error messages (`"opportunity"`).
    const RECORD: &'static str;

    /// Whether moving from `self` to `to` is legal.
    fn can_become(self, to: Self) -> bool;

    /// Stable lowercase name, used as an index value and in messages.
    fn name(self) -> &'static str;
}

/// A move that the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record} cannot go from {from} to {to}")]
pub struct IllegalTransition {
    /// The record kind.
    pub record: &'static str,
    /// The current status.
    pub from: &'static str,
    /// The requested status.
    pub to: &'static str,
}

/// One recorded move, with why it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange<S> {
    /// Status before.
    pub from: S,
    /// Status after.
    pub to: S,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, in words an operator can read.
    pub reason: String,
}

/// A current status plus the history of how it got there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle<S> {
    /// Where the record is now.
    pub status: S,
    /// Every move so far, oldest first.
    pub history: Vec<StatusChange<S>>,
}

impl<S: Status> Lifecycle<S> {
    /// A lifecycle starting in `status`.
    pub fn new(status: S) -> Self {
        Lifecycle {
            status,
            history: Vec::new(),
        }
    }

    /// Moves to `to`, recording `reason`; an illegal move changes nothing and is an error.
    pub fn advance(
        &mut self,
        to: S,
        at: DateTime<Utc>,
        reason: impl Into<String>,
    ) -> Result<(), IllegalTransition> {
        if !self.status.can_become(to) {
            return Err(IllegalTransition {
                record: S::RECORD,
                from: self.status.name(),
                to: to.name(),
            });
        }
        self.history.push(StatusChange {
            from: self.status,
            to,
            at,
            reason: reason.into(),
        });
        self.status = to;
        Ok(())
    }

    /// The reason given for the latest move, if any.
    pub fn last_reason(&self) -> Option<&str> {
        self.history.last().map(|c| c.reason.as_str())
    }

    /// When the record last moved to `status`, if it ever did.
    pub fn last_entered(&self, status: S) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .rev()
            .find(|change| change.to == status)
            .map(|change| change.at)
    }
}

/// Declares a status enum with its names and legal moves in one place.
macro_rules! status_machine {
    (
        $(#[$doc:meta])*
        $name:ident for $record:literal {
            $($(#[$vdoc:meta])* $variant:ident = $vname:literal),+ $(,)?
        }
        moves { $($from:ident => [$($to:ident),*]),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $crate::status::Status for $name {
            const RECORD: &'static str = $record;

            fn can_become(self, to: Self) -> bool {
                match self {
                    $($name::$from => matches!(to, $($name::$to)|*),)*
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $vname),+
                }
            }
        }

        impl $name {
            /// Every status, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Parses the lowercase name (`"in_stock"`).
            pub fn parse(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|s| $crate::status::Status::name(*s) == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::status::Status::name(*self))
            }
        }
    };
}

pub(crate) use status_machine;
