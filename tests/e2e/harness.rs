//! A small harness that drives the real `obsdemo` binary against the real Collector,
//! Jaeger and Prometheus: each test stack gets its own directory and its own port
//! offset, so tests run in parallel, and is always taken down when dropped.
//!
//! The benchmarks use it too (`#[path]`-included), so not every item is used by each.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use obsdemo::components::{ComponentId, Overrides, StackPlan};
use obsdemo::stack::StackConfig;
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_obsdemo");

/// This checkout: cargo names it at run time as well as at build time, and the run-time
/// name is the one to trust, because the build cache is kept between checkouts and a test
/// binary built in another one is reused as long as its sources are older.
pub fn checkout() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
}

/// Offsets step by 20: no two default ports differ by a multiple of 20 below 1000,
/// so stacks at different offsets never share a port, and every port stays below the
/// kernel's ephemeral range.
static NEXT_SLOT: AtomicU16 = AtomicU16::new(0);

/// Fails the test, naming the command that provides the binary, when a component the
/// test needs is missing. Never skips.
pub fn require(components: &[&str]) {
    for c in components {
        if let Err(e) = find_binary(c) {
            panic!(
                "this test needs {c}, which is missing; provide it with `obsdemo install --from-source {c}` \
                 (or ./scripts/test.sh, which installs everything).\n{e}"
            );
        }
    }
}

/// Fails loudly unless Jaeger v1 (`jaeger-all-in-one`) is installed.
pub fn require_jaeger_v1() {
    let mut config = StackConfig::default();
    config.jaeger.flavour = obsdemo::stack::JaegerFlavour::V1;
    let spec = ComponentId::Jaeger.kind().binary(&config).expect("Jaeger has a binary");
    if let Err(e) = obsdemo::install::resolve(&spec, true) {
        panic!("this test needs jaeger-all-in-one; provide it with `obsdemo install --from-source jaeger`.\n{e}");
    }
}

/// The virtualenv holding the Django example's requirements (`examples/django/
/// requirements.txt`), made by `./scripts/test.sh`; its `bin` directory.
pub fn django_venv_bin() -> PathBuf {
    let venv = std::env::var_os("OBSDEMO_DJANGO_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/obsdemo/django-venv")
    });
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    assert!(
        bin.join("python").is_file(),
        "this test needs the Django example's virtualenv at {}; make it with `./scripts/test.sh` \
         (python3 -m venv, then pip install -r examples/django/requirements.txt), or point OBSDEMO_DJANGO_VENV at one",
        venv.display()
    );
    bin
}

/// Whether a Grafana binary is installed here.
pub fn grafana_present() -> bool {
    find_binary("grafana").is_ok()
}

/// The binary of the third-party component `name` in the default stack.
pub fn find_binary(name: &str) -> Result<PathBuf, obsdemo::install::MissingBinary> {
    let id = ComponentId::third_party_named(name).unwrap_or_else(|| panic!("`{name}` is not a third-party component"));
    let spec = id.kind().binary(&StackConfig::default()).expect("third-party components have binaries");
    obsdemo::install::resolve(&spec, true)
}

/// One stack under test.
pub struct TestStack {
    dir: tempfile::TempDir,
    /// Added to every default port.
    pub offset: u16,
    /// Start Grafana too; by default only where a Grafana binary is installed.
    pub include_grafana: bool,
    /// A directory put first on `PATH` for obsdemo and what it starts (a virtualenv's).
    pub path_prefix: Option<PathBuf>,
}

