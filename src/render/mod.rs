//! Templates -> config files. Every rendered YAML or JSON file is parsed back before
//! it is written, so a template error is caught here and not by a component at start.
//!
//! This module is only the engine: which file each component renders, from what,
//! is said by the component itself (`crate::components`).

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::stack::StatePaths;

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

/// Grafana dashboards, JSON with the datasource uid as a template variable. The two
/// drawn from panel definitions share one template.
pub const DASHBOARDS: &[(&str, &str)] = &[
    ("system-resources.json", include_str!("../../templates/grafana/dashboards/panels.json.j2")),
    ("red.json", include_str!("../../templates/grafana/dashboards/panels.json.j2")),
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
    /// A value from the configuration cannot be rendered.
    #[error("{0}")]
    Value(String),
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

/// Where the rendered configs will be used: it decides how one component reaches
/// another, and how a Collector is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// This machine, every process under obsdemo's supervisor: peers on the plan's host.
    Local,
    /// A Kubernetes cluster (`obsdemo export kubernetes`): peers by their Service
    /// names, host metrics from an agent on every node.
    Cluster,
}

/// Collects rendered files: each template rendered with its context, parsed back,
/// and kept for [`write`]. Components render their files into one of these.
pub struct Renderer<'a> {
    env: Environment<'static>,
    /// The state dir the files will live in (some configs name paths in it).
    pub paths: &'a StatePaths,
    /// This machine's name, as host metrics are labelled (fixed in tests).
    pub host_name: &'a str,
    /// Where the files will be used.
    pub site: Site,
    files: Vec<RenderedFile>,
}

impl<'a> Renderer<'a> {
    /// A renderer for a stack on this machine whose state dir is `paths`.
    pub fn new(paths: &'a StatePaths, host_name: &'a str) -> Self {
        Self { env: environment(), paths, host_name, site: Site::Local, files: Vec::new() }
    }

    /// A renderer for a stack in a Kubernetes cluster, whose containers see their files
    /// at the paths of `paths`; host metrics are labelled with each node's name.
    pub fn for_cluster(paths: &'a StatePaths) -> Self {
        // The Collector expands `${env:...}` in its config (confmap's env provider);
        // the agent's pod sets this variable from the downward API.
        Self { site: Site::Cluster, ..Self::new(paths, "${env:K8S_NODE_NAME}") }
    }

    /// `path` as the files at this site spell it: this machine's way here, and
    /// `/`-separated for a cluster's Linux containers (an export from Windows too).
    pub fn path(&self, path: &Path) -> String {
        match self.site {
            Site::Local => path.display().to_string(),
            Site::Cluster => slash_path(path),
        }
    }

    /// Renders `template` with `ctx` into the file `out` (below the rendered dir).
    pub fn emit(&mut self, template: &str, out: &str, ctx: minijinja::Value) -> Result<(), RenderError> {
        let contents = self
            .env
            .get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError::Template { template: template.to_owned(), source })?;
        self.add(out, contents)
    }

    /// Adds a file made without a template (JSON serialized by obsdemo), parsed back too.
    pub fn add(&mut self, out: &str, contents: String) -> Result<(), RenderError> {
        // Re-joined by component, so a Windows path reads `grafana\dashboards\...`.
        let path: PathBuf = Path::new(out).components().collect();
        check_parses(&path, &contents)?;
        self.files.push(RenderedFile { path, contents });
        Ok(())
    }

    /// Every file rendered so far.
    pub fn finish(self) -> Vec<RenderedFile> {
        self.files
    }
}

/// Renders one template outside a stack (the Collector Builder manifest), parsed back.
pub fn render_one(template: &str, out_name: &str, ctx: minijinja::Value) -> Result<String, RenderError> {
    let contents = environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|source| RenderError::Template { template: template.to_owned(), source })?;
    check_parses(Path::new(out_name), &contents)?;
    Ok(contents)
}

/// `path` with `/` between its parts, whatever this machine uses: a path inside a
/// Linux container.
pub fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    // `has_root` is false for "/x" on Windows (no drive); the text still starts with `/`.
    let rooted = path.has_root() || path.to_string_lossy().starts_with(['/', '\\']);
    if rooted { format!("/{}", parts.join("/")) } else { parts.join("/") }
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

impl crate::error::HasKind for RenderError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Failure
    }
}
