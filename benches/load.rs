//! Benchmarks of `obsdemo load` and the demo services, printed as Markdown for
//! BENCHMARKS.md. Run: `cargo bench --bench load` (a few minutes; needs the stack's
//! binaries from `./scripts/test.sh`, and for the comparison `wrk` (`apt-get install
//! wrk`) and `oha` (`cargo install oha --root ~/.cache/obsdemo/tools`)).
//!
//! 1. Against its peers: throughput and client CPU per request of `obsdemo load`,
//!    `wrk` and `oha` against a trivial endpoint, same connections, alternating runs.
//! 2. Rate accuracy at 1,000 rps for 30 s.
//! 3. Cost of tracing: one service hop with spans exported vs tracing off.
//! 4. Trace completeness at 200 rps for 60 s through all five services, with the
//!    Collector's own span counters.
//! 5. Resident memory of each service, idle and under that load.
//! 6. The highest rate the stack keeps whole: the rate through all five services is
//!    raised until p99 passes 100 ms, completeness falls below 99.9% or the Collector
//!    drops a span; tracing on (the stack's services) and off (the same five again,
//!    with `--no-tracing`), with each process's share of the CPU.
//! 7. Verifying 30,000 traces: how long after the last request `load`'s verdict
//!    comes, at 1,000 rps for 30 s and 2,000 rps for 15 s, with Jaeger on Badger (the
//!    default) and in memory; a fresh stack for every run, and Jaeger's own count of
//!    the trace reads the check cost.

#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::TestStack;
use obsdemo::health::span_counters::SpanCounters;
use serde_json::{Value, json};

const RUNS: usize = 3;

fn main() {
    let obsdemo = PathBuf::from(env!("CARGO_BIN_EXE_obsdemo"));
    let dir = tempfile::tempdir().unwrap();
    println!("# obsdemo load benchmarks\n");

    // OBSDEMO_BENCH=1,3 runs only those sections.
    let only = std::env::var("OBSDEMO_BENCH").unwrap_or_default();
    let run = |n: &str| only.is_empty() || only.split(',').any(|s| s.trim() == n);
    let trivial = trivial_server();
    let url = format!("http://{trivial}/");
    if run("1") {
        throughput(&obsdemo, dir.path(), &url);
    }
    if run("2") {
        rate_accuracy(&obsdemo, dir.path(), &url);
    }
    // Each section that loads the stack gets a fresh one: a backlog of spans from the
    // one before would still be keeping Jaeger busy.
    let fresh_stack = || {
        harness::require(&["jaeger", "collector"]);
        let stack = TestStack::with_config("");
        stack.up(&["--without", "prometheus"]);
        stack
    };
    if run("3") {
        tracing_cost(&obsdemo, &fresh_stack());
    }
    if run("4") || run("5") {
        completeness_and_memory(&obsdemo, &fresh_stack());
    }
    if run("6") {
        max_rate(&obsdemo, &fresh_stack());
    }
    if run("7") {
        verdict_delay(&obsdemo);
    }
}

/// A minimal HTTP server on its own thread and single-threaded runtime.
fn trivial_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await.unwrap();
        });
    });
    addr
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt(v: &[f64], digits: usize) -> String {
    v.iter().map(|x| format!("{x:.digits$}")).collect::<Vec<_>>().join(", ")
}

