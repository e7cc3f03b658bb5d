//! What the supervisor runs: the launch file, with one fully resolved process per
//! enabled component. `up` writes it; the supervisor reads it and knows nothing else
//! of the stack.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{RestartMode, StatePaths};
use crate::health::{Probe, UiCheck};

/// A component as a process: everything needed to start, gate, and check it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Component name (`jaeger`, `collector`, ...).
    pub name: String,
    /// The binary, resolved to a path before anything starts.
    pub program: PathBuf,
    /// Arguments, config file paths included.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Components that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Components it sends data to without waiting for them at start (the Collector
    /// exports to Jaeger): at stop, it stops before them, so it can flush.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<String>,
    /// All must pass for the component to count as ready and healthy.
    pub probes: Vec<Probe>,
    /// The TCP ports it listens on; `down` waits until they are free.
    pub ports: Vec<u16>,
    /// Its main URL, as `status` shows it.
    #[serde(default)]
    pub url: Option<String>,
    /// When it is started again after it exits, and how often at most.
    #[serde(default)]
    pub restart: Restart,
    /// Its working directory, when not the supervisor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
    /// How to tell whether it serves its web UI, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<UiCheck>,
}

/// A process's restart policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    /// When.
    pub mode: RestartMode,
    /// Restarts after which it is marked failed.
    pub max: u32,
}

impl Default for Restart {
    /// The stack's own servers: any exit nobody asked for is a crash, whatever its
    /// code (under Wine a killed process even reports 0). Apps choose their own.
    fn default() -> Self {
        Self { mode: RestartMode::Always, max: 5 }
    }
}

/// What the supervisor runs: `rendered/launch.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Launch {
    /// The address listeners bind to; ports are checked free on it at stop.
    pub bind: IpAddr,
    /// The enabled components, in start order.
    pub specs: Vec<ProcessSpec>,
    /// The disabled components, listed so `status` can show them.
    pub disabled: Vec<String>,
    /// The plan's named endpoints (`jaeger.query` -> URL), recorded in `state.json`
    /// so later commands look addresses up by name.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
}

/// A launch file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the launch file {path}: {message}")]
pub struct LaunchFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

impl Launch {
    fn path(paths: &StatePaths) -> PathBuf {
        paths.rendered().join("launch.json")
    }

    /// Writes the launch file of the state dir.
    pub fn write(&self, paths: &StatePaths) -> std::io::Result<()> {
        std::fs::write(Self::path(paths), serde_json::to_vec_pretty(self).expect("launch serializes"))
    }

    /// Reads the launch file of the state dir.
    pub fn read(paths: &StatePaths) -> Result<Self, LaunchFileError> {
        let path = Self::path(paths);
        let error = |message: String| LaunchFileError { path: path.clone(), message };
        let bytes = std::fs::read(&path).map_err(|e| error(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| error(e.to_string()))
    }
}

impl crate::error::HasKind for LaunchFileError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Failure
    }
}
