//! `obsdemo install --from-source`: build Jaeger and a minimal Collector with the Go
//! toolchain, the way CI gets them (it reaches the Go module proxy, not GitHub).
//!
//! Builds run in `<obsdemo home>/build/<component>-<version>/`, with Go's output in a
//! log beside it, and land in the managed dir only when complete (build into a
//! temporary dir, then rename), so an interrupted build leaves nothing `up` would use.
//! A version that is already installed is not rebuilt.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::manifest::{Manifest, staging_dir};
use super::resolve::{exe, install_dir, obsdemo_home};

/// The Go module holding both Jaeger v2 (`cmd/jaeger`) and v1 (`cmd/all-in-one`).
const JAEGER_MODULE: &str = "github.com/jaegertracing/jaeger";

/// What a source build did.
#[derive(Debug)]
pub enum Built {
    /// It was already installed; nothing ran.
    AlreadyInstalled(PathBuf),
    /// It was built and installed here.
    Installed(PathBuf),
}

/// Builds `component` at `version` from source into the managed dir.
///
/// `step` is told what is happening, for a progress display.
pub fn build(component: &str, version: &str, force: bool, step: &mut dyn FnMut(&str)) -> anyhow::Result<Built> {
    let target = install_dir(component, version);
    let recipe = Recipe::new(component, version)?;
    if !force && Manifest::read(&target).is_some_and(|m| m.source == recipe.source) {
        return Ok(Built::AlreadyInstalled(target));
    }
    let go = which::which("go").map_err(|_| {
        anyhow::anyhow!(
            "building {component} from source needs the Go toolchain (go 1.24 or newer) on PATH; \
             install it (Debian: `apt-get install golang-go`, or from go.dev), or use `obsdemo install {component}` \
             for the official release"
        )
    })?;
    let work = obsdemo_home().join("build").join(format!("{component}-{version}"));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let log_path = work.with_file_name(format!("{component}-{version}.log"));
    let go_run = GoRun { go, work: work.clone(), log: log_path.clone() };
    let staging = staging_dir(&target)?;
    let built = match &recipe.builder_manifest {
        None => build_jaeger(&go_run, version, &staging, step),
        Some(builder_manifest) => build_collector(&go_run, version, builder_manifest, &staging, step),
    };
    let installed = built.and_then(|binaries| {
        let manifest = Manifest {
            component: component.into(),
            version: version.into(),
            source: recipe.source,
            binaries,
            downloads: Vec::new(),
        };
        manifest.install_into(&staging, &target)
    });
    if installed.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    installed.map(|()| Built::Installed(target))
}

/// What a source build is made from. Its `source` string is recorded in the install's
/// manifest; a build is reused only when that string is the same, so editing the
/// Collector's component list rebuilds it even at the same version.
struct Recipe {
    source: String,
    /// The OpenTelemetry Collector Builder manifest, for the Collector.
    builder_manifest: Option<String>,
}

impl Recipe {
    fn new(component: &str, version: &str) -> anyhow::Result<Self> {
        match component {
            "jaeger" => Ok(Self { source: format!("source: {JAEGER_MODULE}@v{version}"), builder_manifest: None }),
            "collector" => {
                let dist = obsdemo_home().join("build").join(format!("collector-{version}")).join("dist");
                let manifest = crate::render::builder_manifest(version, &providers_version(version)?, &dist)?;
                let digest = super::sha256_hex(manifest.as_bytes());
                Ok(Self {
                    source: format!(
                        "source: OpenTelemetry Collector Builder v{version}, manifest sha256:{}",
                        &digest[..16]
                    ),
                    builder_manifest: Some(manifest),
                })
            }
            other => bail!(
                "`{other}` cannot be built from source here: only jaeger and collector can \
                 (Prometheus comes from the Debian package `prometheus`)"
            ),
        }
    }
}

/// Runs Go commands in one work dir, their output appended to one log.
struct GoRun {
    go: PathBuf,
    work: PathBuf,
    log: PathBuf,
}

impl GoRun {
    fn run(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
        self.run_in(&self.work, program, args, env)
    }

    fn run_in(&self, dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let status = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("cannot run {}", program.display()))?;
        if !status.success() {
            bail!(
                "`{} {}` failed ({status}); the last lines of {}:\n{}",
                program.display(),
                args.join(" "),
                self.log.display(),
                crate::logs::tail(&self.log, 15).unwrap_or_default()
            );
        }
        Ok(())
    }

    fn go(&self, args: &[&str]) -> anyhow::Result<()> {
        self.run(&self.go, args, &[])
    }
}

