//! Mail: how the agent (and the simulated sellers) talk by email. The simulated world links
//! this crate and no agent code.
//!
//! [`MailTransport`] is what a mailbox owner holds: it sends an RFC 5322 message and fetches the
//! messages that arrived since a [`HighWaterMark`]. [`SmtpImapTransport`] is the real one:
//! lettre (async SMTP; plain on loopback, STARTTLS or implicit TLS by config) to send and the
//! `imap` crate (on `spawn_blocking`) to fetch. The simulator (`bazaar-sim`) adds an in-process post office
//! implementing the same trait, so `bazaar sim` needs no mail server.
//!
//! [`OutgoingMail::to_rfc5322`] renders every message, so a message fetched from any transport
//! parses to the same [`MailMessage`] (mail-parser: MIME, charsets, HTML-only bodies).
//!
//! Threading: [`MessageId::derive`] gives a deterministic Message-ID from a seed (an action id),
//! and [`OutgoingMail::reply_to`] sets In-Reply-To to the parent's Message-ID and References to
//! the parent's References followed by the parent's Message-ID.
//!
//! [`tls_client_config`] is the TLS every connection shares, mail and HTTP alike (compiled-in
//! roots); [`install_crypto_provider`] sets ring for the HTTP clients built without it.

mod message;
mod quotes;
mod smtp_imap;
mod tls;
mod transport;

pub use message::{
    parse_address, Envelope, MailMessage, MessageId, OutgoingMail, MAX_RAW_BYTES, MAX_TEXT_CHARS,
};
pub use quotes::{new_text, strip_html_quotes};
pub use smtp_imap::{ImapSecurity, SmtpImapConfig, SmtpImapTransport, SmtpSecurity};
pub use tls::{client_config as tls_client_config, install_crypto_provider};
pub use transport::{plan, FetchBatch, HighWaterMark, MailError, MailFuture, MailTransport, Plan};
