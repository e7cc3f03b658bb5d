//! `obsdemo export kubernetes` against a real Kubernetes control plane: kube-apiserver
//! and kube-controller-manager v1.37.2 on kine's SQLite etcd, and kubectl
//! (`scripts/kubernetes.sh` builds them).
//!
//! No kubelet or container runtime can run here, so no container starts: the test
//! binds each pod to the one node, as the scheduler would, and reports it ready, as its
//! kubelet would. What a control plane can prove is proven: every object passes strict
//! server-side validation (an unknown or misspelt field fails), `kubectl apply -k`
//! applies the directory, and every object is stored as written; the controllers make
//! the pods; Kubernetes' own EndpointSlice controller finds each Service's pods on their
//! named ports; Prometheus's ServiceAccount may list the pods of its namespace and
//! nothing more, and the real Prometheus, holding its token, discovers the agent and
//! scrapes it; every ConfigMap holds the config rendered for the cluster. The Collector
//! and Jaeger validate those configs themselves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use obsdemo::components::Overrides;
use obsdemo::components::deploy::cluster_plan;
use obsdemo::components::launch::render_for_cluster;
use obsdemo::export::kubernetes::names::config_key;
use serde_json::{Value, json};

use crate::harness::*;

/// The namespace the test exports into.
const NAMESPACE: &str = "obsdemo-test";

/// The static token the test's API server accepts, as a member of system:masters.
const TOKEN: &str = "obsdemo-test-token";