fn build_jaeger(go: &GoRun, version: &str, out: &Path, step: &mut dyn FnMut(&str)) -> anyhow::Result<Vec<String>> {
    // `go install pkg@version` refuses this module (its go.mod has replace directives),
    // so a small wrapper module depends on it and builds its commands.
    if !go.work.join("go.mod").is_file() {
        go.go(&["mod", "init", "local.obsdemo/jaeger"])?;
    }
    step(&format!("resolving {JAEGER_MODULE} v{version}"));
    for cmd in ["jaeger", "all-in-one"] {
        go.go(&["get", "-tool", &format!("{JAEGER_MODULE}/cmd/{cmd}@v{version}")])?;
    }
    let mut binaries = Vec::new();
    for (cmd, name) in [("jaeger", "jaeger"), ("all-in-one", "jaeger-all-in-one")] {
        step(&format!("compiling {name} (several minutes on 2 cores the first time)"));
        let bin = exe(name);
        go.go(&["build", "-o", &out.join(&bin).display().to_string(), &format!("{JAEGER_MODULE}/cmd/{cmd}")])?;
        binaries.push(bin);
    }
    Ok(binaries)
}

fn build_collector(
    go: &GoRun,
    version: &str,
    manifest: &str,
    out: &Path,
    step: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<String>> {
    let tools = go.work.join("tools");
    let builder = tools.join(exe("builder"));
    if !builder.is_file() {
        step(&format!("installing the OpenTelemetry Collector Builder v{version}"));
        let gobin = tools.display().to_string();
        go.run(
            &go.go,
            &["install", &format!("go.opentelemetry.io/collector/cmd/builder@v{version}")],
            &[("GOBIN", &gobin)],
        )?;
    }
    let dist = go.work.join("dist");
    std::fs::write(go.work.join("manifest.yaml"), manifest)?;
    // The builder's own module step runs a strict `go mod tidy`, which also fetches the
    // test-only dependencies of every component; the Go module proxy does not serve all
    // of them. So the builder only generates the sources (and, so, no go.mod); here the
    // module is created, every manifest module required at its pinned version (`go get`
    // loads packages, not their tests), and `go mod tidy -e` fills in the rest,
    // tolerating a missing test-only module.
    step("generating the Collector's sources");
    let _ = std::fs::remove_dir_all(&dist);
    go.run(&builder, &["--config", "manifest.yaml", "--skip-compilation", "--skip-get-modules"], &[])?;
    step("resolving the Collector's modules");
    go.run_in(&dist, &go.go, &["mod", "init", "local.obsdemo/otelcol-obsdemo"], &[])?;
    let mut get = vec!["get".to_owned()];
    get.extend(pinned_modules(manifest)?);
    go.run_in(&dist, &go.go, &get.iter().map(String::as_str).collect::<Vec<_>>(), &[])?;
    go.run_in(&dist, &go.go, &["mod", "tidy", "-e"], &[])?;
    step("compiling the Collector (several minutes on 2 cores the first time)");
    let bin = exe("otelcol-obsdemo");
    let target = out.join(&bin).display().to_string();
    go.run_in(&dist, &go.go, &["build", "-trimpath", "-o", &target, "."], &[])?;
    Ok(vec![bin])
}

/// Every `gomod` of a builder manifest as `module@version`.
fn pinned_modules(manifest: &str) -> anyhow::Result<Vec<String>> {
    let doc: serde_json::Value = serde_saphyr::from_str(manifest).context("the builder manifest is not YAML")?;
    let mut modules = Vec::new();
    for section in ["receivers", "processors", "exporters", "extensions", "providers"] {
        for entry in doc[section].as_array().into_iter().flatten() {
            let gomod = entry["gomod"].as_str().context("a manifest entry has no gomod")?;
            let (module, version) = gomod.split_once(' ').context("a gomod is `module version`")?;
            modules.push(format!("{module}@{}", version.trim()));
        }
    }
    anyhow::ensure!(!modules.is_empty(), "the builder manifest lists no modules");
    Ok(modules)
}

/// The confmap providers are versioned 1.x alongside collector 0.y: 0.160 <-> 1.66.
fn providers_version(collector: &str) -> anyhow::Result<String> {
    let minor: u32 = collector
        .strip_prefix("0.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|m| m.parse().ok())
        .filter(|m| *m >= 120)
        .with_context(|| format!("collector version {collector} is not a 0.x release from 0.120 on"))?;
    Ok(format!("1.{}.0", minor - 94))
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_modules_are_pinned() {
        let manifest = crate::render::builder_manifest("0.165.0", "1.71.0", std::path::Path::new("/d")).unwrap();
        let modules = super::pinned_modules(&manifest).unwrap();
        assert!(
            modules.contains(&"go.opentelemetry.io/collector/receiver/otlpreceiver@v0.165.0".to_owned()),
            "{modules:?}"
        );
        assert!(modules.contains(&"go.opentelemetry.io/collector/confmap/provider/fileprovider@v1.71.0".to_owned()));
        assert_eq!(modules.len(), 12);
    }

    #[test]
    fn providers_follow_the_collector_release() {
        assert_eq!(super::providers_version("0.160.0").unwrap(), "1.66.0");
        assert_eq!(super::providers_version("0.165.1").unwrap(), "1.71.0");
        assert!(super::providers_version("1.2.3").is_err());
    }
}
