//! Orchestration overhead of `obsdemo up`: wall time from `obsdemo up` to "all
//! healthy" (its exit), against the slowest component's own time to ready when
//! started alone with the very same binary, config and readiness probe; and the
//! time `obsdemo down` takes to leave no process and no port behind.
//!
//! Run: `cargo bench --bench up` (needs the binaries; `./scripts/test.sh` installs
//! them). Prints a Markdown table for BENCHMARKS.md. Each figure is the median of 5.

#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::TestStack;
use obsdemo::components::{Overrides, StackPlan, launch};
use obsdemo::health::{Probe, Prober};
use obsdemo::stack::{StackConfig, StatePaths};

const RUNS: usize = 5;

fn main() {
    harness::require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::with_config("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let without = vec!["grafana".to_owned(), "services".to_owned()];
    let overrides = Overrides { without, port_offset: stack.offset, state_dir: None };
    let config: StackConfig =
        toml::from_str(&std::fs::read_to_string(stack.dir().join("stack.toml")).unwrap()).unwrap();
    let plan = StackPlan::new(config, &overrides, stack.dir()).unwrap();
    let paths = StatePaths::new(stack.dir().join("alone"));
    paths.create().unwrap();
    let files = launch::render(&plan, &paths).unwrap();
    obsdemo::render::write(&files, &paths.rendered()).unwrap();
    let binaries = plan
        .enabled()
        .into_iter()
        .map(|id| {
            let binary = obsdemo::up::resolve(&plan, &id).expect("binary installed");
            (id, binary)
        })
        .collect();
    let specs = launch::process_specs(&plan, &paths, &binaries);

    let mut alone: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut up = Vec::new();
    let mut down = Vec::new();
    for run in 0..RUNS {
        for spec in &specs {
            let started = Instant::now();
            let mut child = Command::new(&spec.program)
                .args(&spec.args)
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            rt.block_on(wait_ready(&spec.probes));
            alone.entry(spec.name.clone()).or_default().push(started.elapsed());
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            rt.block_on(obsdemo::platform::wait_ports_free(plan.bind(), &spec.ports, Duration::from_secs(10)));
        }
        let started = Instant::now();
        let out = stack.try_up(&["--without", "services"]);
        up.push(started.elapsed());
        harness::assert_success(&out, &format!("up (run {run})"));
        let started = Instant::now();
        stack.down();
        down.push(started.elapsed());
    }

    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!("| what | median of {RUNS} (ms) | runs (ms) |\n|---|---|---|");
    let mut slowest = Duration::ZERO;
    let mut medians = BTreeMap::new();
    for (name, times) in &mut alone {
        let runs = fmt_runs(times);
        let m = median(times);
        slowest = slowest.max(m);
        medians.insert(name.clone(), m);
        println!("| {name} alone, start to ready | {} | {runs} |", m.as_millis());
    }
    // The design gates each component on its dependencies' readiness, so the fastest
    // any orchestrator can be is the longest chain of start times.
    let mut chain: BTreeMap<String, Duration> = BTreeMap::new();
    for spec in &specs {
        let before = spec.depends_on.iter().map(|d| chain[d]).max().unwrap_or_default();
        chain.insert(spec.name.clone(), before + medians[&spec.name]);
    }
    let critical = chain.values().copied().max().unwrap();
    println!("| longest dependency chain of medians alone | {} | - |", critical.as_millis());
    let runs = fmt_runs(&up);
    let m = median(&mut up);
    println!("| `obsdemo up` to all healthy | {} | {runs} |", m.as_millis());
    let runs = fmt_runs(&down);
    println!(
        "| `obsdemo down` to every process gone and every port free | {} | {runs} |",
        median(&mut down).as_millis()
    );
    println!("\nratio `up` / slowest component alone: {:.2}x", m.as_secs_f64() / slowest.as_secs_f64());
    println!("ratio `up` / longest dependency chain: {:.2}x", m.as_secs_f64() / critical.as_secs_f64());
}

async fn wait_ready(probes: &[Probe]) {
    let prober = Prober::new(Duration::from_secs(1));
    loop {
        if prober.check_all(probes).await.iter().all(|r| r.ok) {
            return;
        }
        // The probe period `up` itself uses, so both sides poll alike.
        tokio::time::sleep(obsdemo::health::ProbePolicy::default().period).await;
    }
}

fn fmt_runs(v: &[Duration]) -> String {
    v.iter().map(|d| d.as_millis().to_string()).collect::<Vec<_>>().join(", ")
}
