//! The `up` operation: provide what is missing (with `install`), hand the plan to a
//! supervisor, and wait until every component is healthy. On failure, timeout or
//! cancellation it stops everything it started before it returns.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::install::Installed;
use crate::components::{ComponentId, Endpoint, Overrides, StackPlan};
use crate::error::{Error, Interrupted};
use crate::health::ProbePolicy;
use crate::install::official::InstallOptions;
use crate::progress::{Event, Progress};
use crate::runtime::CancellationToken;
use crate::stack::{StackConfig, StatePaths};
use crate::supervisor::state::{ComponentState, ProcessId};
use crate::supervisor::{control, stop};

/// What `up` is asked to do.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The stack file, read.
    pub config: StackConfig,
    /// `--without`, `--port-offset`, `--state-dir`.
    pub overrides: Overrides,
    /// The directory relative paths of the stack file are read against.
    pub cwd: PathBuf,
    /// Give up (and stop everything) if the stack is not healthy within this time.
    pub timeout: Duration,
    /// Provide every missing binary first, this way (`--install`).
    pub install: Option<InstallOptions>,
}

/// A stack that came up: what `up --json` prints.
#[derive(Debug, Serialize)]
pub struct UpReport {
    /// Always true: a stack that is not healthy is an error.
    pub healthy: bool,
    /// From the call to a healthy stack, installs included.
    pub elapsed_ms: u64,
    /// The state dir.
    pub state_dir: PathBuf,
    /// Every endpoint of the stack.
    pub endpoints: Vec<Endpoint>,
    /// What `--install` provided, and how.
    pub installed: Vec<Installed>,
    /// Components left out because their binary could not be provided.
    pub left_out: Vec<Reason>,
    /// Components whose build serves no web UI.
    pub ui_missing: Vec<Reason>,
    /// Grafana's login, when Grafana runs.
    pub grafana: Option<GrafanaLogin>,
    /// Listeners reachable from the network (`bind` is not loopback).
    pub exposed: Vec<String>,
    /// The console, with the token that lets a browser in.
    pub console: Option<String>,
}

/// A component and why something is so of it.
#[derive(Debug, Serialize)]
pub struct Reason {
    /// The component.
    pub component: ComponentId,
    /// Why, and what to do about it.
    pub why: String,
}

/// Where Grafana's generated admin password is kept (never admin/admin).
#[derive(Debug, Serialize)]
pub struct GrafanaLogin {
    /// The user.
    pub user: &'static str,
    /// The file holding the password, mode 0600.
    pub password_file: PathBuf,
}

/// Brings the stack up. Events: the installs' stages, `Starting`, then a
/// `Component` per state change; `LogTail` for a component that did not start.
pub async fn run(options: UpOptions, cancel: &CancellationToken, progress: &dyn Progress) -> anyhow::Result<UpReport> {
    let began = Instant::now();
    let UpOptions { config, mut overrides, cwd, timeout, install } = options;
    let mut plan = StackPlan::new(config.clone(), &overrides, &cwd).map_err(Error::from)?;
    let mut installed = Vec::new();
    let mut left_out = Vec::new();
    if let Some(install) = &install {
        for (id, provided) in crate::up::install::provide_missing(&plan, install, progress, cancel).await? {
            let item = Installed::new(&plan.config, &id, provided);
            if let Some(why) = &item.left_out {
                overrides.without.push(id.name().to_owned());
                left_out.push(Reason { component: id.clone(), why: why.clone() });
            }
            installed.push(item);
        }
        if !left_out.is_empty() {
            plan = StackPlan::new(config, &overrides, &cwd).map_err(Error::from)?;
        }
    }
    let paths = StatePaths::new(&plan.state_dir);
    let exposed = plan.exposed();
    if !exposed.is_empty() {
        progress.event(Event::Warning {
            text: format!(
                "bind = {} makes these reachable from the network, not only from this machine:\n  {}",
                plan.bind(),
                exposed.join("\n  ")
            ),
        });
    }
    // Held until this `up` is done, whatever the outcome.
    let _lock = crate::up::lock(&paths)?;
    let supervisor = ProcessId::of(crate::up::start(&plan, &paths).await?);
    progress.event(Event::Starting { components: plan.enabled().iter().map(|id| id.name().to_owned()).collect() });
    let outcome = tokio::select! {
        outcome = wait_healthy(&paths, supervisor, progress, began, timeout) => outcome,
        () = cancel.cancelled() => Outcome::Interrupted,
    };
    let failure = match outcome {
        Outcome::Healthy => {
            let ui_missing = missing_uis(&plan).await;
            let grafana = plan
                .is_enabled(&ComponentId::Grafana)
                .then(|| GrafanaLogin { user: "admin", password_file: paths.grafana_password() });
            return Ok(UpReport {
                healthy: true,
                elapsed_ms: began.elapsed().as_millis() as u64,
                state_dir: paths.root.clone(),
                endpoints: plan.endpoints(),
                installed,
                left_out,
                ui_missing,
                grafana,
                exposed,
                console: console_url(&plan, &paths),
            });
        }
        Outcome::Failed { component, reason } => {
            tell_last_lines(&paths, &component, progress);
            anyhow::anyhow!("{component} did not start: {reason}; everything this `up` started is being stopped")
        }
        Outcome::TimedOut { waiting } => {
            for component in &waiting {
                tell_last_lines(&paths, component, progress);
            }
            anyhow::anyhow!(
                "not healthy within {}: still waiting for {}; see `obsdemo logs <component>` (the stack is being stopped)",
                crate::stack::HumanDuration::from(timeout),
                waiting.join(", ")
            )
        }
        Outcome::Interrupted => Error::from(Interrupted).into(),
    };
    stop::down(&paths, Duration::from_secs(10)).await?;
    Err(failure)
}

