//! `obsdemo status`: each component's state, health, pid, uptime, restarts, CPU and
//! memory; `--json` for scripts; `--wait` to block until healthy. The work is
//! [`crate::ops::status`].

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::ops::status::StatusOptions;
use crate::runtime::CancellationToken;
use crate::stack::HumanDuration;
use crate::status::StatusReport;
use crate::supervisor::state::ComponentState;

/// Arguments of `status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  obsdemo status\n  obsdemo status --json | jq '.components[] | {name, healthy}'\n  obsdemo status --wait --timeout 2m\n\nExit code 0 when every enabled component is healthy, 1 otherwise."
)]
pub struct StatusArgs {
    /// Print JSON: `{"components": [{"name", "state", "healthy", "pid", "url", ...}]}`.
    #[arg(long)]
    json: bool,
    /// Wait until every enabled component is healthy (or the timeout passes).
    #[arg(long)]
    wait: bool,
    /// How long `--wait` waits.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    timeout: HumanDuration,
}

/// Runs `status`.
pub async fn run(args: StatusArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let options = StatusOptions { paths: paths.clone(), wait: args.wait.then(|| args.timeout.get()) };
    let report = crate::ops::status::run(options, &shutdown).await?;
    let Some(report) = report else {
        if args.json {
            println!(r#"{{"state_dir":{:?},"supervisor":null,"components":[]}}"#, paths.root.display().to_string());
        } else {
            eprintln!("no stack has run in {}; start one with `obsdemo up`", paths.root.display());
        }
        return Ok(Code::Failure);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(if report.all_healthy() { Code::Success } else { Code::Failure })
}

fn print_table(report: &StatusReport) {
    let rows: Vec<Vec<String>> = report
        .components
        .iter()
        .map(|c| {
            let state = match c.state {
                ComponentState::Running if c.healthy => style::good("running"),
                ComponentState::Running => style::warn("running (unhealthy)"),
                ComponentState::Starting => style::warn("starting"),
                ComponentState::Failed => style::bad("failed"),
                ComponentState::Stopped => "stopped".into(),
                ComponentState::Disabled => "disabled".into(),
            };
            let health = match c.health.iter().find(|r| !r.ok).or(c.health.first()) {
                Some(r) => format!(
                    "{} {} {:.0}ms",
                    r.code.map_or_else(|| r.error.clone().unwrap_or_default(), |code| code.to_string()),
                    r.target,
                    r.latency_ms
                ),
                None => "-".into(),
            };
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            vec![
                c.name.clone(),
                opt(c.version.clone()),
                state,
                opt(c.pid.map(|p| p.to_string())),
                opt(c.uptime_s.map(uptime)),
                c.restarts.to_string(),
                health,
                opt(c.cpu_percent.map(|p| format!("{p:.1}%"))),
                opt(c.rss_bytes.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0))),
            ]
        })
        .collect();
    let supervisor = if report.supervisor.running {
        format!("supervisor pid {} running", report.supervisor.pid)
    } else {
        style::warn("supervisor not running")
    };
    println!("{} ({supervisor})\n", report.state_dir);
    print!(
        "{}",
        style::table(&["NAME", "VERSION", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "CPU", "RSS"], &rows)
    );
    for c in &report.components {
        if c.scrape_targets.as_ref().is_some_and(Vec::is_empty) {
            println!("\n{} has no active scrape target yet", c.name);
        }
        for t in c.scrape_targets.iter().flatten() {
            let health = if t.health == "up" { style::good("up") } else { style::bad(&t.health) };
            let error = if t.last_error.is_empty() { String::new() } else { format!(": {}", t.last_error) };
            println!("\n{} scrapes {} (job {}): {health}{error}", c.name, t.url, t.job);
        }
    }
    for c in &report.components {
        if let Some(why) = &c.ui_missing {
            println!("\n{} {}: {why}", style::warn("no UI:"), c.name);
        }
    }
    for c in report.components.iter().filter(|c| c.state == ComponentState::Failed) {
        println!(
            "\n{} {}: {}; the last lines of {}:",
            style::bad("failed"),
            c.name,
            c.last_exit.as_deref().unwrap_or("?"),
            c.log
        );
        println!("{}", crate::logs::tail(std::path::Path::new(&c.log), 10).unwrap_or_default());
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
