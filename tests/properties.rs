//! Property tests over what a user writes in `stack.toml`: parsing, validation,
//! planning and rendering never panic, and no name, value or path a user chooses can
//! change the structure of a rendered config. The number of cases is fixed, so the run
//! is bounded (a few seconds); `PROPTEST_CASES` raises it for a longer hunt.

use std::path::{Path, PathBuf};

use obsdemo::components::{Overrides, StackPlan, launch};
use obsdemo::stack::{ConfigSource, StackConfig, StatePaths, load::EMBEDDED_STACK_TOML};
use proptest::prelude::*;
use serde_json::Value;

/// Fragments that mean something to TOML, YAML, JSON, INI, minijinja, Grafana's and the
/// shell's variable syntax, or a terminal.
const HOSTILE: &[&str] = &[
    "\"",
    "'",
    ": ",
    "\n",
    "\r",
    "\t",
    "#",
    ";",
    "{{ x }}",
    "{% if x %}",
    "${HOME}",
    "$__file{/etc/passwd}",
    "$__env{HOME}",
    "}",
    "{",
    "\\",
    "- ",
    "&a",
    "*a",
    "[",
    "]",
    ",",
    "=",
    "%",
    "|",
    ">",
    "!",
    "é",
    "\u{1b}[31m",
    " ",
    "..",
    "/",
];

/// A string of a few hostile fragments and plain letters.
fn hostile() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![3 => proptest::sample::select(HOSTILE).prop_map(str::to_owned), 1 => "[a-z]{1,4}"];
    proptest::collection::vec(fragment, 1..6).prop_map(|v| v.concat())
}

/// 1,024 cases per property (about a second in all), or `PROPTEST_CASES`.
fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1024);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Plans and renders `config` with the state dir `state_dir`; `None` when the plan is
/// refused (an error is an acceptable answer to a bad input; a panic is not).
fn plan_and_render(config: StackConfig, host_name: &str) -> Option<(StackPlan, Vec<(PathBuf, String)>)> {
    let plan = match StackPlan::new(config, &Overrides::default(), Path::new("/cwd")) {
        Ok(plan) => plan,
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "a refusal says why");
            return None;
        }
    };
    let paths = StatePaths::new(&plan.state_dir);
    let files = launch::render_for_host(&plan, &paths, host_name)
        .unwrap_or_else(|e| panic!("a plan that was accepted must render: {e}"));
    Some((plan, files.into_iter().map(|f| (f.path, f.contents)).collect()))
}

/// The shape of a parsed document: every key path, with leaves reduced to their type.
fn skeleton(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| skeleton(v, &format!("{at}.{k}"), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| skeleton(v, &format!("{at}[{i}]"), out)),
        leaf => out.push(format!("{at}: {}", if leaf.is_string() { "string" } else { "scalar" })),
    }
}

/// Each rendered file's shape. YAML and JSON are parsed; INI is reduced to its
/// sections and keys, so an injected line or section shows.
fn shapes(files: &[(PathBuf, String)]) -> Vec<(PathBuf, Vec<String>)> {
    files
        .iter()
        .map(|(path, text)| {
            let mut out = Vec::new();
            match path.extension().and_then(|e| e.to_str()) {
                Some("yaml" | "yml") => skeleton(&serde_saphyr::from_str(text).expect("YAML parses"), "", &mut out),
                Some("json") => skeleton(&serde_json::from_str(text).expect("JSON parses"), "", &mut out),
                _ => out.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty() && !l.starts_with([';', '#']))
                        .map(|l| l.split_once('=').map_or(l.trim().to_owned(), |(key, _)| format!("{} =", key.trim()))),
                ),
            }
            (path.clone(), out)
        })
        .collect()
}

/// Every string leaf of every YAML and JSON file, and every INI value.
fn values(files: &[(PathBuf, String)]) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::String(s) => out.push(s.clone()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (path, text) in files {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => strings(&serde_saphyr::from_str(text).unwrap(), &mut out),
            Some("json") => strings(&serde_json::from_str(text).unwrap(), &mut out),
            _ => out.extend(text.lines().filter_map(|l| Some(l.split_once('=')?.1.trim().to_owned()))),
        }
    }
    out
}

/// A step into a TOML document: a table's key or an array's index.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path of every leaf (a string, number, boolean or date) of the shipped
/// `stack.toml`, so a property can reach each key a user may write.
fn leaf_paths() -> &'static [Vec<Step>] {
    static LEAVES: std::sync::LazyLock<Vec<Vec<Step>>> = std::sync::LazyLock::new(walk_leaves);
    &LEAVES
}