/// The console's URL with the token, when the console runs.
fn console_url(plan: &StackPlan, paths: &StatePaths) -> Option<String> {
    plan.is_enabled(&ComponentId::Console)
        .then(|| super::open::token_url(&plan.url(&ComponentId::Console, "http"), paths).ok())
        .flatten()
}

/// How waiting for the stack ended.
enum Outcome {
    Healthy,
    Failed { component: String, reason: String },
    TimedOut { waiting: Vec<String> },
    Interrupted,
}

/// The components whose web UI this build does not serve, with why and the fix.
async fn missing_uis(plan: &StackPlan) -> Vec<Reason> {
    let prober = crate::health::Prober::new(ProbePolicy::default().timeout);
    let mut out = Vec::new();
    for id in plan.enabled() {
        if let Some(check) = id.kind().ui(plan, &id)
            && prober.ui_served(&check).await == Some(false)
        {
            let why = format!("this build serves no web UI at {}; {}", check.url, check.fix);
            out.push(Reason { component: id, why });
        }
    }
    out
}

/// Tells why `component` did not come up: the end of its log.
fn tell_last_lines(paths: &StatePaths, component: &str, progress: &dyn Progress) {
    let log = paths.log(component);
    if !log.exists() {
        return;
    }
    let lines = crate::logs::tail(&log, 20).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    progress.event(Event::LogTail { component: component.to_owned(), log: log.display().to_string(), lines });
}

/// Polls the supervisor until every component runs, one fails, or time is up; tells
/// each change of state.
async fn wait_healthy(
    paths: &StatePaths,
    supervisor: Option<ProcessId>,
    progress: &dyn Progress,
    began: Instant,
    timeout: Duration,
) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut last = std::collections::BTreeMap::new();
    loop {
        match control::status(&paths.socket()).await {
            Some(state) => {
                for c in &state.components {
                    let now = (c.state, c.process.is_some());
                    if last.insert(c.name.clone(), now) != Some(now) {
                        progress.event(Event::Component {
                            name: c.name.clone(),
                            state: c.state,
                            spawned: now.1,
                            after: began.elapsed(),
                        });
                    }
                }
                if let Some(failed) = state.components.iter().find(|c| c.state == ComponentState::Failed) {
                    let reason = failed.last_exit.clone().unwrap_or_else(|| "it failed".into());
                    return Outcome::Failed { component: failed.name.clone(), reason };
                }
                let waiting: Vec<String> = state
                    .components
                    .iter()
                    .filter(|c| !matches!(c.state, ComponentState::Running | ComponentState::Disabled))
                    .map(|c| c.name.clone())
                    .collect();
                if waiting.is_empty() {
                    return Outcome::Healthy;
                }
                if Instant::now() >= deadline {
                    return Outcome::TimedOut { waiting };
                }
            }
            None if !supervisor.is_some_and(|s| s.is_alive()) => {
                return Outcome::Failed { component: "supervisor".into(), reason: "the supervisor exited".into() };
            }
            None if Instant::now() >= deadline => {
                return Outcome::TimedOut { waiting: vec!["the supervisor".into()] };
            }
            None => {}
        }
        tokio::time::sleep(ProbePolicy::default().period).await;
    }
}
