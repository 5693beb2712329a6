//! Calls every operation of greeter through the Rust client that progenitor generates from
//! openapi/openapi-3.0.json, against the live server whose base URL is the first argument, with
//! the API key of the second (sent by the reqwest client progenitor's client is built on).

include!(concat!(env!("OUT_DIR"), "/client.rs"));

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let usage = "usage: greeter-rust-client-check BASE_URL API_KEY";
    let base_url = std::env::args().nth(1).expect(usage);
    let api_key = std::env::args().nth(2).expect(usage);
    let mut headers = reqwest::header::HeaderMap::new();
    let mut bearer = reqwest::header::HeaderValue::try_from(format!("Bearer {api_key}"))
        .expect("a key fit for a header");
    bearer.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let authenticated = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a reqwest client");
    let client = Client::new_with_client(&base_url, authenticated);
    let mut checks = 0;

    // Without the key a protected operation is a documented 401; the probes stay open.
    let anonymous = Client::new(&base_url);
    match anonymous.get_greeting().send().await {
        Err(Error::ErrorResponse(refused)) => {
            assert_eq!(refused.status().as_u16(), 401);
            assert_eq!(refused.detail.as_str(), "Not authenticated");
        }
        other => panic!("GET / without a key: {other:?}"),
    }
    anonymous.get_health().send().await.expect("GET /healthz without a key");
    checks += 1;

    // The server's GET /aggregate takes the parameters its configuration declares (name, and
    // language with a default), and calls a greeter upstream with them.
    let aggregate = client
        .get_aggregate()
        .name("Zoë/Ada 100%")
        .language(types::GetAggregateLanguage::Fr)
        .send()
        .await
        .expect("GET /aggregate")
        .into_inner();
    let names: Vec<&str> = aggregate.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["hello", "greetings"]);
    for source in &aggregate.sources {
        assert!(source.ok, "{source:?}");
        assert_eq!(source.kind, types::SourceKind::Http);
    }
    assert_eq!(
        aggregate.sources[0].body.as_ref().map(|body| body["Hello"].clone()),
        Some(serde_json::json!("Zoë/Ada 100%"))
    );
    checks += 1;

    // The generated type carries the parameter's rules: an empty name is refused before it is
    // sent.
    match client.get_aggregate().name("").send().await {
        Err(Error::InvalidRequest(why)) => assert!(why.contains("name"), "{why}"),
        other => panic!("GET /aggregate?name= : {other:?}"),
    }
    checks += 1;

    let greeting = client
        .get_greeting()
        .send()
        .await
        .expect("GET /")
        .into_inner();
    assert_eq!(greeting.hello.as_str(), "World");
    checks += 1;

    // The client percent-encodes the name; the server decodes it back.
    let name = types::Name::try_from("Zoë/Ada 100%").expect("a valid name");
    let named = client
        .get_named_greeting()
        .name(name)
        .send()
        .await
        .expect("GET /hello/{name}");
    assert_eq!(named.into_inner().hello.as_str(), "Zoë/Ada 100%");
    checks += 1;

    // The generated types carry the spec's rules: the client refuses what the server would.
    assert!(types::Name::try_from("a".repeat(65)).is_err());
    assert!(types::Name::try_from("").is_err());
    assert!(types::Name::try_from("Ada\u{7}").is_err());
    // ... and the server refuses the same name, answering the generated error type.
    let response = client
        .client()
        .get(format!("{}/hello/{}", client.baseurl(), "a".repeat(65)))
        .send()
        .await
        .expect("GET /hello/{name}");
    assert_eq!(response.status().as_u16(), 422);
    let error: types::GetNamedGreetingError =
        response.json().await.expect("a GetNamedGreetingError");
    let types::GetNamedGreetingError::HttpValidationError(error) = error else {
        panic!("a 422 decoded as {error:?}");
    };
    assert_eq!(error.detail[0].type_.as_str(), "string_too_long");
    checks += 1;

    for (language, message) in [
        (types::Language::En, "Hello, Ada!"),
        (types::Language::Fr, "Bonjour, Ada!"),
        (types::Language::Es, "¡Hola, Ada!"),
        (types::Language::De, "Hallo, Ada!"),
        (types::Language::Ja, "こんにちは、Adaさん!"),
    ] {
        let body = types::GreetingRequest {
            name: "Ada".parse().unwrap(),
            language,
        };
        let answer = client
            .post_greeting()
            .body(body)
            .send()
            .await
            .expect("POST /greetings");
        let answer = answer.into_inner();
        assert_eq!(answer.message.as_str(), message);
        assert_eq!(answer.language, language);
        checks += 1;
    }

    // The query twin: the client encodes the parameters, the server decodes them.
    let by_query = client
        .get_greetings()
        .name("Zoë & Ada".parse::<types::Name>().unwrap())
        .language(types::Language::Fr)
        .send()
        .await
        .expect("GET /greetings")
        .into_inner();
    assert_eq!(by_query.message.as_str(), "Bonjour, Zoë & Ada!");
    checks += 1;

    // The typed client cannot send an invalid body, so send one with the client's own HTTP
    // client and decode the answer into the generated error types.
    let response = client
        .client()
        .post(format!("{}/greetings", client.baseurl()))
        .json(&serde_json::json!({"name": 42, "language": "xx"}))
        .send()
        .await
        .expect("POST /greetings");
    assert_eq!(response.status().as_u16(), 422);
    let error: types::PostGreetingError = response.json().await.expect("a PostGreetingError");
    let types::PostGreetingError::HttpValidationError(error) = error else {
        panic!("a 422 decoded as {error:?}");
    };
    let kinds: Vec<&str> = error.detail.iter().map(|e| e.type_.as_str()).collect();
    assert_eq!(kinds, ["string_type", "enum"]);
    checks += 1;

    let health = client
        .get_health()
        .send()
        .await
        .expect("GET /healthz")
        .into_inner();
    assert_eq!(health.status, types::HealthStatus::Ok);
    checks += 1;

    let readiness = client
        .get_readiness()
        .send()
        .await
        .expect("GET /readyz")
        .into_inner();
    assert_eq!(readiness.status, types::ReadinessStatus::Ready);
    checks += 1;

    println!("rust client: {checks} checks passed");
}
