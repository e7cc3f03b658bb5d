//! Windows: no process groups or parent-death signal, so every child joins one Job
//! Object created with "kill on job close". When the supervisor exits, however it
//! exits, Windows closes its last handle to the job and ends every process in it.
//! Components are stopped with `taskkill /T` (their whole process tree): first asking,
//! then forcing.

use std::sync::OnceLock;
use std::time::Duration;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
};
use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, DETACHED_PROCESS};

use super::PortHolder;

/// The supervisor's job, created on first use and never closed by hand: its handle
/// closes when the process ends, which is the point.
struct Job(HANDLE);

// SAFETY: a job handle is a kernel object reference; Windows allows using it from any
// thread, and it is only passed to thread-safe Win32 calls.
unsafe impl Send for Job {}
// SAFETY: as above; the handle is never mutated after creation.
unsafe impl Sync for Job {}

fn job() -> Option<&'static Job> {
    static JOB: OnceLock<Option<Job>> = OnceLock::new();
    JOB.get_or_init(|| {
        // SAFETY: CreateJobObjectW with null attributes and name creates an unnamed job
        // and returns its handle or null; no pointer we pass outlives the call.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return None;
        }
        // SAFETY: zeroed is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION (plain data).
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `info` is a live, correctly sized struct of the class named, and the
        // handle was just created.
        let ok = unsafe {
            SetInformationJobObject(
                handle,
                JobObjectExtendedLimitInformation,
                (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        (ok != 0).then_some(Job(handle))
    })
    .as_ref()
}

/// Gives the child its own process group (so console Ctrl events aimed at the
/// supervisor do not reach it); [`adopt`] ties its life to the supervisor's.
pub fn own_group_dies_with_parent(cmd: &mut tokio::process::Command) {
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

/// Makes a helper `cmd` (a Go build) a process tree of its own, which [`kill_group`]
/// ends whole (`taskkill /T`).
pub fn own_group(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

/// Puts a just-spawned child into the supervisor's kill-on-close job.
pub fn adopt(child: &tokio::process::Child) {
    if let (Some(job), Some(handle)) = (job(), child.raw_handle()) {
        // SAFETY: both handles are valid: the job lives for the process, and the
        // child's handle is held by `child` for the duration of this call.
        unsafe { AssignProcessToJobObject(job.0, handle as HANDLE) };
    }
}

/// Starts the supervisor with no console and its own process group, holding no handle
/// of the caller's: `obsdemo up | more` must end when `up` does, not when the stack
/// stops, so the pipe's write end must not live on in the supervisor.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    use windows_sys::Win32::Foundation::{HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation};
    use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE};
    cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
    // The standard handles this process was given are inheritable, and CreateProcess
    // passes every inheritable handle on, not only the child's own stdio (which Rust
    // duplicates for it, inheritable, from the log file we set). Clearing the flag on
    // ours changes nothing for this process itself.
    for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
        // SAFETY: GetStdHandle returns a handle owned by this process, null, or
        // INVALID_HANDLE_VALUE (both skipped); SetHandleInformation only changes the
        // inherit flag of that live handle, which nothing else relies on.
        unsafe {
            let handle = GetStdHandle(which);
            if !handle.is_null() && handle != INVALID_HANDLE_VALUE {
                SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0);
            }
        }
    }
}

fn taskkill(pid: u32, force: bool) -> bool {
    let mut cmd = std::process::Command::new("taskkill");
    cmd.args(["/T", "/PID", &pid.to_string()]);
    if force {
        cmd.arg("/F");
    }
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Asks the process tree of `pid` to stop. Returns false if it is gone.
///
/// A console program without a window (every component: they run with
/// CREATE_NO_WINDOW) cannot be asked: taskkill answers "can only be terminated
/// forcefully" and fails, and Wine's taskkill has no `/T`. Waiting out a grace period
/// would then only delay the inevitable, one component after another, so a request
/// that fails forces at once.
pub fn terminate_group(pid: u32) -> bool {
    if !group_alive(pid) {
        return false;
    }
    if !taskkill(pid, false) {
        kill_group(pid);
    }
    true
}

/// Kills the process tree of `pid`; the process alone where the tree cannot be
/// named (Wine's taskkill has no `/T`). Its children are then ended with the
/// supervisor's job.
pub fn kill_group(pid: u32) {
    if !taskkill(pid, true) {
        terminate_process(pid);
    }
}

/// Ends one process with TerminateProcess.
fn terminate_process(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_TERMINATE, TerminateProcess};
    // SAFETY: OpenProcess returns a handle we own or null (checked); TerminateProcess
    // and CloseHandle receive only that live handle, closed exactly once.
    unsafe {
        let handle = OpenProcess(PROCESS_TERMINATE, 0, pid);
        if handle.is_null() {
            return false;
        }
        let ended = TerminateProcess(handle, 1) != 0;
        CloseHandle(handle);
        ended
    }
}

/// Asks one process to stop.
pub fn terminate(pid: u32) {
    taskkill(pid, false);
}

/// Passes Ctrl-C on: on Windows it already reached every process of the console, so
/// there is nothing to forward.
pub fn interrupt(_pid: u32) {}

