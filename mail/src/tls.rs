//! The TLS setting every connection of Bazaar shares, mail and HTTP alike.

/// Makes ring rustls's process-wide crypto provider unless one is set already. The HTTP
/// client (reqwest, built without a provider of its own) takes it from there, and panics
/// without one: call this before building any `reqwest::Client`. Calling again does nothing.
pub fn install_crypto_provider() {
    // An error only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
