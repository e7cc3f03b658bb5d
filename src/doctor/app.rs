//! The hop of one of the user's apps: it runs, its SDK is pointed at an intake that
//! speaks its protocol, and a request it answers arrives in Jaeger as a trace.
//!
//! Spans are matched by the request, not by a service name: the doctor sends the app
//! one request carrying a W3C `traceparent` of its own and reads that trace by id, so
//! an app that names its services itself is still recognised. Where nothing arrives,
//! the app's log and the Collector's are read for the signs of one protocol spoken to
//! the other's port, and the setting to change is named.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Hop, Verdict, broken, ok};
use crate::components::APP_ATTRIBUTE;
use crate::stack::OtlpProtocol;
use crate::status::ComponentStatus;
use crate::supervisor::state::ComponentState;

/// The stack's two span intakes (`http://127.0.0.1:4317`, `...:4318`).
#[derive(Clone, Debug)]
pub struct Intakes {
    /// OTLP over gRPC.
    pub grpc: String,
    /// OTLP over HTTP.
    pub http: String,
}

impl Intakes {
    fn url(&self, protocol: OtlpProtocol) -> &str {
        match protocol {
            OtlpProtocol::Grpc => &self.grpc,
            OtlpProtocol::Http => &self.http,
        }
    }
}

/// One app as the running stack launched it.
#[derive(Clone, Debug)]
pub struct App {
    /// Its name in `stack.toml`.
    pub name: String,
    /// The environment it was started with.
    pub env: BTreeMap<String, String>,
    /// Its main URL, when it listens.
    pub url: Option<String>,
    /// Its log file.
    pub log: PathBuf,
}

/// Where an OpenTelemetry SDK started with some environment sends spans, as the
/// specification reads its variables (opentelemetry-specification
/// `protocol/exporter.md`): the traces-specific variable wins over the general one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkTarget {
    /// The endpoint's variable.
    pub endpoint_from: &'static str,
    /// Its value.
    pub endpoint: String,
    /// The protocol's variable and what it says, when one is set.
    pub protocol: Option<(&'static str, OtlpProtocol)>,
}

/// The variables of [`SdkTarget`], read from `env`; `None` when no endpoint is set.
pub fn sdk_target(env: &BTreeMap<String, String>) -> Option<SdkTarget> {
    let first = |keys: [&'static str; 2]| keys.into_iter().find_map(|k| Some((k, env.get(k)?.trim().to_owned())));
    let (endpoint_from, endpoint) =
        first(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]).filter(|(_, v)| !v.is_empty())?;
    let protocol = first(["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"])
        .and_then(|(k, v)| Some((k, OtlpProtocol::from_sdk_setting(&v)?)));
    Some(SdkTarget { endpoint_from, endpoint, protocol })
}

/// Which intake `target` names, or what is wrong with it and the fix.
pub fn check_target(target: &SdkTarget, intakes: &Intakes) -> Result<OtlpProtocol, (String, String)> {
    let SdkTarget { endpoint_from: from, endpoint, protocol } = target;
    let named = [OtlpProtocol::Grpc, OtlpProtocol::Http].into_iter().find(|p| same_listener(endpoint, intakes.url(*p)));
    let Some(intake) = named else {
        return Err((
            format!(
                "its {from} is {endpoint}, but the stack receives OTLP/gRPC at {} and OTLP/HTTP at {}",
                intakes.grpc, intakes.http
            ),
            format!(
                "remove {from} from its `env` in stack.toml (obsdemo sets the right one), or write it with the \
                 placeholder {{otlp.grpc}} or {{otlp.http}}"
            ),
        ));
    };
    if let Some((protocol_from, declared)) = protocol
        && *declared != intake
    {
        let (said, other) = (declared.sdk_setting(), name(intake));
        return Err((
            format!("its {protocol_from} is {said}, but its {from} {endpoint} is the stack's {other} intake"),
            format!(
                "set `otlp = \"{}\"` in its [[apps]] entry (obsdemo then gives it {}), or remove {from} from its env",
                declared.setting_name(),
                intakes.url(*declared)
            ),
        ));
    }
    // The traces-specific endpoint is used as given over HTTP (the general one gets
    // `/v1/traces` appended by the SDK).
    if intake == OtlpProtocol::Http && *from == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" && !endpoint.contains("/v1/traces")
    {
        return Err((
            format!("its {from} is {endpoint}: an SDK posts to it as given, and the intake serves /v1/traces"),
            format!("write it as {}/v1/traces", intakes.http.trim_end_matches('/')),
        ));
    }
    Ok(intake)
}

