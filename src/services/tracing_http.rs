//! HTTP spans with the OpenTelemetry semantic conventions, and W3C `traceparent`
//! propagation: extracted by the server middleware, injected by [`call`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value as AttributeValue, global};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use serde_json::Value;

use super::config::Peer;
use super::spans;

/// The header the load generator tags its requests with; the first service records
/// it as the span attribute [`RUN_ID_ATTRIBUTE`], so a run's traces can be found.
pub const RUN_ID_HEADER: &str = "x-obsdemo-run-id";
/// The span attribute holding the load run id.
pub const RUN_ID_ATTRIBUTE: &str = "obsdemo.run_id";
/// The response header naming the server span's trace (W3C Trace Context Level 2,
/// `traceresponse`: `00-<trace id>-<span id>-<flags>`), so a client knows which trace
/// its request made without searching for it.
pub const TRACE_RESPONSE_HEADER: &str = "traceresponse";

/// Where this server listens, for the `server.*` attributes.
#[derive(Clone, Debug)]
pub struct ServerAddress {
    /// Host; shared, so each span's copy of it is a reference count, not a string.
    pub host: Arc<str>,
    /// Port.
    pub port: u16,
}

/// Axum middleware: one server span per request, a child of the caller's span when
/// the request carries `traceparent`; its trace is named in the `traceresponse` header.
pub async fn server_span(State(addr): State<ServerAddress>, req: Request, next: Next) -> Response {
    if !spans::enabled() {
        return next.run(req).await;
    }
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
    let method = req.method().as_str();
    let path = req.uri().path();
    let route = req.extensions().get::<MatchedPath>().map_or(path, MatchedPath::as_str);
    // Room for the status code set at the end too, so the list is never moved.
    let mut attributes = Vec::with_capacity(8);
    attributes.extend([
        KeyValue::new("http.request.method", method_value(req.method())),
        KeyValue::new("http.route", route.to_owned()),
        KeyValue::new("url.path", path.to_owned()),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("server.address", addr.host.clone()),
        KeyValue::new("server.port", i64::from(addr.port)),
    ]);
    if let Some(run) = req.headers().get(RUN_ID_HEADER).and_then(|v| v.to_str().ok()) {
        attributes.push(KeyValue::new(RUN_ID_ATTRIBUTE, run.to_owned()));
    }
    let Some(span) = spans::start([method, " ", route].concat(), SpanKind::Server, attributes, &parent) else {
        return next.run(req).await;
    };
    let cx = parent.with_span(span);
    let mut response = next.run(req).with_context(cx.clone()).await;
    let span = cx.span();
    let value = traceresponse(span.span_context());
    if let Ok(value) = axum::http::HeaderValue::from_bytes(&value) {
        response.headers_mut().insert(TRACE_RESPONSE_HEADER, value);
    }
    let status = response.status();
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status.as_u16())));
    if status.is_server_error() {
        // Per the HTTP conventions a server span is an error on 5xx only.
        spans::fail(&cx, "");
    }
    span.end();
    response
}

/// `method` as an attribute value: the standard methods as static strings, which a
/// span carries without allocating or freeing anything.
fn method_value(method: &Method) -> AttributeValue {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => return AttributeValue::from(method.as_str().to_owned()),
    };
    AttributeValue::from(name)
}

/// The `traceresponse` value naming `sc`: `00-<trace id>-<span id>-<flags>`, in
/// lower-case hex. Written byte by byte, not through `format!`: with the span name's,
/// that formatting took 0.3 µs of the 6.5 µs tracing added to a request (BENCHMARKS.md).
fn traceresponse(sc: &opentelemetry::trace::SpanContext) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let fields: [(&[u8], usize); 3] =
        [(&sc.trace_id().to_bytes(), 3), (&sc.span_id().to_bytes(), 36), (&[sc.trace_flags().to_u8()], 53)];
    for (bytes, at) in fields {
        for (i, b) in bytes.iter().enumerate() {
            out[at + 2 * i] = HEX[usize::from(b >> 4)];
            out[at + 2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
    }
    out
}

/// Why a call to another service did not return a success.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The peer answered with an error status.
    #[error("{peer} answered {status}")]
    Status {
        /// The peer's name.
        peer: String,
        /// Its HTTP status.
        status: u16,
        /// Its JSON body.
        body: Value,
    },
    /// The peer could not be reached or did not answer in time.
    #[error("{peer} unreachable: {message}")]
    Unreachable {
        /// The peer's name.
        peer: String,
        /// What went wrong.
        message: String,
    },
}

