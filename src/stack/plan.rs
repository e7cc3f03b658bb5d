//! The stack as it will run: the configuration after command-line overrides, the
//! `direct` topology and the port offset have been applied, and every listener it opens.
//!
//! [`StackPlan::new`] is the one place those decisions are made; rendering, the
//! supervisor, `status` and `down` all read ports from the plan it returns.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{JaegerFlavour, ServiceKind, StackConfig, Topology};

/// The third-party components obsdemo can run, in start order; the demo services
/// (named in `stack.toml`) start after them.
pub const COMPONENTS: [&str; 4] = ["jaeger", "collector", "prometheus", "grafana"];

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// The component that opens it.
    pub component: String,
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

/// A URL of the running stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The component serving it.
    pub component: String,
    /// What it is for.
    pub what: String,
    /// The URL.
    pub url: String,
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
    /// Two listeners were given the same port.
    #[error("{first} and {second} are both set to port {port}; give one of them another port in stack.toml", port = first.port)]
    SharedPort {
        /// The listener met first.
        first: Listener,
        /// The listener that collides with it.
        second: Listener,
    },
    /// A port is zero, or the offset pushes it past 65535.
    #[error("{component} {name}: port {port} plus offset {offset} is not a usable TCP port (1-65535)")]
    BadPort {
        /// The component.
        component: String,
        /// The listener.
        name: String,
        /// The configured port.
        port: u16,
        /// The `--port-offset`.
        offset: u16,
    },
}

