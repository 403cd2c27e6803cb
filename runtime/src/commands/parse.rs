//! `bazaar parse`: saved pages and messages read through the code the daemon reads them
//! with — the tool for when a source "finds nothing" or a reply was misread.
//!
//! - `email FILE…`: one JSON line per message, `{"file", "message_id", "in_reply_to",
//!   "from", "subject", "body", "reading"}`: `body` is the new text, quoted history
//!   stripped (`MailMessage::body`, what the Negotiator reads); `reading` is what
//!   `bazaar understand` writes (`{"intent", "price", "confidence"}`, whole dollars) with
//!   `--listing-price`, `null` without.
//! - `craigslist FILE…`: a search page gives one JSON line per row (`external_id`, `url`,
//!   `price`, `title`, `location`) and `{"error"}` for a row it cannot read; a posting page
//!   gives the normalized listing.
//! - `ebay FILE…`: a saved Browse answer (a search page or one item) gives one JSON line per
//!   item: `{"file", "listing", "item_group"}` (the normalized listing; the item group of a
//!   multi-variation listing, which a search passes over, with `"passed"` saying why) or
//!   `{"file", "error"}` for an item it cannot read.
//!
//! A file that cannot be read gets `{"file", "error"}` on its line; the others are still
//! read, and the command then exits 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bazaar_agents::mail::MailMessage;
use bazaar_memory::Money;
use bazaar_strategies::understand::{understand, Reply};
use clap::Subcommand;
use serde_json::{json, Value};

use super::understand::reading_json;

/// What `bazaar parse` reads.
#[derive(Debug, Subcommand)]
pub enum ParseCommand {
    /// Saved emails (.eml, RFC 5322): per file, the new text of the message and its reading.
    Email {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The listing's asking price in dollars (turns on the reading).
        #[arg(long, value_name = "DOLLARS", value_parser = super::parse_dollars)]
        listing_price: Option<Money>,
        /// Our last offer in dollars, if we made one.
        #[arg(long, value_name = "DOLLARS", value_parser = super::parse_dollars)]
        our_offer: Option<Money>,
    },
    /// Saved Craigslist pages (search results or a posting), as the scan reads them.
    Craigslist {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Saved eBay Browse answers (a search's JSON or one item's), as the scan reads them.
    Ebay {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// Runs `command` on stdout: exit 0 when every file was read, 1 when some could not be (or
/// stdout could not be written). A bad price never gets here: the command line refuses it.
pub fn run(command: &ParseCommand) -> ExitCode {
    match write(command, &mut std::io::stdout().lock()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("bazaar parse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one line per file (or per search row) on `out`; returns whether every file could
/// be read.
pub fn write(command: &ParseCommand, out: &mut dyn std::io::Write) -> anyhow::Result<bool> {
    let mut all_read = true;
    match command {
        ParseCommand::Email {
            files,
            listing_price,
            our_offer,
        } => {
            for file in files {
                let line = match std::fs::read(file) {
                    Ok(raw) => email(file, raw, *listing_price, *our_offer),
                    Err(error) => {
                        all_read = false;
                        unreadable(file, &error)
                    }
                };
                writeln!(out, "{line}")?;
            }
        }
        ParseCommand::Craigslist { files } | ParseCommand::Ebay { files } => {
            let read: fn(&Path, &str) -> Result<Vec<Value>, Value> = match command {
                ParseCommand::Ebay { .. } => ebay,
                _ => craigslist,
            };
            for file in files {
                let lines = match std::fs::read_to_string(file) {
                    Ok(text) => read(file, &text),
                    Err(error) => Err(unreadable(file, &error)),
                };
                let lines = lines.unwrap_or_else(|line| {
                    all_read = false;
                    vec![line]
                });
                for line in lines {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    Ok(all_read)
}

fn unreadable(file: &Path, error: &std::io::Error) -> Value {
    json!({ "file": file, "error": format!("cannot read it: {error}") })
}

/// A saved Craigslist page: its rows, or its posting; the error line when it is no page
/// the connector can read.
pub fn craigslist(file: &Path, html: &str) -> Result<Vec<Value>, Value> {
    use bazaar_agents::connectors::craigslist::{read_page, ReadPage};
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let url = format!("file://{}", absolute.display());
    match read_page(&url, html, chrono::Utc::now()) {
        Err(error) => Err(json!({ "file": file, "error": error.to_string() })),
        Ok(ReadPage::Posting(listing)) => Ok(vec![match *listing {
            Ok(listing) => json!({ "file": file, "listing": listing }),
            Err(why) => json!({ "file": file, "error": why }),
        }]),
        Ok(ReadPage::Search(rows)) => Ok(rows
            .into_iter()
            .map(|row| match row {
                Ok(row) => json!({ "file": file, "row": row }),
                Err(why) => json!({ "file": file, "error": why }),
            })
            .collect()),
    }
}

/// A saved Browse answer: one line per item; the error line when it is no Browse answer.
pub fn ebay(file: &Path, json: &str) -> Result<Vec<Value>, Value> {
    use bazaar_agents::connectors::ebay::browse_items;
    let items = browse_items(json, chrono::Utc::now())
        .map_err(|error| json!({ "file": file, "error": error }))?;
    Ok(items
        .into_iter()
        .map(|item| {
            let passed = item.passed();
            match item.listing {
                Err(why) => json!({ "file": file, "error": why }),
                Ok(listing) => json!({
                    "file": file,
                    "listing": listing,
                    "item_group": item.item_group,
                    "passed": passed,
                }),
            }
        })
        .collect())
}

/// One message as the daemon reads it.
pub fn email(file: &Path, raw: Vec<u8>, listing: Option<Money>, ours: Option<Money>) -> Value {
    let message = MailMessage::parse(0, raw);
    let envelope = &message.envelope;
    let reading = listing.map(|listing_price| {
        reading_json(&understand(&Reply {
            text: &message.body,
            listing_price,
            our_last_offer: ours,
        }))
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
