//! `obsdemo logs NAME [-f] [-n N]`: print or follow a component's log.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

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
    let components = crate::components::all(&config);
    let mut known: Vec<&str> = components.iter().map(|id| id.name()).collect();
    known.push("supervisor");
    if !known.contains(&args.name.as_str()) {
        anyhow::bail!("no component named `{}`; logs exist for {}", args.name, known.join(", "));
    }
    let path = global.paths()?.log(&args.name);
    if !path.exists() {
        anyhow::bail!("{} has no log yet ({} does not exist); has `obsdemo up` run here?", args.name, path.display());
    }
    let (tail, mut offset) = crate::logs::tail_with_end(&path, args.lines)?;
    println!("{tail}");
    if !args.follow {
        return Ok(Code::Success);
    }
    let mut file = std::fs::File::open(&path)?;
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(Code::Success),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            // Rotated or truncated by a new `up`: start over from the new file.
            file = std::fs::File::open(&path)?;
            offset = 0;
        }
        file.seek(SeekFrom::Start(offset))?;
        buf.clear();
        offset += file.read_to_end(&mut buf)? as u64;
        std::io::stdout().write_all(&buf)?;
        std::io::stdout().flush()?;
    }
}