/// The configuration as it will run, and its listeners.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
        validate_services(&config)?;
        for name in &overrides.without {
            match name.as_str() {
                "collector" => config.collector.enabled = false,
                "jaeger" => config.jaeger.enabled = false,
                "prometheus" => config.prometheus.enabled = false,
                "grafana" => config.grafana.enabled = false,
                ALL_SERVICES => config.services.iter_mut().for_each(|s| s.enabled = false),
                other => match config.services.iter_mut().find(|s| s.name == other) {
                    Some(service) => service.enabled = false,
                    None => {
                        let mut known: Vec<&str> = COMPONENTS.to_vec();
                        known.push(ALL_SERVICES);
                        known.extend(config.services.iter().map(|s| s.name.as_str()));
                        return Err(PlanError::UnknownComponent(other.to_owned(), known.join(", ")));
                    }
                },
            }
        }
        if config.topology == Topology::Direct {
            // The original plan: Jaeger itself owns the OTLP ports the services send to.
            config.collector.enabled = false;
            config.jaeger.ports.otlp_grpc = config.collector.ports.otlp_grpc;
            config.jaeger.ports.otlp_http = config.collector.ports.otlp_http;
        }
        let offset = overrides.port_offset;
        let mut listeners = Vec::new();
        for (component, name, port) in port_slots(&mut config) {
            let shifted = port.checked_add(offset).filter(|_| *port != 0).ok_or_else(|| PlanError::BadPort {
                component: component.clone(),
                name: name.to_owned(),
                port: *port,
                offset,
            })?;
            // Written back, so templates read the same ports the plan lists.
            *port = shifted;
            listeners.push(Listener { component, name: name.to_owned(), port: shifted });
        }
        let mut seen: BTreeMap<u16, &Listener> = BTreeMap::new();
        for l in &listeners {
            if let Some(first) = seen.insert(l.port, l) {
                return Err(PlanError::SharedPort { first: first.clone(), second: l.clone() });
            }
        }
        let state_dir = overrides.state_dir.clone().unwrap_or_else(|| config.state_dir.clone());
        let state_dir = cwd.join(state_dir);
        config.state_dir = state_dir.clone();
        Ok(Self { config, state_dir, listeners })
    }

    /// The port of `component`'s listener `name`. Panics on a name the plan does not
    /// have: names are fixed in this file, so a miss is a bug, not an input error.
    pub fn port(&self, component: &str, name: &str) -> u16 {
        self.listeners
            .iter()
            .find(|l| l.component == component && l.name == name)
            .map(|l| l.port)
            .unwrap_or_else(|| panic!("the plan has no listener {component}.{name}"))
    }

    /// The addresses a user or a service connects to, for `up`'s table.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let host = self.host();
        let mut out = Vec::new();
        let mut add = |component: &str, what: &str, url: String| {
            out.push(Endpoint { component: component.into(), what: what.into(), url });
        };
        if self.is_enabled("jaeger") {
            add("jaeger", "UI and query API", format!("http://{host}:{}", self.port("jaeger", "ui")));
        }
        if self.is_enabled("prometheus") {
            add("prometheus", "UI and API", format!("http://{host}:{}", self.port("prometheus", "http")));
        }
        if self.is_enabled("grafana") {
            add("grafana", "dashboards", format!("http://{host}:{}", self.port("grafana", "http")));
        }
        let otlp = if self.is_enabled("collector") { "collector" } else { "jaeger" };
        if self.is_enabled(otlp) {
            add(otlp, "OTLP gRPC (send spans here)", format!("http://{host}:{}", self.port(otlp, "otlp_grpc")));
            add(otlp, "OTLP HTTP", format!("http://{host}:{}", self.port(otlp, "otlp_http")));
        }
        for s in self.config.services.iter().filter(|s| s.enabled && s.kind == ServiceKind::Order) {
            add(&s.name, "demo API (POST /orders)", format!("http://{host}:{}/orders", s.port));
        }
        if self.is_enabled("collector") {
            add(
                "collector",
                "host metrics (Prometheus format)",
                format!("http://{host}:{}/metrics", self.port("collector", "prometheus_exporter")),
            );
        }
        out
    }

    /// Every component, enabled or not, in start order: the third-party ones, then
    /// the demo services.
    pub fn components(&self) -> Vec<String> {
        let services = self.config.services.iter().map(|s| s.name.clone());
        COMPONENTS.iter().map(|c| c.to_string()).chain(services).collect()
    }

    /// The enabled components, in start order.
    pub fn enabled(&self) -> Vec<String> {
        self.components().into_iter().filter(|c| self.is_enabled(c)).collect()
    }

    /// Whether `component` runs in this plan.
    pub fn is_enabled(&self, component: &str) -> bool {
        let c = &self.config;
        match component {
            "collector" => c.collector.enabled,
            "jaeger" => c.jaeger.enabled,
            "prometheus" => c.prometheus.enabled,
            "grafana" => c.grafana.enabled,
            service => c.services.iter().any(|s| s.name == service && s.enabled),
        }
    }

    /// Whether `component` is a demo service.
    pub fn is_service(&self, component: &str) -> bool {
        self.config.services.iter().any(|s| s.name == component)
    }

    /// Where the services send spans: the Collector, or Jaeger in the `direct` topology.
    pub fn otlp_target(&self) -> &'static str {
        if self.config.collector.enabled { "collector" } else { "jaeger" }
    }

    /// The address every listener binds to.
    pub fn bind(&self) -> IpAddr {
        self.config.bind
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

/// Every listener of every enabled component, as (component, listener name, the port
/// field in the configuration): the one place that knows which fields are ports.
fn port_slots(c: &mut StackConfig) -> Vec<(String, &'static str, &mut u16)> {
    let mut out: Vec<(String, &'static str, &mut u16)> = Vec::new();
    if c.jaeger.enabled {
        let p = &mut c.jaeger.ports;
        let mut slots = vec![
            ("ui", &mut p.ui),
            ("query_grpc", &mut p.query_grpc),
            ("otlp_grpc", &mut p.otlp_grpc),
            ("otlp_http", &mut p.otlp_http),
            ("zipkin", &mut p.zipkin),
            ("grpc", &mut p.grpc),
            ("collector_http", &mut p.collector_http),
        ];
        match c.jaeger.flavour {
            JaegerFlavour::V1 => slots.push(("admin", &mut p.admin)),
            JaegerFlavour::V2 => slots.extend([("health", &mut p.health), ("metrics", &mut p.metrics)]),
        }
        out.extend(slots.into_iter().map(|(name, port)| ("jaeger".to_owned(), name, port)));
    }
    if c.collector.enabled {
        let p = &mut c.collector.ports;
        let slots = [
            ("otlp_grpc", &mut p.otlp_grpc),
            ("otlp_http", &mut p.otlp_http),
            ("prometheus_exporter", &mut p.prometheus_exporter),
            ("metrics", &mut p.metrics),
            ("health", &mut p.health),
        ];
        out.extend(slots.into_iter().map(|(name, port)| ("collector".to_owned(), name, port)));
    }
    if c.prometheus.enabled {
        out.push(("prometheus".to_owned(), "http", &mut c.prometheus.ports.http));
    }
    if c.grafana.enabled {
        out.push(("grafana".to_owned(), "http", &mut c.grafana.ports.http));
    }
    for s in c.services.iter_mut().filter(|s| s.enabled) {
        out.push((s.name.clone(), "http", &mut s.port));
    }
    out
}

/// Service names are unique and usable as file names; calls name real services;
/// error rates are shares.
fn validate_services(c: &StackConfig) -> Result<(), PlanError> {
    let bad = |m: String| Err(PlanError::BadService(m));
    for (i, s) in c.services.iter().enumerate() {
        let valid = !s.name.is_empty() && s.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
        if !valid {
            return bad(format!("name `{}` must be letters, digits, `-`, `_` or `.`", s.name));
        }
        if COMPONENTS.contains(&s.name.as_str()) || s.name == ALL_SERVICES || s.name == "supervisor" {
            return bad(format!("name `{}` is taken by obsdemo itself", s.name));
        }
        if c.services[..i].iter().any(|other| other.name == s.name) {
            return bad(format!("`{}` is listed twice", s.name));
        }
        if !(0.0..=1.0).contains(&s.error_rate) {
            return bad(format!("{}: error_rate {} is not between 0.0 and 1.0", s.name, s.error_rate));
        }
    }
    // Calls are checked once every name is known to be sound.
    for s in &c.services {
        if let Some(unknown) = s.calls.iter().find(|call| !c.services.iter().any(|t| &t.name == *call)) {
            return bad(format!("{} calls `{unknown}`, which is not a service in stack.toml", s.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(config: StackConfig, overrides: Overrides) -> Result<StackPlan, PlanError> {
        StackPlan::new(config, &overrides, Path::new("/w"))
    }

    #[test]
    fn default_plan_matches_the_design_port_table() {
        let p = plan(StackConfig::default(), Overrides::default()).unwrap();
        let ports: Vec<_> = p.listeners.iter().map(|l| (l.component.as_str(), l.name.as_str(), l.port)).collect();
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
            ]
        );
        assert_eq!(p.state_dir, Path::new("/w/.obsdemo"));
    }

    #[test]
    fn offset_shifts_every_port_and_the_config() {
        let p = plan(StackConfig::default(), Overrides { port_offset: 100, ..Default::default() }).unwrap();
        assert_eq!(p.port("collector", "otlp_grpc"), 4417);
        assert_eq!(p.config.collector.ports.otlp_grpc, 4417);
        assert_eq!(p.config.jaeger.ports.ui, 16786);
        assert!(plan(StackConfig::default(), Overrides { port_offset: 60000, ..Default::default() }).is_err());
    }

    #[test]
    fn direct_topology_gives_jaeger_the_original_otlp_ports() {
        let config = StackConfig { topology: Topology::Direct, ..Default::default() };
        let p = plan(config, Overrides::default()).unwrap();
        assert!(!p.is_enabled("collector"));
        assert_eq!(p.port("jaeger", "otlp_grpc"), 4317);
        assert_eq!(p.port("jaeger", "otlp_http"), 4318);
        assert!(p.listeners.iter().all(|l| l.component != "collector"));
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
        config.jaeger.flavour = JaegerFlavour::V1;
        let p = plan(config, Overrides::default()).unwrap();
        assert_eq!(p.port("jaeger", "admin"), 14269);
        assert!(!p.listeners.iter().any(|l| l.name == "health" && l.component == "jaeger"));
    }

    #[test]
    fn without_disables_and_rejects_unknown_names() {
        let o = Overrides { without: vec!["grafana".into(), "services".into()], ..Default::default() };
        let p = plan(StackConfig::default(), o).unwrap();
        assert_eq!(p.enabled(), vec!["jaeger", "collector", "prometheus"]);
        let o = Overrides { without: vec!["Payment-service".into()], ..Default::default() };
        let p = plan(StackConfig::default(), o).unwrap();
        assert!(!p.is_enabled("Payment-service") && p.is_enabled("Order-service"));
        let o = Overrides { without: vec!["grafna".into()], ..Default::default() };
        let e = plan(StackConfig::default(), o).unwrap_err().to_string();
        assert!(e.contains("Notification-service"), "lists the services too: {e}");
    }

    #[test]
    fn services_are_validated() {
        let mut config = StackConfig::default();
        config.services[0].calls.push("Billing-service".into());
        let e = plan(config, Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("Order-service calls `Billing-service`"), "{e}");
        let mut config = StackConfig::default();
        config.services[1].error_rate = 1.5;
        assert!(plan(config, Overrides::default()).is_err());
        let mut config = StackConfig::default();
        config.services[1].name = "Order-service".into();
        assert!(plan(config, Overrides::default()).unwrap_err().to_string().contains("twice"));
        let mut config = StackConfig::default();
        config.services[1].name = "../evil".into();
        assert!(plan(config, Overrides::default()).is_err());
    }
}
