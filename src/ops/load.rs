//! The `load` operation: drive traffic at the running stack's Order-service (or any
//! URL), and prove in Jaeger, while the load runs, that every request's trace arrived
//! complete.

use std::time::Duration;

use anyhow::Context;

use crate::components::{collector, jaeger};
use crate::error::Error;
use crate::load::delivery::Delivery;
use crate::load::jaeger_grpc::JaegerGrpc;
use crate::load::report::{self, Gates, LoadReport};
use crate::load::scenario::Mix;
use crate::load::schedule::Pacing;
use crate::load::verify::{self, CheckProgress, ExportDelay};
use crate::load::{self as generator, LoadOptions};
use crate::progress::{Event, Progress};
use crate::running::RunningStack;
use crate::runtime::CancellationToken;
use crate::stack::{JaegerStorage, OtlpProtocol, StatePaths};

/// What `load` is asked to do.
#[derive(Clone, Debug)]
pub struct LoadRequest {
    /// The state dir of the stack whose services and Jaeger are used.
    pub paths: StatePaths,
    /// Jaeger's store, from the stack file (`None` when it cannot be read: Badger,
    /// the default, is assumed).
    pub jaeger_storage: Option<JaegerStorage>,
    /// Load this URL instead of the stack's Order-service.
    pub url: Option<String>,
    /// Open loop at a rate, or closed loop.
    pub pacing: Pacing,
    /// How long to send.
    pub duration: Duration,
    /// Connections to start with (closed loop: requests in flight).
    pub connections: usize,
    /// The most connections the open loop may grow to.
    pub max_connections: usize,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// Operations and their weights.
    pub mix: Mix,
    /// Check the traces in Jaeger: `None` for the default (yes for the demo services,
    /// no for another URL).
    pub verify: Option<bool>,
    /// How long to wait for traces to arrive.
    pub verify_timeout: Duration,
    /// What passes.
    pub gates: Gates,
}

impl LoadRequest {
    /// Whether the traces are checked.
    pub fn verifies(&self) -> bool {
        self.verify.unwrap_or(self.url.is_none())
    }

    /// Whether each request starts its own trace (another server, verified).
    pub fn starts_traces(&self) -> bool {
        self.verifies() && self.url.is_some()
    }
}

/// The running stack's first Order-service and Jaeger, from its state dir.
#[derive(Default)]
struct StackTargets {
    order_url: Option<(String, String)>,
    jaeger_url: Option<String>,
    jaeger_grpc: Option<String>,
    /// The Collector's own metrics, when the services send their spans through it.
    collector_metrics: Option<String>,
    /// Where the services send their spans (the Collector, or Jaeger when direct).
    otlp: Option<String>,
}

fn stack_targets(paths: &StatePaths) -> anyhow::Result<StackTargets> {
    let stack = RunningStack::recorded(paths)?.with_context(|| {
        format!("no stack has run in {}; start one with `obsdemo up`, or pass --url", paths.root.display())
    })?;
    let order_url = stack.demo_entry().map(|(name, url)| (url.to_owned(), name.to_owned()));
    let jaeger_url = stack.endpoint(jaeger::QUERY).map(str::to_owned);
    let jaeger_grpc = stack.endpoint(jaeger::QUERY_GRPC).map(str::to_owned);
    let otlp = stack.intake(OtlpProtocol::Grpc).map(str::to_owned);
    let through_collector = otlp.is_some() && otlp.as_deref() == stack.endpoint(collector::OTLP_GRPC);
    let collector_metrics = stack.endpoint(collector::METRICS).filter(|_| through_collector).map(str::to_owned);
    Ok(StackTargets { order_url, jaeger_url, jaeger_grpc, collector_metrics, otlp })
}

