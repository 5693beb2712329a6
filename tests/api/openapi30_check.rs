//! The 3.0 edition, as the code renders it and as it is committed, holds no construct that only
//! OpenAPI 3.1 has.

use greeter::api::document as openapi;
use greeter::api::openapi::SpecVersion;
use greeter::api::openapi::check::check_3_0;
use serde_json::Value;

use crate::helpers::project_root;

fn rendered(version: SpecVersion) -> Value {
    let json = version.render(&openapi()).expect("the document converts");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_rendered_3_0_edition_passes_the_check() {
    assert_eq!(check_3_0(&rendered(SpecVersion::V3_0)), Ok(()));
}

#[test]
fn the_committed_3_0_edition_passes_the_check() {
    let file = project_root().join("openapi/openapi-3.0.json");
    let committed = std::fs::read_to_string(&file).unwrap();
    let committed: Value = serde_json::from_str(&committed).unwrap();

    assert_eq!(check_3_0(&committed), Ok(()), "{}", file.display());
}

#[test]
fn the_check_finds_the_3_1_constructs_of_the_3_1_edition() {
    let problems = check_3_0(&rendered(SpecVersion::V3_1)).unwrap_err();

    for pointer in ["/openapi", "/info/license/identifier"] {
        let prefix = format!("{pointer}: ");
        assert!(
            problems.iter().any(|problem| problem.starts_with(&prefix)),
            "{pointer} not in {problems:?}"
        );
    }
}
