//! The transport trait, the high-water mark and the error type shared by both transports.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::message::{MailMessage, MessageId, OutgoingMail};

/// The future a [`MailTransport`] method returns (boxed, so the trait is object-safe and a
/// `Box<dyn MailTransport>` / `Arc<dyn MailTransport>` works).
pub type MailFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, MailError>> + Send + 'a>>;

/// One mailbox owner's access to mail: send as them, read their inbox.
pub trait MailTransport: Send + Sync {
    /// The address whose inbox [`fetch_new`](Self::fetch_new) reads (lower case).
    fn address(&self) -> &str;

    /// Sends `mail` to every address in its `To`. Returns its Message-ID. A recipient the
    /// server does not know is refused ([`MailError::Rejected`]) and nothing is delivered.
    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> MailFuture<'a, MessageId>;

    /// The messages that arrived after `since` (all of them when `None`), oldest first, at
    /// most `limit` (at least one) of them, and the mark to continue from.
    ///
    /// Persist [`FetchBatch::mark`] only once the messages are durably handled: a crash before
    /// that reads them again (at least once, never lost); after it, never again. If the
    /// mailbox's UIDVALIDITY changed, the old UIDs mean nothing: every message is read again
    /// from the start and [`FetchBatch::validity_changed`] says so (deduplicate by Message-ID).
    fn fetch_new(&self, since: Option<HighWaterMark>, limit: usize) -> MailFuture<'_, FetchBatch>;

    /// Waits (in real time) until new mail may have arrived (`true`) or `timeout` passed
    /// (`false`): IMAP IDLE where the server offers it. Transports without a push signal
    /// answer [`MailError::Unsupported`] at once, and the caller polls on its clock instead.
    fn wait_for_mail(&self, timeout: std::time::Duration) -> MailFuture<'_, bool> {
        let _ = timeout;
        Box::pin(async {
            Err(MailError::Unsupported(
                "this transport has no push signal".into(),
            ))
        })
    }
}

impl std::fmt::Debug for dyn MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailTransport({})", self.address())
    }
}

/// How far a mailbox has been read: its UIDVALIDITY and the highest UID handed out. UIDs only
/// grow within one UIDVALIDITY, so "every UID above `uid`" is exactly the unread part, across
/// reconnects and restarts. Small and serde-friendly, to be kept in the store's meta tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HighWaterMark {
    /// The mailbox's UIDVALIDITY when `uid` was read.
    pub uid_validity: u32,
    /// The highest UID already returned (0: none).
    pub uid: u32,
}

/// What [`MailTransport::fetch_new`] returns.
#[derive(Clone, Debug)]
pub struct FetchBatch {
    /// New messages, in UID order.
    pub messages: Vec<MailMessage>,
    /// The mark after the last returned message (unchanged if none).
    pub mark: HighWaterMark,
    /// More new messages are waiting beyond `limit`: fetch again from `mark`.
    pub more: bool,
    /// The mark given was for another UIDVALIDITY, so reading restarted from the beginning.
    pub validity_changed: bool,
}

/// Why a mail operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address could not be parsed.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// The message cannot be sent as it is (no recipient, a header with a line break, …).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The server refused the message or a recipient (permanent: retrying will not help).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The mailbox does not exist (in-process) or could not be opened.
    #[error("no mailbox {0:?}")]
    NoMailbox(String),
    /// SMTP failed for another reason (connection, TLS, timeout, a transient refusal).
    #[error("smtp: {0}")]
    Smtp(String),
    /// IMAP failed (connection, login, protocol, timeout).
    #[error("imap: {0}")]
    Imap(String),
    /// The transport or server cannot do this (e.g. no IDLE): fall back to polling.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Which UIDs to fetch, given the mailbox's UIDVALIDITY and its UIDs (any order): the shared
/// rule both transports follow, so their marks behave identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The UIDs to fetch, ascending.
    pub uids: Vec<u32>,
    /// The mark after them.
    pub mark: HighWaterMark,
    /// More are waiting beyond the limit.
    pub more: bool,
    /// The given mark was for another UIDVALIDITY.
    pub validity_changed: bool,
}

/// Plans a fetch (see [`Plan`]): the UIDs above the mark, at most `limit` of them.
pub fn plan(
    uid_validity: u32,
    available: impl IntoIterator<Item = u32>,
    since: Option<HighWaterMark>,
    limit: usize,
) -> Plan {
    let (after, validity_changed) = match since {
        Some(mark) if mark.uid_validity == uid_validity => (mark.uid, false),
        Some(_) => (0, true),
        None => (0, false),
    };
    // `UID SEARCH UID n:*` also answers the highest UID when it is below n, so filter here.
    let mut newer: Vec<u32> = available.into_iter().filter(|&u| u > after).collect();
    newer.sort_unstable();
    newer.dedup();
    let limit = limit.max(1);
    let more = newer.len() > limit;
    newer.truncate(limit);
    let uid = newer.last().copied().unwrap_or(after);
    Plan {
        uids: newer,
        mark: HighWaterMark { uid_validity, uid },
        more,
        validity_changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_follows_the_mark() {
        let p = plan(7, [3, 1, 2, 5], None, 10);
        assert_eq!(p.uids, vec![1, 2, 3, 5]);
        assert_eq!(
            p.mark,
            HighWaterMark {
                uid_validity: 7,
                uid: 5
            }
        );
        assert!(!p.more && !p.validity_changed);

        let p = plan(
            7,
            [5],
            Some(HighWaterMark {
                uid_validity: 7,
                uid: 5,
            }),
            10,
        );
        assert!(p.uids.is_empty());
        assert_eq!(p.mark.uid, 5);

        let p = plan(
            7,
            [1, 2, 3],
            Some(HighWaterMark {
                uid_validity: 7,
                uid: 1,
            }),
            1,
        );
        assert_eq!(p.uids, vec![2]);
        assert!(p.more);

        let p = plan(
            8,
            [1],
            Some(HighWaterMark {
                uid_validity: 7,
                uid: 9,
            }),
            10,
        );
        assert_eq!(p.uids, vec![1]);
        assert!(p.validity_changed);
        assert_eq!(
            p.mark,
            HighWaterMark {
                uid_validity: 8,
                uid: 1
            }
        );
    }
}
