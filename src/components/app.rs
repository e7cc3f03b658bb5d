//! The user's own processes (`[[apps]]`): a Django service, say. Each is supervised
//! like every component (own process group, log file, restarts, `status`, `down`)
//! and started with the standard OpenTelemetry variables that point it at the stack.

use std::path::Path;

use super::deploy::{self, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, StackPlan};
use crate::health::Probe;
use crate::install::BinarySpec;
use crate::render::{RenderError, Renderer, Site};
use crate::stack::process::Restart;
use crate::stack::{AppConfig, OtlpProtocol, StackConfig, StatePaths};

/// The user's own processes.
pub struct App;

impl App {
    fn config<'a>(config: &'a StackConfig, id: &ComponentId) -> Option<&'a AppConfig> {
        config.apps.iter().find(|a| a.name == id.name())
    }

    /// The app `id` of `plan`; the plan holds every app it names.
    fn of<'a>(plan: &'a StackPlan, id: &ComponentId) -> &'a AppConfig {
        Self::config(&plan.config, id).expect("the plan holds every app it lists")
    }

    /// Its command line, program first, and environment, as it runs at `site`: the
    /// standard OpenTelemetry variables pointing at the intake its SDK speaks, its own
    /// `env` (which wins), and `PORT`.
    fn command_at(plan: &StackPlan, app: &AppConfig, site: Site) -> (Vec<String>, Vec<(String, String)>) {
        let id = ComponentId::App(app.name.clone());
        let expand = |text: &str| expand(text, plan, app, site);
        let protocol = app.protocol();
        let intake = plan.otlp_target().map(|target| deploy::peer_url(plan, site, &target, protocol.port_name()));
        let mut env: Vec<(String, String)> = match intake {
            Some(url) => otel_env(&url, protocol, Some(&app.name)),
            None => Vec::new(),
        };
        // The app's own settings win, the standard variables included; its resource
        // attributes keep the one that tells its spans apart whatever it names itself.
        env.retain(|(k, _)| !app.env.contains_key(k));
        env.extend(app.env.iter().map(|(k, v)| {
            let v = expand(v);
            match k.as_str() {
                RESOURCE_ATTRIBUTES if !v.contains(&format!("{APP_ATTRIBUTE}=")) => {
                    let joined = if v.trim().is_empty() { String::new() } else { format!("{v},") };
                    (k.clone(), format!("{joined}{APP_ATTRIBUTE}={}", app.name))
                }
                _ => (k.clone(), v),
            }
        }));
        // The convention many frameworks read; its first port.
        if let Some(port) = app.ports.keys().next().and_then(|name| plan.try_port(&id, name)) {
            env.push(("PORT".into(), port.to_string()));
        }
        (app.command.iter().map(|a| expand(a)).collect(), env)
    }
}

/// The variable holding a process's resource attributes.
const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// The resource attribute obsdemo gives an app's processes (`obsdemo.app=NAME`), so
/// its spans are known as its own whatever `service.name` it sets itself.
pub const APP_ATTRIBUTE: &str = "obsdemo.app";

