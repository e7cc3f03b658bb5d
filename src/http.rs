//! The one way this crate builds an HTTP client.
//!
//! reqwest is compiled with rustls and no default crypto provider (ring is smaller and
//! builds faster than aws-lc), so the provider must be installed once before any
//! client is built; [`client_builder`] does that.

use std::sync::Once;

/// A reqwest client builder with TLS ready and an identifying user agent.
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one first; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().user_agent(concat!("obsdemo/", env!("CARGO_PKG_VERSION")))
}

/// A client for the stack's own loopback endpoints: no proxy may answer for them.
pub fn local_client(timeout: std::time::Duration) -> reqwest::Client {
    client_builder().no_proxy().timeout(timeout).build().expect("a client with these settings always builds")
}
