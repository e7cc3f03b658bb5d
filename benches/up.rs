//! Orchestration overhead of `obsdemo up`: wall time from `obsdemo up` to "all
//! healthy" (its exit), against the slowest component's own time to ready when
//! started alone with the very same binary, config and readiness probe.
//!
//! Run: `cargo bench --bench up` (needs the binaries; `./scripts/test.sh` installs
//! them). Prints a Markdown table for BENCHMARKS.md. Each figure is the median of 5.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use obsdemo::health::{Probe, Prober};
use obsdemo::render::{self, launch};
use obsdemo::stack::{Overrides, StackConfig, StackPlan, StatePaths};

const RUNS: usize = 5;
const OFFSET: u16 = 20_000;

fn main() {
    let obsdemo = Path::new(env!("CARGO_BIN_EXE_obsdemo"));
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let overrides =
        Overrides { without: vec!["grafana".into(), "services".into()], port_offset: OFFSET, state_dir: None };
    let plan = StackPlan::new(StackConfig::default(), &overrides, dir.path()).unwrap();
    let paths = StatePaths::new(dir.path().join("alone"));
    paths.create().unwrap();
    let files = render::render(&plan, &paths).unwrap();
    render::write(&files, &paths.rendered()).unwrap();
    let binaries: BTreeMap<String, _> = plan
        .enabled()
        .into_iter()
        .map(|c| {
            let binary = obsdemo::install::resolve(&plan.config, &c).expect("binary installed");
            (c, binary)
        })
        .collect();
    let specs = launch::process_specs(&plan, &paths, &binaries);

    let mut alone: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut up = Vec::new();
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
            rt.block_on(obsdemo::supervisor::wait_ports_free(plan.bind(), &spec.ports, Duration::from_secs(10)));
        }
        let started = Instant::now();
        let status = Command::new(obsdemo)
            .current_dir(dir.path())
            .args([
                "up",
                "--without",
                "grafana",
                "--without",
                "services",
                "--port-offset",
                &OFFSET.to_string(),
                "--json",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        up.push(started.elapsed());
        assert!(status.success(), "obsdemo up failed in run {run}");
        assert!(
            Command::new(obsdemo).current_dir(dir.path()).arg("down").stdout(Stdio::null()).status().unwrap().success()
        );
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
    println!("\nratio `up` / slowest component alone: {:.2}x", m.as_secs_f64() / slowest.as_secs_f64());
    println!("ratio `up` / longest dependency chain: {:.2}x", m.as_secs_f64() / critical.as_secs_f64());
}

async fn wait_ready(probes: &[Probe]) {
    let prober = Prober::new(Duration::from_secs(1));
    loop {
        if prober.check_all(probes).await.iter().all(|r| r.ok) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn fmt_runs(v: &[Duration]) -> String {
    v.iter().map(|d| d.as_millis().to_string()).collect::<Vec<_>>().join(", ")
}
