//! Providing a component's binary the way a user with or without internet gets it:
//! the official release first; where that cannot be had (no network, an HTTP error,
//! a platform not published) and Go is present, a build from source; where neither
//! works, one error naming every way. A component that cannot be built from source
//! and is optional for the stack (Grafana) is left out instead, with the reason.

use crate::components::{ComponentId, StackPlan};
use crate::error::{ErrorKind, HasKind};
use crate::install::official::{self, InstallOptions, Outcome};
use crate::install::source::{self, Built};
use crate::progress::{Event, Progress};
use crate::runtime::CancellationToken;
use crate::stack::StackConfig;
use anyhow::Context;

/// How a component's binary was provided.
#[derive(Debug)]
pub enum Provided {
    /// The official release (or it was installed already).
    Official(Outcome),
    /// Built from source, because the official release could not be had.
    Built {
        /// What the build did.
        built: Built,
        /// Why the official release was not used.
        why: String,
    },
    /// Left out of this stack: no way to provide it here, and the stack runs without it.
    LeftOut {
        /// Why, and how to add it later.
        why: String,
    },
}

/// A component that cannot be provided in any way here.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot install {component}: the official release could not be had ({official}){source_build}; \
     ways out: a network that reaches the release (or OBSDEMO_MIRROR / --mirror pointing at a mirror of it){go}, \
     or `[{component}] binary = \"/path/to/it\"` in stack.toml"
)]
pub struct CannotProvide {
    /// The component.
    pub component: String,
    /// Why the download failed.
    pub official: String,
    /// Why no source build happened, as a clause.
    pub source_build: String,
    /// The Go advice, as a clause.
    pub go: String,
}

impl HasKind for CannotProvide {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Conflict
    }
}