/// A kube-apiserver and kube-controller-manager on kine, on loopback ports of their
/// own; all stopped when dropped.
struct ApiServer {
    // Dropped in this order: the controllers, the API server, then its store.
    controllers: Option<Running>,
    _apiserver: Running,
    _kine: Running,
    dir: tempfile::TempDir,
    bin: PathBuf,
    url: String,
    port: u16,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl ApiServer {
    fn start() -> Self {
        let bin = std::env::var_os("OBSDEMO_KUBERNETES_BIN").map(PathBuf::from).unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
            cache.join("obsdemo/tools/kubernetes-v1.37.2-kine-v0.17.5")
        });
        for name in ["kube-apiserver", "kube-controller-manager", "kubectl", "kine"] {
            assert!(
                bin.join(name).is_file(),
                "{name} is missing from {}: `./scripts/test.sh` builds it (scripts/kubernetes.sh)",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("obsdemo-kube-").tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        let key = d.join("sa.key");
        let made = Command::new("openssl").args(["genrsa", "-out"]).arg(&key).arg("2048").output();
        assert!(
            made.as_ref().is_ok_and(|o| o.status.success()),
            "`openssl genrsa` made no service-account key (Debian: apt-get install openssl): {made:?}"
        );
        std::fs::write(d.join("tokens.csv"), format!("{TOKEN},admin,admin,system:masters\n")).expect("token file");
        let (etcd_port, api_port) = (free_port(), free_port());
        let log = |name: &str| std::fs::File::create(d.join(name)).expect("log file");
        let kine = Command::new(bin.join("kine"))
            .arg(format!("--listen-address=127.0.0.1:{etcd_port}"))
            .arg(format!("--endpoint=sqlite://{}?_journal=WAL&cache=shared", d.join("db.sqlite").display()))
            .arg("--metrics-bind-address=0")
            .stdout(Stdio::null())
            .stderr(log("kine.log"))
            .spawn()
            .map(Running)
            .expect("kine starts");
        eventually("kine to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", etcd_port)).ok()
        });
        let apiserver = Command::new(bin.join("kube-apiserver"))
            .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--secure-port={api_port}"))
            .arg(format!("--cert-dir={}", d.join("certs").display()))
            .arg(format!("--token-auth-file={}", d.join("tokens.csv").display()))
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!("--service-account-key-file={}", key.display()))
            .arg(format!("--service-account-signing-key-file={}", key.display()))
            .args(["--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=RBAC"])
            // Without a kubelet nothing can answer for the `kubernetes` Service's
            // endpoints; this lets the server advertise 127.0.0.1 and skip them.
            .arg("--endpoint-reconciler-type=none")
            .stdout(Stdio::null())
            .stderr(log("apiserver.log"))
            .spawn()
            .map(Running)
            .expect("kube-apiserver starts");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        // The server's own self-signed certificate, made at start; only loopback is asked.
        let client = obsdemo::http::client_builder()
            .no_proxy()
            .tls_danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let url = format!("https://127.0.0.1:{api_port}");
        let mut server = Self {
            controllers: None,
            _apiserver: apiserver,
            _kine: kine,
            dir,
            bin: bin.clone(),
            url,
            port: api_port,
            rt,
            client,
        };
        eventually("the API server to be ready", Duration::from_secs(90), || {
            let (status, _) = server.request(reqwest::Method::GET, "/readyz", None);
            (status == 200).then_some(())
        });
        let kubeconfig = d.join("kubeconfig");
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "test", "cluster": { "server": server.url, "insecure-skip-tls-verify": true } }],
            "users": [{ "name": "admin", "user": { "token": TOKEN } }],
            "contexts": [{ "name": "test", "context": { "cluster": "test", "user": "admin" } }],
            "current-context": "test",
        });
        std::fs::write(&kubeconfig, config.to_string()).expect("kubeconfig");
        // Only the controllers that turn the export into pods and endpoints.
        let controllers = Command::new(bin.join("kube-controller-manager"))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg("--controllers=deployment-controller,replicaset-controller,daemonset-controller,endpointslice-controller,serviceaccount-controller")
            .args(["--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false"])
            .stdout(Stdio::null())
            .stderr(log("controller-manager.log"))
            .spawn()
            .map(Running)
            .expect("kube-controller-manager starts");
        server.controllers = Some(controllers);
        server
    }

    /// Sends one request as `token`, with `body` of `content_type`; returns the status
    /// and the body as JSON (a string if it is not JSON; status 0 if nothing answered).
    fn send(&self, token: &str, method: reqwest::Method, path: &str, body: Option<(&str, &Value)>) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self.client.request(method, format!("{}{path}", self.url)).bearer_auth(token);
            if let Some((content_type, body)) = body {
                req = req.header("Content-Type", content_type).body(body.to_string());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
                }
                Err(_) => (0, Value::Null),
            }
        })
    }

    /// [`Self::send`] as the admin, a body being a server-side apply (JSON is YAML).
    fn request(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.send(TOKEN, method, path, body.map(|b| ("application/apply-patch+yaml", b)))
    }

    /// Server-side apply of `object` with strict field validation, as `kubectl apply
    /// --server-side` does; `dry_run` asks for every check and stores nothing.
    fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, String> {
        let dry = if dry_run { "&dryRun=All" } else { "" };
        let path = format!("{}?fieldManager=obsdemo-test&fieldValidation=Strict&force=true{dry}", object_path(object));
        match self.request(reqwest::Method::PATCH, &path, Some(object)) {
            (200 | 201, stored) => Ok(stored),
            (status, answer) => {
                Err(format!("{} {}: HTTP {status}: {answer}", object["kind"], object["metadata"]["name"]))
            }
        }
    }

    /// `kubectl` with `args`, as the cluster's admin.
    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.bin.join("kubectl"))
            .arg(format!("--kubeconfig={}", self.dir.path().join("kubeconfig").display()))
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    /// The certificate the API server made for itself at start (and its CA's).
    fn certificate(&self) -> PathBuf {
        self.dir.path().join("certs/apiserver.crt")
    }

    /// The last lines of one of the control plane's logs, for a failure message.
    fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- last lines of {name}:\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// The items of a list at `path` (`/api/v1/namespaces/NS/pods`).
    fn list(&self, path: &str) -> Vec<Value> {
        let (status, list) = self.request(reqwest::Method::GET, path, None);
        assert_eq!(status, 200, "listing {path}: {list}");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// A JSON merge patch of the object (or subresource) at `path`.
    fn merge_patch(&self, path: &str, patch: &Value) {
        let (code, answer) =
            self.send(TOKEN, reqwest::Method::PATCH, path, Some(("application/merge-patch+json", patch)));
        assert_eq!(code, 200, "patching {path}: {answer}");
    }

    /// What the scheduler does: binds `pod` to `node`.
    fn bind(&self, pod: &Value, node: &str) {
        let (namespace, name) = (pod["metadata"]["namespace"].as_str(), pod["metadata"]["name"].as_str());
        let (namespace, name) = (namespace.unwrap_or_default(), name.unwrap_or_default());
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": { "name": name },
            "target": { "apiVersion": "v1", "kind": "Node", "name": node },
        });
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}/binding");
        let (code, answer) = self.send(TOKEN, reqwest::Method::POST, &path, Some(("application/json", &binding)));
        assert_eq!(code, 201, "binding {name} to {node}: {answer}");
    }

    /// What the kubelet would report of a started pod: running, ready, with `ip`.
    fn report_running(&self, pod: &Value, ip: &str) {
        let status = json!({ "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{ "ip": ip }],
            "conditions": [{ "type": "Ready", "status": "True" }, { "type": "ContainersReady", "status": "True" }],
        }});
        let (namespace, name) = (&pod["metadata"]["namespace"], &pod["metadata"]["name"]);
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}/status",
            namespace.as_str().unwrap_or_default(),
            name.as_str().unwrap_or_default()
        );
        self.merge_patch(&path, &status);
    }

    /// The HTTP status of a GET of `path` with `token` instead of the admin's.
    fn status_as(&self, token: &str, path: &str) -> u16 {
        self.send(token, reqwest::Method::GET, path, None).0
    }

    /// A token of the ServiceAccount `name` in `namespace` (the TokenRequest API).
    fn token_of(&self, namespace: &str, name: &str) -> String {
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token");
        let body = json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {} });
        let (_, answer) = self.send(TOKEN, reqwest::Method::POST, &path, Some(("application/json", &body)));
        answer["status"]["token"].as_str().unwrap_or_else(|| panic!("no token for {name}: {answer}")).to_owned()
    }

    /// The stored `object`.
    fn get(&self, object: &Value) -> Value {
        let (status, stored) = self.request(reqwest::Method::GET, &object_path(object), None);
        assert_eq!(status, 200, "reading back {} {}: {stored}", object["kind"], object["metadata"]["name"]);
        stored
    }
}

