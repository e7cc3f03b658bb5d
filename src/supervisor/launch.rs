//! Handing a stack to a new supervisor: the launch file it reads, and starting it
//! detached from the terminal.

use std::net::IpAddr;
use std::process::{Command, Stdio};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::platform;
use crate::stack::StatePaths;
use crate::stack::process::ProcessSpec;

/// What the supervisor runs: `rendered/launch.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Launch {
    /// The address listeners bind to; ports are checked free on it at stop.
    pub bind: IpAddr,
    /// The enabled components, in start order.
    pub specs: Vec<ProcessSpec>,
    /// The disabled components, listed so `status` can show them.
    pub disabled: Vec<String>,
}

impl Launch {
    fn path(paths: &StatePaths) -> std::path::PathBuf {
        paths.rendered().join("launch.json")
    }

    /// Writes the launch file of the state dir.
    pub fn write(&self, paths: &StatePaths) -> std::io::Result<()> {
        std::fs::write(Self::path(paths), serde_json::to_vec_pretty(self).expect("launch serializes"))
    }

    /// Reads the launch file of the state dir.
    pub fn read(paths: &StatePaths) -> anyhow::Result<Self> {
        let path = Self::path(paths);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a launch file", path.display()))
    }
}

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
