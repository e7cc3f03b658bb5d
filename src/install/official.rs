//! `obsdemo install COMPONENT`: fetch the official release archives for this OS and
//! architecture, verify each against the release's published SHA-256 (and a pinned
//! digest where the table has one) before anything is unpacked, and move the result
//! into `<managed dir>/<component>/<version>/` in one rename, with a manifest.
//!
//! Everything happens in a `.partial` directory beside the target; a failure or an
//! interruption leaves nothing that binary resolution would pick up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::InstallError;
use super::archive;
use super::download::{Fetcher, checksum_for};
use super::manifest::{Manifest, Recorded, staging_dir};
use super::releases::{self, Platform};
use super::resolve::install_dir;
use crate::progress::{Event, Progress};

/// How to install.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Reinstall even when the version is installed.
    pub force: bool,
    /// Replaces scheme and host of every download URL (`OBSDEMO_MIRROR`).
    pub mirror: Option<String>,
    /// Give up on a connection that sends nothing for this long.
    pub stall_timeout: Duration,
}

/// A downloaded archive whose digest does not match the published one.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file} does not match its published checksum: expected sha256 {expected}, got {actual} \
     (from {url}); the download was deleted and nothing was installed"
)]
pub struct ChecksumMismatch {
    /// The archive's file name.
    pub file: String,
    /// Where it came from.
    pub url: String,
    /// The published (or pinned) digest.
    pub expected: String,
    /// The digest of what arrived.
    pub actual: String,
}

/// What an install did.
#[derive(Debug)]
pub enum Outcome {
    /// The version was installed already; nothing was fetched.
    AlreadyInstalled(PathBuf),
    /// Installed here.
    Installed(PathBuf),
}

/// Installs the official release of `component` at `version` (the stack file's) into
/// the managed dir. A version the release table does not describe is
/// [`InstallError::UnknownRelease`]: its archive names and checksums are not known, and
/// installing the pinned one instead would be another version than the stack runs.
pub async fn install(
    component: &str,
    version: &str,
    options: &InstallOptions,
    progress: &dyn Progress,
) -> Result<Outcome, InstallError> {
    if let Some(known) = releases::table().remove(component).map(|r| r.version).filter(|known| known != version) {
        return Err(InstallError::UnknownRelease {
            component: component.to_owned(),
            version: version.to_owned(),
            known,
        });
    }
    let platform = Platform::current().map_err(|why| releases::NotPublished {
        component: component.to_owned(),
        platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        published: format!(" ({why})"),
    })?;
    let (version, artifacts) = releases::artifacts(component, platform, options.mirror.as_deref())?;
    install_artifacts(&install_dir(component, &version), component, &version, &artifacts, options, progress).await
}

/// Installs `artifacts` (of `component` at `version`) into `target`.
pub async fn install_artifacts(
    target: &Path,
    component: &str,
    version: &str,
    artifacts: &[releases::Artifact],
    options: &InstallOptions,
    progress: &dyn Progress,
) -> Result<Outcome, InstallError> {
    let target = target.to_path_buf();
    if !options.force && Manifest::read(&target).is_some() {
        return Ok(Outcome::AlreadyInstalled(target));
    }
    let staging = Staging(staging_dir(&target)?);
    let manifest = fetch_into(&staging.0, component, version, artifacts, options, progress).await?;
    let _ = std::fs::remove_dir_all(staging.0.join(".downloads"));
    manifest.install_into(&staging.0, &target).map(|()| Outcome::Installed(target))
}

/// A staging directory, removed when dropped: after a failure, and when the install is
/// dropped half-way (Ctrl-C). After a successful install it has been moved into place,
/// and there is nothing left to remove.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Downloads, verifies and unpacks every artifact into `staging`.
async fn fetch_into(
    staging: &Path,
    component: &str,
    version: &str,
    artifacts: &[releases::Artifact],
    options: &InstallOptions,
    progress: &dyn Progress,
) -> Result<Manifest, InstallError> {
    let downloads = staging.join(".downloads");
    std::fs::create_dir_all(&downloads).map_err(InstallError::io("create", &downloads))?;
    let fetcher = Fetcher::new(options.stall_timeout);
    let mut recorded = Vec::new();
    for artifact in artifacts {
        let list = fetcher.text(&artifact.checksums_url).await?;
        let published = checksum_for(&list, &artifact.file_name).ok_or_else(|| InstallError::NotListed {
            checksums_url: artifact.checksums_url.clone(),
            file: artifact.file_name.clone(),
        })?;
        let file = downloads.join(&artifact.file_name);
        let name = &artifact.file_name;
        let on_bytes = |done, total| progress.event(Event::Transfer { file: name.clone(), done, total });
        let actual = fetcher.to_file(&artifact.url, &file, &on_bytes).await;
        progress.event(Event::Transferred { file: name.clone() });
        let actual = actual?;
        for expected in std::iter::once(&published).chain(artifact.pinned_sha256.as_ref()) {
            if !expected.eq_ignore_ascii_case(&actual) {
                let _ = std::fs::remove_file(&file);
                return Err(ChecksumMismatch {
                    file: artifact.file_name.clone(),
                    url: artifact.url.clone(),
                    expected: expected.clone(),
                    actual,
                }
                .into());
            }
        }
        let (file, kind, into) = (file.clone(), artifact.kind, staging.to_owned());
        let unpacked = tokio::task::spawn_blocking(move || archive::unpack(&file, kind, &into)).await;
        // A panic while unpacking is a bug: let it surface as one.
        unpacked.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        if !staging.join(&artifact.path).is_file() {
            return Err(InstallError::NoBinaryInside {
                file: artifact.file_name.clone(),
                binary: artifact.binary.clone(),
                path: artifact.path.clone(),
            });
        }
        recorded.push((artifact.path.clone(), Recorded { url: artifact.url.clone(), sha256: actual }));
    }
    Ok(Manifest {
        component: component.to_owned(),
        version: version.to_owned(),
        source: format!(
            "official release: {}",
            recorded.iter().map(|r| r.1.url.as_str()).collect::<Vec<_>>().join(", ")
        ),
        binaries: recorded.iter().map(|r| r.0.clone()).collect(),
        downloads: recorded.into_iter().map(|r| r.1).collect(),
    })
}
