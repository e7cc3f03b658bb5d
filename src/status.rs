//! The status of a running stack, gathered for `status` and `doctor`: the supervisor's
//! state (or `state.json` when it is gone), a fresh probe of every running component,
//! each process's CPU and memory, and what a component tells of itself (Prometheus's
//! scrape targets). It sits above the supervisor, which knows no kind of component.

use std::time::Duration;

use serde::Serialize;

use crate::components::prometheus;
use crate::health::{ProbeResult, Prober};
use crate::running::RunningStack;
use crate::stack::StatePaths;
use crate::supervisor::state::{ComponentState, now_secs, usage};

/// The whole stack.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The state dir.
    pub state_dir: String,
    /// The supervisor's pid, and whether it is alive.
    pub supervisor: SupervisorStatus,
    /// Every component, disabled ones included.
    pub components: Vec<ComponentStatus>,
}

/// The supervisor process.
#[derive(Clone, Debug, Serialize)]
pub struct SupervisorStatus {
    /// Its pid.
    pub pid: u32,
    /// Whether it answers on its socket.
    pub running: bool,
}

/// One component.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Lifecycle state.
    pub state: ComponentState,
    /// Running and every probe passed just now.
    pub healthy: bool,
    /// The process id, while it runs.
    pub pid: Option<u32>,
    /// The component's main URL.
    pub url: Option<String>,
    /// Seconds since its current process started.
    pub uptime_s: Option<u64>,
    /// Restarts after crashes.
    pub restarts: u32,
    /// The probes just run.
    pub health: Vec<ProbeResult>,
    /// CPU use in percent of one core.
    pub cpu_percent: Option<f64>,
    /// Resident memory in bytes.
    pub rss_bytes: Option<u64>,
    /// How it last exited.
    pub last_exit: Option<String>,
    /// Its log file.
    pub log: String,
    /// The version of its binary, from the install manifest beside it: the release's,
    /// or the one a source build was stamped with. `None` for obsdemo's own processes
    /// and binaries obsdemo did not install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its web UI, when it has one and this build serves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui: Option<String>,
    /// When it has a web UI that this build does not serve: why, and the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_missing: Option<String>,
    /// For Prometheus: what it scrapes and whether the last scrape worked, from its
    /// targets API. Readiness alone would not show a broken metrics pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_targets: Option<Vec<ScrapeTarget>>,
}

pub use prometheus::ScrapeTarget;

impl StatusReport {
    /// Whether every enabled component is healthy.
    pub fn all_healthy(&self) -> bool {
        self.components.iter().filter(|c| c.state != ComponentState::Disabled).all(|c| c.healthy)
    }
}

/// Whether a component's build serves its web UI, remembered per process: it cannot
/// change while the process lives, and asking means fetching a page. A watcher that
/// collects the status every second (the console) keeps one.
#[derive(Debug, Default)]
pub struct UiMemory(std::collections::HashMap<(String, u32), Option<String>>);

/// The status of the stack in `paths`; `None` when it never ran there.
pub async fn collect(paths: &StatePaths) -> std::io::Result<Option<StatusReport>> {
    collect_remembering(paths, &mut UiMemory::default()).await
}

/// [`collect`], asking each process whether it serves its UI only once.
pub async fn collect_remembering(paths: &StatePaths, ui: &mut UiMemory) -> std::io::Result<Option<StatusReport>> {
    // The running stack, or what state.json recorded of the last one.
    let stack = match RunningStack::find(paths).await {
        Ok(stack) => stack,
        Err(_) => match RunningStack::recorded(paths)? {
            Some(stack) => stack,
            None => return Ok(None),
        },
    };
    let (state, running) = (stack.state(), stack.supervised);
    let programs: std::collections::HashMap<String, std::path::PathBuf> = crate::stack::process::Launch::read(paths)
        .map(|launch| launch.specs.into_iter().map(|s| (s.name, s.program)).collect())
        .unwrap_or_default();
    let prober = Prober::new(Duration::from_secs(2));
    let mut components = Vec::new();
    for c in &state.components {
        let alive = c.process.filter(|p| p.is_alive());
        let mut lifecycle = c.state;
        if !running && matches!(lifecycle, ComponentState::Running | ComponentState::Starting) {
            // Nobody supervises it any more: it is stopped, or running unsupervised.
            lifecycle = if alive.is_some() { lifecycle } else { ComponentState::Stopped };
        }
        let health = if alive.is_some() { prober.check_all(&c.probes).await } else { Vec::new() };
        let used = alive.and_then(|p| usage(p.pid));
        let ui_missing = match (&c.ui, alive) {
            (Some(check), Some(process)) => match ui.0.get(&(c.name.clone(), process.pid)) {
                Some(known) => known.clone(),
                None => {
                    let missing = match prober.ui_served(check).await {
                        Some(false) => Some(format!("this build serves no web UI at {}; {}", check.url, check.fix)),
                        _ => None,
                    };
                    ui.0.insert((c.name.clone(), process.pid), missing.clone());
                    missing
                }
            },
            _ => None,
        };
        let prometheus_api = stack.endpoint(prometheus::API).filter(|api| c.url.as_deref() == Some(*api));
        let scrape_targets = match (prometheus_api, alive) {
            (Some(api), Some(_)) => prometheus::scrape_targets(api).await,
            _ => None,
        };
        components.push(ComponentStatus {
            name: c.name.clone(),
            state: lifecycle,
            // A process without probes (an app with no health check) is healthy while it runs.
            healthy: lifecycle == ComponentState::Running && alive.is_some() && health.iter().all(|r| r.ok),
            pid: alive.map(|p| p.pid),
            url: c.url.clone(),
            uptime_s: alive.and(c.started_at).map(|t| now_secs().saturating_sub(t)),
            restarts: c.restarts,
            health,
            cpu_percent: used.map(|u| u.cpu_percent),
            rss_bytes: used.map(|u| u.rss_bytes),
            last_exit: c.last_exit.clone(),
            log: c.log.display().to_string(),
            version: programs.get(&c.name).and_then(|p| installed_version(p)),
            ui: c.ui.as_ref().filter(|_| alive.is_some() && ui_missing.is_none()).map(|check| check.url.clone()),
            ui_missing,
            scrape_targets,
        });
    }
    Ok(Some(StatusReport {
        state_dir: paths.root.display().to_string(),
        supervisor: SupervisorStatus { pid: state.supervisor.pid, running },
        components,
    }))
}

/// The version an installed binary was released or stamped as: the install manifest
/// in its folder, or a folder or two above (a release archive keeps its binary in a
/// subfolder).
fn installed_version(program: &std::path::Path) -> Option<String> {
    program.ancestors().skip(1).take(3).find_map(crate::install::manifest::Manifest::read).map(|m| m.version)
}
