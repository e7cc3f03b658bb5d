//! The OpenTelemetry Collector: OTLP in from the services, traces out to Jaeger; its
//! hostmetrics receiver feeds a Prometheus exporter that Prometheus scrapes.

use std::path::Path;

use minijinja::{context, value::Serde};

use super::deploy::{self, Placement, Resources, Volume, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, EndpointKey, StackPlan, named};
use crate::health::Probe;
use crate::install::{BinarySpec, SourceRecipe};
use crate::render::{RenderError, Renderer, Site, render_one};
use crate::stack::{StackConfig, StatePaths};

/// The gateway's config in a cluster: OTLP in, traces out to Jaeger.
const GATEWAY_FILE: &str = "otelcol-gateway.yaml";
/// The agent's config in a cluster: the node's host metrics for Prometheus.
const AGENT_FILE: &str = "otelcol-agent.yaml";
/// Where the agent sees the node's root filesystem; hostmetrics reads `/proc` and
/// `/sys` below it (`root_path`). The OpenTelemetry Helm chart mounts the node the
/// same way (open-telemetry/opentelemetry-helm-charts
/// `charts/opentelemetry-collector/templates/_pod.tpl`, the hostMetrics preset).
const HOST_ROOT: &str = "/hostfs";

/// The OpenTelemetry Collector.
pub struct Collector;

/// Its OTLP/gRPC intake.
pub const OTLP_GRPC: EndpointKey = EndpointKey::new("collector", "otlp_grpc");
/// Its own metrics (Prometheus format), where its span counters are read.
pub const METRICS: EndpointKey = EndpointKey::new("collector", "metrics");

impl Component for Collector {
    fn instances(&self, _config: &StackConfig) -> Vec<ComponentId> {
        vec![ComponentId::Collector]
    }

    fn is_enabled(&self, config: &StackConfig, _id: &ComponentId) -> bool {
        config.collector.enabled
    }

    fn disable(&self, config: &mut StackConfig, _id: &ComponentId) {
        config.collector.enabled = false;
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, _id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        let p = &mut config.collector.ports;
        named([
            ("otlp_grpc", &mut p.otlp_grpc),
            ("otlp_http", &mut p.otlp_http),
            ("prometheus_exporter", &mut p.prometheus_exporter),
            ("metrics", &mut p.metrics),
            ("health", &mut p.health),
        ])
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        vec![
            Endpoint::new(id, OTLP_GRPC.key(), "OTLP gRPC (send spans here)", plan.url(id, "otlp_grpc")).shown(),
            Endpoint::new(id, "otlp_http", "OTLP HTTP", plan.url(id, "otlp_http")).shown(),
            Endpoint::new(
                id,
                "host_metrics",
                "host metrics (Prometheus format)",
                format!("{}/metrics", plan.url(id, "prometheus_exporter")),
            )
            .shown(),
            Endpoint::new(
                id,
                METRICS.key(),
                "the Collector's own metrics",
                format!("{}/metrics", plan.url(id, "metrics")),
            ),
            Endpoint::new(id, "health", "health check", plan.url(id, "health")),
        ]
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "collector.health".into()
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let c = &plan.config;
        let jaeger_enabled = c.jaeger.enabled;
        let (site, host_name) = (out.site, out.host_name.to_owned());
        let queue_dir = out.path(&out.paths.data().join("collector-queue"));
        let config = |traces: bool, host_metrics: bool, root_path: Option<&str>| {
            context! {
                bind => plan.bind().to_string(),
                c => Serde(&c.collector),
                traces => traces && jaeger_enabled,
                host_metrics,
                red => traces && plan.makes_red(),
                root_path,
                jaeger => deploy::peer_host(plan, site, &ComponentId::Jaeger),
                jaeger_otlp_grpc => c.jaeger.ports.otlp_grpc,
                host_name => &host_name,
                node_name => site == Site::Cluster,
                same_host => site == Site::Local,
                queue_dir => &queue_dir,
                os_type => match site {
                    Site::Local => std::env::consts::OS,
                    Site::Cluster => "linux",
                },
            }
        };
        match site {
            Site::Local => out.emit("otelcol.yaml", "otelcol.yaml", config(true, true, None)),
            Site::Cluster => {
                out.emit("otelcol.yaml", GATEWAY_FILE, config(true, false, None))?;
                out.emit("otelcol.yaml", AGENT_FILE, config(false, true, Some(HOST_ROOT)))
            }
        }
    }

    fn command(&self, _plan: &StackPlan, paths: &StatePaths, _id: &ComponentId, _program: &Path) -> CommandLine {
        CommandLine {
            args: vec![format!("--config={}", paths.rendered().join("otelcol.yaml").display())],
            env: vec![],
            workdir: None,
        }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        vec![Probe::http(format!("{}/", plan.url(id, "health")))]
    }

    fn depends_on(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        // Not Jaeger: the OTLP exporter retries until Jaeger listens, and nothing sends
        // spans before the Collector itself is ready, so both start at once.
        Vec::new()
    }

