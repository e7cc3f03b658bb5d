//! HTTP spans with the OpenTelemetry semantic conventions, and W3C `traceparent`
//! propagation: extracted by the server middleware, injected by [`call`].

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::global;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use serde_json::Value;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::config::Peer;

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
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Axum middleware: one server span per request, a child of the caller's span when
/// the request carries `traceparent`.
pub async fn server_span(State(addr): State<ServerAddress>, req: Request, next: Next) -> Response {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
    let method = req.method().as_str().to_owned();
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = %route,
        url.path = %req.uri().path(),
        url.scheme = "http",
        server.address = %addr.host,
        server.port = addr.port,
        http.response.status_code = Empty,
        obsdemo.run_id = Empty,
    );
    let _ = span.set_parent(parent);
    if let Some(run) = req.headers().get(RUN_ID_HEADER).and_then(|v| v.to_str().ok()) {
        span.record(RUN_ID_ATTRIBUTE, run);
    }
    let mut response = next.run(req).instrument(span.clone()).await;
    let context = span.context();
    let sc = context.span().span_context().clone();
    if sc.is_valid()
        && let Ok(value) = axum::http::HeaderValue::from_str(&format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        ))
    {
        response.headers_mut().insert(TRACE_RESPONSE_HEADER, value);
    }
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        // Per the HTTP conventions a server span is an error on 5xx only.
        span.record("otel.status_code", "ERROR");
    }
    response
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
    let parsed = reqwest::Url::parse(&url).ok();
    let span = tracing::info_span!(
        "call",
        otel.name = %format!("POST {path}"),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = "POST",
        url.full = %url,
        server.address = %parsed.as_ref().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(),
        server.port = parsed.as_ref().and_then(|u| u.port()).unwrap_or(80),
        peer.service = %peer.name,
        http.response.status_code = Empty,
    );
    async {
        let mut headers = reqwest::header::HeaderMap::new();
        let cx = tracing::Span::current().context();
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(&mut headers)));
        let result = client.post(&url).headers(headers).json(body).timeout(Duration::from_secs(10)).send().await;
        let span = tracing::Span::current();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                span.record("otel.status_code", "ERROR");
                return Err(CallError::Unreachable { peer: peer.name.clone(), message: e.to_string() });
            }
        };
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            // A client span is an error on 4xx and 5xx.
            span.record("otel.status_code", "ERROR");
            Err(CallError::Status { peer: peer.name.clone(), status: status.as_u16(), body })
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use axum::routing::post;
    use axum::{Json, Router};
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn trace_id_of(span: &tracing::Span) -> String {
        span.context().span().span_context().trace_id().to_string()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_trace_id_sent_is_the_trace_id_received() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        // Thread-local, and the current-thread runtime keeps server and client here.
        let _guard = tracing::subscriber::set_default(subscriber);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = || async { Json(json!({ "trace_id": trace_id_of(&tracing::Span::current()) })) };
        let app = Router::new().route("/echo", post(echo)).route_layer(axum::middleware::from_fn_with_state(
            ServerAddress { host: addr.ip().to_string(), port: addr.port() },
            server_span,
        ));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let peer = Peer { name: "echo".into(), kind: "echo".into(), url: format!("http://{addr}") };
        let client = crate::http::local_client(Duration::from_secs(5));
        let root = tracing::info_span!("test root");
        let sent = trace_id_of(&root);
        assert_ne!(sent, opentelemetry::trace::TraceId::INVALID.to_string());
        let answer = call(&client, &peer, "/echo", &json!({})).instrument(root).await.unwrap();
        assert_eq!(answer["trace_id"], sent);
    }
}
