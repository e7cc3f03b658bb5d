//! obsdemo: one binary that brings up a local, Docker-free observability stack and
//! proves that the telemetry arrives.
//!
//! # Layout
//!
//! Dependencies point down; nothing reaches up into a layer above it. `ARCHITECTURE.md`
//! at the repository root is the full map: each folder, what it must not know, the
//! invariants, and the files to touch to add a component, a command or an export target.
//!
//! - [`cli`]: one module per subcommand; parses flags, picks a progress sink, prints
//!   the report, maps errors to exit codes. It does no work of its own.
//! - [`ops`]: one operation per command (options, cancellation, progress sink, a
//!   serializable report): what the terminal and the console both call.
//! - [`progress`]: the events an operation tells while it works, and the sink trait.
//! - [`up`]: what `up` does before the supervisor takes over: resolve binaries,
//!   install what is missing, check ports, render, write the launch file.
//! - [`components`]: what each component *is*, one file per kind (Jaeger, Collector,
//!   Prometheus, Grafana, demo service): listeners, files, command line, probes,
//!   dependencies, endpoints, binary, source build; and the plan built from them.
//! - [`supervisor`]: the detached process that owns every component: spawning,
//!   process groups, readiness gating, restarts, `state.json`, the control socket,
//!   and `down`. It runs processes by name and knows no kind of component.
//! - [`running`]: the one typed view of a running stack (`RunningStack`), through
//!   which commands find its endpoints.
//! - [`status`]: the status of a running stack (state, probes, usage), for `status`
//!   and `doctor`.
//! - [`doctor`]: walks the path telemetry takes through a running stack.
//! - [`console`]: obsdemo's own page over the running stack (`obsdemo console`, run
//!   by the supervisor): token-guarded, live, calling the same operations.
//! - [`export`]: the same stack as another engine's manifests (Kubernetes).
//! - [`load`]: the load generator and trace verification.
//! - [`render`]: the template engine; every rendered YAML and JSON is parsed back.
//! - [`install`]: finding binaries; official releases; building from source with Go.
//! - [`services`]: the demo microservices (depends on nothing above).
//! - [`stack`]: `stack.toml` types, loading with precise errors, the state dir, the
//!   launch file the supervisor reads.
//! - [`health`]: HTTP and TCP probes.
//! - [`platform`]: process groups, signals, ports and their holders, per operating system.
//! - [`runtime`]: the one Tokio runtime builder and the process's shutdown token.
//! - [`error`]: what kind of failure an error is, for exit codes.
//! - [`http`]: the one HTTP client constructor.
//! - [`logs`]: reading component logs.

pub mod cli;
pub mod components;
pub mod console;
pub mod doctor;
pub mod error;
pub mod export;
#[cfg(test)]
mod golden;
pub mod health;
pub mod http;
pub mod install;
pub mod load;
pub mod logs;
pub mod ops;
pub mod platform;
pub mod progress;
pub mod render;
pub mod running;
pub mod runtime;
pub mod services;
pub mod stack;
pub mod status;
pub mod supervisor;
pub mod up;

pub use error::Error;
