//! Load runs started from the console: each is [`crate::ops::load::run`] in a task of
//! its own, with a sink that keeps every event, so a page opened during (or after) the
//! run replays it and then follows it live. The last runs are kept with their reports.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;

use super::App;
use crate::load::report::Gates;
use crate::load::schedule::Pacing;
use crate::ops::load::LoadRequest;
use crate::progress::{Event, Progress};
use crate::runtime::CancellationToken;
use crate::stack::HumanDuration;

/// How many finished runs the page lists.
const KEPT: usize = 20;

/// The runs of this console, newest last.
#[derive(Default)]
pub struct Runs {
    next: AtomicU64,
    runs: Mutex<Vec<Arc<Run>>>,
}

/// What the page asks for: `load`'s flags, by the same names.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LoadForm {
    /// Another URL than the demo's Order-service.
    #[serde(default)]
    url: Option<String>,
    /// Requests per second (open loop).
    #[serde(default = "default_rps")]
    rps: f64,
    /// Requests in flight instead (closed loop).
    #[serde(default)]
    concurrency: Option<usize>,
    /// How long, as `load --duration` takes it (`30s`, `2m`).
    #[serde(default = "default_duration")]
    duration: String,
    /// Operations and weights, as `load --mix`.
    #[serde(default)]
    mix: Option<String>,
    /// Check the traces (default: with the demo services).
    #[serde(default)]
    verify: Option<bool>,
}

fn default_rps() -> f64 {
    50.0
}

fn default_duration() -> String {
    "10s".into()
}

/// One run.
pub struct Run {
    id: u64,
    started_ms: u64,
    form: LoadForm,
    /// Every event so far, as JSON, each with its SSE name.
    events: Mutex<Vec<(&'static str, String)>>,
    /// The number of events, changed at each one; `finished` once the run is over.
    seen: watch::Sender<(usize, bool)>,
    /// The report, or why there is none.
    outcome: Mutex<Option<Result<serde_json::Value, String>>>,
    stop: CancellationToken,
}

impl Run {
    fn push(&self, name: &'static str, json: String) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.push((name, json));
        let n = events.len();
        self.seen.send_modify(|s| s.0 = n);
    }

    fn summary(&self) -> serde_json::Value {
        let outcome = self.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let (state, report, error) = match outcome {
            None => ("running", None, None),
            Some(Ok(report)) => {
                let passed = report["passed"].as_bool().unwrap_or(false);
                (if passed { "passed" } else { "failed" }, Some(report), None)
            }
            Some(Err(e)) => ("error", None, Some(e)),
        };
        serde_json::json!({
            "id": self.id, "started_ms": self.started_ms, "form": self.form,
            "state": state, "report": report, "error": error,
        })
    }
}

/// A run's sink: it keeps what a page shows (load figures, the check, warnings).
struct RunSink(Arc<Run>);

impl Progress for RunSink {
    fn event(&self, event: Event) {
        if matches!(event, Event::Load { .. } | Event::Checking { .. } | Event::Warning { .. })
            && let Ok(json) = serde_json::to_string(&event)
        {
            self.0.push("progress", json);
        }
    }
}

fn request(app: &App, form: &LoadForm) -> Result<LoadRequest, String> {
    let duration: HumanDuration = form.duration.parse().map_err(|e| format!("duration: {e}"))?;
    let mix = form
        .mix
        .clone()
        .unwrap_or_else(|| if form.url.is_some() { "get=1".to_owned() } else { "create=4,read=1".to_owned() });
    let (pacing, connections) = match form.concurrency {
        Some(c) => (Pacing::Closed, c),
        None if form.rps > 0.0 && form.rps.is_finite() => (Pacing::Rate(form.rps), 16),
        None => return Err("rps must be above 0".into()),
    };
    let url = form.url.clone().filter(|u| !u.trim().is_empty());
    Ok(LoadRequest {
        paths: app.paths.clone(),
        jaeger_storage: None,
        url,
        pacing,
        duration: duration.get().min(Duration::from_secs(3600)),
        connections,
        max_connections: 1024,
        timeout: Duration::from_secs(5),
        mix: mix.parse().map_err(|e| format!("mix: {e}"))?,
        verify: form.verify,
        verify_timeout: Duration::from_secs(60),
        gates: Gates { max_p99: None, max_error_rate: None, min_complete: 0.99 },
    })
}

/// Starts a run; one at a time.
pub async fn start(State(app): State<Arc<App>>, Json(form): Json<LoadForm>) -> Response {
    let request = match request(&app, &form) {
        Ok(request) => request,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e }))).into_response(),
    };
    let run = {
        let mut runs = app.runs.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if runs.iter().any(|r| r.outcome.lock().unwrap_or_else(PoisonError::into_inner).is_none()) {
            let error = "a load run is under way; wait for its report";
            return (StatusCode::CONFLICT, Json(serde_json::json!({ "error": error }))).into_response();
        }
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let run = Arc::new(Run {
            id: app.runs.next.fetch_add(1, Ordering::Relaxed) + 1,
            started_ms,
            form,
            events: Mutex::default(),
            seen: watch::channel((0, false)).0,
            outcome: Mutex::default(),
            stop: app.shutdown.child_token(),
        });
        runs.push(run.clone());
        let excess = runs.len().saturating_sub(KEPT);
        runs.drain(..excess);
        run
    };
    let id = run.id;
    tokio::spawn(async move {
        let sink = RunSink(run.clone());
        let result = crate::ops::load::run(request, &run.stop, &sink).await;
        let outcome = match result {
            Ok(report) => serde_json::to_value(&report).map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        };
        match &outcome {
            Ok(report) => run.push("report", report.to_string()),
            Err(e) => run.push("failure", serde_json::json!({ "error": e }).to_string()),
        }
        *run.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        run.seen.send_modify(|s| s.1 = true);
    });
    Json(serde_json::json!({ "id": id })).into_response()
}

/// The last runs, newest first, with their verdicts.
pub async fn list(State(app): State<Arc<App>>) -> Json<Vec<serde_json::Value>> {
    let runs = app.runs.runs.lock().unwrap_or_else(PoisonError::into_inner);
    Json(runs.iter().rev().map(|r| r.summary()).collect())
}

/// A run's events from its start, then live, ending with its report.
pub async fn events(State(app): State<Arc<App>>, Path(id): Path<u64>) -> Response {
    let run = app.runs.runs.lock().unwrap_or_else(PoisonError::into_inner).iter().find(|r| r.id == id).cloned();
    let Some(run) = run else {
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such run" }))).into_response();
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(16);
    tokio::spawn(async move {
        let mut seen = run.seen.subscribe();
        let mut sent = 0;
        loop {
            let (count, finished) = *seen.borrow_and_update();
            let batch: Vec<(&'static str, String)> =
                run.events.lock().unwrap_or_else(PoisonError::into_inner)[sent..count].to_vec();
            for (name, json) in batch {
                if tx.send(Ok(SseEvent::default().event(name).data(json))).await.is_err() {
                    return;
                }
            }
            sent = count;
            if finished {
                return;
            }
            tokio::select! {
                changed = seen.changed() => if changed.is_err() { return },
                () = tx.closed() => return,
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()).into_response()
}
