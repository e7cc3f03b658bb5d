//! `obsdemo install` against a local HTTP server that serves release archives the
//! test builds (tar.gz and zip, each holding a small executable script) and their
//! checksum files, or misbehaves on purpose.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use obsdemo::install::releases::{self, ArchiveKind, Artifact, Platform};
use serde_json::{Value, json};

use crate::harness::*;

/// How the server answers one path.
#[derive(Clone)]
enum Route {
    File(Vec<u8>),
    /// Announces the whole length, sends half, closes.
    Truncated(Vec<u8>),
    /// Sends headers and a few bytes, then nothing.
    Stall,
}

/// A tiny HTTP/1.1 server on loopback; unknown paths answer 404.
struct ReleaseServer {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ReleaseServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, log) = (routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (r, log) = (r.clone(), log.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap_or(0);
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let mut header = String::new();
                    while reader.read_line(&mut header).unwrap_or(0) > 2 {
                        header.clear();
                    }
                    log.lock().unwrap().push(path.clone());
                    let route = r.lock().unwrap().get(&path).cloned();
                    let mut conn = conn;
                    let head =
                        |len: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
                    let _ = match route {
                        Some(Route::File(body)) => {
                            conn.write_all(head(body.len()).as_bytes()).and_then(|_| conn.write_all(&body))
                        }
                        Some(Route::Truncated(body)) => conn
                            .write_all(head(body.len()).as_bytes())
                            .and_then(|_| conn.write_all(&body[..body.len() / 2])),
                        Some(Route::Stall) => {
                            let _ = conn.write_all(head(1000).as_bytes()).and_then(|_| conn.write_all(b"abc"));
                            std::thread::sleep(Duration::from_secs(120));
                            Ok(())
                        }
                        None => {
                            conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        }
                    };
                });
            }
        });
        Self { port, routes, requests }
    }

    fn mirror(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self, url: &str, route: Route) {
        self.routes.lock().unwrap().insert(path_of(url), route);
    }

    fn requested(&self, url: &str) -> usize {
        let path = path_of(url);
        self.requests.lock().unwrap().iter().filter(|p| **p == path).count()
    }
}

fn path_of(url: &str) -> String {
    let rest = &url[url.find("://").unwrap() + 3..];
    rest[rest.find('/').unwrap()..].to_owned()
}

fn sha256(bytes: &[u8]) -> String {
    obsdemo::install::sha256_hex(bytes)
}

/// A tar.gz holding `entries` (path, content, mode).
fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, content, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw: the tar crate's own setter refuses `..`, and a test must not.
        let name = &mut header.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A zip holding `entries` (path, content, mode).
fn zip(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        writer.start_file(*path, options).unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn script(says: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '{says}'\n").into_bytes()
}

/// The artifacts of `component` for this machine, as served by `server`.
fn artifacts(component: &str, server: &ReleaseServer) -> (String, Vec<Artifact>) {
    releases::artifacts(component, Platform::current().unwrap(), Some(&server.mirror())).unwrap()
}

/// Serves `component`'s archive (holding a script printing `says`) and a checksum
/// file listing `digest` (the archive's own when `None`).
fn publish(server: &ReleaseServer, component: &str, says: &str, digest: Option<&str>) -> Artifact {
    let (_, artifacts) = artifacts(component, server);
    let artifact = artifacts[0].clone();
    let archive = tar_gz(&[(&artifact.path, &script(says), 0o755)]);
    let digest = digest.map_or_else(|| sha256(&archive), str::to_owned);
    let checksums = artifact.checksum_format.render(&digest, &artifact.file_name);
    server.serve(&artifact.checksums_url, Route::File(checksums.into_bytes()));
    server.serve(&artifact.url, Route::File(archive));
    artifact
}

/// Runs obsdemo with its own managed dir and the mirror.
fn obsdemo(home: &Path, server: &ReleaseServer, args: &[&str]) -> Output {
    obsdemo_command(home, server, args).output().unwrap()
}

fn obsdemo_command(home: &Path, server: &ReleaseServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("OBSDEMO_HOME", home)
        .env("OBSDEMO_MIRROR", server.mirror())
        .env("NO_COLOR", "1")
        .current_dir(home)
        .args(args);
    cmd
}

/// `PATH` without the directories that hold a `go`: a machine where a component
/// can be neither downloaded nor built.
fn path_without_go() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path).filter(|dir| !dir.join("go").exists()).collect();
    std::env::join_paths(kept).unwrap().into_string().unwrap()
}

