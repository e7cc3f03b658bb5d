//! One keep-alive HTTP/1.1 connection per worker, opened on first use and after any
//! failure. The request and the answer go straight between the socket and two
//! buffers the connection keeps ([`http1`](super::http1) does the format), as wrk
//! does: no task, channel or header map per request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http1::{self, Chunk, Framing};
use super::scenario::PlannedRequest;
use super::trace_context::Caller;

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this status; the body is kept for 2xx creates.
    Answered(Answer),
    /// No answer: `connect`, `timeout` or `io`.
    Failed(&'static str),
}

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Its body.
    pub body: Bytes,
    /// The trace the request made, from the `traceresponse` header, when the server
    /// sent one (the demo services do).
    pub trace_id: Option<u128>,
}

/// A failed exchange, by the kind the report counts it under.
type Failure = &'static str;

/// A failed attempt, and whether any of the answer had arrived.
enum Failed {
    /// None had: the server may never have seen the request.
    Unanswered(Failure),
    /// Some had.
    Answered(Failure),
}
use Failed::{Answered, Unanswered};

impl Failed {
    fn kind(self) -> Failure {
        match self {
            Unanswered(kind) | Answered(kind) => kind,
        }
    }
}

/// Reads ask the kernel for at least this much room.
const READ_SIZE: usize = 16 * 1024;
/// The most a declared body length reserves ahead of its bytes arriving.
const MAX_RESERVE: usize = 1024 * 1024;

/// A worker's connection to the target.
pub struct Connection {
    addr: SocketAddr,
    /// `Host` and the extra headers in wire form, the same for every request.
    headers: Vec<u8>,
    stream: Option<TcpStream>,
    /// Bytes received and not yet taken as an answer.
    inbox: BytesMut,
    /// The request being sent.
    outbox: Vec<u8>,
}

impl Connection {
    /// A connection to `addr` (not opened yet), sending `Host: authority` and
    /// `extra_headers` on every request; a header that is not valid HTTP is left out.
    pub fn new(addr: SocketAddr, authority: &str, extra_headers: &[(String, String)]) -> Self {
        let headers = http1::header_block(authority, extra_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Self { addr, headers, stream: None, inbox: BytesMut::with_capacity(READ_SIZE), outbox: Vec::new() }
    }

    /// Sends `req`, starting the trace `trace` when given, waiting at most `timeout`
    /// for the whole exchange.
    pub async fn send(&mut self, req: &PlannedRequest, trace: Option<Caller>, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, self.exchange(req, trace)).await {
            Ok(Ok(answer)) => Outcome::Answered(answer),
            Ok(Err(kind)) => {
                self.stream = None;
                Outcome::Failed(kind)
            }
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                self.stream = None;
                Outcome::Failed("timeout")
            }
        }
    }

    async fn exchange(&mut self, req: &PlannedRequest, trace: Option<Caller>) -> Result<Answer, Failure> {
        let body = req.body.as_deref();
        http1::encode_request(&mut self.outbox, req.method, &req.path, &self.headers, trace, body).map_err(|_| "io")?;
        let reused = self.stream.as_ref().is_some_and(is_idle_and_open);
        if !reused {
            self.stream = None;
        }
        match self.attempt(req).await {
            // The server closed the kept-alive connection as the request went out, before
            // the close was seen. RFC 9112 section 9.3.1 lets a client send an idempotent
            // request again on a new connection; a POST may have been acted on, so not it.
            Err(Unanswered(_)) if reused && matches!(req.method, "GET" | "HEAD") => {
                self.stream = None;
                self.attempt(req).await.map_err(Failed::kind)
            }
            other => other.map_err(Failed::kind),
        }
    }

    /// Sends the request in `outbox` and reads its answer, on a new connection if none is open.
    async fn attempt(&mut self, req: &PlannedRequest) -> Result<Answer, Failed> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await.map_err(|_| Unanswered("connect"))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.inbox.clear();
        }
        let Self { stream: Some(stream), inbox, outbox, .. } = self else { unreachable!("connected above") };
        stream.write_all(outbox).await.map_err(|_| Unanswered("io"))?;

        let head = loop {
            match http1::parse_head(inbox, req.method == "HEAD").map_err(|_| Answered("io"))? {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                Some(head) if (100..200).contains(&head.status) && head.status != 101 => inbox.advance(head.len),
                Some(head) => break head,
                None if inbox.is_empty() => receive(stream, inbox).await.map_err(Unanswered)?,
                None => receive(stream, inbox).await.map_err(Answered)?,
            }
        };
        if head.status == 101 {
            return Err(Answered("io"));
        }
        inbox.advance(head.len);
        let body = self::body(head.framing, stream, inbox).await.map_err(Answered)?;
        // Bytes beyond the answer were never asked for: the connection is out of step.
        if !head.keep_alive || !inbox.is_empty() {
            self.stream = None;
        }
        Ok(Answer { status: head.status, body, trace_id: head.trace_id })
    }
}

