//! The OpenTelemetry settings of a running stack, for `obsdemo env` and `obsdemo run`:
//! the recorded span intake of `state.json`, never a guess from `stack.toml`.

use crate::components::otel_env;
use crate::running::{NotRunning, RunningStack};
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
