//! The console: one page over the running stack (its components and apps, their
//! logs, load runs and doctor), live. It is served by `obsdemo console`, a process the
//! supervisor runs like any component, and it calls the same operations as the
//! terminal (`ops`), reading the stack through its state dir.
//!
//! - [`guard`]: the token, the cookie, same-origin actions and the security headers.
//! - [`api`]: the stack, restarts, logs and doctor, as JSON and server-sent events.
//! - [`runs`]: load runs started from the page, their live events and reports.
//! - [`traces`]: trace search and whole traces, from Jaeger's query API.
//! - [`metrics`]: the system dashboard's panels, queried on Prometheus.
//! - [`assets`]: the page itself, compiled in: nothing is loaded from the network.

mod api;
mod assets;
mod guard;
mod metrics;
mod runs;
mod traces;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::runtime::CancellationToken;
use crate::stack::StatePaths;

/// Where the console serves, for which stack.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    /// The stack's state dir.
    pub paths: StatePaths,
    /// The address to listen on (the stack's `bind` and the console's port).
    pub listen: SocketAddr,
}

/// What every handler shares.
struct App {
    paths: StatePaths,
    /// The stack's token, from its secrets (mode 0600).
    token: String,
    /// The cookie carrying it: named by port, as browsers share cookies across the
    /// ports of one host and a second stack must not take the first's.
    cookie: String,
    runs: runs::Runs,
    shutdown: CancellationToken,
}

/// Sends `request` to a component of the stack (Jaeger, Prometheus) and answers the
/// page with what it answered, status and JSON body as they are; `who` names it when
/// it does not answer.
async fn relay(request: reqwest::RequestBuilder, who: &str) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let gateway = |e: &dyn std::fmt::Display| {
        let error = format!("{who} did not answer: {e}");
        (StatusCode::BAD_GATEWAY, axum::Json(serde_json::json!({ "error": error }))).into_response()
    };
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            match answer.bytes().await {
                Ok(body) => (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
                Err(e) => gateway(&e),
            }
        }
        Err(e) => gateway(&e),
    }
}

/// Serves the console until `shutdown`.
pub async fn serve(options: ConsoleOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    let token_file = options.paths.console_token();
    let token = std::fs::read_to_string(&token_file)
        .map_err(|e| anyhow::anyhow!("cannot read the console's token {}: {e}", token_file.display()))?
        .trim()
        .to_owned();
    anyhow::ensure!(token.len() >= 16, "the console's token in {} is too short", token_file.display());
    let app = Arc::new(App {
        paths: options.paths,
        token,
        cookie: format!("obsdemo_console_{}", options.listen.port()),
        runs: runs::Runs::default(),
        shutdown: shutdown.clone(),
    });
    let router = Router::new()
        .route("/", get(assets::page))
        .route("/console.js", get(assets::script))
        .route("/console.css", get(assets::style))
        .route("/api/stack", get(api::stack))
        .route("/api/stack/events", get(api::stack_events))
        .route("/api/components/{name}/restart", post(api::restart))
        .route("/api/components/{name}/stop", post(api::stop))
        .route("/api/components/{name}/start", post(api::start))
        .route("/api/logs/{name}", get(api::log_events))
        .route("/api/logs/{name}/download", get(api::log_download))
        .route("/api/doctor", post(api::doctor))
        .route("/api/load", get(runs::list).post(runs::start))
        .route("/api/load/{id}/events", get(runs::events))
        .route("/api/metrics/dashboards", get(metrics::dashboards))
        .route("/api/metrics/dashboard", get(metrics::dashboard))
        .route("/api/metrics/query_range", get(metrics::query_range))
        .route("/api/traces", get(traces::search))
        .route("/api/traces/services", get(traces::services))
        .route("/api/traces/services/{service}/operations", get(traces::operations))
        .route("/api/traces/{id}", get(traces::trace))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard::guard))
        // Outside the guard: the supervisor's readiness probe has no token.
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn(guard::headers))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.listen))?;
    eprintln!("console: serving on http://{}", options.listen);
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
}
