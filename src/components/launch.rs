//! From a plan to what runs: every config file of the enabled components, and the
//! launch file the supervisor reads (each process, its probes, its dependencies, and
//! the plan's named endpoints).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{ComponentId, KINDS, StackPlan};
use crate::render::{RenderError, RenderedFile, Renderer, host_name};
use crate::stack::process::{Launch, ProcessSpec};
use crate::stack::{OtlpProtocol, StatePaths};

/// Renders every config file of the enabled components of `plan`.
pub fn render(plan: &StackPlan, paths: &StatePaths) -> Result<Vec<RenderedFile>, RenderError> {
    render_for_host(plan, paths, &host_name())
}

/// [`render`], labelling host metrics with `host_name` (fixed in tests).
pub fn render_for_host(
    plan: &StackPlan,
    paths: &StatePaths,
    host_name: &str,
) -> Result<Vec<RenderedFile>, RenderError> {
    let mut out = Renderer::new(paths, host_name);
    render_into(plan, &mut out)?;
    Ok(out.finish())
}

/// Every config file of the enabled components of `plan` (a [`super::deploy::cluster_plan`])
/// as the containers of a Kubernetes cluster read them.
pub fn render_for_cluster(plan: &StackPlan) -> Result<Vec<RenderedFile>, RenderError> {
    let paths = super::deploy::cluster_paths();
    let mut out = Renderer::for_cluster(&paths);
    render_into(plan, &mut out)?;
    Ok(out.finish())
}

/// Renders the files of every kind with an enabled instance into `out`.
fn render_into(plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
    for kind in KINDS {
        if kind.instances(&plan.config).iter().any(|id| plan.is_enabled(id)) {
            kind.files(plan, out)?;
        }
    }
    Ok(())
}

/// The process of every enabled component, in start order. `binaries` maps each
/// enabled component to its resolved binary.
pub fn process_specs(
    plan: &StackPlan,
    paths: &StatePaths,
    binaries: &BTreeMap<ComponentId, PathBuf>,
) -> Vec<ProcessSpec> {
    let endpoints = plan.endpoints();
    plan.enabled()
        .into_iter()
        .map(|id| {
            let kind = id.kind();
            let program = binaries.get(&id).cloned().unwrap_or_else(|| PathBuf::from(id.name()));
            let command = kind.command(plan, paths, &id, &program);
            let main = kind.main_endpoint(plan, &id);
            ProcessSpec {
                name: id.name().to_owned(),
                args: command.args,
                env: command.env,
                program,
                depends_on: kind.depends_on(plan, &id).iter().map(|d| d.name().to_owned()).collect(),
                feeds: kind.feeds(plan, &id).iter().map(|d| d.name().to_owned()).collect(),
                probes: kind.probes(plan, &id),
                ports: plan.listeners.iter().filter(|l| l.component == id).map(|l| l.port).collect(),
                url: endpoints.iter().find(|e| e.name == main).map(|e| e.url.clone()),
                restart: kind.restart(plan, &id),
                workdir: command.workdir,
                ui: kind.ui(plan, &id),
            }
        })
        .collect()
}

/// The launch file of `plan`.
pub fn launch(plan: &StackPlan, paths: &StatePaths, binaries: &BTreeMap<ComponentId, PathBuf>) -> Launch {
    Launch {
        bind: plan.bind(),
        specs: process_specs(plan, paths, binaries),
        disabled: plan.components().iter().filter(|id| !plan.is_enabled(id)).map(|id| id.name().to_owned()).collect(),
        endpoints: endpoints_by_name(plan),
    }
}

/// The plan's endpoints as `name -> URL`, as `state.json` records them, with the span
/// intake under `OtlpProtocol::endpoint_name()` (`otlp.grpc`, `otlp.http`): the
/// Collector, or Jaeger without one.
pub fn endpoints_by_name(plan: &StackPlan) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = plan.endpoints().into_iter().map(|e| (e.name, e.url)).collect();
    if let Some(target) = plan.otlp_target() {
        for protocol in [OtlpProtocol::Grpc, OtlpProtocol::Http] {
            out.insert(protocol.endpoint_name().into(), plan.url(&target, protocol.port_name()));
        }
    }
    out
}
