//! Finding a component's binary: the path in `stack.toml`, then the managed dir, then
//! `PATH`. A miss names every place looked in and the commands that fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// What to look for: a component's binary names, its pinned version (the managed
/// dir is keyed by it) and an explicit path from `stack.toml`. Components say this of
/// themselves (`crate::components`); this module only searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinarySpec {
    /// The component's name, for the managed dir and messages.
    pub component: String,
    /// The version `stack.toml` names.
    pub version: String,
    /// Binary names, best first, without the platform's suffix.
    pub names: Vec<String>,
    /// An explicit binary from `stack.toml`; when set, nothing else is searched.
    pub explicit: Option<PathBuf>,
    /// The arguments that make the binary print its version (`--version`); empty when
    /// it is not known how to ask.
    pub version_args: Vec<String>,
}

impl BinarySpec {
    /// The spec of `component` at `version`.
    pub fn new(component: &str, version: &str, names: &[&str], explicit: Option<&Path>) -> Self {
        Self {
            component: component.into(),
            version: version.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            explicit: explicit.map(Path::to_path_buf),
            version_args: Vec::new(),
        }
    }

    /// With `args` as the arguments that make the binary print its version.
    pub fn asking_version_with(mut self, args: &[&str]) -> Self {
        self.version_args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// The managed dir: `$OBSDEMO_HOME/bin`, else `$XDG_DATA_HOME/obsdemo/bin`, else
/// `~/.local/share/obsdemo/bin` (on Windows `%LOCALAPPDATA%\obsdemo\bin`).
pub fn managed_dir() -> PathBuf {
    obsdemo_home().join("bin")
}

/// obsdemo's own data home; the managed dir and source builds live below it.
pub fn obsdemo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("OBSDEMO_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    // Windows keeps per-user program data in %LOCALAPPDATA% (and has no HOME as a rule).
    let data = if cfg!(windows) {
        set("LOCALAPPDATA").or_else(|| set("USERPROFILE").map(|h| h.join("AppData").join("Local")))
    } else {
        set("XDG_DATA_HOME").or_else(|| set("HOME").map(|h| h.join(".local/share")))
    };
    data.unwrap_or_else(|| PathBuf::from(".obsdemo-home")).join("obsdemo")
}

/// Where `obsdemo install` puts `component` at `version`.
pub fn install_dir(component: &str, version: &str) -> PathBuf {
    managed_dir().join(component).join(version)
}

/// A component whose binary is nowhere to be found.
#[derive(Debug, thiserror::Error)]
pub struct MissingBinary {
    /// The component.
    pub component: String,
    /// Every path checked, in order, and `PATH` as the last place.
    pub looked_in: Vec<String>,
    /// Whether `obsdemo install --from-source` can build it.
    pub buildable: bool,
    /// What to do instead of installing it, for a program the user names (an app's).
    pub advice: Option<String>,
}

impl fmt::Display for MissingBinary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no binary for {} was found; looked in:", self.component)?;
        for place in &self.looked_in {
            writeln!(f, "  - {place}")?;
        }
        let c = &self.component;
        if let Some(advice) = &self.advice {
            return f.write_str(advice);
        }
        write!(f, "install it with `obsdemo install {c}`")?;
        if self.buildable {
            write!(f, " (or build it: `obsdemo install --from-source {c}`)")?;
        }
        write!(f, ", set `[{c}] binary = \"/path/to/it\"` in stack.toml, or run without it: `obsdemo up --without {c}`")
    }
}

/// Finds the binary `spec` describes. `buildable` says whether the error should
/// suggest a source build.
pub fn resolve(spec: &BinarySpec, buildable: bool) -> Result<PathBuf, MissingBinary> {
    let BinarySpec { component, version, names, explicit, .. } = spec;
    let missing = |looked_in| MissingBinary { component: component.clone(), looked_in, buildable, advice: None };
    let mut looked_in = Vec::new();
    if let Some(path) = explicit {
        if is_executable(path) {
            return Ok(path.to_path_buf());
        }
        looked_in.push(format!("{} (from stack.toml: not an executable file)", path.display()));
        return Err(missing(looked_in));
    }
    let dir = install_dir(component, version);
    // An install records where its binaries sit (a release archive nests them).
    let recorded: Vec<PathBuf> = super::manifest::Manifest::read(&dir)
        .map(|m| m.binaries.iter().map(|b| dir.join(b)).collect())
        .unwrap_or_default();
    for name in names {
        let nested = recorded.iter().filter(|p| p.file_name().is_some_and(|f| f == exe(name).as_str())).cloned();
        for candidate in [dir.join(exe(name)), dir.join("bin").join(exe(name))].into_iter().chain(nested) {
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            looked_in.push(candidate.display().to_string());
        }
    }
    for name in names {
        if let Ok(found) = which::which(name) {
            return Ok(found);
        }
    }
    looked_in.push(format!("PATH, for {}", names.join(" or ")));
    Err(missing(looked_in))
}

/// `name` with the platform's executable suffix.
pub fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

impl crate::error::HasKind for MissingBinary {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Conflict
    }
}
