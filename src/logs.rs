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
