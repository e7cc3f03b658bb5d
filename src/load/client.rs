//! One keep-alive HTTP/1.1 connection per worker, opened on first use and after any
//! failure. Built on hyper's connection API directly, as oha does, so the load
//! generator adds as little as possible to each request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::scenario::PlannedRequest;

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this status; the body is kept for 2xx creates.
    Answered(u16, Bytes),
    /// No answer: `connect`, `timeout` or `io`.
    Failed(&'static str),
}

/// A worker's connection to the target.
pub struct Connection {
    addr: SocketAddr,
    authority: String,
    extra_headers: Vec<(String, String)>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// A connection to `addr` (not opened yet), sending `extra_headers` on every request.
    pub fn new(addr: SocketAddr, authority: String, extra_headers: Vec<(String, String)>) -> Self {
        Self { addr, authority, extra_headers, sender: None }
    }

    /// Sends `req`, waiting at most `timeout` for the whole exchange.
    pub async fn send(&mut self, req: &PlannedRequest, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(Ok((status, body))) => Outcome::Answered(status, body),
            Ok(Err(kind)) => {
                self.sender = None;
                Outcome::Failed(kind)
            }
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                self.sender = None;
                Outcome::Failed("timeout")
            }
        }
    }

    async fn exchange(&mut self, req: &PlannedRequest) -> Result<(u16, Bytes), &'static str> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr).await.map_err(|_| "connect")?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|_| "connect")?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("just connected");
        sender.ready().await.map_err(|_| "io")?;
        let mut builder =
            hyper::Request::builder().method(req.method).uri(&req.path).header(hyper::header::HOST, &self.authority);
        for (name, value) in &self.extra_headers {
            builder = builder.header(name, value);
        }
        let body = match &req.body {
            Some(b) => {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(b.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body).map_err(|_| "io")?;
        let response = sender.send_request(request).await.map_err(|_| "io")?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|_| "io")?.to_bytes();
        Ok((status, body))
    }
}
