//! `obsdemo doctor`: walk the path telemetry takes through the running stack and name
//! the first broken hop, with the fix. Every check asks the real component: a probe
//! span sent over OTLP/gRPC and OTLP/HTTP, the Collector's own counters, Jaeger's API,
//! Prometheus's targets and samples, Grafana's API, and each of the user's apps.
//!
//! It reads only what the running stack recorded (`state.json`, the launch file), so
//! it checks the stack that runs, whatever `stack.toml` says now. Each of the user's
//! apps is checked by [`app`].

mod app;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use crate::components::{ComponentId, EndpointKey, collector, grafana, jaeger, prometheus};
use crate::health::span_counters::SpanCounters;
use crate::running::RunningStack;
use crate::stack::process::Launch;
use crate::stack::{OtlpProtocol, StatePaths};
use crate::status::StatusReport;
use crate::supervisor::state::ComponentState;

/// How one hop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It works.
    Ok,
    /// It cannot be told (an app with no port to send a request to, and no span yet;
    /// components not all healthy, where a later hop says which part breaks).
    Unknown,
    /// It is broken.
    Broken,
}

/// One hop of the path.
#[derive(Clone, Debug, Serialize)]
pub struct Hop {
    /// What was checked.
    pub name: String,
    /// How it did.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// What to do, when it is not good.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every hop, in the order telemetry travels.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    /// The hops checked.
    pub hops: Vec<Hop>,
    /// The first broken hop, by name.
    pub first_broken: Option<String>,
}

