//! The report of a run, as `load` prints it (text or `--json`), and the pass/fail
//! gates that turn a run into a check.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::usage::ClientUsage;

use super::stats::Recorder;
use super::verify::Verification;

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// How late requests left in an open-loop run, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct SendLag {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Latest.
    pub max: f64,
}

/// The client, not the server, held requests back.
#[derive(Clone, Debug, Serialize)]
pub struct ClientLimit {
    /// Requests that left more than 5 ms after they were due.
    pub late_requests: u64,
    /// Their share of all requests.
    pub late_share: f64,
    /// Why, and what to do about it.
    pub why: String,
}

/// Requests leaving later than this were held back by the client. Below it is what a
/// run on a busy machine sees anyway: Tokio's timer wakes on the millisecond after a
/// deadline, and the woken thread may wait a scheduler slice for a core the stack is
/// using (Linux: 0.7 ms x (1 + log2 of the CPUs, at most 8), so 1.4 to 2.8 ms;
/// torvalds/linux `kernel/sched/fair.c`, `sysctl_sched_base_slice`). At 2 ms, a
/// 500 rps run with the stack tracing every request was flagged in one run of two,
/// with requests leaving 1.3 ms late at the median and 2.1 ms at p99.
const LATE: Duration = Duration::from_millis(5);

/// A limit the run must meet.
#[derive(Clone, Debug, Serialize)]
pub struct Gate {
    /// What is limited (`p99`, `error_rate`, `complete_traces`).
    pub name: String,
    /// The limit, as given.
    pub limit: String,
    /// The measured value, in the same unit.
    pub actual: String,
    /// Whether the run met it.
    pub passed: bool,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// The run id carried into the traces.
    pub run_id: String,
    /// The URL loaded.
    pub target: String,
    /// `open` (fixed rate) or `closed` (fixed concurrency).
    pub mode: &'static str,
    /// Asked rate, open loop only.
    pub requested_rps: Option<f64>,
    /// Connections open at the end (open loop: grown as needed).
    pub connections: usize,
    /// The bound the pool could grow to.
    pub max_connections: usize,
    /// Asked duration, in seconds.
    pub duration_s: f64,
    /// Requests finished (answered or failed).
    pub requests: u64,
    /// 2xx answers.
    pub successes: u64,
    /// Everything else.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Requests per second over the asked duration.
    pub achieved_rps: f64,
    /// Answers by HTTP status.
    pub by_status: BTreeMap<String, u64>,
    /// Requests with no answer, by kind.
    pub failures: BTreeMap<String, u64>,
    /// Latency of answered requests, from when each was sent: the server's time.
    pub latency_ms: Latency,
    /// Open loop: how late requests left, against their schedule.
    pub send_lag_ms: Option<SendLag>,
    /// Open loop: the load generator's own CPU time and wait for a core.
    pub client_usage: Option<ClientUsage>,
    /// Set when the client could not send on schedule (more than 1% of requests left
    /// over 5 ms late) and the reason is measured (every connection busy, the load
    /// generator's CPU spent, or its threads waiting for a core): the rate asked was
    /// not the rate the server saw.
    pub client_limit: Option<ClientLimit>,
    /// Whether the run's traces arrived in Jaeger.
    pub verification: Option<Verification>,
    /// The gates asked for, and how the run did.
    pub gates: Vec<Gate>,
    /// Every gate passed.
    pub passed: bool,
    /// Stopped early (Ctrl-C): the figures cover what was sent until then.
    pub interrupted: bool,
}

/// The gates a run can be held to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gates {
    /// Highest acceptable p99 latency.
    pub max_p99: Option<Duration>,
    /// Highest acceptable share of errors (0.0 to 1.0).
    pub max_error_rate: Option<f64>,
    /// Lowest acceptable share of complete traces (0.0 to 1.0), when verifying.
    pub min_complete: f64,
}

