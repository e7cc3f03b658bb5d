//! obsdemo: one binary that brings up a local, Docker-free observability stack and
//! proves that the telemetry arrives.
//!
//! # Layout
//!
//! Dependencies point down; nothing below `cli` reaches up into it.
//!
//! - [`cli`]: one module per subcommand; parses flags, shows progress, prints tables.
//! - [`supervisor`]: the detached process that owns every component: spawning,
//!   process groups, readiness gating, restarts, `state.json`, the control socket,
//!   and `down`.
//! - [`load`]: the load generator and trace verification.
//! - [`render`]: templates -> config files and command lines, each parsed back.
//! - [`install`]: finding binaries; building Jaeger and the Collector from source.
//! - [`services`]: the demo microservices (depends on nothing above).
//! - [`stack`]: `stack.toml` types, loading with precise errors, the port plan.
//! - [`health`]: HTTP and TCP probes.
//! - [`platform`]: process groups, signals, port holders, per operating system.
//! - [`http`]: the one HTTP client constructor.
//! - [`logs`]: reading component logs.

pub mod cli;
pub mod health;
pub mod http;
pub mod install;
pub mod load;
pub mod logs;
pub mod platform;
pub mod render;
pub mod services;
pub mod stack;
pub mod supervisor;
