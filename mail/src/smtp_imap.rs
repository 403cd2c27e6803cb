//! The real transport: lettre's async SMTP client to send, the `imap` crate (blocking, run on
//! `spawn_blocking`) to fetch. One IMAP session is kept between fetches and re-SELECTs the
//! mailbox every time (a selected session does not see new mail until NOOP or re-SELECT);
//! a broken session is replaced once. IMAP runs in plain text (loopback test servers) or over
//! implicit TLS (port 993, rustls with the webpki roots). [`MailTransport::wait_for_mail`]
//! uses IMAP IDLE on a second session when the server offers it.

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

/// How IMAP is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapSecurity {
    /// No TLS (loopback test servers only).
    Plain,
    /// Implicit TLS from the first byte (port 993).
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
    /// IMAP protection.
    pub imap_security: ImapSecurity,
    /// IMAP login.
    pub imap_user: String,
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
            imap_security: ImapSecurity::Plain,
            imap_user: address.to_ascii_lowercase(),
            imap_password: password.into(),
            mailbox: "INBOX".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl SmtpImapConfig {
    /// The agent's mailbox as `[mail]` configures it: `tls = "starttls"` is SMTP STARTTLS,
    /// `"implicit"` SMTP over TLS from the first byte; IMAP uses implicit TLS either way
    /// (port 993), and plain text only with `tls = "none"` (loopback hosts only).
    pub fn from_config(
        mail: &bazaar_config::MailConfig,
    ) -> Result<Self, bazaar_config::ConfigError> {
        let password = match &mail.password {
            Some(secret) => secret.resolve("mail.password")?.expose().to_string(),
            None => String::new(),
        };
        let (smtp_security, imap_security) = match mail.tls {
            bazaar_config::MailTls::Starttls => (SmtpSecurity::StartTls, ImapSecurity::Tls),
            bazaar_config::MailTls::Implicit => (SmtpSecurity::Tls, ImapSecurity::Tls),
            bazaar_config::MailTls::None => (SmtpSecurity::Plain, ImapSecurity::Plain),
        };
        let user = if mail.username.is_empty() {
            mail.from_address.clone()
        } else {
            mail.username.clone()
        };
        Ok(SmtpImapConfig {
            address: mail.from_address.to_ascii_lowercase(),
            smtp_host: mail.smtp_host.clone(),
            smtp_port: mail.smtp_port,
            smtp_security,
            smtp_credentials: (!password.is_empty()).then(|| (user.clone(), password.clone())),
            accept_invalid_certs: false,
            imap_host: mail.imap_host.clone(),
            imap_port: mail.imap_port,
            imap_security,
            imap_user: user,
            imap_password: password,
            mailbox: "INBOX".into(),
            timeout: Duration::from_secs(30),
        })
    }
}

type Session = imap::Session<ImapStream>;

/// The IMAP connection: plain TCP or rustls over TCP.
enum ImapStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl std::io::Read for ImapStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ImapStream::Plain(s) => s.read(buf),
            ImapStream::Tls(s) => s.read(buf),
        }
    }
}

impl std::io::Write for ImapStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ImapStream::Plain(s) => s.write(buf),
            ImapStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ImapStream::Plain(s) => s.flush(),
            ImapStream::Tls(s) => s.flush(),
        }
    }
}

impl imap::extensions::idle::SetReadTimeout for ImapStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::Result<()> {
        let tcp = match self {
            ImapStream::Plain(s) => &*s,
            ImapStream::Tls(s) => s.get_ref(),
        };
        tcp.set_read_timeout(timeout).map_err(imap::Error::Io)
    }
}

/// Accepts any certificate: only for self-signed test servers (`accept_invalid_certs`).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_stream(config: &SmtpImapConfig, tcp: TcpStream) -> Result<ImapStream, MailError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| MailError::Imap(format!("tls setup: {e}")))?;
    let tls = if config.accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        crate::tls::client_config()
    };
    let name = rustls::pki_types::ServerName::try_from(config.imap_host.clone())
        .map_err(|e| MailError::Imap(format!("tls server name {:?}: {e}", config.imap_host)))?;
    let connection = rustls::ClientConnection::new(Arc::new(tls), name)
        .map_err(|e| MailError::Imap(format!("tls: {e}")))?;
    Ok(ImapStream::Tls(Box::new(rustls::StreamOwned::new(
        connection, tcp,
    ))))
}

/// [`MailTransport`] over SMTP and IMAP.
pub struct SmtpImapTransport {
    config: Arc<SmtpImapConfig>,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    session: Arc<Mutex<Option<Session>>>,
    /// A second session for IDLE, so a fetch never waits behind it.
    idle: Arc<Mutex<Option<Session>>>,
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
                .dangerous_accept_invalid_hostnames(config.accept_invalid_certs)
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
            idle: Arc::default(),
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

    fn wait_for_mail(&self, timeout: Duration) -> MailFuture<'_, bool> {
        let config = self.config.clone();
        let slot = self.idle.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || idle_blocking(&config, &slot, timeout))
                .await
                .map_err(|e| MailError::Imap(format!("idle task failed: {e}")))?
        })
    }
}

/// Waits in IDLE until the mailbox changes (`true`) or `timeout` passes (`false`); a server
/// without IDLE gives [`MailError::Unsupported`] and the caller polls instead.
fn idle_blocking(
    config: &SmtpImapConfig,
    slot: &Mutex<Option<Session>>,
    timeout: Duration,
) -> Result<bool, MailError> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    let session = match slot.as_mut() {
        Some(s) => s,
        None => slot.insert(connect(config)?),
    };
    let outcome = (|| {
        let capabilities = session.capabilities().map_err(imap_err("CAPABILITY"))?;
        if !capabilities.has_str("IDLE") {
            return Err(MailError::Unsupported(
                "the IMAP server does not offer IDLE".into(),
            ));
        }
        session
            .select(&config.mailbox)
            .map_err(imap_err("SELECT"))?;
        let mut handle = session.idle();
        handle.timeout(timeout).keepalive(false);
        let waited = handle
            .wait_while(imap::extensions::idle::stop_on_any)
            .map_err(imap_err("IDLE"))?;
        Ok(waited == imap::extensions::idle::WaitOutcome::MailboxChanged)
    })();
    if matches!(outcome, Err(MailError::Imap(_))) {
        // A broken session is replaced on the next wait.
        *slot = None;
    }
    outcome
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
    let stream = match config.imap_security {
        ImapSecurity::Plain => ImapStream::Plain(tcp),
        ImapSecurity::Tls => tls_stream(config, tcp)?,
    };
    let mut client = imap::Client::new(stream);
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
