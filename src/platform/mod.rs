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

/// Millisecond timers for this process while it lives. On Windows a wait's timeout
/// otherwise ends on the system clock's tick, 15.6 ms by default, so Tokio's sleeps
/// came up to 15 ms late (tokio-rs/tokio#5021): a paced load left in bursts and every
/// request counted as late, and a service's simulated latency grew. Elsewhere timers
/// are that precise already and this does nothing.
#[must_use = "timers are precise only while this lives"]
pub struct PreciseTimers(());

/// Asks for [`PreciseTimers`] until the value is dropped.
pub fn precise_timers() -> PreciseTimers {
    timer_resolution(true);
    PreciseTimers(())
}

impl Drop for PreciseTimers {
    fn drop(&mut self) {
        timer_resolution(false);
    }
}

/// The process listening on a TCP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    /// Its pid.
    pub pid: u32,
    /// Its command name.
    pub name: String,
}

/// Whether `port` can be bound on `bind` right now.
pub fn port_is_free(bind: std::net::IpAddr, port: u16) -> bool {
    std::net::TcpListener::bind(std::net::SocketAddr::new(bind, port)).is_ok()
}

/// Waits until every port in `ports` can be bound on `bind`, or `timeout` passes.
/// Returns the ports still busy.
pub async fn wait_ports_free(bind: std::net::IpAddr, ports: &[u16], timeout: std::time::Duration) -> Vec<u16> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let busy: Vec<u16> = ports.iter().copied().filter(|p| !port_is_free(bind, *p)).collect();
        if busy.is_empty() || tokio::time::Instant::now() >= deadline {
            return busy;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Opens `url` in the user's default browser: `open` on macOS, `start` on Windows
/// (through `cmd`, whose built-in it is; the empty title keeps a quoted URL from
/// being taken for one), `xdg-open` elsewhere. Returns once the opener has started.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut command = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]).arg(url.replace('&', "^&"));
        c
    } else if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    } else {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).spawn().map(drop)
}