impl TestStack {
    /// A stack with the default configuration (fast scrape intervals for tests).
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// A stack whose `stack.toml` is `extra` on top of the test defaults.
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("obsdemo-test-").tempdir().expect("temp dir");
        let mut stack = Self { dir, offset: 0, include_grafana: grafana_present(), path_prefix: None };
        let config = stack.set_config(extra);
        stack.offset = free_offset(&config);
        stack
    }

    /// Rewrites `stack.toml` as `extra` plus the test defaults. `extra` comes first so
    /// its top-level keys are not swallowed by a table of the defaults.
    pub fn set_config(&self, extra: &str) -> StackConfig {
        let toml = format!("{extra}\n{TEST_DEFAULTS}");
        std::fs::write(self.dir.path().join("stack.toml"), &toml).expect("write stack.toml");
        toml::from_str(&toml).expect("test stack.toml parses")
    }

    /// The stack's working directory (holds `stack.toml`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The state dir.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".obsdemo")
    }

    /// `base` shifted by this stack's offset.
    pub fn port(&self, base: u16) -> u16 {
        base + self.offset
    }

    /// A command running obsdemo in this stack's directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("OBSDEMO_CONFIG")
            .env_remove("OBSDEMO_STATE_DIR")
            .args(args);
        if let Some(prefix) = &self.path_prefix {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let paths = std::iter::once(prefix.clone()).chain(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(paths).expect("PATH joins"));
        }
        cmd
    }

    /// Starts obsdemo with `args` in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        use std::process::Stdio;
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("obsdemo starts")
    }

    /// Runs obsdemo with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("obsdemo runs")
    }

    /// `up` with this stack's port offset, plus `extra` flags; panics unless it succeeds.
    pub fn up(&self, extra: &[&str]) -> Value {
        let out = self.try_up(extra);
        assert_success(&out, "up");
        serde_json::from_slice(&out.stdout).expect("up --json prints JSON")
    }

    /// `up` with this stack's port offset, plus `extra` flags.
    pub fn try_up(&self, extra: &[&str]) -> Output {
        let offset = self.offset.to_string();
        let mut args = vec!["up", "--json", "--port-offset", &offset];
        if !self.include_grafana {
            args.extend(["--without", "grafana"]);
        }
        args.extend(extra);
        self.run(&args)
    }

    /// `status --json`, parsed.
    pub fn status(&self) -> Value {
        let out = self.run(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{}", describe(&out)))
    }

    /// One component's entry in `status --json`.
    pub fn component(&self, name: &str) -> Value {
        let status = self.status();
        let found = status["components"].as_array().and_then(|cs| cs.iter().find(|c| c["name"] == name)).cloned();
        found.unwrap_or_else(|| panic!("no component {name} in status: {status:#}"))
    }

    /// SIGKILLs component `name`; returns the pid it had.
    pub fn kill(&self, name: &str) -> u64 {
        let pid = self.component(name)["pid"].as_u64().expect("component runs");
        assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
        pid
    }

    /// SIGKILLs component `name` and waits until the supervisor has it healthy again
    /// under a new pid; returns its new status entry.
    pub fn kill_and_await_restart(&self, name: &str) -> Value {
        let pid = self.kill(name);
        eventually(&format!("{name} restarted and healthy"), Duration::from_secs(30), || {
            let c = self.component(name);
            (c["healthy"] == true && c["pid"].as_u64().is_some_and(|p| p != pid)).then_some(c)
        })
    }

    /// The `state.json` of the stack.
    pub fn state(&self) -> Value {
        let bytes = std::fs::read(self.state_dir().join("state.json")).expect("state.json exists");
        serde_json::from_slice(&bytes).expect("state.json parses")
    }

    /// Pids of the supervisor and every component process recorded in `state.json`.
    pub fn recorded_pids(&self) -> Vec<u32> {
        let state = self.state();
        let mut pids = vec![state["supervisor"]["pid"].as_u64().unwrap() as u32];
        for c in state["components"].as_array().unwrap() {
            if let Some(pid) = c["process"]["pid"].as_u64() {
                pids.push(pid as u32);
            }
        }
        pids
    }

    /// Every port of the stack's listeners, from `state.json`.
    pub fn recorded_ports(&self) -> Vec<u16> {
        self.state()["components"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["ports"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u16))
            .collect()
    }

    /// `down`; panics unless it succeeds.
    pub fn down(&self) {
        let out = self.run(&["down"]);
        assert_success(&out, "down");
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        // Whatever the test did, leave nothing running.
        let _ = self.run(&["down", "--grace", "2"]);
    }
}

/// The test stacks sample the host every 2 s and scrape every second, so metrics
/// arrive within seconds.
const TEST_DEFAULTS: &str = r#"
[collector.hostmetrics]
interval = "2s"

[prometheus]
scrape_interval = "1s"
"#;

/// An offset at which every port of `config`'s plan is free right now.
fn free_offset(config: &StackConfig) -> u16 {
    loop {
        let slot = NEXT_SLOT.fetch_add(1, Ordering::SeqCst);
        assert!(slot < 400, "no free port offset found");
        // Spread parallel test binaries apart too.
        let offset = 10_000 + ((slot + (std::process::id() % 7) as u16 * 50) % 400) * 20;
        let plan =
            StackPlan::new(config.clone(), &Overrides { port_offset: offset, ..Default::default() }, Path::new("/"))
                .expect("test plan is valid");
        if plan.listeners.iter().all(|l| TcpListener::bind(("127.0.0.1", l.port)).is_ok()) {
            return offset;
        }
    }
}

/// Output of a command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Panics with the command's output unless it exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(out.status.success(), "`obsdemo {what}` failed\n{}", describe(out));
}

