//! Systems that are neither Unix nor Windows: obsdemo renders configs and installs
//! binaries there, but the supervisor refuses to start.

use std::time::Duration;

use super::PortHolder;

const UNSUPPORTED: &str = "process supervision is not implemented on this OS yet";

/// Unsupported here: children would not stop with the supervisor.
pub fn own_group_dies_with_parent(_cmd: &mut tokio::process::Command) {}
/// Unsupported here.
pub fn adopt(_child: &tokio::process::Child) {}
/// Unsupported here.
pub fn own_group(_cmd: &mut std::process::Command) {}
/// Resolves on Ctrl-C.
pub async fn shutdown_requested() {
    let _ = tokio::signal::ctrl_c().await;
}
/// Unsupported here.
pub fn detach(_cmd: &mut std::process::Command) {}
/// Unsupported here.
pub fn terminate_group(_pgid: u32) -> bool {
    false
}
/// Unsupported here.
pub fn kill_group(_pgid: u32) {}
/// Unsupported here.
pub fn terminate(_pid: u32) {}
/// Unsupported here.
pub fn kill_process(_pid: u32) {}
/// Unsupported here.
pub fn group_alive(_pgid: u32) -> bool {
    false
}
/// Unsupported here.
pub async fn stop_group(_pgid: u32, _grace: Duration) {}
/// Unsupported here.
pub fn port_holder(_port: u16) -> Option<PortHolder> {
    None
}
/// Why the supervisor will not run here.
pub const SUPERVISION_UNSUPPORTED: Option<&str> = Some(UNSUPPORTED);

/// Nothing to do where obsdemo cannot supervise anyway.
pub fn end_quietly_on_closed_stdout() {}

/// Nothing to forward where obsdemo cannot supervise.
pub fn interrupt(_pid: u32) {}

/// The exit code of `status`, as far as a byte holds it.
pub fn exit_code(status: &std::process::ExitStatus) -> u8 {
    status.code().map_or(1, |c| c as u8)
}

/// Nothing to do: obsdemo knows no way to restrict access on this system.
pub fn owner_only(_path: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

/// Nothing to ask for here.
pub(super) fn timer_resolution(_precise: bool) {}
