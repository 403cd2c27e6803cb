//! The TLS every connection of Bazaar shares, mail and HTTP alike: rustls with ring, and the
//! Mozilla roots compiled in (webpki-roots), so a host without a CA bundle (a slim container)
//! still reaches eBay, Craigslist, a webhook or a mail server, and every connection trusts
//! the same roots.

use std::sync::Arc;

/// Makes ring rustls's process-wide crypto provider unless one is set already. reqwest is
/// built without a provider of its own and panics building a client that has none and no
/// [`client_config`]: call this before `reqwest::Client::builder()` (tests, benches).
/// Calling again does nothing.
pub fn install_crypto_provider() {
    // An error only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS client configuration trusting the compiled-in roots, for
/// `reqwest::ClientBuilder::tls_backend_preconfigured` (and the IMAP connection).
pub fn client_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth()
}