/// Runs `obsdemo load --json` with `args`, returning the report.
fn load(obsdemo: &Path, cwd: &Path, args: &[&str]) -> Value {
    let out = Command::new(obsdemo).current_dir(cwd).arg("load").arg("--json").args(args).output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("load: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// A peer load generator: `OHA` or `WRK` in the environment, the tools dir, or PATH.
fn peer(name: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os(name.to_uppercase()).map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/obsdemo/tools/bin").join(name)),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file()).or_else(|| which::which(name).ok())
}

/// CPU seconds used by this process's children that have been waited for.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    // cutime and cstime are fields 16 and 17 of stat, 14 and 15 after the name.
    let ticks: f64 = [13, 14].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// Runs `cmd` to the end; returns its stdout and the CPU seconds it used.
fn timed(cmd: &mut Command) -> (Vec<u8>, f64) {
    let before = children_cpu_seconds();
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    (out.stdout, children_cpu_seconds() - before)
}

fn throughput(obsdemo: &Path, cwd: &Path, url: &str) {
    println!(
        "## 1. Against its peers: a trivial endpoint, closed loop, 32 connections, 2 threads, 10 s, alternating \
         runs (median of {RUNS})\n"
    );
    let (wrk, oha) = (peer("wrk"), peer("oha"));
    // (rps, client CPU µs per request) per run, per tool.
    let mut results: Vec<(&str, Vec<(f64, f64)>)> = vec![("obsdemo load", vec![]), ("wrk", vec![]), ("oha", vec![])];
    for _ in 0..RUNS {
        let (out, cpu) = timed(Command::new(obsdemo).current_dir(cwd).args([
            "load",
            "--json",
            "--url",
            url,
            "--mix",
            "get=1",
            "--concurrency",
            "32",
            "--duration",
            "10s",
        ]));
        let r: Value = serde_json::from_slice(&out).unwrap();
        let n = r["requests"].as_f64().unwrap();
        results[0].1.push((r["achieved_rps"].as_f64().unwrap(), cpu * 1e6 / n));
        if let Some(wrk) = &wrk {
            let (out, cpu) = timed(Command::new(wrk).args(["-t2", "-c32", "-d10s", url]));
            let text = String::from_utf8_lossy(&out);
            let field = |prefix: &str| -> f64 {
                let line = text.lines().find(|l| l.trim_start().starts_with(prefix)).unwrap_or("");
                line.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or(0.0)
            };
            let requests = text
                .lines()
                .find(|l| l.contains("requests in"))
                .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(1.0);
            results[1].1.push((field("Requests/sec:"), cpu * 1e6 / requests));
        }
        if let Some(oha) = &oha {
            let (out, cpu) =
                timed(Command::new(oha).args(["-z", "10s", "-c", "32", "--no-tui", "--output-format", "json", url]));
            let r: Value = serde_json::from_slice(&out).unwrap();
            let rps = r["summary"]["requestsPerSec"].as_f64().unwrap();
            results[2].1.push((rps, cpu * 1e6 / (rps * 10.0)));
        }
    }
    println!("| tool | median rps | client CPU per request (µs) | rps runs | CPU runs |\n|---|---|---|---|---|");
    let mut medians = Vec::new();
    for (name, runs) in &results {
        if runs.is_empty() {
            println!("| {name} | not installed (`OHA`/`WRK`, or ~/.cache/obsdemo/tools/bin) | | | |");
            continue;
        }
        let (rps, cpu): (Vec<f64>, Vec<f64>) = runs.iter().copied().unzip();
        let m = (median(rps.clone()), median(cpu.clone()));
        println!("| {name} | {:.0} | {:.2} | {} | {} |", m.0, m.1, fmt(&rps, 0), fmt(&cpu, 2));
        medians.push((*name, m));
    }
    let ours = medians[0].1;
    for (name, m) in &medians[1..] {
        println!(
            "\nagainst {name}: throughput **{:.2}x**, CPU per request **{:.2}x** (goals: at least 1.0x, at most 1.0x)",
            ours.0 / m.0,
            ours.1 / m.1
        );
    }
    println!();
}

fn rate_accuracy(obsdemo: &Path, cwd: &Path, url: &str) {
    println!("## 2. Rate accuracy: 1,000 rps for 30 s, open loop, 16 connections (median of {RUNS})\n");
    let (mut rates, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let r = load(obsdemo, cwd, &["--url", url, "--mix", "get=1", "--rps", "1000", "--duration", "30s"]);
        rates.push(r["achieved_rps"].as_f64().unwrap());
        p50.push(r["latency_ms"]["p50"].as_f64().unwrap());
        p99.push(r["latency_ms"]["p99"].as_f64().unwrap());
    }
    let rate = median(rates.clone());
    println!("| measure | median | runs |\n|---|---|---|");
    println!("| achieved rps | {rate:.1} | {} |", fmt(&rates, 1));
    println!("| p50 latency from scheduled start (ms) | {:.3} | {} |", median(p50.clone()), fmt(&p50, 3));
    println!("| p99 latency from scheduled start (ms) | {:.3} | {} |", median(p99.clone()), fmt(&p99, 3));
    println!("\ndeviation from the asked rate: **{:.3}%** (goal: within 1%)\n", (rate - 1000.0).abs() / 10.0);
    send_lag(obsdemo, cwd, url);
}

/// How late requests leave against their schedule, at 100 and 1,000 rps for 10 s, and
/// whether the report claims a client limit; the peer, in the same run, is Tokio's
/// timer wheel pacing the same schedule (what `load` used before its pacing thread):
/// 16 tasks on a 2-thread runtime, each sleeping until its next due time.
fn send_lag(obsdemo: &Path, cwd: &Path, url: &str) {
    println!("### Send lag: requests leaving against their schedule (median of {RUNS}, 10 s each)\n");
    println!(
        "| rate | obsdemo load p50 / p99 (ms) | Tokio's timer p50 / p99 (ms) | p99 ratio | client limit claimed | runs (obsdemo p99) |"
    );
    println!("|---|---|---|---|---|---|");
    for rps in [100u32, 1000] {
        let (mut ours, mut tokio_lag, mut claimed) = (Vec::new(), Vec::new(), 0);
        for _ in 0..RUNS {
            let rate = rps.to_string();
            let r = load(obsdemo, cwd, &["--url", url, "--mix", "get=1", "--rps", &rate, "--duration", "10s"]);
            ours.push((r["send_lag_ms"]["p50"].as_f64().unwrap(), r["send_lag_ms"]["p99"].as_f64().unwrap()));
            claimed += usize::from(!r["client_limit"].is_null());
            tokio_lag.push(tokio_timer_lag(rps, Duration::from_secs(10)));
        }
        let (p50, p99) = (median(ours.iter().map(|l| l.0).collect()), median(ours.iter().map(|l| l.1).collect()));
        let (t50, t99) =
            (median(tokio_lag.iter().map(|l| l.0).collect()), median(tokio_lag.iter().map(|l| l.1).collect()));
        println!(
            "| {rps} rps | {p50:.3} / **{p99:.3}** | {t50:.3} / {t99:.3} | {:.2}x | {claimed} of {RUNS} | {} |",
            p99 / t99.max(1e-6),
            fmt(&ours.iter().map(|l| l.1).collect::<Vec<_>>(), 3)
        );
    }
    println!("\ngoal: sent-late p99 at most 1 ms up to 1,000 rps on an idle machine, and no client limit claimed\n");
}

/// p50 and p99 lateness (ms) of `rps` due times over `duration`, each waited for with
/// `tokio::time::sleep_until` by one of 16 tasks on a 2-thread runtime.
fn tokio_timer_lag(rps: u32, duration: Duration) -> (f64, f64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let total = u64::from(rps) * duration.as_secs();
        let lags = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (next, lags) = (next.clone(), lags.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(i as f64 / f64::from(rps));
                    if due > tokio::time::Instant::now() {
                        tokio::time::sleep_until(due).await;
                    }
                    let late = tokio::time::Instant::now().saturating_duration_since(due);
                    lags.lock().unwrap().push(late.as_secs_f64() * 1e3);
                }
            });
        }
        tasks.join_all().await;
        let mut lags = lags.lock().unwrap().clone();
        lags.sort_by(f64::total_cmp);
        (lags[lags.len() / 2], lags[lags.len() * 99 / 100])
    })
}