/// Provides every enabled component of `plan` whose binary is missing ([`provide`]).
pub async fn provide_missing(
    plan: &StackPlan,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<(ComponentId, Provided)>> {
    let ids = super::missing(plan).into_iter().filter(|id| id.kind().binary(&plan.config).is_some()).collect();
    provide(&plan.config, ids, options, progress, cancel).await
}

/// Provides each of `ids`' binaries: the official release, else a source build, else
/// (for an optional component) leaves it out. Every release is fetched first, then
/// the source builds of those that could not be had run, each build's downloads done
/// while the one before it compiles. `progress` hears each stage, as `{id}`. The
/// first failure ends it.
pub async fn provide(
    config: &StackConfig,
    ids: Vec<ComponentId>,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<(ComponentId, Provided)>> {
    // In the order asked, whichever way each was provided.
    let order = |id: &ComponentId| ids.iter().position(|i| i == id);
    let mut done = Vec::new();
    let mut to_build = Vec::new();
    for id in ids.iter().cloned() {
        let provided = match release(config, &id, options, progress, cancel).await {
            Ok(Release::Provided(provided)) => Ok(provided),
            Ok(Release::Unavailable(official)) => match stand_in(config, &id) {
                Ok(Some(build)) => {
                    to_build.push((id, official, build));
                    continue;
                }
                Ok(None) => without_release(config, &id, official),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        finished(&id, progress, provided.is_ok());
        done.push((id, provided?));
    }
    let builds: Vec<source::SourceBuild> = to_build.iter().map(|(_, _, build)| build.clone()).collect();
    // A build is named as its component is (`stage_of`): the build's component name.
    let ahead = |build: &source::SourceBuild, stage: &str| stage_of(&build.component, progress)(stage);
    // They stop at the first failure, which is the answer.
    let results = tokio::task::block_in_place(|| {
        source::download_ahead(&builds, false, cancel, &ahead, |build| {
            build.build(false, cancel, &mut stage_of(&build.component, progress))
        })
    });
    for ((id, official, _), result) in to_build.into_iter().zip(results) {
        let provided = built(&id, official, result);
        finished(&id, progress, provided.is_ok());
        done.push((id, provided?));
    }
    done.sort_by_key(|(id, _)| order(id));
    Ok(done)
}

/// What fetching a component's official release came to.
enum Release {
    /// It is installed.
    Provided(Provided),
    /// It could not be had, for this reason.
    Unavailable(String),
}

async fn release(
    config: &StackConfig,
    id: &ComponentId,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Release> {
    let version = id.kind().binary(config).map(|spec| spec.version).unwrap_or_default();
    stage_of(id.name(), progress)("fetching the official release");
    let official = tokio::select! {
        installed = official::install(id.name(), &version, options, progress) => installed,
        // The download's staging dir is removed as the install is dropped.
        () = cancel.cancelled() => return Err(crate::Error::from(crate::error::Interrupted).into()),
    };
    match official {
        Ok(outcome) => Ok(Release::Provided(Provided::Official(outcome))),
        // A release that arrived but failed verification is an error, never a reason
        // to build something else instead.
        Err(e) if !e.unavailable() => Err(crate::Error::from(e).into()),
        Err(e) => Ok(Release::Unavailable(format!("{e:#}"))),
    }
}

/// The source build of `id` at the stack file's version, for this machine: `None`
/// when it has no recipe (Grafana).
pub fn source_build(config: &StackConfig, id: &ComponentId) -> anyhow::Result<Option<source::SourceBuild>> {
    let kind = id.kind();
    let recipe = kind.source_recipe(config).transpose().map_err(crate::Error::from)?;
    let version = kind.binary(config).map(|spec| spec.version).unwrap_or_default();
    Ok(recipe.map(|recipe| source::SourceBuild::new(id.name(), &version, recipe)))
}

/// The source build that stands in for `id`'s release: when it has a recipe and Go
/// is on PATH.
fn stand_in(config: &StackConfig, id: &ComponentId) -> anyhow::Result<Option<source::SourceBuild>> {
    Ok(source_build(config, id)?.filter(|_| which::which("go").is_ok()))
}

/// What a source build standing in for the release (which could not be had because
/// of `official`) came to.
fn built(
    id: &ComponentId,
    official: String,
    result: Result<Built, crate::install::InstallError>,
) -> anyhow::Result<Provided> {
    let built = result.map_err(crate::Error::from).with_context(|| {
        format!("the official release of {id} could not be had ({official}), so it was built from source, which failed")
    })?;
    Ok(Provided::Built { built, why: official })
}

/// Without its release and without a source build: an optional component is left
/// out; any other is an error naming every way to provide it.
fn without_release(config: &StackConfig, id: &ComponentId, official: String) -> anyhow::Result<Provided> {
    let kind = id.kind();
    let has_recipe = kind.source_recipe(config).is_some();
    if !has_recipe && kind.optional() {
        return Ok(Provided::LeftOut {
            why: format!(
                "its official release could not be had ({official}) and it cannot be built from source; \
                 `obsdemo install {id}` adds it later (OBSDEMO_MIRROR for a mirror), then `obsdemo down && obsdemo up`"
            ),
        });
    }
    let (source_build, go) = match has_recipe {
        true => (
            " and building it from source needs Go, which is not on PATH".to_owned(),
            ", Go 1.24 or newer on PATH (go.dev/dl) to build it from source".to_owned(),
        ),
        false => (" and it cannot be built from source".to_owned(), String::new()),
    };
    Err(crate::Error::from(CannotProvide { component: id.name().to_owned(), official, source_build, go }).into())
}

/// Tells `progress` each stage of providing the component `name`.
fn stage_of<'a>(name: &str, progress: &'a dyn Progress) -> impl FnMut(&str) + 'a {
    let what = name.to_owned();
    move |stage: &str| progress.event(Event::Stage { what: what.clone(), stage: stage.to_owned() })
}

/// Tells `progress` that providing `id` ended.
fn finished(id: &ComponentId, progress: &dyn Progress, ok: bool) {
    let outcome = if ok { "done" } else { "failed" };
    progress.event(Event::Finished { what: id.to_string(), outcome: outcome.to_owned() });
}
