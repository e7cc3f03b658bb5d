//! `obsdemo load`: drive traffic through the demo services at a fixed rate (or
//! concurrency), show live progress, report latency and errors, then prove in Jaeger
//! that every request's trace arrived complete.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit::Code;
use super::{Global, style};
use crate::components::{collector, jaeger};
use crate::error::Error;
use crate::load::delivery::Delivery;
use crate::load::jaeger_grpc::JaegerGrpc;
use crate::load::report::{self, Gates, LoadReport};
use crate::load::scenario::Mix;
use crate::load::schedule::Pacing;
use crate::load::verify::{self, CheckProgress, ExportDelay};
use crate::load::{self as generator, LoadOptions};
use crate::running::RunningStack;
use crate::runtime::CancellationToken;
use crate::stack::{HumanDuration, JaegerStorage, OtlpProtocol, StatePaths};

/// Arguments of `load`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo load                                   50 rps for 30 s, then verify every trace in Jaeger
  obsdemo load --rps 200 --duration 1m --max-p99 250ms --max-error-rate 1%
  obsdemo load --concurrency 32 --duration 10s   closed loop: as fast as 32 connections go
  obsdemo load --url http://127.0.0.1:9000/ --mix get=1 --rps 1000 --json
  obsdemo load --url http://127.0.0.1:8101/orders --mix post=1 --verify   your own service, its traces checked

Exit code 0 when every gate passes (--max-p99, --max-error-rate, and --min-complete
when verifying), 1 otherwise.")]
pub struct LoadArgs {
    /// Requests per second, sent on a fixed schedule whatever the server does (open loop).
    #[arg(long, default_value_t = 50.0, conflicts_with = "concurrency")]
    rps: f64,
    /// Closed loop instead: this many requests in flight, each sent when the last returns.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// How long to send.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    duration: HumanDuration,
    /// Keep-alive connections to start the open loop with; the pool grows whenever a
    /// request is due and every connection is busy.
    #[arg(long, default_value_t = 16, value_name = "N")]
    connections: usize,
    /// The most connections the open loop may grow to; past it the report says the
    /// client, not the server, was the limit.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// Longest wait for one answer.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    timeout: HumanDuration,
    /// Operations and weights: create (POST /orders), read (GET /orders/{id}), get (GET the
    /// URL), post (POST a small JSON body to the URL).
    #[arg(long, default_value = "create=4,read=1", value_name = "MIX")]
    mix: String,
    /// Load this URL instead of the running stack's Order-service (no trace check unless
    /// --verify; then each request starts its trace, with a W3C `traceparent` and a span
    /// of its own as the service obsdemo-load, so any server traced with OpenTelemetry
    /// can be checked).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Check in Jaeger that every request's trace arrived complete (default with the demo services).
    #[arg(long, overrides_with = "no_verify")]
    verify: bool,
    /// Skip the trace check.
    #[arg(long)]
    no_verify: bool,
    /// Lowest share of complete traces that passes.
    #[arg(long, default_value = "99%", value_name = "PERCENT")]
    min_complete: Percent,
    /// How long to wait for traces to arrive in Jaeger.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    verify_timeout: HumanDuration,
    /// Fail when the p99 latency is above this.
    #[arg(long, value_name = "DURATION")]
    max_p99: Option<HumanDuration>,
    /// Fail when the share of errors (non-2xx answers and failed requests) is above this;
    /// without it, a run fails only when no request succeeded.
    #[arg(long, value_name = "PERCENT")]
    max_error_rate: Option<Percent>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// A share written as a percentage: `1%`, `99.5%` (the `%` may be left out).
#[derive(Clone, Copy, Debug)]
struct Percent(f64);

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: f64 = s
            .trim()
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("`{s}` is not a percentage like 1% or 99.5%"))?;
        if !(0.0..=100.0).contains(&n) {
            return Err(format!("`{s}` is not between 0% and 100%"));
        }
        Ok(Percent(n / 100.0))
    }
}

/// The running stack's first Order-service and Jaeger, from its state dir.
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

