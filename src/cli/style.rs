//! Terminal styling that honours `NO_COLOR` and plain output to pipes and files.

use std::io::IsTerminal;

/// Whether stderr/stdout output may carry colour.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn paint(code: &str, text: &str) -> String {
    if color() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

/// Red and bold, for errors.
pub fn error(text: &str) -> String {
    paint("1;31", text)
}

/// Green, for healthy states.
pub fn good(text: &str) -> String {
    paint("32", text)
}

/// Yellow, for states in between.
pub fn warn(text: &str) -> String {
    paint("33", text)
}

/// Red, for failed states.
pub fn bad(text: &str) -> String {
    paint("31", text)
}

/// Bold, for headings.
pub fn bold(text: &str) -> String {
    paint("1", text)
}

/// A table with left-aligned columns sized to their widest cell, measured without
/// colour codes.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let visible = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(visible(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - visible(cell) + 2));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.iter().map(|h| bold(h)).collect()) + "\n";
    for row in rows {
        out += &(line(row.clone()) + "\n");
    }
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}
