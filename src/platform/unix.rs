//! Unix: each child leads its own process group, so one signal reaches everything it
//! forked; on Linux it also dies with the supervisor (parent-death signal).

use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::PortHolder;

/// Makes `cmd` start in its own process group and, on Linux, get SIGKILL when the
/// thread that spawned it dies. The supervisor spawns every child from its single
/// runtime thread, which lives as long as the supervisor, so "thread dies" means
/// "supervisor dies".
pub fn own_group_dies_with_parent(cmd: &mut tokio::process::Command) {
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = nix::unistd::getpid();
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe calls are allowed. It makes two raw syscalls, prctl and
        // getppid, both async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                // The parent may have died between fork and prctl; then nobody is left
                // to signal us, so give up now rather than run as an orphan.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("supervisor exited while starting a child"));
                }
                Ok(())
            });
        }
    }
}

/// Makes a helper `cmd` (a Go build) lead its own process group, so
/// [`kill_group`] ends it with every process it forked.
pub fn own_group(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// Nothing to do on Unix: the process group and parent-death signal are set at spawn.
pub fn adopt(_child: &tokio::process::Child) {}

/// Resolves when the supervisor is asked to stop: SIGTERM or SIGINT.
pub async fn shutdown_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// Makes `cmd` a session leader, detached from the terminal and its Ctrl-C.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and the closure touches no shared state.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
}

/// Asks the process group `pgid` to stop (SIGTERM). Returns false if it is gone.
pub fn terminate_group(pgid: u32) -> bool {
    killpg(Pid::from_raw(pgid as i32), Signal::SIGTERM).is_ok()
}

/// Kills the process group `pgid` (SIGKILL).
pub fn kill_group(pgid: u32) {
    let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
}

/// Asks one process to stop (SIGTERM).
pub fn terminate(pid: u32) {
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
}

/// Passes Ctrl-C on to one process (SIGINT).
pub fn interrupt(pid: u32) {
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGINT);
}

/// The exit code a shell reports for `status`: its code, or 128 + the signal that
/// killed it.
pub fn exit_code(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => (128 + signal) as u8,
        (None, None) => 1,
    }
}

/// Kills one process (SIGKILL).
pub fn kill_process(pid: u32) {
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// Whether any process of group `pgid` is still alive (zombies count as gone).
pub fn group_alive(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // killpg(0) also succeeds for a group whose leader is a zombie, which a killed
        // child of a still-running parent stays until reaped; /proc tells the truth.
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return killpg_alive(pgid);
        };
        entries.flatten().any(|e| {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                return false;
            };
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_stat(&stat))
                .is_some_and(|(state, group)| group == pgid && state != 'Z')
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        killpg_alive(pgid)
    }
}

fn killpg_alive(pgid: u32) -> bool {
    killpg(Pid::from_raw(pgid as i32), None).is_ok()
}

/// State letter and process group from `/proc/PID/stat` (the name may hold spaces and
/// parentheses, so fields are counted after the last `)`).
#[cfg(target_os = "linux")]
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Waits until group `pgid` is gone: SIGTERM, `grace`, then SIGKILL.
pub async fn stop_group(pgid: u32, grace: Duration) {
    if !terminate_group(pgid) {
        return;
    }
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pgid) {
        if tokio::time::Instant::now() >= deadline {
            kill_group(pgid);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while group_alive(pgid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The process listening on TCP `port`, where the system lets us see it.
pub fn port_holder(port: u16) -> Option<PortHolder> {
    #[cfg(target_os = "linux")]
    {
        linux_port_holder(port)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        None
    }
}

/// Finds the listening socket's inode in /proc/net/tcp{,6}, then the process with a
/// file descriptor on that inode.
#[cfg(target_os = "linux")]
fn linux_port_holder(port: u16) -> Option<PortHolder> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    let local_port = cols.get(1)?.rsplit(':').next()?;
                    let listening = *cols.get(3)? == "0A";
                    (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                        .then(|| cols.get(9).map(|s| s.to_string()))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && targets.iter().any(|t| link.as_os_str() == t.as_str())
            {
                let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_owned();
                return Some(PortHolder { pid, name });
            }
        }
    }
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let holder = port_holder(l.local_addr().unwrap().port()).unwrap();
        assert_eq!(holder.pid, std::process::id());
    }

    #[test]
    fn stat_parsing_survives_odd_names() {
        assert_eq!(parse_stat("42 (a) b) S 1 42 42 0"), Some(('S', 42)));
    }
}
/// Why the supervisor will not run here: it runs on Unix.
pub const SUPERVISION_UNSUPPORTED: Option<&str> = None;

/// Lets a closed standard output end the process quietly, as `ls | head` does: Rust
/// ignores SIGPIPE, so a write to a closed pipe would fail and `println!` panic.
/// Only for the command line: the supervisor and the services, which are separate
/// executions of this binary, keep Rust's default (they write to sockets, where a
/// vanished peer must be an error, not death).
pub fn end_quietly_on_closed_stdout() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: `signal` is unsafe because replacing a handler can break code that
    // relies on the old one. This runs first thing in `main`, before any thread or
    // runtime exists, and sets the default disposition (no Rust handler runs), which
    // is what every process starts with before Rust's own start-up ignores SIGPIPE.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Lets only the owner read, write or enter `path`: mode 0700 for a directory, 0600
/// for anything else (a file, a socket).
pub fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Timers are millisecond-precise here already: nothing to ask for.
pub(super) fn timer_resolution(_precise: bool) {}