/// The exit code of `status`, as far as a byte holds it.
pub fn exit_code(status: &std::process::ExitStatus) -> u8 {
    status.code().map_or(1, |c| c as u8)
}

/// Kills one process.
pub fn kill_process(pid: u32) {
    if !taskkill(pid, true) {
        terminate_process(pid);
    }
}

/// Whether the process `pid` is alive.
pub fn group_alive(pid: u32) -> bool {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let Ok(mut sys) = System::new() else { return false };
    let id = sysinfo::Pid::from_u32(pid);
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[id]), true, ProcessRefreshKind::nothing());
    sys.process(id).is_some()
}

/// Waits until the tree of `pid` is gone: ask, `grace`, then force.
pub async fn stop_group(pid: u32, grace: Duration) {
    if !terminate_group(pid) {
        return;
    }
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if group_alive(pid) {
        kill_group(pid);
    }
}

/// Not looked up on Windows yet: the refusal still names the port and component.
pub fn port_holder(_port: u16) -> Option<PortHolder> {
    None
}

/// Windows can run the supervisor.
pub const SUPERVISION_UNSUPPORTED: Option<&str> = None;

/// Resolves when the supervisor is asked to stop: Ctrl-C, console close, shutdown.
pub async fn shutdown_requested() {
    use tokio::signal::windows;
    let (Ok(mut close), Ok(mut shutdown)) = (windows::ctrl_close(), windows::ctrl_shutdown()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = close.recv() => {}
        _ = shutdown.recv() => {}
    }
}

/// Lets a closed standard output end the process quietly, as `dir | more` does when
/// `more` quits: Windows has no SIGPIPE, so a failed print (which `println!` turns into
/// a panic) exits with success instead of a panic message.
pub fn end_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        if message.starts_with("failed printing to stdout") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Lets only the current user open `path`, Windows' counterpart of mode 0700/0600: a
/// protected DACL (nothing inherited from the parent, where a folder outside the user's
/// profile usually grants "Users" read access) with one entry for the current user,
/// which a directory passes on to what is created in it.
pub fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::windows::ffi::OsStrExt;

    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS};
    use windows_sys::Win32::Security::Authorization::{SE_FILE_OBJECT, SetNamedSecurityInfoW};
    use windows_sys::Win32::Security::{
        ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION,
        GetLengthSid, GetTokenInformation, InitializeAcl, OBJECT_INHERIT_ACE, PROTECTED_DACL_SECURITY_INFORMATION,
        TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    let last = std::io::Error::last_os_error;
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing, and
    // `token` is a live out-parameter.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(last());
    }
    // TOKEN_USER and the SID it points to, in u64s so the struct's pointer is aligned;
    // 512 bytes hold it with room to spare (a SID is at most 68 bytes).
    let mut user = [0u64; 64];
    let mut needed = 0u32;
    // SAFETY: the buffer is live and its size in bytes is what is passed; `token` is open.
    let filled = unsafe {
        GetTokenInformation(token, TokenUser, user.as_mut_ptr().cast(), size_of_val(&user) as u32, &mut needed)
    };
    // SAFETY: `token` was opened above and is closed exactly once.
    unsafe { CloseHandle(token) };
    if filled == 0 {
        return Err(last());
    }
    // SAFETY: GetTokenInformation wrote a TOKEN_USER at the start of the aligned buffer;
    // its SID pointer points into the same buffer, which outlives every use below.
    let sid = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    // SAFETY: `sid` is a valid SID (above).
    let sid_len = unsafe { GetLengthSid(sid) } as usize;
    // The size of an ACL with one ACCESS_ALLOWED_ACE, whose last field is the SID's start.
    let acl_len = size_of::<ACL>() + size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>() + sid_len;
    let mut acl_buf = vec![0u64; acl_len.div_ceil(8)];
    let acl = acl_buf.as_mut_ptr().cast::<ACL>();
    let inherit = if path.is_dir() { OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE } else { 0 };
    // SAFETY: `acl` points to at least `acl_len` zeroed, aligned bytes that live until
    // the end of this function, and `sid` is valid.
    let built = unsafe {
        InitializeAcl(acl, acl_len as u32, ACL_REVISION) != 0
            && AddAccessAllowedAceEx(acl, ACL_REVISION, inherit, FILE_ALL_ACCESS, sid) != 0
    };
    if !built {
        return Err(last());
    }
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is NUL-terminated and `acl` a valid ACL, both live for the call;
    // owner, group and SACL are left as they are (null).
    let status = unsafe {
        SetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

/// Asks Windows for (or gives back) a 1 ms timer resolution for this process. Since
/// Windows 10 2004 it affects only the processes that ask (Microsoft's
/// `timeBeginPeriod` documentation), so the stack's other processes keep the default.
pub(super) fn timer_resolution(precise: bool) {
    use windows_sys::Win32::Media::{timeBeginPeriod, timeEndPeriod};
    // SAFETY: both take a period in milliseconds and touch no memory of ours; each
    // `timeEndPeriod(1)` matches one earlier `timeBeginPeriod(1)`, as their contract asks.
    unsafe {
        if precise {
            timeBeginPeriod(1);
        } else {
            timeEndPeriod(1);
        }
    }
}
