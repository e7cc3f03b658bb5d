//! An export written into a directory, so that a user can patch it and export again
//! without losing anything:
//!
//! - `base/` holds every manifest and its own `kustomization.yaml`; each export rewrites
//!   it, deleting what the new export no longer has.
//! - `kustomization.yaml` beside it is the user's: written once, naming `base`, and
//!   never again, so their patches survive every re-export.
//! - A file of `base/` edited since obsdemo wrote it is not overwritten: the export
//!   stops and says where the change belongs. `base/.obsdemo-export.json` records what
//!   was written.
//! - `.gitignore` keeps the generated password out of a committed directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Export, ExportError, Options};

/// The directory of obsdemo's manifests, below the export's.
pub const BASE: &str = "base";
/// What the last export wrote into `base/`: file name -> SHA-256 of its text.
const RECORD: &str = ".obsdemo-export.json";

/// The user's kustomization: written once, then theirs.
const USERS_KUSTOMIZATION: &str = "\
# Yours: `obsdemo export kubernetes` writes this file once and never again. Patch the
# stack here (patches, images, replicas, ...); base/ is rewritten by each export.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- base
";

/// The secrets of an earlier export into `dir`, by (Secret name, key): an unreadable or
/// foreign file keeps nothing.
pub fn kept_secrets(dir: &Path) -> BTreeMap<(String, String), String> {
    let mut kept = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join(BASE)) else {
        return kept;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with(".secret.yaml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(secret) = serde_saphyr::from_str::<Value>(&text) else { continue };
        let name = secret["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        if let Some(data) = secret["stringData"].as_object() {
            for (key, value) in data {
                if let Some(value) = value.as_str() {
                    kept.insert((name.clone(), key.clone()), value.to_owned());
                }
            }
        }
    }
    kept
}

/// Writes `export` into `dir` (see the module's summary); returns the files written.
/// Refuses a directory that holds a kustomization no earlier export made, and a file
/// of `base/` edited since.
pub fn write(export: &Export, options: &Options, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let output = |path: &Path, why: &str| ExportError::Output { path: path.to_owned(), why: why.to_owned() };
    let base = dir.join(BASE);
    let record_path = base.join(RECORD);
    let users = dir.join("kustomization.yaml");
    let earlier: Option<BTreeMap<String, String>> =
        std::fs::read_to_string(&record_path).ok().and_then(|text| serde_json::from_str(&text).ok());
    let Some(earlier) = earlier.or_else(|| (!users.exists() && !base.exists()).then(BTreeMap::new)) else {
        let why = "holds a kustomization (or base/) that no `obsdemo export kubernetes` wrote; export into an empty directory or an earlier export's";
        return Err(output(dir, why));
    };
    for (file, digest) in &earlier {
        let path = base.join(file);
        if std::fs::read(&path).is_ok_and(|text| crate::install::sha256_hex(&text) != *digest) {
            let why = "was edited after obsdemo wrote it, and an export would overwrite the edit: \
                       move the change into a patch in the kustomization.yaml above base/ (or delete the file), then export again";
            return Err(output(&path, why));
        }
    }

    std::fs::create_dir_all(&base).map_err(|e| output(&base, &format!("cannot create it: {e}")))?;
    let mut files: Vec<(String, String, bool)> = export
        .manifests
        .iter()
        .map(|m| Ok((m.file.clone(), m.text()?, m.secret)))
        .collect::<Result<_, ExportError>>()?;
    files.push(("kustomization.yaml".into(), export.kustomization(options)?, false));
    let mut written = Vec::new();
    let mut record = BTreeMap::new();
    for (file, text, secret) in &files {
        let path = base.join(file);
        write_file(&path, text, *secret).map_err(|e| output(&path, &format!("cannot write it: {e}")))?;
        record.insert(file.clone(), crate::install::sha256_hex(text.as_bytes()));
        written.push(path);
    }
    // What an earlier export wrote and this one does not (a service since removed).
    for file in earlier.keys().filter(|f| !record.contains_key(*f)) {
        let path = base.join(file);
        std::fs::remove_file(&path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| output(&path, &format!("cannot remove it: {e}")))?;
    }
    let record_text = serde_json::to_string_pretty(&record).map_err(|e| ExportError::Yaml(e.to_string()))? + "\n";
    write_file(&record_path, &record_text, false)
        .map_err(|e| output(&record_path, &format!("cannot write it: {e}")))?;

    let ignore = dir.join(".gitignore");
    let ignored = format!(
        "# Written once by `obsdemo export kubernetes`: the generated password stays out of git.\n{BASE}/*.secret.yaml\n"
    );
    for (path, text) in [(&users, USERS_KUSTOMIZATION), (&ignore, ignored.as_str())] {
        if !path.exists() {
            write_file(path, text, false).map_err(|e| output(path, &format!("cannot write it: {e}")))?;
            written.push(path.clone());
        }
    }
    Ok(written)
}

/// Writes `text` to `path`; a secret is readable by its owner only, from its creation on.
fn write_file(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    if secret {
        // An earlier file keeps its mode (or ACL) on open: restrict it again.
        crate::platform::owner_only(path)?;
    }
    file.write_all(text.as_bytes())
}
