//! The stack as it will run: the configuration after command-line overrides, the
//! `direct` topology and the port offset have been applied, every listener it opens,
//! and every endpoint it serves, by name.
//!
//! [`StackPlan::new`] is the one place those decisions are made; rendering, the
//! launch file, `status` and `down` all read ports from the plan it returns.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ComponentId, KINDS, service};

use crate::stack::{StackConfig, Topology};

/// `--without services` leaves out every demo service.
pub const ALL_SERVICES: &str = "services";

/// Changes asked for on the command line, applied on top of `stack.toml`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Components not to run this time (`--without`).
    pub without: Vec<String>,
    /// Added to every port (`--port-offset`), so a second stack can run beside the first.
    pub port_offset: u16,
    /// A state dir other than the configured one (`--state-dir`).
    pub state_dir: Option<PathBuf>,
}

/// One TCP listener of the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// The component that opens it.
    pub component: ComponentId,
    /// What it is for (`otlp_grpc`, `ui`, ...), as named in `stack.toml`.
    pub name: String,
    /// The TCP port.
    pub port: u16,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {} ({} {})", self.port, self.component, self.name)
    }
}

impl Serialize for ComponentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The name of one recorded endpoint of a third-party component (`jaeger.query`),
/// as a typed value: each component file owns the keys of its endpoints, and every
/// other module names an endpoint only through them, so a rename cannot compile and
/// then fail at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointKey {
    component: &'static str,
    key: &'static str,
}

impl EndpointKey {
    /// The endpoint `key` of the component named `component`.
    pub const fn new(component: &'static str, key: &'static str) -> Self {
        Self { component, key }
    }

    /// Its key within its component (`query`).
    pub const fn key(self) -> &'static str {
        self.key
    }

    /// Its recorded name (`jaeger.query`).
    pub fn name(self) -> String {
        format!("{}.{}", self.component, self.key)
    }
}

/// A named address of the running stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// `<component>.<what>`, e.g. `jaeger.query`: how later commands find it.
    pub name: String,
    /// The component serving it.
    pub component: ComponentId,
    /// What it is for, for people.
    pub what: String,
    /// The URL (or `host:port`).
    pub url: String,
    /// Whether `up` lists it in its table of URLs.
    #[serde(skip)]
    pub shown: bool,
}

impl Endpoint {
    /// An endpoint of `component` called `<component>.<key>`.
    pub fn new(component: &ComponentId, key: &str, what: &str, url: String) -> Self {
        Self { name: format!("{component}.{key}"), component: component.clone(), what: what.into(), url, shown: false }
    }

    /// The same endpoint, listed in `up`'s table.
    pub fn shown(mut self) -> Self {
        self.shown = true;
        self
    }
}

/// A plan that cannot run as written.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `--without` named something that is not a component.
    #[error("`{0}` is not a component; the components are: {1}")]
    UnknownComponent(String, String),
    /// A `[[services]]` entry is inconsistent.
    #[error("services: {0}")]
    BadService(String),
    /// An `[[apps]]` entry is inconsistent.
    #[error("apps: {0}")]
    BadApp(String),
    /// Grafana would let anyone on the network in without logging in.
    #[error(
        "grafana.anonymous = true with bind = {bind} lets anyone on the network see the dashboards without logging \
         in; set grafana.anonymous_on_network = true in stack.toml to confirm, or bind to 127.0.0.1"
    )]
    AnonymousOnNetwork {
        /// The bind address.
        bind: IpAddr,
    },
    /// Services would run with nothing to receive their spans.
    #[error(
        "the demo services send spans to the Collector or, without it, to Jaeger, but both are left out; \
         keep one of them, or leave the services out too (`--without services`)"
    )]
    NoSpanReceiver,
    /// Two listeners were given the same port.
    #[error("{first} and {second} are both set to port {port}; give one of them another port in stack.toml", port = first.port)]
    SharedPort {
        /// The listener met first.
        first: Box<Listener>,
        /// The listener that collides with it.
        second: Box<Listener>,
    },
    /// The state dir's path holds characters a rendered config cannot carry.
    #[error("state_dir `{}` {why}; choose a plainer path", path.display())]
    BadStateDir {
        /// The absolute state dir.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A port is zero, or the offset pushes it past 65535.
    #[error("{component} {name}: port {port} plus offset {offset} is not a usable TCP port (1-65535)")]
    BadPort {
        /// The component.
        component: ComponentId,
        /// The listener.
        name: String,
        /// The configured port.
        port: u16,
        /// The `--port-offset`.
        offset: u16,
    },
}

