//! The table of official releases (`releases.toml`, compiled in): which archive to
//! fetch for each component on this OS and architecture, where its checksum is
//! published, and where the binary sits inside.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The table, as written in `releases.toml`.
const RELEASES_TOML: &str = include_str!("releases.toml");

/// One component's releases.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRelease {
    /// The version `stack.toml` names; the managed dir is keyed by it.
    pub version: String,
    /// The archives to install, each holding one binary.
    pub artifacts: Vec<ArtifactTemplate>,
}

/// An archive, with placeholders for version, OS and architecture.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactTemplate {
    /// The binary it provides.
    pub binary: String,
    /// The upstream release the archive belongs to.
    pub release: String,
    /// Archive URL.
    pub url: String,
    /// The release's published checksum file.
    pub checksums: String,
    /// A different checksum file for Windows archives, where the release has one.
    #[serde(default)]
    pub windows_checksums: Option<String>,
    /// The binary's path inside the archive.
    pub path: String,
    /// Archive type everywhere but Windows.
    pub archive: ArchiveKind,
    /// Archive type on Windows.
    pub windows_archive: ArchiveKind,
    /// Pinned SHA-256 per `<os>-<arch>`, where known.
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
}

/// How an archive is packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum ArchiveKind {
    /// gzip-compressed tar.
    #[serde(rename = "tar.gz")]
    TarGz,
    /// zip.
    #[serde(rename = "zip")]
    Zip,
}

impl ArchiveKind {
    fn extension(self) -> &'static str {
        match self {
            Self::TarGz => "tar.gz",
            Self::Zip => "zip",
        }
    }
}

/// An operating system and architecture, in the Go spelling release archives use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `darwin` or `windows`.
    pub os: &'static str,
    /// `amd64` or `arm64`.
    pub arch: &'static str,
}

impl Platform {
    /// This machine, if releases exist for it.
    pub fn current() -> Result<Self, String> {
        let os = match std::env::consts::OS {
            "linux" => "linux",
            "macos" => "darwin",
            "windows" => "windows",
            other => return Err(format!("no official releases are pinned for the OS `{other}`")),
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => return Err(format!("no official releases are pinned for the architecture `{other}`")),
        };
        Ok(Self { os, arch })
    }
}

/// An archive to fetch for one platform, every placeholder filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The binary it provides.
    pub binary: String,
    /// Archive URL, mirror applied.
    pub url: String,
    /// Checksum file URL, mirror applied.
    pub checksums_url: String,
    /// The archive's file name, as the checksum file lists it.
    pub file_name: String,
    /// The binary's path inside the archive.
    pub path: String,
    /// How it is packed.
    pub kind: ArchiveKind,
    /// A pinned digest, where the table has one.
    pub pinned_sha256: Option<String>,
}

/// The whole table.
pub fn table() -> BTreeMap<String, ComponentRelease> {
    toml::from_str(RELEASES_TOML).expect("releases.toml is valid (checked by a unit test)")
}

/// The archives of `component` for `platform`, with `mirror` (scheme and host)
/// replacing the URLs' own.
pub fn artifacts(component: &str, platform: Platform, mirror: Option<&str>) -> Option<(String, Vec<Artifact>)> {
    let release = table().remove(component)?;
    let windows = platform.os == "windows";
    let artifacts = release
        .artifacts
        .iter()
        .map(|a| {
            let kind = if windows { a.windows_archive } else { a.archive };
            let fill = |s: &str| {
                s.replace("{version}", &a.release)
                    .replace("{os}", platform.os)
                    .replace("{arch}", platform.arch)
                    .replace("{ext}", kind.extension())
                    .replace("{exe}", if windows { ".exe" } else { "" })
            };
            let url = fill(&a.url);
            let checksums = fill(a.windows_checksums.as_deref().filter(|_| windows).unwrap_or(&a.checksums));
            Artifact {
                binary: a.binary.clone(),
                file_name: url.rsplit('/').next().unwrap_or_default().to_owned(),
                url: with_mirror(&url, mirror),
                checksums_url: with_mirror(&checksums, mirror),
                path: fill(&a.path),
                kind,
                pinned_sha256: a.sha256.get(&format!("{}-{}", platform.os, platform.arch)).cloned(),
            }
        })
        .collect();
    Some((release.version, artifacts))
}

/// `url` with its scheme and host replaced by `mirror`, keeping the path.
fn with_mirror(url: &str, mirror: Option<&str>) -> String {
    let Some(mirror) = mirror.map(|m| m.trim_end_matches('/')).filter(|m| !m.is_empty()) else {
        return url.to_owned();
    };
    let path_start = url.find("://").map_or(0, |i| i + 3);
    let path = url[path_start..].find('/').map_or("", |i| &url[path_start + i..]);
    format!("{mirror}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_per_platform() {
        let linux = Platform { os: "linux", arch: "amd64" };
        let (_, prom) = artifacts("prometheus", linux, None).unwrap();
        assert_eq!(
            prom[0].url,
            "https://github.com/prometheus/prometheus/releases/download/v3.5.0/prometheus-3.5.0.linux-amd64.tar.gz"
        );
        assert_eq!(prom[0].file_name, "prometheus-3.5.0.linux-amd64.tar.gz");
        assert_eq!(prom[0].path, "prometheus-3.5.0.linux-amd64/prometheus");
        let windows = Platform { os: "windows", arch: "arm64" };
        let (_, prom) = artifacts("prometheus", windows, None).unwrap();
        assert_eq!(prom[0].kind, ArchiveKind::Zip);
        assert!(prom[0].url.ends_with("prometheus-3.5.0.windows-arm64.zip"));
        assert_eq!(prom[0].path, "prometheus-3.5.0.windows-arm64/prometheus.exe");
        let (_, col) = artifacts("collector", windows, None).unwrap();
        assert!(col[0].checksums_url.ends_with("otelcol-contrib_windows_checksums.txt"));
        let (version, jaeger) = artifacts("jaeger", Platform { os: "darwin", arch: "arm64" }, None).unwrap();
        assert_eq!(version, "1.76.0");
        assert_eq!(jaeger.len(), 2);
        assert!(jaeger[0].url.ends_with("/v2.13.0/jaeger-2.13.0-darwin-arm64.tar.gz"));
    }

    #[test]
    fn mirror_replaces_scheme_and_host_only() {
        let linux = Platform { os: "linux", arch: "amd64" };
        let (_, g) = artifacts("grafana", linux, Some("http://mirror.local:8080/")).unwrap();
        assert_eq!(g[0].url, "http://mirror.local:8080/oss/release/grafana-12.2.1.linux-amd64.tar.gz");
        assert_eq!(g[0].checksums_url, "http://mirror.local:8080/oss/release/grafana-12.2.1.linux-amd64.tar.gz.sha256");
    }
}