    fn feeds(&self, plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        [ComponentId::Jaeger].into_iter().filter(|j| plan.is_enabled(j)).collect()
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        // The contrib image holds every module obsdemo's own build has; it runs as
        // 10001 with `/otelcol-contrib` as its entrypoint (open-telemetry/
        // opentelemetry-collector-releases `distributions/otelcol-contrib/Dockerfile`,
        // image names from `.goreleaser.yaml` `docker_manifests`).
        let image = format!("otel/opentelemetry-collector-contrib:{}", plan.config.collector.version);
        let paths = deploy::cluster_paths();
        let config_arg = |file: &str| format!("--config={}", paths.rendered().join(file).display());
        let own = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut gateway = Workload::new(deploy::COLLECTOR_GATEWAY, id, image.clone());
        gateway.args = vec![config_arg(GATEWAY_FILE)];
        gateway.ports = own(&["otlp_grpc", "otlp_http", "metrics", "health"]);
        if plan.makes_red() {
            // The RED series the gateway makes of the spans, which Prometheus scrapes
            // through the gateway's Service.
            gateway.ports.push("prometheus_exporter".to_owned());
        }
        gateway.files = vec![GATEWAY_FILE.into()];
        // The disk queue lives as long as the pod: a crash of the container loses no
        // span it acknowledged.
        gateway.volumes = vec![Volume::Scratch { name: "queue".into(), path: paths.data().join("collector-queue") }];
        gateway.probes = self.probes(plan, id);
        gateway.user = Some(10001);
        gateway.resources = Resources { cpu: "100m", memory: "128Mi", memory_limit: "512Mi" };
        let mut agent = Workload::new(deploy::COLLECTOR_AGENT, id, image);
        agent.placement = Placement::EveryNode;
        agent.args = vec![config_arg(AGENT_FILE)];
        agent.ports = own(&["prometheus_exporter", "metrics", "health"]);
        // Prometheus finds each node's agent through the API, not through a Service.
        agent.service = false;
        agent.files = vec![AGENT_FILE.into()];
        agent.env = vec![deploy::node_name_env()];
        let host = |name: &str, dir: &str| Volume::Host {
            name: name.into(),
            host: dir.into(),
            path: match dir.trim_start_matches('/') {
                "" => HOST_ROOT.into(),
                below => std::path::Path::new(HOST_ROOT).join(below),
            },
        };
        agent.volumes = vec![host("hostfs", "/"), host("proc", "/proc"), host("sys", "/sys")];
        agent.probes = self.probes(plan, id);
        agent.user = Some(10001);
        vec![gateway, agent]
    }

    fn binary(&self, config: &StackConfig) -> Option<BinarySpec> {
        let names = &["otelcol-obsdemo", "otelcol-contrib", "otelcol"];
        // `otelcol-contrib --version` prints `otelcol-contrib version 0.165.0`
        // (opentelemetry-collector v0.165.0 `otelcol/command.go` sets cobra's Version).
        let spec = BinarySpec::new("collector", &config.collector.version, names, config.collector.binary.as_deref());
        Some(spec.asking_version_with(&["--version"]))
    }

    fn source_recipe(&self, config: &StackConfig) -> Option<Result<SourceRecipe, RenderError>> {
        let version = config.collector.version.to_string();
        let manifest = providers_version(&version).and_then(|providers_version| {
            render_one(
                "otelcol-builder.yaml",
                "otelcol-builder.yaml",
                context! {
                    version => &version,
                    providers_version,
                    // Relative to the build dir the builder runs in: an absolute path
                    // would put the managed dir into the manifest, whose digest is the
                    // build's cache key, so a moved OBSDEMO_HOME would build again
                    // (opentelemetry-collector cmd/builder v0.165.0
                    // `internal/builder/main.go` uses the path as given).
                    output_path => "dist",
                },
            )
        });
        Some(manifest.map(|manifest| SourceRecipe::CollectorBuilder { version, manifest }))
    }
}

/// Whether the Collector of the stack rendered in `rendered` makes RED metrics (its
/// config has the span_metrics pipeline): what the console asks before it offers the
/// RED dashboard.
pub fn makes_red(rendered: &Path) -> bool {
    std::fs::read_to_string(rendered.join("otelcol.yaml")).is_ok_and(|config| config.contains("metrics/red:"))
}

/// The confmap providers are versioned 1.x alongside collector 0.y: 0.160 <-> 1.66.
fn providers_version(collector: &str) -> Result<String, RenderError> {
    let minor: u32 = collector
        .strip_prefix("0.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|m| m.parse().ok())
        .filter(|m| *m >= 120)
        .ok_or_else(|| {
            RenderError::Value(format!("collector version {collector} is not a 0.x release from 0.120 on"))
        })?;
    Ok(format!("1.{}.0", minor - 94))
}

#[cfg(test)]
mod tests {
    #[test]
    fn providers_follow_the_collector_release() {
        assert_eq!(super::providers_version("0.160.0").unwrap(), "1.66.0");
        assert_eq!(super::providers_version("0.165.1").unwrap(), "1.71.0");
        assert!(super::providers_version("1.2.3").is_err());
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn the_builder_manifest_names_no_path_so_a_moved_home_reuses_the_build() {
        let Some(Ok(SourceRecipe::CollectorBuilder { manifest, .. })) =
            Collector.source_recipe(&StackConfig::default())
        else {
            panic!("the Collector has a builder recipe")
        };
        let home = crate::install::managed_dir().display().to_string();
        assert!(!manifest.contains(&home) && manifest.contains("output_path: dist\n"), "{manifest}");
    }
}
