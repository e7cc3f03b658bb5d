//! `obsdemo install --from-source`: build Jaeger, a minimal Collector and Prometheus
//! with the Go toolchain, the way CI gets them (it reaches the Go module proxy, not
//! GitHub).
//!
//! A build has three steps a person sees: downloading (the module and what its
//! packages import), compiling, linking. The downloads of the next build run while
//! one compiles ([`download_ahead`]). Builds run in
//! `<obsdemo home>/build/<component>-<version>/`, with Go's output in a log beside it,
//! and land in the managed dir only when complete (build into a temporary dir, then
//! rename), so an interrupted build leaves nothing `up` would use. A version that is
//! already installed is not rebuilt.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tokio_util::sync::CancellationToken;

use super::InstallError;
use super::manifest::{Manifest, staging_dir};
use super::resolve::{exe, install_dir, obsdemo_home};

/// What a source build is made from; each component says which (`crate::components`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceRecipe {
    /// Commands of one Go module, built inside a copy of the module itself, so its own
    /// `go.mod` and `go.sum` (its replace directives, every version it was released
    /// with) decide the dependencies, as in the project's own release build: no
    /// module graph to resolve, only the modules its packages need to download,
    /// each checked against its `go.sum`.
    GoModule {
        /// The Go module.
        module: String,
        /// Its version, without the `v`.
        version: String,
        /// (package path inside the module, binary name), for each command.
        commands: Vec<(String, String)>,
        /// For each binary, the `-X` link flags that stamp its version the way the
        /// project's own release build does (variable, value). In a value, `{commit}`
        /// and `{date}` become the module's commit and its time, as the Go module proxy
        /// reports them (`go mod download -json`: `Origin.Hash`, `Time`), and
        /// `{build_date}` the time of the build.
        stamps: Vec<(String, Vec<(String, String)>)>,
        /// Files written over the module's own before the build (path inside the
        /// module, contents): a build choice the project itself offers, such as the
        /// service discoveries Prometheus's `plugins.yml` selects.
        files: Vec<(String, String)>,
    },
    /// A Collector distribution from an OpenTelemetry Collector Builder manifest.
    CollectorBuilder {
        /// The Collector release of every module.
        version: String,
        /// The rendered builder manifest.
        manifest: String,
    },
}

impl SourceRecipe {
    /// Recorded in the install's manifest; a build is reused only when it is the same,
    /// so editing the Collector's component list rebuilds it even at the same version.
    pub fn source(&self) -> String {
        match self {
            // "stamped", "static": a build from before versions were stamped, or before
            // cgo was off, is built again.
            Self::GoModule { module, version, files, .. } => {
                let mut source = format!("source: {module}@v{version} in its own module, version stamped, static");
                for (path, contents) in files {
                    source.push_str(&format!(", {path} sha256:{}", &super::sha256_hex(contents.as_bytes())[..16]));
                }
                source
            }
            Self::CollectorBuilder { version, manifest } => format!(
                "source: OpenTelemetry Collector Builder v{version}, static and stripped, manifest sha256:{}",
                &super::sha256_hex(manifest.as_bytes())[..16]
            ),
        }
    }
}

/// A platform to build for other than this one (`GOOS`/`GOARCH`), as `windows/amd64`:
/// Windows binaries cross-built on Linux, say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoTarget {
    /// `GOOS`.
    pub os: String,
    /// `GOARCH`.
    pub arch: String,
}

impl std::str::FromStr for GoTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (os, arch) = s.split_once('/').ok_or_else(|| format!("`{s}` is not OS/ARCH, like windows/amd64"))?;
        if os.is_empty() || arch.is_empty() {
            return Err(format!("`{s}` is not OS/ARCH, like windows/amd64"));
        }
        Ok(Self { os: os.into(), arch: arch.into() })
    }
}

/// Where `component` at `version` is built: `<obsdemo home>/build/<component>-<version>/`.
pub fn build_dir(component: &str, version: &str) -> PathBuf {
    obsdemo_home().join("build").join(format!("{component}-{version}"))
}

