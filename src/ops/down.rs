//! The `down` operation: stop everything of the stack in a state dir and return only
//! when every process is gone and every port is free. Idempotent; works without a
//! live supervisor.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Interrupted};
use crate::platform;
use crate::runtime::CancellationToken;
use crate::stack::StatePaths;
use crate::supervisor::stop;

/// What `down` did: what `down --json` prints.
#[derive(Debug, Serialize)]
pub struct DownReport {
    /// The state dir.
    pub state_dir: std::path::PathBuf,
    /// Whether anything of the stack was running.
    pub was_running: bool,
    /// Ports of the stack still in use at the end.
    pub busy_ports: Vec<u16>,
    /// Who holds each of them, where the system tells.
    #[serde(skip)]
    pub holders: Vec<(u16, Option<platform::PortHolder>)>,
}

/// Stops the stack in `paths`, giving each process `grace` between the polite signal
/// and the kill. Cancelling kills what is left at once, then returns the
/// interruption: an interrupted `down` still leaves nothing running.
pub async fn run(paths: &StatePaths, grace: Duration, cancel: &CancellationToken) -> anyhow::Result<DownReport> {
    let report = tokio::select! {
        report = stop::down(paths, grace) => report?,
        () = cancel.cancelled() => {
            stop::kill_now(paths).await?;
            return Err(Error::from(Interrupted).into());
        }
    };
    let holders = report.busy_ports.iter().map(|&port| (port, platform::port_holder(port))).collect();
    Ok(DownReport {
        state_dir: paths.root.clone(),
        was_running: report.was_running,
        busy_ports: report.busy_ports,
        holders,
    })
}
