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
    /// The upstream release the archive belongs to (`{version}`).
    pub release: String,
    /// The release tag it is uploaded under (`{tag}`), when not `release` itself
    /// (Jaeger uploads its v2 archives under the v1 tag).
    #[serde(default)]
    pub tag: Option<String>,
    /// A build id in the archive's name (`{build_id}`; Grafana's).
    #[serde(default)]
    pub build_id: Option<String>,
    /// Archive URL.
    pub url: String,
    /// The release's published checksum file.
    pub checksums: String,
    /// How the checksum file is written.
    pub checksum_format: ChecksumFormat,
    /// The `<os>-<arch>` platforms upstream publishes this archive for.
    pub platforms: Vec<String>,
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

/// How a published checksum file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumFormat {
    /// `sha256sum`: lines of `<hex>  <file>`.
    Sha256sum,
    /// `shasum -b`: lines of `<hex> *<file>`.
    ShasumBinary,
    /// One file per archive holding its digest alone.
    Bare,
}

impl ChecksumFormat {
    /// The checksum file's text for `digest` of `file_name`, as upstream writes it.
    pub fn render(self, digest: &str, file_name: &str) -> String {
        match self {
            Self::Sha256sum => format!("{digest}  {file_name}\n"),
            Self::ShasumBinary => format!("{digest} *{file_name}\n"),
            Self::Bare => format!("{digest}\n"),
        }
    }
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
    /// How the checksum file is written.
    pub checksum_format: ChecksumFormat,
}

/// No official release of a component is published for a platform.
#[derive(Debug, thiserror::Error)]
#[error(
    "no official release of {component} is published for {platform}{published}: \
     `obsdemo install --from-source {component}` builds it"
)]
pub struct NotPublished {
    /// The component.
    pub component: String,
    /// `<os>/<arch>`.
    pub platform: String,
    /// `" (only for ...)"`, or empty when nothing is pinned at all.
    pub published: String,
}

/// The whole table.
pub fn table() -> BTreeMap<String, ComponentRelease> {
    toml::from_str(RELEASES_TOML).expect("releases.toml is valid (checked by a unit test)")
}

