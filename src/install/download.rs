//! HTTP downloads for `obsdemo install`: streamed to a file while hashed, with a stall
//! timeout, a bounded retry on transient failures, and errors that name the URL.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A download that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No connection could be made.
    // What to do instead (a source build, a mirror) is the caller's to say: it knows
    // whether the component can be built.
    #[error("cannot reach {url} ({message})")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server stopped sending.
    #[error("{url} sent nothing for {seconds} s; gave up")]
    Stalled {
        /// The URL.
        url: String,
        /// The stall timeout.
        seconds: u64,
    },
    /// The body ended early.
    #[error("{url} ended after {got} of {expected} bytes")]
    Truncated {
        /// The URL.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl DownloadError {
    /// Worth another attempt: the network or the server may do better next time.
    fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Unreachable { .. } | Self::Stalled { .. } | Self::Truncated { .. } => true,
            Self::Write { .. } => false,
        }
    }
}

/// Downloads with one client, one stall timeout and one retry policy.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    stall: Duration,
    attempts: u32,
}

impl Fetcher {
    /// A fetcher that gives up on a connection silent for `stall`, and tries each
    /// download up to 3 times.
    pub fn new(stall: Duration) -> Self {
        let client = crate::http::client_builder()
            .connect_timeout(stall)
            .build()
            .expect("a client with these settings always builds");
        Self { client, stall, attempts: 3 }
    }

    /// A small text file (a checksum list).
    pub async fn text(&self, url: &str) -> Result<String, DownloadError> {
        self.retrying(|| async {
            let response = self.get(url).await?;
            tokio::time::timeout(self.stall, response.text())
                .await
                .map_err(|_| self.stalled(url))?
                .map_err(|e| DownloadError::Unreachable { url: url.to_owned(), message: e.to_string() })
        })
        .await
    }

    /// Streams `url` into `path`, telling `on_bytes` (bytes so far, bytes in all) at
    /// most ten times a second and at the end; returns the SHA-256 of what was
    /// written (lower-case hex).
    pub async fn to_file(
        &self,
        url: &str,
        path: &Path,
        on_bytes: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<String, DownloadError> {
        self.retrying(|| async {
            let mut response = self.get(url).await?;
            let expected = response.content_length();
            on_bytes(0, expected);
            let mut told = std::time::Instant::now();
            let write_error = |source| DownloadError::Write { path: path.display().to_string(), source };
            let mut file = tokio::fs::File::create(path).await.map_err(write_error)?;
            let mut hasher = Sha256::new();
            let mut got = 0u64;
            loop {
                let chunk = tokio::time::timeout(self.stall, response.chunk()).await.map_err(|_| self.stalled(url))?;
                let chunk = match chunk {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    // A connection cut mid-body: report it as the truncation it is.
                    Err(_) if expected.is_some() => {
                        return Err(DownloadError::Truncated {
                            url: url.to_owned(),
                            got,
                            expected: expected.unwrap_or(0),
                        });
                    }
                    Err(e) => return Err(DownloadError::Unreachable { url: url.to_owned(), message: e.to_string() }),
                };
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(write_error)?;
                got += chunk.len() as u64;
                if told.elapsed() >= std::time::Duration::from_millis(100) {
                    on_bytes(got, expected);
                    told = std::time::Instant::now();
                }
            }
            file.flush().await.map_err(write_error)?;
            on_bytes(got, expected);
            if let Some(expected) = expected.filter(|e| *e != got) {
                return Err(DownloadError::Truncated { url: url.to_owned(), got, expected });
            }
            Ok(super::hex(&hasher.finalize()))
        })
        .await
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, DownloadError> {
        let response = tokio::time::timeout(self.stall, self.client.get(url).send())
            .await
            .map_err(|_| self.stalled(url))?
            .map_err(|e| DownloadError::Unreachable { url: url.to_owned(), message: root_cause(&e) })?;
        let status = response.status();
        if !status.is_success() {
            return Err(DownloadError::Status { url: url.to_owned(), status: status.as_u16() });
        }
        Ok(response)
    }

    fn stalled(&self, url: &str) -> DownloadError {
        DownloadError::Stalled { url: url.to_owned(), seconds: self.stall.as_secs().max(1) }
    }

    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DownloadError>>,
    {
        let mut wait = Duration::from_millis(500);
        for left in (0..self.attempts).rev() {
            match attempt().await {
                Err(e) if e.is_transient() && left > 0 => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                result => return result,
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// The innermost reason of a request error ("connection refused", "dns error", ...).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The digest listed for `file_name` in a checksum file: lines of `<hex>  <name>` or
/// `<hex> *<name>`, or a single `<hex>` that covers just this file.
pub fn checksum_for(list: &str, file_name: &str) -> Option<String> {
    let lines: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let is_hex = |s: &str| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
    if let [only] = lines.as_slice()
        && is_hex(only)
    {
        return Some(only.to_ascii_lowercase());
    }
    lines.iter().find_map(|line| {
        let (hex, name) = line.split_once(char::is_whitespace)?;
        let name = name.trim_start().trim_start_matches('*');
        let name = name.rsplit('/').next().unwrap_or(name);
        (is_hex(hex) && name == file_name).then(|| hex.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::checksum_for;

    #[test]
    fn checksum_files_in_every_published_form() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let list = format!("{a}  prometheus-3.5.0.linux-amd64.tar.gz\n{b} *otelcol_0.1_linux_amd64.tar.gz\n");
        assert_eq!(checksum_for(&list, "prometheus-3.5.0.linux-amd64.tar.gz"), Some(a.clone()));
        assert_eq!(checksum_for(&list, "otelcol_0.1_linux_amd64.tar.gz"), Some("b".repeat(64)));
        assert_eq!(checksum_for(&list, "missing.tar.gz"), None);
        assert_eq!(checksum_for(&format!("{a}\n"), "anything.tar.gz"), Some(a.clone()));
        assert_eq!(checksum_for("not a checksum\n", "x"), None);
        assert_eq!(
            checksum_for(&format!("{a}  deploy/jaeger-1.0-linux-amd64.tar.gz"), "jaeger-1.0-linux-amd64.tar.gz"),
            Some(a)
        );
    }
}
