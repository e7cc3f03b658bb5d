//! The stack for engines other than obsdemo's own supervisor: the same plan and the
//! same rendered configs, written as another engine's manifests.

pub mod kubernetes;