/// Which of a name's addresses to load: the first that takes a connection, else the
/// first. `localhost` is `::1` before `127.0.0.1` on Windows and macOS, and a server
/// bound to `127.0.0.1` (as Django's `runserver 127.0.0.1:8000` is) refuses every
/// connection to `::1`; a browser or curl tries the next address, and so does this.
pub async fn reachable(addrs: &[SocketAddr], timeout: Duration) -> Option<SocketAddr> {
    if addrs.len() > 1 {
        for addr in addrs {
            if let Ok(Ok(_)) = tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                return Some(*addr);
            }
        }
    }
    addrs.first().copied()
}

/// Reads the body of an answer framed as `framing`, whose head is already taken.
async fn body(framing: Framing, stream: &mut TcpStream, inbox: &mut BytesMut) -> Result<Bytes, Failure> {
    Ok(match framing {
        Framing::Empty => Bytes::new(),
        Framing::Length(n) => {
            // Room for the whole body at once, up to a bound: a length is only a claim.
            inbox.reserve(n.saturating_sub(inbox.len()).min(MAX_RESERVE));
            while inbox.len() < n {
                receive(stream, inbox).await?;
            }
            inbox.split_to(n).freeze()
        }
        Framing::Chunked => {
            let mut body = BytesMut::new();
            loop {
                match http1::next_chunk(inbox).map_err(|_| "io")? {
                    Chunk::Data { start, len, next } => {
                        body.extend_from_slice(&inbox[start..start + len]);
                        inbox.advance(next);
                    }
                    Chunk::End { next } => {
                        inbox.advance(next);
                        break body.freeze();
                    }
                    Chunk::Partial => receive(stream, inbox).await?,
                }
            }
        }
        Framing::UntilClose => {
            while stream.read_buf(inbox).await.map_err(|_| "io")? > 0 {
                inbox.reserve(READ_SIZE);
            }
            inbox.split().freeze()
        }
    })
}

/// Reads more of the answer; the server closing the connection first is a failure.
async fn receive(stream: &mut TcpStream, inbox: &mut BytesMut) -> Result<(), Failure> {
    inbox.reserve(READ_SIZE);
    match stream.read_buf(inbox).await {
        Ok(0) | Err(_) => Err("io"),
        Ok(_) => Ok(()),
    }
}

/// Whether a kept-alive connection can take the next request: the server has not
/// closed it, or sent anything, since the last answer. tokio answers from the
/// readiness epoll last reported, so this makes no system call unless the socket
/// became readable, which on an idle connection means it was closed.
fn is_idle_and_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_address_that_takes_a_connection_is_loaded_not_the_first() {
        // A server on IPv4 loopback only, and its name resolving to IPv6 loopback first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let v4 = listener.local_addr().unwrap();
        let v6: SocketAddr = format!("[::1]:{}", v4.port()).parse().unwrap();
        let timeout = Duration::from_secs(2);
        assert_eq!(reachable(&[v6, v4], timeout).await, Some(v4));
        // None takes one: the first, whose failures the run reports.
        drop(listener);
        assert_eq!(reachable(&[v6, v4], timeout).await, Some(v6));
        assert_eq!(reachable(&[v4], timeout).await, Some(v4));
        assert_eq!(reachable(&[], timeout).await, None);
    }
}
