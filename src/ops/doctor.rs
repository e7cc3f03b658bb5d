//! The `doctor` operation: walk the path telemetry takes through the stack in a state
//! dir and name the first broken hop.

use serde::Serialize;

use crate::doctor::Diagnosis;
use crate::error::{Error, Interrupted};
use crate::runtime::CancellationToken;
use crate::stack::StatePaths;

/// What `doctor --json` prints.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// Every hop, in the order telemetry takes them.
    #[serde(flatten)]
    pub diagnosis: Diagnosis,
    /// No hop is broken.
    pub healthy: bool,
}

/// Diagnoses the stack in `paths`; a stack that never ran here is an error.
pub async fn run(paths: &StatePaths, cancel: &CancellationToken) -> anyhow::Result<DoctorReport> {
    let diagnosis = tokio::select! {
        diagnosis = crate::doctor::diagnose(paths) => diagnosis,
        () = cancel.cancelled() => return Err(Error::from(Interrupted).into()),
    };
    let Some(diagnosis) = diagnosis else {
        anyhow::bail!("no stack has run in {}; start one with `obsdemo up`", paths.root.display());
    };
    Ok(DoctorReport { healthy: diagnosis.healthy(), diagnosis })
}