/// The standard OpenTelemetry SDK variables that point a process at a stack whose
/// intake for `protocol` is `intake` (`http://127.0.0.1:4317` for gRPC,
/// `http://127.0.0.1:4318` for HTTP), as `service` of the app of that name.
///
/// Traces only: the stack's Collector takes host metrics from its own receiver, so
/// an SDK's metrics and logs exporters would only log refused exports.
pub fn otel_env(intake: &str, protocol: OtlpProtocol, service: Option<&str>) -> Vec<(String, String)> {
    let mut attributes = "deployment.environment.name=obsdemo".to_owned();
    if let Some(name) = service {
        attributes.push_str(&format!(",{APP_ATTRIBUTE}={name}"));
    }
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", intake.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.sdk_setting().to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        (RESOURCE_ATTRIBUTES, attributes),
    ];
    if let Some(name) = service {
        env.insert(0, ("OTEL_SERVICE_NAME", name.to_owned()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl Component for App {
    fn instances(&self, config: &StackConfig) -> Vec<ComponentId> {
        config.apps.iter().map(|a| ComponentId::App(a.name.clone())).collect()
    }

    fn is_enabled(&self, config: &StackConfig, id: &ComponentId) -> bool {
        Self::config(config, id).is_some_and(|a| a.enabled)
    }

    fn disable(&self, config: &mut StackConfig, id: &ComponentId) {
        config.apps.iter_mut().filter(|a| a.name == id.name()).for_each(|a| a.enabled = false);
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        let app = config.apps.iter_mut().find(|a| a.name == id.name());
        app.into_iter().flat_map(|a| a.ports.iter_mut().map(|(name, port)| (name.clone(), port))).collect()
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        let app = Self::of(plan, id);
        app.ports
            .keys()
            .enumerate()
            .map(|(i, port)| {
                let endpoint = Endpoint::new(id, port, &format!("your app ({port})"), plan.url(id, port));
                if i == 0 { endpoint.shown() } else { endpoint }
            })
            .collect()
    }

    fn main_endpoint(&self, plan: &StackPlan, id: &ComponentId) -> String {
        // Its first port; an app without ports has no URL (no endpoint has this name).
        format!("{id}.{}", Self::of(plan, id).ports.keys().next().map_or("", String::as_str))
    }

    fn files(&self, _plan: &StackPlan, _out: &mut Renderer<'_>) -> Result<(), RenderError> {
        Ok(())
    }

    fn command(&self, plan: &StackPlan, _paths: &StatePaths, id: &ComponentId, _program: &Path) -> CommandLine {
        let app = Self::of(plan, id);
        let (args, env) = Self::command_at(plan, app, Site::Local);
        CommandLine { args: args.into_iter().skip(1).collect(), env, workdir: app.workdir.clone() }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        let app = Self::of(plan, id);
        let Some(health) = &app.health else {
            return Vec::new();
        };
        let first = app.ports.keys().next().cloned().unwrap_or_default();
        match (&health.http, &health.tcp) {
            (Some(path), _) => {
                let port = health.port.clone().unwrap_or(first);
                vec![Probe::http(format!("{}{path}", plan.url(id, &port)))]
            }
            (None, Some(port)) => vec![Probe::Tcp { addr: format!("{}:{}", plan.host(), plan.port(id, port)) }],
            (None, None) => Vec::new(),
        }
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        let app = Self::of(plan, id);
        let Some(image) = &app.image else {
            return Vec::new();
        };
        let (command, mut env) = Self::command_at(plan, app, Site::Cluster);
        let mut w = Workload::new(deploy::service_name(id), id, image.clone());
        // The same command as on this machine, inside the app's own image.
        w.command = command;
        // Its resource attributes (obsdemo's or its own) gain the pod's name and place.
        let attributes = env.iter().position(|(k, _)| k == "OTEL_RESOURCE_ATTRIBUTES").map(|i| env.remove(i).1);
        w.env = deploy::pod_resource_env(attributes.as_deref().unwrap_or_default());
        w.env.extend(deploy::Env::values(env));
        w.ports = deploy::listeners_of(plan, id);
        w.probes = self.probes(plan, id);
        // An app's framework may write beside its code (bytecode caches, uploads).
        w.read_only_root = false;
        vec![w]
    }

    fn depends_on(&self, plan: &StackPlan, id: &ComponentId) -> Vec<ComponentId> {
        let app = Self::of(plan, id);
        let named = app.depends_on.iter().filter_map(|name| plan.find(name)).filter(|d| plan.is_enabled(d));
        plan.otlp_target().into_iter().chain(named).collect()
    }

    fn restart(&self, plan: &StackPlan, id: &ComponentId) -> Restart {
        let app = Self::of(plan, id);
        Restart { mode: app.restart, max: app.max_restarts }
    }

    fn binary(&self, _config: &StackConfig) -> Option<BinarySpec> {
        None
    }

    fn own_program(&self, config: &StackConfig, id: &ComponentId) -> Option<(String, Option<std::path::PathBuf>)> {
        Self::config(config, id).map(|a| (a.command.first().cloned().unwrap_or_default(), a.workdir.clone()))
    }
}

/// `text` with `{host}`, `{port.NAME}` (this app's) and `{app.OTHER.port.NAME}`
/// replaced by the plan's values at `site`. In a cluster every app has its own
/// address: `{host}:{app.OTHER.port.NAME}` becomes OTHER's Service and port, and any
/// other `{host}` the pod's every interface (it is a listen address there).
fn expand(text: &str, plan: &StackPlan, app: &AppConfig, site: Site) -> String {
    let mut out = text.to_owned();
    if site == Site::Cluster {
        for other in &plan.config.apps {
            let id = ComponentId::App(other.name.clone());
            out = out.replace(
                &format!("{{host}}:{{app.{}.", other.name),
                &format!("{}:{{app.{}.", deploy::service_name(&id), other.name),
            );
        }
    }
    let host = match site {
        Site::Local => plan.host(),
        Site::Cluster => std::net::Ipv4Addr::UNSPECIFIED.to_string(),
    };
    out = out.replace("{host}", &host);
    if let Some(target) = plan.otlp_target() {
        for protocol in [OtlpProtocol::Grpc, OtlpProtocol::Http] {
            let url = deploy::peer_url(plan, site, &target, protocol.port_name());
            out = out.replace(&format!("{{{}}}", protocol.endpoint_name()), &url);
        }
    }
    let own = ComponentId::App(app.name.clone());
    for name in app.ports.keys() {
        out = out.replace(&format!("{{port.{name}}}"), &plan.try_port(&own, name).unwrap_or_default().to_string());
    }
    for other in &plan.config.apps {
        let id = ComponentId::App(other.name.clone());
        for name in other.ports.keys() {
            let port = plan.try_port(&id, name).unwrap_or(other.ports[name]);
            out = out.replace(&format!("{{app.{}.port.{name}}}", other.name), &port.to_string());
        }
    }
    out
}

/// Every placeholder in `text` (`{...}`), for validation.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(inner, _)| inner))
}

/// Apps have a command, known placeholders, one health check on a port they have,
/// and dependencies that exist; their names are checked with the services' (unique,
/// usable as file names, not obsdemo's own).
pub fn validate(c: &StackConfig) -> Result<(), String> {
    let known: Vec<String> = super::all(c).iter().map(|id| id.name().to_owned()).collect();
    for app in &c.apps {
        let bad = |why: String| Err(format!("{}: {why}", app.name));
        if app.command.first().is_none_or(|p| p.is_empty()) {
            return bad("`command` is empty; give the program and its arguments as a list".into());
        }
        // What no process can be started with: caught here, not by the supervisor later.
        if app.command.iter().chain(app.env.values()).any(|t| t.contains('\0')) {
            return bad("`command` and `env` cannot hold a NUL character".into());
        }
        if let Some(key) = app.env.keys().find(|k| k.is_empty() || k.contains(['=', '\0'])) {
            return bad(format!("`env` key {key:?} is not a variable name (it is empty, or holds `=` or NUL)"));
        }
        if let Some(h) = &app.health {
            let port = match (&h.http, &h.tcp) {
                (Some(_), Some(_)) | (None, None) => {
                    return bad("`health` takes exactly one of `http` (a path) or `tcp` (a port name)".into());
                }
                (Some(path), None) if !path.starts_with('/') => {
                    return bad(format!("health path `{path}` must start with /"));
                }
                (Some(_), None) => h.port.clone().or_else(|| app.ports.keys().next().cloned()),
                (None, Some(port)) => Some(port.clone()),
            };
            match port {
                Some(port) if app.ports.contains_key(&port) => {}
                Some(port) => return bad(format!("health checks port `{port}`, which is not in its `ports`")),
                None => return bad("a health check needs a port: add `ports = { http = 8101 }`".into()),
            }
        }
        if let Some(missing) = app.depends_on.iter().find(|d| !known.contains(d)) {
            return bad(format!(
                "depends on `{missing}`, which is not a component or app; known: {}",
                known.join(", ")
            ));
        }
        for text in app.command.iter().chain(app.env.values()) {
            for p in placeholders(text) {
                let own = p.strip_prefix("port.").is_some_and(|n| app.ports.contains_key(n));
                let intake = [OtlpProtocol::Grpc, OtlpProtocol::Http].iter().any(|o| o.endpoint_name() == p);
                let other = p
                    .strip_prefix("app.")
                    .and_then(|rest| rest.rsplit_once(".port."))
                    .is_some_and(|(a, n)| c.apps.iter().any(|o| o.name == a && o.ports.contains_key(n)));
                if !(p == "host" || own || other || intake) {
                    return bad(format!(
                        "`{{{p}}}` is not a placeholder obsdemo knows: use {{host}}, {{port.NAME}}, \
                         {{app.OTHER.port.NAME}}, {{otlp.grpc}} or {{otlp.http}}"
                    ));
                }
            }
        }
    }
    Ok(())
}
