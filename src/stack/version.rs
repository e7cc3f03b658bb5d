//! A component's release version as `stack.toml` names it.
//!
//! A version becomes part of a path (`<managed dir>/<component>/<version>`), of a
//! download URL, of a Go module query and of a container image tag, so it is checked
//! once, when the file is read: a release number such as `1.76.0` or `3.0.0-rc.1`, and
//! nothing that could step out of a directory or into another argument.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A checked release version: `MAJOR.MINOR.PATCH`, optionally followed by `-` (a
/// pre-release, semver.org §9) or `+` (build metadata, §10: Grafana's security releases
/// are `12.0.2+security-01`) and a suffix of letters, digits, `.` and `-`, with no
/// leading `v` (each component adds the prefix its upstream wants).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

/// Why a text is not a [`Version`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a release version: {why} (write it as upstream numbers it, e.g. `1.76.0` or `3.0.0-rc.1`)")]
pub struct BadVersion {
    /// What was given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Version {
    /// Checks `text`.
    pub fn new(text: &str) -> Result<Self, BadVersion> {
        let bad = |why| Err(BadVersion { text: text.to_owned(), why });
        if text.starts_with(['v', 'V']) {
            return bad("leave out the leading `v`");
        }
        let (numbers, suffix) = text.split_once(['-', '+']).map_or((text, None), |(n, s)| (n, Some(s)));
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.len() != 3
            || parts.iter().any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad("it must start with three numbers joined by dots");
        }
        if let Some(suffix) = suffix {
            let plain = suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if suffix.is_empty() || suffix.len() > 64 || !plain || suffix.split('.').any(str::is_empty) {
                return bad("after the `-` or `+` only letters, digits and single dots or dashes may follow");
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Version {
    type Error = BadVersion;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(&text)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> Self {
        v.0
    }
}

impl std::ops::Deref for Version {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Version {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Version {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_numbers_pass() {
        for ok in ["1.76.0", "0.165.0", "3.5.0", "12.2.1", "3.0.0-rc.1", "2.0.0-beta-2", "12.0.2+security-01"] {
            assert_eq!(Version::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_that_could_leave_a_directory_or_split_an_argument_is_refused() {
        for bad in [
            "",
            "..",
            ".",
            "1.76",
            "v1.76.0",
            "1.76.0/../../../../tmp/evil",
            "1.76.0/x",
            "1.76.0\\x",
            "1.76.0-",
            "1.76.0-rc..1",
            "1.76.0-rc 1",
            "1.76.0-rc/1",
            "1.76.0+a+b",
            "1. 76.0",
            "1.76.0 --flag",
            "1.76.0\n",
            "١.٢.٣",
            "9999999999.0.0",
        ] {
            assert!(Version::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_bad_version_in_stack_toml_names_the_key_and_position() {
        let e = crate::stack::load::parse(
            "[jaeger]\nversion = \"..\"\n",
            crate::stack::ConfigSource::File("s.toml".into()),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("jaeger.version"));
        assert_eq!(e.position, Some((2, 11)));
        assert!(e.message.contains("not a release version"), "{e}");
    }
}
