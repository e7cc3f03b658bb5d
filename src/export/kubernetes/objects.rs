//! One workload as Kubernetes objects: the ConfigMap of its rendered files, its
//! claims, the Deployment or DaemonSet that runs it, its Service, and the least RBAC
//! it needs.

use serde_json::{Value, json};

use super::ExportError;
use super::names::{config_key, port_name_problem};
use crate::components::deploy::{self, Env, Placement, Volume, Workload};
use crate::components::{ComponentId, StackPlan};
use crate::health::Probe;
use crate::render::{RenderedFile, slash_path};

/// The pod template annotation holding the SHA-256 of the workload's rendered files.
pub const CONFIG_DIGEST: &str = "obsdemo.dev/config-sha256";

/// What every workload's objects share.
pub struct Context<'a> {
    /// The namespace of every object.
    pub namespace: &'a str,
    /// The cluster plan (ports by listener).
    pub plan: &'a StackPlan,
    /// Every file rendered for the cluster.
    pub files: &'a [RenderedFile],
}

/// The labels of a workload's pods; the first two select them.
fn labels(w: &Workload) -> Value {
    json!({
        "app.kubernetes.io/name": w.name,
        "app.kubernetes.io/part-of": "obsdemo",
        "app.kubernetes.io/component": w.component.kind_name(),
    })
}

/// The labels a workload's Service and controller select its pods by.
fn selector(w: &Workload) -> Value {
    json!({ "app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": "obsdemo" })
}

fn metadata(name: &str, cx: &Context<'_>, labels: &Value) -> Value {
    json!({ "name": name, "namespace": cx.namespace, "labels": labels })
}

/// Every object of `w`, running `image`: ConfigMap, claims, RBAC, the controller, the
/// Service. A generated secret's Secret is made by the caller (it outlives exports).
pub fn objects(w: &Workload, image: &str, cx: &Context<'_>) -> Result<Vec<Value>, ExportError> {
    let labels = labels(w);
    let ports = ports(w, cx)?;
    let mut out = Vec::new();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut template_metadata = json!({ "labels": labels });

    let files: Vec<&RenderedFile> =
        cx.files.iter().filter(|f| w.files.iter().any(|wanted| f.path.starts_with(wanted))).collect();
    if !files.is_empty() {
        let config = format!("{}-config", w.name);
        let data: serde_json::Map<String, Value> =
            files.iter().map(|f| (config_key(&f.path), Value::String(f.contents.clone()))).collect();
        out.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(&config, cx, &labels),
            "data": data,
        }));
        let items: Vec<Value> =
            files.iter().map(|f| json!({ "key": config_key(&f.path), "path": slash_path(&f.path) })).collect();
        volumes.push(json!({ "name": "config", "configMap": { "name": config, "items": items } }));
        let rendered = deploy::cluster_paths().rendered();
        mounts.push(json!({ "name": "config", "mountPath": slash_path(&rendered), "readOnly": true }));
        // The components read their configs once, at start: a changed config must
        // replace the pods, and a changed pod template is what does that.
        let all: String = files.iter().map(|f| format!("{}\0{}\0", slash_path(&f.path), f.contents)).collect();
        template_metadata["annotations"] = json!({ CONFIG_DIGEST: crate::install::sha256_hex(all.as_bytes()) });
    }

    let mut has_claim = false;
    for v in &w.volumes {
        match v {
            Volume::Claim { name, path, size } => {
                has_claim = true;
                out.push(json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": metadata(name, cx, &labels),
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": { "requests": { "storage": size } },
                    },
                }));
                volumes.push(json!({ "name": name, "persistentVolumeClaim": { "claimName": name } }));
                mounts.push(json!({ "name": name, "mountPath": slash_path(path) }));
            }
            Volume::Scratch { name, path } => {
                volumes.push(json!({ "name": name, "emptyDir": {} }));
                mounts.push(json!({ "name": name, "mountPath": slash_path(path) }));
            }
            Volume::Host { name, host, path } => {
                volumes.push(json!({ "name": name, "hostPath": { "path": slash_path(host), "type": "Directory" } }));
                mounts.push(json!({
                    "name": name,
                    "mountPath": slash_path(path),
                    "readOnly": true,
                    // Mounts the node makes later (a new disk) show up in the pod too.
                    "mountPropagation": "HostToContainer",
                }));
            }
            Volume::GeneratedSecret { name, key, path } => {
                volumes.push(json!({
                    "name": name,
                    "secret": { "secretName": name, "defaultMode": 0o440, "items": [{ "key": key, "path": key }] },
                }));
                mounts.push(json!({ "name": name, "mountPath": slash_path(path), "readOnly": true }));
            }
        }
    }

    if w.discovers_pods {
        out.extend(pod_discovery_rbac(w, cx, &labels));
    }

    let mut container = json!({
        "name": w.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": ports.iter().map(|(name, port)| json!({ "name": name, "containerPort": port, "protocol": "TCP" })).collect::<Vec<_>>(),
        "env": w.env.iter().map(env_var).collect::<Vec<_>>(),
        "volumeMounts": mounts,
        "resources": {
            "requests": { "cpu": w.resources.cpu, "memory": w.resources.memory },
            "limits": { "memory": w.resources.memory_limit },
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": w.read_only_root,
            "capabilities": { "drop": ["ALL"] },
        },
    });
    // Empty lists are left out, as a person would write the manifest.
    if let Some(fields) = container.as_object_mut() {
        fields.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
    }
    if !w.command.is_empty() {
        container["command"] = json!(w.command);
    }
    if !w.args.is_empty() {
        container["args"] = json!(w.args);
    }
    // `up` waits for every probe; a container has one of each kind, so the last (the
    // health check where there are two) decides, patiently for liveness.
    if let Some(probe) = w.probes.last() {
        let handler = probe_handler(probe, w, &ports)?;
        container["readinessProbe"] = with(handler.clone(), json!({ "periodSeconds": 5, "failureThreshold": 3 }));
        container["livenessProbe"] =
            with(handler, json!({ "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 6 }));
    }

    let mut pod_security = json!({ "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } });
    if let Some(user) = w.user {
        pod_security["runAsUser"] = json!(user);
        pod_security["runAsGroup"] = json!(user);
        // Volumes (claims above all) are made writable for the user's group.
        pod_security["fsGroup"] = json!(user);
    }
    let mut pod_spec = json!({
        "securityContext": pod_security,
        // Service links would put every Service's address in each container's
        // environment, where a program reading JAEGER_* or PROMETHEUS_* takes them
        // for its own settings.
        "enableServiceLinks": false,
        "automountServiceAccountToken": w.discovers_pods,
        "containers": [container],
        "volumes": volumes,
    });
    if volumes.is_empty()
        && let Some(fields) = pod_spec.as_object_mut()
    {
        fields.remove("volumes");
    }
    if w.discovers_pods {
        pod_spec["serviceAccountName"] = json!(w.name);
    }
    if w.placement == Placement::EveryNode {
        // Every node means every node: control-plane and otherwise tainted ones too.
        pod_spec["tolerations"] = json!([{ "operator": "Exists" }]);
    }
    let template = json!({ "metadata": template_metadata, "spec": pod_spec });
    out.push(match w.placement {
        Placement::Deployment => json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(&w.name, cx, &labels),
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": selector(w) },
                // A claim is ReadWriteOnce: the old pod lets go before the new one mounts it.
                "strategy": { "type": if has_claim { "Recreate" } else { "RollingUpdate" } },
                "template": template,
            },
        }),
        Placement::EveryNode => json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": metadata(&w.name, cx, &labels),
            "spec": {
                "selector": { "matchLabels": selector(w) },
                "updateStrategy": { "type": "RollingUpdate" },
                "template": template,
            },
        }),
    });

    if w.service && !ports.is_empty() {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(&w.name, cx, &labels),
            "spec": {
                "type": "ClusterIP",
                "selector": selector(w),
                "ports": ports.iter().map(|(name, port)| json!({
                    "name": name, "port": port, "targetPort": name, "protocol": "TCP",
                })).collect::<Vec<_>>(),
            },
        }));
    }
    Ok(out)
}