/// What a source build did.
#[derive(Debug)]
pub enum Built {
    /// It was already installed; nothing ran.
    AlreadyInstalled(PathBuf),
    /// It was built and installed here.
    Installed(PathBuf),
}

/// One source build: a component at a version, from its recipe, for a platform.
#[derive(Clone, Debug)]
pub struct SourceBuild {
    /// The component, as the managed dir names it.
    pub component: String,
    /// Its version.
    pub version: String,
    /// What it is built from.
    pub recipe: SourceRecipe,
    /// The platform, when not this machine's.
    pub platform: Option<GoTarget>,
}

/// Marks a build dir whose downloads are done, holding the build's key: the build
/// that follows does not download again.
const DOWNLOADED: &str = "obsdemo-downloaded";

impl SourceBuild {
    /// `component` at `version` from `recipe`, for this machine.
    pub fn new(component: &str, version: &str, recipe: SourceRecipe) -> Self {
        Self { component: component.to_owned(), version: version.to_owned(), recipe, platform: None }
    }

    /// What the install's manifest records; an install is reused only when the same.
    fn source(&self) -> String {
        match &self.platform {
            Some(p) => format!("{} for {}/{}", self.recipe.source(), p.os, p.arch),
            None => self.recipe.source(),
        }
    }

    /// The installed build, if it is this one.
    fn installed(&self) -> Option<PathBuf> {
        let target = install_dir(&self.component, &self.version);
        Manifest::read(&target).is_some_and(|m| m.source == self.source()).then_some(target)
    }

    /// Downloads what the build needs (the module, the modules its packages import,
    /// the Collector Builder) without compiling, and marks the build dir so that
    /// [`SourceBuild::build`] does not download again. Run ahead of a build while
    /// another compiles ([`download_ahead`]). Nothing to do when it is installed
    /// (unless `force`): then `false`.
    pub fn download(
        &self,
        force: bool,
        cancel: &CancellationToken,
        step: &mut dyn FnMut(&str),
    ) -> Result<bool, InstallError> {
        if !force && self.installed().is_some() {
            return Ok(false);
        }
        let go = self.go_run(cancel)?;
        self.run_recipe(&go, None, step)?;
        let mark = go.work.join(DOWNLOADED);
        std::fs::write(&mark, self.source()).map_err(InstallError::io("write", &mark))?;
        Ok(true)
    }