/// The archives of `component` for `platform`, with `mirror` (scheme and host)
/// replacing the URLs' own.
pub fn artifacts(
    component: &str,
    platform: Platform,
    mirror: Option<&str>,
) -> Result<(String, Vec<Artifact>), NotPublished> {
    let key = format!("{}-{}", platform.os, platform.arch);
    let not_published = |published: String| NotPublished {
        component: component.to_owned(),
        platform: format!("{}/{}", platform.os, platform.arch),
        published,
    };
    let release = table().remove(component).ok_or_else(|| not_published(String::new()))?;
    let windows = platform.os == "windows";
    let mut artifacts = Vec::new();
    for a in &release.artifacts {
        if !a.platforms.contains(&key) {
            let published = a.platforms.iter().map(|p| p.replacen('-', "/", 1)).collect::<Vec<_>>().join(", ");
            return Err(not_published(format!(" (only for {published})")));
        }
        let kind = if windows { a.windows_archive } else { a.archive };
        let fill = |s: &str| {
            s.replace("{version}", &a.release)
                .replace("{tag}", a.tag.as_deref().unwrap_or(&a.release))
                .replace("{build_id}", a.build_id.as_deref().unwrap_or_default())
                .replace("{os}", platform.os)
                .replace("{arch}", platform.arch)
                .replace("{ext}", kind.extension())
                .replace("{exe}", if windows { ".exe" } else { "" })
        };
        let url = fill(&a.url);
        artifacts.push(Artifact {
            binary: a.binary.clone(),
            file_name: url.rsplit('/').next().unwrap_or_default().to_owned(),
            url: with_mirror(&url, mirror),
            checksums_url: with_mirror(&fill(&a.checksums), mirror),
            path: fill(&a.path),
            kind,
            pinned_sha256: a.sha256.get(&key).cloned(),
            checksum_format: a.checksum_format,
        });
    }
    Ok((release.version, artifacts))
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

    const OSES: [&str; 3] = ["linux", "darwin", "windows"];
    const ARCHES: [&str; 2] = ["amd64", "arm64"];

    /// What each upstream publishes, written out from its release tooling (see the
    /// comments in releases.toml) independently of the table's placeholders:
    /// (archive URL, checksum file URL, path of the binary inside) per binary, or
    /// `None` where nothing is published.
    fn expected(component: &str, os: &str, arch: &str) -> Option<Vec<(String, String, String)>> {
        let exe = if os == "windows" { ".exe" } else { "" };
        let gh = "https://github.com";
        Some(match component {
            "jaeger" => {
                if (os, arch) == ("windows", "arm64") {
                    return None;
                }
                let base = format!("{gh}/jaegertracing/jaeger/releases/download/v1.76.0");
                [("2.13.0", "jaeger"), ("1.76.0", "jaeger-all-in-one")]
                    .into_iter()
                    .map(|(v, bin)| {
                        (
                            format!("{base}/jaeger-{v}-{os}-{arch}.tar.gz"),
                            format!("{base}/jaeger-{v}.sha256sum.txt"),
                            format!("jaeger-{v}-{os}-{arch}/{bin}{exe}"),
                        )
                    })
                    .collect()
            }
            "collector" => {
                let url = format!(
                    "{gh}/open-telemetry/opentelemetry-collector-releases/releases/download/v0.165.0/otelcol-contrib_0.165.0_{os}_{arch}.tar.gz"
                );
                vec![(url.clone(), format!("{url}.sha256"), format!("otelcol-contrib{exe}"))]
            }
            "prometheus" => {
                let ext = if os == "windows" { "zip" } else { "tar.gz" };
                let base = format!("{gh}/prometheus/prometheus/releases/download/v3.5.0");
                vec![(
                    format!("{base}/prometheus-3.5.0.{os}-{arch}.{ext}"),
                    format!("{base}/sha256sums.txt"),
                    format!("prometheus-3.5.0.{os}-{arch}/prometheus{exe}"),
                )]
            }
            "grafana" => {
                if (os, arch) == ("windows", "arm64") {
                    return None;
                }
                let url = format!(
                    "https://dl.grafana.com/grafana/release/12.2.1/grafana_12.2.1_18655849634_{os}_{arch}.tar.gz"
                );
                vec![(url.clone(), format!("{url}.sha256"), format!("grafana-12.2.1/bin/grafana{exe}"))]
            }
            other => panic!("no expectation for {other}"),
        })
    }

    #[test]
    fn every_component_os_and_arch_matches_the_real_release_pages() {
        let table = table();
        for component in table.keys() {
            for os in OSES {
                for arch in ARCHES {
                    let platform = Platform { os, arch };
                    match (artifacts(component, platform, None), expected(component, os, arch)) {
                        (Ok((_, got)), Some(want)) => {
                            let got: Vec<_> = got.into_iter().map(|a| (a.url, a.checksums_url, a.path)).collect();
                            assert_eq!(got, want, "{component} {os}/{arch}");
                        }
                        (Err(e), None) => {
                            let e = e.to_string();
                            assert!(e.contains(&format!("{os}/{arch}")) && e.contains("--from-source"), "{e}");
                        }
                        (got, want) => panic!("{component} {os}/{arch}: got {got:?}, expected {want:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn checksum_files_are_written_as_each_upstream_writes_them() {
        let linux = Platform { os: "linux", arch: "amd64" };
        let format = |c: &str| artifacts(c, linux, None).unwrap().1[0].checksum_format;
        let d = "ab".repeat(32);
        assert_eq!(format("jaeger").render(&d, "f.tar.gz"), format!("{d} *f.tar.gz\n"));
        assert_eq!(format("prometheus").render(&d, "f.tar.gz"), format!("{d}  f.tar.gz\n"));
        assert_eq!(format("collector").render(&d, "f.tar.gz"), format!("{d}\n"));
        assert_eq!(format("grafana").render(&d, "f.tar.gz"), format!("{d}\n"));
    }

    #[test]
    fn mirror_replaces_scheme_and_host_only() {
        let linux = Platform { os: "linux", arch: "amd64" };
        let (_, g) = artifacts("grafana", linux, Some("http://mirror.local:8080/")).unwrap();
        assert_eq!(
            g[0].url,
            "http://mirror.local:8080/grafana/release/12.2.1/grafana_12.2.1_18655849634_linux_amd64.tar.gz"
        );
        assert_eq!(g[0].checksums_url, format!("{}.sha256", g[0].url));
    }
}
