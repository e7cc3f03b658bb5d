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

#[cfg(test)]
mod tests {
    #[test]
    fn tail_gives_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(super::tail(&p, 2).unwrap(), "b\nc");
        assert_eq!(super::tail(&p, 10).unwrap(), "a\nb\nc");
    }
}
