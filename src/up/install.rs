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

/// Provides `id`'s binary: the official release, else a source build, else (for an
/// optional component) leaves it out. `progress` hears each stage, as `{id}`.
pub async fn provide(
    config: &StackConfig,
    id: &ComponentId,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Provided> {
    let version = id.kind().binary(config).map(|spec| spec.version).unwrap_or_default();
    let what = id.to_string();
    let provided = provide_as(config, id, &version, &what, options, progress, cancel).await;
    let outcome = if provided.is_ok() { "done" } else { "failed" };
    progress.event(Event::Finished { what, outcome: outcome.to_owned() });
    provided
}

async fn provide_as(
    config: &StackConfig,
    id: &ComponentId,
    version: &str,
    what: &str,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Provided> {
    let kind = id.kind();
    let mut step = |stage: &str| progress.event(Event::Stage { what: what.to_owned(), stage: stage.to_owned() });
    step("fetching the official release");
    let official = tokio::select! {
        installed = official::install(id.name(), version, options, progress) => installed,
        // The download's staging dir is removed as the install is dropped.
        () = cancel.cancelled() => return Err(crate::Error::from(crate::error::Interrupted).into()),
    };
    let official = match official {
        Ok(outcome) => return Ok(Provided::Official(outcome)),
        // A release that arrived but failed verification is an error, never a reason
        // to build something else instead.
        Err(e) if !e.unavailable() => return Err(crate::Error::from(e).into()),
        Err(e) => format!("{e:#}"),
    };
    let recipe = kind.source_recipe(config).transpose().map_err(crate::Error::from)?;
    let go = which::which("go").is_ok();
    match recipe {
        Some(recipe) if go => {
            let built = tokio::task::block_in_place(|| source::build(id.name(), version, &recipe, false, cancel, &mut step))
                .map_err(crate::Error::from)
                .with_context(|| {
                    format!("the official release of {id} could not be had ({official}), so it was built from source, which failed")
                })?;
            Ok(Provided::Built { built, why: official })
        }
        None if kind.optional() => Ok(Provided::LeftOut {
            why: format!(
                "its official release could not be had ({official}) and it cannot be built from source; \
                 `obsdemo install {id}` adds it later (OBSDEMO_MIRROR for a mirror), then `obsdemo down && obsdemo up`"
            ),
        }),
        recipe => {
            let (source_build, go_advice) = match recipe {
                Some(_) => (
                    " and building it from source needs Go, which is not on PATH".to_owned(),
                    ", Go 1.24 or newer on PATH (go.dev/dl) to build it from source".to_owned(),
                ),
                None => (" and it cannot be built from source".to_owned(), String::new()),
            };
            Err(crate::Error::from(CannotProvide {
                component: id.name().to_owned(),
                official,
                source_build,
                go: go_advice,
            })
            .into())
        }
    }
}

/// Provides every enabled component of `plan` whose binary is missing.
pub async fn provide_missing(
    plan: &StackPlan,
    options: &InstallOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<(ComponentId, Provided)>> {
    let mut done = Vec::new();
    for id in super::missing(plan) {
        if id.kind().binary(&plan.config).is_some() {
            let provided = provide(&plan.config, &id, options, progress, cancel).await?;
            done.push((id, provided));
        }
    }
    Ok(done)
}
