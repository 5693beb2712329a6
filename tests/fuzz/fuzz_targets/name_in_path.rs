//! Any raw path segment for `GET /hello/{name}`: decoding never panics, and what it accepts is
//! exactly a name of the documented rule, percent-decoded.
#![no_main]

use greeter::api::routes::greeting::decode_name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    match decode_name(raw) {
        Ok(name) => {
            let name = name.as_str();
            assert!(
                (1..=64).contains(&name.chars().count()),
                "{raw:?} -> {name:?}"
            );
            assert!(!name.chars().any(char::is_control), "{raw:?} -> {name:?}");
        }
        Err(refusal) => assert_eq!(refusal.detail.len(), 1, "{raw:?}"),
    }
});