/// A Secret holding `value` under `key`, for a [`Volume::GeneratedSecret`].
pub fn secret(name: &str, key: &str, value: &str, w: &Workload, cx: &Context<'_>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, cx, &labels(w)),
        "type": "Opaque",
        "stringData": { key: value },
    })
}

/// `w`'s ports as (Kubernetes name, number), in the plan's order.
fn ports(w: &Workload, cx: &Context<'_>) -> Result<Vec<(String, u16)>, ExportError> {
    w.ports
        .iter()
        .map(|listener| {
            let name = deploy::port_name(listener);
            match port_name_problem(&name) {
                Some(why) => Err(ExportError::BadName {
                    what: format!("port `{listener}` of {}", w.component),
                    name,
                    why: why.to_owned(),
                }),
                None => Ok((name, cx.plan.port(&w.component, listener))),
            }
        })
        .collect()
}

/// A probe `up` uses, as a Kubernetes probe handler on the container's named port.
fn probe_handler(probe: &Probe, w: &Workload, ports: &[(String, u16)]) -> Result<Value, ExportError> {
    let (port, path) = match probe {
        Probe::Http { url } => {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
            (authority.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()), Some(path))
        }
        Probe::Tcp { addr } => (addr.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()), None),
    };
    let name = ports.iter().find(|(_, p)| Some(*p) == port).map(|(name, _)| name.clone()).ok_or_else(|| {
        ExportError::Unmapped(format!(
            "{}'s check {} is on no port the workload `{}` serves in the cluster",
            w.component,
            probe.target(),
            w.name
        ))
    })?;
    Ok(match path {
        // A web framework that checks the Host header (Django's ALLOWED_HOSTS) would
        // refuse the kubelet's, which names the pod's address. `up` asks on loopback;
        // this asks with a loopback name, which such frameworks allow by default.
        Some(path) if matches!(w.component, ComponentId::App(_)) => json!({ "httpGet": {
            "path": path, "port": name, "httpHeaders": [{ "name": "Host", "value": "localhost" }],
        }}),
        Some(path) => json!({ "httpGet": { "path": path, "port": name } }),
        None => json!({ "tcpSocket": { "port": name } }),
    })
}

/// `base` with the fields of `extra` added.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn env_var(e: &Env) -> Value {
    match e {
        Env::Value(name, value) => json!({ "name": name, "value": value }),
        Env::FromPod(name, field) => json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": field } } }),
    }
}

/// The ServiceAccount, Role and RoleBinding that let `w` list and watch the pods of
/// its own namespace, and nothing else.
fn pod_discovery_rbac(w: &Workload, cx: &Context<'_>, labels: &Value) -> Vec<Value> {
    let name = &w.name;
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(name, cx, labels),
            "automountServiceAccountToken": false,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(name, cx, labels),
            "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(name, cx, labels),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name },
            "subjects": [{ "kind": "ServiceAccount", "name": name, "namespace": cx.namespace }],
        }),
    ]
}
