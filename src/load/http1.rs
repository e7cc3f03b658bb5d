//! The HTTP/1.1 wire format, as much of it as a load generator needs: a request
//! written into a reused buffer, and an answer's head and body read from the bytes
//! received, with `httparse` (hyper's own parser). No request object, header map or
//! task per request: that is where hyper's client spent the time wrk does not.
//!
//! Framing follows RFC 9112 section 6.3: no body for HEAD, 1xx, 204 and 304; chunked
//! when the last transfer coding is `chunked`; otherwise `Content-Length`; otherwise
//! the body runs until the server closes the connection.

use std::io::Write;

use super::trace_context::Caller;
use crate::services::tracing_http::TRACE_RESPONSE_HEADER;

/// The answer is not HTTP/1.x as RFC 9112 allows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// How the body of an answer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// There is none.
    Empty,
    /// After this many bytes.
    Length(usize),
    /// In chunks, the last of size 0.
    Chunked,
    /// When the server closes the connection.
    UntilClose,
}

/// An answer's status line and the headers a load generator acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// Bytes of the status line and headers, up to and including the blank line.
    pub len: usize,
    /// How the body ends.
    pub framing: Framing,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// The trace id from a W3C `traceresponse` header, when there is one.
    pub trace_id: Option<u128>,
}

/// Most headers an answer may have; the demo services send five.
const MAX_HEADERS: usize = 64;

/// `Host: authority` followed by `extra` in wire form, each line ending in CRLF. A
/// pair that is not a valid header is left out, as it cannot be sent.
pub fn header_block<'a>(authority: &'a str, extra: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in std::iter::once(("host", authority)).chain(extra) {
        if is_token(name) && is_field_value(value) {
            block.extend_from_slice(name.as_bytes());
            block.extend_from_slice(b": ");
            block.extend_from_slice(value.as_bytes());
            block.extend_from_slice(b"\r\n");
        }
    }
    block
}

/// Writes a request into `out` (cleared first): `headers` is a [`header_block`],
/// followed by a `traceparent` when the request starts a trace; a body is sent as
/// JSON. A path with spaces or control characters cannot be sent.
pub fn encode_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    headers: &[u8],
    trace: Option<Caller>,
    body: Option<&[u8]>,
) -> Result<(), Malformed> {
    if path.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Malformed);
    }
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    out.extend_from_slice(headers);
    if let Some(caller) = trace {
        caller.write_header(out);
    }
    if let Some(body) = body {
        write!(out, "content-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len()).expect("Vec grows");
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Parses the head of an answer at the start of `buf`: `None` while it is
/// incomplete. `to_head` says the request was a HEAD, whose answer has no body.
pub fn parse_head(buf: &[u8], to_head: bool) -> Result<Option<ResponseHead>, Malformed> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf).map_err(|_| Malformed)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.ok_or(Malformed)?;
    let mut keep_alive = response.version == Some(1);
    let (mut length, mut chunked, mut coded, mut trace_id) = (None, false, false, None);
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(header.value)?;
            // Repeated lengths must agree (RFC 9110 section 8.6).
            if length.is_some_and(|l| l != n) {
                return Err(Malformed);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            // Only the last coding says how the body ends.
            chunked = last_token(header.value).is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && response.version == Some(0) {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(TRACE_RESPONSE_HEADER) {
            trace_id = trace_id_of(header.value);
        }
    }
    let framing = if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if coded {
        Framing::UntilClose
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    if framing == Framing::UntilClose {
        keep_alive = false;
    }
    Ok(Some(ResponseHead { status, len, framing, keep_alive, trace_id }))
}

/// One step through a chunked body at the start of `buf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// `buf[start..start + len]` is data; the next chunk starts at `next`.
    Data {
        /// Where the data starts.
        start: usize,
        /// How long it is.
        len: usize,
        /// Where the next chunk starts.
        next: usize,
    },
    /// The last chunk and its trailers end at `next`.
    End {
        /// Bytes up to the end of the body.
        next: usize,
    },
    /// More bytes are needed.
    Partial,
}

/// Reads the chunk at the start of `buf`.
pub fn next_chunk(buf: &[u8]) -> Result<Chunk, Malformed> {
    let (start, size) = match httparse::parse_chunk_size(buf).map_err(|_| Malformed)? {
        httparse::Status::Complete(found) => found,
        httparse::Status::Partial => return Ok(Chunk::Partial),
    };
    if size == 0 {
        // Trailer lines follow, then a blank line.
        let mut at = start;
        loop {
            let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") else { return Ok(Chunk::Partial) };
            if end == 0 {
                return Ok(Chunk::End { next: at + 2 });
            }
            at += end + 2;
        }
    }
    let len = usize::try_from(size).map_err(|_| Malformed)?;
    let end = start.checked_add(len).filter(|end| *end <= usize::MAX - 2).ok_or(Malformed)?;
    match buf.get(end..end + 2) {
        None => Ok(Chunk::Partial),
        Some(b"\r\n") => Ok(Chunk::Data { start, len, next: end + 2 }),
        Some(_) => Err(Malformed),
    }
}

/// The trace id in a `traceresponse` value (`00-<32 hex>-<16 hex>-<2 hex>`), as the
/// W3C Trace Context Level 2 draft defines it; an all-zero id is no id.
pub fn trace_id_of(value: &[u8]) -> Option<u128> {
    let id = value.get(3..35).filter(|_| value.get(2) == Some(&b'-') && value.get(35) == Some(&b'-'))?;
    let id = u128::from_str_radix(std::str::from_utf8(id).ok()?, 16).ok()?;
    (id != 0).then_some(id)
}

fn parse_length(value: &[u8]) -> Result<usize, Malformed> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Malformed);
    }
    std::str::from_utf8(digits).map_err(|_| Malformed)?.parse().map_err(|_| Malformed)
}

