//! Running the stack: a detached supervisor process that owns every component. It
//! only runs and stops processes: it knows components by name, never by kind, and
//! depends on nothing above `stack`, `health` and `platform`.
//!
//! - [`launch`]: starting the supervisor detached (it runs the launch file that
//!   `crate::up` wrote).
//! - [`run`]: the supervisor itself.
//! - [`child`]: one component's life: dependencies, spawn, readiness, restarts, stop.
//! - [`control`]: the request/answer protocol between the CLI and the supervisor.
//! - [`transport`]: the channel it runs on (a Unix socket, or loopback with a token).
//! - [`state`]: `state.json`, process identity (pid + start time), CPU and memory.
//! - [`stop`]: `down`, with or without a live supervisor.

pub mod child;
pub mod control;
pub mod launch;
pub mod run;
pub mod state;
pub mod stop;
pub mod transport;

/// Writes one line to the supervisor's own log (its stderr). A full disk or a closed
/// log must never take the supervisor down with it, so a failed write is dropped, where
/// `eprintln!` would panic.
pub(crate) fn note(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "obsdemo supervisor: {line}");
}
