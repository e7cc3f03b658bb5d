//! The OpenTelemetry Collector: OTLP in from the services, traces out to Jaeger; its
//! hostmetrics receiver feeds a Prometheus exporter that Prometheus scrapes.

use std::path::Path;

use minijinja::{context, value::Serde};

use super::{CommandLine, Component, ComponentId, Endpoint, StackPlan, named};
use crate::health::Probe;
use crate::install::{BinarySpec, SourceRecipe};
use crate::render::{RenderError, Renderer, render_one};
use crate::stack::{StackConfig, StatePaths};

/// The OpenTelemetry Collector.
pub struct Collector;

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
            Endpoint::new(id, "otlp_grpc", "OTLP gRPC (send spans here)", plan.url(id, "otlp_grpc")).shown(),
            Endpoint::new(id, "otlp_http", "OTLP HTTP", plan.url(id, "otlp_http")).shown(),
            Endpoint::new(
                id,
                "host_metrics",
                "host metrics (Prometheus format)",
                format!("{}/metrics", plan.url(id, "prometheus_exporter")),
            )
            .shown(),
            Endpoint::new(id, "metrics", "the Collector's own metrics", format!("{}/metrics", plan.url(id, "metrics"))),
            Endpoint::new(id, "health", "health check", plan.url(id, "health")),
        ]
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "collector.health".into()
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let c = &plan.config;
        let ctx = context! {
            bind => plan.bind().to_string(),
            host => plan.host(),
            c => Serde(&c.collector),
            jaeger_enabled => c.jaeger.enabled,
            jaeger_otlp_grpc => c.jaeger.ports.otlp_grpc,
            host_name => out.host_name,
            queue_dir => out.paths.data().join("collector-queue").display().to_string(),
            os_type => std::env::consts::OS,
        };
        out.emit("otelcol.yaml", "otelcol.yaml", ctx)
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

    fn binary(&self, config: &StackConfig) -> Option<BinarySpec> {
        let names = &["otelcol-obsdemo", "otelcol-contrib", "otelcol"];
        Some(BinarySpec::new("collector", &config.collector.version, names, config.collector.binary.as_deref()))
    }

    fn source_recipe(&self, config: &StackConfig) -> Option<Result<SourceRecipe, RenderError>> {
        let version = config.collector.version.clone();
        let manifest = providers_version(&version).and_then(|providers_version| {
            render_one(
                "otelcol-builder.yaml",
                "otelcol-builder.yaml",
                context! {
                    version => &version,
                    providers_version,
                    output_path => crate::install::source::build_dir("collector", &version).join("dist").display().to_string(),
                },
            )
        });
        Some(manifest.map(|manifest| SourceRecipe::CollectorBuilder { version, manifest }))
    }
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
