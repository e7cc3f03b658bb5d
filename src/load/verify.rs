//! Proof that a run's traces arrived, and complete ([`super::completeness`]).
//!
//! The client knows each request's trace id: the demo services (and any server that
//! answers with `traceresponse`) name it, and for other servers the request starts
//! the trace itself ([`super::trace_context`]). So [`verify_ids`] checks traces while
//! the load still runs: each once the Collector's counters say its spans reached
//! Jaeger ([`Delivery`]), again only while it is missing or incomplete; it reads them
//! over Jaeger's gRPC query API ([`JaegerGrpc`]). The verdict comes as soon as Jaeger
//! has written the run's last spans, however long the run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;

use serde::Serialize;

use super::completeness::Trace;
use super::delivery::Delivery;
use super::jaeger_grpc::JaegerGrpc;
use super::{Answered, LoadError};
use crate::services::telemetry::EXPORT_EVERY;
use crate::services::tracing_http::RUN_ID_ATTRIBUTE;

/// The outcome of verifying one run.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// Requests that reached the first service, so should have a trace.
    pub expected: u64,
    /// Traces with the run id found in Jaeger.
    pub found: u64,
    /// Of those, the complete ones.
    pub complete: u64,
    /// `complete / expected`, capped at 1.
    pub complete_ratio: f64,
    /// How long it waited for traces to arrive, in seconds.
    pub waited_s: f64,
    /// How long after the last request Jaeger had every span of the run, in seconds,
    /// when the Collector's counters say: of `waited_s`, the part spent waiting for
    /// the services to export and for Jaeger to write, not for the check.
    pub jaeger_had_all_s: Option<f64>,
    /// A few incomplete traces and why, to look at in Jaeger.
    pub incomplete_examples: Vec<String>,
}

/// How far the check by id has got, for live progress.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CheckProgress {
    /// Traces expected so far.
    pub expected: u64,
    /// Of those, found complete.
    pub complete: u64,
    /// How far Jaeger is behind the Collector, when the Collector's counters say.
    pub behind: Option<Duration>,
}

/// `complete / expected`, capped at 1; 1 when nothing was expected.
fn complete_ratio(complete: u64, expected: u64) -> f64 {
    if expected == 0 { 1.0 } else { (complete as f64 / expected as f64).min(1.0) }
}

/// How long the servers under load may hold a span before they export it: the demo
/// services export every [`EXPORT_EVERY`]; other servers are given the OpenTelemetry
/// SDKs' default batch delay ([`ExportDelay::sdk_default`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportDelay(pub Duration);

impl ExportDelay {
    /// The demo services' export interval.
    pub const DEMO_SERVICES: Self = Self(EXPORT_EVERY);

    /// `OTEL_BSP_SCHEDULE_DELAY` (milliseconds) when set, as the SDKs read it, else its
    /// default, 5 s (open-telemetry/opentelemetry-specification
    /// `specification/configuration/sdk-environment-variables.md`, Batch Span Processor).
    pub fn sdk_default(env: Option<&str>) -> Self {
        let ms = env.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(5_000);
        Self(Duration::from_millis(ms))
    }

    /// How long after a request is answered its last spans reach the Collector: the
    /// delay, and the export itself.
    fn exported(self) -> Duration {
        self.0.saturating_add(Duration::from_millis(250))
    }

    /// How old an answered request is before its trace is asked for, when the
    /// Collector's counters cannot say whether its spans reached Jaeger: the
    /// Collector flushes its queue every 200 ms.
    fn settle(self) -> Duration {
        self.exported().saturating_add(COLLECTOR_FLUSH)
    }
}

/// The Collector's batches wait at most this long (`flush_timeout` in
/// `templates/otelcol.yaml.j2`), and a little more for the write.
const COLLECTOR_FLUSH: Duration = Duration::from_millis(250);
/// How long a missing or incomplete trace waits before it is asked for again.
const RECHECK: Duration = Duration::from_millis(500);
/// The most traces asked for in one round.
const PER_ROUND: usize = 1_600;
/// Lookups by id in flight at once.
const PARALLEL_LOOKUPS: usize = 8;
/// Added to each end of a window of start times, for the clocks' rounding (Jaeger
/// keeps microseconds).
const MARGIN_US: u64 = 2_000;

