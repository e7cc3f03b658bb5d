//! One keep-alive HTTP/1.1 connection per worker, opened on first use and after any
//! failure. Built on hyper's connection API directly, as oha does, so the load
//! generator adds as little as possible to each request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::scenario::PlannedRequest;
use crate::services::tracing_http::TRACE_RESPONSE_HEADER;

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

/// The trace id in a `traceresponse` value (`00-<32 hex>-<16 hex>-<2 hex>`).
fn trace_id_of(value: &[u8]) -> Option<u128> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    (id.len() == 32).then(|| u128::from_str_radix(id, 16).ok()).flatten().filter(|id| *id != 0)
}

/// A worker's connection to the target.
pub struct Connection {
    addr: SocketAddr,
    /// Every request's headers, parsed once (the `Host` header first).
    headers: HeaderMap,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// A connection to `addr` (not opened yet), sending `Host: authority` and
    /// `extra_headers` on every request; a header that is not valid HTTP is left out.
    pub fn new(addr: SocketAddr, authority: &str, extra_headers: &[(String, String)]) -> Self {
        let mut headers = HeaderMap::new();
        let pairs =
            std::iter::once(("host", authority)).chain(extra_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (name, value) in pairs {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(name, value);
            }
        }
        Self { addr, headers, sender: None }
    }

    /// Sends `req`, waiting at most `timeout` for the whole exchange.
    pub async fn send(&mut self, req: &PlannedRequest, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(Ok(answer)) => Outcome::Answered(answer),
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

    async fn exchange(&mut self, req: &PlannedRequest) -> Result<Answer, &'static str> {
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
        let body = match &req.body {
            Some(b) => Full::new(Bytes::from(b.clone())),
            None => Full::new(Bytes::new()),
        };
        let mut request = hyper::Request::new(body);
        *request.method_mut() = req.method.clone();
        *request.uri_mut() = req.path.parse().map_err(|_| "io")?;
        *request.headers_mut() = self.headers.clone();
        if req.body.is_some() {
            request.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let response = sender.send_request(request).await.map_err(|_| "io")?;
        let status = response.status().as_u16();
        let trace_id = response.headers().get(TRACE_RESPONSE_HEADER).and_then(|v| trace_id_of(v.as_bytes()));
        let body = response.into_body().collect().await.map_err(|_| "io")?.to_bytes();
        Ok(Answer { status, body, trace_id })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trace_ids_are_read_from_traceresponse() {
        let id = super::trace_id_of(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assert_eq!(id, Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(super::trace_id_of(b"00-00000000000000000000000000000000-b7ad6b7169203331-01"), None);
        assert_eq!(super::trace_id_of(b"garbage"), None);
    }
}