/// Runs `load`.
pub async fn run(args: LoadArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let mix: Mix = args.mix.parse().map_err(|e| anyhow::anyhow!("--mix: {e}"))?;
    anyhow::ensure!(args.rps > 0.0, "--rps must be above 0");
    let targets = match &args.url {
        Some(_) if !args.verify => {
            StackTargets { order_url: None, jaeger_url: None, jaeger_grpc: None, collector_metrics: None, otlp: None }
        }
        _ => stack_targets(&global.paths()?)?,
    };
    let (target, first_service) = match (&args.url, &targets.order_url) {
        (Some(url), _) => (url.clone(), targets.order_url.as_ref().map(|o| o.1.clone())),
        (None, Some((url, name))) => (url.clone(), Some(name.clone())),
        (None, None) => {
            anyhow::bail!("the running stack has no Order-service; start it with `obsdemo up`, or pass --url")
        }
    };
    let verify = !args.no_verify && (args.url.is_none() || args.verify);
    // The demo services name each request's trace in their answer; another server's
    // trace is started by the request itself, so its id is known all the same, and the
    // load generator's span of it goes where the services send theirs.
    let start_traces = match (verify && args.url.is_some(), &targets.otlp) {
        (false, _) => None,
        (true, Some(otlp)) => Some(otlp.clone()),
        (true, None) => anyhow::bail!("cannot verify traces: this stack recorded no OTLP endpoint (use --no-verify)"),
    };
    let (pacing, connections) = match args.concurrency {
        Some(c) => (Pacing::Closed, c.max(1)),
        None => (Pacing::Rate(args.rps), args.connections.max(1)),
    };
    let options = LoadOptions {
        target,
        pacing,
        duration: args.duration.get(),
        connections,
        max_connections: args.max_connections.max(1),
        timeout: args.timeout.get(),
        mix,
        run_id: format!("run-{}", crate::stack::paths::random_token(10)),
        start_traces: start_traces.clone(),
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
    let export_delay = match args.url {
        None => ExportDelay::DEMO_SERVICES,
        Some(_) => ExportDelay::sdk_default(std::env::var("OTEL_BSP_SCHEDULE_DELAY").ok().as_deref()),
    };
    // Traces are checked while the load runs, as their requests are answered.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(CheckProgress::default());
    let (sink, check) = match &jaeger {
        Some(jaeger) => {
            // Only the demo services tag their spans with the run id, so only their
            // traces can be found by it. And only Badger finds them cheaply: Jaeger's
            // memory store answers each search by scanning every trace it holds, so
            // there a lookup by id costs it less (60,000 traces at 500 rps: 8.7 s of
            // Jaeger's CPU by id against 19 s by search; BENCHMARKS.md). The stack
            // file tells which store; if it cannot be read, the default, Badger.
            let searchable = global.config().map_or(true, |(config, _)| config.jaeger.storage == JaegerStorage::Badger);
            let tagged = first_service
                .filter(|_| args.url.is_none() && searchable)
                .map(|service| verify::RunTag { service, run_id: options.run_id.clone() });
            let (sink, answers) = tokio::sync::mpsc::unbounded_channel();
            let wait = args.verify_timeout.get();
            let delivery = targets.collector_metrics.clone().map(Delivery::new);
            let check = verify::verify_ids(jaeger.clone(), tagged, answers, delivery, export_delay, wait, progress_tx);
            (Some(sink), Some(tokio::spawn(check)))
        }
        None => (None, None),
    };

    let bar = progress_bar(args.duration.get(), args.json);
    let (summary, recorder) = generator::run(&options, &shutdown, sink, |p| {
        bar.set_position(p.elapsed.as_millis().min(u64::MAX as u128) as u64);
        bar.set_message(format!(
            "{} sent · {:.0} rps · {} errors · p99 {:.1} ms · {} connections",
            p.finished,
            p.current_rps,
            p.errors,
            p.p99.as_secs_f64() * 1e3,
            p.connections
        ));
    })
    .await
    .map_err(Error::from)?;
    bar.finish_and_clear();

    let verification = match check {
        Some(mut check) => {
            let spinner = progress_bar(Duration::ZERO, args.json);
            spinner.set_message(format!("waiting for {} traces in Jaeger", recorder.answers()));
            let finished = loop {
                tokio::select! {
                    finished = &mut check => break finished,
                    Ok(()) = progress.changed() => spinner.set_message(check_message(&progress.borrow(), export_delay)),
                }
            };
            spinner.finish_and_clear();
            Some(finished.map_err(|e| anyhow::anyhow!("the trace check stopped: {e}"))?.map_err(Error::from)?)
        }
        None => None,
    };
    let gates = Gates {
        max_p99: args.max_p99.map(HumanDuration::get),
        max_error_rate: args.max_error_rate.map(|p| p.0),
        min_complete: args.min_complete.0,
    };
    let report = report::build(&summary, &recorder, verification, &gates);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if report.verification.as_ref().is_some_and(|v| v.complete == 0 && v.expected > 0) {
        eprintln!("{}", nothing_complete_hint(start_traces.is_some()));
    }
    Ok(match (report.interrupted, report.passed) {
        (true, _) => Code::Interrupted,
        (false, true) => Code::Success,
        (false, false) => Code::Failure,
    })
}

/// What to look at when not one trace of the run is complete.
fn nothing_complete_hint(started_traces: bool) -> String {
    let why = if started_traces {
        "each request started its trace with a W3C `traceparent`: the server must continue it (OpenTelemetry's \
         SDKs do by default) and export its spans to this stack (`obsdemo run` sets OTEL_EXPORTER_OTLP_ENDPOINT)"
    } else {
        "the demo services' spans did not arrive"
    };
    format!(
        "{} no trace of the run is complete in Jaeger; {why}. `obsdemo doctor` checks each hop.",
        style::warn("hint:")
    )
}

/// The spinner's line while traces are checked. Before the first trace is whole, a
/// long export delay is why, and says so.
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

fn progress_bar(duration: Duration, hidden: bool) -> ProgressBar {
    let bar = if duration.is_zero() {
        ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {msg}").expect("template is valid"))
    } else {
        ProgressBar::new(duration.as_millis() as u64).with_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise} / {len_secs}s] {wide_bar} {msg}")
                .expect("template is valid")
                .with_key("len_secs", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", s.len().unwrap_or(0) / 1000);
                }),
        )
    };
    if hidden || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn print_report(r: &LoadReport) {
    let pace = match r.requested_rps {
        Some(rps) => format!("open loop at {rps} rps over {} connections (up to {})", r.connections, r.max_connections),
        None => format!("closed loop with {} in flight", r.connections),
    };
    println!("{} {} for {}s, {pace} (run id {})", style::bold("load"), r.target, r.duration_s, r.run_id);
    if r.interrupted {
        println!("{}", style::warn("interrupted: the figures cover the requests sent until Ctrl-C"));
    }
    let statuses: Vec<String> = r.by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let failures: Vec<String> = r.failures.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!(
        "requests   {} ({} ok, {} errors = {:.2}%), achieved {:.1} rps",
        r.requests,
        r.successes,
        r.errors,
        r.error_rate * 100.0,
        r.achieved_rps
    );
    println!("answers    {}", if statuses.is_empty() { "none".into() } else { statuses.join(", ") });
    if !failures.is_empty() {
        println!("no answer  {}", failures.join(", "));
    }
    let l = &r.latency_ms;
    println!(
        "latency    p50 {} ms · p90 {} ms · p99 {} ms · p99.9 {} ms · max {} ms (the server's: from each send)",
        l.p50, l.p90, l.p99, l.p999, l.max,
    );
    if let Some(lag) = &r.send_lag_ms {
        println!("sent late  p50 {} ms · p99 {} ms · max {} ms after schedule", lag.p50, lag.p99, lag.max);
    }
    if let Some(limit) = &r.client_limit {
        println!(
            "{} {} requests ({:.1}%) left late: {}",
            style::warn("client     the client was the limit:"),
            limit.late_requests,
            limit.late_share * 100.0,
            limit.why
        );
    }
    if let Some(v) = &r.verification {
        // Says how much of the wait was Jaeger's, so a slow verdict is not taken for the check's.
        let had_all = v.jaeger_had_all_s.map_or(String::new(), |s| format!(", which had every span after {s:.1}s"));
        println!(
            "traces     expected {}, found {}, complete {} ({:.2}%) after {:.1}s in Jaeger{had_all}",
            v.expected,
            v.found,
            v.complete,
            v.complete_ratio * 100.0,
            v.waited_s
        );
        for example in &v.incomplete_examples {
            println!("           incomplete: {example}");
        }
    }
    for g in &r.gates {
        let verdict = if g.passed { style::good("passed") } else { style::bad("FAILED") };
        println!("gate       {} limit {}: {} {verdict}", g.name, g.limit, g.actual);
    }
    println!("result     {}", if r.passed { style::good("PASSED") } else { style::bad("FAILED") });
}
