//! The one typed view of a running stack, read from its supervisor (or `state.json`
//! while the supervisor lives): every command that acts on a stack finds its URLs,
//! pids and endpoints here, by the typed keys the components own, never by a string
//! of its own.

use crate::components::{EndpointKey, service};
use crate::error::{ErrorKind, HasKind};
use crate::stack::{OtlpProtocol, StatePaths};
use crate::supervisor::control;
use crate::supervisor::state::StackState;

/// A stack as it runs (or last ran) in a state dir.
#[derive(Clone, Debug)]
pub struct RunningStack {
    state: StackState,
    /// Whether its supervisor answered (else the state is `state.json`'s).
    pub supervised: bool,
}

/// No stack runs in the state dir.
#[derive(Debug, thiserror::Error)]
#[error("no stack is running in {dir}; start one with `obsdemo up` (or pass --state-dir)")]
pub struct NotRunning {
    /// The state dir.
    pub dir: String,
}

impl HasKind for NotRunning {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Conflict
    }
}

impl RunningStack {
    /// The stack running in `paths`: what its supervisor answers, else `state.json`
    /// while the supervisor recorded there is alive (it may still be starting).
    pub async fn find(paths: &StatePaths) -> Result<Self, NotRunning> {
        if let Some(state) = control::status(&paths.socket()).await {
            return Ok(Self { state, supervised: true });
        }
        StackState::read(&paths.state_json())
            .ok()
            .flatten()
            .filter(|s| s.supervisor.is_alive())
            .map(|state| Self { state, supervised: false })
            .ok_or_else(|| NotRunning { dir: paths.root.display().to_string() })
    }

    /// The stack last recorded in `paths`, running or not; `None` when none ever ran.
    pub fn recorded(paths: &StatePaths) -> std::io::Result<Option<Self>> {
        Ok(StackState::read(&paths.state_json())?.map(|state| Self { state, supervised: false }))
    }

    /// The URL of a third-party component's endpoint, when the stack has it.
    pub fn endpoint(&self, key: EndpointKey) -> Option<&str> {
        self.state.endpoint(&key.name())
    }

    /// Where processes send spans over `protocol`: the Collector, or Jaeger without one.
    pub fn intake(&self, protocol: OtlpProtocol) -> Option<&str> {
        self.state.endpoint(protocol.endpoint_name())
    }

    /// The component that receives spans (`collector`, or `jaeger` without one).
    pub fn intake_owner(&self) -> Option<&str> {
        let grpc = self.intake(OtlpProtocol::Grpc)?;
        let owner =
            self.state.endpoints.iter().find(|(name, url)| *url == grpc && *name != OtlpProtocol::Grpc.endpoint_name());
        owner.and_then(|(name, _)| name.split('.').next())
    }

    /// The demo API's entry: the order service's name and base URL, when it runs.
    pub fn demo_entry(&self) -> Option<(&str, &str)> {
        let suffix = format!(".{}", service::ORDERS_KEY);
        let name = self.state.endpoints.keys().find_map(|e| e.strip_suffix(&suffix))?;
        let url = self.state.endpoint(&format!("{name}.{}", service::HTTP_KEY))?;
        Some((name, url))
    }

    /// Every component's name, disabled ones included, in start order.
    pub fn component_names(&self) -> Vec<String> {
        self.state.components.iter().map(|c| c.name.clone()).collect()
    }

    /// The whole recorded state, for what the view does not name (pids, ports).
    pub fn state(&self) -> &StackState {
        &self.state
    }
}