/// Links the real, already installed `component` into the managed dir below `home`.
fn link_installed(home: &Path, component: &str, version: &str) {
    let real = find_binary(component).unwrap();
    let dir = home.join("bin").join(component).join(version);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(real.parent().unwrap(), &dir).unwrap();
}

/// Asserts the managed dir holds no install and no leftover of one for `component`.
fn assert_nothing_installed(home: &Path, component: &str) {
    let dir = home.join("bin").join(component);
    let left: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "left behind in {}: {left:?}", dir.display());
}

#[test]
fn install_verifies_unpacks_resolves_and_is_idempotent() {
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let artifact = publish(&server, "prometheus", "fake prometheus one", None);
    let out = obsdemo(home.path(), &server, &["install", "prometheus"]);
    assert_success(&out, "install prometheus");
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed prometheus"), "{}", describe(&out));

    // Resolution finds it in the managed dir (ahead of any prometheus on PATH), and it runs.
    let list = obsdemo(home.path(), &server, &["install", "--list"]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    let line = listed.lines().find(|l| l.starts_with("prometheus")).unwrap();
    let binary = line.split_whitespace().last().unwrap();
    assert!(binary.starts_with(home.path().to_str().unwrap()), "{listed}");
    assert!(line.contains("release"), "{listed}");
    let ran = Command::new(binary).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "fake prometheus one");
    let manifest =
        std::fs::read_to_string(Path::new(binary).ancestors().nth(2).unwrap().join("obsdemo-install.json")).unwrap();
    assert!(
        manifest.contains(&artifact.url)
            && manifest.contains(&sha256(&tar_gz(&[(&artifact.path, &script("fake prometheus one"), 0o755)])))
    );

    // A second install fetches nothing; --force replaces.
    let before = server.requested(&artifact.url);
    let again = obsdemo(home.path(), &server, &["install", "prometheus"]);
    assert_success(&again, "second install");
    assert!(String::from_utf8_lossy(&again.stdout).contains("already installed"), "{}", describe(&again));
    assert_eq!(server.requested(&artifact.url), before);
    publish(&server, "prometheus", "fake prometheus two", None);
    assert_success(&obsdemo(home.path(), &server, &["install", "prometheus", "--force"]), "install --force");
    assert_eq!(server.requested(&artifact.url), before + 1);
    let ran = Command::new(binary).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "fake prometheus two");
}

#[test]
fn zip_archives_install_with_their_executable_bit() {
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let (_, mut artifacts) = artifacts("grafana", &server);
    let artifact = &mut artifacts[0];
    artifact.kind = ArchiveKind::Zip;
    artifact.file_name = artifact.file_name.replace(".tar.gz", ".zip");
    artifact.url = artifact.url.replace(".tar.gz", ".zip");
    let archive = zip(&[
        (&artifact.path, &script("fake grafana"), 0o755),
        ("grafana-12.2.1/conf/defaults.ini", b"[paths]\n", 0o644),
    ]);
    server.serve(&artifact.url, Route::File(archive.clone()));
    server.serve(&artifact.checksums_url, Route::File(sha256(&archive).into_bytes()));
    let target = home.path().join("grafana/12.2.1");
    let options = obsdemo::install::official::InstallOptions {
        force: false,
        mirror: None,
        stall_timeout: Duration::from_secs(5),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(obsdemo::install::official::install_artifacts(
        &target,
        "grafana",
        "12.2.1",
        &artifacts,
        &options,
        &obsdemo::progress::Silent,
    ))
    .unwrap();
    let ran = Command::new(target.join(&artifacts[0].path)).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "fake grafana");
    assert!(target.join("grafana-12.2.1/conf/defaults.ini").is_file());
}

