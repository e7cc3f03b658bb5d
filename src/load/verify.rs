//! Proof that a run's traces arrived: ask Jaeger for every trace tagged with the run
//! id, and check each is complete.
//!
//! Complete means: exactly one root; every span's parent is in the trace; and every
//! client span calling a service (`peer.service`) has a server span of that service
//! as its child. So a trace holds a span from every service the request passed
//! through, however far it got (a declined payment never reaches Shipping).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use super::LoadError;
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
    /// A few incomplete traces and why, to look at in Jaeger.
    pub incomplete_examples: Vec<String>,
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
    let started = Instant::now();
    loop {
        let traces = fetch(&client, query).await?;
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
                incomplete_examples,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Traces one Jaeger search may return. Jaeger refuses a limit at or above its
/// `max_traces`; a slice whose answer is full is split in two and asked again.
const SEARCH_LIMIT: usize = 5_000;

/// Every trace of the run, by trace id. Asks in 10-second slices, halving any slice
/// whose answer reaches the search limit, so no answer is huge and none is cut short.
async fn fetch(client: &reqwest::Client, q: &TraceQuery) -> Result<BTreeMap<String, Value>, LoadError> {
    let micros = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
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

/// Whether one trace (Jaeger's JSON) is complete; if not, why.
pub fn check_complete(trace: &Value) -> Result<(), String> {
    let spans = trace["spans"].as_array().ok_or("no spans")?;
    let service_of = |span: &Value| {
        let pid = span["processID"].as_str().unwrap_or_default();
        trace["processes"][pid]["serviceName"].as_str().unwrap_or_default().to_owned()
    };
    let tag = |span: &Value, key: &str| {
        span["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["key"] == key)
            .and_then(|t| t["value"].as_str())
            .map(str::to_owned)
    };
    let ids: BTreeSet<&str> = spans.iter().filter_map(|s| s["spanID"].as_str()).collect();
    let parent = |span: &Value| {
        span["references"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["refType"] == "CHILD_OF")
            .and_then(|r| r["spanID"].as_str())
            .map(str::to_owned)
    };
    let roots = spans.iter().filter(|s| parent(s).is_none()).count();
    if roots != 1 {
        return Err(format!("{roots} root spans, expected 1"));
    }
    for span in spans {
        if let Some(p) = parent(span)
            && !ids.contains(p.as_str())
        {
            return Err(format!("parent {p} of {} ({}) is missing", span["operationName"], service_of(span)));
        }
        if tag(span, "span.kind").as_deref() == Some("client")
            && let Some(peer) = tag(span, "peer.service")
        {
            let id = span["spanID"].as_str().unwrap_or_default();
            let answered = spans.iter().any(|s| parent(s).as_deref() == Some(id) && service_of(s) == peer);
            if !answered {
                return Err(format!(
                    "no span of {peer} under the call {} from {}",
                    span["operationName"],
                    service_of(span)
                ));
            }
        }
    }
    Ok(())
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
