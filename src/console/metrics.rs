//! System metrics for the console: the panels of the provisioned Grafana dashboard
//! (`components::dashboards`, the one definition of both), and their queries run on
//! Prometheus's `query_range` (prometheus `web/api/v1/api.go`: `/api/v1/query_range`
//! with query, start, end, step).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::App;
use crate::components::{collector, dashboards, prometheus};
use crate::running::RunningStack;

fn prometheus_api(app: &App) -> Option<String> {
    let stack = RunningStack::recorded(&app.paths).ok().flatten();
    stack.as_ref().and_then(|s| s.endpoint(prometheus::API)).map(|u| u.trim_end_matches('/').to_owned())
}

fn no_prometheus() -> Response {
    let error = "this stack runs no Prometheus: there are no system metrics to show";
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Which dashboard: `system` (the default) or `red`.
#[derive(Deserialize)]
pub struct Which {
    #[serde(default)]
    name: Option<String>,
}

/// The dashboards this stack has: the system one, and RED where the Collector makes it.
pub async fn dashboards(State(app): State<Arc<App>>) -> Response {
    let mut list = vec![serde_json::json!({ "name": "system", "title": dashboards::system_resources().title })];
    if collector::makes_red(&app.paths.rendered()) {
        list.push(serde_json::json!({ "name": "red", "title": dashboards::red().title }));
    }
    Json(list).into_response()
}

/// A dashboard's panels, and how often Prometheus scrapes (the page sizes its rate
/// windows by it, as Grafana's `$__rate_interval` does).
pub async fn dashboard(State(app): State<Arc<App>>, Query(which): Query<Which>) -> Response {
    let Some(api) = prometheus_api(&app) else {
        return no_prometheus();
    };
    let drawn = match which.name.as_deref() {
        Some("red") => dashboards::red(),
        _ => dashboards::system_resources(),
    };
    let scrape = prometheus::scrape_targets(&api).await.and_then(|t| t.into_iter().next()).map(|t| t.scrape_interval);
    let seconds =
        scrape.as_deref().and_then(|s| s.parse::<crate::stack::HumanDuration>().ok()).map(|d| d.get().as_secs_f64());
    Json(serde_json::json!({
        "title": drawn.title,
        "panels": drawn.panels,
        "scrape_interval_s": seconds.unwrap_or(15.0),
    }))
    .into_response()
}

/// One range query.
#[derive(Deserialize)]
pub struct RangeQuery {
    query: String,
    start: f64,
    end: f64,
    step: f64,
}

/// Runs one range query on Prometheus and answers with Prometheus's answer.
pub async fn query_range(State(app): State<Arc<App>>, Query(q): Query<RangeQuery>) -> Response {
    let Some(api) = prometheus_api(&app) else {
        return no_prometheus();
    };
    if !(q.step >= 1.0 && q.end > q.start && (q.end - q.start) / q.step <= 11_000.0) {
        let error = "a range needs end after start and at most 11,000 steps of at least 1 s";
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": error }))).into_response();
    }
    let client = crate::http::local_client(Duration::from_secs(15));
    let form =
        [("query", q.query), ("start", q.start.to_string()), ("end", q.end.to_string()), ("step", q.step.to_string())];
    super::relay(client.get(format!("{api}/api/v1/query_range")).query(&form), "Prometheus").await
}
