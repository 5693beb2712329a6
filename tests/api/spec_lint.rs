//! The linters API teams run in CI, on both editions, as committed (API keys off) and as a server
//! with API keys serves them: Spectral (`spectral:oas` and the OWASP API Security Top 10
//! ruleset, tests/lint/spectral.yaml) and Redocly (`recommended`, tests/lint/redocly.yaml; for
//! the keys-off documents without `security-defined`, tests/lint/redocly-keys-off.yaml), pinned
//! in tests/lint/package.json and installed by `make test`.
//! 0 errors and 0 warnings; the rules turned off say why in the ruleset (and docs/spec.md). A
//! copy of the document without `servers` must fail both, so a linter that ran nothing cannot
//! pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{EDITIONS, project_root, skip};

/// The linters' folder, or why they cannot be used.
fn linters() -> Result<PathBuf, String> {
    let dir = project_root().join("tests/lint");
    for tool in ["spectral", "redocly"] {
        if !dir.join("node_modules/.bin").join(tool).exists() {
            return Err(format!(
                "{tool} is not in tests/lint/node_modules; `make test` runs npm ci"
            ));
        }
    }
    Ok(dir)
}

fn spectral(dir: &Path, spec: &Path) -> Output {
    Command::new(dir.join("node_modules/.bin/spectral"))
        .args([
            "lint",
            "--ruleset",
            "spectral.yaml",
            "--fail-severity",
            "warn",
        ])
        .arg(spec)
        .current_dir(dir)
        .output()
        .expect("cannot run spectral")
}

/// Both editions as committed (keys off) and as a keyed server with `GET /aggregate`'s
/// parameters configured serves them (written to `target/lint/keyed/`), each with whether it
/// is keyed.
fn documents() -> Vec<(PathBuf, bool)> {
    let keyed_dir = project_root().join("target/lint/keyed");
    std::fs::create_dir_all(&keyed_dir).unwrap();
    let parameters = crate::helpers::greeting_parameters();
    let keyed = greeter::api::document_for(greeter::api::openapi::Deployment {
        api_keys: true,
        parameters: &parameters,
    });
    let mut found = Vec::new();
    for (version, file, _) in EDITIONS {
        found.push((project_root().join(file), false));
        let copy = keyed_dir.join(version.file_name());
        std::fs::write(&copy, version.render(&keyed).unwrap()).unwrap();
        found.push((copy, true));
    }
    found
}

fn redocly(dir: &Path, spec: &Path) -> Output {
    redocly_with(dir, spec, "redocly.yaml")
}

fn redocly_with(dir: &Path, spec: &Path, config: &str) -> Output {
    Command::new(dir.join("node_modules/.bin/redocly"))
        .args(["lint", "--config", config, "--format", "stylish"])
        .arg(spec)
        .current_dir(dir)
        // No telemetry, no update check: nothing leaves the machine.
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .output()
        .expect("cannot run redocly")
}

fn report(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn both_editions_keyed_or_not_pass_spectral_and_owasp_with_no_warning() {
    let dir = match linters() {
        Ok(dir) => dir,
        Err(reason) => return skip(&reason),
    };
    for (file, _) in documents() {
        let output = spectral(&dir, &file);
        let report = report(&output);
        assert!(output.status.success(), "{}:\n{report}", file.display());
        assert!(
            report.contains("No results with a severity of 'warn' or higher"),
            "{report}"
        );
    }
}

#[test]
fn both_editions_keyed_or_not_pass_redocly_recommended_with_no_warning() {
    let dir = match linters() {
        Ok(dir) => dir,
        Err(reason) => return skip(&reason),
    };
    for (file, keyed) in documents() {
        let config = if keyed {
            "redocly.yaml"
        } else {
            "redocly-keys-off.yaml"
        };
        let output = redocly_with(&dir, &file, config);
        // Its findings go to stdout (stderr has a notice about Node.js 20's end of life).
        let findings = String::from_utf8_lossy(&output.stdout).into_owned();
        let report = report(&output);
        let file = file.display();
        assert!(output.status.success(), "{file}:\n{report}");
        assert!(report.contains("Your API description is valid"), "{report}");
        assert!(!findings.contains("warning"), "{file}:\n{report}");
    }
}

#[test]
fn a_document_without_servers_fails_both_linters() {
    let dir = match linters() {
        Ok(dir) => dir,
        Err(reason) => return skip(&reason),
    };
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project_root().join(EDITIONS[0].1)).unwrap())
            .unwrap();
    spec.as_object_mut().unwrap().remove("servers");
    let copy = project_root().join("target/lint-without-servers.json");
    std::fs::write(&copy, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();

    let spectral = spectral(&dir, &copy);
    let redocly = redocly(&dir, &copy);

    assert!(!spectral.status.success(), "{}", report(&spectral));
    assert!(
        report(&spectral).contains("oas3-api-servers"),
        "{}",
        report(&spectral)
    );
    assert!(!redocly.status.success(), "{}", report(&redocly));
    assert!(
        report(&redocly).contains("no-empty-servers"),
        "{}",
        report(&redocly)
    );
}
