//! `obsdemo load`: drive traffic through the demo services at a fixed rate (or
//! concurrency), show live progress, report latency and errors, then prove in Jaeger
//! that every request's trace arrived complete. The work is [`crate::ops::load`].

use std::str::FromStr;

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::load::report::{Gates, LoadReport};
use crate::load::scenario::Mix;
use crate::load::schedule::Pacing;
use crate::ops::load::LoadRequest;
use crate::runtime::CancellationToken;
use crate::stack::HumanDuration;

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

/// Runs `load`.
pub async fn run(args: LoadArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let mix: Mix = args.mix.parse().map_err(|e| anyhow::anyhow!("--mix: {e}"))?;
    let (pacing, connections) = match args.concurrency {
        Some(c) => (Pacing::Closed, c),
        None => (Pacing::Rate(args.rps), args.connections),
    };
    let verify = match (args.no_verify, args.verify) {
        (true, _) => Some(false),
        (false, true) => Some(true),
        (false, false) => None,
    };
    let request = LoadRequest {
        paths: global.paths()?,
        // The stack file tells which store Jaeger uses; if it cannot be read, the default.
        jaeger_storage: global.config().ok().map(|(config, _)| config.jaeger.storage),
        url: args.url,
        pacing,
        duration: args.duration.get(),
        connections,
        max_connections: args.max_connections,
        timeout: args.timeout.get(),
        mix,
        verify,
        verify_timeout: args.verify_timeout.get(),
        gates: Gates {
            max_p99: args.max_p99.map(HumanDuration::get),
            max_error_rate: args.max_error_rate.map(|p| p.0),
            min_complete: args.min_complete.0,
        },
    };
    let started_traces = request.starts_traces();
    let progress = super::progress::for_stderr(args.json);
    let report = crate::ops::load::run(request, &shutdown, progress.as_ref()).await;
    drop(progress);
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if report.verification.as_ref().is_some_and(|v| v.complete == 0 && v.expected > 0) {
        eprintln!("{}", nothing_complete_hint(started_traces));
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
