//! Templates -> config files. Every rendered YAML or JSON file is parsed back before
//! it is written, so a template error is caught here and not by a component at start.
//!
//! [`render`] produces the files of one plan; [`launch`] the command line of each
//! component, which is rendered from the same plan (v1 Jaeger is configured by flags).

pub mod launch;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, context, value::Serde};

use crate::stack::{JaegerFlavour, StackPlan, StatePaths};

/// Grafana datasource uid of the provisioned Prometheus; dashboards refer to it.
pub const PROMETHEUS_DATASOURCE_UID: &str = "obsdemo-prometheus";
/// Grafana datasource uid of the provisioned Jaeger.
pub const JAEGER_DATASOURCE_UID: &str = "obsdemo-jaeger";

/// The templates, compiled in so the binary needs no files beside it.
const TEMPLATES: &[(&str, &str)] = &[
    ("otelcol.yaml", include_str!("../../templates/otelcol.yaml.j2")),
    ("jaeger-v2.yaml", include_str!("../../templates/jaeger-v2.yaml.j2")),
    ("prometheus.yml", include_str!("../../templates/prometheus.yml.j2")),
    ("grafana.ini", include_str!("../../templates/grafana/grafana.ini.j2")),
    ("grafana-datasources.yaml", include_str!("../../templates/grafana/datasources.yaml.j2")),
    ("grafana-dashboards.yaml", include_str!("../../templates/grafana/dashboards.yaml.j2")),
    ("otelcol-builder.yaml", include_str!("../../templates/otelcol-builder.yaml.j2")),
];

/// Grafana dashboards, JSON with the datasource uid as a template variable.
pub const DASHBOARDS: &[(&str, &str)] = &[
    ("system-resources.json", include_str!("../../templates/grafana/dashboards/system-resources.json.j2")),
    ("overview.json", include_str!("../../templates/grafana/dashboards/overview.json.j2")),
];

/// One rendered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    /// Path below the rendered dir.
    pub path: PathBuf,
    /// Its text.
    pub contents: String,
}

/// A template that did not render, or rendered into something that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template engine failed.
    #[error("rendering {template}: {source:#}")]
    Template {
        /// The template's name.
        template: String,
        /// The engine's error.
        source: minijinja::Error,
    },
    /// The output is not valid YAML or JSON.
    #[error("rendered {path} does not parse as {format}: {message}")]
    Parse {
        /// The output file.
        path: PathBuf,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The parser's error.
        message: String,
    },
}

/// A template engine holding every obsdemo template; a variable the template names but
/// the context lacks is an error, not an empty string.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja escapes `.json`/`.yaml` templates by file name; these templates quote
    // deliberately (and use `tojson` where a value must become a JSON string).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (name, source) in TEMPLATES.iter().chain(DASHBOARDS) {
        env.add_template(name, source).expect("built-in templates are valid");
    }
    env
}

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
    let env = environment();
    let c = &plan.config;
    let (host, bind) = (plan.host(), plan.bind().to_string());
    let (host, bind) = (host.as_str(), bind.as_str());
    let mut files = Vec::new();
    let mut emit = |template: &str, out: &str, ctx: minijinja::Value| -> Result<(), RenderError> {
        let contents = env
            .get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError::Template { template: template.to_owned(), source })?;
        let path = PathBuf::from(out);
        check_parses(&path, &contents)?;
        files.push(RenderedFile { path, contents });
        Ok(())
    };
    if c.collector.enabled {
        emit(
            "otelcol.yaml",
            "otelcol.yaml",
            context! {
                bind, host,
                c => Serde(&c.collector),
                jaeger_enabled => c.jaeger.enabled,
                jaeger_otlp_grpc => c.jaeger.ports.otlp_grpc,
                host_name,
                os_type => std::env::consts::OS,
            },
        )?;
    }
    if c.jaeger.enabled && c.jaeger.flavour == JaegerFlavour::V2 {
        emit("jaeger-v2.yaml", "jaeger.yaml", context! { bind, j => Serde(&c.jaeger) })?;
    }
    if c.prometheus.enabled {
        emit(
            "prometheus.yml",
            "prometheus.yml",
            context! {
                host, p => Serde(&c.prometheus),
                collector_exporter_port => c.collector.ports.prometheus_exporter,
            },
        )?;
    }
    if c.grafana.enabled {
        let dashboards_dir = paths.rendered().join("grafana/dashboards").display().to_string();
        emit(
            "grafana.ini",
            "grafana/grafana.ini",
            context! {
                bind, g => Serde(&c.grafana),
                paths => context! {
                    data => paths.data().display().to_string(),
                    logs => paths.logs().display().to_string(),
                    rendered => paths.rendered().display().to_string(),
                    grafana_password => paths.grafana_password().display().to_string(),
                },
            },
        )?;
        emit(
            "grafana-datasources.yaml",
            "grafana/provisioning/datasources/obsdemo.yaml",
            context! {
                host,
                prometheus_uid => PROMETHEUS_DATASOURCE_UID,
                prometheus_port => c.prometheus.ports.http,
                scrape_interval => c.prometheus.scrape_interval.to_string(),
                jaeger_enabled => c.jaeger.enabled,
                jaeger_uid => JAEGER_DATASOURCE_UID,
                jaeger_ui_port => c.jaeger.ports.ui,
            },
        )?;
        emit(
            "grafana-dashboards.yaml",
            "grafana/provisioning/dashboards/obsdemo.yaml",
            context! {
                dashboards_dir,
            },
        )?;
        for (name, _) in DASHBOARDS {
            emit(
                name,
                &format!("grafana/dashboards/{name}"),
                context! {
                    datasource_uid => PROMETHEUS_DATASOURCE_UID,
                    jaeger_url => format!("http://{host}:{}", c.jaeger.ports.ui),
                    prometheus_url => format!("http://{host}:{}", c.prometheus.ports.http),
                    interval => c.collector.hostmetrics.interval.to_string(),
                },
            )?;
        }
    }
    if plan.config.services.iter().any(|s| s.enabled) {
        let services = services_file(plan);
        let contents = serde_json::to_string_pretty(&services).expect("services file serializes") + "\n";
        files.push(RenderedFile { path: PathBuf::from(SERVICES_FILE), contents });
    }
    Ok(files)
}

