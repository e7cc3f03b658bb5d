//! Operating-system specifics behind one interface: process groups and their signals,
//! the parent-death signal, detaching the supervisor, and finding who holds a port.
//!
//! Unix is implemented (`unix.rs`); on other systems obsdemo builds but the supervisor
//! refuses to start, saying so (Windows job objects are future work, see the README).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(not(unix))]
mod unsupported;
#[cfg(not(unix))]
pub use unsupported::*;

/// The process listening on a TCP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    /// Its pid.
    pub pid: u32,
    /// Its command name.
    pub name: String,
}
