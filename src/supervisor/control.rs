//! The supervisor's control socket: one JSON request per connection, one JSON answer.
//!
//! `{"cmd":"status"}` answers the current [`StackState`]; `{"cmd":"stop"}` answers
//! `{"stopped":true}` once every process is gone and every port is free.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::state::StackState;
use super::transport::{self, Listener};

/// A request to the supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    /// The current state.
    Status,
    /// Stop everything and exit.
    Stop,
    /// Restart one component: its process group is stopped, and its restart policy
    /// starts it again (counted as a restart).
    Restart {
        /// The component, by name.
        name: String,
    },
    /// Stop one component and keep it stopped (not a crash: it is not restarted).
    Hold {
        /// The component, by name.
        name: String,
    },
    /// Start again a component stopped by [`Request::Hold`].
    Release {
        /// The component, by name.
        name: String,
    },
}

/// Each component's hold switch: `true` keeps it stopped.
pub type Holds = std::collections::HashMap<String, tokio::sync::watch::Sender<bool>>;

/// Sent to the supervisor's main loop when a client asks it to stop; the sender is
/// answered once the stack is down.
pub type StopRequest = oneshot::Sender<()>;

/// Serves the socket until the supervisor exits. `state` gives the current state.
pub async fn serve(
    listener: Listener,
    state: impl Fn() -> StackState + Send + Sync + 'static,
    stops: mpsc::Sender<StopRequest>,
    holds: Holds,
) {
    let state = std::sync::Arc::new(state);
    let holds = std::sync::Arc::new(holds);
    // Ends a component's process group; its task decides what follows (a restart, or
    // waiting while it is held).
    let end = {
        let state = state.clone();
        move |name: &str| -> Result<u32, String> {
            let current = state();
            let component = current.components.iter().find(|c| c.name == name).ok_or("no such component")?;
            let process = component.process.filter(|p| p.is_alive()).ok_or("it is not running")?;
            crate::platform::kill_group(process.pid);
            Ok(process.pid)
        }
    };
    let end = std::sync::Arc::new(end);
    loop {
        let Ok(stream) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let stops = stops.clone();
        let (end, holds) = (end.clone(), holds.clone());
        tokio::spawn(async move {
            let (read, mut write) = tokio::io::split(stream);
            let mut line = String::new();
            if BufReader::new(read).read_line(&mut line).await.is_err() {
                return;
            }
            let answer = match serde_json::from_str::<Request>(&line) {
                Ok(Request::Status) => serde_json::to_string(&state()).expect("state serializes"),
                Ok(Request::Stop) => {
                    let (done, wait) = oneshot::channel();
                    if stops.send(done).await.is_ok() {
                        let _ = wait.await;
                    }
                    r#"{"stopped":true}"#.to_owned()
                }
                Ok(Request::Restart { name }) => match end(&name) {
                    Ok(pid) => serde_json::json!({ "restarting": name, "stopped_pid": pid }).to_string(),
                    Err(why) => serde_json::json!({ "error": format!("cannot restart {name}: {why}") }).to_string(),
                },
                Ok(Request::Hold { name }) => match holds.get(&name) {
                    Some(hold) => {
                        hold.send_replace(true);
                        match end(&name) {
                            Ok(pid) => serde_json::json!({ "stopping": name, "stopped_pid": pid }).to_string(),
                            Err(why) => {
                                serde_json::json!({ "error": format!("cannot stop {name}: {why}") }).to_string()
                            }
                        }
                    }
                    None => serde_json::json!({ "error": format!("no component named {name}") }).to_string(),
                },
                Ok(Request::Release { name }) => match holds.get(&name) {
                    Some(hold) if *hold.borrow() => {
                        hold.send_replace(false);
                        serde_json::json!({ "starting": name }).to_string()
                    }
                    Some(_) => serde_json::json!({ "error": format!("{name} was not stopped from here") }).to_string(),
                    None => serde_json::json!({ "error": format!("no component named {name}") }).to_string(),
                },
                Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
            };
            let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
        });
    }
}

/// Sends `request` to the supervisor of the state dir whose socket is `socket` and
/// returns its answer. Errors when no supervisor answers within `timeout`.
pub async fn request(socket: &Path, request: Request, timeout: Duration) -> std::io::Result<serde_json::Value> {
    let exchange = async {
        let mut stream = transport::connect(socket).await?;
        let mut line = serde_json::to_string(&request).expect("request serializes");
        line.push('\n');
        stream.write_all(line.as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).await?;
        serde_json::from_str(&answer).map_err(std::io::Error::other)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the supervisor did not answer"))?
}

/// The supervisor's state, when one answers on `socket`.
pub async fn status(socket: &Path) -> Option<StackState> {
    let answer = request(socket, Request::Status, Duration::from_secs(2)).await.ok()?;
    serde_json::from_value(answer).ok()
}