    /// Builds it into the managed dir, unless it is installed already (or `force`).
    /// `step` is told what is happening, for a progress display.
    pub fn build(
        &self,
        force: bool,
        cancel: &CancellationToken,
        step: &mut dyn FnMut(&str),
    ) -> Result<Built, InstallError> {
        if !force && let Some(target) = self.installed() {
            return Ok(Built::AlreadyInstalled(target));
        }
        let target = install_dir(&self.component, &self.version);
        let go = self.go_run(cancel)?;
        let staging = staging_dir(&target)?;
        let built = self.run_recipe(&go, Some(&staging), step);
        let installed = built.and_then(|binaries| {
            let manifest = Manifest {
                component: self.component.clone(),
                version: self.version.clone(),
                source: self.source(),
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

    /// The recipe's download steps, unless [`SourceBuild::download`] did them, then
    /// (with `out`) its compile and link steps into `out`.
    fn run_recipe(
        &self,
        go: &GoRun,
        out: Option<&Path>,
        step: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, InstallError> {
        let downloaded =
            out.is_some() && std::fs::read_to_string(go.work.join(DOWNLOADED)).is_ok_and(|mark| mark == self.source());
        let _ = std::fs::remove_file(go.work.join(DOWNLOADED));
        let phase = Phase { download: !downloaded, out };
        match &self.recipe {
            SourceRecipe::GoModule { module, version, commands, stamps, files } => {
                build_go_module(go, module, version, commands, stamps, files, phase, step)
            }
            SourceRecipe::CollectorBuilder { version, manifest } => build_collector(go, version, manifest, phase, step),
        }
    }

    fn go_run(&self, cancel: &CancellationToken) -> Result<GoRun, InstallError> {
        let go = which::which("go").map_err(|_| InstallError::NoGo { component: self.component.clone() })?;
        let work = build_dir(&self.component, &self.version);
        std::fs::create_dir_all(&work).map_err(InstallError::io("create", &work))?;
        Ok(GoRun {
            go,
            log: work.with_file_name(format!("{}-{}.log", self.component, self.version)),
            work,
            platform: self.platform.clone(),
            cancel: cancel.clone(),
            component: self.component.clone(),
        })
    }
}

/// Which steps of a recipe run.
#[derive(Clone, Copy)]
struct Phase<'a> {
    /// The download steps (not done ahead).
    download: bool,
    /// Compile and link into this dir; `None`: download only.
    out: Option<&'a Path>,
}

/// Builds each of `builds` in turn with `build`, downloading for every build after
/// the first on a thread of its own meanwhile, one after the other, so that a build
/// finds its downloads done: a download mostly waits on the network and the disk,
/// while a compile keeps both cores busy. `ahead` is told each step of the downloads
/// run ahead, as `(build, step)`. A failed download ahead is left to its build, which
/// downloads again and reports it. `force` downloads for builds installed already
/// (which `build` is then to rebuild).
///
/// The first failed build is the last one run: the results end with its error, and
/// the downloads still under way are stopped rather than waited for.
pub fn download_ahead<T, E>(
    builds: &[SourceBuild],
    force: bool,
    cancel: &CancellationToken,
    ahead: &(dyn Fn(&SourceBuild, &str) + Sync),
    mut build: impl FnMut(&SourceBuild) -> Result<T, E>,
) -> Vec<Result<T, E>> {
    let (done, downloaded) = std::sync::mpsc::channel::<usize>();
    // Cancelled with the caller's, or once the builds are over.
    let downloads = cancel.child_token();
    std::thread::scope(|scope| {
        let stop = &downloads;
        scope.spawn(move || {
            for (i, next) in builds.iter().enumerate().skip(1) {
                if stop.is_cancelled() {
                    break;
                }
                // Said, so that a display does not go on showing the download.
                if next.download(force, stop, &mut |stage| ahead(next, stage)).unwrap_or(false) {
                    ahead(next, "downloaded, waiting for the build before it");
                }
                if done.send(i).is_err() {
                    break;
                }
            }
        });
        let mut results = Vec::new();
        let mut ready = 0;
        for (i, each) in builds.iter().enumerate() {
            // Its download ahead ended (or the thread did): the build dir is its own.
            while ready < i {
                ready = downloaded.recv().unwrap_or(builds.len());
            }
            let result = build(each);
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        downloads.cancel();
        results
    })
}

/// Runs Go commands in one work dir, their output appended to one log.
struct GoRun {
    go: PathBuf,
    work: PathBuf,
    log: PathBuf,
    /// The platform the final `go build` is for, when not this one.
    platform: Option<GoTarget>,
    /// Cancelled on Ctrl-C: the running Go command is ended with its children.
    cancel: CancellationToken,
    /// What is built, for the interruption's message.
    component: String,
}

impl GoRun {
    /// Downloads the modules that `packages` and the packages they import come from,
    /// for the target platform, without compiling anything (`go list -deps` loads
    /// packages, which needs their source). The packages are listed in the log.
    fn download(&self, dir: &Path, packages: &[String]) -> Result<(), InstallError> {
        let mut args = vec!["list", "-trimpath", "-deps"];
        args.extend(packages.iter().map(String::as_str));
        self.go_for_target(dir, &args)
    }

    /// Compiles `package` and every package it imports into Go's build cache, for the
    /// target platform, without linking: `go list -export -deps` compiles each package
    /// for its export data, the same compile (same flags, same cache entry) that
    /// `go build` would run, so the `go build` after it only links. Two commands make
    /// the two steps a person waits for visible (compiling is minutes, linking tens of
    /// seconds). The packages are listed in the log, in the order Go compiles them.
    fn compile(&self, dir: &Path, package: &str) -> Result<(), InstallError> {
        self.go_for_target(dir, &["list", "-trimpath", "-export", "-deps", package])
    }

    /// Links `package` (compiled by [`GoRun::compile`]) into `output`, with `ldflags`.
    fn link(&self, dir: &Path, package: &str, ldflags: &str, output: &Path) -> Result<(), InstallError> {
        let output = output.display().to_string();
        self.go_for_target(dir, &["build", "-trimpath", "-ldflags", ldflags, "-o", &output, package])
    }

    /// `go args` in `dir`, for the target platform, without cgo.
    ///
    /// Without cgo, as each project's release: Jaeger's `GOBUILD` is
    /// `CGO_ENABLED=0 go build -trimpath` (jaeger `scripts/makefiles/BuildBinaries.mk`),
    /// the Collector's releases set `CGO_ENABLED=0` (opentelemetry-collector-releases
    /// `distributions/otelcol/.goreleaser.yaml`), and Prometheus's is static with Go's
    /// own resolver (`-tags netgo`, `-extldflags '-static'`: prometheus `.promu.yml`,
    /// prometheus/promu `cmd/build.go`). So a source build is a static binary that
    /// needs no C library of a given version, resolves names as the release does, and
    /// compiles no C: where a C compiler is installed, Go would otherwise use it for
    /// `net`, `os/user` and `runtime/cgo`.
    fn go_for_target(&self, dir: &Path, args: &[&str]) -> Result<(), InstallError> {
        let mut env = vec![("CGO_ENABLED", "0")];
        if let Some(p) = &self.platform {
            env.extend([("GOOS", p.os.as_str()), ("GOARCH", p.arch.as_str())]);
        }
        self.run_in(dir, &self.go, args, &env)
    }

    /// `name` as an executable of the target platform.
    fn exe(&self, name: &str) -> String {
        match &self.platform {
            Some(p) if p.os == "windows" => format!("{name}.exe"),
            Some(_) => name.to_owned(),
            None => exe(name),
        }
    }

    fn run(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), InstallError> {
        self.run_in(&self.work, program, args, env)
    }

    fn run_in(&self, dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), InstallError> {
        let open_log = || File::options().create(true).append(true).open(&self.log);
        let log = open_log().map_err(InstallError::io("open", &self.log))?;
        let log_too = log.try_clone().map_err(InstallError::io("open", &self.log))?;
        let mut command = Command::new(program);
        command.args(args).envs(env.iter().copied()).current_dir(dir).stdin(Stdio::null()).stdout(log_too).stderr(log);
        // Its own group, so an interruption ends the compilers it started too.
        crate::platform::own_group(&mut command);
        let mut child = command.spawn().map_err(InstallError::io("run", program))?;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(InstallError::io("wait for", program))? {
                break status;
            }
            if self.cancel.is_cancelled() {
                crate::platform::kill_group(child.id());
                let _ = child.wait();
                return Err(InstallError::Interrupted { component: self.component.clone() });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        if !status.success() {
            return Err(self.failed(program, args, status));
        }
        Ok(())
    }

    /// `program args` ended with `status`: the error, with the end of the log.
    fn failed(&self, program: &Path, args: &[&str], status: std::process::ExitStatus) -> InstallError {
        InstallError::Go {
            command: format!("{} {}", program.display(), args.join(" ")),
            status: status.to_string(),
            log: self.log.clone(),
            tail: crate::logs::tail(&self.log, 15).unwrap_or_default(),
        }
    }

    /// What `go args` prints on stdout (its stderr goes to the log).
    fn go_output(&self, args: &[&str]) -> Result<String, InstallError> {
        let log =
            File::options().create(true).append(true).open(&self.log).map_err(InstallError::io("open", &self.log))?;
        let out = Command::new(&self.go)
            .args(args)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stderr(log)
            .output()
            .map_err(InstallError::io("run", &self.go))?;
        if !out.status.success() {
            return Err(self.failed(&self.go, args, out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// `secs` since the epoch as promu stamps Prometheus's build date: `20060102-15:04:05`,
/// UTC (prometheus/promu `cmd/build.go`). Days to civil date: Howard Hinnant's
/// `civil_from_days`.
fn promu_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The `-ldflags` of `stamps`, with the module's commit and time and the build's time
/// put in.
fn link_flags(stamps: &[(String, String)], commit: &str, date: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let build_date = promu_date(now);
    stamps
        .iter()
        .map(|(var, value)| {
            let value = value.replace("{commit}", commit).replace("{date}", date).replace("{build_date}", &build_date);
            format!("-X '{var}={value}'")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[allow(clippy::too_many_arguments, reason = "the recipe's fields, passed as they are")]
fn build_go_module(
    go: &GoRun,
    module: &str,
    version: &str,
    commands: &[(String, String)],
    stamps: &[(String, Vec<(String, String)>)],
    files: &[(String, String)],
    phase: Phase<'_>,
    step: &mut dyn FnMut(&str),
) -> Result<Vec<String>, InstallError> {
    if phase.download {
        step(&format!("downloading {module} v{version}"));
    }
    // Run where no go.mod is, so that nothing but the module itself is asked for (the
    // wrapper module earlier versions of obsdemo built through may still be there).
    for stale in ["go.mod", "go.sum"] {
        let _ = std::fs::remove_file(go.work.join(stale));
    }
    let download = go.go_output(&["mod", "download", "-json", &format!("{module}@v{version}")])?;
    let download: serde_json::Value = serde_json::from_str(&download).unwrap_or_default();
    let Some(from) = download["Dir"].as_str().map(PathBuf::from) else {
        return Err(InstallError::Go {
            command: format!("go mod download -json {module}@v{version}"),
            status: "no module directory in its answer".into(),
            log: go.log.clone(),
            tail: download.to_string(),
        });
    };
    // A copy, writable (the module cache is read-only), with the chosen files over it.
    let tree = go.work.join("module");
    if phase.download {
        let _ = std::fs::remove_dir_all(&tree);
        copy_tree(&from, &tree)?;
        for (path, contents) in files {
            let file = tree.join(path);
            std::fs::write(&file, contents).map_err(InstallError::io("write", &file))?;
        }
    }
    // The commit and time the module proxy records for the version, for the stamps:
    // in its `.info` file (`Time`, and `Origin.Hash` where the proxy keeps it; not
    // every proxy does, and then the commit is stamped `unknown`).
    let info: serde_json::Value = download["Info"]
        .as_str()
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let commit = [&info, &download].iter().find_map(|v| v["Origin"]["Hash"].as_str()).unwrap_or("unknown").to_owned();
    let date = [&info, &download].iter().find_map(|v| v["Time"].as_str()).unwrap_or_default().to_owned();
    let packages: Vec<String> = commands.iter().map(|(package, _)| format!("{module}/{package}")).collect();
    if phase.download {
        step("downloading the modules it needs");
        go.download(&tree, &packages)?;
    }
    let Some(out) = phase.out else { return Ok(Vec::new()) };
    let mut binaries = Vec::new();
    for ((_, name), package) in commands.iter().zip(&packages) {
        step(&format!("compiling {name} (several minutes on 2 cores the first time)"));
        go.compile(&tree, package)?;
        step(&format!("linking {name}"));
        let bin = go.exe(name);
        let flags =
            stamps.iter().find(|(b, _)| b == name).map(|(_, s)| link_flags(s, &commit, &date)).unwrap_or_default();
        go.link(&tree, package, &flags, &out.join(&bin))?;
        binaries.push(bin);
    }
    Ok(binaries)
}

/// Copies the directory tree `from` to `to`, files as plain writable files.
fn copy_tree(from: &Path, to: &Path) -> Result<(), InstallError> {
    std::fs::create_dir_all(to).map_err(InstallError::io("create", to))?;
    for entry in std::fs::read_dir(from).map_err(InstallError::io("read", from))? {
        let entry = entry.map_err(InstallError::io("read", from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(InstallError::io("read", &source))?.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            let bytes = std::fs::read(&source).map_err(InstallError::io("read", &source))?;
            std::fs::write(&target, bytes).map_err(InstallError::io("write", &target))?;
        }
    }
    Ok(())
}

fn build_collector(
    go: &GoRun,
    version: &str,
    manifest: &str,
    phase: Phase<'_>,
    step: &mut dyn FnMut(&str),
) -> Result<Vec<String>, InstallError> {
    let dist = go.work.join("dist");
    if phase.download {
        download_collector(go, version, manifest, &dist, step)?;
    }
    let Some(out) = phase.out else { return Ok(Vec::new()) };
    step("compiling the Collector (several minutes on 2 cores the first time)");
    go.compile(&dist, ".")?;
    step("linking the Collector");
    let bin = go.exe("otelcol-obsdemo");
    // Without symbol table and DWARF, as the Builder's own compile links unless asked
    // for a debug build (opentelemetry-collector `cmd/builder/internal/builder/main.go`,
    // `Compile`) and the releases do (`LD_FLAGS=-s -w` in
    // opentelemetry-collector-releases `distributions/otelcol/.goreleaser.yaml`).
    go.link(&dist, ".", "-s -w", &out.join(&bin))?;
    Ok(vec![bin])
}

/// The Collector Builder, the sources it generates from `manifest` into `dist`, and
/// the modules they import.
fn download_collector(
    go: &GoRun,
    version: &str,
    manifest: &str,
    dist: &Path,
    step: &mut dyn FnMut(&str),
) -> Result<(), InstallError> {
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
    let manifest_file = go.work.join("manifest.yaml");
    std::fs::write(&manifest_file, manifest).map_err(InstallError::io("write", &manifest_file))?;
    // The builder's own module step runs a strict `go mod tidy`, which also fetches the
    // test-only dependencies of every component; the Go module proxy does not serve all
    // of them. So the builder only generates the sources (and, so, no go.mod); here the
    // module is created, every manifest module required at its pinned version (`go get`
    // loads packages, not their tests), and `go mod tidy -e` fills in the rest,
    // tolerating a missing test-only module.
    step("generating the Collector's sources");
    let _ = std::fs::remove_dir_all(dist);
    go.run(&builder, &["--config", "manifest.yaml", "--skip-compilation", "--skip-get-modules"], &[])?;
    step("downloading the Collector's modules");
    go.run_in(dist, &go.go, &["mod", "init", "local.obsdemo/otelcol-obsdemo"], &[])?;
    let mut get = vec!["get".to_owned()];
    get.extend(pinned_modules(manifest)?);
    go.run_in(dist, &go.go, &get.iter().map(String::as_str).collect::<Vec<_>>(), &[])?;
    go.run_in(dist, &go.go, &["mod", "tidy", "-e"], &[])
}

/// Every `gomod` of a builder manifest as `module@version`.
fn pinned_modules(manifest: &str) -> Result<Vec<String>, InstallError> {
    let bad = |why: &str| InstallError::BuilderManifest(why.to_owned());
    let doc: serde_json::Value = serde_saphyr::from_str(manifest).map_err(|e| bad(&format!("not YAML: {e}")))?;
    let mut modules = Vec::new();
    for section in ["receivers", "processors", "exporters", "connectors", "extensions", "providers"] {
        for entry in doc[section].as_array().into_iter().flatten() {
            let gomod = entry["gomod"].as_str().ok_or_else(|| bad("an entry has no gomod"))?;
            let (module, version) = gomod.split_once(' ').ok_or_else(|| bad("a gomod is `module version`"))?;
            modules.push(format!("{module}@{}", version.trim()));
        }
    }
    if modules.is_empty() {
        return Err(bad("it lists no modules"));
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_dates_are_written_as_promu_writes_them() {
        assert_eq!(super::promu_date(0), "19700101-00:00:00");
        assert_eq!(super::promu_date(1_796_347_233), "20261204-01:20:33");
        assert_eq!(super::promu_date(951_782_400), "20000229-00:00:00");
    }

    #[test]
    fn manifest_modules_are_pinned() {
        let recipe = crate::components::ComponentId::Collector.kind().source_recipe(&Default::default());
        let Some(Ok(super::SourceRecipe::CollectorBuilder { manifest, .. })) = recipe else { panic!("{recipe:?}") };
        let modules = super::pinned_modules(&manifest).unwrap();
        assert!(
            modules.contains(&"go.opentelemetry.io/collector/receiver/otlpreceiver@v0.165.0".to_owned()),
            "{modules:?}"
        );
        assert!(modules.contains(&"go.opentelemetry.io/collector/confmap/provider/fileprovider@v1.71.0".to_owned()));
        assert_eq!(modules.len(), 14);
    }
}
