//! Readiness and health probes: an HTTP GET or a TCP connect, each with a timeout.
//!
//! The supervisor gates start order on these, and `status` shows their last result.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub mod span_counters;

/// The HTTP client probes use, for other health checks of the stack's components.
pub use crate::http::local_client;

/// What to check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    /// GET `url`; healthy on a 2xx answer.
    Http {
        /// The URL.
        url: String,
    },
    /// A TCP connection to `addr` (`host:port`) succeeds.
    Tcp {
        /// The address.
        addr: String,
    },
}

impl Probe {
    /// An HTTP probe of `url`.
    pub fn http(url: impl Into<String>) -> Self {
        Self::Http { url: url.into() }
    }

    /// What the probe looks at, for tables and messages.
    pub fn target(&self) -> &str {
        match self {
            Self::Http { url } => url,
            Self::Tcp { addr } => addr,
        }
    }
}

/// Whether a component's web UI is really served: a build without its UI assets (a
/// build from source) still answers its API, but its UI page is a placeholder or an
/// error. `up` and `status` check this rather than advertise a page that is not there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiCheck {
    /// A page of the UI.
    pub url: String,
    /// Text only the placeholder page holds, where the build serves one.
    pub placeholder: Option<String>,
    /// How to get a build with the UI.
    pub fix: String,
}

/// When and how often probes run. Defaults suit local processes that are ready in
/// well under a second once their ports open: a probe of a loopback port costs
/// microseconds, so probing often keeps `up` close to the components' own start time.
#[derive(Clone, Copy, Debug)]
pub struct ProbePolicy {
    /// Time between two probes of one component.
    pub period: Duration,
    /// Longest wait for one answer.
    pub timeout: Duration,
}

impl Default for ProbePolicy {
    fn default() -> Self {
        Self { period: Duration::from_millis(20), timeout: Duration::from_secs(2) }
    }
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The URL or address probed.
    pub target: String,
    /// Whether the component answered as healthy.
    pub ok: bool,
    /// The HTTP status code, for an HTTP probe that got an answer.
    pub code: Option<u16>,
    /// Time to the answer, in milliseconds.
    pub latency_ms: f64,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// Runs probes; holds one HTTP client so connections are reused across probes.
#[derive(Clone, Debug)]
pub struct Prober {
    client: reqwest::Client,
    timeout: Duration,
}

impl Prober {
    /// A prober whose every probe gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { client: crate::http::local_client(timeout), timeout }
    }

    /// Runs `probe` once.
    pub async fn check(&self, probe: &Probe) -> ProbeResult {
        let started = Instant::now();
        let (ok, code, error) = match probe {
            Probe::Http { url } => match self.client.get(url).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let ok = status.is_success();
                    let error = (!ok).then(|| format!("HTTP {status}"));
                    (ok, Some(status.as_u16()), error)
                }
                Err(e) => (false, None, Some(describe(&e))),
            },
            Probe::Tcp { addr } => {
                match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(addr)).await {
                    Ok(Ok(_)) => (true, None, None),
                    Ok(Err(e)) => (false, None, Some(e.to_string())),
                    Err(_) => (false, None, Some("timed out".into())),
                }
            }
        };
        ProbeResult {
            target: probe.target().to_owned(),
            ok,
            code,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            error,
        }
    }

    /// Whether the UI `check` looks at is served: `None` when the server cannot be
    /// asked (it is down: its probes say so already).
    pub async fn ui_served(&self, check: &UiCheck) -> Option<bool> {
        let resp = self.client.get(&check.url).send().await.ok()?;
        if !resp.status().is_success() {
            return Some(false);
        }
        let body = resp.text().await.ok()?;
        Some(!check.placeholder.as_ref().is_some_and(|p| body.contains(p.as_str())))
    }

    /// Runs every probe and returns all results; healthy when all are ok.
    pub async fn check_all(&self, probes: &[Probe]) -> Vec<ProbeResult> {
        let mut out = Vec::with_capacity(probes.len());
        for p in probes {
            out.push(self.check(p).await);
        }
        out
    }
}

/// A short reason for a failed request, without reqwest's nested wording.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_probe_reports_code_and_refusal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        let prober = Prober::new(Duration::from_secs(1));
        let r = prober.check(&Probe::http(format!("http://{addr}/"))).await;
        assert!(!r.ok);
        assert_eq!(r.code, Some(503));
        let tcp = prober.check(&Probe::Tcp { addr: addr.to_string() }).await;
        assert!(tcp.ok);

        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let r = prober.check(&Probe::http(format!("http://{free}/"))).await;
        assert_eq!((r.ok, r.code, r.error.as_deref()), (false, None, Some("connection refused")));
    }

    #[tokio::test]
    async fn a_ui_is_served_only_when_its_page_is_real() {
        // One page per path: the real UI, a placeholder, and an error.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let (status, body) = match request.split_whitespace().nth(1) {
                    Some("/real") => ("200 OK", "<title>Jaeger UI</title>"),
                    Some("/placeholder") => ("200 OK", "This is not the Jaeger UI you are looking for"),
                    _ => ("500 Internal Server Error", "Error opening React index.html"),
                };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        let prober = Prober::new(Duration::from_secs(1));
        let check = |path: &str| UiCheck {
            url: format!("http://{addr}{path}"),
            placeholder: Some("This is not the Jaeger UI".into()),
            fix: String::new(),
        };
        assert_eq!(prober.ui_served(&check("/real")).await, Some(true));
        assert_eq!(prober.ui_served(&check("/placeholder")).await, Some(false));
        assert_eq!(prober.ui_served(&check("/missing")).await, Some(false));
        let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let unreachable = UiCheck { url: format!("http://{down}/"), placeholder: None, fix: String::new() };
        assert_eq!(prober.ui_served(&unreachable).await, None, "a server that is down is its probes' business");
    }
}
