//! The layers of `src/` and the one direction of their dependencies: `startup` → `http` →
//! `api` → `process::settings`. A module may use its own layer and those below it, never one
//! above (comments and tests aside), so no import circle can form between layers.

use std::path::Path;

use crate::helpers::project_root;

/// Each layer's folder and the layers its code must not name.
const FORBIDDEN: [(&str, &[&str]); 3] = [
    (
        "src/process",
        &["crate::api", "crate::http", "crate::startup"],
    ),
    ("src/api", &["crate::http", "crate::startup"]),
    ("src/http", &["crate::startup"]),
];

/// The code of every `.rs` file under `folder`, without comments and `#[cfg(test)]` modules.
fn code_under(folder: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(code_under(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: Vec<&str> = code
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            found.push((path.display().to_string(), code.join("\n")));
        }
    }
    found
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let root = project_root();
    for (folder, forbidden) in FORBIDDEN {
        let files = code_under(&root.join(folder));
        assert!(!files.is_empty(), "{folder} has no code");
        for (file, code) in files {
            for name in forbidden {
                assert!(!code.contains(name), "{file} uses {name}, a layer above it");
            }
        }
    }
}

#[test]
fn the_top_of_src_holds_a_handful_of_entries() {
    let entries: Vec<String> = std::fs::read_dir(project_root().join("src"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(entries.len() <= 8, "{entries:?}");
}
