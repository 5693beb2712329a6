//! The deployment files under deploy/ say what greeter does: the systemd units pass
//! `systemd-analyze verify` with not one warning (with `ExecStart` pointed at the binary under
//! test), and every flag and variable they and the Kubernetes manifests give greeter is one it
//! takes. (make lint validates the manifests: kubernetes-validate and checkov.)

use std::process::Command;

use crate::helpers::{project_root, skip};

#[test]
fn the_systemd_units_verify_without_a_warning() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip("systemd-analyze is not installed (apt-get install systemd)");
    }
    let dir = std::env::temp_dir().join(format!("greeter-units-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for unit in ["greeter.socket", "greeter.service"] {
        let text =
            std::fs::read_to_string(project_root().join("deploy/systemd").join(unit)).unwrap();
        let text = text.replace("/usr/local/bin/greeter", env!("CARGO_BIN_EXE_greeter"));
        std::fs::write(dir.join(unit), text).unwrap();
    }

    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("greeter.socket"))
        .arg(dir.join("greeter.service"))
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every `GREETER_*` variable the unit and the manifests set is one greeter reads.
#[test]
fn every_setting_the_deployment_files_give_is_one_greeter_takes() {
    let help = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let variable = regex::Regex::new(r"GREETER_[A-Z_]+").unwrap();
    for file in [
        "deploy/systemd/greeter.service",
        "deploy/kubernetes/deployment.yaml",
        "deploy/kubernetes/with-upstreams/kustomization.yaml",
    ] {
        let text = std::fs::read_to_string(project_root().join(file)).unwrap();
        for found in variable.find_iter(&text) {
            let name = found.as_str();
            assert!(
                help.contains(name) || name == "GREETER_API_KEYS",
                "{file} sets {name}, which greeter --help does not list"
            );
        }
    }
}

/// The configuration file of the Kubernetes ConfigMap is one greeter takes, given the Secret's
/// values where the Deployment puts them.
#[test]
fn the_configmaps_configuration_file_checks() {
    let manifest = std::fs::read_to_string(
        project_root().join("deploy/kubernetes/with-upstreams/configmap.yaml"),
    )
    .unwrap();
    // The block under `greeter.toml: |`, indented by four spaces.
    let toml: String = manifest
        .split_once("greeter.toml: |\n")
        .unwrap()
        .1
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    let dir = std::env::temp_dir().join(format!("greeter-configmap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("weather-key");
    std::fs::write(&key, "replace-me").unwrap();
    let config = dir.join("greeter.toml");
    std::fs::write(
        &config,
        toml.replace(
            "/run/secrets/greeter/weather-key",
            &key.display().to_string(),
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .env("BILLING_TOKEN", "Bearer replace-me")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("name = \"weather\""), "{stdout}");
    assert!(!stdout.contains("replace-me"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}
