//! The user's own processes (`[[apps]]`): the original plan's Django services run by
//! obsdemo, `obsdemo run`, and `obsdemo doctor`, against the real stack and real
//! Django from PyPI.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// The example's stack.toml, its app workdirs made absolute (the test stack's file
/// lives elsewhere).
fn django_stack_toml() -> String {
    let example = checkout().join("examples/django");
    let toml = std::fs::read_to_string(example.join("stack.toml")).unwrap();
    toml.replace("workdir = \"order\"", &format!("workdir = {:?}", example.join("order")))
        .replace("workdir = \"payment\"", &format!("workdir = {:?}", example.join("payment")))
}

/// A stack running the Django example, with the virtualenv's python on PATH.
fn django_stack() -> TestStack {
    require(&["jaeger", "collector", "prometheus"]);
    let mut stack = TestStack::with_config(&django_stack_toml());
    stack.path_prefix = Some(django_venv_bin());
    stack.up(&[]);
    stack
}

/// POSTs an order to Order-service; returns the answer.
fn order(stack: &TestStack) -> Value {
    let url = format!("http://127.0.0.1:{}/orders", stack.port(8101));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = obsdemo::http::local_client(Duration::from_secs(10));
        let resp = client.post(&url).body("{\"amount\": 7}").send().await.unwrap();
        assert!(resp.status().is_success(), "POST /orders: {}", resp.status());
        resp.json().await.unwrap()
    })
}

fn service_of(trace: &Value, span: &Value) -> String {
    trace["processes"][span["processID"].as_str().unwrap()]["serviceName"].as_str().unwrap().to_owned()
}

#[test]
fn django_services_of_the_original_plan_make_one_trace_per_request() {
    let stack = django_stack();
    for _ in 0..3 {
        assert_eq!(order(&stack)["payment"]["status"], "authorized");
    }
    let url = format!("http://127.0.0.1:{}/api/traces?service=Order-service&limit=20", stack.port(16686));
    let traces = eventually("3 traces of Order-service, each with Payment-service", Duration::from_secs(30), || {
        let traces = get_json(&url)?["data"].as_array()?.clone();
        let whole = traces
            .iter()
            .filter(|t| t["spans"].as_array().is_some_and(|s| s.iter().any(|s| service_of(t, s) == "Payment-service")))
            .count();
        (whole >= 3).then_some(traces)
    });
    for trace in &traces {
        let spans = trace["spans"].as_array().unwrap();
        let services: BTreeSet<String> = spans.iter().map(|s| service_of(trace, s)).collect();
        assert_eq!(services, BTreeSet::from(["Order-service".to_owned(), "Payment-service".to_owned()]), "{trace:#}");
        let ids: BTreeSet<&str> = spans.iter().map(|s| s["spanID"].as_str().unwrap()).collect();
        let roots = spans.iter().filter(|s| s["references"].as_array().unwrap().is_empty()).count();
        assert_eq!(roots, 1, "one root per request: {trace:#}");
        for s in spans {
            for r in s["references"].as_array().unwrap() {
                assert_eq!(r["traceID"], trace["traceID"]);
                assert!(ids.contains(r["spanID"].as_str().unwrap()), "parent present: {s}");
            }
        }
    }
    // Each app is a component like any other: status, logs, and named endpoints.
    let status = stack.status();
    for name in ["Order-service", "Payment-service"] {
        let c = status["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        assert_eq!(c["healthy"], true, "{c}");
        assert!(
            c["url"]
                .as_str()
                .unwrap()
                .ends_with(&stack.port(if name == "Order-service" { 8101 } else { 8102 }).to_string())
        );
    }
    let logs = stack.run(&["logs", "Order-service", "-n", "200"]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("POST /orders"), "{}", describe(&logs));

    // `obsdemo load` drives the user's own service, whatever its HTTP server frames, and
    // proves its traces whole: Django names no trace in its answers, so each request
    // starts one (`traceparent`), which Django's instrumentation continues.
    let url = format!("http://127.0.0.1:{}/orders", stack.port(8101));
    let args = ["load", "--json", "--url", &url, "--mix", "post=1", "--rps", "20", "--duration", "2s", "--verify"];
    let out = stack.run(&args);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!((report["requests"].as_u64(), report["errors"].as_u64()), (Some(40), Some(0)), "{report:#}");
    let v = &report["verification"];
    assert_eq!((v["expected"].as_u64(), v["found"].as_u64(), v["complete"].as_u64()), (Some(40), Some(40), Some(40)));
    // In Jaeger each starts with the load generator's request, Django's spans under it.
    let url = format!("http://127.0.0.1:{}/api/traces?service=obsdemo-load&limit=40", stack.port(16686));
    let traces = get_json(&url).unwrap()["data"].as_array().unwrap().clone();
    assert_eq!(traces.len(), 40, "one trace per request");
    for trace in &traces {
        let spans = trace["spans"].as_array().unwrap();
        let root = spans.iter().find(|s| s["references"].as_array().unwrap().is_empty()).unwrap();
        assert_eq!((service_of(trace, root).as_str(), root["operationName"].as_str()), ("obsdemo-load", Some("POST")));
        let under = spans.iter().find(|s| s["references"][0]["spanID"] == root["spanID"]).unwrap();
        assert_eq!(service_of(trace, under), "Order-service", "{trace:#}");
        assert!(spans.iter().any(|s| service_of(trace, s) == "Payment-service"), "{trace:#}");
    }
    // A server that continues no trace context gets a verdict that says so, not a pass.
    let untraced = format!("http://127.0.0.1:{}/-/healthy", stack.port(9090));
    let args = ["load", "--json", "--url", &untraced, "--mix", "get=1", "--rps", "20", "--duration", "1s"];
    // The wait outlasts the 5 s an SDK may hold spans, so each trace is read.
    let out = stack.run(&[&args[..], &["--verify", "--verify-timeout", "8s"]].concat());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let v = &report["verification"];
    assert_eq!((v["expected"].as_u64(), v["complete"].as_u64()), (Some(20), Some(0)), "{report:#}");
    assert!(v["incomplete_examples"][0].as_str().unwrap().contains("the server continued no trace"), "{report:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no trace of the run is complete") && stderr.contains("traceparent"), "{stderr}");

    // The doctor finds every hop good once the apps have sent spans.
    let out = stack.run(&["doctor", "--json"]);
    let doctor: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(out.status.code(), Some(0), "{doctor:#}");
    assert_eq!(doctor["first_broken"], Value::Null);
    let apps_ok =
        doctor["hops"].as_array().unwrap().iter().filter(|h| h["name"].as_str().unwrap().ends_with("sends spans"));
    assert!(apps_ok.clone().count() == 2 && apps_ok.clone().all(|h| h["verdict"] == "ok"), "{doctor:#}");
}

