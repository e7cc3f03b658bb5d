//! Each component's command line, dependencies and readiness probes, from the plan.
//!
//! This is the one file that knows how each third-party binary is invoked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::health::Probe;
use crate::stack::{JaegerFlavour, StackPlan, StatePaths, process::ProcessSpec};

/// The process of every enabled component, in start order.
///
/// `binaries` maps each enabled component to its resolved binary.
pub fn process_specs(plan: &StackPlan, paths: &StatePaths, binaries: &BTreeMap<String, PathBuf>) -> Vec<ProcessSpec> {
    plan.enabled()
        .into_iter()
        .map(|name| {
            let program = binaries.get(&name).cloned().unwrap_or_else(|| PathBuf::from(&name));
            let (args, env) = command_line(plan, paths, &name, &program);
            ProcessSpec {
                args,
                env,
                program,
                depends_on: depends_on(plan, &name),
                probes: probes(plan, &name),
                ports: plan.listeners.iter().filter(|l| l.component == name).map(|l| l.port).collect(),
                name,
            }
        })
        .collect()
}

/// Start order: Jaeger before the Collector that exports to it; Prometheus before the
/// Grafana that queries it. Everything else starts at once.
fn depends_on(plan: &StackPlan, name: &str) -> Vec<String> {
    let upstream = match name {
        "collector" => "jaeger",
        "grafana" => "prometheus",
        // Services export spans from their first request on: start them once the
        // receiver is ready.
        service if plan.is_service(service) => plan.otlp_target(),
        _ => return Vec::new(),
    };
    if plan.is_enabled(upstream) { vec![upstream.to_owned()] } else { Vec::new() }
}

/// What must answer before a component counts as ready.
pub fn probes(plan: &StackPlan, name: &str) -> Vec<Probe> {
    let url =
        |listener: &str, path: &str| Probe::http(format!("http://{}:{}{path}", plan.host(), plan.port(name, listener)));
    match name {
        "jaeger" => match plan.config.jaeger.flavour {
            JaegerFlavour::V2 => vec![url("ui", "/"), url("health", "/status")],
            JaegerFlavour::V1 => vec![url("ui", "/"), url("admin", "/")],
        },
        "collector" => vec![url("health", "/")],
        "prometheus" => vec![url("http", "/-/ready")],
        "grafana" => vec![url("http", "/api/health")],
        _service => vec![url("http", "/healthz")],
    }
}

/// Arguments and extra environment of one component.
fn command_line(
    plan: &StackPlan,
    paths: &StatePaths,
    name: &str,
    program: &Path,
) -> (Vec<String>, Vec<(String, String)>) {
    let rendered = paths.rendered();
    let file = |f: &str| rendered.join(f).display().to_string();
    let c = &plan.config;
    let bind = plan.bind();
    let hp = |port: u16| match bind {
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        ip => format!("{ip}:{port}"),
    };
    match name {
        "collector" => (vec![format!("--config={}", file("otelcol.yaml"))], vec![]),
        "jaeger" => match c.jaeger.flavour {
            JaegerFlavour::V2 => (vec![format!("--config={}", file("jaeger.yaml"))], vec![]),
            JaegerFlavour::V1 => {
                let p = &c.jaeger.ports;
                // The original plan's flags, each bound to the plan's address.
                let args = vec![
                    format!("--collector.otlp.grpc.host-port={}", hp(p.otlp_grpc)),
                    format!("--collector.otlp.http.host-port={}", hp(p.otlp_http)),
                    format!("--collector.zipkin.host-port={}", hp(p.zipkin)),
                    format!("--collector.http-server.host-port={}", hp(p.collector_http)),
                    format!("--query.http-server.host-port={}", hp(p.ui)),
                    format!("--collector.grpc-server.host-port={}", hp(p.grpc)),
                    // Not in the original plan, but their defaults would bind every interface.
                    format!("--query.grpc-server.host-port={}", hp(p.query_grpc)),
                    format!("--admin.http.host-port={}", hp(p.admin)),
                    format!("--memory.max-traces={}", c.jaeger.max_traces),
                ];
                (args, vec![("SPAN_STORAGE_TYPE".into(), "memory".into())])
            }
        },
        "prometheus" => {
            let args = vec![
                format!("--config.file={}", file("prometheus.yml")),
                format!("--storage.tsdb.path={}", paths.data().join("prometheus").display()),
                format!("--storage.tsdb.retention.time={}", c.prometheus.retention),
                format!("--web.listen-address={}", hp(c.prometheus.ports.http)),
            ];
            (args, vec![])
        }
        "grafana" => {
            let home = c.grafana.homepath.clone().unwrap_or_else(|| grafana_home(program));
            let mut args = Vec::new();
            // Grafana 10+ ships one `grafana` binary with subcommands; older ones `grafana-server`.
            if program.file_stem().is_some_and(|s| s == "grafana") {
                args.push("server".to_owned());
            }
            args.push(format!("--homepath={}", home.display()));
            args.push(format!("--config={}", file("grafana/grafana.ini")));
            let env = [
                ("GF_PATHS_DATA", paths.data().join("grafana")),
                ("GF_PATHS_LOGS", paths.logs().join("grafana")),
                ("GF_PATHS_PLUGINS", paths.data().join("grafana/plugins")),
                ("GF_PATHS_PROVISIONING", rendered.join("grafana/provisioning")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.display().to_string()))
            .collect();
            (args, env)
        }
        service => {
            let args = vec![
                "service".to_owned(),
                service.to_owned(),
                format!("--services-file={}", file(super::SERVICES_FILE)),
            ];
            (args, vec![])
        }
    }
}

/// Grafana's home: the directory above `bin/` in a release archive, else the Debian
/// package's location.
fn grafana_home(program: &Path) -> PathBuf {
    program
        .parent()
        .filter(|dir| dir.ends_with("bin"))
        .and_then(Path::parent)
        .filter(|home| home.join("public").is_dir())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/usr/share/grafana"))
}
