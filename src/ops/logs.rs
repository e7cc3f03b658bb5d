//! The `logs` operation: the end of a component's log, and a [`Follow`] of what is
//! written after it.

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, HasKind};
use crate::logs::Follow;
use crate::stack::{StackConfig, StatePaths};

/// A component's log, opened.
#[derive(Debug)]
pub struct OpenedLog {
    /// The file.
    pub path: PathBuf,
    /// Its last lines.
    pub tail: String,
    /// What is written after them.
    pub follow: Follow,
}

/// No log by that name.
#[derive(Debug, thiserror::Error)]
pub enum NoLog {
    /// No component has the name.
    #[error("no component named `{name}`; logs exist for {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The component has not written one yet.
    #[error("{name} has no log yet ({path} does not exist); has `obsdemo up` run here?")]
    NotYet {
        /// The component.
        name: String,
        /// Where its log would be.
        path: String,
    },
}

impl HasKind for NoLog {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failure
    }
}

/// Every name a log may have in a stack of `config`: its components and the supervisor.
pub fn names(config: &StackConfig) -> Vec<String> {
    let mut known: Vec<String> = crate::components::all(config).iter().map(|id| id.name().to_owned()).collect();
    known.push("supervisor".to_owned());
    known
}

/// Opens `name`'s log in `paths` with its last `lines` lines; `known` are the names
/// a log may have.
pub fn open(known: &[String], paths: &StatePaths, name: &str, lines: usize) -> anyhow::Result<OpenedLog> {
    if !known.iter().any(|k| k == name) {
        return Err(Error::from(NoLog::Unknown { name: name.to_owned(), known: known.join(", ") }).into());
    }
    let path = paths.log(name);
    if !path.exists() {
        let path = path.display().to_string();
        return Err(Error::from(NoLog::NotYet { name: name.to_owned(), path }).into());
    }
    let (tail, offset) = crate::logs::tail_with_end(&path, lines)?;
    Ok(OpenedLog { follow: Follow::from(&path, offset), path, tail })
}