/// User plus system CPU seconds the process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// The sum of the Collector's own metric `name` (all its series) in `stack`.
fn collector_metric(stack: &TestStack, name: &str) -> f64 {
    let body = harness::get_text(&format!("http://127.0.0.1:{}/metrics", stack.port(8888))).unwrap_or_default();
    obsdemo::health::span_counters::collector_counter(&body, name)
}

/// Waits until the Collector has handed Jaeger every span it took in, so that a run
/// does not share the cores with Jaeger still writing the run before it. The services
/// send their last spans up to one export interval after their last request, and the
/// Collector counts nothing it has not received, hence the pause first.
fn wait_until_drained(stack: &TestStack) {
    std::thread::sleep(2 * obsdemo::services::telemetry::EXPORT_EVERY);
    let metrics = format!("http://127.0.0.1:{}/metrics", stack.port(8888));
    harness::eventually("the Collector to hand Jaeger every span", Duration::from_secs(300), || {
        let counts = SpanCounters::parse(&harness::get_text(&metrics)?)?;
        (counts.left() >= counts.accepted).then_some(())
    });
}

/// A TCP port that was free a moment ago, chosen by the OS.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tracing_cost(obsdemo: &Path, stack: &TestStack) {
    println!("## 3. Cost of tracing: one service hop, spans exported vs tracing off (median of {RUNS})\n");
    println!(
        "Latency with one connection in a closed loop (10 s): requests one at a time, so neither queueing nor the \
         load generator's timer blurs it. Throughput with 8 connections (10 s), with the service's own CPU time per \
         request from /proc; the Collector and Jaeger receive every span on the same 2 cores. Each throughput run \
         starts once Jaeger has written every span of the runs before; the latency runs do not wait, so that both \
         find Jaeger busy (an idle machine answers one request at a time slower: its cores sleep in between). \
         Then both services at one rate at once, so each request of either finds the machine as busy, and the \
         difference in their CPU per request is the tracing's own.\n"
    );
    let file = stack.dir().join("bench-services.json");
    let ports = [free_port(), free_port()];
    let spec = |name: &str, port: u16| json!({ "name": name, "kind": "notification", "listen": format!("127.0.0.1:{port}"), "latency_ms": 0, "error_rate": 0.0, "calls": [] });
    let services = json!({
        "otlp_endpoint": format!("http://127.0.0.1:{}", stack.port(4317)),
        "services": [spec("traced", ports[0]), spec("untraced", ports[1])],
    });
    std::fs::write(&file, services.to_string()).unwrap();
    let start = |name: &str, tracing: bool| -> Child {
        let mut cmd = Command::new(obsdemo);
        cmd.args(["service", name, "--services-file", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !tracing {
            cmd.arg("--no-tracing");
        }
        cmd.spawn().unwrap()
    };
    let mut children = [start("traced", true), start("untraced", false)];
    for port in ports {
        let health = format!("http://127.0.0.1:{port}/healthz");
        harness::eventually("the benchmark's services", Duration::from_secs(10), || harness::get_text(&health));
    }
    let pids = [children[0].id(), children[1].id()];
    // p50 and p99 one request at a time (µs), throughput (rps), service CPU per request (µs).
    let mut results: Vec<[Vec<f64>; 4]> = vec![Default::default(), Default::default()];
    for _ in 0..RUNS {
        for (i, port) in ports.into_iter().enumerate() {
            let url = format!("http://127.0.0.1:{port}/notifications");
            let one = load(
                obsdemo,
                stack.dir(),
                &["--url", &url, "--mix", "post=1", "--concurrency", "1", "--duration", "10s"],
            );
            results[i][0].push(one["latency_ms"]["p50"].as_f64().unwrap() * 1000.0);
            results[i][1].push(one["latency_ms"]["p99"].as_f64().unwrap() * 1000.0);
            wait_until_drained(stack);
            let cpu_before = cpu_seconds(pids[i]);
            let closed = load(
                obsdemo,
                stack.dir(),
                &["--url", &url, "--mix", "post=1", "--concurrency", "8", "--duration", "10s"],
            );
            let cpu = cpu_seconds(pids[i]) - cpu_before;
            results[i][2].push(closed["achieved_rps"].as_f64().unwrap());
            results[i][3].push(cpu * 1e6 / closed["requests"].as_f64().unwrap().max(1.0));
        }
    }
    // The ceiling of the traced throughput with the backends on these cores: Jaeger
    // paused (SIGSTOP) for the run, so only the service's spans and the Collector's
    // intake (into its queue on disk) cost anything; it writes them once resumed.
    let status = stack.status();
    let pid_of = |name: &str| -> u32 {
        let components = status["components"].as_array().unwrap();
        let pid = components.iter().find(|c| c["name"] == name).and_then(|c| c["pid"].as_u64());
        pid.unwrap_or_else(|| panic!("the stack runs no {name}")) as u32
    };
    let (jaeger, collector) = (nix::unistd::Pid::from_raw(pid_of("jaeger") as i32), pid_of("collector"));
    let mut paused: [Vec<f64>; 2] = Default::default();
    for _ in 0..RUNS {
        wait_until_drained(stack);
        let url = format!("http://127.0.0.1:{}/notifications", ports[0]);
        nix::sys::signal::kill(jaeger, nix::sys::signal::Signal::SIGSTOP).unwrap();
        let before = cpu_seconds(collector);
        let closed =
            load(obsdemo, stack.dir(), &["--url", &url, "--mix", "post=1", "--concurrency", "8", "--duration", "10s"]);
        let requests = closed["requests"].as_f64().unwrap().max(1.0);
        paused[1].push((cpu_seconds(collector) - before) * 1e6 / requests);
        nix::sys::signal::kill(jaeger, nix::sys::signal::Signal::SIGCONT).unwrap();
        paused[0].push(closed["achieved_rps"].as_f64().unwrap());
    }
    // Both services at the same rate at once: each request of either finds the
    // machine equally busy (Jaeger writing the traced one's spans included), so the
    // difference in CPU per request is the tracing's own.
    let mut paired: [Vec<f64>; 2] = Default::default();
    for _ in 0..RUNS {
        wait_until_drained(stack);
        let before = pids.map(cpu_seconds);
        let reports = std::thread::scope(|s| {
            let runs = ports.map(|port| {
                s.spawn(move || {
                    let (url, rps) = (format!("http://127.0.0.1:{port}/notifications"), PAIRED_RPS.to_string());
                    load(obsdemo, stack.dir(), &["--url", &url, "--mix", "post=1", "--rps", &rps, "--duration", "10s"])
                })
            });
            runs.map(|r| r.join().unwrap())
        });
        for i in 0..2 {
            let requests = reports[i]["requests"].as_f64().unwrap().max(1.0);
            paired[i].push((cpu_seconds(pids[i]) - before[i]) * 1e6 / requests);
        }
    }
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let [on, off] = [&results[0], &results[1]]
        .map(|r| (median(r[0].clone()), median(r[1].clone()), median(r[2].clone()), median(r[3].clone())));
    println!("| service | p50 (µs) | p99 (µs) | max rps | service CPU per request (µs) | p50 runs | rps runs |");
    println!("|---|---|---|---|---|---|---|");
    for (name, m, runs) in [("tracing exported", on, &results[0]), ("tracing off", off, &results[1])] {
        let (p50, rps) = (fmt(&runs[0], 0), fmt(&runs[2], 0));
        println!("| {name} | {:.0} | {:.0} | {:.0} | {:.1} | {p50} | {rps} |", m.0, m.1, m.2, m.3);
    }
    println!(
        "\nadded by tracing: p50 **{:+.0} µs**, p99 **{:+.0} µs**; throughput ratio **{:.2}x**; service CPU per request \
         **{:.2}x**, so **{:.2}x** the throughput for a service with cores of its own (goals: under 20 µs at p50, at \
         least 0.8x throughput)\n",
        on.0 - off.0,
        on.1 - off.1,
        on.2 / off.2,
        on.3 / off.3,
        off.3 / on.3
    );
    let (ceiling, intake) = (median(paused[0].clone()), median(paused[1].clone()));
    println!(
        "With Jaeger paused for the run (8 connections, 10 s, median of {RUNS}): traced **{ceiling:.0} rps** ({}), \
         **{:.2}x** the untraced median above: the most the traced service gets with the Collector on the same \
         cores, whatever Jaeger costs; the Collector's intake took **{intake:.1} µs** of CPU per request ({})\n",
        fmt(&paused[0], 0),
        ceiling / off.2,
        fmt(&paused[1], 1)
    );
    let (on_cpu, off_cpu) = (median(paired[0].clone()), median(paired[1].clone()));
    println!(
        "Both at {PAIRED_RPS} rps at once (10 s, median of {RUNS}): service CPU per request **{on_cpu:.1} µs** traced \
         ({}) and **{off_cpu:.1} µs** untraced ({}): tracing adds **{:+.1} µs**, so **{:.2}x** the throughput for a \
         service with cores of its own at this rate\n",
        fmt(&paired[0], 1),
        fmt(&paired[1], 1),
        on_cpu - off_cpu,
        off_cpu / on_cpu
    );
}

/// The rate the traced and untraced services are both loaded at, at once, to compare
/// their CPU per request: with Jaeger writing the spans, it kept the two cores 40%
/// busy here, so neither run waits for a core.
const PAIRED_RPS: u32 = 8_000;

fn completeness_and_memory(obsdemo: &Path, stack: &TestStack) {
    println!("## 4. Trace completeness at 200 rps for 60 s through all five services\n");
    let rss = |status: &Value| -> Vec<(String, f64)> {
        status["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"].as_str().unwrap().ends_with("-service"))
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c["rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0))
            .collect()
    };
    let idle = rss(&stack.status());
    let before = |m| collector_metric(stack, m);
    let names = [
        "otelcol_receiver_accepted_spans",
        "otelcol_receiver_refused_spans",
        "otelcol_exporter_sent_spans",
        "otelcol_exporter_send_failed_spans",
        "otelcol_processor_dropped_spans",
    ];
    let start: Vec<f64> = names.iter().map(|m| before(m)).collect();
    let sampler = {
        let (obsdemo, dir) = (obsdemo.to_owned(), stack.dir().to_owned());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(40));
            let out = Command::new(obsdemo).current_dir(dir).args(["status", "--json"]).output().unwrap();
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
    };
    let r = load(obsdemo, stack.dir(), &["--rps", "200", "--duration", "60s", "--verify-timeout", "120s"]);
    let under_load = rss(&sampler.join().unwrap());
    std::thread::sleep(Duration::from_secs(2));
    let v = &r["verification"];
    println!("| measure | value |\n|---|---|");
    println!("| requests (errors) | {} ({}) |", r["requests"], r["errors"]);
    println!("| achieved rps | {:.1} |", r["achieved_rps"].as_f64().unwrap());
    println!(
        "| latency p50 / p99 / max (ms) | {} / {} / {} |",
        r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["max"]
    );
    println!("| traces expected / found / complete | {} / {} / {} |", v["expected"], v["found"], v["complete"]);
    println!("| complete | **{:.3}%** (goal: at least 99.9%) |", v["complete_ratio"].as_f64().unwrap() * 100.0);
    println!("| waited for traces (s) | {:.1} |", v["waited_s"].as_f64().unwrap());
    for (name, s) in names.iter().zip(&start) {
        println!("| Collector `{name}` during the run | {} |", collector_metric(stack, name) - s);
    }
    println!("\n## 5. Resident memory of each service (MiB)\n");
    println!("| service | idle | at 200 rps |\n|---|---|---|");
    for ((name, idle), (_, busy)) in idle.iter().zip(&under_load) {
        println!("| {name} | {idle:.1} | {busy:.1} |");
    }
    println!("\n(goal: under 20 MB each)");
}

