//! A throwaway Postfix + Dovecot on loopback, started and stopped through
//! `sim/scripts/mail-server.sh` (as root; the script installs the packages if missing).
//! Tests and demos that need a real mail server use it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{MailError, SmtpImapConfig, SmtpImapTransport};

/// The script, from the sim crate's sources.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mail-server.sh")
}

/// A running server, stopped when dropped (also when a test panics).
#[derive(Debug)]
pub struct ThrowawayServer {
    dir: PathBuf,
    smtp_port: u16,
    imap_port: u16,
    /// With TLS: STARTTLS on SMTP and IMAP, and IMAP over implicit TLS on this port.
    imaps_port: Option<u16>,
    /// The account every other address of the domain is delivered to, if any.
    catch_all: Option<String>,
    /// What the script wrote to `$BAZAAR_MAIL_DIR/env`.
    pub env: BTreeMap<String, String>,
}

impl ThrowawayServer {
    /// Starts a fresh server (empty mailboxes) under `dir` on the given ports. Errors say why
    /// (not root, the script failed, …), so a caller can decide to skip or fail.
    pub fn start(dir: &Path, smtp_port: u16, imap_port: u16) -> Result<ThrowawayServer, String> {
        ThrowawayServer::start_with(dir, smtp_port, imap_port, None)
    }

    /// As [`ThrowawayServer::start`], and with `imaps_port` also TLS: a self-signed
    /// certificate, STARTTLS on SMTP and IMAP, and IMAP over implicit TLS on `imaps_port`.
    pub fn start_with(
        dir: &Path,
        smtp_port: u16,
        imap_port: u16,
        imaps_port: Option<u16>,
    ) -> Result<ThrowawayServer, String> {
        ThrowawayServer::launch(ThrowawayServer {
            dir: dir.to_path_buf(),
            smtp_port,
            imap_port,
            imaps_port,
            catch_all: None,
            env: BTreeMap::new(),
        })
    }

    /// As [`ThrowawayServer::start`], with a catch-all account `user`: every address of the
    /// domain but the named accounts' is delivered to it (a simulated world reads its
    /// people's mail there, see `WorldMail::CatchAll`).
    pub fn start_catch_all(
        dir: &Path,
        smtp_port: u16,
        imap_port: u16,
        user: &str,
    ) -> Result<ThrowawayServer, String> {
        ThrowawayServer::launch(ThrowawayServer {
            dir: dir.to_path_buf(),
            smtp_port,
            imap_port,
            imaps_port: None,
            catch_all: Some(user.to_string()),
            env: BTreeMap::new(),
        })
    }

    /// [`ThrowawayServer::start_catch_all`], skipping or failing as
    /// [`ThrowawayServer::start_or_skip`].
    pub fn start_catch_all_or_skip(
        dir: &Path,
        smtp_port: u16,
        imap_port: u16,
        user: &str,
    ) -> Option<ThrowawayServer> {
        ThrowawayServer::or_skip(ThrowawayServer::start_catch_all(
            dir, smtp_port, imap_port, user,
        ))
    }

