//! The `install` operation: obtain the third-party binaries, as official releases
//! (downloaded and checksum-verified, else built from source) or built from source
//! with Go on request; and the table `install --list` shows.

use std::path::PathBuf;

use serde::Serialize;

use crate::components::ComponentId;
use crate::error::{Error, ErrorKind, HasKind};
use crate::install::manifest::Manifest;
use crate::install::official::{InstallOptions, Outcome};
use crate::install::reported::reported_version;
use crate::install::source::{self, Built, GoTarget, SourceBuild};
use crate::progress::{Event, Progress};
use crate::runtime::CancellationToken;
use crate::stack::StackConfig;
use crate::up::install::{Provided, provide};

/// What `install` is asked to do.
#[derive(Clone, Debug)]
pub struct InstallRequest {
    /// The stack file, read: it names each component's version.
    pub config: StackConfig,
    /// The components, by name; empty for every one that can be installed this way.
    pub components: Vec<String>,
    /// Build with Go instead of downloading, for this platform (`None`: this machine's).
    pub from_source: Option<Option<GoTarget>>,
    /// Download options (and `force`, which rebuilds too).
    pub options: InstallOptions,
}

/// How one component's binary was provided: what `install --json` lists.
#[derive(Clone, Debug, Serialize)]
pub struct Installed {
    /// The component.
    pub component: ComponentId,
    /// The version the stack file names.
    pub version: String,
    /// `release` or `source`; `none` when it was left out.
    pub from: &'static str,
    /// It was there already: nothing was fetched or built.
    pub already: bool,
    /// Where it is.
    pub dir: Option<PathBuf>,
    /// Why it was built from source although a release was asked for.
    pub release_unavailable: Option<String>,
    /// Why it was left out of the stack, and how to add it later.
    pub left_out: Option<String>,
}

impl Installed {
    /// The record of `provided`, for `id` of `config`.
    pub fn new(config: &StackConfig, id: &ComponentId, provided: Provided) -> Self {
        let version = id.kind().binary(config).map(|spec| spec.version).unwrap_or_default();
        let mut out = Self {
            component: id.clone(),
            version,
            from: "release",
            already: false,
            dir: None,
            release_unavailable: None,
            left_out: None,
        };
        match provided {
            Provided::Official(Outcome::AlreadyInstalled(dir)) => (out.already, out.dir) = (true, Some(dir)),
            Provided::Official(Outcome::Installed(dir)) => out.dir = Some(dir),
            Provided::Built { built, why } => {
                out = Self::built(out, built);
                out.release_unavailable = Some(why);
            }
            Provided::LeftOut { why } => (out.from, out.left_out) = ("none", Some(why)),
        }
        out
    }

    /// The record of `id` built from source at `version`.
    fn from_source(id: ComponentId, (version, built): (String, Built)) -> Self {
        let record = Self {
            component: id,
            version,
            from: "source",
            already: false,
            dir: None,
            release_unavailable: None,
            left_out: None,
        };
        record.built(built)
    }

    fn built(mut self, built: Built) -> Self {
        self.from = "source";
        match built {
            Built::AlreadyInstalled(dir) => (self.already, self.dir) = (true, Some(dir)),
            Built::Installed(dir) => self.dir = Some(dir),
        }
        self
    }
}

/// What `install` did: every component, in order.
#[derive(Debug, Serialize)]
pub struct InstallReport {
    /// One record per component asked for.
    pub installed: Vec<Installed>,
}

impl InstallReport {
    /// Whether a component was left out (the machine is in the way of it).
    pub fn left_any_out(&self) -> bool {
        self.installed.iter().any(|i| i.left_out.is_some())
    }
}

/// A component name `install` does not know.
#[derive(Debug, thiserror::Error)]
#[error("`{name}` is not a component that can be {how}; choose from {choices}")]
pub struct NotInstallable {
    name: String,
    how: &'static str,
    choices: String,
}