/// CPU seconds of every process of `stack` (by name) and the machine's busy share.
fn cpu_snapshot(stack: &TestStack) -> (Vec<(String, f64)>, (f64, f64)) {
    let status = stack.status();
    let per_process = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?.to_owned(), cpu_seconds(c["pid"].as_u64()? as u32))))
        .collect();
    // The first line of /proc/stat: user nice system idle iowait irq softirq steal.
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (per_process, (ticks.iter().sum::<f64>() - idle, ticks.iter().sum()))
}

/// One step of the rate search.
struct Step {
    rate: u32,
    p99: f64,
    complete: Option<f64>,
    dropped: f64,
    client_limited: bool,
    busiest: String,
    machine_busy: f64,
}

const RATES: [u32; 12] = [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000];

fn max_rate(obsdemo: &Path, stack: &TestStack) {
    println!(
        "## 6. The highest rate kept whole, through all five services (10 s per step; CPU shares over the step \
         and its trace check)\n"
    );
    let lost = [
        "otelcol_receiver_refused_spans",
        "otelcol_exporter_send_failed_spans",
        "otelcol_exporter_enqueue_failed_spans",
        "otelcol_processor_dropped_spans",
    ];
    let run_steps = |url: Option<&str>| -> Vec<Step> {
        let mut steps = Vec::new();
        for rate in RATES {
            let dropped_before: f64 = lost.iter().map(|m| collector_metric(stack, m)).sum();
            let (cpu_before, machine_before) = cpu_snapshot(stack);
            let began = std::time::Instant::now();
            let rate_arg = rate.to_string();
            let mut args = vec!["--rps", rate_arg.as_str(), "--duration", "10s", "--verify-timeout", "60s"];
            if let Some(url) = url {
                args.extend(["--url", url, "--no-verify"]);
            }
            let r = load(obsdemo, stack.dir(), &args);
            let (cpu_after, machine_after) = cpu_snapshot(stack);
            let elapsed = began.elapsed().as_secs_f64();
            let busiest = cpu_after
                .iter()
                .filter_map(|(name, after)| {
                    let before = cpu_before.iter().find(|(n, _)| n == name)?.1;
                    Some((name.clone(), after - before))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(name, secs)| format!("{name} ({:.0}% of a core)", secs * 100.0 / elapsed))
                .unwrap_or_default();
            let machine_busy =
                (machine_after.0 - machine_before.0) / (machine_after.1 - machine_before.1).max(1.0) * 100.0;
            let step = Step {
                rate,
                p99: r["latency_ms"]["p99"].as_f64().unwrap_or(f64::MAX),
                complete: r["verification"]["complete_ratio"].as_f64(),
                dropped: lost.iter().map(|m| collector_metric(stack, m)).sum::<f64>() - dropped_before,
                client_limited: !r["client_limit"].is_null(),
                busiest,
                machine_busy,
            };
            let whole = step.p99 <= 100.0 && step.complete.is_none_or(|c| c >= 0.999) && step.dropped == 0.0;
            steps.push(step);
            if !whole {
                break;
            }
        }
        steps
    };
    let traced = run_steps(None);
    // The same five services again, on other ports, exporting nothing.
    let offset = (stack.offset + 500).to_string();
    let other = stack.dir().join("untraced");
    let render = Command::new(obsdemo)
        .current_dir(stack.dir())
        .args(["render", "--without", "grafana", "--port-offset", &offset, "--state-dir"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    let services_file = other.join("rendered/services.json");
    let file: Value = serde_json::from_slice(&std::fs::read(&services_file).unwrap()).unwrap();
    let mut children: Vec<Child> = file["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            Command::new(obsdemo)
                .args(["service", s["name"].as_str().unwrap(), "--no-tracing", "--services-file"])
                .arg(&services_file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let order = file["services"].as_array().unwrap().iter().find(|s| s["kind"] == "order").unwrap();
    let url = format!("http://{}", order["listen"].as_str().unwrap());
    harness::eventually("the untraced services", Duration::from_secs(10), || {
        harness::get_text(&format!("{url}/healthz"))
    });
    let untraced = run_steps(Some(&url));
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    for (name, steps) in [("tracing on", &traced), ("tracing off", &untraced)] {
        println!("### {name}\n");
        println!("| rps | p99 (ms) | complete | spans dropped | client limited | machine CPU busy | busiest process |");
        println!("|---|---|---|---|---|---|---|");
        for s in steps {
            let complete = s.complete.map_or("-".into(), |c| format!("{:.2}%", c * 100.0));
            println!(
                "| {} | {:.1} | {complete} | {} | {} | {:.0}% | {} |",
                s.rate, s.p99, s.dropped, s.client_limited, s.machine_busy, s.busiest
            );
        }
        let kept = steps
            .iter()
            .take_while(|s| s.p99 <= 100.0 && s.complete.is_none_or(|c| c >= 0.999) && s.dropped == 0.0)
            .last()
            .map_or(0, |s| s.rate);
        println!("\nhighest rate kept whole, {name}: **{kept} rps** (goal: at least 2,000)\n");
    }
}

fn verdict_delay(obsdemo: &Path) {
    println!(
        "## 7. Verifying 30,000 traces: the verdict's delay after the last request (fresh stack per run, median of \
         {RUNS})\n"
    );
    println!(
        "| Jaeger storage | load | verdict after (s) | runs (s) | Jaeger had every span after (s) | complete | Jaeger's \
         searches / lookups by id that found the trace / found nothing | Jaeger CPU during the load / after it (s) | the services' CPU during the load (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (storage, config) in [("Badger (default)", ""), ("memory", "[jaeger]\nstorage = \"memory\"\n")] {
        for (rate, seconds) in [(1000, 30), (2000, 15)] {
            let (mut delays, mut had_all, mut complete, mut reads) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut jaeger_during, mut jaeger_after, mut services) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..RUNS {
                harness::require(&["jaeger", "collector"]);
                let stack = TestStack::with_config(config);
                stack.up(&["--without", "prometheus"]);
                let (rate_arg, duration) = (rate.to_string(), format!("{seconds}s"));
                let args = ["--rps", &rate_arg, "--duration", &duration, "--verify-timeout", "120s"];
                // CPU at the start, at the last request (about), and at the verdict.
                let start = cpu_snapshot(&stack).0;
                let (r, at_last) = std::thread::scope(|s| {
                    let run = s.spawn(|| load(obsdemo, stack.dir(), &args));
                    std::thread::sleep(Duration::from_secs(seconds));
                    let at_last = cpu_snapshot(&stack).0;
                    (run.join().unwrap(), at_last)
                });
                let end = cpu_snapshot(&stack).0;
                let used = |from: &[(String, f64)], to: &[(String, f64)], of: &dyn Fn(&str) -> bool| -> f64 {
                    let before = |n: &str| from.iter().find(|(m, _)| m == n).map_or(0.0, |(_, t)| *t);
                    to.iter().filter(|(n, _)| of(n)).map(|(n, t)| t - before(n)).sum()
                };
                jaeger_during.push(used(&start, &at_last, &|n| n == "jaeger"));
                jaeger_after.push(used(&at_last, &end, &|n| n == "jaeger"));
                services.push(used(&start, &at_last, &|n| n.ends_with("-service")));
                let v = &r["verification"];
                delays.push(v["waited_s"].as_f64().unwrap());
                had_all.push(v["jaeger_had_all_s"].as_f64().unwrap_or(f64::NAN));
                complete.push(format!("{}/{}", v["complete"], v["expected"]));
                reads.push(harness::jaeger_trace_reads(&stack));
            }
            let searches: Vec<f64> = reads.iter().map(|r| r.searches).collect();
            let found: Vec<f64> = reads.iter().map(|r| r.found).collect();
            let missing: Vec<f64> = reads.iter().map(|r| r.missing).collect();
            println!(
                "| {storage} | {rate} rps x {seconds} s | **{:.1}** | {} | {} | {} | {} / {} / {} | {} / {} | {} |",
                median(delays.clone()),
                fmt(&delays, 1),
                fmt(&had_all, 1),
                complete.join(", "),
                fmt(&searches, 0),
                fmt(&found, 0),
                fmt(&missing, 0),
                fmt(&jaeger_during, 1),
                fmt(&jaeger_after, 1),
                fmt(&services, 1)
            );
        }
    }
    println!(
        "\n(goal: a verdict within 5 s of the last request for 30,000 traces; the machine has {} core-seconds \
         a second. The services' CPU for the same requests shows how fast the machine was in each run.)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