/// POSTs `body` to `path` on `peer` inside a client span, with `traceparent` set, and
/// returns the peer's JSON answer.
pub async fn call(client: &reqwest::Client, peer: &Peer, path: &str, body: &Value) -> Result<Value, CallError> {
    let url = format!("{}{path}", peer.url);
    let current = Context::current();
    let cx = match client_span(&url, path, peer, &current) {
        Some(span) => current.with_span(span),
        None => current,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(&mut headers)));
    let result = client.post(&url).headers(headers).json(body).timeout(Duration::from_secs(10)).send().await;
    let span = cx.span();
    let answer = match result {
        Err(e) => {
            spans::fail(&cx, "");
            Err(CallError::Unreachable { peer: peer.name.clone(), message: e.to_string() })
        }
        Ok(response) => {
            let status = response.status();
            span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status.as_u16())));
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            if status.is_success() {
                Ok(body)
            } else {
                // A client span is an error on 4xx and 5xx.
                spans::fail(&cx, "");
                Err(CallError::Status { peer: peer.name.clone(), status: status.as_u16(), body })
            }
        }
    };
    span.end();
    answer
}

/// The client span of a POST to `url`, with the HTTP client conventions' attributes;
/// `None` with tracing off, before any attribute is built.
fn client_span(url: &str, path: &str, peer: &Peer, parent: &Context) -> Option<opentelemetry_sdk::trace::Span> {
    if !spans::enabled() {
        return None;
    }
    let parsed = reqwest::Url::parse(url).ok();
    let attributes = vec![
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("url.full", url.to_owned()),
        KeyValue::new(
            "server.address",
            parsed.as_ref().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(),
        ),
        KeyValue::new("server.port", i64::from(parsed.as_ref().and_then(|u| u.port()).unwrap_or(80))),
        KeyValue::new("peer.service", peer.name.clone()),
    ];
    spans::start(format!("POST {path}"), SpanKind::Client, attributes, parent)
}

#[cfg(test)]
mod tests {
    use axum::routing::post;
    use axum::{Json, Router};
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use serde_json::json;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_trace_id_sent_is_the_trace_id_received() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        spans::install(provider.tracer("test"));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo =
            || async { Json(json!({ "trace_id": Context::current().span().span_context().trace_id().to_string() })) };
        let app = Router::new().route("/echo", post(echo)).route_layer(axum::middleware::from_fn_with_state(
            ServerAddress { host: addr.ip().to_string().into(), port: addr.port() },
            server_span,
        ));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let peer = Peer { name: "echo".into(), kind: "echo".into(), url: format!("http://{addr}") };
        let client = crate::http::local_client(Duration::from_secs(5));
        let root = Context::current_with_span(provider.tracer("test").start("test root"));
        let sent = root.span().span_context().trace_id().to_string();
        assert_ne!(sent, opentelemetry::trace::TraceId::INVALID.to_string());
        let answer = call(&client, &peer, "/echo", &json!({})).with_context(root).await.unwrap();
        assert_eq!(answer["trace_id"], sent);
    }

    #[test]
    fn traceresponse_is_the_w3c_form_of_the_span_context() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let trace = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let span = SpanId::from_hex("b7ad6b7169203331").unwrap();
        let sc = SpanContext::new(trace, span, TraceFlags::SAMPLED, true, TraceState::default());
        assert_eq!(&traceresponse(&sc), b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let sc =
            SpanContext::new(TraceId::from(1), SpanId::from(2), TraceFlags::default(), false, TraceState::default());
        assert_eq!(&traceresponse(&sc), b"00-00000000000000000000000000000001-0000000000000002-00");
    }
}
