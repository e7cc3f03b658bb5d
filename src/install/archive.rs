//! Unpacking release archives (tar.gz and zip) safely: no entry may land outside the
//! target directory, and executable bits are kept.

use std::fs::File;
use std::io::BufReader;
use std::path::{Component, Path};

use super::releases::ArchiveKind;

/// An archive that cannot be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry would land outside the target directory.
    #[error("refusing {archive}: the entry `{entry}` points outside the install directory")]
    UnsafePath {
        /// The archive.
        archive: String,
        /// The offending entry.
        entry: String,
    },
    /// The archive is damaged or not of its kind.
    #[error("cannot unpack {archive}: {message}")]
    Broken {
        /// The archive.
        archive: String,
        /// What went wrong.
        message: String,
    },
}

/// Whether `path` stays below the directory it is joined to.
fn is_contained(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Unpacks `archive` of kind `kind` into `dest`.
pub fn unpack(archive: &Path, kind: ArchiveKind, dest: &Path) -> Result<(), UnpackError> {
    let name = archive.display().to_string();
    let broken = |e: &dyn std::fmt::Display| UnpackError::Broken { archive: name.clone(), message: e.to_string() };
    let unsafe_path = |entry: String| UnpackError::UnsafePath { archive: name.clone(), entry };
    std::fs::create_dir_all(dest).map_err(|e| broken(&e))?;
    let file = File::open(archive).map_err(|e| broken(&e))?;
    match kind {
        ArchiveKind::TarGz => {
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
            tar.set_preserve_permissions(true);
            tar.set_overwrite(true);
            for entry in tar.entries().map_err(|e| broken(&e))? {
                let mut entry = entry.map_err(|e| broken(&e))?;
                let path = entry.path().map_err(|e| broken(&e))?.into_owned();
                if !is_contained(&path) {
                    return Err(unsafe_path(path.display().to_string()));
                }
                // A link may only point within the archive, relative to where it sits.
                if let Some(target) = entry.link_name().map_err(|e| broken(&e))? {
                    let resolved = path.parent().unwrap_or(Path::new("")).join(&target);
                    if target.is_absolute() || !stays_inside(&resolved) {
                        return Err(unsafe_path(format!("{} -> {}", path.display(), target.display())));
                    }
                }
                if !entry.unpack_in(dest).map_err(|e| broken(&e))? {
                    return Err(unsafe_path(path.display().to_string()));
                }
            }
        }
        ArchiveKind::Zip => {
            let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| broken(&e))?;
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(|e| broken(&e))?;
                let Some(relative) = entry.enclosed_name().filter(|p| is_contained(p)) else {
                    let name = entry.name().map_or_else(|e| e.to_string(), |n| n.into_owned());
                    return Err(unsafe_path(name));
                };
                let out = dest.join(relative);
                if entry.is_dir() {
                    std::fs::create_dir_all(&out).map_err(|e| broken(&e))?;
                    continue;
                }
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| broken(&e))?;
                }
                let mut file = File::create(&out).map_err(|e| broken(&e))?;
                std::io::copy(&mut entry, &mut file).map_err(|e| broken(&e))?;
                #[cfg(unix)]
                if let Some(mode) = entry.unix_mode() {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode & 0o777))
                        .map_err(|e| broken(&e))?;
                }
            }
        }
    }
    Ok(())
}

/// Whether a relative path, with `..` applied, stays at or below its start.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        assert!(is_contained(Path::new("a/b/c")));
        assert!(!is_contained(Path::new("../x")));
        assert!(!is_contained(Path::new("a/../../x")));
        assert!(!is_contained(Path::new("/etc/passwd")));
        assert!(stays_inside(Path::new("a/b/../c")));
        assert!(!stays_inside(Path::new("a/../../c")));
    }
}
