//! The page, its script and its style, compiled into the binary: the console works
//! offline and loads nothing from another origin.

use axum::http::header;
use axum::response::IntoResponse;

/// The page.
pub async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("assets/index.html"))
}

/// Its script.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("assets/console.js"))
}

/// Its style.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/console.css"))
}