#[test]
fn wrong_checksum_is_refused_and_nothing_is_left() {
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let wrong = "0".repeat(64);
    publish(&server, "prometheus", "tampered", Some(&wrong));
    let out = obsdemo(home.path(), &server, &["install", "prometheus"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not match its published checksum"), "{stderr}");
    assert!(stderr.contains(&wrong), "both digests are shown: {stderr}");
    assert_nothing_installed(home.path(), "prometheus");
}

#[test]
fn truncated_missing_and_stalled_downloads_fail_clearly_and_leave_nothing() {
    let server = ReleaseServer::start();
    for (route, expect) in [
        (Some(Route::Truncated(vec![7; 4096])), "ended after"),
        (None, "HTTP 404"),
        (Some(Route::Stall), "sent nothing for 1 s"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let artifact = publish(&server, "prometheus", "x", Some(&"1".repeat(64)));
        match route {
            Some(route) => server.serve(&artifact.url, route),
            None => {
                server.routes.lock().unwrap().remove(&path_of(&artifact.url));
            }
        }
        let began = Instant::now();
        // No Go either: the release cannot be had and no source build can stand in.
        let out = obsdemo_command(home.path(), &server, &["install", "prometheus", "--timeout", "1s"])
            .env("PATH", path_without_go())
            .output()
            .unwrap();
        let took = began.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{expect}: {}", describe(&out));
        assert!(stderr.contains(expect) && stderr.contains(&artifact.url), "{expect}: {stderr}");
        assert!(stderr.contains("needs Go") && stderr.contains("OBSDEMO_MIRROR"), "names every way out: {stderr}");
        // Three attempts with their stall timeouts and back-off, with room to spare.
        assert!(took < Duration::from_secs(30), "{expect}: took {took:?}");
        assert_nothing_installed(home.path(), "prometheus");
    }
}

#[test]
fn archive_escaping_its_directory_is_refused() {
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let (_, artifacts) = artifacts("prometheus", &server);
    let artifact = &artifacts[0];
    let archive = tar_gz(&[(&artifact.path, &script("ok"), 0o755), ("../../escaped-by-obsdemo-test", b"owned", 0o644)]);
    server.serve(&artifact.url, Route::File(archive.clone()));
    server.serve(
        &artifact.checksums_url,
        Route::File(format!("{}  {}\n", sha256(&archive), artifact.file_name).into_bytes()),
    );
    let out = obsdemo(home.path(), &server, &["install", "prometheus"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("points outside the install directory"),
        "{}",
        describe(&out)
    );
    assert_nothing_installed(home.path(), "prometheus");
    for dir in [home.path().join("bin"), home.path().to_owned(), home.path().parent().unwrap().to_owned()] {
        assert!(!dir.join("escaped-by-obsdemo-test").exists());
    }
}

#[test]
fn up_install_installs_only_what_is_missing() {
    require(&["jaeger", "collector", "prometheus"]);
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let config = obsdemo::stack::StackConfig::default();
    // The Collector and Prometheus are installed already (the real ones).
    link_installed(home.path(), "collector", &config.collector.version);
    link_installed(home.path(), "prometheus", &config.prometheus.version);
    // Jaeger is missing: the mirror serves archives whose binaries run the real ones.
    let real_jaeger = find_binary("jaeger").unwrap();
    let (_, jaeger) = artifacts("jaeger", &server);
    for a in &jaeger {
        let wrapper = format!("#!/bin/sh\nexec '{}' \"$@\"\n", real_jaeger.with_file_name(&a.binary).display());
        let archive = tar_gz(&[(&a.path, wrapper.as_bytes(), 0o755)]);
        server.serve(
            &a.checksums_url,
            Route::File(a.checksum_format.render(&sha256(&archive), &a.file_name).into_bytes()),
        );
        server.serve(&a.url, Route::File(archive));
    }
    let stack = TestStack::new();
    let offset = stack.offset.to_string();
    let out = stack
        .command(&["up", "--install", "--without", "grafana", "--without", "services", "--port-offset", &offset])
        .env("OBSDEMO_HOME", home.path())
        .env("OBSDEMO_MIRROR", server.mirror())
        .output()
        .unwrap();
    assert_success(&out, "up --install");
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed jaeger"), "{}", describe(&out));
    for a in &jaeger {
        assert_eq!(server.requested(&a.url), 1, "{} fetched once", a.file_name);
    }
    let fetched: Vec<String> = server.requests.lock().unwrap().clone();
    assert!(fetched.iter().all(|p| p.contains("jaeger")), "only Jaeger was fetched: {fetched:?}");
    assert!(home.path().join("bin/jaeger/1.76.0/obsdemo-install.json").is_file());
    let _ = stack.command(&["down"]).env("OBSDEMO_HOME", home.path()).output();
}

#[test]
fn a_release_that_cannot_be_had_is_built_from_source_saying_why() {
    require(&["prometheus"]);
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    // The source build of the pinned version is there already (the tests' own), so the
    // fallback finds it instead of compiling for minutes; the mirror serves nothing.
    link_installed(home.path(), "prometheus", &obsdemo::stack::StackConfig::default().prometheus.version);
    let out = obsdemo(home.path(), &server, &["install", "prometheus", "--force", "--timeout", "1s"]);
    assert_success(&out, "install prometheus with the release unreachable");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("built prometheus from source"), "{}", describe(&out));
    assert!(stdout.contains("because the official release could not be had") && stdout.contains("404"), "{stdout}");
    // Its stderr is a pipe here, as in a CI log: each stage is a plain line, and the end
    // comes with its time.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prometheus: fetching the official release\n"), "{stderr}");
    assert!(stderr.contains("prometheus: done after "), "{stderr}");
}

#[test]
fn every_install_command_uses_the_stack_files_version() {
    require(&["prometheus"]);
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    // The pinned release is installed; the stack file asks for another version.
    let pinned = obsdemo::stack::StackConfig::default().prometheus.version.to_string();
    link_installed(home.path(), "prometheus", &pinned);
    std::fs::write(home.path().join("stack.toml"), "[prometheus]\nversion = \"3.4.0\"\n").unwrap();

    let list = obsdemo(home.path(), &server, &["install", "--list"]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    let line = listed.lines().find(|l| l.starts_with("prometheus")).unwrap();
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&columns[1..4], ["3.4.0", pinned.as_str(), "no"], "{listed}");
    assert!(!line.contains(&format!("prometheus/{pinned}")), "up would not run the pinned one: {listed}");

    // Without Go it is refused, naming both versions; the pinned release is not fetched
    // and nothing claims to be installed.
    let out = obsdemo_command(home.path(), &server, &["install", "prometheus"])
        .env("PATH", path_without_go())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("no release data for prometheus 3.4.0 (it knows prometheus {pinned})")),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("already installed"), "{}", describe(&out));
    assert!(server.requests.lock().unwrap().is_empty(), "nothing was downloaded");

    // With Go the version asked for is built from source, saying why. Its build is
    // made to look done (its manifest names that very source), so the test does not
    // compile Prometheus for minutes.
    let config: obsdemo::stack::StackConfig = toml::from_str("[prometheus]\nversion = \"3.4.0\"").unwrap();
    let recipe = obsdemo::components::ComponentId::Prometheus.kind().source_recipe(&config).unwrap().unwrap();
    let built = home.path().join("bin/prometheus/3.4.0");
    std::fs::create_dir_all(&built).unwrap();
    std::fs::write(built.join("prometheus"), script("prometheus 3.4.0")).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(built.join("prometheus"), executable).unwrap();
    let manifest = obsdemo::install::manifest::Manifest {
        component: "prometheus".into(),
        version: "3.4.0".into(),
        source: recipe.source(),
        binaries: vec!["prometheus".into()],
        downloads: Vec::new(),
    };
    std::fs::write(built.join("obsdemo-install.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = obsdemo(home.path(), &server, &["install", "prometheus"]);
    assert_success(&out, "install prometheus 3.4.0");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("built prometheus from source") && stdout.contains("no release data"), "{stdout}");
    assert!(stdout.contains("prometheus/3.4.0"), "{stdout}");

    // A version that could leave the managed dir is refused where it is written.
    std::fs::write(home.path().join("stack.toml"), "[prometheus]\nversion = \"3.5.0/../../../../tmp/evil\"\n").unwrap();
    for args in [&["install", "prometheus"][..], &["install", "--list"], &["up", "--install"]] {
        let out = obsdemo(home.path(), &server, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("stack.toml:2:11: key `prometheus.version`"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn ctrl_c_during_a_download_ends_it_at_once_and_leaves_no_partial_install() {
    let server = ReleaseServer::start();
    let home = tempfile::tempdir().unwrap();
    let artifact = publish(&server, "prometheus", "never arrives", None);
    server.serve(&artifact.url, Route::Stall);
    let mut install = obsdemo_command(home.path(), &server, &["install", "prometheus", "--timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the download under way", Duration::from_secs(10), || {
        (server.requested(&artifact.url) > 0).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(install.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = install.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(signalled.elapsed() < Duration::from_secs(1), "took {:?}", signalled.elapsed());
    assert_nothing_installed(home.path(), "prometheus");
}

#[test]
fn source_builds_report_the_version_they_were_built_from() {
    require(&["jaeger", "collector", "prometheus"]);
    let config = obsdemo::stack::StackConfig::default();
    // Each binary's own version command.
    let run = |name: &str, args: &[&str]| {
        let out = Command::new(super::harness::find_binary(name).unwrap()).args(args).output().unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let jaeger = run("jaeger", &["version"]);
    assert!(jaeger.contains("\"gitVersion\":\"v2.13.0\""), "jaeger version: {jaeger}");
    assert!(!jaeger.contains("\"buildDate\":\"\""), "the module's date is stamped too: {jaeger}");
    let collector = run("collector", &["--version"]);
    assert!(collector.contains(&config.collector.version.to_string()), "{collector}");
    let prometheus = run("prometheus", &["--version"]);
    assert!(prometheus.contains(&format!("version {}", config.prometheus.version)), "{prometheus}");

    // And what the running Prometheus tells of itself.
    let stack = super::harness::TestStack::new();
    stack.up(&["--without", "services"]);
    let api = format!("http://127.0.0.1:{}", stack.port(9090));
    let info = super::harness::get_json(&format!("{api}/api/v1/status/buildinfo")).expect("buildinfo answers");
    assert_eq!(info["data"]["version"], config.prometheus.version.to_string(), "{info:#}");
    // The commit where the module proxy records it (not every proxy does: `unknown`).
    assert!(info["data"]["revision"].as_str().is_some_and(|r| r.len() == 40 || r == "unknown"), "{info:#}");
    assert!(info["data"]["buildUser"] == "obsdemo" && info["data"]["buildDate"] != "", "{info:#}");
    // Its own metrics (which it does not scrape: it scrapes only the host metrics).
    let metrics = super::harness::get_text(&format!("{api}/metrics")).expect("its own metrics");
    let build_info = metrics.lines().find(|l| l.starts_with("prometheus_build_info{")).unwrap_or_default();
    assert!(build_info.contains(&format!("version=\"{}\"", config.prometheus.version)), "{build_info}");
    // `status` shows each one's version.
    for (name, version) in [
        ("jaeger", config.jaeger.version.to_string()),
        ("collector", config.collector.version.to_string()),
        ("prometheus", config.prometheus.version.to_string()),
    ] {
        assert_eq!(stack.component(name)["version"], version, "{name}");
    }
    stack.down();
    // `install --list` shows what each binary itself reports (Jaeger v2 its v2 tag).
    let out = stack.run(&["install", "--list", "--json"]);
    assert_success(&out, "install --list --json");
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let reports = |name: &str| listed.iter().find(|l| l["component"] == name).map(|l| l["reports"].clone());
    assert_eq!(reports("jaeger"), Some(json!("2.13.0")), "{listed:?}");
    assert_eq!(reports("collector"), Some(json!(config.collector.version.to_string())));
    assert_eq!(reports("prometheus"), Some(json!(config.prometheus.version.to_string())));
}

/// The types of the ELF program headers and section headers of the executable at
/// `path` (64-bit, little-endian: what Go builds for linux/amd64).
fn elf_header_types(path: &Path) -> (Vec<u32>, Vec<u32>) {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "{} is a 64-bit ELF executable", path.display());
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    // e_phoff, e_phentsize, e_phnum; e_shoff, e_shentsize, e_shnum (elf(5)).
    let programs = (0..u16_at(0x38)).map(|i| u32_at(u64_at(0x20) + i * u16_at(0x36))).collect();
    // sh_type is the second word of a section header.
    let sections = (0..u16_at(0x3C)).map(|i| u32_at(u64_at(0x28) + i * u16_at(0x3A) + 4)).collect();
    (programs, sections)
}

#[test]
fn source_builds_are_static_as_the_releases_are() {
    require(&["jaeger", "collector", "prometheus"]);
    const PT_INTERP: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    for name in ["jaeger", "collector", "prometheus"] {
        let binary = find_binary(name).unwrap();
        let (programs, sections) = elf_header_types(&binary);
        // No dynamic loader asked for: nothing of the machine's C library is needed,
        // as with each release (all three are built with cgo off).
        assert!(!programs.contains(&PT_INTERP), "{} is static", binary.display());
        // The Collector without its symbol table, as its Builder and releases link it.
        if name == "collector" {
            assert!(!sections.contains(&SHT_SYMTAB), "{} is stripped", binary.display());
        }
    }
}

#[test]
fn a_second_obsdemo_home_builds_the_same_collector_from_the_same_key() {
    require(&["collector"]);
    // The tests' own Collector, built in the default managed dir.
    let first = find_binary("collector").unwrap();
    let manifest = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("obsdemo-install.json")).unwrap()).unwrap()
    };
    let original = manifest(first.parent().unwrap());
    // A second home: the build's key names no path, so it is the same build (Go's
    // caches, shared by both, make it a relink).
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("OBSDEMO_HOME", home.path())
        .env("NO_COLOR", "1")
        .current_dir(home.path())
        .args(["install", "--from-source", "collector"])
        .output()
        .unwrap();
    assert_success(&out, "install --from-source collector in a second home");
    let version = obsdemo::stack::StackConfig::default().collector.version.to_string();
    let second = manifest(&home.path().join("bin/collector").join(&version));
    assert_eq!(second["source"], original["source"], "the same key in both homes");
    // Its stderr is a pipe, as in a CI log: one plain line per step, download, compile
    // and link, and the end with its time.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let steps: Vec<&str> = stderr.lines().filter(|l| !l.contains(" still ")).collect();
    let want = [
        "downloading the Collector's modules",
        "compiling the Collector",
        "linking the Collector (at ",
        "built after ",
    ];
    let mut at = 0;
    for step in want {
        let found = steps[at..].iter().position(|l| l.starts_with(&format!("collector {version}: {step}")));
        at += found.unwrap_or_else(|| panic!("`{step}` after the steps before it:\n{stderr}"));
    }
}
