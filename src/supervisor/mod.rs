//! Running the stack: a detached supervisor process that owns every component.
//!
//! - [`launch`]: the launch file and starting the supervisor detached.
//! - [`run`]: the supervisor itself.
//! - [`child`]: one component's life: dependencies, spawn, readiness, restarts, stop.
//! - [`control`]: the request/answer protocol between the CLI and the supervisor.
//! - [`transport`]: the channel it runs on (a Unix socket, or loopback with a token).
//! - [`state`]: `state.json`, process identity (pid + start time), CPU and memory.
//! - [`preflight`]: checks before anything starts.
//! - [`stop`]: `down`, with or without a live supervisor.

pub mod child;
pub mod control;
pub mod launch;
pub mod preflight;
pub mod report;
pub mod run;
pub mod start;
pub mod state;
pub mod stop;
pub mod transport;

use std::net::IpAddr;
use std::time::Duration;

/// Waits until every port in `ports` can be bound on `bind`, or `timeout` passes.
/// Returns the ports still busy.
pub async fn wait_ports_free(bind: IpAddr, ports: &[u16], timeout: Duration) -> Vec<u16> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let busy: Vec<u16> = ports.iter().copied().filter(|p| !preflight::port_is_free(bind, *p)).collect();
        if busy.is_empty() || tokio::time::Instant::now() >= deadline {
            return busy;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
