//! Reading `stack.toml`: which file, parsing it, and errors that point into it.
//!
//! Order of precedence: `--config FILE`, then `stack.toml` in the working directory,
//! then the copy compiled into the binary.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::StackConfig;

/// The repository's `stack.toml`, compiled in so `obsdemo up` works with no file.
pub const EMBEDDED_STACK_TOML: &str = include_str!("../../stack.toml");

/// Where a stack configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// The copy of the repository's `stack.toml` compiled into the binary.
    Embedded,
    /// A file on disk.
    File(PathBuf),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded => f.write_str("<built-in stack.toml>"),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A `stack.toml` that cannot be used, located as precisely as the input allows.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file (or the built-in copy).
    pub source_name: ConfigSource,
    /// 1-based line and column of the offending text, when known.
    pub position: Option<(usize, usize)>,
    /// Dotted path of the offending key, when known (`jaeger.ports.ui`).
    pub key: Option<String>,
    /// What is wrong, in the parser's words.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Finds and parses the stack configuration.
///
/// `explicit` is `--config`; `cwd` is where a `stack.toml` overrides the built-in one.
pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<(StackConfig, ConfigSource), ConfigError> {
    let candidate = cwd.join("stack.toml");
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None if candidate.is_file() => Some(candidate),
        None => None,
    };
    match path {
        None => Ok((parse(EMBEDDED_STACK_TOML, ConfigSource::Embedded)?, ConfigSource::Embedded)),
        Some(path) => {
            let source = ConfigSource::File(path.clone());
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                source_name: source.clone(),
                position: None,
                key: None,
                message: format!("cannot read it: {e}"),
            })?;
            let mut config = parse(&text, source.clone())?;
            // An app's workdir is written relative to the file that names it.
            let dir = cwd.join(&path).parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
            for app in &mut config.apps {
                app.workdir = Some(dir.join(app.workdir.take().unwrap_or_default()));
            }
            Ok((config, source))
        }
    }
}

/// Parses TOML text into a [`StackConfig`], filling in defaults.
pub fn parse(text: &str, source: ConfigSource) -> Result<StackConfig, ConfigError> {
    let error = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| ConfigError {
        source_name: source.clone(),
        position: span.map(|s| line_col(text, s.start)),
        key,
        message,
    };
    let de = toml::Deserializer::parse(text).map_err(|e| error(e.span(), None, e.message().to_owned()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.message().to_owned();
        let key = (path != ".").then_some(path);
        if message.starts_with("unknown field") {
            // The path already ends in the unknown key; say "key" as TOML does.
            message = message.replacen("unknown field", "unknown key", 1);
        }
        error(inner.span(), key, message)
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl crate::error::HasKind for ConfigError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::InvalidInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(text, ConfigSource::File("s.toml".into())).unwrap_err()
    }

    #[test]
    fn embedded_file_spells_out_exactly_the_defaults() {
        let parsed = parse(EMBEDDED_STACK_TOML, ConfigSource::Embedded).unwrap();
        assert_eq!(parsed, StackConfig::default());
    }

    #[test]
    fn empty_file_is_the_default_stack() {
        assert_eq!(parse("", ConfigSource::Embedded).unwrap(), StackConfig::default());
    }

    #[test]
    fn bad_type_names_line_column_and_key() {
        let e = err("[jaeger]\nenabled = true\n\n[jaeger.ports]\nui = \"sixteen\"\n");
        assert_eq!(e.position, Some((5, 6)));
        assert_eq!(e.key.as_deref(), Some("jaeger.ports.ui"));
        assert!(e.to_string().starts_with("s.toml:5:6: key `jaeger.ports.ui`: "), "{e}");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_full_path() {
        let e = err("[prometheus]\nscrape_intervall = \"5s\"\n");
        assert_eq!(e.key.as_deref(), Some("prometheus.scrape_intervall"));
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.message.contains("unknown key"), "{e}");
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = err("bind = \"127.0.0.1\"\n[jaeger\n");
        assert_eq!(e.position.map(|p| p.0), Some(2));
    }

    #[test]
    fn bad_values_are_explained() {
        let e = err("[collector.hostmetrics]\ninterval = \"10 parsecs\"\n");
        assert_eq!(e.key.as_deref(), Some("collector.hostmetrics.interval"));
        assert!(e.message.contains("unit"), "{e}");
        let e = err("bind = \"localhost:80\"\n");
        assert_eq!(e.key.as_deref(), Some("bind"));
    }
}
