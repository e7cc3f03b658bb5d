//! `obsdemo logs NAME [-f] [-n N]`: print or follow a component's log. The work is
//! [`crate::ops::logs`].

use std::io::Write;

use clap::Args;

use super::Global;
use super::exit::Code;
use crate::runtime::CancellationToken;

/// Arguments of `logs`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  obsdemo logs collector\n  obsdemo logs jaeger -f\n  obsdemo logs supervisor -n 200"
)]
pub struct LogsArgs {
    /// The component: jaeger, collector, prometheus, grafana, a service (Order-service,
    /// ...), or supervisor.
    name: String,
    /// Keep printing new lines as they are written (Ctrl-C to stop).
    #[arg(short, long)]
    follow: bool,
    /// How many of the last lines to print first.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
}

/// Runs `logs`.
pub async fn run(args: LogsArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let (config, _) = global.config()?;
    let mut log = crate::ops::logs::open(&crate::ops::logs::names(&config), &global.paths()?, &args.name, args.lines)?;
    println!("{}", log.tail);
    if !args.follow {
        return Ok(Code::Success);
    }
    let mut out = std::io::stdout();
    while let Some(bytes) = log.follow.next(&shutdown).await? {
        out.write_all(&bytes)?;
        out.flush()?;
    }
    Ok(Code::Success)
}
