//! What the supervisor runs: one fully resolved process per enabled component.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::health::Probe;

/// A component as a process: everything needed to start, gate, and check it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Component name (`jaeger`, `collector`, ...).
    pub name: String,
    /// The binary, resolved to a path before anything starts.
    pub program: PathBuf,
    /// Arguments, config file paths included.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Components that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// All must pass for the component to count as ready and healthy.
    pub probes: Vec<Probe>,
    /// The TCP ports it listens on; `down` waits until they are free.
    pub ports: Vec<u16>,
}