/// `OTLP/gRPC` or `OTLP/HTTP`.
fn name(protocol: OtlpProtocol) -> &'static str {
    match protocol {
        OtlpProtocol::Grpc => "OTLP/gRPC",
        OtlpProtocol::Http => "OTLP/HTTP",
    }
}

/// Whether two URLs name one listener: the same port on the same host, `localhost`
/// and the loopback addresses counting as one.
fn same_listener(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        // An SDK accepts `host:port` without a scheme for gRPC.
        let with_scheme = if s.contains("://") { s.to_owned() } else { format!("http://{s}") };
        let url = reqwest::Url::parse(&with_scheme).ok()?;
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        Some((if loopback { "loopback".to_owned() } else { host }, url.port_or_known_default()?))
    };
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

/// The protocol a log shows spoken to the other one's port: OTLP/HTTP answered by a
/// gRPC server (its first bytes are an HTTP/2 SETTINGS frame, `\x00\x00\x06\x04`, which
/// Go's client calls a "malformed HTTP response" and Python's a `BadStatusLine`, or the
/// connection reset before any answer), or
/// gRPC answered by an HTTP/1 server (grpc-core: "Trying to connect an http1.x server";
/// grpc-go: "error reading server preface", "frame too large"). Returns the protocol
/// spoken and the line that shows it.
pub fn protocol_mismatch_in(log: &str) -> Option<(OtlpProtocol, String)> {
    const HTTP_AT_GRPC: [&str; 4] =
        ["\\x00\\x00\\x06\\x04", "malformed HTTP response", "BadStatusLine", "bogus greeting from client"];
    const GRPC_AT_HTTP: [&str; 3] =
        ["Trying to connect an http1.x server", "error reading server preface", "http2: frame too large"];
    // An HTTP client (Python's requests: "Connection aborted"; Go's net/http: `Post "`)
    // whose connection the gRPC server resets before answering, as it often does.
    let http_reset = |line: &str| {
        (line.contains("Connection aborted") || line.contains("Post \"")) && line.contains("reset by peer")
    };
    log.lines().rev().find_map(|line| {
        let shown = || line.chars().take(400).collect::<String>();
        if HTTP_AT_GRPC.iter().any(|sign| line.contains(sign)) || http_reset(line) {
            Some((OtlpProtocol::Http, shown()))
        } else if GRPC_AT_HTTP.iter().any(|sign| line.contains(sign)) {
            Some((OtlpProtocol::Grpc, shown()))
        } else {
            None
        }
    })
}

/// How long an SDK may hold a span before exporting it: `OTEL_BSP_SCHEDULE_DELAY`
/// (milliseconds) where its env sets it, else the specification's 5 s.
fn export_delay(env: &BTreeMap<String, String>) -> Duration {
    let ms = env.get("OTEL_BSP_SCHEDULE_DELAY").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(5_000);
    Duration::from_millis(ms.min(60_000))
}