/// Builds the report of a run from its merged measurements.
pub fn build(
    run: &super::RunSummary,
    recorder: &Recorder,
    verification: Option<Verification>,
    gates: &Gates,
) -> LoadReport {
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let requests = recorder.total();
    let errors = recorder.errors();
    let error_rate = if requests == 0 { 0.0 } else { errors as f64 / requests as f64 };
    let latency = Latency {
        p50: ms(recorder.latency_at(0.5)),
        p90: ms(recorder.latency_at(0.9)),
        p99: ms(recorder.latency_at(0.99)),
        p999: ms(recorder.latency_at(0.999)),
        max: ms(recorder.latency_at(1.0)),
        mean: (recorder.latency.mean() / 1e3 * 1e3).round() / 1e3,
    };
    let mut results = Vec::new();
    if let Some(limit) = gates.max_p99 {
        let passed = requests > 0 && recorder.latency_at(0.99) <= limit;
        results.push(Gate {
            name: "p99".into(),
            limit: format!("{} ms", ms(limit)),
            actual: format!("{} ms", latency.p99),
            passed,
        });
    }
    match gates.max_error_rate {
        Some(limit) => results.push(Gate {
            name: "error_rate".into(),
            limit: format!("{:.2}%", limit * 100.0),
            actual: format!("{:.2}%", error_rate * 100.0),
            passed: error_rate <= limit,
        }),
        // Without an error gate, a run in which nothing succeeded still fails: it is a
        // wrong URL or a service that is down, not a result (it used to say PASSED).
        None if requests > 0 => results.push(Gate {
            name: "successes".into(),
            limit: "at least 1".into(),
            actual: recorder.successes().to_string(),
            passed: recorder.successes() > 0,
        }),
        None => {}
    }
    if let Some(v) = &verification {
        results.push(Gate {
            name: "complete_traces".into(),
            limit: format!("{:.2}%", gates.min_complete * 100.0),
            actual: format!("{:.2}%", v.complete_ratio * 100.0),
            passed: v.complete_ratio >= gates.min_complete,
        });
    }
    let passed = results.iter().all(|g| g.passed);
    let open_loop = run.requested_rps.is_some();
    let send_lag_ms = open_loop.then(|| SendLag {
        p50: ms(recorder.lag_at(0.5)),
        p99: ms(recorder.lag_at(0.99)),
        max: ms(recorder.lag_at(1.0)),
    });
    let late = if open_loop { recorder.late(LATE) } else { 0 };
    let late_share = if requests == 0 { 0.0 } else { late as f64 / requests as f64 };
    // An interrupted run is measured over the time it ran, not the time asked.
    let ran_for = if run.interrupted {
        run.finished_at.duration_since(run.started_at).unwrap_or(run.duration)
    } else {
        run.duration
    };
    let client_limit = (late_share > 0.01)
        .then(|| client_limit_evidence(run, ran_for, ms(recorder.lag_at(0.99))))
        .flatten()
        .map(|why| ClientLimit { late_requests: late, late_share, why });
    LoadReport {
        run_id: run.run_id.clone(),
        target: run.target.clone(),
        mode: match run.requested_rps {
            Some(_) => "open",
            None => "closed",
        },
        requested_rps: run.requested_rps,
        connections: run.connections,
        max_connections: run.max_connections,
        duration_s: run.duration.as_secs_f64(),
        requests,
        successes: recorder.successes(),
        errors,
        error_rate,
        achieved_rps: requests as f64 / ran_for.as_secs_f64().max(1e-3),
        by_status: recorder.by_status.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        failures: recorder.failures.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        latency_ms: latency,
        send_lag_ms,
        client_usage: open_loop.then_some(run.client_usage),
        client_limit,
        verification,
        gates: results,
        passed,
        interrupted: run.interrupted,
    }
}