fn walk_leaves() -> Vec<Vec<Step>> {
    fn walk(v: &toml::Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match v {
            toml::Value::Table(t) => t.iter().for_each(|(k, v)| {
                at.push(Step::Key(k.clone()));
                walk(v, at, out);
                at.pop();
            }),
            toml::Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
                at.push(Step::Index(i));
                walk(v, at, out);
                at.pop();
            }),
            _ => out.push(at.clone()),
        }
    }
    let doc: toml::Value = toml::from_str(EMBEDDED_STACK_TOML).unwrap();
    let mut out = Vec::new();
    walk(&doc, &mut Vec::new(), &mut out);
    out
}

/// `doc` with the leaf at `path` replaced by `value`.
fn replaced(mut doc: toml::Value, path: &[Step], value: toml::Value) -> toml::Value {
    let mut at = &mut doc;
    for step in path {
        at = match step {
            Step::Key(k) => at.get_mut(k.as_str()).unwrap(),
            Step::Index(i) => at.get_mut(*i).unwrap(),
        };
    }
    *at = value;
    doc
}

/// Any value a user could write where a leaf stands.
fn any_leaf() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        3 => hostile().prop_map(toml::Value::String),
        1 => any::<i64>().prop_map(toml::Value::Integer),
        1 => any::<bool>().prop_map(toml::Value::Boolean),
        1 => "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-z.]{0,4})?".prop_map(toml::Value::String),
    ]
}

