//! The control channel's transport. On Unix: a socket file in the state dir, owner-only
//! three times over: the 0700 state dir, the socket's own 0600 mode, and a check of the
//! peer's uid on every connection (so loosening either mode lets no one else in). Elsewhere (Windows): a loopback TCP port, with the port
//! and a random token written to that same file, and every connection must open with
//! the token, so only a user who can read the state dir can talk to the supervisor.

use std::path::Path;

#[cfg(unix)]
mod imp {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use tokio::net::{UnixListener, UnixStream};

    /// The supervisor's end, and the uid allowed to connect (the socket's owner).
    pub struct Listener {
        inner: UnixListener,
        owner: u32,
    }

    /// One connection.
    pub type Stream = UnixStream;

    /// Listens at `path`, replacing a stale socket file; only its owner may connect.
    pub fn bind(path: &Path) -> std::io::Result<Listener> {
        let _ = std::fs::remove_file(path);
        let inner = UnixListener::bind(path)?;
        crate::platform::owner_only(path)?;
        Ok(Listener { inner, owner: std::fs::metadata(path)?.uid() })
    }

    impl Listener {
        /// The next connection from the owner; any other is closed unanswered.
        pub async fn accept(&self) -> std::io::Result<Stream> {
            loop {
                let (stream, _) = self.inner.accept().await?;
                match stream.peer_cred().map(|c| c.uid()) {
                    Ok(uid) if uid == self.owner => return Ok(stream),
                    Ok(uid) => crate::supervisor::note(format_args!("refused a control connection from uid {uid}")),
                    Err(e) => crate::supervisor::note(format_args!("refused a control connection: {e}")),
                }
            }
        }
    }

    /// Connects to the supervisor listening at `path`.
    pub async fn connect(path: &Path) -> std::io::Result<Stream> {
        UnixStream::connect(path).await
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    use serde::{Deserialize, Serialize};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// What the control file holds.
    #[derive(Serialize, Deserialize)]
    struct Endpoint {
        port: u16,
        token: String,
    }

    /// The supervisor's end.
    pub struct Listener {
        inner: TcpListener,
        token: String,
    }

    /// One connection.
    pub type Stream = TcpStream;

    /// Listens on a loopback port and writes port and token to `path`.
    pub fn bind(path: &Path) -> std::io::Result<Listener> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let inner = TcpListener::from_std(std_listener)?;
        let token = crate::stack::paths::random_token(32);
        let endpoint = Endpoint { port: inner.local_addr()?.port(), token: token.clone() };
        std::fs::write(path, serde_json::to_vec(&endpoint).map_err(std::io::Error::other)?)?;
        Ok(Listener { inner, token })
    }

    impl Listener {
        /// The next connection that presents the token; others are dropped.
        pub async fn accept(&self) -> std::io::Result<Stream> {
            loop {
                let (mut stream, _) = self.inner.accept().await?;
                let mut presented = vec![0u8; self.token.len() + 1];
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(2), stream.read_exact(&mut presented)).await;
                if matches!(read, Ok(Ok(_))) && presented[..self.token.len()] == *self.token.as_bytes() {
                    return Ok(stream);
                }
            }
        }
    }

    /// Connects to the supervisor whose port and token are in `path`.
    pub async fn connect(path: &Path) -> std::io::Result<Stream> {
        let endpoint: Endpoint = serde_json::from_slice(&std::fs::read(path)?).map_err(std::io::Error::other)?;
        let mut stream = TcpStream::connect(("127.0.0.1", endpoint.port)).await?;
        stream.write_all(format!("{}\n", endpoint.token).as_bytes()).await?;
        Ok(stream)
    }
}

pub use imp::{Listener, Stream};

/// Listens for control connections at `path` (the state dir's `supervisor.sock`).
pub fn bind(path: &Path) -> std::io::Result<Listener> {
    imp::bind(path)
}

/// Connects to the supervisor of the state dir whose control file is `path`.
pub async fn connect(path: &Path) -> std::io::Result<Stream> {
    imp::connect(path).await
}
