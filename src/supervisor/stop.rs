//! `down`: stop the stack of a state dir, through its supervisor when one answers,
//! and from `state.json` when none does; return only when every process is gone
//! and every port is free.

use std::time::Duration;

use super::control::{self, Request};
use super::state::{ComponentState, StackState};
use crate::platform::{self, wait_ports_free};
use crate::stack::StatePaths;

/// What `down` did.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Whether anything of the stack was running.
    pub was_running: bool,
    /// Whether a live supervisor did the stopping.
    pub via_supervisor: bool,
    /// Ports still in use at the end.
    pub busy_ports: Vec<u16>,
}

/// Stops everything of the stack in `paths`. Idempotent.
pub async fn down(paths: &StatePaths, grace: Duration) -> std::io::Result<DownReport> {
    let mut report = DownReport::default();
    if control::status(&paths.socket()).await.is_some() {
        report.was_running = true;
        // The supervisor answers once it has stopped everything; a closed connection
        // (it exited first) is checked below like any other case.
        let _ = control::request(&paths.socket(), Request::Stop, grace * 3 + Duration::from_secs(30)).await;
        report.via_supervisor = true;
    }
    stop_recorded(paths, &mut report, grace, Duration::from_secs(5)).await?;
    Ok(report)
}

/// Kills every process of the stack in `paths` at once, without asking anything to
/// stop: what a second Ctrl-C (or one during `down`) wants. Returns within about a
/// second once the ports are free.
pub async fn kill_now(paths: &StatePaths) -> std::io::Result<DownReport> {
    let mut report = DownReport::default();
    stop_recorded(paths, &mut report, Duration::ZERO, Duration::ZERO).await?;
    Ok(report)
}

/// Stops what `state.json` records, the supervisor first (asked, then after
/// `supervisor_grace` killed), then every process group whose pid still belongs to
/// the same process (same start time), each given `grace`; waits for the ports.
async fn stop_recorded(
    paths: &StatePaths,
    report: &mut DownReport,
    grace: Duration,
    supervisor_grace: Duration,
) -> std::io::Result<()> {
    let Some(mut state) = StackState::read(&paths.state_json())? else {
        return Ok(());
    };
    if state.supervisor.is_alive() {
        report.was_running = true;
        platform::terminate(state.supervisor.pid);
        let deadline = tokio::time::Instant::now() + supervisor_grace;
        while state.supervisor.is_alive() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if state.supervisor.is_alive() {
            platform::kill_process(state.supervisor.pid);
        }
    }
    for c in &mut state.components {
        if let Some(p) = c.process.take()
            && p.is_alive()
        {
            report.was_running = true;
            platform::stop_group(p.pid, grace).await;
        }
        if c.state != ComponentState::Disabled {
            c.state = ComponentState::Stopped;
        }
    }
    let bind = state.bind.parse().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    report.busy_ports = wait_ports_free(bind, &state.ports(), Duration::from_secs(15)).await;
    state.write(&paths.state_json())?;
    let _ = std::fs::remove_file(paths.socket());
    Ok(())
}
