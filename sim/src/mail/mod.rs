//! Mail: the way sellers and the agent talk by email.
//!
//! [`MailTransport`] is what a mailbox owner holds: it sends an RFC 5322 message and fetches the
//! messages that arrived since a [`HighWaterMark`]. Two implementations:
//!
//! - [`InProcessTransport`] over a shared [`PostOffice`] (mailboxes by address, UIDs per
//!   mailbox, fully deterministic), so `bazaar sim` needs nothing installed;
//! - [`SmtpImapTransport`]: lettre (async SMTP; plain on loopback, STARTTLS or implicit TLS by
//!   config) to send and the `imap` crate (on `spawn_blocking`) to fetch, against a real server
//!   such as the throwaway Postfix + Dovecot that `sim/scripts/mail-server.sh` starts.
//!
//! Both carry the same bytes: [`OutgoingMail::to_rfc5322`] renders the message, so a message
//! fetched from either transport parses to the same [`MailMessage`].
//!
//! Threading: [`MessageId::derive`] gives a deterministic Message-ID from a seed (an action id),
//! and [`OutgoingMail::reply_to`] sets In-Reply-To to the parent's Message-ID and References to
//! the parent's References followed by the parent's Message-ID.

mod in_process;
mod message;
mod smtp_imap;
mod transport;

pub use in_process::{InProcessTransport, PostOffice};
pub use message::{
    parse_address, Envelope, MailMessage, MessageId, OutgoingMail, MAX_RAW_BYTES, MAX_TEXT_CHARS,
};
pub use smtp_imap::{SmtpImapConfig, SmtpImapTransport, SmtpSecurity};
pub use transport::{FetchBatch, HighWaterMark, MailError, MailFuture, MailTransport};
