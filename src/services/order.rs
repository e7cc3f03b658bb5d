//! Order-service: `POST /orders` reserves stock, charges the customer and books the
//! shipment, then stores the order; `GET /orders/{id}` reads it back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use opentelemetry::KeyValue;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::{ServiceSpec, ServicesFile};
use super::spans;
use super::tracing_http::{CallError, call};
use super::work::Work;

/// Orders kept for reading back; the oldest go first, so memory stays bounded under
/// any load (10,000 orders take well under a megabyte).
const MAX_STORED_ORDERS: usize = 10_000;

/// A new order as clients send it.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    /// Who orders.
    pub customer: String,
    /// What.
    pub items: Vec<Item>,
    /// Total, in cents.
    pub amount_cents: u64,
    /// Where to ship.
    #[serde(default)]
    pub address: String,
}

/// One order line.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct Item {
    /// Stock keeping unit.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// What is kept of a confirmed order: the answer to `GET /orders/{id}` is built from it.
#[derive(Clone)]
struct StoredOrder {
    customer: String,
    amount_cents: u64,
}

impl StoredOrder {
    fn to_json(&self, id: u64) -> Value {
        json!({ "id": id, "status": "confirmed", "customer": self.customer, "amount_cents": self.amount_cents })
    }
}

struct Orders {
    next_id: u64,
    by_id: HashMap<u64, StoredOrder>,
    oldest_first: VecDeque<u64>,
}

struct OrderService {
    spec: ServiceSpec,
    client: reqwest::Client,
    work: Work,
    orders: Mutex<Orders>,
}

/// The Order-service's routes.
pub fn routes(spec: ServiceSpec, client: reqwest::Client, work: Work) -> Router {
    let orders = Mutex::new(Orders { next_id: 1, by_id: HashMap::new(), oldest_first: VecDeque::new() });
    let state = Arc::new(OrderService { spec, client, work, orders });
    Router::new().route("/orders", post(create)).route("/orders/{id}", get(read)).with_state(state)
}

type Reply = (StatusCode, Json<Value>);

async fn create(State(svc): State<Arc<OrderService>>, Json(order): Json<NewOrder>) -> Reply {
    let id = {
        let mut orders = svc.orders.lock().expect("orders lock is never poisoned");
        orders.next_id += 1;
        orders.next_id - 1
    };
    if !svc.work.step("order.validate", "internal error while validating").await {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "internal error" })));
    }
    let steps: [(&str, &str, Value); 3] = [
        ("inventory", "/reservations", json!({ "order_id": id, "items": order.items })),
        (
            "payment",
            "/charges",
            json!({ "order_id": id, "customer": order.customer, "amount_cents": order.amount_cents }),
        ),
        ("shipping", "/shipments", json!({ "order_id": id, "address": order.address })),
    ];
    for (kind, path, body) in steps {
        let Some(peer) = ServicesFile::peer(&svc.spec, kind) else { continue };
        match call(&svc.client, peer, path, &body).await {
            Ok(_) => {}
            // Business refusals pass through as they are: out of stock, card declined.
            Err(CallError::Status { status: status @ (402 | 409), body, .. }) => {
                let status = StatusCode::from_u16(status).expect("402 and 409 are valid");
                return (status, Json(json!({ "error": body["error"], "order_id": id })));
            }
            Err(e) => return (StatusCode::BAD_GATEWAY, Json(json!({ "error": e.to_string(), "order_id": id }))),
        }
    }
    let stored = StoredOrder { customer: order.customer, amount_cents: order.amount_cents };
    let answer = stored.to_json(id);
    {
        let _span = spans::step("order.store", vec![KeyValue::new("order.id", id as i64)]);
        let mut orders = svc.orders.lock().expect("orders lock is never poisoned");
        orders.by_id.insert(id, stored);
        orders.oldest_first.push_back(id);
        if orders.oldest_first.len() > MAX_STORED_ORDERS
            && let Some(old) = orders.oldest_first.pop_front()
        {
            orders.by_id.remove(&old);
        }
    }
    (StatusCode::CREATED, Json(answer))
}

async fn read(State(svc): State<Arc<OrderService>>, Path(id): Path<u64>) -> Reply {
    let found = {
        let _span = spans::step("order.lookup", vec![KeyValue::new("order.id", id as i64)]);
        svc.orders.lock().expect("orders lock is never poisoned").by_id.get(&id).cloned()
    };
    match found {
        Some(order) => (StatusCode::OK, Json(order.to_json(id))),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such order", "order_id": id }))),
    }
}
