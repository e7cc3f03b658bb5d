//! What each component of the stack *is*, one file per kind: its listeners, the files
//! it renders, its command line, its probes, what it depends on, its named endpoints,
//! its binary and how that binary is installed.
//!
//! - [`ComponentId`] names a component everywhere; nothing outside this module matches
//!   on a component's name.
//! - [`Component`] is what a kind of component says about itself; [`KINDS`] lists
//!   every kind, in start order. A new kind is one new file, one [`ComponentId`] arm
//!   and one entry in [`KINDS`].
//! - [`plan`] turns a `stack.toml` and the command line's overrides into a
//!   [`StackPlan`], asking every kind for its listeners.
//! - [`launch`] turns a plan into the files and processes the supervisor runs.
//! - [`deploy`] describes how each component runs in a Kubernetes cluster instead.

mod app;
pub mod collector;
pub mod console;
pub mod dashboards;
pub mod deploy;
pub mod grafana;
pub mod jaeger;
pub mod launch;
pub mod plan;
pub mod prometheus;
pub mod service;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use crate::health::{Probe, UiCheck};
use crate::install::{BinarySpec, SourceRecipe};
use crate::render::{RenderError, Renderer};
use crate::stack::process::Restart;
use crate::stack::{StackConfig, StatePaths};

pub use app::{APP_ATTRIBUTE, otel_env};
pub use plan::{ALL_SERVICES, Endpoint, EndpointKey, Listener, Overrides, PlanError, StackPlan, all};
pub use service::SERVICES_FILE;

/// One component of the stack. The third-party kinds exist once; demo services are
/// named in `stack.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentId {
    /// The tracing backend and UI.
    Jaeger,
    /// The OpenTelemetry Collector.
    Collector,
    /// The metrics store.
    Prometheus,
    /// Dashboards.
    Grafana,
    /// A demo microservice, by its `service.name`.
    Service(String),
    /// One of the user's own processes, by its name (and `service.name`).
    App(String),
    /// obsdemo's own page over the stack.
    Console,
}

impl ComponentId {
    /// Its name: in `--without`, `logs`, `state.json`, tables, and file names.
    pub fn name(&self) -> &str {
        match self {
            Self::Jaeger => "jaeger",
            Self::Collector => "collector",
            Self::Prometheus => "prometheus",
            Self::Grafana => "grafana",
            Self::Console => "console",
            Self::Service(name) | Self::App(name) => name,
        }
    }

    /// The name of its kind: `jaeger`, `collector`, `prometheus`, `grafana`, `service`
    /// (a demo service), `app` (one of the user's) or `console`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Jaeger => "jaeger",
            Self::Collector => "collector",
            Self::Prometheus => "prometheus",
            Self::Grafana => "grafana",
            Self::Service(_) => "service",
            Self::App(_) => "app",
            Self::Console => "console",
        }
    }

    /// What this kind of component says about itself.
    pub fn kind(&self) -> &'static dyn Component {
        match self {
            Self::Jaeger => &jaeger::Jaeger,
            Self::Collector => &collector::Collector,
            Self::Prometheus => &prometheus::Prometheus,
            Self::Grafana => &grafana::Grafana,
            Self::Service(_) => &service::DemoService,
            Self::App(_) => &app::App,
            Self::Console => &console::Console,
        }
    }

    /// The third-party components: the ones `obsdemo install` provides.
    pub fn third_party() -> Vec<ComponentId> {
        let config = StackConfig::default();
        KINDS.iter().flat_map(|k| k.instances(&config)).filter(|id| id.kind().binary(&config).is_some()).collect()
    }

    /// The third-party component called `name`, if there is one.
    pub fn third_party_named(name: &str) -> Option<ComponentId> {
        Self::third_party().into_iter().find(|id| id.name() == name)
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every kind of component, in start order.
pub const KINDS: &[&dyn Component] = &[
    &jaeger::Jaeger,
    &collector::Collector,
    &prometheus::Prometheus,
    &grafana::Grafana,
    &service::DemoService,
    &app::App,
    &console::Console,
];

/// A component's command line: arguments and extra environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// Arguments, config file paths included.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Its working directory, when not the supervisor's.
    pub workdir: Option<std::path::PathBuf>,
}