/// Runs the load, then the trace check, and returns the report with its verdict.
/// Events: `Load` four times a second while it sends, `Checking` while traces are
/// looked for. Cancelling stops sending; the report covers what was sent.
pub async fn run(
    request: LoadRequest,
    cancel: &CancellationToken,
    progress: &dyn Progress,
) -> anyhow::Result<LoadReport> {
    if let Pacing::Rate(rps) = request.pacing {
        anyhow::ensure!(rps > 0.0, "--rps must be above 0");
    }
    let verify = request.verifies();
    let targets = match &request.url {
        Some(_) if !verify => StackTargets::default(),
        _ => stack_targets(&request.paths)?,
    };
    let (target, first_service) = match (&request.url, &targets.order_url) {
        (Some(url), _) => (url.clone(), targets.order_url.as_ref().map(|o| o.1.clone())),
        (None, Some((url, name))) => (url.clone(), Some(name.clone())),
        (None, None) => {
            anyhow::bail!("the running stack has no Order-service; start it with `obsdemo up`, or pass --url")
        }
    };
    // The demo services name each request's trace in their answer; another server's
    // trace is started by the request itself, so its id is known all the same, and the
    // load generator's span of it goes where the services send theirs.
    let start_traces = match (request.starts_traces(), &targets.otlp) {
        (false, _) => None,
        (true, Some(otlp)) => Some(otlp.clone()),
        (true, None) => anyhow::bail!("cannot verify traces: this stack recorded no OTLP endpoint (use --no-verify)"),
    };
    let options = LoadOptions {
        target,
        pacing: request.pacing,
        duration: request.duration,
        connections: request.connections.max(1),
        max_connections: request.max_connections.max(1),
        timeout: request.timeout,
        mix: request.mix.clone(),
        run_id: format!("run-{}", crate::stack::paths::random_token(10)),
        start_traces,
    };

    let jaeger = match (verify, &targets.jaeger_url, &targets.jaeger_grpc) {
        (false, ..) => None,
        (true, _, Some(grpc)) => Some(JaegerGrpc::new(grpc, Duration::from_secs(60)).map_err(Error::from)?),
        (true, None, _) => {
            anyhow::bail!("cannot verify traces: Jaeger is not running in this stack (use --no-verify)")
        }
        (true, Some(_), None) => anyhow::bail!(
            "cannot verify traces: this stack recorded no gRPC query endpoint for Jaeger (an older obsdemo started \
             it); restart it with `obsdemo down` and `obsdemo up`, or use --no-verify"
        ),
    };
    // Another server's SDK may hold its spans for its batch delay before export.
    let export_delay = match request.url {
        None => ExportDelay::DEMO_SERVICES,
        Some(_) => ExportDelay::sdk_default(std::env::var("OTEL_BSP_SCHEDULE_DELAY").ok().as_deref()),
    };
    // Traces are checked while the load runs, as their requests are answered.
    let (progress_tx, mut checked) = tokio::sync::watch::channel(CheckProgress::default());
    let (sink, check) = match &jaeger {
        Some(jaeger) => {
            // Only the demo services tag their spans with the run id, so only their
            // traces can be found by it. And only Badger finds them cheaply: Jaeger's
            // memory store answers each search by scanning every trace it holds, so
            // there a lookup by id costs it less (60,000 traces at 500 rps: 8.7 s of
            // Jaeger's CPU by id against 19 s by search; BENCHMARKS.md).
            let searchable = request.jaeger_storage.unwrap_or(JaegerStorage::Badger) == JaegerStorage::Badger;
            let tagged = first_service
                .filter(|_| request.url.is_none() && searchable)
                .map(|service| verify::RunTag { service, run_id: options.run_id.clone() });
            let (sink, answers) = tokio::sync::mpsc::unbounded_channel();
            let delivery = targets.collector_metrics.clone().map(Delivery::new);
            let check = verify::verify_ids(
                jaeger.clone(),
                tagged,
                answers,
                delivery,
                export_delay,
                request.verify_timeout,
                progress_tx,
            );
            (Some(sink), Some(tokio::spawn(check)))
        }
        None => (None, None),
    };

    let (summary, recorder) = generator::run(&options, cancel, sink, |p| {
        progress.event(Event::Load {
            elapsed: p.elapsed,
            duration: options.duration,
            finished: p.finished,
            errors: p.errors,
            current_rps: p.current_rps,
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
            errors_by_kind: p.errors_by_kind,
            connections: p.connections,
        });
    })
    .await
    .map_err(Error::from)?;

    let verification = match check {
        Some(mut check) => {
            let expected = recorder.answers();
            let message = format!("waiting for {expected} traces in Jaeger");
            progress.event(Event::Checking { expected, complete: 0, message });
            let finished = loop {
                tokio::select! {
                    finished = &mut check => break finished,
                    Ok(()) = checked.changed() => {
                        let p = *checked.borrow();
                        let message = check_message(&p, export_delay);
                        progress.event(Event::Checking { expected: p.expected, complete: p.complete, message });
                    }
                }
            };
            Some(finished.map_err(|e| anyhow::anyhow!("the trace check stopped: {e}"))?.map_err(Error::from)?)
        }
        None => None,
    };
    Ok(report::build(&summary, &recorder, verification, &request.gates))
}

/// What the trace check waits for. Before the first trace is whole, a long export
/// delay is why, and says so.
fn check_message(p: &CheckProgress, export_delay: ExportDelay) -> String {
    let behind = p
        .behind
        .filter(|b| b.as_secs_f64() >= 1.0)
        .map_or(String::new(), |b| format!(" · Jaeger is {:.0} s behind", b.as_secs_f64()));
    let delay = export_delay.0.as_secs_f64();
    let waiting = if p.complete == 0 && delay >= 2.0 {
        format!(" · the servers' SDKs may hold spans {delay:.0} s before they export them")
    } else {
        String::new()
    };
    format!("{} of {} traces complete in Jaeger{behind}{waiting}", p.complete, p.expected)
}
