//! The `status` operation: the state and health of every component of the stack in a
//! state dir, now or (with `wait`) once every enabled one is healthy.

use std::time::{Duration, Instant};

use crate::error::{Error, Interrupted};
use crate::runtime::CancellationToken;
use crate::stack::StatePaths;
use crate::status::{StatusReport, UiMemory};

/// What `status` is asked to do.
#[derive(Clone, Debug)]
pub struct StatusOptions {
    /// The state dir.
    pub paths: StatePaths,
    /// Wait at most this long for every enabled component to be healthy.
    pub wait: Option<Duration>,
}

/// The stack's status, or `None` when no stack has run in the state dir. With `wait`,
/// returns once healthy or when the wait is over (the report tells which).
pub async fn run(options: StatusOptions, cancel: &CancellationToken) -> anyhow::Result<Option<StatusReport>> {
    run_remembering(options, &mut UiMemory::default(), cancel).await
}

/// [`run`] for a caller that asks again and again (the console's live page): each
/// process is asked whether it serves its UI once, and `memory` keeps the answer.
pub async fn run_remembering(
    options: StatusOptions,
    memory: &mut UiMemory,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<StatusReport>> {
    let deadline = Instant::now() + options.wait.unwrap_or_default();
    loop {
        let report = tokio::select! {
            report = crate::status::collect_remembering(&options.paths, memory) => report?,
            () = cancel.cancelled() => return Err(Error::from(Interrupted).into()),
        };
        let healthy = report.as_ref().is_some_and(StatusReport::all_healthy);
        if options.wait.is_none() || healthy || Instant::now() >= deadline {
            return Ok(report);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = cancel.cancelled() => return Err(Error::from(Interrupted).into()),
        }
    }
}
