//! The `export kubernetes` operation: the stack as Kubernetes manifests, written into
//! a directory with a `kustomization.yaml`, or as one YAML stream.

use std::path::PathBuf;

use serde::Serialize;

use crate::components::Overrides;
use crate::components::deploy::cluster_plan;
use crate::error::Error;
use crate::export::kubernetes::{self, Options};
use crate::stack::StackConfig;

/// Where the manifests go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// A directory, with a `kustomization.yaml`; secrets already there are kept.
    Dir(PathBuf),
    /// One YAML stream, returned as text.
    Stream,
}

/// What `export kubernetes` produced: what its `--json` prints.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The directory written, if any.
    pub dir: Option<String>,
    /// The files written.
    pub files: Vec<String>,
    /// What differs from the stack on this machine, and what was left out.
    pub notes: Vec<String>,
    /// The YAML stream, for [`Destination::Stream`].
    #[serde(skip)]
    pub stream: Option<String>,
}

/// Exports the plan of `config` with `overrides` (ports, components left out).
pub fn kubernetes(
    config: StackConfig,
    overrides: &Overrides,
    options: &Options,
    to: &Destination,
) -> anyhow::Result<ExportReport> {
    let (plan, changed) = cluster_plan(config, overrides).map_err(Error::from)?;
    let kept = match to {
        Destination::Dir(dir) => kubernetes::kept_secrets(dir),
        Destination::Stream => Default::default(),
    };
    let export = kubernetes::export(&plan, options, &kept).map_err(Error::from)?;
    let notes: Vec<String> = changed.into_iter().chain(export.notes.iter().cloned()).collect();
    match to {
        Destination::Stream => {
            let mut stream = String::new();
            for m in &export.manifests {
                let text = m.text().map_err(Error::from)?;
                stream.push_str(&format!("---\n{}\n", text.trim_end()));
            }
            Ok(ExportReport { dir: None, files: Vec::new(), notes, stream: Some(stream) })
        }
        Destination::Dir(dir) => {
            let written = kubernetes::write(&export, options, dir).map_err(Error::from)?;
            Ok(ExportReport {
                dir: Some(dir.display().to_string()),
                files: written.iter().map(|p| p.display().to_string()).collect(),
                notes,
                stream: None,
            })
        }
    }
}
