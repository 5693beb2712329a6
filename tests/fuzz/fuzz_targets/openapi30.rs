//! Any JSON document through the 3.1 -> 3.0 conversion: it converts or refuses, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = greeter::openapi30::downgrade(&document);
    }
});
