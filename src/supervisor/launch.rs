//! Starting a new supervisor for a state dir, detached from the terminal. What it runs
//! is the launch file (`crate::stack::process::Launch`) written beforehand.

use std::process::{Command, Stdio};

use crate::platform;
use crate::stack::StatePaths;

/// Starts `obsdemo supervise` for the state dir, detached, its output in
/// `logs/supervisor.log`. Returns its pid.
pub fn spawn_supervisor(paths: &StatePaths) -> Result<u32, SupervisorError> {
    let exe = std::env::current_exe().map_err(SupervisorError::io("find the obsdemo binary", "itself"))?;
    let log_path = paths.log("supervisor");
    let open = || std::fs::OpenOptions::new().create(true).append(true).open(&log_path);
    let (log, log_too) =
        open().and_then(|log| Ok((log.try_clone()?, log))).map_err(SupervisorError::io("open", &log_path))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("supervise").arg("--state-dir").arg(&paths.root).stdin(Stdio::null()).stdout(log).stderr(log_too);
    platform::detach(&mut cmd);
    let child = cmd.spawn().map_err(SupervisorError::io("start the supervisor", &exe))?;
    Ok(child.id())
}

/// The supervisor could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// An operating-system call failed.
    #[error("cannot {action} ({}): {source}", what.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        what: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The launch file could not be read.
    #[error(transparent)]
    LaunchFile(#[from] crate::stack::process::LaunchFileError),
    /// This operating system cannot supervise processes.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl SupervisorError {
    /// An I/O error while doing `action` on `what`.
    pub fn io(action: &'static str, what: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { action, what, source }
    }
}

impl crate::error::HasKind for SupervisorError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Unsupported(_) => crate::error::ErrorKind::Conflict,
            _ => crate::error::ErrorKind::Failure,
        }
    }
}
