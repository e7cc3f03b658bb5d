//! What the load sends: a weighted mix of operations over the demo API, each request
//! generated afresh.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::Mutex;

use serde_json::json;

/// One kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// `POST /orders` with a generated order.
    CreateOrder,
    /// `GET /orders/{id}` of an order created earlier in the run.
    ReadOrder,
    /// `GET` of the target URL's own path: for loading any HTTP server.
    Get,
    /// `POST` of a small JSON body to the target URL's own path.
    Post,
}

/// A weighted mix of operations, such as `create=4,read=1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    weights: Vec<(Operation, u32)>,
}

impl Default for Mix {
    fn default() -> Self {
        Self { weights: vec![(Operation::CreateOrder, 4), (Operation::ReadOrder, 1)] }
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut weights = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part.split_once('=').ok_or_else(|| format!("`{part}`: expected NAME=WEIGHT"))?;
            let op = match name.trim() {
                "create" => Operation::CreateOrder,
                "read" => Operation::ReadOrder,
                "get" => Operation::Get,
                "post" => Operation::Post,
                other => return Err(format!("unknown operation `{other}`: use create, read, get or post")),
            };
            let weight: u32 =
                weight.trim().parse().map_err(|_| format!("`{part}`: the weight must be a whole number"))?;
            weights.push((op, weight));
        }
        if weights.iter().map(|w| w.1).sum::<u32>() == 0 {
            return Err("the mix needs at least one operation with a weight above 0".into());
        }
        Ok(Self { weights })
    }
}

impl Mix {
    /// Picks an operation with probability proportional to its weight.
    pub fn pick(&self) -> Operation {
        let total: u32 = self.weights.iter().map(|w| w.1).sum();
        let mut roll = fastrand::u32(0..total);
        for (op, weight) in &self.weights {
            if roll < *weight {
                return *op;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }
}

/// Order ids created during the run, so reads ask for orders that exist.
#[derive(Debug, Default)]
pub struct CreatedOrders {
    recent: Mutex<VecDeque<u64>>,
}

impl CreatedOrders {
    /// Remembers a created order (the last 1000 are kept).
    pub fn add(&self, id: u64) {
        let mut recent = self.recent.lock().expect("ids lock is never poisoned");
        recent.push_back(id);
        if recent.len() > 1000 {
            recent.pop_front();
        }
    }

    /// One of the recent orders, if any exists yet.
    pub fn any(&self) -> Option<u64> {
        let recent = self.recent.lock().expect("ids lock is never poisoned");
        (!recent.is_empty()).then(|| recent[fastrand::usize(..recent.len())])
    }
}

/// A request ready to send: method, path, and a body for POSTs.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRequest {
    /// What it does.
    pub operation: Operation,
    /// `POST` or `GET`.
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    /// JSON body, for POSTs.
    pub body: Option<Vec<u8>>,
}

const SKUS: [&str; 6] = ["book", "lamp", "kettle", "chair", "headphones", "plant"];
const CUSTOMERS: [&str; 5] = ["ada", "grace", "linus", "margaret", "ken"];

/// Where requests go on the target server: its URL's path and query exactly as the
/// user wrote them (percent-encoding included), so `--url 'http://h/dispatch?customer=1'`
/// sends that very request line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetPath {
    /// The URL's path, `/` at least.
    path: String,
    /// The URL's query without its `?`, if it has one.
    query: Option<String>,
}

impl TargetPath {
    /// The path and query of `url`; its fragment is never sent, as in a browser.
    pub fn of(url: &reqwest::Url) -> Self {
        Self { path: url.path().to_owned(), query: url.query().map(str::to_owned) }
    }

    /// The request target of a plain GET or POST: the URL's own path and query.
    fn as_given(&self) -> String {
        self.below("")
    }

    /// `suffix` under the URL's path (a demo API route such as `/orders`), with the
    /// URL's query kept.
    fn below(&self, suffix: &str) -> String {
        let base = if suffix.is_empty() { self.path.as_str() } else { self.path.trim_end_matches('/') };
        let path = if base.is_empty() && suffix.is_empty() { "/" } else { base };
        match &self.query {
            Some(query) => format!("{path}{suffix}?{query}"),
            None => format!("{path}{suffix}"),
        }
    }
}

