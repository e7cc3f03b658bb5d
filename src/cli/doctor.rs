//! `obsdemo doctor`: walk the path telemetry takes and name the first broken hop. The
//! work is [`crate::ops::doctor`].

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::doctor::Verdict;
use crate::runtime::CancellationToken;

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
pub async fn run(args: DoctorArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let report = crate::ops::doctor::run(&global.paths()?, &shutdown).await?;
    let diagnosis = &report.diagnosis;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
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
    Ok(if report.healthy { Code::Success } else { Code::Failure })
}
