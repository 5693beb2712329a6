//! The layers of `src/` and what each may use, stated once ([`RULES`]) and checked here: every
//! `crate::` path in a layer's code (comments and `#[cfg(test)]` modules aside) names its own
//! layer or one it is allowed. No import circle can form between layers.
//!
//! - `config`: what the process is told (command line, environment, keys): uses nothing else,
//!   so every layer may read it.
//! - `telemetry`: logs and metrics: reads the configuration only.
//! - `lifecycle`: signals, serving or draining, open files, the health check: configuration and
//!   telemetry (it logs).
//! - `api`: what a client can ask for: configuration, telemetry (upstream calls are counted,
//!   `/metrics` is a route) and lifecycle (`/readyz` answers by the serving state); never the
//!   HTTP layer or startup.
//! - `http`: what every request passes through on its way to the API: all of the above.
//! - `startup`: the composition root: all of the above.

use std::path::Path;

use crate::helpers::project_root;

/// Each layer's folder (or file) and the layers its code may name besides its own.
const RULES: [(&str, &[&str]); 6] = [
    ("src/config", &[]),
    ("src/telemetry", &["config"]),
    ("src/lifecycle", &["config", "telemetry"]),
    ("src/api", &["config", "telemetry", "lifecycle"]),
    ("src/http", &["config", "telemetry", "lifecycle", "api"]),
    (
        "src/startup.rs",
        &["config", "telemetry", "lifecycle", "api", "http"],
    ),
];

/// The layers: the first segment after `crate::`.
const LAYERS: [&str; 6] = ["config", "telemetry", "lifecycle", "api", "http", "startup"];

/// The code of every `.rs` file at `path` (a file, or a folder walked whole), without comments
/// and `#[cfg(test)]` modules.
fn code_at(path: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            found.extend(code_at(&entry.unwrap().path()));
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        let text = std::fs::read_to_string(path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: Vec<&str> = code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect();
        found.push((path.display().to_string(), code.join("\n")));
    }
    found
}

/// The layers `code` names as `crate::<layer>`.
fn layers_named(code: &str) -> Vec<&'static str> {
    LAYERS
        .into_iter()
        .filter(|layer| code.contains(&format!("crate::{layer}")))
        .collect()
}

#[test]
fn each_layer_uses_only_what_its_rule_allows() {
    let root = project_root();
    for (place, allowed) in RULES {
        let own = place
            .trim_start_matches("src/")
            .trim_end_matches(".rs")
            .to_owned();
        let files = code_at(&root.join(place));
        assert!(!files.is_empty(), "{place} has no code");
        for (file, code) in files {
            // Paths the check could not read: a grouped `crate::{...}`, or `super::` out of a
            // layer's root module.
            assert!(
                !code.contains("crate::{"),
                "{file}: name each crate:: path whole"
            );
            if file.ends_with("/mod.rs") || file.ends_with("startup.rs") {
                assert!(
                    !code.contains("super::"),
                    "{file}: `super::` leaves the layer"
                );
            }
            for layer in layers_named(&code) {
                assert!(
                    layer == own || allowed.contains(&layer),
                    "{file} uses crate::{layer}; {place} may use only {allowed:?}"
                );
            }
        }
    }
}

/// The check can fail: code naming a layer it may not is caught.
#[test]
fn the_rule_check_catches_a_forbidden_use() {
    assert_eq!(
        layers_named("use crate::http::per_request;\nuse crate::config::ServeSettings;"),
        ["config", "http"]
    );
}

#[test]
fn every_folder_of_src_is_a_layer_with_a_rule() {
    let mut entries: Vec<String> = std::fs::read_dir(project_root().join("src"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "api",
            "config",
            "http",
            "lib.rs",
            "lifecycle",
            "main.rs",
            "startup.rs",
            "telemetry"
        ]
    );
}
