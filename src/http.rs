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
///
/// One client per timeout is built for the whole process and handed out as clones
/// (which share it): building one parses the system's root certificates, and a caller
/// that probes the stack every second (the console) would spend most of its CPU there.
/// It keeps no idle connection: a pooled connection belongs to the runtime that made
/// it, and a process may run several runtimes one after the other (the tests do).
pub fn local_client(timeout: std::time::Duration) -> reqwest::Client {
    static CLIENTS: std::sync::Mutex<Vec<(std::time::Duration, reqwest::Client)>> = std::sync::Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, client)) = clients.iter().find(|(t, _)| *t == timeout) {
        return client.clone();
    }
    let client = client_builder()
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client with these settings always builds");
    clients.push((timeout, client.clone()));
    client
}
