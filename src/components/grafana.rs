//! Grafana: provisioned (datasources and dashboards) from rendered files, with a
//! generated admin password, never admin/admin.

use std::path::{Path, PathBuf};

use minijinja::{context, value::Serde};

use super::deploy::{self, Env, Resources, Volume, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, EndpointKey, StackPlan, named};
use crate::health::Probe;
use crate::install::BinarySpec;
use crate::render::{DASHBOARDS, RenderError, Renderer};
use crate::stack::{StackConfig, StatePaths};

/// Grafana datasource uid of the provisioned Prometheus; dashboards refer to it.
pub const PROMETHEUS_DATASOURCE_UID: &str = "obsdemo-prometheus";
/// Grafana datasource uid of the provisioned Jaeger.
pub const JAEGER_DATASOURCE_UID: &str = "obsdemo-jaeger";

/// Grafana.
pub struct Grafana;

/// Its UI and HTTP API.
pub const API: EndpointKey = EndpointKey::new("grafana", "http");

impl Component for Grafana {
    fn instances(&self, _config: &StackConfig) -> Vec<ComponentId> {
        vec![ComponentId::Grafana]
    }

    fn is_enabled(&self, config: &StackConfig, _id: &ComponentId) -> bool {
        config.grafana.enabled
    }

    fn disable(&self, config: &mut StackConfig, _id: &ComponentId) {
        config.grafana.enabled = false;
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, _id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        named([("http", &mut config.grafana.ports.http)])
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        vec![Endpoint::new(id, API.key(), "dashboards", plan.url(id, "http")).shown()]
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "grafana.http".into()
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let c = &plan.config;
        let host = plan.host();
        let paths = out.paths;
        let dashboards_dir = out.path(&paths.rendered().join("grafana/dashboards"));
        let ini = context! {
            bind => plan.bind().to_string(),
            g => Serde(&c.grafana),
            paths => context! {
                data => out.path(&paths.data()),
                logs => out.path(&paths.logs()),
                rendered => out.path(&paths.rendered()),
                grafana_password => out.path(&paths.grafana_password()),
            },
        };
        out.emit("grafana.ini", "grafana/grafana.ini", ini)?;
        let datasources = context! {
            prometheus => deploy::peer_host(plan, out.site, &ComponentId::Prometheus),
            jaeger => deploy::peer_host(plan, out.site, &ComponentId::Jaeger),
            prometheus_uid => PROMETHEUS_DATASOURCE_UID,
            prometheus_port => c.prometheus.ports.http,
            scrape_interval => c.prometheus.scrape_interval.to_string(),
            jaeger_enabled => c.jaeger.enabled,
            jaeger_uid => JAEGER_DATASOURCE_UID,
            jaeger_ui_port => c.jaeger.ports.ui,
        };
        out.emit("grafana-datasources.yaml", "grafana/provisioning/datasources/obsdemo.yaml", datasources)?;
        out.emit(
            "grafana-dashboards.yaml",
            "grafana/provisioning/dashboards/obsdemo.yaml",
            context! { dashboards_dir },
        )?;
        // Links a browser follows: the plan's host, which `kubectl port-forward` serves
        // in a cluster too.
        for (name, _) in DASHBOARDS {
            // The RED dashboard only where the stack makes RED metrics.
            let drawn = match *name {
                "red.json" if !c.metrics.red => continue,
                "red.json" => super::dashboards::red(),
                _ => super::dashboards::system_resources(),
            };
            let dashboard = context! {
                meta => Serde(&drawn),
                panels => Serde(&drawn.panels),
                datasource_uid => PROMETHEUS_DATASOURCE_UID,
                jaeger_url => format!("http://{host}:{}", c.jaeger.ports.ui),
                prometheus_url => format!("http://{host}:{}", c.prometheus.ports.http),
                interval => c.collector.hostmetrics.interval.to_string(),
            };
            out.emit(name, &format!("grafana/dashboards/{name}"), dashboard)?;
        }
        Ok(())
    }

    fn command(&self, plan: &StackPlan, paths: &StatePaths, _id: &ComponentId, program: &Path) -> CommandLine {
        let rendered = paths.rendered();
        let home = plan.config.grafana.homepath.clone().unwrap_or_else(|| grafana_home(program));
        let mut args = Vec::new();
        // Grafana 10+ ships one `grafana` binary with subcommands; older ones `grafana-server`.
        if program.file_stem().is_some_and(|s| s == "grafana") {
            args.push("server".to_owned());
        }
        args.push(format!("--homepath={}", home.display()));
        args.push(format!("--config={}", rendered.join("grafana/grafana.ini").display()));
        let env = [
            ("GF_PATHS_DATA", paths.data().join("grafana")),
            ("GF_PATHS_LOGS", paths.logs().join("grafana")),
            ("GF_PATHS_PLUGINS", paths.data().join("grafana/plugins")),
            ("GF_PATHS_PROVISIONING", rendered.join("grafana/provisioning")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .collect();
        CommandLine { args, env, workdir: None }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        vec![Probe::http(format!("{}/api/health", plan.url(id, "http")))]
    }

    fn depends_on(&self, plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        // Its datasource is Prometheus: start once Prometheus answers.
        [ComponentId::Prometheus].into_iter().filter(|p| plan.is_enabled(p)).collect()
    }

    fn binary(&self, config: &StackConfig) -> Option<BinarySpec> {
        let c = &config.grafana;
        Some(BinarySpec::new("grafana", &c.version, &["grafana", "grafana-server"], c.binary.as_deref()))
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        let paths = deploy::cluster_paths();
        // grafana/grafana:<release> starts `/run.sh`, which runs `grafana server` with
        // GF_PATHS_CONFIG and the other GF_PATHS_* variables, as user 472 (grafana/grafana
        // `packaging/docker/run.sh`, `Dockerfile` GF_UID).
        let mut w =
            Workload::new(deploy::service_name(id), id, format!("grafana/grafana:{}", plan.config.grafana.version));
        let mut env = self.command(plan, &paths, id, Path::new("grafana")).env;
        env.push(("GF_PATHS_CONFIG".into(), paths.rendered().join("grafana/grafana.ini").display().to_string()));
        w.env = Env::values(env);
        w.ports = deploy::listeners_of(plan, id);
        w.files = vec!["grafana".into()];
        let password = paths.grafana_password();
        w.volumes = vec![
            Volume::Scratch { name: "data".into(), path: paths.data().join("grafana") },
            Volume::Scratch { name: "logs".into(), path: paths.logs().join("grafana") },
            Volume::Scratch { name: "tmp".into(), path: "/tmp".into() },
            Volume::GeneratedSecret {
                name: "grafana-admin".into(),
                key: password.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                path: paths.secrets(),
            },
        ];
        w.probes = self.probes(plan, id);
        w.user = Some(472);
        w.resources = Resources { cpu: "100m", memory: "128Mi", memory_limit: "512Mi" };
        vec![w]
    }

    fn optional(&self) -> bool {
        // Dashboards over Prometheus: everything else works without them.
        true
    }

    fn prepare(&self, _plan: &StackPlan, paths: &StatePaths) -> std::io::Result<()> {
        paths.ensure_secret(&paths.grafana_password()).map(drop)
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
