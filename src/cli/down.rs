//! `obsdemo down`: stop everything and return only when every process is gone and
//! every port is free. Idempotent; works without a live supervisor. The work is
//! [`crate::ops::down`].

use std::time::Duration;

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::runtime::CancellationToken;

/// Arguments of `down`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  obsdemo down\n  obsdemo down --state-dir /tmp/second --json")]
pub struct DownArgs {
    /// Seconds between SIGTERM and SIGKILL for each component.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    grace: u64,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `down`. Ctrl-C while it waits kills what is left at once, then exits 130:
/// an interrupted `down` still leaves nothing running.
pub async fn run(args: DownArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let report = crate::ops::down::run(&paths, Duration::from_secs(args.grace), &shutdown).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if !report.busy_ports.is_empty() {
        for (port, holder) in &report.holders {
            let holder = holder
                .as_ref()
                .map_or_else(|| "an unknown process".to_owned(), |h| format!("pid {} ({})", h.pid, h.name));
            eprintln!("{} port {port} is still held by {holder}", style::bad("busy:"));
        }
    } else if report.was_running {
        println!(
            "{} every process of the stack in {} is gone and every port is free",
            style::good("stopped:"),
            paths.root.display()
        );
    } else {
        println!("nothing was running in {}", paths.root.display());
    }
    Ok(if report.busy_ports.is_empty() { Code::Success } else { Code::Failure })
}
