//! Who may use the console: every request carries the stack's token, first in the URL
//! `up` prints (exchanged at once for an `HttpOnly; SameSite=Strict` cookie and a
//! redirect that drops it from the address bar), then in that cookie. An action is a
//! POST whose `Origin` is the console's own, so a page of another site cannot restart
//! anything even in a browser that holds the cookie. Every answer carries a strict
//! Content-Security-Policy: no inline script, nothing from another origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// The page's policy: its own script, style and connections, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Lets a request through when it carries the token (exchanging one in the URL for
/// the cookie); answers 401 without it, 403 for an action from another origin.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(given) = query_token(request.uri().query()) {
        if !same(&given, &app.token) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "wrong token: use the URL `obsdemo up` printed, or `obsdemo open`",
            );
        }
        let cookie = format!("{}={}; HttpOnly; SameSite=Strict; Path=/", app.cookie, app.token);
        let mut response =
            (StatusCode::SEE_OTHER, [(header::LOCATION, request.uri().path().to_owned())]).into_response();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    if !cookie_token(request.headers(), &app.cookie).is_some_and(|t| same(&t, &app.token)) {
        return refuse(StatusCode::UNAUTHORIZED, "no token: open the URL `obsdemo up` printed, or run `obsdemo open`");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD && !same_origin(request.headers()) {
        return refuse(StatusCode::FORBIDDEN, "an action must come from the console's own page");
    }
    next.run(request).await
}

/// Adds the security headers to every answer.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{why}\n")).into_response()
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_owned)
}

fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// Whether the request's `Origin` is the host it was sent to. A browser sends
/// `Origin` with every POST; a request without one is not from a browser's page of
/// another site, but is refused all the same unless `Sec-Fetch-Site` says same-origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()), host) {
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (None, _) => headers.get("sec-fetch-site").is_some_and(|v| v == "same-origin"),
        _ => false,
    }
}

/// Compares in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_origins_must_match_the_host() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; obsdemo_console_16600=tok; b=2"));
        assert_eq!(cookie_token(&h, "obsdemo_console_16600").as_deref(), Some("tok"));
        assert_eq!(cookie_token(&h, "obsdemo_console_16601"), None);
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:16600"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:16600"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.remove(header::ORIGIN);
        assert!(!same_origin(&h));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(query_token(Some("x=1&token=t0k")).as_deref(), Some("t0k"));
    }
}
