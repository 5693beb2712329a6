//! Any bytes as a `POST /greetings` body: parsing and validation never panic, a refusal always
//! names at least one problem, and an accepted request follows the documented name rule.
#![no_main]

use greeter::api::body::parse_json;
use greeter::api::routes::greeting::GreetingRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(value) = parse_json(body).map_err(|refusal| assert!(!refusal.detail.is_empty())) else {
        return;
    };
    match GreetingRequest::from_json(&value) {
        Ok(request) => {
            let name = request.name.as_str();
            assert!((1..=64).contains(&name.chars().count()), "{name:?}");
            assert!(!name.chars().any(char::is_control), "{name:?}");
        }
        Err(refusal) => assert!((1..=2).contains(&refusal.detail.len()), "{refusal:?}"),
    }
});
