//! The OpenTelemetry settings of a running stack, for `obsdemo env` and `obsdemo run`:
//! the recorded span intake of `state.json`, never a guess from `stack.toml`.

use crate::components::otel_env;
use crate::error::{ErrorKind, HasKind};
use crate::stack::{OtlpProtocol, StatePaths};
use crate::supervisor::control;
use crate::supervisor::state::StackState;

/// No stack runs in the state dir, or it receives no spans.
#[derive(Debug, thiserror::Error)]
#[error("no stack that receives spans is running in {dir}; start one with `obsdemo up` (or pass --state-dir)")]
pub struct NotRunning {
    /// The state dir.
    pub dir: String,
}

impl HasKind for NotRunning {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Conflict
    }
}

/// The standard `OTEL_*` variables pointing a process named `service`, whose SDK
/// speaks `protocol`, at the stack running in `paths`.
pub async fn running_stack_env(
    paths: &StatePaths,
    service: Option<&str>,
    protocol: OtlpProtocol,
) -> Result<Vec<(String, String)>, NotRunning> {
    let not_running = || NotRunning { dir: paths.root.display().to_string() };
    let state = match control::status(&paths.socket()).await {
        Some(state) => state,
        // A supervisor that does not answer may still be starting; state.json tells.
        None => StackState::read(&paths.state_json())
            .ok()
            .flatten()
            .filter(|s| s.supervisor.is_alive())
            .ok_or_else(not_running)?,
    };
    let intake = state.endpoint(protocol.endpoint_name()).ok_or_else(not_running)?;
    Ok(otel_env(intake, protocol, service))
}
