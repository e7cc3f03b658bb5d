//! The version a binary says it is, asked of the binary itself: what a support
//! question or an upgrade check reads, and what shows whether a source build was
//! stamped as its release is.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a binary may take to print its version.
const PATIENCE: Duration = Duration::from_secs(5);

/// The version `program` prints when run with `args`: the first word of its output
/// shaped like a version (`3.5.0`, `v2.13.0` written as `2.13.0`). `None` when it
/// does not run, fails, prints none, or takes longer than a few seconds.
pub fn reported_version(program: &Path, args: &[String]) -> Option<String> {
    if args.is_empty() {
        return None;
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let began = Instant::now();
    loop {
        match child.try_wait().ok()? {
            Some(_) => break,
            None if began.elapsed() > PATIENCE => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().ok()?;
    // A program may print it on stderr.
    let text = [out.stdout, out.stderr].concat();
    first_version(&String::from_utf8_lossy(&text))
}

/// The first word of `text` shaped like a version: three dot-separated numbers,
/// perhaps after a `v`, perhaps followed by a suffix (`-rc.1`).
fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | ',' | '(' | ')' | ':' | '{' | '}'))
        .map(|word| word.strip_prefix('v').unwrap_or(word))
        .find(|word| {
            let core = word.split(['-', '+']).next().unwrap_or_default();
            let parts: Vec<&str> = core.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::first_version;

    #[test]
    fn versions_are_read_as_each_project_prints_them() {
        // `jaeger version` (jaegertracing/jaeger `internal/version`), JSON on one line.
        let jaeger = r#"{"gitCommit":"unknown","gitVersion":"v2.13.0","buildDate":"2025-12-03T16:07:08Z"}"#;
        assert_eq!(first_version(jaeger).as_deref(), Some("2.13.0"));
        assert_eq!(first_version("otelcol-obsdemo version 0.165.0\n").as_deref(), Some("0.165.0"));
        let prometheus = "prometheus, version 3.5.0 (branch: HEAD, revision: unknown)\n  build date: 20261204-04:35:24\n  go version: go1.26.8";
        assert_eq!(first_version(prometheus).as_deref(), Some("3.5.0"));
        assert_eq!(first_version("Version 12.2.1 (commit: 0aa6f3b, branch: HEAD)").as_deref(), Some("12.2.1"));
        assert_eq!(first_version("tool 1.2 built 2025-01-01").as_deref(), None);
    }
}
