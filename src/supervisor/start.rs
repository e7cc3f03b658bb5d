//! Everything `up` does before the supervisor takes over, in the order that lets it
//! refuse a bad plan before anything starts: binaries, ports, then files.

use std::collections::BTreeMap;

use anyhow::Context;

use super::control;
use super::launch::{Launch, spawn_supervisor};
use super::preflight::check_ports_free;
use super::state::StackState;
use crate::install;
use crate::render;
use crate::stack::{StackPlan, StatePaths};

/// A stack already runs on this state dir.
#[derive(Debug, thiserror::Error)]
#[error(
    "a stack is already running in {dir} (supervisor pid {pid}); `obsdemo status` shows it, `obsdemo down` stops it"
)]
pub struct AlreadyRunning {
    /// The state dir.
    pub dir: String,
    /// The supervisor's pid.
    pub pid: u32,
}

/// Processes of an earlier run are alive, but no supervisor answers for them.
#[derive(Debug, thiserror::Error)]
#[error("processes of an earlier stack in {dir} are still running ({names}); run `obsdemo down` first")]
pub struct Leftovers {
    /// The state dir.
    pub dir: String,
    /// The components still alive.
    pub names: String,
}

/// Checks, renders and hands the plan to a new supervisor. Starts nothing when any
/// check fails. Returns the supervisor's pid.
pub async fn start(plan: &StackPlan, paths: &StatePaths) -> anyhow::Result<u32> {
    let dir = paths.root.display().to_string();
    if let Some(state) = control::status(&paths.socket()).await {
        return Err(AlreadyRunning { dir, pid: state.supervisor.pid }.into());
    }
    if let Ok(Some(state)) = StackState::read(&paths.state_json()) {
        let alive: Vec<&str> = state
            .components
            .iter()
            .filter(|c| c.process.is_some_and(|p| p.is_alive()))
            .map(|c| c.name.as_str())
            .collect();
        if !alive.is_empty() || state.supervisor.is_alive() {
            let names = if alive.is_empty() { "the supervisor".to_owned() } else { alive.join(", ") };
            return Err(Leftovers { dir, names }.into());
        }
    }
    let mut binaries = BTreeMap::new();
    for name in plan.enabled() {
        // The demo services are this very binary (`obsdemo service NAME`).
        let binary = if plan.is_service(&name) {
            std::env::current_exe().context("cannot find the obsdemo binary to run the services")?
        } else {
            install::resolve(&plan.config, &name)?
        };
        binaries.insert(name, binary);
    }
    check_ports_free(plan)?;

    paths.create().with_context(|| format!("cannot create the state dir {dir}"))?;
    if plan.is_enabled("grafana") {
        paths.ensure_secret(&paths.grafana_password()).context("cannot create the Grafana admin password")?;
    }
    let files = render::render(plan, paths)?;
    render::write(&files, &paths.rendered()).context("cannot write the rendered configs")?;
    rotate_logs(plan, paths);
    let launch = Launch {
        bind: plan.bind(),
        specs: render::launch::process_specs(plan, paths, &binaries),
        disabled: plan.components().into_iter().filter(|c| !plan.is_enabled(c)).collect(),
    };
    launch.write(paths).context("cannot write the launch file")?;
    spawn_supervisor(paths)
}

/// Keeps one previous log per component, so failures of this run are read alone.
fn rotate_logs(plan: &StackPlan, paths: &StatePaths) {
    for name in plan.components().iter().map(String::as_str).chain(["supervisor"]) {
        let log = paths.log(name);
        if log.exists() {
            let _ = std::fs::rename(&log, log.with_extension("log.1"));
        }
    }
}
