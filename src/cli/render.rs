//! `obsdemo render`: write every rendered config without starting anything.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::exit::Code;
use super::{Global, PlanArgs};
use crate::render;
use crate::stack::StatePaths;

/// Arguments of `render`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  obsdemo render\n  obsdemo render --out ./configs --without grafana")]
pub struct RenderArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Where to write (default: the state dir's `rendered/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `render`.
pub fn run(args: RenderArgs, global: &Global) -> anyhow::Result<Code> {
    let plan = global.plan(&args.plan)?;
    let paths = StatePaths::new(&plan.state_dir);
    let out = args.out.unwrap_or_else(|| paths.rendered());
    let files = crate::components::launch::render(&plan, &paths).map_err(crate::Error::from)?;
    render::write(&files, &out).with_context(|| format!("cannot write to {}", out.display()))?;
    for f in &files {
        println!("{}", out.join(&f.path).display());
    }
    Ok(Code::Success)
}
