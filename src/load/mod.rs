//! The load generator behind `obsdemo load`.
//!
//! - [`schedule`]: when each request is due (open loop at a fixed rate, or closed loop).
//! - [`scenario`]: the weighted mix of API calls and their generated bodies.
//! - [`client`]: one keep-alive connection per worker.
//! - [`stats`]: HDR histogram and counts per worker, merged for the report.
//! - [`report`]: the report and its pass/fail gates.
//! - [`verify`]: finding the run's traces in Jaeger and checking each is complete.
//!
//! Every worker runs the same loop, whatever the pacing: take the next request
//! number, wait until it is due, send it, record it.

pub mod client;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod verify;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::services::tracing_http::RUN_ID_HEADER;
use client::{Connection, Outcome};
use scenario::{CreatedOrders, Mix, Operation};
use schedule::{Pacing, Schedule};
use stats::Recorder;

/// A load run or its verification that could not happen.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The target is not a URL obsdemo can load.
    #[error("`{target}` cannot be loaded: {why}")]
    BadTarget {
        /// The URL given.
        target: String,
        /// Why.
        why: String,
    },
    /// The target's host does not resolve.
    #[error("cannot resolve {host}: {why}")]
    Unresolved {
        /// The host.
        host: String,
        /// Why.
        why: String,
    },
    /// Jaeger could not be asked for the run's traces.
    #[error("cannot query Jaeger at {url}: {why}")]
    Jaeger {
        /// The search URL.
        url: String,
        /// Why.
        why: String,
    },
}

impl crate::error::HasKind for LoadError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::BadTarget { .. } => crate::error::ErrorKind::InvalidInput,
            Self::Unresolved { .. } | Self::Jaeger { .. } => crate::error::ErrorKind::Failure,
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Base URL of the target (`http://127.0.0.1:8001`).
    pub target: String,
    /// Open loop at a rate, or closed loop.
    pub pacing: Pacing,
    /// How long to send.
    pub duration: Duration,
    /// Keep-alive connections (= concurrency in closed loop).
    pub connections: usize,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// The operations and their weights.
    pub mix: Mix,
    /// Sent as a header on every request, so the run's traces can be found.
    pub run_id: String,
}

/// What the run was, for the report.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// The target URL.
    pub target: String,
    /// The asked rate, open loop only.
    pub requested_rps: Option<f64>,
    /// Connections used.
    pub connections: usize,
    /// The asked duration.
    pub duration: Duration,
    /// Wall-clock start, for finding the traces.
    pub started_at: SystemTime,
    /// Wall-clock end of the last request.
    pub finished_at: SystemTime,
    /// Stopped early (Ctrl-C): the report covers what was sent until then.
    pub interrupted: bool,
}

/// A moment of a running load, for live progress.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Time since the start.
    pub elapsed: Duration,
    /// Requests finished so far.
    pub finished: u64,
    /// Of those, not successful.
    pub errors: u64,
    /// Requests finished per second over the last tick.
    pub current_rps: f64,
    /// p99 latency so far.
    pub p99: Duration,
}

/// Runs the load, calling `progress` four times a second. Ends at `duration`, or
/// when `stop` is cancelled (no request is sent after that), plus at most `timeout`
/// for requests still in flight.
pub async fn run(
    options: &LoadOptions,
    stop: &CancellationToken,
    mut progress: impl FnMut(Progress),
) -> Result<(RunSummary, Recorder), LoadError> {
    let bad = |why: String| LoadError::BadTarget { target: options.target.clone(), why };
    let url = reqwest::Url::parse(&options.target).map_err(|e| bad(format!("not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(bad(format!("only http:// targets are supported, not {}", url.scheme())));
    }
    let host = url.host_str().ok_or_else(|| bad("the URL has no host".into()))?.to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let unresolved = |why: String| LoadError::Unresolved { host: host.clone(), why };
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| unresolved(e.to_string()))?
        .next()
        .ok_or_else(|| unresolved("it has no address".into()))?;
    let base_path = url.path().trim_end_matches('/').to_owned();
    let authority = format!("{host}:{port}");
    let headers = vec![(RUN_ID_HEADER.to_owned(), options.run_id.clone())];

    let started_at = SystemTime::now();
    let schedule = Schedule { start: Instant::now(), duration: options.duration, pacing: options.pacing };
    let next = Arc::new(AtomicU64::new(0));
    let created = Arc::new(CreatedOrders::default());
    let recorders: Vec<Arc<Mutex<Recorder>>> =
        (0..options.connections.max(1)).map(|_| Arc::new(Mutex::new(Recorder::default()))).collect();
    let mut workers = tokio::task::JoinSet::new();
    for recorder in &recorders {
        let (recorder, next, created) = (recorder.clone(), next.clone(), created.clone());
        let mut conn = Connection::new(addr, authority.clone(), headers.clone());
        let (mix, timeout, base_path) = (options.mix.clone(), options.timeout, base_path.clone());
        let stop = stop.clone();
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(due) = schedule.due(i) else { break };
                if stop.is_cancelled() {
                    break;
                }
                // Only wait for a request that is due later: tokio's timer rounds every
                // deadline up to the next millisecond, so sleeping until "now" would
                // hold each request back by up to 1 ms.
                if due > Instant::now() {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = stop.cancelled() => break,
                    }
                }
                let op = mix.pick();
                let req = scenario::request(op, &created, &base_path);
                let sent = Instant::now();
                let outcome = conn.send(&req, timeout).await;
                // Open loop counts from when the request was due, closed loop from the send.
                let latency = match schedule.pacing {
                    Pacing::Rate(_) => due.elapsed(),
                    Pacing::Closed => sent.elapsed(),
                };
                let mut r = recorder.lock().expect("recorder lock is never poisoned");
                match outcome {
                    Outcome::Answered(status, body) => {
                        r.answered(status, latency);
                        if req.operation == Operation::CreateOrder
                            && (200..300).contains(&status)
                            && let Some(id) =
                                serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|b| b["id"].as_u64())
                        {
                            created.add(id);
                        }
                    }
                    Outcome::Failed(kind) => r.failed(kind),
                }
            }
        });
    }

    let merged = || {
        let mut all = Recorder::default();
        for r in &recorders {
            all.merge(&r.lock().expect("recorder lock is never poisoned"));
        }
        all
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::select! {
            joined = workers.join_next() => {
                if joined.is_none() { break }
            }
            _ = ticker.tick() => {
                let now = merged();
                let finished = now.total();
                let since = last.0.elapsed().as_secs_f64().max(1e-3);
                progress(Progress {
                    elapsed: schedule.start.elapsed(),
                    finished,
                    errors: now.errors(),
                    current_rps: (finished - last.1) as f64 / since,
                    p99: now.latency_at(0.99),
                });
                last = (Instant::now(), finished);
            }
        }
    }
    let summary = RunSummary {
        run_id: options.run_id.clone(),
        target: options.target.clone(),
        requested_rps: match options.pacing {
            Pacing::Rate(r) => Some(r),
            Pacing::Closed => None,
        },
        connections: recorders.len(),
        duration: options.duration,
        started_at,
        finished_at: SystemTime::now(),
        interrupted: stop.is_cancelled(),
    };
    Ok((summary, merged()))
}