    fn launch(mut server: ThrowawayServer) -> Result<ThrowawayServer, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("id -u: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not root: mail-server.sh needs root to run Postfix + Dovecot".into());
        }
        // Dropped on any failure below: whatever did start is stopped.
        let t = Instant::now();
        server.run("start")?;
        eprintln!("mail servers started in {:?}", t.elapsed());
        let text = std::fs::read_to_string(server.dir.join("env"))
            .map_err(|e| format!("mail-server.sh wrote no env file: {e}"))?;
        server.env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        Ok(server)
    }

    /// As [`ThrowawayServer::start`], but when it cannot start: panics under `CI=true`
    /// (CI must run the mail tests), otherwise prints why and returns `None` (skip).
    pub fn start_or_skip(dir: &Path, smtp_port: u16, imap_port: u16) -> Option<ThrowawayServer> {
        ThrowawayServer::or_skip(ThrowawayServer::start(dir, smtp_port, imap_port))
    }

    /// [`ThrowawayServer::start_with`], skipping or failing as [`ThrowawayServer::start_or_skip`].
    pub fn start_with_or_skip(
        dir: &Path,
        smtp_port: u16,
        imap_port: u16,
        imaps_port: Option<u16>,
    ) -> Option<ThrowawayServer> {
        ThrowawayServer::or_skip(ThrowawayServer::start_with(
            dir, smtp_port, imap_port, imaps_port,
        ))
    }

    fn or_skip(started: Result<ThrowawayServer, String>) -> Option<ThrowawayServer> {
        match started {
            Ok(server) => Some(server),
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!(
                "Postfix + Dovecot could not be started, and CI must run the mail tests \
                 (run as root; sim/scripts/mail-server.sh installs postfix dovecot-imapd \
                 dovecot-lmtpd): {why}"
            ),
            Err(why) => {
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    fn command(&self, action: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(script())
            .arg(action)
            .env("BAZAAR_MAIL_DIR", &self.dir)
            .env("BAZAAR_SMTP_PORT", self.smtp_port.to_string())
            .env("BAZAAR_IMAP_PORT", self.imap_port.to_string());
        if let Some(user) = &self.catch_all {
            c.env("BAZAAR_MAIL_CATCHALL", user);
        }
        if let Some(port) = self.imaps_port {
            c.env("BAZAAR_MAIL_TLS", "1")
                .env("BAZAAR_IMAPS_PORT", port.to_string());
        }
        c
    }

    /// Stops the IMAP server (Dovecot) and keeps the mailboxes; SMTP keeps accepting mail,
    /// which Postfix delivers once [`ThrowawayServer::start_imap`] brings IMAP back.
    pub fn stop_imap(&self) -> Result<(), String> {
        self.run("imap-stop")
    }

    /// Starts the IMAP server again on the same mailboxes and delivers the mail that queued.
    pub fn start_imap(&self) -> Result<(), String> {
        self.run("imap-start")
    }

    fn run(&self, action: &str) -> Result<(), String> {
        let out = self
            .command(action)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if !out.status.success() {
            return Err(format!(
                "mail-server.sh {action} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The `env` file the script wrote (what `bazaar sim serve --mail-env` reads).
    pub fn env_file(&self) -> PathBuf {
        self.dir.join("env")
    }

    /// The common password of every account.
    pub fn password(&self) -> &str {
        self.env
            .get("BAZAAR_MAIL_PASSWORD")
            .map_or("", String::as_str)
    }

    /// A transport for one of the server's accounts over TLS: SMTP with STARTTLS and IMAP
    /// over implicit TLS, accepting the self-signed certificate. `None` without TLS.
    pub fn tls_transport(&self, address: &str) -> Option<Result<SmtpImapTransport, MailError>> {
        let imaps_port = self.imaps_port?;
        let mut config =
            SmtpImapConfig::loopback(address, self.password(), self.smtp_port, imaps_port);
        config.smtp_security = super::SmtpSecurity::StartTls;
        config.imap_security = super::ImapSecurity::Tls;
        config.accept_invalid_certs = true;
        Some(SmtpImapTransport::new(config))
    }

    /// A transport for one of the server's accounts.
    pub fn transport(&self, address: &str) -> Result<SmtpImapTransport, MailError> {
        let config =
            SmtpImapConfig::loopback(address, self.password(), self.smtp_port, self.imap_port);
        SmtpImapTransport::new(config)
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        let t = Instant::now();
        match self.command("stop").output() {
            Ok(o) if o.status.success() => eprintln!("mail servers stopped in {:?}", t.elapsed()),
            Ok(o) => eprintln!(
                "mail-server.sh stop failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("mail-server.sh stop: {e}"),
        }
    }
}