/// Polls `f` until it returns `Ok`, for up to 90 s; then fails with what it last saw
/// and the end of the controller manager's log.
fn settle<T>(what: &str, server: &ApiServer, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        match f() {
            Ok(v) => return v,
            Err(seen) if std::time::Instant::now() > deadline => {
                panic!("timed out waiting for {what}; last seen: {seen}\n{}", server.log_tail("controller-manager.log"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// A TCP port on loopback nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The REST path of `object`, for the kinds an export holds.
fn object_path(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, plural, namespaced) = match kind {
        "Namespace" => ("api/v1", "namespaces", false),
        "Node" => ("api/v1", "nodes", false),
        "ConfigMap" => ("api/v1", "configmaps", true),
        "Secret" => ("api/v1", "secrets", true),
        "Service" => ("api/v1", "services", true),
        "ServiceAccount" => ("api/v1", "serviceaccounts", true),
        "PersistentVolumeClaim" => ("api/v1", "persistentvolumeclaims", true),
        "Deployment" => ("apis/apps/v1", "deployments", true),
        "DaemonSet" => ("apis/apps/v1", "daemonsets", true),
        "Role" => ("apis/rbac.authorization.k8s.io/v1", "roles", true),
        "RoleBinding" => ("apis/rbac.authorization.k8s.io/v1", "rolebindings", true),
        other => panic!("the export holds a kind this test does not know: {other}"),
    };
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["metadata"]["namespace"].as_str().filter(|_| namespaced) {
        Some(ns) => format!("/{group}/namespaces/{ns}/{plural}/{name}"),
        None => format!("/{group}/{plural}/{name}"),
    }
}

/// Every object of the export in `dir`, file by file in `base/kustomization.yaml`'s order.
fn exported_objects(dir: &Path) -> Vec<Value> {
    let dir = dir.join("base");
    let kustomization: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).expect("kustomization.yaml"))
            .expect("kustomization.yaml parses");
    let files = kustomization["resources"].as_array().expect("resources").clone();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(dir.join(file.as_str().expect("a file name"))).expect("manifest");
            serde_saphyr::from_multiple::<Value>(&text).expect("manifest parses")
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Whether everything `sent` says is in `stored` (which the server completed with
/// defaults); lists must match item by item. Returns the first difference.
fn holds(sent: &Value, stored: &Value, at: &str) -> Result<(), String> {
    match (sent, stored) {
        (Value::Object(s), Value::Object(t)) => {
            s.iter().try_for_each(|(k, v)| holds(v, t.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}")))
        }
        (Value::Array(s), Value::Array(t)) if s.len() == t.len() => {
            s.iter().zip(t).enumerate().try_for_each(|(i, (a, b))| holds(a, b, &format!("{at}[{i}]")))
        }
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{at}: sent {a}, stored {b}")),
    }
}

/// `object` as the server stores it: a Secret's `stringData` is written into `data`,
/// base64-encoded, and never read back.
fn as_stored(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(Value::Object(strings)) = object.as_object_mut().and_then(|o| o.remove("stringData")) {
        let data = strings.iter().map(|(k, v)| (k.clone(), json!(base64(v.as_str().unwrap_or_default())))).collect();
        object["data"] = Value::Object(data);
    }
    object
}

/// Standard base64 with padding.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

/// Sends every object as a server-side apply with strict field validation and a dry
/// run (the namespace for real: the others' dry runs need it); fails naming every
/// object refused.
fn dry_run_all(server: &ApiServer, objects: &[Value]) {
    let (namespace, rest) = objects.split_first().expect("objects");
    assert_eq!(namespace["kind"], "Namespace");
    server.apply(namespace, true).expect("the namespace passes a dry run");
    server.apply(namespace, false).expect("the namespace is created");
    let refused: Vec<String> = rest.iter().filter_map(|o| server.apply(o, true).err()).collect();
    assert!(refused.is_empty(), "the API server refuses exported objects:\n{}", refused.join("\n"));
}

/// [`dry_run_all`], then every object applied for real.
fn apply_all(server: &ApiServer, objects: &[Value]) {
    dry_run_all(server, objects);
    for o in &objects[1..] {
        server.apply(o, false).unwrap_or_else(|e| panic!("applying for real: {e}"));
    }
}

/// Lets the controllers make their pods, and plays the scheduler's and the kubelet's
/// parts for them on one node: each pod is bound to it and reported running and ready,
/// at an address of its own, or on loopback for the controllers named in `loopback`
/// (whose programs the test runs itself). Returns each controller's pod address.
fn start_pods(server: &ApiServer, objects: &[Value], namespace: &str, loopback: &[&str]) -> BTreeMap<String, String> {
    // This cluster's one node, registered as its kubelet would. A new node is tainted
    // not-ready until its kubelet reports in; the node lifecycle controller then lifts
    // the taint, as done here.
    let node = json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "node-1" } });
    server.apply(&node, false).expect("a node is registered");
    server.merge_patch(&object_path(&node), &json!({ "spec": { "taints": null } }));
    // One pod per Deployment, and one per node for the agent's DaemonSet.
    let controllers: Vec<&Value> =
        objects.iter().filter(|o| o["kind"] == "Deployment" || o["kind"] == "DaemonSet").collect();
    let pods_path = format!("/api/v1/namespaces/{namespace}/pods");
    let pods = settle("a pod of every controller", server, || {
        let pods = server.list(&pods_path);
        let names: Vec<&Value> = pods.iter().map(|p| &p["metadata"]["name"]).collect();
        let seen = format!("{} pods of {} controllers: {names:?}", pods.len(), controllers.len());
        if pods.len() == controllers.len() { Ok(pods) } else { Err(seen) }
    });
    let owner = |pod: &Value| {
        let made_by: Vec<&&Value> = controllers
            .iter()
            .filter(|c| holds(&c["spec"]["selector"]["matchLabels"], &pod["metadata"]["labels"], "").is_ok())
            .collect();
        assert_eq!(made_by.len(), 1, "pod {} belongs to one controller", pod["metadata"]["name"]);
        made_by[0]["metadata"]["name"].as_str().unwrap_or_default().to_owned()
    };
    let mut ip_of = BTreeMap::new();
    for (i, pod) in pods.iter().enumerate() {
        if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
            server.bind(pod, "node-1");
        }
        let controller = owner(pod);
        let ip = if loopback.contains(&controller.as_str()) {
            "127.0.0.1".to_owned()
        } else {
            format!("10.244.0.{}", 10 + i)
        };
        server.report_running(pod, &ip);
        ip_of.insert(controller, ip);
    }
    assert!(ip_of.contains_key("collector-agent"), "the agent's DaemonSet placed a pod on the node");
    ip_of
}

/// Writes a stack file with two of the user's apps (one with an image, one without)
/// beside the default services, exports it into `<stack>/k8s`, and returns that dir.
fn export_with_apps(stack: &TestStack, namespace: &str) -> (PathBuf, String) {
    let out = stack.dir().join("k8s");
    let run = stack.run(&["export", "kubernetes", "--out", out.to_str().expect("utf-8"), "--namespace", namespace]);
    assert_success(&run, "export kubernetes");
    (out, String::from_utf8_lossy(&run.stderr).into_owned())
}

const APPS: &str = r#"
[[apps]]
name = "Shop_front"
image = "registry.example.com/shop:1.4"
command = ["python", "manage.py", "runserver", "{host}:{port.http}", "--noreload"]
env = { BILLING_URL = "http://{host}:{app.Billing.port.http}" }
ports = { http = 8101 }
health = { http = "/healthz" }

[[apps]]
name = "Billing"
image = "registry.example.com/billing:2.0"
command = ["python", "-m", "billing", "--port", "{port.http}"]
ports = { http = 8102 }
health = { tcp = "http" }

[[apps]]
name = "Local-only"
command = ["python", "-m", "http.server", "{port.http}"]
ports = { http = 8103 }
"#;

#[test]
fn the_export_passes_a_real_api_servers_strict_validation_and_holds_together() {
    let stack = TestStack::with_config(APPS);
    let (dir, notes) = export_with_apps(&stack, NAMESPACE);
    assert!(notes.contains("Local-only") && notes.contains("no `image`"), "the app left out is named: {notes}");
    let objects = exported_objects(&dir);
    let server = ApiServer::start();
    dry_run_all(&server, &objects);
    // For real, the way the README says: `kubectl apply -k`.
    let applied = server.kubectl(&["apply", "--server-side", "-k", dir.to_str().expect("utf-8")]);
    assert_success(&applied, "kubectl apply --server-side -k");
    let said = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(said.lines().count(), objects.len(), "kubectl applied every object once:\n{said}");

    // The dry run has teeth: one misspelt field is refused.
    let mut misspelt = objects.iter().find(|o| o["kind"] == "Deployment").expect("a Deployment").clone();
    let replicas = misspelt["spec"].as_object_mut().expect("spec").remove("replicas").expect("replicas");
    misspelt["spec"]["replica"] = replicas;
    let refusal = server.apply(&misspelt, true).expect_err("a misspelt field is refused");
    assert!(refusal.contains("replica"), "{refusal}");

    for o in &objects {
        let stored = server.get(o);
        holds(&as_stored(o), &stored, &format!("{} {}", o["kind"], o["metadata"]["name"]))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let ip_of = start_pods(&server, &objects, NAMESPACE, &[]);
    let controllers: Vec<&Value> =
        objects.iter().filter(|o| o["kind"] == "Deployment" || o["kind"] == "DaemonSet").collect();

    // Kubernetes' own EndpointSlice controller finds every Service's pod, each port of
    // the Service resolved by name to the port the container serves.
    let services: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Service").collect();
    assert!(services.len() >= 10, "a Service for Jaeger, the gateway, Prometheus, Grafana, 5 services and 2 apps");
    for s in &services {
        let name = s["metadata"]["name"].as_str().expect("a name");
        let want_ip = ip_of.get(name).unwrap_or_else(|| panic!("Service {name} has a workload of its name"));
        let container = &controllers.iter().find(|c| c["metadata"]["name"] == name).expect("its controller")["spec"]["template"]
            ["spec"]["containers"][0];
        let mut want_ports: Vec<(String, u64)> = s["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                let target = &p["targetPort"];
                let served =
                    container["ports"].as_array().expect("container ports").iter().find(|c| &c["name"] == target);
                let number =
                    served.unwrap_or_else(|| panic!("{name}: no container port is named {target}"))["containerPort"]
                        .as_u64()
                        .expect("a number");
                (p["name"].as_str().unwrap_or_default().to_owned(), number)
            })
            .collect();
        want_ports.sort();
        let path = format!(
            "/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D{name}"
        );
        settle(&format!("Service {name}'s endpoints"), &server, || {
            let slices = server.list(&path);
            let seen = format!("want {want_ip} ready on {want_ports:?}; slices: {}", Value::Array(slices.clone()));
            slices
                .into_iter()
                .find_map(|slice| {
                    let endpoints = slice["endpoints"].as_array().cloned().unwrap_or_default();
                    let ready = endpoints.iter().any(|e| {
                        e["addresses"][0].as_str() == Some(want_ip.as_str()) && e["conditions"]["ready"] == json!(true)
                    });
                    let mut ports: Vec<(String, u64)> = slice["ports"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["port"].as_u64().unwrap_or(0)))
                        .collect();
                    ports.sort();
                    (ready && ports == want_ports).then_some(())
                })
                .ok_or(seen)
        });
    }

    // Prometheus's ServiceAccount may list and watch the pods of its namespace (what
    // its service discovery asks), and nothing more.
    let token = server.token_of(NAMESPACE, "prometheus");
    let own_pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    assert_eq!(server.status_as(&token, &own_pods), 200);
    assert_eq!(server.status_as(&token, &format!("{own_pods}?watch=1&timeoutSeconds=1")), 200);
    for denied in [
        "/api/v1/pods".to_owned(),
        "/api/v1/namespaces/default/pods".to_owned(),
        format!("/api/v1/namespaces/{NAMESPACE}/secrets"),
        format!("/api/v1/namespaces/{NAMESPACE}/configmaps"),
    ] {
        assert_eq!(server.status_as(&token, &denied), 403, "Prometheus may not read {denied}");
    }

    // Every ConfigMap holds the configs rendered for the cluster from the same plan,
    // and every such config is in a ConfigMap.
    let (config, _) = obsdemo::stack::load(Some(&stack.dir().join("stack.toml")), stack.dir()).expect("stack.toml");
    let (plan, _) = cluster_plan(config, &Overrides::default()).expect("cluster plan");
    let rendered = render_for_cluster(&plan).expect("render");
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    for cm in objects.iter().filter(|o| o["kind"] == "ConfigMap") {
        let stored = server.get(cm);
        for (key, text) in stored["data"].as_object().expect("data") {
            held.insert(key.clone(), text.as_str().expect("text").to_owned());
        }
    }
    for file in &rendered {
        let key = config_key(&file.path);
        assert_eq!(held.get(&key), Some(&file.contents), "ConfigMap key {key} holds {}", file.path.display());
    }
    assert_eq!(held.len(), rendered.len(), "no ConfigMap holds anything else");

    // A changed config replaces the pods that read it, and no others: its digest is in
    // their template. Jaeger keeps traces longer; only Jaeger's Deployment changes.
    stack.set_config(&format!("{APPS}\n[jaeger]\nretention = \"48h\"\n"));
    export_with_apps(&stack, NAMESPACE);
    let applied = server.kubectl(&["apply", "--server-side", "-k", dir.to_str().expect("utf-8")]);
    assert_success(&applied, "kubectl apply --server-side -k (again)");
    for c in &controllers {
        let generation = server.get(c)["metadata"]["generation"].as_u64();
        let want = if c["metadata"]["name"] == "jaeger" { 2 } else { 1 };
        assert_eq!(generation, Some(want), "{} {}: generation after the re-export", c["kind"], c["metadata"]["name"]);
    }

    // The user's app: its image, the same command with cluster addresses, spans to the gateway.
    let shop = controllers.iter().find(|c| c["metadata"]["name"] == "shop-front").expect("the app with an image");
    let container = &shop["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/shop:1.4");
    assert_eq!(container["command"], json!(["python", "manage.py", "runserver", "0.0.0.0:8101", "--noreload"]));
    let env: BTreeMap<&str, &str> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or_default(), e["value"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://collector-gateway:4317");
    assert_eq!(env["BILLING_URL"], "http://billing:8102");
    assert_eq!(env["OTEL_SERVICE_NAME"], "Shop_front");
    // Every span names the pod, node and namespace that made it (the app's and the
    // demo services' alike), from variables the pod itself fills in.
    let made_spans = |c: &&&Value| {
        matches!(c["metadata"]["labels"]["app.kubernetes.io/component"].as_str(), Some("service" | "app"))
    };
    for c in controllers.iter().filter(made_spans) {
        let env = c["spec"]["template"]["spec"]["containers"][0]["env"].as_array().cloned().unwrap_or_default();
        let value = |name: &str| env.iter().find(|e| e["name"] == name).cloned();
        let name = &c["metadata"]["name"];
        let attributes = value("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_else(|| panic!("{name}: resource attributes"));
        assert!(attributes["value"].as_str().unwrap_or_default().contains("k8s.pod.name=$(K8S_POD_NAME)"), "{name}");
        let pod_name = value("K8S_POD_NAME").unwrap_or_else(|| panic!("{name}: K8S_POD_NAME"));
        assert_eq!(pod_name["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    }
    assert_eq!(controllers.iter().filter(made_spans).count(), 7, "five demo services and two apps");
}

#[test]
fn a_re_export_keeps_the_grafana_password_shows_it_to_no_one_else_and_lists_its_files() {
    let stack = TestStack::with_config("[grafana]\nenabled = true\n");
    let password = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("base/grafana-admin.secret.yaml")).expect("the Secret's file");
        let secret: Value = serde_saphyr::from_str(&text).expect("parses");
        secret["stringData"]["grafana-admin-password"].as_str().expect("a password").to_owned()
    };
    let (dir, _) = export_with_apps(&stack, "obsdemo");
    let first = password(&dir);
    let ignored = std::fs::read_to_string(dir.join(".gitignore")).expect("a .gitignore beside the Secret");
    assert!(ignored.lines().any(|l| l == "base/*.secret.yaml"), "git leaves the Secret's file out: {ignored}");
    assert!(first.len() >= 20 && first != "admin", "a generated password: {first}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir.join("base/grafana-admin.secret.yaml")).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the Secret's file is its owner's alone");
    }
    // Again, for a script: `--json` lists what was written.
    let out = stack.run(&["export", "kubernetes", "--out", dir.to_str().expect("utf-8"), "--json"]);
    assert_success(&out, "export kubernetes --json");
    let written: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let files: Vec<&str> = written["files"].as_array().expect("files").iter().filter_map(Value::as_str).collect();
    assert!(files.iter().any(|f| f.ends_with("kustomization.yaml")) && files.len() >= 10, "{written}");
    assert_eq!(password(&dir), first, "a re-export changes no password");
}

#[test]
fn export_refuses_a_name_kubernetes_would_refuse_and_a_directory_it_did_not_write() {
    // A fine name on this machine, but a Service name must start with a letter.
    let stack = TestStack::with_config(
        "[[apps]]\nname = \"9-lives\"\nimage = \"cat:9\"\ncommand = [\"purr\"]\nports = { http = 8109 }\n",
    );
    let out = stack.run(&["export", "kubernetes", "--out", "k8s"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("9-lives") && err.contains("start with a lower-case letter"), "{err}");
    assert!(!stack.dir().join("k8s").exists(), "nothing is written");

    let stack = TestStack::with_config("");
    let foreign = stack.dir().join("k8s");
    std::fs::create_dir_all(&foreign).expect("dir");
    std::fs::write(foreign.join("kustomization.yaml"), "resources: [mine.yaml]\n").expect("write");
    let out = stack.run(&["export", "kubernetes", "--out", "k8s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("that no `obsdemo export kubernetes` wrote"),
        "{}",
        describe(&out)
    );
    assert_eq!(std::fs::read_to_string(foreign.join("kustomization.yaml")).expect("read"), "resources: [mine.yaml]\n");
    assert_eq!(std::fs::read_dir(&foreign).expect("dir").count(), 1, "nothing is added beside it");
}

#[test]
fn the_collector_and_jaeger_accept_the_configs_rendered_for_the_cluster() {
    require(&["collector", "jaeger"]);
    // With RED metrics: the gateway's span_metrics pipeline and Jaeger's Monitor tab.
    let stack = TestStack::with_config("[metrics]\nred = true\n");
    let (config, _) = obsdemo::stack::load(Some(&stack.dir().join("stack.toml")), stack.dir()).expect("stack.toml");
    let (plan, _) = cluster_plan(config, &Overrides::default()).expect("cluster plan");
    let dir = tempfile::tempdir().expect("temp dir");
    obsdemo::render::write(&render_for_cluster(&plan).expect("render"), dir.path()).expect("write");
    let validate = |binary: &Path, file: &str, extra: &[&str]| {
        let out = Command::new(binary)
            .arg("validate")
            .arg(format!("--config={}", dir.path().join(file).display()))
            .args(extra)
            .env("K8S_NODE_NAME", "node-1")
            .output()
            .expect("runs");
        assert!(out.status.success(), "{} rejects {file}:\n{}", binary.display(), describe(&out));
    };
    let collector = find_binary("collector").expect("collector");
    validate(&collector, "otelcol-gateway.yaml", &[]);
    // The agent reads the node below /hostfs, which only its pod has; everything
    // else of its config is validated as written.
    validate(&collector, "otelcol-agent.yaml", &["--set=receivers::host_metrics::root_path=/"]);
    validate(&find_binary("jaeger").expect("jaeger"), "jaeger.yaml", &[]);
}

/// A process the test started, killed when dropped (a failed assertion included).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The text of the rendered file `key` in the exported ConfigMaps.
fn config_map_file(objects: &[Value], key: &str) -> String {
    objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .find_map(|cm| cm["data"][key].as_str())
        .unwrap_or_else(|| panic!("no ConfigMap holds {key}"))
        .to_owned()
}

/// Asks the Prometheus at `web` the instant `query` until `wanted` finds what it
/// waits for in the answer; after 90 s fails with the targets, Prometheus's log and
/// the log `other` (both in `files`).
fn until_answered<T>(web: u16, query: &str, other: &str, files: &Path, wanted: impl Fn(&[Value]) -> Option<T>) -> T {
    let log = |name: &str| std::fs::read_to_string(files.join(name)).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let found = prometheus_query(web, query).unwrap_or_default();
        if let Some(answer) = wanted(&found) {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{query}` not answered as wanted after 90 s: {found:?}\ntargets: {:?}\n--- prometheus.log:\n{}\n--- {other}:\n{}",
            get_json(&format!("http://127.0.0.1:{web}/api/v1/targets")),
            log("prometheus.log"),
            log(other)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn prometheus_finds_each_nodes_agent_through_the_api_and_the_gateways_red_metrics_through_its_service() {
    require(&["collector", "prometheus"]);
    // Its own ports: the agent, then the gateway, and Prometheus run here for real. With
    // RED metrics, which the gateway makes and Prometheus scrapes through its Service.
    let stack = TestStack::with_config("[metrics]\nred = true\n");
    let namespace = "obsdemo-sd";
    let offset = stack.offset.to_string();
    let out = stack.run(&["export", "kubernetes", "--out", "k8s", "--namespace", namespace, "--port-offset", &offset]);
    assert_success(&out, "export kubernetes");
    let objects = exported_objects(&stack.dir().join("k8s"));
    let server = ApiServer::start();
    apply_all(&server, &objects);
    // The agent's pod is this machine: its address is loopback, where the real
    // Collector runs with the agent's config.
    start_pods(&server, &objects, namespace, &["collector-agent"]);
    let files = stack.dir().join("files");
    std::fs::create_dir_all(&files).expect("dir");
    let agent_config = files.join("otelcol-agent.yaml");
    std::fs::write(&agent_config, config_map_file(&objects, "otelcol-agent.yaml")).expect("write");
    let agent = Command::new(find_binary("collector").expect("collector"))
        .arg(format!("--config={}", agent_config.display()))
        // The node's root is at /hostfs only in the agent's pod; here it is /.
        .arg("--set=receivers::host_metrics::root_path=/")
        .env("K8S_NODE_NAME", "node-1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(files.join("agent.log")).expect("log"))
        .spawn()
        .map(Running)
        .expect("the Collector starts");

    // Prometheus with the exported config, run as in its pod: the ServiceAccount's
    // token, CA and namespace at the fixed in-cluster paths (in a mount namespace of
    // its own, over a private /run, so nothing of this machine changes), the API
    // server's address in the environment every pod gets, and the gateway's Service
    // name resolving to this machine, as the cluster's DNS would resolve it.
    let hosts = files.join("hosts");
    let mut resolved = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    resolved.push_str("\n127.0.0.1 collector-gateway\n");
    std::fs::write(&hosts, resolved).expect("hosts");
    let account = files.join("serviceaccount");
    std::fs::create_dir_all(&account).expect("dir");
    std::fs::write(account.join("token"), server.token_of(namespace, "prometheus")).expect("token");
    std::fs::write(account.join("namespace"), namespace).expect("namespace");
    std::fs::copy(server.certificate(), account.join("ca.crt")).expect("ca.crt");
    std::fs::write(files.join("prometheus.yml"), config_map_file(&objects, "prometheus.yml")).expect("write");
    let web = free_port();
    let prometheus = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io \
             && cp -r \"$ACCOUNT\" /run/secrets/kubernetes.io/serviceaccount \
             && mount --bind \"$HOSTS\" /etc/hosts && exec \"$@\"",
        )
        .arg("sh")
        .arg(find_binary("prometheus").expect("prometheus"))
        .arg(format!("--config.file={}", files.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", files.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .env("ACCOUNT", &account)
        .env("HOSTS", &hosts)
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", server.port.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(files.join("prometheus.log")).expect("log"))
        .spawn()
        .map(Running)
        .expect("Prometheus starts (under `unshare`, from util-linux)");

    let series =
        until_answered(web, "system_memory_usage_bytes{k8s_node_name=\"node-1\"}", "agent.log", &files, |found| {
            (!found.is_empty()).then(|| found.to_vec())
        });
    assert_eq!(series[0]["metric"]["host_name"], "node-1", "the node's name labels its host metrics: {series:?}");
    // One target found through the API: the agent's exporter port, not its health or
    // own-metrics port. The other target is the gateway's Service, for RED.
    let targets = get_json(&format!("http://127.0.0.1:{web}/api/v1/targets")).expect("targets");
    let active = targets["data"]["activeTargets"].as_array().expect("active targets");
    let of_job = |job: &str| active.iter().filter(|t| t["labels"]["job"] == job).collect::<Vec<_>>();
    let agents = of_job("otelcol-hostmetrics");
    assert_eq!(agents.len(), 1, "{targets}");
    assert_eq!(agents[0]["scrapeUrl"], format!("http://127.0.0.1:{}/metrics", stack.port(8889)));
    let gateways = of_job("otelcol-spanmetrics");
    assert_eq!(gateways.len(), 1, "{targets}");
    assert_eq!(gateways[0]["scrapeUrl"], format!("http://collector-gateway:{}/metrics", stack.port(8889)));
    drop(agent);

    // RED: the gateway, with its exported config, makes a span's calls and duration
    // series, and Prometheus keeps them under the names Jaeger's Monitor tab reads.
    // (Their `job` label is the span's service, as the exporter writes it: honored.)
    // (The gateway's queue lives in its pod's scratch volume; here, in a temporary dir.)
    let gateway_config = files.join("otelcol-gateway.yaml");
    std::fs::write(&gateway_config, config_map_file(&objects, "otelcol-gateway.yaml")).expect("write");
    let queue = files.join("queue").display().to_string();
    let _gateway = Command::new(find_binary("collector").expect("collector"))
        .arg(format!("--config={}", gateway_config.display()))
        .arg(format!("--set=extensions::file_storage/queue::directory={queue}"))
        .arg(format!("--set=extensions::file_storage/queue::compaction::directory={queue}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(files.join("gateway.log")).expect("log"))
        .spawn()
        .map(Running)
        .expect("the Collector starts");
    eventually("the gateway healthy", Duration::from_secs(30), || {
        get_text(&format!("http://127.0.0.1:{}/", stack.port(13133)))
    });
    send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "Red-check", "check");
    // The agent's discovered address is this machine too, so the gateway is scraped
    // twice here: the Service's target is the one that counts.
    let through_service = format!("collector-gateway:{}", stack.port(8889));
    let query = "sum by (instance, span_name) (traces_span_metrics_calls_total{service_name=\"Red-check\"})";
    let series = until_answered(web, query, "gateway.log", &files, |found| {
        found.iter().find(|s| s["metric"]["instance"] == through_service.as_str() && s["value"][1] == "1").cloned()
    });
    assert_eq!(series["metric"]["span_name"], "check", "{series}");
    drop(prometheus);
}

#[test]
fn the_django_example_exports_with_order_calling_payment_by_its_service_name() {
    // The original plan's services, given images as its stack.toml says to.
    let example = checkout().join("examples/django/stack.toml");
    let text = std::fs::read_to_string(&example).expect("the example's stack.toml");
    let with_images = text
        .replace(
            "name = \"Payment-service\"\n",
            "name = \"Payment-service\"\nimage = \"registry.example.com/payment:1\"\n",
        )
        .replace("name = \"Order-service\"\n", "name = \"Order-service\"\nimage = \"registry.example.com/order:1\"\n");
    let stack = TestStack::new();
    std::fs::write(stack.dir().join("django.toml"), with_images).expect("write");
    let out = stack.run(&["--config", "django.toml", "export", "kubernetes", "--out", "k8s"]);
    assert_success(&out, "export kubernetes (the Django example)");
    let objects = exported_objects(&stack.dir().join("k8s"));
    let container = |name: &str| {
        let d = objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name);
        d.unwrap_or_else(|| panic!("a Deployment {name}"))["spec"]["template"]["spec"]["containers"][0].clone()
    };
    let order = container("order-service");
    let env = |name: &str| {
        order["env"].as_array().expect("env").iter().find(|e| e["name"] == name).map(|e| e["value"].clone())
    };
    assert_eq!(env("PAYMENT_URL"), Some(json!("http://payment-service:8102")));
    assert_eq!(env("OTEL_EXPORTER_OTLP_ENDPOINT"), Some(json!("http://collector-gateway:4317")));
    assert_eq!(order["command"], json!(["python", "manage.py", "runserver", "0.0.0.0:8101", "--noreload"]));
    // Django answers the kubelet's check only with a host it allows.
    assert_eq!(order["readinessProbe"]["httpGet"]["httpHeaders"], json!([{ "name": "Host", "value": "localhost" }]));
    let settings =
        std::fs::read_to_string(checkout().join("examples/django/payment/payment/settings.py")).expect("settings.py");
    assert!(settings.contains("\"payment-service\""), "Payment-service allows the host Order-service calls it by");
}

#[test]
fn a_re_export_keeps_the_users_patches_removes_what_is_gone_and_never_overwrites_an_edit() {
    let stack = TestStack::with_config(APPS);
    let (dir, _) = export_with_apps(&stack, NAMESPACE);
    // The user patches the stack in their kustomization, as its comment says.
    let users = dir.join("kustomization.yaml");
    let patched = std::fs::read_to_string(&users).expect("the user's kustomization")
        + "images:\n- name: registry.example.com/shop\n  newTag: \"1.5\"\n";
    std::fs::write(&users, &patched).expect("write");
    // One app goes away from stack.toml.
    stack.set_config(&APPS.replace("name = \"Billing\"", "name = \"Billing\"\nenabled = false"));
    export_with_apps(&stack, NAMESPACE);
    assert_eq!(std::fs::read_to_string(&users).expect("read"), patched, "the user's patch survives a re-export");
    assert!(!dir.join("base/billing.yaml").exists(), "what the stack no longer has is gone from base/");
    assert!(dir.join("base/shop-front.yaml").exists());

    // An edit in base/ is not overwritten: the export stops, naming the file.
    let jaeger = dir.join("base/jaeger.yaml");
    let edited = std::fs::read_to_string(&jaeger).expect("read").replace("replicas: 1", "replicas: 2");
    std::fs::write(&jaeger, &edited).expect("write");
    let out = stack.run(&["export", "kubernetes", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jaeger.yaml") && err.contains("was edited"), "{err}");
    assert_eq!(std::fs::read_to_string(&jaeger).expect("read"), edited, "the edit is kept");
}
