//! The demo microservices: each `[[services]]` entry is one process of this very
//! binary (`obsdemo service NAME`), reading the rendered `services.json`.

use std::path::Path;

use super::deploy::{self, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, StackPlan};
use crate::health::Probe;
use crate::install::BinarySpec;
use crate::render::{RenderError, Renderer, Site};
use crate::services::config::{Peer, ServiceSpec, ServicesFile};
use crate::stack::{ServiceConfig, ServiceKind, StackConfig, StatePaths};

/// The demo services' settings, below the rendered dir.
pub const SERVICES_FILE: &str = "services.json";

/// The demo microservices.
pub struct DemoService;

/// The key of each demo service's own URL (`<name>.http`).
pub const HTTP_KEY: &str = "http";
/// The key of the demo API's entry (`<name>.orders`), which only the order service has.
pub const ORDERS_KEY: &str = "orders";

impl DemoService {
    fn config<'a>(config: &'a StackConfig, id: &ComponentId) -> Option<&'a ServiceConfig> {
        config.services.iter().find(|s| s.name == id.name())
    }
}

impl Component for DemoService {
    fn instances(&self, config: &StackConfig) -> Vec<ComponentId> {
        config.services.iter().map(|s| ComponentId::Service(s.name.clone())).collect()
    }

    fn is_enabled(&self, config: &StackConfig, id: &ComponentId) -> bool {
        Self::config(config, id).is_some_and(|s| s.enabled)
    }

    fn disable(&self, config: &mut StackConfig, id: &ComponentId) {
        config.services.iter_mut().filter(|s| s.name == id.name()).for_each(|s| s.enabled = false);
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        config.services.iter_mut().filter(|s| s.name == id.name()).map(|s| ("http".to_owned(), &mut s.port)).collect()
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        let url = plan.url(id, "http");
        let mut out = vec![Endpoint::new(id, HTTP_KEY, "demo service", url.clone())];
        if Self::config(&plan.config, id).is_some_and(|s| s.kind == ServiceKind::Order) {
            out.push(Endpoint::new(id, ORDERS_KEY, "demo API (POST /orders)", format!("{url}/orders")).shown());
        }
        out
    }

    fn main_endpoint(&self, _plan: &StackPlan, id: &ComponentId) -> String {
        format!("{id}.http")
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let Some(file) = services_file(plan, out.site) else {
            return Ok(());
        };
        let contents = serde_json::to_string_pretty(&file).map_err(|e| RenderError::Value(e.to_string()))? + "\n";
        out.add(SERVICES_FILE, contents)
    }

    fn command(&self, _plan: &StackPlan, paths: &StatePaths, id: &ComponentId, _program: &Path) -> CommandLine {
        let file = paths.rendered().join(SERVICES_FILE);
        CommandLine {
            args: vec!["service".to_owned(), id.name().to_owned(), format!("--services-file={}", file.display())],
            env: vec![],
            workdir: None,
        }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        vec![Probe::http(format!("{}/healthz", plan.url(id, "http")))]
    }

    fn depends_on(&self, plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        // Services export spans from their first request on: start them once the
        // receiver is ready.
        plan.otlp_target().into_iter().collect()
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        let paths = deploy::cluster_paths();
        let mut w = Workload::new(deploy::service_name(id), id, deploy::own_image());
        w.args = self.command(plan, &paths, id, Path::new("obsdemo")).args;
        w.ports = deploy::listeners_of(plan, id);
        w.files = vec![SERVICES_FILE.into()];
        w.env = deploy::pod_resource_env("deployment.environment.name=obsdemo");
        w.probes = self.probes(plan, id);
        // The `nonroot` user of the distroless base image (Dockerfile).
        w.user = Some(65532);
        vec![w]
    }

    fn binary(&self, _config: &StackConfig) -> Option<BinarySpec> {
        None
    }
}

/// What each enabled demo service needs at start: its address, whom it calls (as a
/// peer at `site` reaches it), where spans go. `None` when no service runs.
fn services_file(plan: &StackPlan, site: Site) -> Option<ServicesFile> {
    let kind = |k: ServiceKind| serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned));
    let services = &plan.config.services;
    let target = plan.otlp_target()?;
    let specs: Vec<ServiceSpec> = services
        .iter()
        .filter(|s| s.enabled)
        .map(|s| ServiceSpec {
            name: s.name.clone(),
            kind: kind(s.kind).unwrap_or_default(),
            listen: std::net::SocketAddr::new(plan.bind(), s.port).to_string(),
            latency_ms: s.latency.map_or(0, |d| d.get().as_millis() as u64),
            error_rate: s.error_rate,
            calls: s
                .calls
                .iter()
                .filter_map(|name| services.iter().find(|t| &t.name == name && t.enabled))
                .map(|t| Peer {
                    name: t.name.clone(),
                    kind: kind(t.kind).unwrap_or_default(),
                    url: deploy::peer_url(plan, site, &ComponentId::Service(t.name.clone()), "http"),
                })
                .collect(),
        })
        .collect();
    let otlp_endpoint = deploy::peer_url(plan, site, &target, "otlp_grpc");
    (!specs.is_empty()).then_some(ServicesFile { otlp_endpoint, services: specs })
}