/// Polls `f` every 200 ms until it returns `Some`, or panics after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the process `pid` is alive (a zombie counts as dead).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Whether TCP `port` on loopback can be bound.
pub fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Asserts that none of `pids` is alive and every one of `ports` is free.
pub fn assert_nothing_left(pids: &[u32], ports: &[u16]) {
    let alive: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(alive.is_empty(), "processes of the stack still alive: {alive:?}");
    let busy: Vec<u16> = ports.iter().copied().filter(|p| !port_free(*p)).collect();
    assert!(busy.is_empty(), "ports of the stack still in use: {busy:?}");
}

/// A blocking GET returning the body of a 2xx answer, or `None` on any failure.
pub fn get_text(url: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let resp = obsdemo::http::local_client(Duration::from_secs(5)).get(url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.text().await.ok()
    })
}

/// A blocking request without following redirects: its status, headers and body.
pub fn http_call(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client =
            obsdemo::http::client_builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut request = client.request(method.parse().unwrap(), url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap_or_default())
    })
}

/// The console's URL (with its token) from `up --json`, and its base without it.
pub fn console_of(up: &Value) -> (String, String) {
    let url = up["console"].as_str().unwrap_or_else(|| panic!("up --json names the console: {up:#}")).to_owned();
    let base = url.split("/?token=").next().unwrap().to_owned();
    (url, base)
}

/// Exchanges the token of `url` for the console's cookie, as a browser does.
pub fn console_cookie(url: &str) -> String {
    let (status, headers, body) = http_call("GET", url, &[]);
    assert_eq!(status, 303, "the token URL redirects: {body}");
    let set = headers["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Runs an instant PromQL query on the Prometheus at `port`; `None` unless it
/// answered with success.
pub fn prometheus_query(port: u16, promql: &str) -> Option<Vec<Value>> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let client = obsdemo::http::local_client(Duration::from_secs(5));
        let body: Value = client.get(&url).query(&[("query", promql)]).send().await.ok()?.json().await.ok()?;
        (body["status"] == "success").then(|| body["data"]["result"].as_array().cloned().unwrap_or_default())
    })
}

/// A blocking GET returning parsed JSON, or `None` on any failure.
pub fn get_json(url: &str) -> Option<Value> {
    serde_json::from_str(&get_text(url)?).ok()
}

/// Sends one span named `span_name` from service `service` over OTLP/gRPC to
/// `endpoint` with the real OpenTelemetry SDK; returns its trace id (hex).
pub fn send_span(endpoint: &str, service: &str, span_name: &str) -> String {
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .expect("exporter builds");
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("obsdemo-tests");
        let mut span = tracer.start(span_name.to_owned());
        let trace_id = span.span_context().trace_id().to_string();
        span.end();
        let provider_for_flush = provider.clone();
        tokio::task::spawn_blocking(move || {
            provider_for_flush.force_flush().expect("span flushed");
            provider_for_flush.shutdown().expect("provider shuts down");
        })
        .await
        .unwrap();
        trace_id
    })
}

/// Waits until Jaeger (UI port `ui_port`) returns the trace `trace_id` holding a span
/// named `span_name`; returns the trace.
pub fn jaeger_trace(ui_port: u16, trace_id: &str, span_name: &str) -> Value {
    let url = format!("http://127.0.0.1:{ui_port}/api/traces/{trace_id}");
    eventually(&format!("trace {trace_id} in Jaeger"), Duration::from_secs(30), || {
        let body = get_json(&url)?;
        let trace = body["data"].as_array()?.first()?.clone();
        trace["spans"].as_array()?.iter().any(|s| s["operationName"] == span_name).then_some(trace)
    })
}

/// Jaeger's own count of the trace reads so far.
#[derive(Debug)]
pub struct TraceReads {
    /// Searches (by service, tag and start time).
    pub searches: f64,
    /// Lookups by id that found the trace.
    pub found: f64,
    /// Lookups by id that found nothing.
    pub missing: f64,
}

/// Jaeger's count of trace reads so far (`jaeger_storage_requests_total`).
pub fn jaeger_trace_reads(stack: &TestStack) -> TraceReads {
    let text = get_text(&format!("http://127.0.0.1:{}/metrics", stack.port(8887))).unwrap_or_default();
    let count = |operation: &str, result: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("jaeger_storage_requests_total{"))
            .filter(|l| {
                l.contains(&format!("operation=\"{operation}\"")) && l.contains(&format!("result=\"{result}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, |a, b| a + b)
    };
    TraceReads {
        searches: count("find_traces", "ok"),
        found: count("get_trace", "ok"),
        missing: count("get_trace", "err"),
    }
}