/// Refuses a state dir that a rendered config could not name exactly. YAML and JSON
/// quote every path, but a control character would still break a log line, and
/// Grafana's INI reads `#` and `;` as the start of a comment and `$__file{..}`,
/// `$__env{..}` and `${..}` as expansions (gopkg.in/ini.v1 `README.md`, "Working with
/// comments"; grafana/grafana `pkg/setting/expanders.go`).
fn check_state_dir(path: &Path, grafana: bool) -> Result<(), PlanError> {
    let text = path.to_string_lossy();
    let bad = |why| Err(PlanError::BadStateDir { path: path.to_owned(), why });
    if text.chars().any(char::is_control) {
        return bad("holds a control character (a newline, a tab, an escape)");
    }
    if grafana && text.contains(['#', ';', '$', '{', '}', '`', '"']) {
        return bad("holds one of # ; $ { } ` \" which Grafana's config file would read as syntax");
    }
    Ok(())
}

/// The configuration as it will run, and its listeners.
#[derive(Clone, Debug)]
pub struct StackPlan {
    /// Effective configuration: overrides, topology and offset applied.
    pub config: StackConfig,
    /// Absolute state dir.
    pub state_dir: PathBuf,
    /// Every listener of every enabled component.
    pub listeners: Vec<Listener>,
}

impl StackPlan {
    /// Applies `overrides` to `config` and checks that the listeners can coexist.
    ///
    /// `cwd` anchors a relative state dir, so the supervisor (which runs elsewhere)
    /// and later commands agree on it.
    pub fn new(mut config: StackConfig, overrides: &Overrides, cwd: &Path) -> Result<Self, PlanError> {
        service::validate(&config).map_err(PlanError::BadService)?;
        super::app::validate(&config).map_err(PlanError::BadApp)?;
        let all = all(&config);
        for name in &overrides.without {
            let chosen: Vec<&ComponentId> = if name == ALL_SERVICES {
                all.iter().filter(|id| matches!(id, ComponentId::Service(_))).collect()
            } else {
                all.iter().filter(|id| id.name() == name).collect()
            };
            if chosen.is_empty() {
                let mut known: Vec<&str> = all.iter().map(ComponentId::name).collect();
                known.insert(ComponentId::third_party().len().min(known.len()), ALL_SERVICES);
                return Err(PlanError::UnknownComponent(name.clone(), known.join(", ")));
            }
            for id in chosen {
                id.kind().disable(&mut config, id);
            }
        }
        if config.topology == Topology::Direct {
            // The original plan: Jaeger itself owns the OTLP ports the services send to.
            ComponentId::Collector.kind().disable(&mut config, &ComponentId::Collector);
            config.jaeger.ports.otlp_grpc = config.collector.ports.otlp_grpc;
            config.jaeger.ports.otlp_http = config.collector.ports.otlp_http;
        }
        let offset = overrides.port_offset;
        let mut listeners = Vec::new();
        for id in all {
            let kind = id.kind();
            if !kind.is_enabled(&config, &id) {
                continue;
            }
            for (name, port) in kind.port_slots(&mut config, &id) {
                let shifted = port.checked_add(offset).filter(|_| *port != 0).ok_or_else(|| PlanError::BadPort {
                    component: id.clone(),
                    name: name.clone(),
                    port: *port,
                    offset,
                })?;
                // Written back, so templates read the same ports the plan lists.
                *port = shifted;
                listeners.push(Listener { component: id.clone(), name, port: shifted });
            }
        }
        let mut seen: BTreeMap<u16, &Listener> = BTreeMap::new();
        for l in &listeners {
            if let Some(first) = seen.insert(l.port, l) {
                return Err(PlanError::SharedPort { first: Box::new(first.clone()), second: Box::new(l.clone()) });
            }
        }
        let state_dir = overrides.state_dir.clone().unwrap_or_else(|| config.state_dir.clone());
        let state_dir = cwd.join(state_dir);
        config.state_dir = state_dir.clone();
        check_state_dir(&state_dir, config.grafana.enabled)?;
        let g = &config.grafana;
        if g.enabled && g.anonymous && !config.bind.is_loopback() && !g.anonymous_on_network {
            return Err(PlanError::AnonymousOnNetwork { bind: config.bind });
        }
        let plan = Self { config, state_dir, listeners };
        let services_run = plan.enabled().iter().any(|id| matches!(id, ComponentId::Service(_) | ComponentId::App(_)));
        if services_run && plan.otlp_target().is_none() {
            return Err(PlanError::NoSpanReceiver);
        }
        Ok(plan)
    }

    /// The port of `component`'s listener `name`, when the plan has it.
    pub fn try_port(&self, component: &ComponentId, name: &str) -> Option<u16> {
        self.listeners.iter().find(|l| &l.component == component && l.name == name).map(|l| l.port)
    }