/// Service names are unique, usable as file names and not taken by obsdemo; calls
/// name real services and form no cycle (one request would recurse without end);
/// error rates are shares.
pub fn validate(c: &StackConfig) -> Result<(), String> {
    validate_names(c)?;
    for s in &c.services {
        if !(0.0..=1.0).contains(&s.error_rate) {
            return Err(format!("{}: error_rate {} is not between 0.0 and 1.0", s.name, s.error_rate));
        }
        // A demo that answers after a minute only shows timeouts.
        if let Some(latency) = s.latency.filter(|l| l.get() > std::time::Duration::from_secs(60)) {
            return Err(format!("{}: latency {latency} is longer than the 60 s a demo service may take", s.name));
        }
    }
    // Calls are checked once every name is known to be sound.
    for s in &c.services {
        if let Some(unknown) = s.calls.iter().find(|call| !c.services.iter().any(|t| &t.name == *call)) {
            return Err(format!("{} calls `{unknown}`, which is not a service in stack.toml", s.name));
        }
    }
    match find_cycle(c) {
        Some(cycle) => Err(format!(
            "the calls form a cycle ({}): one request would call around it without end",
            cycle.join(" -> ")
        )),
        None => Ok(()),
    }
}

/// Names of services and apps (which share one namespace: log files, `--without`,
/// `service.name`) are unique, usable as file names and not obsdemo's own.
pub fn validate_names(c: &StackConfig) -> Result<(), String> {
    let reserved: Vec<String> = ComponentId::third_party().iter().map(|id| id.name().to_owned()).collect();
    let names: Vec<&str> =
        c.services.iter().map(|s| s.name.as_str()).chain(c.apps.iter().map(|a| a.name.as_str())).collect();
    for (i, name) in names.iter().enumerate() {
        // A name is a file name (its log) and a value in rendered configs: `.` and `..`
        // would name a directory, a leading dot a hidden file.
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
        if !valid {
            return Err(format!("name `{name}` must be letters, digits, `-`, `_` or `.`, and not start with `.`"));
        }
        if reserved.iter().any(|r| r == name) || *name == super::ALL_SERVICES || *name == "supervisor" {
            return Err(format!("name `{name}` is taken by obsdemo itself"));
        }
        if names[..i].contains(name) {
            return Err(format!("`{name}` is listed twice"));
        }
    }
    Ok(())
}

/// A cycle in the `calls` graph, as the names along it (the first repeated at the end).
fn find_cycle(c: &StackConfig) -> Option<Vec<String>> {
    // Depth-first search; `path` is the current chain of calls.
    fn visit<'a>(
        c: &'a StackConfig,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(name.to_owned());
            return Some(cycle);
        }
        if done.contains(&name) {
            return None;
        }
        path.push(name);
        let calls = c.services.iter().find(|s| s.name == name).map(|s| s.calls.as_slice()).unwrap_or_default();
        for next in calls {
            if let Some(cycle) = visit(c, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(name);
        None
    }
    let mut done = Vec::new();
    c.services.iter().find_map(|s| visit(c, &s.name, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_validated() {
        let mut config = StackConfig::default();
        config.services[0].calls.push("Billing-service".into());
        assert!(validate(&config).unwrap_err().contains("Order-service calls `Billing-service`"));
        let mut config = StackConfig::default();
        config.services[1].error_rate = 1.5;
        assert!(validate(&config).is_err());
        let mut config = StackConfig::default();
        config.services[1].name = "Order-service".into();
        assert!(validate(&config).unwrap_err().contains("twice"));
        let mut config = StackConfig::default();
        config.services[1].name = "../evil".into();
        assert!(validate(&config).is_err());
        let mut config = StackConfig::default();
        config.services[1].name = "jaeger".into();
        assert!(validate(&config).unwrap_err().contains("taken"));
    }

    #[test]
    fn a_cycle_of_calls_is_refused_naming_it() {
        let mut config = StackConfig::default();
        // Order -> Shipping -> Notification -> Order.
        config.services[4].calls.push("Order-service".into());
        let e = validate(&config).unwrap_err();
        assert!(e.contains("Order-service -> Shipping-service -> Notification-service -> Order-service"), "{e}");
        let mut config = StackConfig::default();
        config.services[1].calls.push("Payment-service".into());
        assert!(validate(&config).unwrap_err().contains("Payment-service -> Payment-service"));
        assert!(validate(&StackConfig::default()).is_ok());
    }
}
