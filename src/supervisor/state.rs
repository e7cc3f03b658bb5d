//! `state.json`: what the supervisor runs, written on every change, so `status` and
//! `down` work even when the supervisor is gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::health::Probe;

/// A component's lifecycle state, as `status --json` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentState {
    /// Waiting for its dependencies, started but not yet ready, or restarting.
    Starting,
    /// Ready, and its process is alive.
    Running,
    /// Stopped on request.
    Stopped,
    /// Exited and will not be restarted.
    Failed,
    /// Not part of this stack (`enabled = false` or `--without`).
    Disabled,
}

/// A process, identified so that a reused pid is not mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The pid (also the process group id of a component).
    pub pid: u32,
    /// Start time in seconds since the epoch, as the OS reports it.
    pub start_time: u64,
}

impl ProcessId {
    /// The identity of the live process `pid`, if there is one.
    pub fn of(pid: u32) -> Option<Self> {
        let sys = process_snapshot(pid)?;
        sys.process(sysinfo::Pid::from_u32(pid)).map(|p| Self { pid, start_time: p.start_time() })
    }

    /// Whether this very process is still alive: same pid *and* same start time.
    pub fn is_alive(&self) -> bool {
        Self::of(self.pid).is_some_and(|now| now == *self)
    }
}

/// One process's CPU and memory, for `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// CPU use in percent of one core, averaged over the process's lifetime.
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
}

/// CPU and memory of `pid`, when it is alive.
pub fn usage(pid: u32) -> Option<Usage> {
    let sys = process_snapshot(pid)?;
    let p = sys.process(sysinfo::Pid::from_u32(pid))?;
    let run = p.run_time().max(1) as f64;
    // sysinfo's cpu_usage needs two samples; accumulated CPU time over run time needs one.
    Some(Usage { cpu_percent: p.accumulated_cpu_time() as f64 / 10.0 / run, rss_bytes: p.memory() })
}

/// A process table holding just `pid`, when the OS lets us read it.
fn process_snapshot(pid: u32) -> Option<sysinfo::System> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let mut sys = System::new().ok()?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[sysinfo::Pid::from_u32(pid)]),
        true,
        ProcessRefreshKind::nothing().with_memory().with_cpu(),
    );
    Some(sys)
}

/// One component in `state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentRecord {
    /// Component name.
    pub name: String,
    /// Its main URL.
    #[serde(default)]
    pub url: Option<String>,
    /// How to tell whether it serves its web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<crate::health::UiCheck>,
    /// Lifecycle state.
    pub state: ComponentState,
    /// The running process (it leads its own process group).
    pub process: Option<ProcessId>,
    /// When the current process started, in seconds since the epoch.
    pub started_at: Option<u64>,
    /// How many times it was restarted after a crash.
    pub restarts: u32,
    /// The last exit status, when it exited.
    pub last_exit: Option<String>,
    /// The probes that decide its health.
    pub probes: Vec<Probe>,
    /// Its TCP ports.
    pub ports: Vec<u16>,
    /// Its log file.
    pub log: PathBuf,
}

/// The whole of `state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    /// The supervisor process.
    pub supervisor: ProcessId,
    /// The address listeners bind to.
    pub bind: String,
    /// The plan's named endpoints (`jaeger.query`, `prometheus.http`, ...) and URLs.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// Every component of the stack, disabled ones included.
    pub components: Vec<ComponentRecord>,
}

impl StackState {
    /// Reads `state.json`; `None` when there is none.
    pub fn read(path: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::other(format!("{} is not a state file: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `state.json` atomically (temp file + rename), so a reader never sees half.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("state serializes"))?;
        std::fs::rename(tmp, path)
    }

    /// The URL of the endpoint `name` (`jaeger.query`), if the stack has it.
    pub fn endpoint(&self, name: &str) -> Option<&str> {
        self.endpoints.get(name).map(String::as_str)
    }

    /// Every port of every component.
    pub fn ports(&self) -> Vec<u16> {
        self.components.iter().flat_map(|c| c.ports.iter().copied()).collect()
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
