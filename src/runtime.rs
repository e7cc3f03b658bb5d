//! The one way obsdemo builds a Tokio runtime, and the one shutdown token of a process:
//! cancelled on Ctrl-C or SIGTERM (Ctrl-Break, close and shutdown on Windows), and
//! handed down to every long-running task, which finishes when it is cancelled.

use std::future::Future;

pub use tokio_util::sync::CancellationToken;

/// How many threads the runtime gets.
#[derive(Clone, Copy, Debug)]
pub enum Threads {
    /// One: the supervisor (a child's parent-death signal is tied to the thread that
    /// spawned it, so that thread must be the process's only one).
    One,
    /// A small pool for the command line and the services.
    Pool(usize),
}

/// Runs `main` to completion on a new runtime, passing it the process's shutdown token.
pub fn run<T, F>(threads: Threads, main: impl FnOnce(CancellationToken) -> F) -> std::io::Result<T>
where
    F: Future<Output = T>,
{
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::Pool(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n.max(1));
            b
        }
    };
    let runtime = builder.enable_all().build()?;
    Ok(runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            crate::platform::shutdown_requested().await;
            on_signal.cancel();
        });
        main(shutdown).await
    }))
}
