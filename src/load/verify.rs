//! Proof that a run's traces arrived, and complete.
//!
//! Against the demo services (and any server that answers with `traceresponse`) the
//! client knows each request's trace id, so [`verify_ids`] checks traces by id while
//! the load still runs: each once the Collector's counters say its spans reached
//! Jaeger ([`Delivery`]), again only while it is missing or incomplete. The verdict
//! comes as soon as Jaeger has written the run's last spans, however long the run.
//! For other servers [`verify`] searches Jaeger for the run id's tag.
//!
//! Complete means: exactly one root; every span's parent is in the trace; and every
//! client span calling a service (`peer.service`) has a server span of that service
//! as its child. So a trace holds a span from every service the request passed
//! through, however far it got (a declined payment never reaches Shipping).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::LoadError;
use super::delivery::Delivery;
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

/// Where and what to look for.
#[derive(Clone, Debug)]
pub struct TraceQuery {
    /// Jaeger's query API base URL (`http://127.0.0.1:16686`).
    pub jaeger_url: String,
    /// The first service's `service.name`.
    pub service: String,
    /// The run id its spans carry.
    pub run_id: String,
    /// When the run started.
    pub from: SystemTime,
    /// When the last request finished.
    pub to: SystemTime,
}

/// Polls Jaeger until `expected` complete traces of the run are there, or `wait`
/// passes; then reports what it found.
pub async fn verify(query: &TraceQuery, expected: u64, wait: Duration) -> Result<Verification, LoadError> {
    let client = crate::http::local_client(Duration::from_secs(60));
    let started = std::time::Instant::now();
    loop {
        let traces = match fetch(&client, query).await {
            Ok(traces) => traces,
            // Jaeger restarting is not a verdict, until the wait is over.
            Err(e) if started.elapsed() >= wait => return Err(e),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut complete = 0;
        let mut incomplete_examples = Vec::new();
        for (id, trace) in &traces {
            match check_complete(trace) {
                Ok(()) => complete += 1,
                Err(why) if incomplete_examples.len() < 5 => incomplete_examples.push(format!("{id}: {why}")),
                Err(_) => {}
            }
        }
        let done = complete >= expected || started.elapsed() >= wait;
        if done {
            let ratio = if expected == 0 { 1.0 } else { (complete as f64 / expected as f64).min(1.0) };
            return Ok(Verification {
                expected,
                found: traces.len() as u64,
                complete,
                complete_ratio: ratio,
                waited_s: started.elapsed().as_secs_f64(),
                jaeger_had_all_s: None,
                incomplete_examples,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How old an answered request is before its trace is asked for, when the
/// Collector's counters cannot say whether its spans reached Jaeger: the services
/// export every 500 ms and the Collector flushes every 200 ms.
const SETTLE: Duration = Duration::from_millis(1_000);
/// How long after a request is answered its last spans reach the Collector: the
/// services' export interval, and the export itself.
const EXPORTED: Duration = EXPORT_EVERY.saturating_add(Duration::from_millis(250));
/// How long a missing or incomplete trace waits before it is asked for again.
const RECHECK: Duration = Duration::from_millis(500);
/// Trace ids per Jaeger request (each becomes one `traceID=` parameter).
const IDS_PER_REQUEST: usize = 100;
/// Jaeger requests in flight at once.
const PARALLEL_REQUESTS: usize = 4;

/// Verifies, by id, the traces whose ids arrive on `ids` (each with the moment its
/// request was answered), while the load runs. Returns once the sender is gone and
/// every trace is complete, or `wait` after the sender is gone.
///
/// With `delivery` (the Collector's counters, when the services send through it), a
/// trace is first asked for once everything the Collector had accepted
/// [`EXPORTED`] after its request was answered has reached Jaeger, so a Jaeger that
/// is behind is never asked for what it has not written yet. Without, [`SETTLE`]
/// after the answer.
pub async fn verify_ids(
    jaeger_url: &str,
    from: SystemTime,
    mut ids: UnboundedReceiver<(u128, Instant)>,
    mut delivery: Option<Delivery>,
    wait: Duration,
    progress: tokio::sync::watch::Sender<CheckProgress>,
) -> Result<Verification, LoadError> {
    let client = crate::http::local_client(Duration::from_secs(60));
    let url = format!("{}/api/traces", jaeger_url.trim_end_matches('/'));
    let start = micros(from).saturating_sub(1_000_000);
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
    let first_wait = if delivery.is_some() { EXPORTED } else { SETTLE };
    let admit = |due: &mut BinaryHeap<Reverse<(Instant, u128)>>,
                 expected: &mut u64,
                 last_due: &mut Option<Instant>,
                 (id, answered): (u128, Instant)| {
        *expected += 1;
        let at = answered + first_wait;
        *last_due = Some(last_due.map_or(at, |last| last.max(at)));
        due.push(Reverse((at, id)));
    };
    loop {
        loop {
            match ids.try_recv() {
                Ok(answered) => admit(&mut due, &mut expected, &mut last_due, answered),
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
            // Counters unknown: by the clock, SETTLE after the answer.
            (Some(_), None) => now.checked_sub(SETTLE - EXPORTED).unwrap_or(now),
            (None, None) => now,
        };
        let behind = delivery.as_ref().map(|_| now.saturating_duration_since(delivered));
        progress.send_replace(CheckProgress { expected, complete, behind });
        let mut ready = Vec::new();
        while let Some(Reverse((at, id))) = due.peek().copied() {
            if at > delivered || now < hold_until || ready.len() >= IDS_PER_REQUEST * PARALLEL_REQUESTS * 4 {
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
                    got = ids.recv() => match got {
                        Some(answered) => admit(&mut due, &mut expected, &mut last_due, answered),
                        None => closed_at = Some(Instant::now()),
                    },
                    () = tokio::time::sleep_until(next) => {}
                },
                Some(closed) => tokio::time::sleep_until(next.min(closed + wait)).await,
            }
            continue;
        }
        let end = micros(SystemTime::now()) + 60_000_000;
        let mut traces = match fetch_by_ids(&client, &url, &ready, start, end).await {
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
        if traces.len() * 2 < ready.len() {
            hold_until = Instant::now() + RECHECK;
        }
        for id in ready {
            let why = match traces.remove(&id) {
                None => "not in Jaeger".to_owned(),
                Some(checked) => {
                    found.insert(id);
                    match checked {
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
    let mut incomplete_examples: Vec<String> =
        incomplete.iter().take(5).map(|(id, why)| format!("{id:032x}: {why}")).collect();
    incomplete_examples.sort();
    Ok(Verification {
        expected,
        found: found.len() as u64,
        complete,
        complete_ratio: if expected == 0 { 1.0 } else { (complete as f64 / expected as f64).min(1.0) },
        waited_s: closed_at.map_or(0.0, |c| c.elapsed().as_secs_f64()),
        jaeger_had_all_s: closed_at
            .zip(had_all_at)
            .map(|(closed, had)| had.saturating_duration_since(closed).as_secs_f64()),
        incomplete_examples,
    })
}

/// The traces among `ids` that Jaeger has, each checked, asked for in parallel batches.
async fn fetch_by_ids(
    client: &reqwest::Client,
    url: &str,
    ids: &[u128],
    start: u64,
    end: u64,
) -> Result<HashMap<u128, Result<(), String>>, LoadError> {
    let mut requests = tokio::task::JoinSet::new();
    let mut traces = HashMap::new();
    let mut chunks = ids.chunks(IDS_PER_REQUEST);
    loop {
        while requests.len() < PARALLEL_REQUESTS
            && let Some(chunk) = chunks.next()
        {
            let mut query: Vec<(&str, String)> = chunk.iter().map(|id| ("traceID", format!("{id:032x}"))).collect();
            // `raw` skips Jaeger's display adjustments (clock skew and the like), which a
            // completeness check does not need: a third less work per trace.
            query.extend([("start", start.to_string()), ("end", end.to_string()), ("raw", "true".to_owned())]);
            let (client, url) = (client.clone(), url.to_owned());
            requests.spawn(async move {
                let failed = |why: String| LoadError::Jaeger { url: url.clone(), why };
                let answer = client.get(&url).query(&query).send().await.map_err(|e| failed(e.to_string()))?;
                let status = answer.status();
                let body = answer.bytes().await.map_err(|e| failed(e.to_string()))?;
                // A hundred traces take milliseconds to parse. On a runtime worker that
                // held up the requests due meanwhile: at 1,000 rps, 1.8 to 7.4% of them
                // left over 2 ms late, against 1.2 to 1.6% with the parse off it
                // (measured with 2 ms, before `report::LATE` became 5 ms).
                let checked = tokio::task::spawn_blocking(move || {
                    let parsed: JaegerAnswer = serde_json::from_slice(&body)
                        .map_err(|e| format!("it answered {status} with no trace list: {e}"))?;
                    Ok::<_, String>(parsed.data.iter().filter_map(|t| Some((t.id()?, t.check()))).collect::<Vec<_>>())
                });
                checked.await.map_err(|e| failed(e.to_string()))?.map_err(failed)
            });
        }
        let Some(joined) = requests.join_next().await else { break };
        let batch = joined.map_err(|e| LoadError::Jaeger { url: url.to_owned(), why: e.to_string() })??;
        traces.extend(batch);
    }
    Ok(traces)
}

/// Microseconds since the Unix epoch.
fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Traces one Jaeger search may return. Jaeger refuses a limit at or above its
/// `max_traces`; a slice whose answer is full is split in two and asked again.
const SEARCH_LIMIT: usize = 5_000;

/// Every trace of the run, by trace id. Asks in 10-second slices, halving any slice
/// whose answer reaches the search limit, so no answer is huge and none is cut short.
async fn fetch(client: &reqwest::Client, q: &TraceQuery) -> Result<BTreeMap<String, Value>, LoadError> {
    let (from, to) = (micros(q.from).saturating_sub(1_000_000), micros(q.to) + 5_000_000);
    let mut slices: Vec<(u64, u64)> = (from..to).step_by(10_000_000).map(|s| (s, (s + 10_000_000).min(to))).collect();
    let mut traces = BTreeMap::new();
    while let Some((start, end)) = slices.pop() {
        let found = search(client, q, start, end).await?;
        if found.len() >= SEARCH_LIMIT && end - start > 1_000 {
            let mid = start + (end - start) / 2;
            slices.extend([(start, mid), (mid, end)]);
            continue;
        }
        for trace in found {
            if let Some(id) = trace["traceID"].as_str() {
                traces.insert(id.to_owned(), trace);
            }
        }
    }
    Ok(traces)
}

/// One Jaeger search for the run's traces between `start` and `end` (µs).
async fn search(client: &reqwest::Client, q: &TraceQuery, start: u64, end: u64) -> Result<Vec<Value>, LoadError> {
    let url = format!("{}/api/traces", q.jaeger_url.trim_end_matches('/'));
    let failed = |why: String| LoadError::Jaeger { url: url.clone(), why };
    let tags = serde_json::json!({ RUN_ID_ATTRIBUTE: q.run_id }).to_string();
    let answer = client
        .get(&url)
        .query(&[
            ("service", q.service.as_str()),
            ("tags", tags.as_str()),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("limit", &SEARCH_LIMIT.to_string()),
        ])
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = answer.status();
    let body: Value = answer.json().await.map_err(|e| failed(format!("it answered {status} with no JSON: {e}")))?;
    if let Some(message) = body["errors"].as_array().and_then(|e| e.first()).and_then(|e| e["msg"].as_str()) {
        return Err(failed(format!("it refused the trace search: {message}")));
    }
    Ok(body["data"].as_array().cloned().unwrap_or_default())
}

/// The parts of a trace in Jaeger's JSON that completeness depends on; everything else
/// in the (large) answer is skipped while parsing.
#[derive(Debug, Deserialize)]
pub struct JaegerTrace<'a> {
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    spans: Vec<JaegerSpan<'a>>,
    #[serde(borrow, default)]
    processes: HashMap<Cow<'a, str>, JaegerProcess<'a>>,
}

#[derive(Debug, Deserialize)]
struct JaegerSpan<'a> {
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
    #[serde(rename = "operationName", borrow, default)]
    operation: Cow<'a, str>,
    #[serde(rename = "processID", borrow, default)]
    process_id: Cow<'a, str>,
    #[serde(borrow, default)]
    references: Vec<JaegerReference<'a>>,
    #[serde(borrow, default)]
    tags: Vec<JaegerTag<'a>>,
}

#[derive(Debug, Deserialize)]
struct JaegerReference<'a> {
    #[serde(rename = "refType", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct JaegerTag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct JaegerProcess<'a> {
    #[serde(rename = "serviceName", borrow)]
    service: Cow<'a, str>,
}

/// A Jaeger answer: `{"data": [trace, ...]}`.
#[derive(Debug, Deserialize)]
struct JaegerAnswer<'a> {
    #[serde(borrow, default)]
    data: Vec<JaegerTrace<'a>>,
}

impl JaegerTrace<'_> {
    /// The trace id, as a number (Jaeger drops leading zeros).
    fn id(&self) -> Option<u128> {
        u128::from_str_radix(&self.trace_id, 16).ok()
    }

    /// Whether the trace is complete; if not, why.
    pub fn check(&self) -> Result<(), String> {
        let service_of =
            |span: &JaegerSpan| self.processes.get(&span.process_id).map_or(String::new(), |p| p.service.to_string());
        let tag = |span: &JaegerSpan, key: &str| {
            span.tags.iter().find(|t| t.key == key).and_then(|t| t.value.as_str().map(str::to_owned))
        };
        let parent = |span: &JaegerSpan| {
            span.references.iter().find(|r| r.kind == "CHILD_OF").map(|r| r.span_id.as_ref().to_owned())
        };
        let ids: BTreeSet<&str> = self.spans.iter().map(|s| s.span_id.as_ref()).collect();
        let roots = self.spans.iter().filter(|s| parent(s).is_none()).count();
        if roots != 1 {
            return Err(format!("{roots} root spans, expected 1"));
        }
        for span in &self.spans {
            if let Some(p) = parent(span)
                && !ids.contains(p.as_str())
            {
                return Err(format!("parent {p} of \"{}\" ({}) is missing", span.operation, service_of(span)));
            }
            if tag(span, "span.kind").as_deref() == Some("client")
                && let Some(peer) = tag(span, "peer.service")
            {
                let answered = self
                    .spans
                    .iter()
                    .any(|s| parent(s).as_deref() == Some(span.span_id.as_ref()) && service_of(s) == peer);
                if !answered {
                    return Err(format!(
                        "no span of {peer} under the call \"{}\" from {}",
                        span.operation,
                        service_of(span)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether one trace (Jaeger's JSON) is complete; if not, why.
pub fn check_complete(trace: &Value) -> Result<(), String> {
    let trace: JaegerTrace = JaegerTrace::deserialize(trace).map_err(|e| format!("not a Jaeger trace: {e}"))?;
    trace.check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(id: &str, parent: Option<&str>, pid: &str, tags: &[(&str, &str)]) -> Value {
        let refs: Vec<Value> = parent.iter().map(|p| json!({ "refType": "CHILD_OF", "spanID": p })).collect();
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
        json!({ "spanID": id, "operationName": format!("op-{id}"), "processID": pid, "references": refs, "tags": tags })
    }

    fn trace(spans: Vec<Value>) -> Value {
        json!({ "spans": spans, "processes": { "p1": { "serviceName": "Order-service" }, "p2": { "serviceName": "Payment-service" } } })
    }

    #[test]
    fn complete_trace_passes() {
        let t = trace(vec![
            span("a", None, "p1", &[("span.kind", "server")]),
            span("b", Some("a"), "p1", &[("span.kind", "client"), ("peer.service", "Payment-service")]),
            span("c", Some("b"), "p2", &[("span.kind", "server")]),
        ]);
        assert_eq!(check_complete(&t), Ok(()));
    }

    #[test]
    fn missing_callee_or_parent_is_incomplete() {
        let no_callee = trace(vec![
            span("a", None, "p1", &[("span.kind", "server")]),
            span("b", Some("a"), "p1", &[("span.kind", "client"), ("peer.service", "Payment-service")]),
        ]);
        assert!(check_complete(&no_callee).unwrap_err().contains("no span of Payment-service"));
        let orphan = trace(vec![span("a", None, "p1", &[]), span("c", Some("zz"), "p2", &[])]);
        assert!(check_complete(&orphan).unwrap_err().contains("missing"));
        let two_roots = trace(vec![span("a", None, "p1", &[]), span("b", None, "p2", &[])]);
        assert!(check_complete(&two_roots).is_err());
    }
}