proptest! {
    #![proptest_config(cases())]

    /// Any edit of the shipped `stack.toml` (a character replaced, inserted or removed
    /// anywhere) is either a config or a clear error with a position inside the text.
    #[test]
    fn any_edit_of_stack_toml_parses_or_is_a_positioned_error(
        at in 0usize..EMBEDDED_STACK_TOML.len(),
        remove in 0usize..4,
        insert in proptest::option::of(hostile()),
    ) {
        let mut text = EMBEDDED_STACK_TOML.to_owned();
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap();
        let end = ((at + remove).min(text.len())..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap();
        text.replace_range(at..end, insert.as_deref().unwrap_or(""));
        match obsdemo::stack::load::parse(&text, ConfigSource::File("stack.toml".into())) {
            Ok(config) => { plan_and_render(config, "host"); }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.starts_with("stack.toml"), "names the file: {message}");
                if let Some((line, column)) = e.position {
                    prop_assert!(line >= 1 && line <= text.lines().count() + 1 && column >= 1, "{message}");
                }
            }
        }
    }

    /// Any key of `stack.toml` (a version, a name, a port, a path) set to anything is
    /// refused with the file, the key and its position, or it plans, renders, and
    /// resolves every binary inside the managed dir: no value becomes a path outside
    /// it, and nothing panics.
    #[test]
    fn any_key_set_to_anything_is_refused_where_written_or_plans_renders_and_resolves(
        which in 0usize..leaf_paths().len(),
        value in any_leaf(),
    ) {
        let path = &leaf_paths()[which];
        let doc = replaced(toml::from_str(EMBEDDED_STACK_TOML).unwrap(), path, value);
        let text = toml::to_string(&doc).unwrap();
        let config = match obsdemo::stack::load::parse(&text, ConfigSource::File("stack.toml".into())) {
            Ok(config) => config,
            Err(e) => {
                prop_assert!(e.to_string().starts_with("stack.toml:") && e.position.is_some(), "{e}");
                prop_assert!(e.key.is_some() || e.message.contains("expected"), "{e}");
                return Ok(());
            }
        };
        let Some((plan, _)) = plan_and_render(config, "host") else { return Ok(()) };
        let managed = obsdemo::install::managed_dir();
        for id in plan.enabled() {
            let kind = id.kind();
            let Some(spec) = kind.binary(&plan.config) else { continue };
            let dir = obsdemo::install::resolve::install_dir(&spec.component, &spec.version);
            let component_dir = managed.join(&spec.component);
            prop_assert_eq!(dir.parent(), Some(component_dir.as_path()), "{}", dir.display());
            prop_assert_eq!(dir.file_name().and_then(|f| f.to_str()), Some(spec.version.as_str()));
            let _ = obsdemo::install::resolve(&spec, kind.source_recipe(&plan.config).is_some());
        }
    }

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn any_text_is_a_config_or_an_error(text in "\\PC{0,200}") {
        if let Ok(config) = obsdemo::stack::load::parse(&text, ConfigSource::Embedded) {
            plan_and_render(config, "host");
        }
    }

    /// A state dir (which every config names paths in) or a machine name holding quotes,
    /// colons, newlines or template syntax is either refused or rendered as data: every
    /// file has the shape it has for a plain path, and the path comes back intact.
    #[test]
    fn a_hostile_state_dir_or_host_name_cannot_change_a_rendered_config(dir in hostile(), host in hostile()) {
        let plain = plan_and_render(StackConfig { state_dir: "/state".into(), ..Default::default() }, "host")
            .expect("the default config plans");
        let config = StackConfig { state_dir: PathBuf::from("/state").join(&dir), ..Default::default() };
        if let Some((plan, files)) = plan_and_render(config, &host) {
            prop_assert_eq!(shapes(&files), shapes(&plain.1));
            let data = StatePaths::new(&plan.state_dir).data().display().to_string();
            prop_assert!(values(&files).iter().any(|v| v.starts_with(&data)), "the state dir {data:?} comes back intact");
            prop_assert!(values(&files).contains(&host), "the host name {host:?} comes back intact");
        }
    }

    /// Service and app names, commands and environment values holding anything are
    /// refused with the key named, or carried through to the launch file unchanged.
    #[test]
    fn hostile_names_and_values_are_refused_or_carried_verbatim(name in hostile(), value in hostile(), port in any::<u16>()) {
        let toml = format!(
            "[[apps]]\nname = {name}\ncommand = [\"prog\", {value}]\nenv = {{ X = {value} }}\nports = {{ http = {port} }}\n",
            name = toml_string(&name),
            value = toml_string(&value),
        );
        let config = match obsdemo::stack::load::parse(&toml, ConfigSource::Embedded) {
            Ok(config) => config,
            Err(e) => {
                prop_assert!(e.key.is_some() || e.position.is_some(), "{e}");
                return Ok(());
            }
        };
        let Ok(plan) = StackPlan::new(config, &Overrides::default(), Path::new("/cwd")) else { return Ok(()) };
        let paths = StatePaths::new(&plan.state_dir);
        let binaries = plan.enabled().into_iter().map(|id| (id, PathBuf::from("/bin/x"))).collect();
        let launch = launch::launch(&plan, &paths, &binaries);
        let json = serde_json::to_value(&launch).unwrap();
        let app = json["specs"].as_array().unwrap().iter().find(|p| p["name"] == name.as_str()).cloned();
        let app = app.unwrap_or_else(|| panic!("app {name:?} is in the launch file"));
        prop_assert!(app["args"].as_array().unwrap().iter().any(|a| a == value.as_str()), "{app}");
        let (log, logs) = (paths.log(&name), paths.logs());
        prop_assert_eq!(log.parent(), Some(logs.as_path()), "the app's log stays in the logs dir");
    }

    /// An app's image, command and environment holding anything are refused, or
    /// exported as Kubernetes manifests whose YAML reads back as exactly the objects
    /// made, the values verbatim (a YAML writer that quoted badly would change them).
    #[test]
    fn hostile_values_survive_the_kubernetes_export_verbatim(value in hostile(), image in hostile()) {
        use obsdemo::export::kubernetes;
        let toml = format!(
            "[[apps]]\nname = \"app\"\nimage = {image}\ncommand = [\"prog\", {value}]\nenv = {{ X = {value} }}\nports = {{ http = 8101 }}\n",
            image = toml_string(&image),
            value = toml_string(&value),
        );
        let Ok(config) = obsdemo::stack::load::parse(&toml, ConfigSource::Embedded) else { return Ok(()) };
        let Ok((plan, _)) = obsdemo::components::deploy::cluster_plan(config, &Overrides::default()) else { return Ok(()) };
        let export = match kubernetes::export(&plan, &kubernetes::Options::default(), &Default::default()) {
            Ok(export) => export,
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
        };
        // The hostile values reach the app's file only.
        for m in export.manifests.iter().filter(|m| m.file == "app.yaml") {
            let text = m.text().unwrap();
            let parsed: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", m.file));
            prop_assert_eq!(&parsed, &m.objects, "{} reads back as written", m.file);
        }
        let app = export.objects().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "app").unwrap();
        let container = &app["spec"]["template"]["spec"]["containers"][0];
        prop_assert_eq!(&container["image"], &Value::String(image.clone()));
        prop_assert_eq!(&container["command"][1], &Value::String(value.clone()));
        let x = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "X").unwrap();
        prop_assert_eq!(&x["value"], &Value::String(value));
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
