//! The console's API over the running stack: its status (once, and live as
//! server-sent events), restarting a component, a component's log (live, and as a
//! download) and doctor. Each calls the operation the terminal calls.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

use super::App;
use crate::ops::status::StatusOptions;
use crate::supervisor::control::{self, Request};

/// How often the stack page hears the stack's status.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// An error as the page shows it.
fn failed(status: StatusCode, e: impl std::fmt::Display) -> Response {
    (status, Json(serde_json::json!({ "error": format!("{e:#}") }))).into_response()
}

/// The stack's status now: what `status --json` prints.
pub async fn stack(State(app): State<Arc<App>>) -> Response {
    let options = StatusOptions { paths: app.paths.clone(), wait: None };
    match crate::ops::status::run(options, &app.shutdown).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The stack's status every second, for as long as the page listens: nothing is
/// computed while no page is open.
pub async fn stack_events(State(app): State<Arc<App>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let mut memory = crate::status::UiMemory::default();
        loop {
            let options = StatusOptions { paths: app.paths.clone(), wait: None };
            let event = match crate::ops::status::run_remembering(options, &mut memory, &app.shutdown).await {
                Ok(Some(report)) => Event::default().event("status").json_data(&report),
                Ok(None) => {
                    let error = format!("no stack has run in {}", app.paths.root.display());
                    Event::default().event("failure").json_data(serde_json::json!({ "error": error }))
                }
                Err(e) => Event::default().event("failure").json_data(serde_json::json!({ "error": format!("{e:#}") })),
            };
            let Ok(event) = event else { break };
            if tx.send(Ok(event)).await.is_err() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(STATUS_EVERY) => {}
                () = tx.closed() => break,
                () = app.shutdown.cancelled() => break,
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

/// Restarts one component (or app): the supervisor stops it, its restart policy
/// starts it again.
pub async fn restart(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    supervise(&app, Request::Restart { name }).await
}

/// Stops one component (or app) until it is started again. Not the console itself:
/// the page would go with it, and nothing would be left to start it again.
pub async fn stop(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    if name == crate::components::ComponentId::Console.name() {
        let error = "the console cannot stop itself: `obsdemo down` stops the whole stack";
        return failed(StatusCode::CONFLICT, error);
    }
    supervise(&app, Request::Hold { name }).await
}

/// Starts again a component stopped from the console.
pub async fn start(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    supervise(&app, Request::Release { name }).await
}

/// Asks the supervisor; its refusal is a conflict, its silence unavailability.
async fn supervise(app: &App, request: Request) -> Response {
    match control::request(&app.paths.socket(), request, Duration::from_secs(10)).await {
        Ok(answer) if answer.get("error").is_some() => (StatusCode::CONFLICT, Json(answer)).into_response(),
        Ok(answer) => Json(answer).into_response(),
        Err(e) => failed(StatusCode::SERVICE_UNAVAILABLE, format!("the supervisor did not answer: {e}")),
    }
}

/// How much of a log the page starts with.
#[derive(Deserialize)]
pub struct LogQuery {
    /// The last lines first sent.
    #[serde(default = "default_lines")]
    lines: usize,
}

fn default_lines() -> usize {
    200
}

/// The names a log may have here: the recorded components and the supervisor.
fn log_names(app: &App) -> Vec<String> {
    let recorded = crate::running::RunningStack::recorded(&app.paths).ok().flatten();
    let mut names: Vec<String> = recorded.map(|s| s.component_names()).unwrap_or_default();
    names.push("supervisor".to_owned());
    names
}

/// A component's log: its last lines, then what is written, as it is written, in
/// pieces of at most 256 KiB (a long log streams; it is never read whole).
pub async fn log_events(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> Response {
    let mut log = match crate::ops::logs::open(&log_names(&app), &app.paths, &name, query.lines.min(5000)) {
        Ok(log) => log,
        Err(e) => return failed(StatusCode::NOT_FOUND, e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(8);
    tokio::spawn(async move {
        let first = if log.tail.is_empty() { String::new() } else { format!("{}\n", log.tail) };
        if tx.send(Ok(Event::default().event("append").data(first))).await.is_err() {
            return;
        }
        loop {
            let chunk = tokio::select! {
                chunk = log.follow.next(&app.shutdown) => chunk,
                () = tx.closed() => return,
            };
            let Ok(Some(bytes)) = chunk else { return };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if tx.send(Ok(Event::default().event("append").data(text))).await.is_err() {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()).into_response()
}

/// The whole log file, streamed as a download.
pub async fn log_download(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    if !log_names(&app).contains(&name) {
        return failed(StatusCode::NOT_FOUND, format!("no component named `{name}`"));
    }
    let path = app.paths.log(&name);
    match tokio::fs::File::open(&path).await {
        Ok(file) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.log\"")),
            ],
            Body::from_stream(tokio_util::io::ReaderStream::new(file)),
        )
            .into_response(),
        Err(e) => failed(StatusCode::NOT_FOUND, format!("cannot open {}: {e}", path.display())),
    }
}

/// Walks the path telemetry takes: what `doctor --json` prints.
pub async fn doctor(State(app): State<Arc<App>>) -> Response {
    match crate::ops::doctor::run(&app.paths, &app.shutdown).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
