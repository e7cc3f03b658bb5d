//! What Kubernetes accepts as a name, checked before anything is written, so a bad name
//! in `stack.toml` is reported by obsdemo and not by the API server after half an apply.

/// Why `name` is not a DNS-1035 label (Service names: a letter first, then lower-case
/// letters, digits and `-`, not ending in `-`, at most 63 characters); `None` if it is.
pub fn dns_label_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 63 {
        return Some("must be 1 to 63 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lower-case letter");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') || name.ends_with('-') {
        return Some("may hold only lower-case letters, digits and `-`, and not end in `-`");
    }
    None
}

/// Why `name` is not a port name (IANA service name: at most 15 characters, lower-case
/// letters, digits and `-`, at least one letter, no `--`, no `-` at either end).
pub fn port_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 15 {
        return Some("must be 1 to 15 characters");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Some("may hold only lower-case letters, digits and `-`");
    }
    if !name.chars().any(|c| c.is_ascii_lowercase())
        || name.contains("--")
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Some("needs a letter, and no `-` at either end or twice in a row");
    }
    None
}

/// A ConfigMap key for the rendered file at `path` (keys cannot hold `/`).
pub fn config_key(path: &std::path::Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_rules() {
        assert_eq!(dns_label_problem("order-service"), None);
        assert!(dns_label_problem("1order").is_some());
        assert!(dns_label_problem("Order").is_some());
        assert!(dns_label_problem("order-").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(port_name_problem("otlp-grpc"), None);
        assert!(port_name_problem("prometheus-exporter").is_some());
        assert!(port_name_problem("8080").is_some());
        assert!(port_name_problem("a--b").is_some());
        assert_eq!(config_key(std::path::Path::new("grafana/provisioning/x.yaml")), "grafana_provisioning_x.yaml");
    }
}