impl Diagnosis {
    /// No hop is broken.
    pub fn healthy(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Walks every hop of the stack in `paths`; `None` when no stack ever ran there.
pub async fn diagnose(paths: &StatePaths) -> Option<Diagnosis> {
    let status = crate::status::collect(paths).await.ok().flatten()?;
    let launch = Launch::read(paths).ok();
    let stack = RunningStack::recorded(paths).ok().flatten()?;
    let endpoint = |key: EndpointKey| stack.endpoint(key).map(str::to_owned);
    let client = crate::http::local_client(Duration::from_secs(5));
    let mut hops = Vec::new();

    hops.push(supervisor_hop(&status));
    let probe = format!("obsdemo-doctor-{}", crate::stack::paths::random_token(8));
    let mut sent = Vec::new();
    match (stack.intake(OtlpProtocol::Grpc), stack.intake(OtlpProtocol::Http)) {
        (Some(grpc), Some(http)) => {
            // Which component the intake is: the Collector, or Jaeger in `direct`.
            let owner = stack.intake_owner().unwrap_or("the intake").to_owned();
            let before = endpoint(collector::METRICS).map(|m| (m.clone(), ()));
            let counters_before = match &before {
                Some((m, ())) => span_counters(&client, m).await,
                None => None,
            };
            let (hop, trace) = send_grpc(&owner, grpc, &probe).await;
            hops.push(hop);
            sent.extend(trace);
            let (hop, trace) = send_http(&client, &owner, http, &probe).await;
            hops.push(hop);
            sent.extend(trace);
            if let (Some((metrics, ())), Some(before)) = (before, counters_before) {
                hops.push(collector_counters_hop(&client, &metrics, before, sent.len() as u64).await);
            }
        }
        _ => hops.push(broken(
            "span intake",
            "the stack records no OTLP intake (neither the Collector nor Jaeger runs)".into(),
            "start it with the Collector or Jaeger: `obsdemo up`",
        )),
    }
    match endpoint(jaeger::QUERY) {
        Some(jaeger) => hops.push(jaeger_hop(&client, &jaeger, &sent).await),
        None => hops.push(broken(
            "Jaeger returns the probe",
            "Jaeger is not part of this stack".into(),
            "`obsdemo up` without `--without jaeger`",
        )),
    }
    if let Some(prometheus) = endpoint(prometheus::API) {
        hops.push(prometheus_hop(&client, &prometheus).await);
    }
    if let Some(grafana) = endpoint(grafana::API) {
        hops.push(grafana_hop(&client, &grafana, paths).await);
    }
    if let Some(launch) = &launch {
        hops.extend(app_hops(&client, paths, launch, &status, &stack).await);
    }
    let first_broken = hops.iter().find(|h| h.verdict == Verdict::Broken).map(|h| h.name.clone());
    Some(Diagnosis { hops, first_broken })
}

fn ok(name: &str, detail: String) -> Hop {
    Hop { name: name.into(), verdict: Verdict::Ok, detail, fix: None }
}

fn broken(name: &str, detail: String, fix: &str) -> Hop {
    Hop { name: name.into(), verdict: Verdict::Broken, detail, fix: Some(fix.into()) }
}

fn supervisor_hop(status: &StatusReport) -> Hop {
    let name = "the stack runs";
    if !status.supervisor.running {
        return broken(name, "no supervisor answers".into(), "`obsdemo up` (after `obsdemo down`)");
    }
    let unhealthy: Vec<String> = status
        .components
        .iter()
        .filter(|c| c.state != ComponentState::Disabled && !c.healthy)
        .map(|c| format!("{} ({:?})", c.name, c.state).to_lowercase())
        .collect();
    if unhealthy.is_empty() {
        return ok(name, "every component is running and healthy".into());
    }
    // The hops below say which part of the path that breaks, if any.
    Hop {
        name: name.into(),
        verdict: Verdict::Unknown,
        detail: format!("not healthy: {}", unhealthy.join(", ")),
        fix: Some("`obsdemo status` and `obsdemo logs <component>`".into()),
    }
}

/// Sends one span over OTLP/gRPC with the real OpenTelemetry SDK; returns its trace id.
async fn send_grpc(owner: &str, endpoint: &str, probe: &str) -> (Hop, Option<String>) {
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    use opentelemetry_otlp::WithExportConfig;
    let name = &format!("{owner} accepts a span over OTLP/gRPC");
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
    {
        Ok(e) => e,
        Err(e) => return (broken(name, format!("cannot build an exporter for {endpoint}: {e}"), "report this"), None),
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name("obsdemo-doctor").build())
        .with_batch_exporter(exporter)
        .build();
    let mut span = provider.tracer("obsdemo-doctor").start(format!("{probe} grpc"));
    let trace_id = span.span_context().trace_id().to_string();
    span.end();
    // Flushing waits for the export and reports its failure; it blocks, so elsewhere.
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush().and(provider.shutdown())).await;
    match flushed {
        Ok(Ok(())) => (ok(name, format!("a probe span went to {endpoint}")), Some(trace_id)),
        Ok(Err(e)) => (
            broken(
                name,
                format!("{endpoint} did not take a span: {e}"),
                &format!("`obsdemo status`; `obsdemo logs {owner}`"),
            ),
            None,
        ),
        Err(e) => (broken(name, format!("the exporter panicked: {e}"), "report this"), None),
    }
}

/// Sends one span over OTLP/HTTP as JSON; returns its trace id.
async fn send_http(client: &reqwest::Client, owner: &str, endpoint: &str, probe: &str) -> (Hop, Option<String>) {
    let name = &format!("{owner} accepts a span over OTLP/HTTP");
    let logs = format!("`obsdemo status`; `obsdemo logs {owner}`");
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let trace_id = crate::stack::paths::random_hex(16);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let body = json!({ "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "obsdemo-doctor" } }] },
        "scopeSpans": [{ "spans": [{
            "traceId": trace_id, "spanId": crate::stack::paths::random_hex(8), "name": format!("{probe} http"),
            "kind": 1, "startTimeUnixNano": (now - 1_000_000).to_string(), "endTimeUnixNano": now.to_string(),
        }]}],
    }]});
    match client.post(&url).json(&body).send().await {
        Ok(r) if r.status().is_success() => (ok(name, format!("a probe span went to {url}")), Some(trace_id)),
        Ok(r) => (broken(name, format!("{url} answered {}", r.status()), &logs), None),
        Err(e) => (broken(name, format!("{url}: {e}"), &logs), None),
    }
}

/// The Collector's span counters.
async fn span_counters(client: &reqwest::Client, metrics_url: &str) -> Option<SpanCounters> {
    SpanCounters::parse(&client.get(metrics_url).send().await.ok()?.text().await.ok()?)
}

