//! The demo microservices: Order, Payment, Inventory, Shipping and Notification, each
//! its own process (`obsdemo service NAME`), each exporting spans over OTLP/gRPC with
//! its own `service.name`. One `POST /orders` is one trace across all five.
//!
//! - [`config`]: `services.json`, what obsdemo renders for them.
//! - [`telemetry`]: tracer provider, exporter, propagator, subscriber.
//! - [`spans`]: the process's tracer and how spans are made.
//! - [`tracing_http`]: server and client spans, `traceparent` in and out.
//! - [`work`]: simulated latency and errors as inner spans.
//! - [`order`], [`backends`]: the APIs.
//!
//! Nothing here depends on the orchestrator.

pub mod backends;
pub mod config;
pub mod order;
pub mod otlp;
pub mod spans;
pub mod telemetry;
pub mod tracing_http;
pub mod work;

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use config::{ServiceSpec, ServicesFile};
use tracing_http::ServerAddress;
use work::Work;

/// A demo service that cannot start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The services file cannot be read, or does not list the service.
    #[error("{0}")]
    Config(String),
    /// Its spec is unusable.
    #[error("{name}: {why}")]
    BadSpec {
        /// The service.
        name: String,
        /// Why.
        why: String,
    },
    /// Telemetry could not be set up.
    #[error("cannot set up telemetry: {0}")]
    Telemetry(String),
    /// Listening or serving failed.
    #[error("cannot serve on {listen}: {source}")]
    Serve {
        /// The address.
        listen: String,
        /// The error.
        source: std::io::Error,
    },
}

impl crate::error::HasKind for ServiceError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Config(_) | Self::BadSpec { .. } => crate::error::ErrorKind::InvalidInput,
            Self::Telemetry(_) | Self::Serve { .. } => crate::error::ErrorKind::Failure,
        }
    }
}

/// Runs service `name` from `services_file` until `shutdown` is cancelled. With
/// `export` false it serves without exporting spans.
pub async fn run(
    name: &str,
    services_file: &Path,
    export: bool,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    // The simulated latency is a Tokio sleep; on Windows it would tick every 15.6 ms.
    let _timers = crate::platform::precise_timers();
    let (file, spec) = ServicesFile::load(services_file, name)?;
    serve(file, spec, export, shutdown).await
}

async fn serve(
    file: ServicesFile,
    spec: ServiceSpec,
    export: bool,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    // First thing: traces from the very first request must have somewhere to go.
    let telemetry = telemetry::init(&spec.name, &file.otlp_endpoint, export)?;
    let listener = tokio::net::TcpListener::bind(&spec.listen)
        .await
        .map_err(|source| ServiceError::Serve { listen: spec.listen.clone(), source })?;
    let listen = spec.listen.clone();
    let app = router(spec)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| ServiceError::Serve { listen, source })?;
    telemetry.shutdown().await;
    Ok(())
}

/// The service's routes, each traced, plus an untraced `/healthz` for probes.
pub fn router(spec: ServiceSpec) -> Result<Router, ServiceError> {
    let bad = |why: String| ServiceError::BadSpec { name: spec.name.clone(), why };
    let addr: std::net::SocketAddr =
        spec.listen.parse().map_err(|e| bad(format!("bad listen address {}: {e}", spec.listen)))?;
    let server = ServerAddress { host: addr.ip().to_string().into(), port: addr.port() };
    let work = Work { latency: Duration::from_millis(spec.latency_ms), error_rate: spec.error_rate };
    let client = crate::http::local_client(Duration::from_secs(10));
    let routes = match spec.kind.as_str() {
        "order" => order::routes(spec, client, work),
        "payment" => backends::payment(spec, client, work),
        "inventory" => backends::inventory(spec, client, work),
        "shipping" => backends::shipping(spec, client, work),
        "notification" => backends::notification(spec, client, work),
        other => return Err(bad(format!("unknown service kind `{other}`"))),
    };
    Ok(routes
        .route_layer(axum::middleware::from_fn_with_state(server, tracing_http::server_span))
        .route("/healthz", get(|| async { "ok" })))
}