/// How the check finds traces by start time: the first service's spans carry the run
/// id as the tag [`RUN_ID_ATTRIBUTE`] (the demo services do; other servers need not).
#[derive(Clone, Debug)]
pub struct RunTag {
    /// The first service's `service.name`.
    pub service: String,
    /// The run id.
    pub run_id: String,
}

/// Verifies the traces of the requests that arrive on `answers`, while the load runs.
/// Returns once the sender is gone and every trace is complete, or `wait` after the
/// sender is gone.
///
/// With `delivery` (the Collector's counters, when the services send through it), a
/// trace is first asked for once everything the Collector had accepted `export_delay`
/// (and the export) after its request was answered has reached Jaeger, so a Jaeger
/// that is behind is never asked for what it has not written yet. Without, a moment
/// longer after the answer, by the clock.
///
/// With `tagged`, each round first searches the run's traces by start time, from the
/// earliest request of the round to its latest answer ([`read`]): for Jaeger that is
/// one index scan and one iterator for the whole round, where a lookup by id opens a
/// transaction and an iterator for each trace.
pub async fn verify_ids(
    jaeger: JaegerGrpc,
    tagged: Option<RunTag>,
    mut answers: UnboundedReceiver<Answered>,
    mut delivery: Option<Delivery>,
    export_delay: ExportDelay,
    wait: Duration,
    progress: tokio::sync::watch::Sender<CheckProgress>,
) -> Result<Verification, LoadError> {
    let mut window = Window { tagged, clock: Clock::now(), searched_to: 0, unread: HashMap::new() };
    // Each trace id, by when it is next asked for.
    let mut due: BinaryHeap<Reverse<(Instant, u128)>> = BinaryHeap::new();
    let (mut expected, mut complete) = (0u64, 0u64);
    let mut found = std::collections::HashSet::new();
    let mut incomplete: HashMap<u128, String> = HashMap::new();
    let mut closed_at: Option<Instant> = None;
    // The latest moment a trace is first due, and when the Collector's counters first
    // said everything up to it had reached Jaeger.
    let mut last_due: Option<Instant> = None;
    let mut had_all_at: Option<Instant> = None;
    // When most of a round was not in Jaeger yet, Jaeger is behind: asking for more
    // now would only slow it down further, so the next round waits.
    let mut hold_until = Instant::now();
    // The last failure to reach Jaeger, until it answers again.
    let mut unreachable: Option<LoadError> = None;
    // Takes in one answered request. Each trace is asked for once the moment it is
    // keyed by has been delivered (or, without the counters, has passed).
    let first_wait = if delivery.is_some() { export_delay.exported() } else { export_delay.settle() };
    let admit = |due: &mut BinaryHeap<Reverse<(Instant, u128)>>,
                 window: &mut Window,
                 expected: &mut u64,
                 last_due: &mut Option<Instant>,
                 answer: Answered| {
        *expected += 1;
        let at = answer.at + first_wait;
        *last_due = Some(last_due.map_or(at, |last| last.max(at)));
        window.unread.insert(answer.trace, (answer.sent, answer.at));
        due.push(Reverse((at, answer.trace)));
    };
    loop {
        loop {
            match answers.try_recv() {
                Ok(answer) => admit(&mut due, &mut window, &mut expected, &mut last_due, answer),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed_at.get_or_insert_with(Instant::now);
                    break;
                }
            }
        }
        if closed_at.is_some_and(|closed| due.is_empty() || closed.elapsed() >= wait) {
            break;
        }
        let now = Instant::now();
        let counted = match delivery.as_mut() {
            Some(d) => d.delivered_by().await,
            None => None,
        };
        if closed_at.is_some() && had_all_at.is_none() && counted.zip(last_due).is_some_and(|(c, last)| c >= last) {
            had_all_at = Some(now);
        }
        let delivered = match (&delivery, counted) {
            (_, Some(counted)) => counted,
            // Counters unknown: by the clock, as without them.
            (Some(_), None) => now.checked_sub(COLLECTOR_FLUSH).unwrap_or(now),
            (None, None) => now,
        };
        let behind = delivery.as_ref().map(|_| now.saturating_duration_since(delivered));
        progress.send_replace(CheckProgress { expected, complete, behind });
        let mut ready = Vec::new();
        while let Some(Reverse((at, id))) = due.peek().copied() {
            if at > delivered || now < hold_until || ready.len() >= PER_ROUND {
                break;
            }
            due.pop();
            ready.push(id);
        }
        if ready.is_empty() {
            let mut next = due.peek().map_or(now + RECHECK, |Reverse((at, _))| *at).max(hold_until);
            // Due by the clock but not delivered yet: wait for the next read.
            if let Some(d) = &delivery
                && next <= now
            {
                next = d.next_read();
            }
            match closed_at {
                None => tokio::select! {
                    got = answers.recv() => match got {
                        Some(answer) => admit(&mut due, &mut window, &mut expected, &mut last_due, answer),
                        None => closed_at = Some(Instant::now()),
                    },
                    () = tokio::time::sleep_until(next) => {}
                },
                Some(closed) => tokio::time::sleep_until(next.min(closed + wait)).await,
            }
            continue;
        }
        let mut checked = match read(&jaeger, &mut window, &ready).await {
            Ok(traces) => traces,
            Err(e) => {
                // Jaeger restarting (or briefly overloaded) is not a verdict: ask again.
                unreachable = Some(e);
                hold_until = Instant::now() + RECHECK;
                due.extend(ready.into_iter().map(|id| Reverse((hold_until, id))));
                continue;
            }
        };
        unreachable = None;
        if checked.len() * 2 < ready.len() {
            hold_until = Instant::now() + RECHECK;
        }
        for id in ready {
            let why = match checked.remove(&id) {
                None => "not in Jaeger".to_owned(),
                Some(result) => {
                    found.insert(id);
                    match result {
                        Ok(()) => {
                            complete += 1;
                            incomplete.remove(&id);
                            continue;
                        }
                        Err(why) => why,
                    }
                }
            };
            incomplete.insert(id, why);
            due.push(Reverse((now + RECHECK, id)));
        }
    }
    if let Some(e) = unreachable
        && found.is_empty()
    {
        return Err(e);
    }
    // Those still waiting for their first read when the wait ended are not whole either.
    for Reverse((_, id)) in due {
        incomplete.entry(id).or_insert_with(|| "the wait ended before its spans were due in Jaeger".to_owned());
    }
    let mut incomplete_examples: Vec<String> =
        incomplete.iter().take(5).map(|(id, why)| format!("{id:032x}: {why}")).collect();
    incomplete_examples.sort();
    Ok(Verification {
        expected,
        found: found.len() as u64,
        complete,
        complete_ratio: complete_ratio(complete, expected),
        waited_s: closed_at.map_or(0.0, |c| c.elapsed().as_secs_f64()),
        jaeger_had_all_s: closed_at
            .zip(had_all_at)
            .map(|(closed, had)| had.saturating_duration_since(closed).as_secs_f64()),
        incomplete_examples,
    })
}