/// Renders the OpenTelemetry Collector Builder manifest for a source build.
pub fn builder_manifest(version: &str, providers_version: &str, output_path: &Path) -> Result<String, RenderError> {
    let contents = environment()
        .get_template("otelcol-builder.yaml")
        .and_then(|t| {
            t.render(context! { version, providers_version, output_path => output_path.display().to_string() })
        })
        .map_err(|source| RenderError::Template { template: "otelcol-builder.yaml".into(), source })?;
    check_parses(Path::new("otelcol-builder.yaml"), &contents)?;
    Ok(contents)
}

/// The demo services' settings, below the rendered dir.
pub const SERVICES_FILE: &str = "services.json";

/// What each demo service needs at start: its address, whom it calls, where spans go.
fn services_file(plan: &StackPlan) -> crate::services::config::ServicesFile {
    use crate::services::config::{Peer, ServiceSpec, ServicesFile};
    let host = plan.host();
    let bind = plan.bind();
    let kind = |k: crate::stack::ServiceKind| {
        serde_json::to_value(k).expect("kind serializes").as_str().unwrap_or_default().to_owned()
    };
    let services = &plan.config.services;
    ServicesFile {
        otlp_endpoint: format!("http://{host}:{}", plan.port(plan.otlp_target(), "otlp_grpc")),
        services: services
            .iter()
            .filter(|s| s.enabled)
            .map(|s| ServiceSpec {
                name: s.name.clone(),
                kind: kind(s.kind),
                listen: std::net::SocketAddr::new(bind, s.port).to_string(),
                latency_ms: s.latency.map_or(0, |d| d.get().as_millis() as u64),
                error_rate: s.error_rate,
                calls: s
                    .calls
                    .iter()
                    .filter_map(|name| services.iter().find(|t| &t.name == name && t.enabled))
                    .map(|t| Peer {
                        name: t.name.clone(),
                        kind: kind(t.kind),
                        url: format!("http://{host}:{}", t.port),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// This machine's name, as the Collector labels its host metrics.
pub fn host_name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "localhost".to_owned())
}

/// Writes `files` below `dir`, creating directories as needed.
pub fn write(files: &[RenderedFile], dir: &Path) -> std::io::Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.contents)?;
    }
    Ok(())
}

/// Parses YAML and JSON outputs back; other formats are passed through.
fn check_parses(path: &Path, contents: &str) -> Result<(), RenderError> {
    let parse_error = |format, message: String| RenderError::Parse { path: path.to_owned(), format, message };
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => serde_saphyr::from_str::<serde_json::Value>(contents)
            .map(drop)
            .map_err(|e| parse_error("YAML", e.to_string())),
        Some("json") => serde_json::from_str::<serde_json::Value>(contents)
            .map(drop)
            .map_err(|e| parse_error("JSON", e.to_string())),
        _ => Ok(()),
    }
}
