//! `bazaar parse email FILE…`: saved messages read the way the daemon reads a reply — MIME,
//! charsets, HTML, quoted history stripped (`MailMessage::body`, the text the Negotiator
//! reads) — with the reading of that text when the listing's price is given.
//!
//! One JSON line per file: `{"file", "message_id", "in_reply_to", "from", "subject",
//! "body", "reading"}`; `reading` is `{"intent", "price", "confidence"}` (price in whole
//! dollars) with `--listing-price`, `null` without. A file that cannot be read gets
//! `{"file", "error"}` on its line, and the others are still read.

use std::path::{Path, PathBuf};

use bazaar_agents::mail::MailMessage;
use bazaar_memory::{Currency, Money};
use bazaar_strategies::understand::{understand, Reply};
use clap::Subcommand;
use serde_json::{json, Value};

/// What `bazaar parse` reads.
#[derive(Debug, Subcommand)]
pub enum ParseCommand {
    /// Saved emails (.eml, RFC 5322): per file, the new text of the message and its reading.
    Email {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The listing's asking price in dollars (turns on the reading).
        #[arg(long, value_name = "DOLLARS")]
        listing_price: Option<String>,
        /// Our last offer in dollars, if we made one.
        #[arg(long, value_name = "DOLLARS")]
        our_offer: Option<String>,
    },
}

/// Runs `command`, one line per file on `out`. Bad prices are an error (exit 2 at the
/// caller); unreadable files are reported on their own line.
pub fn run(command: &ParseCommand, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let ParseCommand::Email {
        files,
        listing_price,
        our_offer,
    } = command;
    let dollars = |text: &Option<String>, flag: &str| -> anyhow::Result<Option<Money>> {
        text.as_deref()
            .map(|t| {
                Money::from_decimal_str(t.trim().trim_start_matches('$'), Currency::Usd).map_err(
                    |e| anyhow::anyhow!("{flag} {t:?}: {e}; write dollars, e.g. 120 or 99.50"),
                )
            })
            .transpose()
    };
    let listing = dollars(listing_price, "--listing-price")?;
    let ours = dollars(our_offer, "--our-offer")?;
    for file in files {
        let line = match std::fs::read(file) {
            Ok(raw) => email(file, raw, listing, ours),
            Err(error) => json!({ "file": file, "error": format!("cannot read it: {error}") }),
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// One message as the daemon reads it.
pub fn email(file: &Path, raw: Vec<u8>, listing: Option<Money>, ours: Option<Money>) -> Value {
    let message = MailMessage::parse(0, raw);
    let envelope = &message.envelope;
    let reading = listing.map(|listing_price| {
        let reading = understand(&Reply {
            text: &message.body,
            listing_price,
            our_last_offer: ours,
        });
        json!({
            "intent": reading.intent.as_str(),
            "price": reading.price.map(|p| p.minor as f64 / 100.0),
            "confidence": (reading.confidence * 100.0).round() / 100.0,
        })
    });
    json!({
        "file": file,
        "message_id": envelope.message_id.as_ref().map(|id| id.to_string()),
        "in_reply_to": envelope.in_reply_to.as_ref().map(|id| id.to_string()),
        "from": envelope.from,
        "subject": envelope.subject,
        "body": message.body,
        "reading": reading,
    })
}