/// What the search by start time has covered.
struct Window {
    /// Searched for when `Some`.
    tagged: Option<RunTag>,
    clock: Clock,
    /// The end of the start times searched so far, in µs since the Unix epoch.
    searched_to: u64,
    /// The traces not asked for yet: when each request was sent, and answered.
    unread: HashMap<u128, (Instant, Instant)>,
}

/// Reads the traces `ready` from Jaeger and checks each. Those never asked for are
/// searched for by start time, in one window from the earliest request among them to
/// the latest answer (never before the end of the last window, so no trace is read
/// twice); the rest, and those the window missed (a request sent before the last
/// window's end and answered after it), are looked up by id.
async fn read(jaeger: &JaegerGrpc, window: &mut Window, ready: &[u128]) -> Result<HashMap<u128, Checked>, LoadError> {
    let mut traces = HashMap::new();
    let unread: Vec<(Instant, Instant)> = ready.iter().filter_map(|id| window.unread.get(id).copied()).collect();
    let sent = unread.iter().map(|(sent, _)| *sent).min();
    let answered = unread.iter().map(|(_, answered)| *answered).max();
    if let (Some(tag), Some(sent), Some(answered)) = (&window.tagged, sent, answered) {
        let from = window.clock.micros(sent).saturating_sub(MARGIN_US).max(window.searched_to);
        let to = window.clock.micros(answered) + MARGIN_US;
        if from < to {
            traces = jaeger.find(&tag.service, (RUN_ID_ATTRIBUTE, &tag.run_id), (from, to), SEARCH_LIMIT).await?;
            window.searched_to = to;
        }
    }
    let missed: Vec<u128> = ready.iter().copied().filter(|id| !traces.contains_key(id)).collect();
    traces.extend(get_each(jaeger, &missed).await?);
    for id in ready {
        window.unread.remove(id);
    }
    // Checking a round's traces takes milliseconds; on a runtime worker that held up
    // the requests due meanwhile (see `report::LATE`).
    let ready: std::collections::HashSet<u128> = ready.iter().copied().collect();
    let checked = tokio::task::spawn_blocking(move || {
        traces.into_iter().filter(|(id, _)| ready.contains(id)).map(|(id, trace)| (id, trace.check())).collect()
    });
    checked.await.map_err(|e| jaeger.failed(e))
}

