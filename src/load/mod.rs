//! The load generator behind `obsdemo load`.
//!
//! - [`schedule`]: when each request is due (open loop at a fixed rate, or closed loop).
//! - [`pacer`]: waits that end when a request is due, not a timer tick later.
//! - [`usage`]: the load generator's own CPU time and wait for a core, the evidence
//!   for a "the client was the limit" verdict.
//! - [`scenario`]: the weighted mix of API calls and their generated bodies.
//! - [`client`]: one keep-alive connection per worker.
//! - [`http1`]: the HTTP/1.1 wire format the client writes and reads.
//! - [`stats`]: HDR histogram and counts per worker, merged for the report.
//! - [`report`]: the report and its pass/fail gates.
//! - [`verify`]: finding the run's traces in Jaeger and checking each is complete
//!   ([`completeness`]), over Jaeger's gRPC query API ([`jaeger_grpc`]).
//! - [`trace_context`]: the `traceparent` that starts each request's trace, for servers
//!   that do not name their trace in the answer, and [`client_spans`]: the load
//!   generator's own span of it.
//! - [`delivery`]: how far the Collector has delivered spans, so the check asks Jaeger
//!   only for traces it has.
//!
//! Every worker runs the same loop, whatever the pacing: take the next request
//! number, wait until it is due, send it, record it. In open loop the pool of workers
//! grows while requests fall due with no connection free.

pub mod client;
pub mod client_spans;
pub mod completeness;
pub mod delivery;
pub mod http1;
pub mod jaeger_grpc;
pub mod pacer;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod trace_context;
pub mod usage;
pub mod verify;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::services::tracing_http::RUN_ID_HEADER;
use client::{Connection, Outcome};
use client_spans::{ClientSpans, Ended};
use scenario::{CreatedOrders, Mix, Operation, TargetPath};
use schedule::{Pacing, Schedule};
use stats::Recorder;
use trace_context::Caller;
use usage::ClientUsage;

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
    /// The load generator's spans cannot be sent.
    #[error("cannot send the load generator's spans to {endpoint}: {why}")]
    Export {
        /// The OTLP endpoint.
        endpoint: String,
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
    /// The load generator itself could not start.
    #[error("the load generator could not start: {0}")]
    Client(String),
}

impl crate::error::HasKind for LoadError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::BadTarget { .. } => crate::error::ErrorKind::InvalidInput,
            Self::Unresolved { .. } | Self::Jaeger { .. } | Self::Export { .. } | Self::Client(_) => {
                crate::error::ErrorKind::Failure
            }
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
    /// Keep-alive connections to start with (= concurrency in closed loop).
    pub connections: usize,
    /// Open loop: the most connections the pool may grow to when every connection is
    /// busy and a request is due.
    pub max_connections: usize,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// The operations and their weights.
    pub mix: Mix,
    /// Sent as a header on every request, so the run's traces can be found.
    pub run_id: String,
    /// Start each request's trace with a `traceparent` ([`trace_context`]), so that its
    /// id is known even when the server does not name it in its answer, and send the
    /// load generator's span of it ([`client_spans`]) to this OTLP/gRPC endpoint.
    pub start_traces: Option<String>,
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
    /// Connections open at the end (the pool only grows).
    pub connections: usize,
    /// The bound on the pool.
    pub max_connections: usize,
    /// The asked duration.
    pub duration: Duration,
    /// Wall-clock start, for finding the traces.
    pub started_at: SystemTime,
    /// Wall-clock end of the last request.
    pub finished_at: SystemTime,
    /// Stopped early (Ctrl-C): the report covers what was sent until then.
    pub interrupted: bool,
    /// What the load generator itself used while it ran.
    pub client_usage: ClientUsage,
    /// The runtime threads the load generator ran on: the CPU it could use at most.
    pub client_threads: usize,
}

/// A moment of a running load, for live progress.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Time since the start.
    pub elapsed: Duration,
    /// Requests finished so far.
    pub finished: u64,
    /// Of those, not successful.
    pub errors: u64,
    /// Requests finished per second over the last tick.
    pub current_rps: f64,
    /// Median latency so far.
    pub p50: Duration,
    /// p90 latency so far.
    pub p90: Duration,
    /// p99 latency so far.
    pub p99: Duration,
    /// Errors so far, by kind (`HTTP 402`, `timeout`, ...).
    pub errors_by_kind: std::collections::BTreeMap<String, u64>,
    /// Connections open.
    pub connections: usize,
}