    /// The port of `component`'s listener `name`. Panics on a listener the plan does
    /// not have: callers ask only for listeners of enabled components, named in this
    /// module, so a miss is a bug, not an input error.
    pub fn port(&self, component: &ComponentId, name: &str) -> u16 {
        self.try_port(component, name).unwrap_or_else(|| panic!("the plan has no listener {component}.{name}"))
    }

    /// `http://host:port` of `component`'s listener `name`.
    pub fn url(&self, component: &ComponentId, name: &str) -> String {
        format!("http://{}:{}", self.host(), self.port(component, name))
    }

    /// Every named endpoint of the enabled components, in start order.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.enabled().iter().flat_map(|id| id.kind().endpoints(self, id)).collect()
    }

    /// Every component, enabled or not, in start order: the third-party ones, then
    /// the demo services.
    pub fn components(&self) -> Vec<ComponentId> {
        all(&self.config)
    }

    /// The enabled components, in start order.
    pub fn enabled(&self) -> Vec<ComponentId> {
        self.components().into_iter().filter(|id| self.is_enabled(id)).collect()
    }

    /// Whether `component` runs in this plan.
    pub fn is_enabled(&self, component: &ComponentId) -> bool {
        component.kind().is_enabled(&self.config, component)
    }

    /// The component called `name`, enabled or not.
    pub fn find(&self, name: &str) -> Option<ComponentId> {
        self.components().into_iter().find(|id| id.name() == name)
    }

    /// Where the services send spans: the Collector, or Jaeger without one.
    pub fn otlp_target(&self) -> Option<ComponentId> {
        [ComponentId::Collector, ComponentId::Jaeger].into_iter().find(|id| self.is_enabled(id))
    }

    /// Whether the stack makes RED metrics: asked for (`[metrics] red`), and the
    /// Collector (whose traces pipeline makes them from the spans it sends Jaeger),
    /// Jaeger and Prometheus (which keeps them) all run. Every config that takes part
    /// (the Collector's pipeline, Prometheus's scrape, Jaeger's Monitor tab) asks here.
    pub fn makes_red(&self) -> bool {
        self.config.metrics.red
            && [ComponentId::Collector, ComponentId::Jaeger, ComponentId::Prometheus]
                .iter()
                .all(|id| self.is_enabled(id))
    }

    /// The address every listener binds to.
    pub fn bind(&self) -> IpAddr {
        self.config.bind
    }

    /// What becomes reachable from the network, when the bind address is not loopback:
    /// every listener, as `port (component what)`. Empty on loopback.
    pub fn exposed(&self) -> Vec<String> {
        if self.bind().is_loopback() {
            return Vec::new();
        }
        self.listeners.iter().map(|l| l.to_string()).collect()
    }

    /// The host to put in URLs: the bind address, or loopback when bound to all.
    pub fn host(&self) -> String {
        match self.config.bind {
            ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    }
}

/// Every component `config` lists, enabled or not, in start order.
pub fn all(config: &StackConfig) -> Vec<ComponentId> {
    KINDS.iter().flat_map(|k| k.instances(config)).collect()
}

