//! Traces for the console, read from Jaeger's HTTP query API, so they work with a
//! Jaeger built from source, which serves no UI. The page asks the console (its only
//! origin); the console asks Jaeger, passing on only the query parameters Jaeger's
//! search takes (jaegertracing/jaeger `cmd/query/app/query_parser.go`: service,
//! operation, tags (a JSON map), start and end (microseconds), minDuration and
//! maxDuration (Go durations), limit; routes in `cmd/query/app/http_handler.go`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::components::jaeger;
use crate::running::RunningStack;

/// The search parameters passed on to Jaeger; any other is dropped.
const SEARCH_PARAMS: &[&str] = &["service", "operation", "tags", "start", "end", "minDuration", "maxDuration", "limit"];

/// Jaeger's query API base, from the running stack.
fn jaeger_api(app: &App) -> Option<String> {
    let stack = RunningStack::recorded(&app.paths).ok().flatten();
    stack.as_ref().and_then(|s| s.endpoint(jaeger::QUERY)).map(|u| u.trim_end_matches('/').to_owned())
}

fn no_jaeger() -> Response {
    let error = "this stack runs no Jaeger: there are no traces to show";
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": error }))).into_response()
}

/// GETs `url` from Jaeger and answers with what Jaeger answered.
async fn relay(url: String) -> Response {
    super::relay(crate::http::local_client(Duration::from_secs(15)).get(url), "Jaeger").await
}

/// The services Jaeger has spans of.
pub async fn services(State(app): State<Arc<App>>) -> Response {
    match jaeger_api(&app) {
        Some(api) => relay(format!("{api}/api/services")).await,
        None => no_jaeger(),
    }
}

/// The operations of one service.
pub async fn operations(State(app): State<Arc<App>>, Path(service): Path<String>) -> Response {
    match jaeger_api(&app) {
        Some(api) => relay(format!("{api}/api/services/{}/operations", encode(&service))).await,
        None => no_jaeger(),
    }
}

/// A search, with Jaeger's own parameters.
pub async fn search(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let Some(api) = jaeger_api(&app) else {
        return no_jaeger();
    };
    let kept: Vec<&str> = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| SEARCH_PARAMS.contains(&pair.split('=').next().unwrap_or_default()))
        .collect();
    relay(format!("{api}/api/traces?{}", kept.join("&"))).await
}

/// One trace, by id.
pub async fn trace(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": "a trace id is 1 to 32 hex digits" })))
            .into_response();
    }
    match jaeger_api(&app) {
        Some(api) => relay(format!("{api}/api/traces/{id}")).await,
        None => no_jaeger(),
    }
}

/// `text` as one URL path segment.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