/// Where each answered request's trace id goes, with when it was sent and answered
/// (for [`verify::verify_ids`], which checks them while the load runs).
pub type TraceSink = tokio::sync::mpsc::UnboundedSender<Answered>;

/// An answered request whose trace is known: the answer named it (`traceresponse`),
/// or the request started it ([`LoadOptions::start_traces`]).
#[derive(Clone, Copy, Debug)]
pub struct Answered {
    /// The trace id.
    pub trace: u128,
    /// When the request went out: its trace's first span starts after this.
    pub sent: Instant,
    /// When its answer came.
    pub at: Instant,
}

/// What every worker shares.
struct Shared {
    schedule: Schedule,
    next: AtomicU64,
    created: CreatedOrders,
    mix: Mix,
    timeout: Duration,
    target_path: TargetPath,
    addr: std::net::SocketAddr,
    authority: String,
    headers: Vec<(String, String)>,
    /// Set when requests start their traces.
    client_spans: Option<Arc<ClientSpans>>,
    stop: CancellationToken,
    traces: Option<TraceSink>,
    /// Wakes each worker when its request is due.
    pacer: pacer::Pacer,
}

/// A request that is this late and still unclaimed means every connection is busy:
/// the pool grows. Below a millisecond is timer granularity, not a shortage.
const GROW_AFTER: Duration = Duration::from_millis(1);

