//! Everything `up` does before the supervisor takes over, in the order that lets it
//! refuse a bad plan before anything starts: a running stack, binaries, ports, then
//! files; and handing the launch file to a new supervisor.
//!
//! This is the layer between `cli` and the rest: it alone puts `components`,
//! `install`, `render` and `supervisor` together.

pub mod install;
pub mod preflight;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use crate::components::{ComponentId, StackPlan, launch};
use crate::error::Error;
use crate::install::MissingBinary;
use crate::render;
use crate::stack::StatePaths;
use crate::supervisor::control;
use crate::supervisor::launch::spawn_supervisor;
use crate::supervisor::state::StackState;

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

impl crate::error::HasKind for AlreadyRunning {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Conflict
    }
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

impl crate::error::HasKind for Leftovers {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Conflict
    }
}

/// Another `obsdemo up` is bringing a stack up in the same state dir right now.
#[derive(Debug, thiserror::Error)]
#[error("another `obsdemo up` is starting a stack in {dir} right now; wait for it, then `obsdemo status`")]
pub struct UpInProgress {
    /// The state dir.
    pub dir: String,
}

impl crate::error::HasKind for UpInProgress {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Conflict
    }
}

/// Held while one `up` brings a stack up: a second `up` on the same state dir is
/// refused instead of racing the first for the same ports. The OS releases it when
/// the process ends, however it ends.
#[derive(Debug)]
pub struct UpLock(#[allow(dead_code, reason = "held for its lock, never read")] std::fs::File);

/// Takes the state dir's `up` lock, creating the state dir first.
pub fn lock(paths: &StatePaths) -> anyhow::Result<UpLock> {
    let dir = paths.root.display().to_string();
    paths.create().with_context(|| format!("cannot create the state dir {dir}"))?;
    let path = paths.root.join("up.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(UpLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::from(UpInProgress { dir }).into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::from(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

/// The binary of `id` in `plan`: its third-party binary, or this very executable for
/// the components obsdemo runs itself (the demo services).
pub fn resolve(plan: &StackPlan, id: &ComponentId) -> Result<PathBuf, MissingBinary> {
    let kind = id.kind();
    if let Some((program, workdir)) = kind.own_program(&plan.config, id) {
        let dir = workdir.unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let path = std::env::var_os("PATH").unwrap_or_default();
        return which::which_in(&program, Some(path), &dir).map_err(|_| MissingBinary {
            component: id.name().to_owned(),
            looked_in: vec![format!("{} (its workdir), for {program}", dir.display()), format!("PATH, for {program}")],
            buildable: false,
            advice: Some(format!(
                "check `command` of [[apps]] `{id}` in stack.toml (a path relative to its workdir, or a program on PATH), \
                 or run without it: `obsdemo up --without {id}`"
            )),
        });
    }
    match kind.binary(&plan.config) {
        Some(spec) => crate::install::resolve(&spec, kind.source_recipe(&plan.config).is_some()),
        None => std::env::current_exe().map_err(|e| MissingBinary {
            component: id.name().to_owned(),
            looked_in: vec![format!("this executable ({e})")],
            buildable: false,
            advice: None,
        }),
    }
}

/// The enabled components whose binary cannot be found.
pub fn missing(plan: &StackPlan) -> Vec<ComponentId> {
    plan.enabled().into_iter().filter(|id| resolve(plan, id).is_err()).collect()
}

/// Checks, renders and hands the plan to a new supervisor. Starts nothing when any
/// check fails. Returns the supervisor's pid.
pub async fn start(plan: &StackPlan, paths: &StatePaths) -> anyhow::Result<u32> {
    let dir = paths.root.display().to_string();
    if let Some(state) = control::status(&paths.socket()).await {
        return Err(Error::from(AlreadyRunning { dir, pid: state.supervisor.pid }).into());
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
            return Err(Error::from(Leftovers { dir, names }).into());
        }
    }
    let mut binaries = BTreeMap::new();
    for id in plan.enabled() {
        let binary = resolve(plan, &id).map_err(Error::from)?;
        binaries.insert(id, binary);
    }
    preflight::check_ports_free(plan).map_err(Error::from)?;

    paths.create().with_context(|| format!("cannot create the state dir {dir}"))?;
    for id in plan.enabled() {
        id.kind().prepare(plan, paths).with_context(|| format!("cannot prepare {id}"))?;
    }
    let files = launch::render(plan, paths).map_err(Error::from)?;
    render::write(&files, &paths.rendered()).context("cannot write the rendered configs")?;
    rotate_logs(plan, paths);
    launch::launch(plan, paths, &binaries).write(paths).context("cannot write the launch file")?;
    Ok(spawn_supervisor(paths).map_err(Error::from)?)
}

/// Keeps one previous log per component, so failures of this run are read alone.
fn rotate_logs(plan: &StackPlan, paths: &StatePaths) {
    let names = plan.components().into_iter().map(|id| id.name().to_owned());
    for name in names.chain(["supervisor".to_owned()]) {
        let log = paths.log(&name);
        if log.exists() {
            let _ = std::fs::rename(&log, log.with_extension("log.1"));
        }
    }
}
