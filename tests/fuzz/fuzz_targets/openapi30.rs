//! Any JSON document through the 3.1 -> 3.0 conversion: it converts or refuses, never panics, and
//! what it converts holds no OpenAPI 3.1 construct.
#![no_main]

use greeter::api::openapi::{check::check_3_0, v3_0::downgrade};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    if let Ok(converted) = downgrade(&document) {
        let checked = check_3_0(&converted);
        assert!(checked.is_ok(), "a 3.1 construct survived: {checked:?}");
    }
});