impl HasKind for NotInstallable {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Installs what `request` names, one component after the other. Cancelling ends a
/// download or a Go build at once and leaves nothing half-installed.
pub async fn run(
    request: InstallRequest,
    cancel: &CancellationToken,
    progress: &dyn Progress,
) -> anyhow::Result<InstallReport> {
    let InstallRequest { config, components, from_source, options } = request;
    let ids = choose(&config, &components, from_source.is_some())?;
    let Some(platform) = from_source else {
        let provided = provide(&config, ids, &options, progress, cancel).await?;
        let installed = provided.into_iter().map(|(id, provided)| Installed::new(&config, &id, provided)).collect();
        return Ok(InstallReport { installed });
    };
    let builds = ids
        .iter()
        .map(|id| source_build(&config, id, platform.clone()))
        .collect::<anyhow::Result<Vec<SourceBuild>>>()?;
    let ahead = |build: &SourceBuild, stage: &str| {
        progress.event(Event::Stage { what: what_is_built(build), stage: stage.to_owned() })
    };
    // Builds run for minutes in Go processes: off the runtime's worker. They stop at
    // the first failure, which is the answer.
    let results = tokio::task::block_in_place(|| {
        source::download_ahead(&builds, options.force, cancel, &ahead, |build| {
            build_from_source(build, options.force, cancel, progress)
        })
    });
    let mut installed = Vec::new();
    for (id, result) in ids.into_iter().zip(results) {
        installed.push(Installed::from_source(id, result?));
    }
    Ok(InstallReport { installed })
}

/// The components `names` asks for, or every one that can be installed this way.
fn choose(config: &StackConfig, names: &[String], from_source: bool) -> Result<Vec<ComponentId>, Error> {
    let choices: Vec<ComponentId> = ComponentId::third_party()
        .into_iter()
        .filter(|id| !from_source || id.kind().source_recipe(config).is_some())
        .collect();
    if names.is_empty() {
        return Ok(choices);
    }
    names
        .iter()
        .map(|name| {
            choices.iter().find(|id| id.name() == name).cloned().ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(ComponentId::name).collect();
                let how = if from_source { "built from source" } else { "installed" };
                Error::from(NotInstallable { name: name.clone(), how, choices: names.join(", ") })
            })
        })
        .collect()
}

/// The source build of `id`, for `platform` (else this machine).
fn source_build(config: &StackConfig, id: &ComponentId, platform: Option<GoTarget>) -> anyhow::Result<SourceBuild> {
    let build = crate::up::install::source_build(config, id)?
        .ok_or_else(|| anyhow::anyhow!("`{id}` cannot be built from source"))?;
    Ok(SourceBuild { platform, ..build })
}

/// How progress names a source build: `prometheus 3.5.0`.
fn what_is_built(build: &SourceBuild) -> String {
    format!("{} {}", build.component, build.version)
}

/// Runs `build`, telling `progress` each step and the end.
fn build_from_source(
    build: &SourceBuild,
    force: bool,
    cancel: &CancellationToken,
    progress: &dyn Progress,
) -> Result<(String, Built), Error> {
    let what = what_is_built(build);
    let mut step = |stage: &str| progress.event(Event::Stage { what: what.clone(), stage: stage.to_owned() });
    let result = build.build(force, cancel, &mut step);
    let outcome = match &result {
        Ok(Built::AlreadyInstalled(_)) => "already built",
        Ok(Built::Installed(_)) => "built",
        Err(_) => "failed",
    };
    progress.event(Event::Finished { what, outcome: outcome.to_owned() });
    Ok((build.version.clone(), result?))
}

/// One row of `install --list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The component.
    pub component: ComponentId,
    /// The version the stack file names, which every command uses.
    pub version: String,
    /// The version obsdemo has release data for.
    pub release_data_for: Option<String>,
    /// What is installed at `version`: `release` or `source`.
    pub installed: Option<&'static str>,
    /// The binary `up` would run, if one is found.
    pub up_uses: Option<PathBuf>,
    /// The version that binary says it is (its own `--version` or `version`).
    pub reports: Option<String>,
}

/// Every third-party component: its version, what is installed, what `up` would run
/// and the version that binary reports.
pub fn list(config: &StackConfig) -> Vec<Listed> {
    let table = crate::install::releases::table();
    ComponentId::third_party()
        .into_iter()
        .filter_map(|id| id.kind().binary(config).map(|spec| (id, spec)))
        .map(|(id, spec)| {
            let dir = crate::install::resolve::install_dir(id.name(), &spec.version);
            let installed = Manifest::read(&dir)
                .map(|m| if m.source.starts_with("official release") { "release" } else { "source" });
            let up_uses = crate::install::resolve(&spec, false).ok();
            Listed {
                release_data_for: table.get(id.name()).map(|r| r.version.clone()),
                installed,
                reports: up_uses.as_deref().and_then(|p| reported_version(p, &spec.version_args)),
                up_uses,
                version: spec.version,
                component: id,
            }
        })
        .collect()
}