/// A trace's check: complete, or why not.
type Checked = Result<(), String>;

/// Each of `ids` that Jaeger has, looked up by id, a few at a time.
async fn get_each(jaeger: &JaegerGrpc, ids: &[u128]) -> Result<HashMap<u128, Trace>, LoadError> {
    let mut lookups = tokio::task::JoinSet::new();
    let mut traces = HashMap::new();
    let mut ids = ids.iter().copied();
    loop {
        while lookups.len() < PARALLEL_LOOKUPS
            && let Some(id) = ids.next()
        {
            let jaeger = jaeger.clone();
            lookups.spawn(async move { jaeger.get(id).await.map(|trace| trace.map(|t| (id, t))) });
        }
        let Some(done) = lookups.join_next().await else { break };
        let done = done.map_err(|e| jaeger.failed(e))?;
        traces.extend(done?);
    }
    Ok(traces)
}

/// Instants as wall-clock time, from one reading of both clocks.
#[derive(Clone, Copy)]
struct Clock {
    instant: Instant,
    micros: u64,
}

impl Clock {
    fn now() -> Self {
        Self { instant: Instant::now(), micros: micros(SystemTime::now()) }
    }

    /// `at` in µs since the Unix epoch.
    fn micros(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.micros + after.as_micros() as u64,
            None => self.micros.saturating_sub(self.instant.duration_since(at).as_micros() as u64),
        }
    }
}

/// Microseconds since the Unix epoch.
fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Traces one Jaeger search may return, so no answer is huge. A round asks for at most
/// [`PER_ROUND`]; one its window's answer left out is looked up by id.
const SEARCH_LIMIT: usize = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_servers_export_delay_is_the_sdks_batch_delay() {
        assert_eq!(ExportDelay::sdk_default(None), ExportDelay(Duration::from_secs(5)));
        assert_eq!(ExportDelay::sdk_default(Some("1000")), ExportDelay(Duration::from_secs(1)));
        // What the SDKs would not take either leaves the default.
        assert_eq!(ExportDelay::sdk_default(Some("1s")), ExportDelay(Duration::from_secs(5)));
        assert_eq!(ExportDelay::DEMO_SERVICES.settle(), Duration::from_millis(1_000));
    }

    #[test]
    fn instants_become_wall_clock_time_before_and_after_the_reading() {
        let clock = Clock { instant: Instant::now(), micros: 1_764_000_000_000_000 };
        assert_eq!(clock.micros(clock.instant + Duration::from_millis(1_500)), 1_764_000_001_500_000);
        assert_eq!(clock.micros(clock.instant - Duration::from_micros(250)), 1_763_999_999_999_750);
    }
}