/// Why the client held requests back, from what was measured; `None` when nothing
/// measured explains it, since lateness alone may be the server accepting slowly or a
/// timer's resolution, not the client.
fn client_limit_evidence(run: &super::RunSummary, ran_for: Duration, lag_p99: f64) -> Option<String> {
    if run.connections >= run.max_connections {
        return Some(format!(
            "all {} connections were busy, so requests waited for one (p99 {lag_p99} ms late); raise --max-connections",
            run.max_connections
        ));
    }
    let wall_ms = ran_for.as_secs_f64() * 1e3;
    let threads = run.client_threads.max(1) as f64;
    let usage = &run.client_usage;
    let cpu_share = usage.cpu_ms / (wall_ms * threads);
    if cpu_share >= CPU_BOUND {
        return Some(format!(
            "the load generator could not send on time (p99 {lag_p99} ms late): it used {:.0}% of the {} threads it \
             runs on",
            cpu_share * 100.0,
            run.client_threads
        ));
    }
    let waited = usage.waited_for_cpu_ms?;
    (waited / wall_ms >= WAITED_FOR_CPU).then(|| {
        format!(
            "the load generator could not send on time (p99 {lag_p99} ms late): its threads waited {:.0} ms in all \
             for a core, which the stack's processes were using",
            waited
        )
    })
}

/// The load generator's CPU time, as a share of all its threads could use, from which
/// it is its own limit.
const CPU_BOUND: f64 = 0.9;

/// Time the load generator's threads waited for a core, as a share of the run, from
/// which the machine's other processes are its limit: 5% is 50 ms a second, dozens of
/// scheduler slices.
const WAITED_FOR_CPU: f64 = 0.05;

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::load::RunSummary;

    /// An open-loop run of 1,000 requests over one second, each answered in 20 ms, of
    /// which `late` left `lag` after they were due and the rest 1 ms after, with what
    /// the load generator used.
    fn open_loop_run(late: u64, lag: Duration, pool_full: bool, usage: ClientUsage) -> LoadReport {
        let mut recorder = Recorder::default();
        for i in 0..1_000 {
            recorder.answered(200, Duration::from_millis(20));
            recorder.left(if i < late { lag } else { Duration::from_millis(1) });
        }
        let run = RunSummary {
            run_id: "test".into(),
            target: "http://127.0.0.1:1/".into(),
            requested_rps: Some(1_000.0),
            connections: if pool_full { 64 } else { 16 },
            max_connections: 64,
            duration: Duration::from_secs(1),
            started_at: SystemTime::now(),
            finished_at: SystemTime::now(),
            interrupted: false,
            client_usage: usage,
            client_threads: 2,
        };
        build(&run, &recorder, None, &Gates::default())
    }

    /// A load generator with CPU to spare that never waited for a core.
    const IDLE: ClientUsage = ClientUsage { cpu_ms: 150.0, waited_for_cpu_ms: Some(2.0) };

    #[test]
    fn a_timer_tick_and_a_scheduler_slice_late_is_not_the_client_limit() {
        // What a busy machine gives every run: well past 1% of requests, under 5 ms.
        let report = open_loop_run(300, Duration::from_micros(4_500), false, IDLE);
        assert!(report.client_limit.is_none(), "{:?}", report.client_limit);
    }

    #[test]
    fn lateness_is_the_clients_limit_only_with_evidence() {
        // Late, with every connection busy: the pool.
        let pool = open_loop_run(500, Duration::from_millis(40), true, IDLE).client_limit.expect("half late");
        assert!(pool.why.contains("all 64 connections were busy"), "{}", pool.why);
        // Late, with CPU to spare and no wait for a core: not the client's doing.
        assert!(open_loop_run(66, Duration::from_millis(12), false, IDLE).client_limit.is_none());
        // Late, and its threads waited 80 ms of the second for a core.
        let waited = ClientUsage { cpu_ms: 400.0, waited_for_cpu_ms: Some(80.0) };
        let busy = open_loop_run(20, Duration::from_millis(12), false, waited).client_limit.expect("evidence");
        assert_eq!(busy.late_requests, 20);
        assert!(busy.why.contains("waited 80 ms in all for a core"), "{}", busy.why);
        // Late, and it spent all the CPU of its two threads.
        let spent = ClientUsage { cpu_ms: 1_900.0, waited_for_cpu_ms: None };
        let cpu = open_loop_run(20, Duration::from_millis(12), false, spent).client_limit.expect("evidence");
        assert!(cpu.why.contains("it used 95% of the 2 threads"), "{}", cpu.why);
        // Below 1% late is noise, whatever was measured.
        assert!(open_loop_run(5, Duration::from_millis(40), false, waited).client_limit.is_none());
    }
}
