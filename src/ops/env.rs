//! The `env` and `run` operations: the OpenTelemetry settings of a running stack (the
//! recorded span intake of `state.json`, never a guess from `stack.toml`), printed or
//! given to one program.

use std::ffi::OsString;

use crate::components::otel_env;
use crate::running::{NotRunning, RunningStack};
use crate::runtime::CancellationToken;
use crate::stack::{OtlpProtocol, StatePaths};

/// The standard `OTEL_*` variables pointing a process named `service`, whose SDK
/// speaks `protocol`, at the stack running in `paths`.
pub async fn running_stack_env(
    paths: &StatePaths,
    service: Option<&str>,
    protocol: OtlpProtocol,
) -> Result<Vec<(String, String)>, NotRunning> {
    let stack = RunningStack::find(paths).await?;
    // A stack without the Collector and Jaeger receives no spans.
    let intake = stack.intake(protocol).ok_or_else(|| NotRunning { dir: paths.root.display().to_string() })?;
    Ok(otel_env(intake, protocol, service))
}

/// Runs `command` (program and arguments) in the foreground with `vars` set and
/// returns its exit code (128+N when a signal N killed it). Cancelling passes the
/// interruption on to it, then waits for it to end.
pub async fn run_program(
    command: &[OsString],
    vars: Vec<(String, String)>,
    cancel: &CancellationToken,
) -> anyhow::Result<u8> {
    let (program, rest) = command.split_first().ok_or_else(|| anyhow::anyhow!("no command to run"))?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .envs(vars)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", program.to_string_lossy()))?;
    let pid = child.id();
    let status = tokio::select! {
        status = child.wait() => status?,
        () = cancel.cancelled() => {
            // Ctrl-C in a terminal reaches the whole foreground group, the command
            // too; a signal sent to obsdemo alone is passed on. Then wait for it.
            if let Some(pid) = pid {
                crate::platform::interrupt(pid);
            }
            child.wait().await?
        }
    };
    Ok(crate::platform::exit_code(&status))
}