/// The request for `op` at `target`; a read with no order created yet becomes a
/// create.
pub fn request(op: Operation, created: &CreatedOrders, target: &TargetPath) -> PlannedRequest {
    // Only a read looks for an order: the list is shared by every worker.
    let existing = if op == Operation::ReadOrder { created.any() } else { None };
    match (op, existing) {
        (Operation::Get, _) => PlannedRequest { operation: op, method: "GET", path: target.as_given(), body: None },
        (Operation::Post, _) => PlannedRequest {
            operation: op,
            method: "POST",
            path: target.as_given(),
            body: Some(
                serde_json::to_vec(&json!({ "order_id": fastrand::u32(..), "message": "obsdemo load" }))
                    .expect("serializes"),
            ),
        },
        (Operation::ReadOrder, Some(id)) => {
            PlannedRequest { operation: op, method: "GET", path: target.below(&format!("/orders/{id}")), body: None }
        }
        _ => {
            let items: Vec<_> = (0..fastrand::usize(1..4))
                .map(|_| json!({ "sku": SKUS[fastrand::usize(..SKUS.len())], "quantity": fastrand::u32(1..4) }))
                .collect();
            let body = json!({
                "customer": CUSTOMERS[fastrand::usize(..CUSTOMERS.len())],
                "items": items,
                "amount_cents": fastrand::u64(500..50_000),
                "address": format!("{} Loopback Lane", fastrand::u32(1..999)),
            });
            PlannedRequest {
                operation: Operation::CreateOrder,
                method: "POST",
                path: target.below("/orders"),
                body: Some(serde_json::to_vec(&body).expect("order serializes")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let mix: Mix = "create=3,read=1".parse().unwrap();
        let reads = (0..40_000).filter(|_| mix.pick() == Operation::ReadOrder).count();
        assert!((9_000..11_000).contains(&reads), "{reads}");
        assert!("create=0".parse::<Mix>().is_err());
        assert!("delete=1".parse::<Mix>().is_err());
        assert!("create".parse::<Mix>().is_err());
    }

    fn target(url: &str) -> TargetPath {
        TargetPath::of(&reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn reads_need_an_existing_order() {
        let created = CreatedOrders::default();
        let root = target("http://h:1");
        assert_eq!(request(Operation::ReadOrder, &created, &root).operation, Operation::CreateOrder);
        created.add(42);
        let r = request(Operation::ReadOrder, &created, &root);
        assert_eq!((r.method, r.path.as_str()), ("GET", "/orders/42"));
        assert_eq!(request(Operation::Get, &created, &target("http://h/hello")).path, "/hello");
        let post = request(Operation::Post, &created, &target("http://h/notifications"));
        assert_eq!((post.method, post.path.as_str()), ("POST", "/notifications"));
        let c = request(Operation::CreateOrder, &created, &target("http://h/api/"));
        assert_eq!(c.path, "/api/orders");
        let body: serde_json::Value = serde_json::from_slice(&c.body.unwrap()).unwrap();
        assert!(body["items"].as_array().is_some_and(|i| !i.is_empty()));
    }

    #[test]
    fn the_url_is_sent_as_given() {
        let created = CreatedOrders::default();
        let get = |url: &str| request(Operation::Get, &created, &target(url)).path;
        assert_eq!(get("http://h:8080/dispatch?customer=123"), "/dispatch?customer=123");
        assert_eq!(get("http://h/a%20b/c%2Fd?q=x%26y&r=%C3%A9#frag"), "/a%20b/c%2Fd?q=x%26y&r=%C3%A9");
        // A trailing slash is part of the path (Django's APPEND_SLASH redirects without it).
        assert_eq!(get("http://h/api/"), "/api/");
        assert_eq!(get("http://h"), "/");
        assert_eq!(get("http://h/?"), "/?");
        assert_eq!(request(Operation::Post, &created, &target("http://h/p?x=1")).path, "/p?x=1");
        assert_eq!(request(Operation::CreateOrder, &created, &target("http://h/api?k=v")).path, "/api/orders?k=v");
    }
}
