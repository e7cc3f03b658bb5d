//! The panels of obsdemo's Grafana dashboards, defined once (in
//! `templates/grafana/panels/`): Grafana's provisioned dashboard is rendered from them
//! (`grafana.rs`), and the console draws the same panels from Prometheus's
//! `query_range`. Adding a panel is one edit that reaches both.

use serde::{Deserialize, Serialize};

/// The system resources dashboard's definition, as shipped.
const SYSTEM_RESOURCES: &str = include_str!("../../templates/grafana/panels/system-resources.toml");
/// The RED dashboard's definition, as shipped.
const RED: &str = include_str!("../../templates/grafana/panels/red.toml");

/// A dashboard: what it is, and its panels, rows included, in order.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Grafana's uid (`/d/<uid>`).
    pub uid: String,
    /// Its title.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// Grafana's tags.
    pub tags: Vec<String>,
    /// Whether its queries use the `host` variable (`$host`).
    pub host_variable: bool,
    /// Rows and panels, top to bottom.
    pub panels: Vec<Panel>,
}

/// One panel (or a row heading).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// Grafana's panel id, unique in the dashboard.
    pub id: u32,
    /// `row`, `timeseries`, `stat`, `gauge` or `bargauge`.
    pub kind: String,
    /// Its title.
    pub title: String,
    /// What it shows, for people.
    #[serde(default)]
    pub description: String,
    /// Where it sits: x, y, width, height, on Grafana's 24-column grid.
    pub grid: [u32; 4],
    /// Grafana's unit (`percentunit`, `bytes`, `Bps`, `ops`, ...).
    #[serde(default)]
    pub unit: String,
    /// Series stacked on each other.
    #[serde(default)]
    pub stack: bool,
    /// The axis maximum (the minimum is then 0).
    pub max: Option<serde_json::Number>,
    /// Where it turns orange, then red.
    pub thresholds: Option<[serde_json::Number; 2]>,
    /// Its queries.
    #[serde(default)]
    pub targets: Vec<Target>,
}

/// One PromQL query of a panel, as Grafana runs it (with `$host` and
/// `$__rate_interval`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The query.
    pub expr: String,
    /// The series' name, Grafana's legend format (`{{device}} {{direction}}`).
    pub legend: String,
}

/// The system resources dashboard.
pub fn system_resources() -> Dashboard {
    toml::from_str(SYSTEM_RESOURCES).expect("the shipped panel definitions parse (a unit test checks it)")
}

/// The RED dashboard (`[metrics] red`).
pub fn red() -> Dashboard {
    toml::from_str(RED).expect("the shipped panel definitions parse (a unit test checks it)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_panels_parse_and_every_panel_has_a_query() {
        for d in [system_resources(), red()] {
            assert!(d.panels.iter().filter(|p| p.kind != "row").all(|p| !p.targets.is_empty() && !p.unit.is_empty()));
            let mut ids: Vec<u32> = d.panels.iter().map(|p| p.id).collect();
            ids.dedup();
            assert_eq!(ids.len(), d.panels.len(), "ids are unique");
        }
    }
}
