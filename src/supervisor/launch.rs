//! Starting a new supervisor for a state dir, detached from the terminal. What it runs
//! is the launch file (`crate::stack::process::Launch`) written beforehand.

use std::process::{Command, Stdio};

use anyhow::Context;

use crate::platform;
use crate::stack::StatePaths;

/// Starts `obsdemo supervise` for the state dir, detached, its output in
/// `logs/supervisor.log`. Returns its pid.
pub fn spawn_supervisor(paths: &StatePaths) -> anyhow::Result<u32> {
    let exe = std::env::current_exe().context("cannot find the obsdemo binary to start the supervisor")?;
    let log_path = paths.log("supervisor");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("supervise").arg("--state-dir").arg(&paths.root).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    platform::detach(&mut cmd);
    let child = cmd.spawn().context("cannot start the supervisor")?;
    Ok(child.id())
}
