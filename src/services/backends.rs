//! The services the Order-service calls: Payment, Inventory, Shipping (which notifies
//! through Notification) and Notification. Each does one piece of simulated work that
//! fails at its configured rate, with the status code a real one would answer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::config::{ServiceSpec, ServicesFile};
use super::tracing_http::call;
use super::work::Work;

type Reply = (StatusCode, Json<Value>);

struct Backend {
    spec: ServiceSpec,
    client: reqwest::Client,
    work: Work,
}

/// Payment-service: `POST /charges`; a failure is a declined card (402).
pub fn payment(spec: ServiceSpec, client: reqwest::Client, work: Work) -> Router {
    Router::new().route("/charges", post(charge)).with_state(Arc::new(Backend { spec, client, work }))
}

/// Inventory-service: `POST /reservations`; a failure is an out-of-stock item (409).
pub fn inventory(spec: ServiceSpec, client: reqwest::Client, work: Work) -> Router {
    Router::new().route("/reservations", post(reserve)).with_state(Arc::new(Backend { spec, client, work }))
}

/// Shipping-service: `POST /shipments`; a failure is no carrier (503). Notifies the
/// customer through its Notification peer, best effort.
pub fn shipping(spec: ServiceSpec, client: reqwest::Client, work: Work) -> Router {
    Router::new().route("/shipments", post(ship)).with_state(Arc::new(Backend { spec, client, work }))
}

/// Notification-service: `POST /notifications`; a failure is a mail outage (500).
pub fn notification(spec: ServiceSpec, client: reqwest::Client, work: Work) -> Router {
    Router::new().route("/notifications", post(notify)).with_state(Arc::new(Backend { spec, client, work }))
}

async fn charge(State(b): State<Arc<Backend>>, Json(req): Json<Value>) -> Reply {
    if b.work.step("payment.authorize", "card declined").await {
        (StatusCode::CREATED, Json(json!({ "authorization": format!("auth-{}", req["order_id"]) })))
    } else {
        (StatusCode::PAYMENT_REQUIRED, Json(json!({ "error": "card declined" })))
    }
}

async fn reserve(State(b): State<Arc<Backend>>, Json(req): Json<Value>) -> Reply {
    if b.work.step("inventory.check_stock", "out of stock").await {
        (StatusCode::CREATED, Json(json!({ "reservation": format!("res-{}", req["order_id"]) })))
    } else {
        (StatusCode::CONFLICT, Json(json!({ "error": "out of stock" })))
    }
}

async fn ship(State(b): State<Arc<Backend>>, Json(req): Json<Value>) -> Reply {
    if !b.work.step("shipping.book", "no carrier available").await {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "no carrier available" })));
    }
    if let Some(peer) = ServicesFile::peer(&b.spec, "notification") {
        let message = json!({ "order_id": req["order_id"], "message": "your order has shipped" });
        // The shipment stands even when the notification fails; its span shows it.
        let _ = call(&b.client, peer, "/notifications", &message).await;
    }
    (StatusCode::CREATED, Json(json!({ "tracking": format!("trk-{}", req["order_id"]) })))
}

async fn notify(State(b): State<Arc<Backend>>, Json(_req): Json<Value>) -> Reply {
    if b.work.step("notification.send", "mail server unavailable").await {
        (StatusCode::ACCEPTED, Json(json!({ "sent": true })))
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "mail server unavailable" })))
    }
}
