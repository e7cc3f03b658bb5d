//! Reading component logs: the last lines of a file, and following it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The last `n` lines of the file at `path`. Reads at most the last 1 MiB.
pub fn tail(path: &Path, n: usize) -> std::io::Result<String> {
    tail_with_end(path, n).map(|(text, _)| text)
}

/// [`tail`], and the offset it read up to: following the file from there misses and
/// repeats nothing.
pub fn tail_with_end(path: &Path, n: usize) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    const MAX: u64 = 1 << 20;
    let start = f.metadata()?.len().saturating_sub(MAX);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    // Bounded even when the file grows meanwhile or is no regular file at all.
    f.take(MAX).read_to_end(&mut buf)?;
    let end = start + buf.len() as u64;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    Ok((lines[lines.len().saturating_sub(n)..].join("\n"), end))
}

/// What was written to `path` after `offset` (at most 1 MiB of it); empty when the
/// file is missing or shorter.
pub fn since(path: &Path, offset: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    const MAX: u64 = 1 << 20;
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(offset)).is_ok() {
        let _ = f.take(MAX).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The size of `path` now (0 when it is missing): where [`since`] starts later.
pub fn end(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// A log followed from an offset: each [`Follow::next`] gives what was written since.
/// A file that shrinks (a new `up` rotated it) is read again from its start.
#[derive(Debug)]
pub struct Follow {
    path: std::path::PathBuf,
    offset: u64,
}

impl Follow {
    /// How often the file is looked at.
    const PERIOD: std::time::Duration = std::time::Duration::from_millis(200);
    /// At most this much is given at once, so a log written fast streams.
    const CHUNK: u64 = 256 << 10;

    /// Follows `path` from `offset` (from [`tail_with_end`]).
    pub fn from(path: &Path, offset: u64) -> Self {
        Self { path: path.to_path_buf(), offset }
    }

    /// The next bytes written, waiting until there are some; `None` once `cancel` is.
    pub async fn next(&mut self, cancel: &crate::runtime::CancellationToken) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            let len = end(&self.path);
            if len < self.offset {
                self.offset = 0;
            }
            if len > self.offset {
                let mut f = std::fs::File::open(&self.path)?;
                f.seek(SeekFrom::Start(self.offset))?;
                let mut buf = Vec::new();
                f.take(Self::CHUNK).read_to_end(&mut buf)?;
                self.offset += buf.len() as u64;
                return Ok(Some(buf));
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(None),
                () = tokio::time::sleep(Self::PERIOD) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_gives_what_was_written_after_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "old\n").unwrap();
        let at = super::end(&p);
        std::fs::write(&p, "old\nnew\n").unwrap();
        assert_eq!(super::since(&p, at), "new\n");
        assert_eq!(super::since(&dir.path().join("missing"), 0), "");
    }

    #[test]
    fn tail_gives_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(super::tail(&p, 2).unwrap(), "b\nc");
        assert_eq!(super::tail(&p, 10).unwrap(), "a\nb\nc");
    }
}