/// Waits until the Collector's counters show the probes accepted and sent on.
async fn collector_counters_hop(client: &reqwest::Client, metrics: &str, before: SpanCounters, probes: u64) -> Hop {
    let name = "the Collector passes the probes on to Jaeger";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = span_counters(client, metrics).await.unwrap_or(before);
        let SpanCounters { accepted, refused, sent, failed } = now.since(&before);
        if refused > 0 {
            return broken(name, format!("it refused {refused} span(s)"), "`obsdemo logs collector` (memory limit?)");
        }
        if failed > 0 {
            return broken(
                name,
                format!("its export to Jaeger failed for {failed} span(s)"),
                "Jaeger is down or unreachable: `obsdemo status`, `obsdemo logs jaeger`",
            );
        }
        if accepted >= probes && sent >= probes {
            return ok(name, format!("accepted {accepted}, sent {sent}, refused 0, failed 0"));
        }
        if Instant::now() >= deadline {
            let why =
                if accepted >= probes { "its export to Jaeger does not get through" } else { "it did not count them" };
            return broken(
                name,
                format!("after 10 s: accepted {accepted}, sent {sent} of {probes} probe span(s): {why}"),
                "is Jaeger up? `obsdemo status`, `obsdemo logs jaeger`, `obsdemo logs collector`",
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until Jaeger returns every probe trace.
async fn jaeger_hop(client: &reqwest::Client, jaeger: &str, traces: &[String]) -> Hop {
    let name = "Jaeger returns the probe";
    if traces.is_empty() {
        return broken(name, "no probe span was sent (see the hops above)".into(), "mend the intake first");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut missing = Vec::new();
        for id in traces {
            let url = format!("{}/api/traces/{id}", jaeger.trim_end_matches('/'));
            let found = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    r.json::<Value>().await.ok().is_some_and(|b| b["data"][0]["spans"].is_array())
                }
                Ok(_) => false,
                Err(e) => {
                    return broken(
                        name,
                        format!("cannot ask Jaeger at {jaeger}: {e}"),
                        "`obsdemo status`; `obsdemo logs jaeger`",
                    );
                }
            };
            if !found {
                missing.push(id.clone());
            }
        }
        if missing.is_empty() {
            return ok(name, format!("{} probe trace(s) found at {jaeger}", traces.len()));
        }
        if Instant::now() >= deadline {
            return broken(
                name,
                format!("after 15 s Jaeger has no trace {}", missing.join(", ")),
                "`obsdemo logs collector` (export errors) and `obsdemo logs jaeger`",
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Prometheus scrapes the Collector, and a host metric is fresh. A stack that just
/// started has not scraped yet, so this waits up to 20 s for the first samples.
async fn prometheus_hop(client: &reqwest::Client, prometheus: &str) -> Hop {
    let name = "Prometheus has fresh host metrics";
    let api = prometheus.trim_end_matches('/');
    let get = |path: &'static str, query: &'static str| async move {
        let request = client.get(format!("{api}{path}"));
        let request = if query.is_empty() { request } else { request.query(&[("query", query)]) };
        request.send().await.ok()?.json::<Value>().await.ok()
    };
    // The age of the newest host sample. timestamp() drops metric names, so the name
    // is kept in a label first, or series of different metrics would collide.
    let query =
        r#"time() - max(timestamp(label_replace({__name__=~"system_.+"}, "metric", "$1", "__name__", "(.+)")))"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Some(targets) = get("/api/v1/targets?state=active", "").await else {
            return broken(
                name,
                format!("cannot ask Prometheus at {api}"),
                "`obsdemo status`; `obsdemo logs prometheus`",
            );
        };
        let active = targets["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        let down = active.iter().find(|t| t["health"] == "down");
        let age = get("/api/v1/query", query)
            .await
            .and_then(|v| v["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok());
        let verdict = match (active.is_empty(), down, age) {
            (false, None, Some(age)) if age < 120.0 => {
                Some(ok(name, format!("the Collector's target is up; the newest host sample is {age:.0} s old")))
            }
            (_, Some(down), _) => Some(broken(
                name,
                format!("target {} is down: {}", down["scrapeUrl"], down["lastError"].as_str().unwrap_or("?")),
                "`obsdemo logs collector` (is its Prometheus exporter up?)",
            )),
            (false, None, Some(age)) => Some(broken(
                name,
                format!("the newest host sample is {age:.0} s old"),
                "`obsdemo logs collector` (hostmetrics receiver)",
            )),
            _ => None,
        };
        if let Some(hop) = verdict {
            return hop;
        }
        if Instant::now() >= deadline {
            let detail = if active.is_empty() {
                "Prometheus has no scrape target after 20 s"
            } else {
                "no host sample after 20 s"
            };
            return broken(name, detail.into(), "check rendered/prometheus.yml and `obsdemo logs prometheus`");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Grafana's datasource is healthy and the dashboards are provisioned.
async fn grafana_hop(client: &reqwest::Client, grafana: &str, paths: &StatePaths) -> Hop {
    let name = "Grafana shows the dashboards";
    let password = std::fs::read_to_string(paths.grafana_password()).unwrap_or_default();
    let api = grafana.trim_end_matches('/');
    let get = |path: &str| client.get(format!("{api}{path}")).basic_auth("admin", Some(password.trim())).send();
    let datasource = get("/api/datasources/uid/obsdemo-prometheus/health").await;
    match datasource {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            return broken(name, format!("its Prometheus datasource answers {}", r.status()), "`obsdemo logs grafana`");
        }
        Err(e) => {
            return broken(
                name,
                format!("cannot ask Grafana at {api}: {e}"),
                "`obsdemo status`; `obsdemo logs grafana`",
            );
        }
    }
    let dashboards = match get("/api/search?type=dash-db").await {
        Ok(r) => r.json::<Value>().await.ok().and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0),
        Err(_) => 0,
    };
    if dashboards == 0 {
        return broken(name, "no dashboard is provisioned".into(), "`obsdemo render` and check rendered/grafana/");
    }
    ok(name, format!("datasource healthy, {dashboards} dashboard(s)"))
}

/// Every app of the launch file, checked at once (each may wait for its SDK's batch
/// delay), in the launch file's order.
async fn app_hops(
    client: &reqwest::Client,
    paths: &StatePaths,
    launch: &Launch,
    status: &StatusReport,
    stack: &RunningStack,
) -> Vec<Hop> {
    let intake = |protocol| stack.intake(protocol).unwrap_or_default().to_owned();
    let intakes = app::Intakes { grpc: intake(OtlpProtocol::Grpc), http: intake(OtlpProtocol::Http) };
    let jaeger = stack.endpoint(jaeger::QUERY).map(str::to_owned);
    // The Collector's log, where it runs: it may tell what arrived at its ports.
    let collector = stack.intake_owner().filter(|owner| *owner == ComponentId::Collector.name());
    let collector_log = collector.map(|name| paths.log(name));
    let mut checks = tokio::task::JoinSet::new();
    // The processes obsdemo pointed at the stack as an app (`OTEL_SERVICE_NAME` set).
    let apps = launch.specs.iter().filter(|s| s.env.iter().any(|(k, _)| k == "OTEL_SERVICE_NAME"));
    for (i, spec) in apps.enumerate() {
        let app = app::App {
            name: spec.name.clone(),
            env: spec.env.iter().cloned().collect(),
            url: spec.url.clone(),
            log: paths.log(&spec.name),
        };
        let component = status.components.iter().find(|c| c.name == spec.name).cloned();
        let (client, intakes, jaeger, collector_log) =
            (client.clone(), intakes.clone(), jaeger.clone(), collector_log.clone());
        checks.spawn(async move {
            (i, app::hop(&client, &app, component.as_ref(), &intakes, jaeger.as_deref(), collector_log).await)
        });
    }
    let mut hops: Vec<(usize, Hop)> = checks.join_all().await;
    hops.sort_by_key(|(i, _)| *i);
    hops.into_iter().map(|(_, hop)| hop).collect()
}