impl crate::error::HasKind for PlanError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::InvalidInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(config: StackConfig, overrides: Overrides) -> Result<StackPlan, PlanError> {
        StackPlan::new(config, &overrides, Path::new("/w"))
    }

    fn service(name: &str) -> ComponentId {
        ComponentId::Service(name.into())
    }

    #[test]
    fn default_plan_matches_the_design_port_table() {
        let p = plan(StackConfig::default(), Overrides::default()).unwrap();
        let ports: Vec<_> = p.listeners.iter().map(|l| (l.component.name(), l.name.as_str(), l.port)).collect();
        assert_eq!(
            ports,
            vec![
                ("jaeger", "ui", 16686),
                ("jaeger", "query_grpc", 16685),
                ("jaeger", "otlp_grpc", 14317),
                ("jaeger", "otlp_http", 14318),
                ("jaeger", "zipkin", 9411),
                ("jaeger", "grpc", 14250),
                ("jaeger", "collector_http", 14271),
                ("jaeger", "health", 13134),
                ("jaeger", "metrics", 8887),
                ("collector", "otlp_grpc", 4317),
                ("collector", "otlp_http", 4318),
                ("collector", "prometheus_exporter", 8889),
                ("collector", "metrics", 8888),
                ("collector", "health", 13133),
                ("prometheus", "http", 9090),
                ("grafana", "http", 3000),
                ("Order-service", "http", 8001),
                ("Payment-service", "http", 8002),
                ("Inventory-service", "http", 8003),
                ("Shipping-service", "http", 8004),
                ("Notification-service", "http", 8005),
                ("console", "http", 16600),
            ]
        );
        assert_eq!(p.state_dir, Path::new("/w/.obsdemo"));
    }

    #[test]
    fn offset_shifts_every_port_and_the_config() {
        let p = plan(StackConfig::default(), Overrides { port_offset: 100, ..Default::default() }).unwrap();
        assert_eq!(p.port(&ComponentId::Collector, "otlp_grpc"), 4417);
        assert_eq!(p.config.collector.ports.otlp_grpc, 4417);
        assert_eq!(p.config.jaeger.ports.ui, 16786);
        assert!(plan(StackConfig::default(), Overrides { port_offset: 60000, ..Default::default() }).is_err());
    }

    #[test]
    fn direct_topology_gives_jaeger_the_original_otlp_ports() {
        let config = StackConfig { topology: Topology::Direct, ..Default::default() };
        let p = plan(config, Overrides::default()).unwrap();
        assert!(!p.is_enabled(&ComponentId::Collector));
        assert_eq!(p.port(&ComponentId::Jaeger, "otlp_grpc"), 4317);
        assert_eq!(p.port(&ComponentId::Jaeger, "otlp_http"), 4318);
        assert!(p.listeners.iter().all(|l| l.component != ComponentId::Collector));
    }

    #[test]
    fn shared_port_is_refused_naming_both_listeners() {
        let mut config = StackConfig::default();
        config.prometheus.ports.http = 16686;
        let e = plan(config, Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("port 16686 (jaeger ui)") && e.contains("port 16686 (prometheus http)"), "{e}");
    }

    #[test]
    fn v1_has_an_admin_port_and_no_v2_health_port() {
        let mut config = StackConfig::default();
        config.jaeger.flavour = crate::stack::JaegerFlavour::V1;
        let p = plan(config, Overrides::default()).unwrap();
        assert_eq!(p.port(&ComponentId::Jaeger, "admin"), 14269);
        assert!(!p.listeners.iter().any(|l| l.name == "health" && l.component == ComponentId::Jaeger));
    }

    #[test]
    fn without_disables_and_rejects_unknown_names() {
        let o = Overrides { without: vec!["grafana".into(), "services".into()], ..Default::default() };
        let p = plan(StackConfig::default(), o).unwrap();
        assert_eq!(
            p.enabled(),
            vec![ComponentId::Jaeger, ComponentId::Collector, ComponentId::Prometheus, ComponentId::Console]
        );
        let o = Overrides { without: vec!["Payment-service".into()], ..Default::default() };
        let p = plan(StackConfig::default(), o).unwrap();
        assert!(!p.is_enabled(&service("Payment-service")) && p.is_enabled(&service("Order-service")));
        let o = Overrides { without: vec!["grafna".into()], ..Default::default() };
        let e = plan(StackConfig::default(), o).unwrap_err().to_string();
        assert!(e.contains("Notification-service") && e.contains("services"), "lists the services too: {e}");
    }

    #[test]
    fn services_without_a_span_receiver_are_refused_not_a_panic() {
        let o = Overrides { without: vec!["jaeger".into(), "collector".into()], ..Default::default() };
        let e = plan(StackConfig::default(), o).unwrap_err();
        assert!(matches!(e, PlanError::NoSpanReceiver), "{e}");
        let o =
            Overrides { without: vec!["jaeger".into(), "collector".into(), "services".into()], ..Default::default() };
        assert!(plan(StackConfig::default(), o).is_ok(), "nothing sends spans, so nothing needs a receiver");
    }

    #[test]
    fn a_bind_off_loopback_is_said_and_anonymous_grafana_needs_confirming() {
        let mut config = StackConfig { bind: IpAddr::from([0, 0, 0, 0]), ..Default::default() };
        let p = plan(config.clone(), Overrides::default()).unwrap();
        assert!(p.exposed().iter().any(|l| l == "port 3000 (grafana http)"), "{:?}", p.exposed());
        assert!(plan(StackConfig::default(), Overrides::default()).unwrap().exposed().is_empty());
        config.grafana.anonymous = true;
        let e = plan(config.clone(), Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("anonymous_on_network"), "{e}");
        config.grafana.anonymous_on_network = true;
        assert!(plan(config, Overrides::default()).is_ok());
    }

    #[test]
    fn endpoints_are_named() {
        let p = plan(StackConfig::default(), Overrides::default()).unwrap();
        let names: Vec<String> = p.endpoints().into_iter().map(|e| e.name).collect();
        for expected in ["jaeger.ui", "jaeger.query", "collector.otlp_grpc", "prometheus.http", "Order-service.http"] {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
    }
}