/// Checks one app; `collector_log` is read for evidence when its spans do not arrive.
pub async fn hop(
    client: &reqwest::Client,
    app: &App,
    component: Option<&ComponentStatus>,
    intakes: &Intakes,
    jaeger: Option<&str>,
    collector_log: Option<PathBuf>,
) -> Hop {
    let name = format!("{} sends spans", app.name);
    match component {
        Some(c) if c.state == ComponentState::Running && c.healthy => {}
        Some(c) => {
            let detail =
                format!("it is {:?}{}", c.state, if c.healthy { "" } else { " and not healthy" }).to_lowercase();
            return broken(&name, detail, &format!("`obsdemo logs {} -n 50`", c.name));
        }
        None => return broken(&name, "it is not part of the running stack".into(), "`obsdemo status`"),
    }
    let Some(target) = sdk_target(&app.env) else {
        return broken(
            &name,
            "its env sets no OTEL_EXPORTER_OTLP_ENDPOINT, so its SDK sends to its own default".into(),
            "remove the empty OTEL_EXPORTER_OTLP_ENDPOINT from its `env` in stack.toml (obsdemo sets the right one)",
        );
    };
    let intake = match check_target(&target, intakes) {
        Ok(intake) => intake,
        Err((detail, fix)) => return broken(&name, detail, &fix),
    };
    let Some(jaeger) = jaeger else {
        return Hop { name, verdict: Verdict::Unknown, detail: "no Jaeger to ask".into(), fix: None };
    };
    let sends_to = format!("it sends {} to {}", self::name(intake), target.endpoint);
    let Some(url) = &app.url else {
        // Nothing to ask: only what it sent on its own can be looked for.
        return match service_seen(client, jaeger, app.env.get("OTEL_SERVICE_NAME")).await {
            Some(service) => ok(&name, format!("spans of {service} are in Jaeger; {sends_to}")),
            None => Hop {
                name,
                verdict: Verdict::Unknown,
                detail: format!("{sends_to}; it has no port to send a request to, and Jaeger has no span of it"),
                fix: Some("give it work to do, then run `obsdemo doctor` again".into()),
            },
        };
    };
    // Only what the logs say from now on is evidence about this request's spans.
    let logs: Vec<(PathBuf, u64)> = [Some(app.log.clone()), collector_log]
        .into_iter()
        .flatten()
        .map(|log| {
            let at = crate::logs::end(&log);
            (log, at)
        })
        .collect();
    let (answer, trace) = probe(client, url).await;
    let answered = match answer {
        Ok(status) => format!("it answered GET {url} with {status}"),
        Err(e) => {
            return broken(&name, format!("GET {url} failed: {e}"), &format!("`obsdemo logs {} -n 50`", app.name));
        }
    };
    // The SDK's batch delay, then room for an export (and its failure) to happen.
    let waited = export_delay(&app.env) + Duration::from_secs(10);
    let deadline = Instant::now() + waited;
    let mismatch = loop {
        if let Some(found) = read_trace(client, jaeger, &trace).await {
            let services = found.services.join(", ");
            let own =
                if found.tagged { format!(", its resource has {APP_ATTRIBUTE}={}", app.name) } else { String::new() };
            return ok(&name, format!("{answered}; its trace {trace} is in Jaeger as {services}{own}; {sends_to}"));
        }
        let written = logs.iter().map(|(log, from)| crate::logs::since(log, *from));
        let mismatch = written.filter_map(|text| protocol_mismatch_in(&text)).find(|(spoken, _)| *spoken != intake);
        if mismatch.is_some() || Instant::now() >= deadline {
            break mismatch;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    match mismatch {
        Some((spoken, line)) => broken(
            &name,
            format!(
                "{answered}, but no span of that request reached Jaeger: its exporter speaks {} to the {} intake ({line})",
                self::name(spoken),
                self::name(intake)
            ),
            &format!(
                "set `otlp = \"{}\"` in its [[apps]] entry in stack.toml: obsdemo then gives it the {} intake {}",
                spoken.setting_name(),
                self::name(spoken),
                intakes.url(spoken)
            ),
        ),
        None => broken(
            &name,
            format!("{answered}, but no span of that request reached Jaeger within {} s; {sends_to}", waited.as_secs()),
            "if it has no OpenTelemetry SDK, add one (it reads OTEL_EXPORTER_OTLP_ENDPOINT); if it has, check that its \
             exporter is enabled, that it speaks the protocol of that intake, and that it continues W3C traceparent \
             (OTEL_PROPAGATORS)",
        ),
    }
}

/// GETs `url` with a `traceparent` of a new trace; returns the status and the trace id.
async fn probe(client: &reqwest::Client, url: &str) -> (Result<u16, String>, String) {
    let trace = crate::stack::paths::random_hex(16);
    let header = format!("00-{trace}-{}-01", crate::stack::paths::random_hex(8));
    let answer = client.get(url).header("traceparent", header).send().await;
    (answer.map(|r| r.status().as_u16()).map_err(|e| e.to_string()), trace)
}

/// What Jaeger has of a probe's trace.
struct Found {
    /// The services whose spans it holds.
    services: Vec<String>,
    /// Whether one of them carries the resource attribute obsdemo gave the app.
    tagged: bool,
}

/// What Jaeger has of `trace` now, if it holds a span of it.
async fn read_trace(client: &reqwest::Client, jaeger: &str, trace: &str) -> Option<Found> {
    let url = format!("{}/api/traces/{trace}", jaeger.trim_end_matches('/'));
    let body: Value = match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => r.json().await.ok()?,
        _ => return None,
    };
    let processes = body["data"][0]["processes"].as_object().filter(|p| !p.is_empty())?;
    let mut services: Vec<String> =
        processes.values().filter_map(|p| p["serviceName"].as_str().map(str::to_owned)).collect();
    services.sort();
    services.dedup();
    let tagged = processes
        .values()
        .any(|p| p["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t["key"] == APP_ATTRIBUTE)));
    Some(Found { services, tagged })
}

/// The service, when Jaeger has a span of it from the last hour.
async fn service_seen(client: &reqwest::Client, jaeger: &str, service: Option<&String>) -> Option<String> {
    let service = service?;
    let url = format!("{}/api/traces", jaeger.trim_end_matches('/'));
    let query = [("service", service.as_str()), ("lookback", "1h"), ("limit", "1")];
    let body: Value = client.get(&url).query(&query).send().await.ok()?.json().await.ok()?;
    body["data"].as_array().is_some_and(|d| !d.is_empty()).then(|| service.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn intakes() -> Intakes {
        Intakes { grpc: "http://127.0.0.1:4317".into(), http: "http://127.0.0.1:4318".into() }
    }

    fn check(pairs: &[(&str, &str)]) -> Result<OtlpProtocol, (String, String)> {
        check_target(&sdk_target(&env(pairs)).unwrap(), &intakes())
    }

    #[test]
    fn both_intakes_and_every_variable_an_sdk_reads_are_understood() {
        let grpc = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        assert_eq!(check(&grpc), Ok(OtlpProtocol::Grpc));
        let http = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ];
        assert_eq!(check(&http), Ok(OtlpProtocol::Http));
        // The traces-specific variables win over obsdemo's general ones.
        let traces = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ];
        assert_eq!(check(&traces), Ok(OtlpProtocol::Http));
        // gRPC's endpoint may come without a scheme; no protocol set is taken as it is.
        assert_eq!(check(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4317")]), Ok(OtlpProtocol::Grpc));
    }

    #[test]
    fn a_wrong_port_or_a_protocol_at_the_other_intake_is_named_with_the_setting_to_change() {
        let (detail, fix) = check(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9999")]).unwrap_err();
        assert!(
            detail.contains("OTLP/gRPC at http://127.0.0.1:4317 and OTLP/HTTP at http://127.0.0.1:4318"),
            "{detail}"
        );
        assert!(fix.contains("{otlp.http}"), "{fix}");
        let (detail, fix) = check(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap_err();
        assert!(detail.contains("is the stack's OTLP/gRPC intake"), "{detail}");
        assert!(fix.contains("otlp = \"http\"") && fix.contains("4318"), "{fix}");
        let (detail, _) = check(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ])
        .unwrap_err();
        assert!(detail.contains("posts to it as given"), "{detail}");
    }

    #[test]
    fn a_log_shows_which_protocol_went_to_the_wrong_port() {
        let go = r#"traces export: Post "http://127.0.0.1:4317/v1/traces": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x05\x00\x00@\x00""#;
        assert_eq!(protocol_mismatch_in(go).map(|m| m.0), Some(OtlpProtocol::Http));
        let grpc = "Failed to export traces, error code: StatusCode.UNAVAILABLE: Trying to connect an http1.x server";
        assert_eq!(protocol_mismatch_in(&format!("ok\n{grpc}\n")).map(|m| m.0), Some(OtlpProtocol::Grpc));
        let python_reset = "Transient error ('Connection aborted.', ConnectionResetError(104, 'Connection reset by \
                            peer')) encountered while exporting spans batch, retrying in 1.07s.";
        assert_eq!(protocol_mismatch_in(python_reset).map(|m| m.0), Some(OtlpProtocol::Http));
        assert_eq!(protocol_mismatch_in("all good\nserving"), None);
    }

    #[test]
    fn the_wait_follows_the_sdks_batch_delay() {
        assert_eq!(export_delay(&env(&[])), Duration::from_secs(5));
        assert_eq!(export_delay(&env(&[("OTEL_BSP_SCHEDULE_DELAY", "500")])), Duration::from_millis(500));
    }
}
