//! `bazaar session import <marketplace> <cookies.json>`: the operator's login for a
//! browser-driven marketplace.
//!
//! The operator logs in with their own browser, exports the site's cookies with a
//! cookie-export extension (a JSON array of `{name, value, domain, path, expires |
//! expirationDate, httpOnly, secure, sameSite}`), and imports the file. It is validated entry
//! by entry ([`Session::from_export`]: errors name the entry, never a value) and stored as a
//! secret readable by the owner only (`<data_dir>/secrets/sessions/<marketplace>.json`,
//! 0600). Nothing prints or logs a cookie's value. The connector
//! ([`MarketplaceBrowser`](bazaar_agents::connectors::marketplace::MarketplaceBrowser)) loads
//! the cookies into its browser; when the site shows a login wall anyway, it pauses the source
//! and asks for a fresh export. `bazaar status` shows how many cookies a session has and when
//! the first expires.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bazaar_agents::connectors::marketplace::{Session, SessionError};
use bazaar_memory::Marketplace;
use chrono::{DateTime, Utc};
use clap::Subcommand;

/// Marketplaces read through a browser, which need a logged-in session.
pub const BROWSER_MARKETPLACES: &[Marketplace] = &[Marketplace::Facebook];

/// Exit code for input that cannot be used (unknown marketplace, unreadable or invalid
/// export).
pub const EXIT_INVALID: u8 = 2;

/// `bazaar session …`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Store cookies exported from your browser (a JSON array, as cookie-export extensions
    /// write it) as the login for a browser-driven marketplace. The values are kept secret
    /// (file mode 0600) and never printed.
    Import {
        /// The marketplace they log into (facebook).
        marketplace: String,
        /// The exported cookies (JSON).
        file: PathBuf,
    },
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The marketplace is unknown or needs no session.
    #[error("{0}")]
    Marketplace(String),
    /// The export file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The export is not valid.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (names the entry).
        source: SessionError,
    },
    /// The secret could not be stored.
    #[error("cannot store the session: {0}")]
    Store(SessionError),
}

impl ImportError {
    /// The process exit code for it: 2 for unusable input, 1 for a failure to store.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Store(_) => 1,
            _ => EXIT_INVALID,
        }
    }
}

/// What an import stored.
#[derive(Debug)]
pub struct Imported {
    /// The session (its `Debug` shows no value).
    pub session: Session,
    /// Where it is kept.
    pub path: PathBuf,
}

/// The browser-driven marketplace named `name`, or why not.
pub fn browser_marketplace(name: &str) -> Result<Marketplace, ImportError> {
    let marketplace: Marketplace = name
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(ImportError::Marketplace)?;
    if !BROWSER_MARKETPLACES.contains(&marketplace) {
        let known: Vec<&str> = BROWSER_MARKETPLACES.iter().map(|m| m.name()).collect();
        return Err(ImportError::Marketplace(format!(
            "{marketplace} is not read through a browser and needs no session (sessions: {})",
            known.join(", ")
        )));
    }
    Ok(marketplace)
}

/// Validates the export at `file` and stores it as `marketplace`'s session under
/// `data_dir`, replacing any earlier one.
pub fn import(
    data_dir: &Path,
    marketplace: &str,
    file: &Path,
    now: DateTime<Utc>,
) -> Result<Imported, ImportError> {
    let marketplace = browser_marketplace(marketplace)?;
    let json = std::fs::read_to_string(file).map_err(|e| ImportError::Read {
        path: file.display().to_string(),
        message: e.to_string(),
    })?;
    let session =
        Session::from_export(marketplace, &json, now).map_err(|source| ImportError::Invalid {
            path: file.display().to_string(),
            source,
        })?;
    let path = Session::path(data_dir, marketplace);
    session.save(&path).map_err(ImportError::Store)?;
    tracing::info!(
        %marketplace,
        cookies = session.cookies.len(),
        path = %path.display(),
        "session imported"
    );
    Ok(Imported { session, path })
}

/// Runs a `bazaar session` command, writing what happened to `out` and errors to `err`.
pub fn run(
    data_dir: &Path,
    command: SessionCommand,
    out: &mut impl Write,
    err: &mut impl Write,
) -> ExitCode {
    match command {
        SessionCommand::Import { marketplace, file } => {
            let now = Utc::now();
            match import(data_dir, &marketplace, &file, now) {
                Ok(imported) => {
                    let _ = writeln!(
                        out,
                        "session for {} stored: {} ({})",
                        imported.session.marketplace,
                        imported.session.summary(now),
                        imported.path.display()
                    );
                    let _ = writeln!(
                        out,
                        "the browser loads it when it next starts or when the paused source resumes"
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    let _ = writeln!(err, "bazaar: {error}");
                    ExitCode::from(error.exit_code())
                }
            }
        }
    }
}

/// Lines for `bazaar status`: `session for facebook  3 cookies, expires …` for each imported
/// session (or why it cannot be read). Never a value.
pub fn status_lines(data_dir: &Path, now: DateTime<Utc>) -> Vec<String> {
    BROWSER_MARKETPLACES
        .iter()
        .filter_map(
            |&marketplace| match Session::load(&Session::path(data_dir, marketplace)) {
                Ok(None) => None,
                Ok(Some(session)) => Some(format!(
                    "session for {marketplace}  {}",
                    session.summary(now)
                )),
                Err(error) => Some(format!("session for {marketplace}  unreadable: {error}")),
            },
        )
        .collect()
}