/// What one kind of component is. Methods taking an `id` answer for that instance of
/// the kind (a demo service); the third-party kinds have one instance.
pub trait Component: Sync {
    /// The components of this kind in `config`, enabled or not.
    fn instances(&self, config: &StackConfig) -> Vec<ComponentId>;

    /// Whether `id` is switched on in `config`.
    fn is_enabled(&self, config: &StackConfig, id: &ComponentId) -> bool;

    /// Switches `id` off (`--without`, or a topology without it).
    fn disable(&self, config: &mut StackConfig, id: &ComponentId);

    /// Each listener of `id`, by name, with the configuration field holding its port:
    /// the plan shifts them by the port offset in place.
    fn port_slots<'a>(&self, config: &'a mut StackConfig, id: &ComponentId) -> Vec<(String, &'a mut u16)>;

    /// The addresses `id` serves, named `<component>.<what>` so later commands look
    /// them up by name; `shown` ones are printed by `up`.
    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint>;

    /// The config files of this kind (once for all its enabled instances).
    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError>;

    /// How `id` is started, given its resolved binary.
    fn command(&self, plan: &StackPlan, paths: &StatePaths, id: &ComponentId, program: &Path) -> CommandLine;

    /// What must answer before `id` counts as ready (and healthy afterwards).
    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe>;

    /// The components that must be ready before `id` starts.
    fn depends_on(&self, plan: &StackPlan, id: &ComponentId) -> Vec<ComponentId>;

    /// How to tell whether `id` serves its web UI, for a component that has one.
    fn ui(&self, _plan: &StackPlan, _id: &ComponentId) -> Option<UiCheck> {
        None
    }

    /// Components `id` sends data to without waiting for them at start; it is stopped
    /// before them so it can flush.
    fn feeds(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        Vec::new()
    }

    /// The name of `id`'s main endpoint (`status` shows it as the component's URL).
    fn main_endpoint(&self, plan: &StackPlan, id: &ComponentId) -> String;

    /// The program of a component the user names in `stack.toml` (an app's
    /// `command[0]`), with the directory it runs in; found on `PATH` or relative to it.
    fn own_program(&self, _config: &StackConfig, _id: &ComponentId) -> Option<(String, Option<std::path::PathBuf>)> {
        None
    }

    /// Its third-party binary: names, version, an explicit path. `None` when the
    /// component is obsdemo itself.
    fn binary(&self, config: &StackConfig) -> Option<BinarySpec>;

    /// How to build it from source with Go, where that is possible.
    fn source_recipe(&self, _config: &StackConfig) -> Option<Result<SourceRecipe, RenderError>> {
        None
    }

    /// When `id` is started again after it exits.
    fn restart(&self, _plan: &StackPlan, _id: &ComponentId) -> Restart {
        Restart::default()
    }

    /// Whether the stack still makes sense without it (`up --install` leaves an
    /// optional component out when its binary cannot be had).
    fn optional(&self) -> bool {
        false
    }

    /// Work before the first start that is not a rendered file (a generated secret).
    fn prepare(&self, _plan: &StackPlan, _paths: &StatePaths) -> std::io::Result<()> {
        Ok(())
    }

    /// How `id` runs in a Kubernetes cluster, given the plan from
    /// [`deploy::cluster_plan`]: its workloads, none when it cannot run there.
    fn workloads(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<deploy::Workload> {
        Vec::new()
    }
}

/// Port slots with fixed names, as [`Component::port_slots`] returns them.
fn named<'a>(slots: impl IntoIterator<Item = (&'static str, &'a mut u16)>) -> Vec<(String, &'a mut u16)> {
    slots.into_iter().map(|(name, port)| (name.to_owned(), port)).collect()
}

/// `host:port` for a listener bound to `bind`, IPv6 in brackets.
fn host_port(bind: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(bind, port).to_string()
}
