//! Soak: minutes of load at 200 rps through the five demo services while one stack
//! component is killed (SIGKILL) every minute, in turn the Collector, Jaeger and
//! Prometheus. Each minute reports the requests, errors and complete traces, the
//! supervisor's resident memory and how long `status` took to answer, so a leak, a
//! hang or lost spans show as a trend.
//!
//! Run: `cargo bench --bench soak` (10 minutes; `OBSDEMO_SOAK_MINUTES` changes it).
//! Prints a Markdown table for BENCHMARKS.md and RELIABILITY.md.

#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::TestStack;
use serde_json::Value;

const VICTIMS: [&str; 3] = ["collector", "jaeger", "prometheus"];

fn main() {
    harness::require(&["jaeger", "collector", "prometheus"]);
    let minutes: usize = std::env::var("OBSDEMO_SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(10);
    let stack = TestStack::new();
    stack.up(&["--without", "grafana"]);
    let supervisor = stack.state()["supervisor"]["pid"].as_u64().unwrap() as u32;
    println!("| minute | killed | requests | errors | complete traces | supervisor RSS | `status` answered in |");
    println!("|---|---|---|---|---|---|---|");
    let (mut expected, mut complete) = (0, 0);
    for minute in 1..=minutes {
        let victim = VICTIMS[(minute - 1) % VICTIMS.len()];
        let load = stack.spawn(&["load", "--json", "--rps", "200", "--duration", "60s", "--min-complete", "0%"]);
        std::thread::sleep(Duration::from_secs(30));
        stack.kill_and_await_restart(victim);
        let out = load.wait_with_output().unwrap();
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", harness::describe(&out)));
        let v = &report["verification"];
        expected += v["expected"].as_u64().unwrap();
        complete += v["complete"].as_u64().unwrap();
        let asked = Instant::now();
        stack.status();
        let answered = asked.elapsed();
        println!(
            "| {minute} | {victim} | {} | {} | {} of {} | {:.1} MiB | {:.0} ms |",
            report["requests"],
            report["errors"],
            v["complete"],
            v["expected"],
            rss_kib(supervisor) as f64 / 1024.0,
            answered.as_secs_f64() * 1000.0
        );
    }
    println!(
        "\nIn all: {complete} of {expected} traces complete ({:.3}%).",
        complete as f64 * 100.0 / expected.max(1) as f64
    );
}

/// Resident memory of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}
