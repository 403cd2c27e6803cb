//! The real transport: lettre's async SMTP client to send, the `imap` crate (blocking, run on
//! `spawn_blocking`) to fetch. One IMAP session is kept between fetches and re-SELECTs the
//! mailbox every time (a selected session does not see new mail until NOOP or re-SELECT);
//! a broken session is replaced once.

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::{MailMessage, MessageId, OutgoingMail};
use super::transport::{plan, FetchBatch, HighWaterMark, MailError, MailFuture, MailTransport};

/// How SMTP is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (loopback test servers only).
    Plain,
    /// STARTTLS, required (port 587).
    StartTls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
}

/// Where and how one mailbox owner reaches the servers.
#[derive(Clone)]
pub struct SmtpImapConfig {
    /// The owner's address (the mailbox fetched; the SMTP HELO domain comes from it).
    pub address: String,
    /// SMTP server host.
    pub smtp_host: String,
    /// SMTP server port.
    pub smtp_port: u16,
    /// SMTP protection.
    pub smtp_security: SmtpSecurity,
    /// SMTP AUTH user and password, if the server wants them.
    pub smtp_credentials: Option<(String, String)>,
    /// Accept any TLS certificate (self-signed test servers only).
    pub accept_invalid_certs: bool,
    /// IMAP server host (plain IMAP: loopback only).
    pub imap_host: String,
    /// IMAP server port.
    pub imap_port: u16,
    /// IMAP login.
    pub imap_user: String,
    /// IMAP password.
    pub imap_password: String,
    /// The mailbox to read.
    pub mailbox: String,
    /// Connect / read / write timeout of each operation.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpImapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpImapConfig")
            .field("address", &self.address)
            .field(
                "smtp",
                &format_args!("{}:{}", self.smtp_host, self.smtp_port),
            )
            .field("smtp_security", &self.smtp_security)
            .field("smtp_auth", &self.smtp_credentials.as_ref().map(|(u, _)| u))
            .field(
                "imap",
                &format_args!("{}:{}", self.imap_host, self.imap_port),
            )
            .field("imap_user", &self.imap_user)
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

impl SmtpImapConfig {
    /// A test server on 127.0.0.1: plain SMTP without AUTH, plain IMAP LOGIN as `address`.
    pub fn loopback(address: &str, password: &str, smtp_port: u16, imap_port: u16) -> Self {
        Self {
            address: address.to_ascii_lowercase(),
            smtp_host: "127.0.0.1".into(),
            smtp_port,
            smtp_security: SmtpSecurity::Plain,
            smtp_credentials: None,
            accept_invalid_certs: false,
            imap_host: "127.0.0.1".into(),
            imap_port,
            imap_user: address.to_ascii_lowercase(),
            imap_password: password.into(),
            mailbox: "INBOX".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

type Session = imap::Session<TcpStream>;

/// [`MailTransport`] over SMTP and IMAP.
pub struct SmtpImapTransport {
    config: Arc<SmtpImapConfig>,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    session: Arc<Mutex<Option<Session>>>,
}

impl fmt::Debug for SmtpImapTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpImapTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SmtpImapTransport {
    /// Prepares the SMTP client (no connection is made until the first send or fetch).
    pub fn new(config: SmtpImapConfig) -> Result<Self, MailError> {
        let address = super::message::parse_address(&config.address)?;
        let helo = address.rsplit_once('@').map_or("localhost", |(_, d)| d);
        let tls_params = || {
            TlsParameters::builder(config.smtp_host.clone())
                .dangerous_accept_invalid_certs(config.accept_invalid_certs)
                .build()
                .map_err(|e| MailError::Smtp(format!("TLS parameters: {e}")))
        };
        let tls = match config.smtp_security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_params()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_params()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host)
                .port(config.smtp_port)
                .timeout(Some(config.timeout))
                .hello_name(ClientId::Domain(helo.to_owned()))
                .tls(tls);
        if let Some((user, password)) = &config.smtp_credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            smtp: builder.build(),
            config: Arc::new(SmtpImapConfig { address, ..config }),
            session: Arc::default(),
        })
    }

    /// Logs the kept IMAP session out (a later fetch opens a new one).
    pub async fn disconnect(&self) {
        let slot = self.session.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let session = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(mut s) = session {
                let _ = s.logout();
            }
        })
        .await;
    }
}

