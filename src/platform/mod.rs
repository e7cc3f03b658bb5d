//! Operating-system specifics behind one interface: process groups and their signals,
//! the parent-death signal, detaching the supervisor, and finding who holds a port.
//!
//! One module per platform behind the same functions: `unix.rs` (process groups,
//! parent-death signal on Linux) and `windows.rs` (a kill-on-close Job Object,
//! `taskkill`). Anywhere else obsdemo builds but the supervisor refuses to start.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
mod unsupported;
#[cfg(not(any(unix, windows)))]
pub use unsupported::*;

/// The process listening on a TCP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    /// Its pid.
    pub pid: u32,
    /// Its command name.
    pub name: String,
}
