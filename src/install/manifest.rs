//! What an install put in the managed dir, and the one way an install lands there:
//! built or unpacked in a `.partial` directory beside the target, then moved into
//! place with its manifest in one rename, so an interrupted install leaves nothing
//! that binary resolution would pick up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::InstallError;

/// Records what an install put in the managed dir (`obsdemo-install.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The component.
    pub component: String,
    /// Its version.
    pub version: String,
    /// Where it came from: the release URLs, or what it was built from.
    pub source: String,
    /// The binaries installed, relative to the install dir.
    pub binaries: Vec<String>,
    /// Every archive downloaded, with its verified digest (none for source builds).
    #[serde(default)]
    pub downloads: Vec<Recorded>,
}

/// One downloaded archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Where it came from.
    pub url: String,
    /// Its verified SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// The manifest file in an install dir.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("obsdemo-install.json")
    }

    /// Reads the manifest of an install dir, when it is a complete install.
    pub fn read(dir: &Path) -> Option<Self> {
        let m: Self = serde_json::from_slice(&std::fs::read(Self::path(dir)).ok()?).ok()?;
        m.binaries.iter().all(|b| dir.join(b).is_file()).then_some(m)
    }

    /// Writes this manifest into `staging` and moves `staging` to `target`, replacing
    /// what was there.
    pub fn install_into(&self, staging: &Path, target: &Path) -> Result<(), InstallError> {
        let path = Self::path(staging);
        let json = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        std::fs::write(&path, json).map_err(InstallError::io("write", &path))?;
        if target.exists() {
            std::fs::remove_dir_all(target).map_err(InstallError::io("replace", target))?;
        }
        std::fs::rename(staging, target).map_err(InstallError::io("move the install into", target))
    }
}

/// A new, empty staging directory beside `target`, after removing what interrupted
/// installs of the same target left behind.
pub fn staging_dir(target: &Path) -> Result<PathBuf, InstallError> {
    // Install dirs are always <managed dir>/<component>/<version>.
    let parent = target.parent().expect("an install dir has a parent");
    let version = target.file_name().expect("an install dir has a name").to_string_lossy();
    std::fs::create_dir_all(parent).map_err(InstallError::io("create", parent))?;
    let prefix = format!(".{version}.partial");
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let staging = parent.join(format!("{prefix}-{}", crate::stack::paths::random_token(8)));
    std::fs::create_dir_all(&staging).map_err(InstallError::io("create", &staging))?;
    Ok(staging)
}