impl MailTransport for SmtpImapTransport {
    fn address(&self) -> &str {
        &self.config.address
    }

    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> MailFuture<'a, MessageId> {
        Box::pin(async move {
            let (from, to) = mail.addresses()?;
            let mut raw = mail.to_rfc5322()?;
            // lettre ends DATA with "\r\n.\r\n" whatever the message ends with: drop our
            // final line break so the delivered bytes are exactly the rendered ones.
            if raw.ends_with(b"\r\n") {
                raw.truncate(raw.len() - 2);
            }
            let parse = |a: &str| {
                a.parse::<lettre::Address>()
                    .map_err(|_| MailError::InvalidAddress(a.to_owned()))
            };
            let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
            let envelope = lettre::address::Envelope::new(Some(parse(&from)?), to)
                .map_err(|e| MailError::InvalidMessage(e.to_string()))?;
            self.smtp.send_raw(&envelope, &raw).await.map_err(|e| {
                if e.is_permanent() {
                    MailError::Rejected(e.to_string())
                } else {
                    MailError::Smtp(e.to_string())
                }
            })?;
            Ok(mail.message_id.clone())
        })
    }

    fn fetch_new(&self, since: Option<HighWaterMark>, limit: usize) -> MailFuture<'_, FetchBatch> {
        let config = self.config.clone();
        let slot = self.session.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || fetch_blocking(&config, &slot, since, limit))
                .await
                .map_err(|e| MailError::Imap(format!("fetch task failed: {e}")))?
        })
    }
}

fn imap_err(what: &str) -> impl Fn(imap::Error) -> MailError + '_ {
    move |e| MailError::Imap(format!("{what}: {e}"))
}

fn connect(config: &SmtpImapConfig) -> Result<Session, MailError> {
    let target = format!("{}:{}", config.imap_host, config.imap_port);
    let addr = (config.imap_host.as_str(), config.imap_port)
        .to_socket_addrs()
        .map_err(|e| MailError::Imap(format!("resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| MailError::Imap(format!("resolve {target}: no address")))?;
    let tcp = TcpStream::connect_timeout(&addr, config.timeout)
        .map_err(|e| MailError::Imap(format!("connect {target}: {e}")))?;
    let io = |e: std::io::Error| MailError::Imap(format!("socket {target}: {e}"));
    tcp.set_read_timeout(Some(config.timeout)).map_err(io)?;
    tcp.set_write_timeout(Some(config.timeout)).map_err(io)?;
    let mut client = imap::Client::new(tcp);
    client.read_greeting().map_err(imap_err("greeting"))?;
    client
        .login(&config.imap_user, &config.imap_password)
        .map_err(|(e, _)| MailError::Imap(format!("login as {}: {e}", config.imap_user)))
}

fn fetch_blocking(
    config: &SmtpImapConfig,
    slot: &Mutex<Option<Session>>,
    since: Option<HighWaterMark>,
    limit: usize,
) -> Result<FetchBatch, MailError> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let reused = slot.is_some();
        let session = match slot.as_mut() {
            Some(s) => s,
            None => slot.insert(connect(config)?),
        };
        match fetch_on(session, config, since, limit) {
            Ok(batch) => return Ok(batch),
            Err(e) => {
                *slot = None;
                if !reused {
                    return Err(e);
                }
                tracing::debug!(error = %e, "IMAP session broke; reconnecting once");
            }
        }
    }
}

fn fetch_on(
    session: &mut Session,
    config: &SmtpImapConfig,
    since: Option<HighWaterMark>,
    limit: usize,
) -> Result<FetchBatch, MailError> {
    // Re-SELECT every time: it shows mail delivered since the last command and the current
    // UIDVALIDITY.
    let mailbox = session
        .select(&config.mailbox)
        .map_err(imap_err("SELECT"))?;
    let validity = mailbox
        .uid_validity
        .ok_or_else(|| MailError::Imap("SELECT gave no UIDVALIDITY".into()))?;
    let after = match since {
        Some(m) if m.uid_validity == validity => m.uid,
        _ => 0,
    };
    let found = if mailbox.exists == 0 || after == u32::MAX {
        Default::default()
    } else {
        session
            .uid_search(format!("UID {}:*", after + 1))
            .map_err(imap_err("UID SEARCH"))?
    };
    let p = plan(validity, found, since, limit);
    let mut messages = Vec::with_capacity(p.uids.len());
    if !p.uids.is_empty() {
        let set: Vec<String> = p.uids.iter().map(u32::to_string).collect();
        let fetches = session
            .uid_fetch(set.join(","), "(UID BODY.PEEK[])")
            .map_err(imap_err("UID FETCH"))?;
        let mut bodies: Vec<(u32, Vec<u8>)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect();
        bodies.sort_by_key(|(uid, _)| *uid);
        // A UID searched but not fetched was expunged in between: it is gone, skip it.
        for (uid, raw) in bodies {
            if p.uids.binary_search(&uid).is_ok() {
                messages.push(MailMessage::parse(uid, raw));
            }
        }
    }
    Ok(FetchBatch {
        messages,
        mark: p.mark,
        more: p.more,
        validity_changed: p.validity_changed,
    })
}