#[test]
fn obsdemo_run_gives_a_command_the_stacks_settings() {
    require(&["jaeger", "collector"]);
    let venv = django_venv_bin();
    let mut stack = TestStack::new();
    stack.path_prefix = Some(venv.clone());
    stack.up(&["--without", "prometheus", "--without", "services"]);
    // A small program that exports one span with the SDK configured from the
    // environment alone, and exits with a code of its own.
    let program = r#"
import sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
provider = TracerProvider(resource=Resource.create())
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
with provider.get_tracer("t").start_as_current_span("run-probe"):
    pass
provider.shutdown()
sys.exit(5)
"#;
    let out = stack.run(&["run", "--name", "run-probe-service", "--", "python", "-c", program]);
    assert_eq!(out.status.code(), Some(5), "the command's exit code is passed through\n{}", describe(&out));
    let url = format!("http://127.0.0.1:{}/api/traces?service=run-probe-service&limit=1", stack.port(16686));
    let trace = eventually("the run's span in Jaeger", Duration::from_secs(30), || {
        get_json(&url)?["data"].as_array()?.first().cloned()
    });
    assert_eq!(trace["spans"][0]["operationName"], "run-probe");

    let env = stack.run(&["env", "--format", "json", "--name", "x"]);
    let vars: Value = serde_json::from_slice(&env.stdout).unwrap();
    assert_eq!(vars["OTEL_EXPORTER_OTLP_ENDPOINT"], format!("http://127.0.0.1:{}", stack.port(4317)));
    assert_eq!(vars["OTEL_SERVICE_NAME"], "x");
    assert_eq!(vars["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
}

/// A stack whose only app is `app` (TOML of one `[[apps]]` table), no demo services.
fn app_stack(app: &str) -> TestStack {
    TestStack::with_config(&format!("services = []\n\n[[apps]]\n{app}"))
}

#[test]
fn an_app_that_exits_is_restarted_with_backoff_and_reported() {
    require(&["jaeger", "collector"]);
    let stack = app_stack(
        r#"name = "flaky"
command = ["sh", "-c", "echo flaky-ran; sleep 0.3; exit 3"]"#,
    );
    stack.up(&["--without", "prometheus"]);
    let flaky = eventually("two restarts of flaky", Duration::from_secs(20), || {
        let status = stack.status();
        let c = status["components"].as_array()?.iter().find(|c| c["name"] == "flaky")?.clone();
        (c["restarts"].as_u64()? >= 2).then_some(c)
    });
    assert!(flaky["last_exit"].as_str().unwrap().contains('3'), "{flaky}");
    let logs = String::from_utf8_lossy(&stack.run(&["logs", "flaky"]).stdout).to_string();
    assert!(logs.matches("flaky-ran").count() >= 3, "{logs}");
}

#[test]
fn an_app_that_never_becomes_healthy_fails_up_with_its_last_log_lines() {
    require(&["jaeger", "collector"]);
    let stack = app_stack(
        r#"name = "never-ready"
command = ["sh", "-c", "echo never-ready-is-waiting; sleep 600"]
ports = { http = 8190 }
health = { http = "/healthz" }"#,
    );
    let out = stack.try_up(&["--without", "prometheus", "--timeout", "4s"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("never-ready") && stderr.contains("never-ready-is-waiting"), "{stderr}");
    assert_nothing_left(&stack.recorded_pids(), &stack.recorded_ports());
}

#[test]
fn an_apps_port_held_by_another_process_is_refused_before_anything_starts() {
    let stack = app_stack(
        r#"name = "web"
command = ["sh", "-c", "sleep 600"]
ports = { http = 8191 }"#,
    );
    let _holder = std::net::TcpListener::bind(("127.0.0.1", stack.port(8191))).unwrap();
    let out = stack.try_up(&["--without", "prometheus"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("port {} (web http)", stack.port(8191))), "{stderr}");
    assert!(!stack.state_dir().join("state.json").exists(), "nothing started");
}

#[test]
fn doctor_names_the_broken_hop() {
    require(&["jaeger", "collector", "prometheus"]);
    // An app whose own env points its exporter at the wrong port.
    let stack = app_stack(
        r#"name = "misrouted"
command = ["sh", "-c", "sleep 600"]
env = { OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:1" }"#,
    );
    stack.up(&[]);
    let doctor = |what: &str| -> (Option<i32>, Value) {
        let out = stack.run(&["doctor", "--json"]);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", describe(&out)));
        (out.status.code(), v)
    };
    let (code, v) = doctor("misrouted app");
    assert_eq!((code, v["first_broken"].as_str()), (Some(1), Some("misrouted sends spans")), "{v:#}");
    let hop = v["hops"].as_array().unwrap().iter().find(|h| h["name"] == "misrouted sends spans").unwrap();
    assert!(hop["detail"].as_str().unwrap().contains("http://127.0.0.1:1"), "{hop}");

    // Jaeger frozen: the Collector takes the probes but cannot pass them on.
    let pid = |name: &str| {
        let state = stack.state();
        let c = state["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone();
        nix::unistd::Pid::from_raw(c["process"]["pid"].as_u64().unwrap() as i32)
    };
    use nix::sys::signal::{Signal, kill};
    kill(pid("jaeger"), Signal::SIGSTOP).unwrap();
    let (code, v) = doctor("Jaeger stopped");
    kill(pid("jaeger"), Signal::SIGCONT).unwrap();
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["first_broken"], "the Collector passes the probes on to Jaeger", "{v:#}");

    // The Collector frozen: it takes no span.
    kill(pid("collector"), Signal::SIGSTOP).unwrap();
    let (code, v) = doctor("Collector stopped");
    kill(pid("collector"), Signal::SIGCONT).unwrap();
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["first_broken"], "collector accepts a span over OTLP/gRPC", "{v:#}");
}

/// An `[[apps]]` entry running the tests' stand-in for a third-party app
/// (`tests/apps/otlp_app.py`) with `args`, on port `port`, and `extra` lines.
fn test_app(name: &str, port: u16, args: &str, extra: &str) -> String {
    let script = checkout().join("tests/apps/otlp_app.py");
    format!(
        "[[apps]]\nname = \"{name}\"\ncommand = [\"python\", {script:?}, \"--port\", \"{{port.http}}\", {args}]\n\
         ports = {{ http = {port} }}\nhealth = {{ tcp = \"http\" }}\n{extra}\n"
    )
}

/// The hop of app `name` in a doctor's JSON.
fn app_hop<'a>(doctor: &'a Value, name: &str) -> &'a Value {
    let hops = doctor["hops"].as_array().unwrap();
    hops.iter().find(|h| h["name"] == format!("{name} sends spans")).unwrap_or_else(|| panic!("{doctor:#}"))
}

#[test]
fn doctor_is_right_about_an_app_either_way() {
    require(&["jaeger", "collector", "prometheus"]);
    // Each exports every 500 ms, so the doctor's wait for a probe's spans is short.
    let fast = "env = { OTEL_BSP_SCHEDULE_DELAY = \"500\" }";
    let toml = [
        "services = []".to_owned(),
        // Set up right: OTLP/HTTP to the HTTP intake obsdemo gives it.
        test_app("http-right", 8111, "\"--exporter\", \"http\"", &format!("otlp = \"http\"\n{fast}")),
        // A traces-specific endpoint, written with the placeholder, wins over obsdemo's.
        test_app(
            "traces-endpoint",
            8112,
            "\"--exporter\", \"http\"",
            "env = { OTEL_BSP_SCHEDULE_DELAY = \"500\", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = \"{otlp.http}/v1/traces\", \
             OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = \"http/protobuf\" }",
        ),
        // Names its services itself, none of them its app name.
        test_app("own-names", 8113, "\"--exporter\", \"grpc\", \"--services\", \"checkout,billing\"", fast),
        // Hard-wired OTLP/HTTP, ignoring OTEL_EXPORTER_OTLP_PROTOCOL: posts to the gRPC intake.
        test_app("http-at-grpc", 8114, "\"--exporter\", \"http\"", fast),
        // No SDK at all.
        test_app("no-sdk", 8115, "\"--exporter\", \"none\"", fast),
        // Hard-wired gRPC, given the HTTP intake.
        test_app("grpc-at-http", 8116, "\"--exporter\", \"grpc\"", &format!("otlp = \"http\"\n{fast}")),
    ]
    .join("\n");
    let mut stack = TestStack::with_config(&toml);
    stack.path_prefix = Some(django_venv_bin());
    let doctor = |stack: &TestStack| {
        let out = stack.run(&["doctor", "--json"]);
        let doctor: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
        (out.status.code(), doctor)
    };

    // The apps set up right pass, and the doctor passes the stack.
    stack.up(&["--without", "http-at-grpc", "--without", "no-sdk", "--without", "grpc-at-http"]);
    let (code, report) = doctor(&stack);
    assert_eq!(code, Some(0), "{report:#}");
    for name in ["http-right", "traces-endpoint", "own-names"] {
        assert_eq!(app_hop(&report, name)["verdict"], "ok", "{name}: {report:#}");
    }
    let own = app_hop(&report, "own-names")["detail"].as_str().unwrap();
    assert!(own.contains("billing, checkout") && own.contains("obsdemo.app=own-names"), "{own}");
    stack.down();

    // The three that send nothing fail it, each with its reason and fix.
    stack.up(&[]);
    let (code, report) = doctor(&stack);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["first_broken"], "http-at-grpc sends spans", "{report:#}");
    let wrong = app_hop(&report, "http-at-grpc");
    assert_eq!(wrong["verdict"], "broken", "{report:#}");
    assert!(wrong["detail"].as_str().unwrap().contains("speaks OTLP/HTTP to the OTLP/gRPC intake"), "{wrong:#}");
    assert!(wrong["fix"].as_str().unwrap().contains("otlp = \"http\""), "{wrong:#}");
    let grpc = app_hop(&report, "grpc-at-http");
    assert!(grpc["detail"].as_str().unwrap().contains("speaks OTLP/gRPC to the OTLP/HTTP intake"), "{grpc:#}");
    assert!(grpc["fix"].as_str().unwrap().contains("otlp = \"grpc\""), "{grpc:#}");
    let none = app_hop(&report, "no-sdk");
    assert_eq!(none["verdict"], "broken", "{report:#}");
    assert!(none["detail"].as_str().unwrap().contains("no span of that request reached Jaeger"), "{none:#}");
    for name in ["http-right", "traces-endpoint", "own-names"] {
        assert_eq!(app_hop(&report, name)["verdict"], "ok", "{name}: {report:#}");
    }
}
