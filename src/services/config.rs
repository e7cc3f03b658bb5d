//! `services.json`: everything a demo service needs at start, rendered by obsdemo
//! from `stack.toml` so a service never reads the stack model itself.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The whole file: shared settings and every service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicesFile {
    /// Where spans go over OTLP/gRPC (the Collector, or Jaeger when direct).
    pub otlp_endpoint: String,
    /// Every service.
    pub services: Vec<ServiceSpec>,
}

/// One service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Its `service.name`.
    pub name: String,
    /// `order`, `payment`, `inventory`, `shipping` or `notification`.
    pub kind: String,
    /// Address and port to listen on (`127.0.0.1:8001`).
    pub listen: String,
    /// Simulated work per request, in milliseconds.
    pub latency_ms: u64,
    /// Share of requests that fail.
    pub error_rate: f64,
    /// The services it calls.
    pub calls: Vec<Peer>,
}

/// A service called by another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    /// Its `service.name`.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its base URL.
    pub url: String,
}

impl ServicesFile {
    /// Reads the file and returns it with the spec of `name`.
    pub fn load(path: &Path, name: &str) -> Result<(Self, ServiceSpec), super::ServiceError> {
        let error = |why: String| super::ServiceError::Config(why);
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
        let file: Self = serde_json::from_slice(&bytes)
            .map_err(|e| error(format!("{} is not a services file: {e}", path.display())))?;
        let spec = file.services.iter().find(|s| s.name == name).cloned().ok_or_else(|| {
            let known: Vec<&str> = file.services.iter().map(|s| s.name.as_str()).collect();
            error(format!("no service `{name}` in {}; it has {}", path.display(), known.join(", ")))
        })?;
        Ok((file, spec))
    }

    /// The peer of `spec` with kind `kind`, if it calls one.
    pub fn peer<'a>(spec: &'a ServiceSpec, kind: &str) -> Option<&'a Peer> {
        spec.calls.iter().find(|p| p.kind == kind)
    }
}