fn last_token(value: &[u8]) -> Option<&[u8]> {
    value.rsplit(|b| *b == b',').next().map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

/// A header name: RFC 9110's `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value: no CR, LF or NUL, which would end or corrupt the header.
fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= b' ' && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> ResponseHead {
        parse_head(text.as_bytes(), false).unwrap().unwrap()
    }

    #[test]
    fn requests_are_written_with_their_headers_and_body() {
        let headers = header_block("127.0.0.1:8001", [("x-run", "r1"), ("bad name", "x"), ("x-evil", "a\r\nb")]);
        assert_eq!(headers, b"host: 127.0.0.1:8001\r\nx-run: r1\r\n");
        let mut out = Vec::new();
        encode_request(&mut out, "GET", "/orders/7", &headers, None, None).unwrap();
        assert_eq!(out, b"GET /orders/7 HTTP/1.1\r\nhost: 127.0.0.1:8001\r\nx-run: r1\r\n\r\n");
        encode_request(&mut out, "POST", "/orders", &headers, None, Some(b"{}")).unwrap();
        let expected = "POST /orders HTTP/1.1\r\nhost: 127.0.0.1:8001\r\nx-run: r1\r\n\
                        content-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
        assert_eq!(encode_request(&mut out, "GET", "/a b", &headers, None, None), Err(Malformed));
        // A request that starts a trace carries it after the fixed headers.
        let caller = Caller { trace: 0xab, span: 0xcd };
        encode_request(&mut out, "GET", "/", &headers, Some(caller), None).unwrap();
        let expected = "GET / HTTP/1.1\r\nhost: 127.0.0.1:8001\r\nx-run: r1\r\n\
                        traceparent: 00-000000000000000000000000000000ab-00000000000000cd-01\r\n\r\n";
        assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    }

    #[test]
    fn answers_are_framed_as_rfc_9112_says() {
        let h = head(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntraceresponse: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\nok",
        );
        assert_eq!((h.status, h.framing, h.keep_alive), (200, Framing::Length(2), true));
        assert_eq!(h.trace_id, Some(0x0af7651916cd43dd8448eb211c80319c));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked, "chunked wins over a length");
        assert_eq!(head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n").framing, Framing::UntilClose);
        let h = head("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(0), false));
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n");
        assert!(!h.keep_alive, "HTTP/1.0 closes unless asked not to");
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1\r\n\r\n").keep_alive);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        assert_eq!(head("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n").framing, Framing::Empty);
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\n").framing, Framing::Empty);
        let to_head = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true).unwrap().unwrap();
        assert_eq!(to_head.framing, Framing::Empty);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", false), Ok(None));
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad.as_bytes(), false), Err(Malformed), "{bad}");
        }
    }

    #[test]
    fn chunked_bodies_are_read_chunk_by_chunk() {
        let body = b"4;ext=1\r\nWiki\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        assert_eq!(next_chunk(body), Ok(Chunk::Data { start: 9, len: 4, next: 15 }));
        assert_eq!(next_chunk(&body[15..]), Ok(Chunk::End { next: 19 }));
        assert_eq!(&body[15 + 19..], b"NEXT");
        assert_eq!(next_chunk(b"4\r\nWi"), Ok(Chunk::Partial));
        assert_eq!(next_chunk(b"0\r\n"), Ok(Chunk::Partial));
        assert_eq!(next_chunk(b"4\r\nWikiXX"), Err(Malformed));
        assert_eq!(next_chunk(b"zz\r\n"), Err(Malformed));
        assert_eq!(next_chunk(b"fffffffffffffff\r\n"), Ok(Chunk::Partial), "a huge chunk is only waited for");
    }

    #[test]
    fn trace_ids_are_read_from_traceresponse() {
        assert_eq!(
            trace_id_of(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            Some(0x0af7651916cd43dd8448eb211c80319c)
        );
        assert_eq!(trace_id_of(b"00-00000000000000000000000000000000-b7ad6b7169203331-01"), None);
        assert_eq!(trace_id_of(b"garbage"), None);
        assert_eq!(trace_id_of(b"00-0af7651916cd43dd8448eb211c80319c"), None);
    }
}
