//! `obsdemo doctor`: walk the path telemetry takes and name the first broken hop.

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::doctor::{self, Verdict};

/// Arguments of `doctor`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo doctor
  obsdemo doctor --json | jq .first_broken

Exit code 0 when no hop is broken, 1 otherwise (and when no stack ran here).")]
pub struct DoctorArgs {
    /// Print the hops as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `doctor`.
pub async fn run(args: DoctorArgs, global: &Global) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let Some(diagnosis) = doctor::diagnose(&paths).await else {
        anyhow::bail!("no stack has run in {}; start one with `obsdemo up`", paths.root.display());
    };
    if args.json {
        let mut out = serde_json::to_value(&diagnosis)?;
        out["healthy"] = diagnosis.healthy().into();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for hop in &diagnosis.hops {
            let mark = match hop.verdict {
                Verdict::Ok => style::good("ok    "),
                Verdict::Unknown => style::warn("?     "),
                Verdict::Broken => style::bad("BROKEN"),
            };
            println!("{mark} {}: {}", hop.name, hop.detail);
            if let Some(fix) = hop.fix.as_ref().filter(|_| hop.verdict != Verdict::Ok) {
                println!("       fix: {fix}");
            }
        }
        match &diagnosis.first_broken {
            Some(hop) => println!("\nthe first broken hop: {}", style::bad(hop)),
            None => println!("\n{}", style::good("telemetry flows end to end")),
        }
    }
    Ok(if diagnosis.healthy() { Code::Success } else { Code::Failure })
}
