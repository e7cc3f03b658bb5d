//! The console: obsdemo's own page over the running stack, served by a process of
//! this very binary (`obsdemo console`) that the supervisor runs like any component,
//! so it is restarted when it crashes and stopped with the stack. It reads the stack
//! as every command does (`state.json`, the control socket), and every request needs
//! the stack's token, generated at the first `up` (mode 0600).

use std::path::Path;

use super::{CommandLine, Component, ComponentId, Endpoint, EndpointKey, StackPlan, named};
use crate::health::Probe;
use crate::install::BinarySpec;
use crate::render::{RenderError, Renderer};
use crate::stack::{StackConfig, StatePaths};

/// The console.
pub struct Console;

/// Its page and API.
pub const HTTP: EndpointKey = EndpointKey::new("console", "http");

impl Component for Console {
    fn instances(&self, _config: &StackConfig) -> Vec<ComponentId> {
        vec![ComponentId::Console]
    }

    fn is_enabled(&self, config: &StackConfig, _id: &ComponentId) -> bool {
        config.console.enabled
    }

    fn disable(&self, config: &mut StackConfig, _id: &ComponentId) {
        config.console.enabled = false;
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, _id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        named([("http", &mut config.console.ports.http)])
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        // `up` prints the URL with the token itself: this one alone answers 401.
        vec![Endpoint::new(id, HTTP.key(), "console", plan.url(id, "http"))]
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "console.http".into()
    }

    fn files(&self, _plan: &StackPlan, _out: &mut Renderer<'_>) -> Result<(), RenderError> {
        Ok(())
    }

    fn command(&self, plan: &StackPlan, paths: &StatePaths, id: &ComponentId, _program: &Path) -> CommandLine {
        let listen = std::net::SocketAddr::new(plan.bind(), plan.port(id, "http"));
        CommandLine {
            args: vec![
                "console".to_owned(),
                format!("--state-dir={}", paths.root.display()),
                format!("--listen={listen}"),
            ],
            env: vec![],
            workdir: None,
        }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        vec![Probe::http(format!("{}/healthz", plan.url(id, "http")))]
    }

    fn depends_on(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        Vec::new()
    }

    fn binary(&self, _config: &StackConfig) -> Option<BinarySpec> {
        None
    }

    fn optional(&self) -> bool {
        true
    }

    fn prepare(&self, _plan: &StackPlan, paths: &StatePaths) -> std::io::Result<()> {
        paths.ensure_secret(&paths.console_token()).map(drop)
    }
}
