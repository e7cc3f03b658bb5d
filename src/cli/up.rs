//! `obsdemo up`: start the stack and wait, with a live line per component, until every
//! component is healthy; then print the URLs. The work is [`crate::ops::up`].

use std::time::Duration;

use clap::Args;

use super::exit::Code;
use super::{Global, PlanArgs, install::print_installed, style};
use crate::components::Overrides;
use crate::install::official::InstallOptions;
use crate::ops::up::{UpOptions, UpReport};
use crate::runtime::CancellationToken;
use crate::stack::HumanDuration;

/// Arguments of `up`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  obsdemo up\n  obsdemo up --install\n  obsdemo up --without grafana --timeout 2m\n  obsdemo up --without services        the stack alone, for your own [[apps]]\n  obsdemo up --port-offset 1000 --state-dir /tmp/second --json"
)]
pub struct UpArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Give up (and stop everything) if the stack is not healthy within this time.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    timeout: HumanDuration,
    /// Print the result as JSON on stdout (URLs, state dir, timings).
    #[arg(long)]
    json: bool,
    /// First install (official releases) whatever component binary is missing.
    #[arg(long)]
    install: bool,
    /// RED metrics too (`[metrics] red`): the spans' rate, errors and duration per
    /// service and operation, in Prometheus and Jaeger's Monitor tab.
    #[arg(long)]
    red: bool,
    /// With --install: download from this mirror (replaces scheme and host of each URL).
    #[arg(long, env = "OBSDEMO_MIRROR", value_name = "URL")]
    mirror: Option<String>,
}

/// Runs `up`.
pub async fn run(args: UpArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let (mut config, _) = global.config()?;
    config.metrics.red |= args.red;
    let options = UpOptions {
        config,
        overrides: Overrides {
            without: args.plan.without.clone(),
            port_offset: args.plan.port_offset,
            state_dir: global.state_dir.clone(),
        },
        cwd: std::env::current_dir()?,
        timeout: args.timeout.get(),
        install: args.install.then(|| InstallOptions {
            force: false,
            mirror: args.mirror.clone(),
            stall_timeout: Duration::from_secs(30),
        }),
    };
    let progress = super::progress::for_stderr(false);
    let report = crate::ops::up::run(options, &shutdown, progress.as_ref()).await;
    drop(progress);
    print_success(&report?, args.json)?;
    Ok(Code::Success)
}

fn print_success(report: &UpReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    if let Some(console) = &report.console {
        println!("{} {console}", style::bold("console:"));
    }
    for installed in &report.installed {
        print_installed(installed);
    }
    println!(
        "{} in {:.1}s (state dir {})\n",
        style::good("obsdemo is up"),
        report.elapsed_ms as f64 / 1000.0,
        report.state_dir.display()
    );
    let no_ui = &report.ui_missing;
    let rows: Vec<Vec<String>> = report
        .endpoints
        .iter()
        .filter(|e| e.shown)
        .map(|e| {
            let what = match no_ui.iter().any(|r| r.component == e.component) {
                // Say what is there instead of advertising a page that is not.
                true if e.what.contains("UI") => format!("{} (this build has no UI)", e.what.replace("UI and ", "")),
                _ => e.what.clone(),
            };
            vec![e.component.to_string(), what, e.url.clone()]
        })
        .collect();
    print!("{}", style::table(&["COMPONENT", "WHAT", "URL"], &rows));
    for r in &report.left_out {
        println!("{} {}: {}", style::warn("not started:"), r.component, r.why);
    }
    for r in no_ui {
        println!("{} {}: {}", style::warn("no UI:"), r.component, r.why);
    }
    if let Some(login) = &report.grafana {
        let password = std::fs::read_to_string(&login.password_file).unwrap_or_default();
        println!(
            "\nGrafana login: {} / {} (stored in {}, mode 0600)",
            login.user,
            password.trim(),
            login.password_file.display()
        );
    }
    println!("\nNext: `obsdemo status`, `obsdemo logs <component> -f`, `obsdemo down`.");
    Ok(())
}