/// Runs the load, calling `progress` four times a second. Ends at `duration`, or
/// when `stop` is cancelled (no request is sent after that), plus at most `timeout`
/// for requests still in flight.
///
/// In open loop the connection pool sizes itself, as k6's constant-arrival-rate
/// executor adds virtual users: whenever a request is due and no connection is free
/// to send it, the pool grows (by a quarter, at least one) up to `max_connections`.
/// How late each request left is recorded, so a client that could not keep up says so
/// instead of passing its own queueing off as the server's latency.
pub async fn run(
    options: &LoadOptions,
    stop: &CancellationToken,
    traces: Option<TraceSink>,
    mut progress: impl FnMut(Progress),
) -> Result<(RunSummary, Recorder), LoadError> {
    // Requests are paced by Tokio's timer; on Windows it would tick every 15.6 ms.
    let _timers = crate::platform::precise_timers();
    let bad = |why: String| LoadError::BadTarget { target: options.target.clone(), why };
    let url = reqwest::Url::parse(&options.target).map_err(|e| bad(format!("not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(bad(format!("only http:// targets are supported, not {}", url.scheme())));
    }
    // An IPv6 address is bracketed in a URL and in `Host`, and bare everywhere else.
    let host = url.host_str().ok_or_else(|| bad("the URL has no host".into()))?.to_owned();
    let address = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let unresolved = |why: String| LoadError::Unresolved { host: host.clone(), why };
    let addrs: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((address, port)).await.map_err(|e| unresolved(e.to_string()))?.collect();
    let addr =
        client::reachable(&addrs, options.timeout).await.ok_or_else(|| unresolved("it has no address".into()))?;

    let client_spans = match &options.start_traces {
        Some(endpoint) => Some(Arc::new(
            ClientSpans::new(endpoint, address, port, &options.run_id)
                .map_err(|e| LoadError::Export { endpoint: endpoint.clone(), why: e.to_string() })?,
        )),
        None => None,
    };
    let pacer = pacer::Pacer::start().map_err(|e| LoadError::Client(format!("cannot start the pacing thread: {e}")))?;
    let usage_start = usage::Sample::now();
    let started_at = SystemTime::now();
    let shared = Arc::new(Shared {
        schedule: Schedule { start: Instant::now(), duration: options.duration, pacing: options.pacing },
        next: AtomicU64::new(0),
        created: CreatedOrders::default(),
        mix: options.mix.clone(),
        timeout: options.timeout,
        target_path: TargetPath::of(&url),
        addr,
        authority: format!("{host}:{port}"),
        headers: vec![(RUN_ID_HEADER.to_owned(), options.run_id.clone())],
        client_spans: client_spans.clone(),
        stop: stop.clone(),
        traces,
        pacer,
    });
    let open_loop = matches!(options.pacing, Pacing::Rate(_));
    // The bound wins over the starting size; a closed loop never grows.
    let initial = if open_loop { options.connections.min(options.max_connections) } else { options.connections }.max(1);
    let max_connections = if open_loop { options.max_connections.max(1) } else { initial };
    let mut recorders: Vec<Arc<Mutex<Recorder>>> = Vec::new();
    let mut workers = tokio::task::JoinSet::new();
    let grow = |workers: &mut tokio::task::JoinSet<()>, recorders: &mut Vec<Arc<Mutex<Recorder>>>, n: usize| {
        for _ in 0..n {
            let recorder = Arc::new(Mutex::new(Recorder::default()));
            recorders.push(recorder.clone());
            workers.spawn(worker(shared.clone(), recorder));
        }
    };
    grow(&mut workers, &mut recorders, initial);

    let merged = |recorders: &[Arc<Mutex<Recorder>>]| {
        let mut all = Recorder::default();
        for r in recorders {
            all.merge(&r.lock().expect("recorder lock is never poisoned"));
        }
        all
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut check_pool = tokio::time::interval(Duration::from_millis(2));
    check_pool.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::select! {
            joined = workers.join_next() => {
                if joined.is_none() { break }
            }
            _ = check_pool.tick(), if open_loop && recorders.len() < max_connections => {
                let unclaimed = shared.next.load(Ordering::Relaxed);
                let overdue = shared.schedule.due(unclaimed).is_some_and(|due| due + GROW_AFTER < Instant::now());
                if overdue && !stop.is_cancelled() {
                    let n = (recorders.len() / 4).clamp(1, max_connections - recorders.len());
                    grow(&mut workers, &mut recorders, n);
                }
            }
            _ = ticker.tick() => {
                let now = merged(&recorders);
                let finished = now.total();
                let since = last.0.elapsed().as_secs_f64().max(1e-3);
                progress(Progress {
                    elapsed: shared.schedule.start.elapsed(),
                    finished,
                    errors: now.errors(),
                    current_rps: (finished - last.1) as f64 / since,
                    p50: now.latency_at(0.5),
                    p90: now.latency_at(0.9),
                    p99: now.latency_at(0.99),
                    errors_by_kind: now.errors_by_kind(),
                    connections: recorders.len(),
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
        max_connections,
        duration: options.duration,
        started_at,
        finished_at: SystemTime::now(),
        interrupted: stop.is_cancelled(),
        client_usage: usage::Sample::now().since(&usage_start),
        client_threads: tokio::runtime::Handle::current().metrics().num_workers(),
    };
    // Their last spans leave now, while the check waits for the servers' own.
    if let Some(spans) = client_spans {
        spans.shutdown().await;
    }
    Ok((summary, merged(&recorders)))
}

/// One connection's loop: take the next request number, wait until it is due, send
/// it, record it.
async fn worker(shared: Arc<Shared>, recorder: Arc<Mutex<Recorder>>) {
    let mut conn = Connection::new(shared.addr, &shared.authority, &shared.headers);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(due) = shared.schedule.due(i) else { break };
        if shared.stop.is_cancelled() {
            break;
        }
        tokio::select! {
            () = shared.pacer.until(due.into_std()) => {}
            () = shared.stop.cancelled() => break,
        }
        let op = shared.mix.pick();
        let req = scenario::request(op, &shared.created, &shared.target_path);
        let caller = shared.client_spans.as_ref().map(|_| Caller::random());
        let sent = Instant::now();
        let outcome = conn.send(&req, caller, shared.timeout).await;
        let latency = sent.elapsed();
        if let (Some(spans), Some(caller)) = (&shared.client_spans, caller) {
            let end = SystemTime::now();
            let ended = match &outcome {
                Outcome::Answered(answer) => Ended::Answered(answer.status),
                Outcome::Failed(kind) => Ended::Failed(kind),
            };
            let url = format!("http://{}{}", shared.authority, req.path);
            spans.record(caller, req.method, url, (end.checked_sub(latency).unwrap_or(end), end), ended);
        }
        let mut r = recorder.lock().expect("recorder lock is never poisoned");
        if let Pacing::Rate(_) = shared.schedule.pacing {
            r.left(sent.saturating_duration_since(due));
        }
        match outcome {
            Outcome::Answered(answer) => {
                r.answered(answer.status, latency);
                // The trace the answer names wins over the one the request started: a
                // server that did not continue the trace made its own.
                if let (Some(sink), Some(trace)) = (&shared.traces, answer.trace_id.or(caller.map(|c| c.trace))) {
                    let _ = sink.send(Answered { trace, sent, at: Instant::now() });
                }
                if req.operation == Operation::CreateOrder
                    && (200..300).contains(&answer.status)
                    && let Some(id) =
                        serde_json::from_slice::<serde_json::Value>(&answer.body).ok().and_then(|b| b["id"].as_u64())
                {
                    shared.created.add(id);
                }
            }
            Outcome::Failed(kind) => r.failed(kind),
        }
    }
}
