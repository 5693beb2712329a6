use actix_web::{HttpResponse, HttpServer, web};
use awc::http::Method;
use greeter::api::errors::ApiError;
use greeter::config::ServeSettings;
use greeter::lifecycle::serving::ServingState;
use greeter::startup::{self, AppState};
use serde_json::json;

use crate::helpers::{TestApp, client, free_port_listener, raw_http, spawn_app};

#[actix_web::test]
async fn unknown_paths_answer_404_json() {
    let app = spawn_app();

    for path in [
        "/nope",
        "/healthz/extra",
        "/Hello",
        "/openapi.yaml",
        "/docs/nope.js",
        "/%FF",
    ] {
        let reply = app.get(path).await;

        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(reply.json(), json!({"detail": "Not Found"}), "{path}");
    }
}

#[actix_web::test]
async fn wrong_methods_answer_405_json_with_allow() {
    let app = spawn_app();

    for path in [
        "/",
        "/healthz",
        "/hello/Ada",
        "/openapi.json",
        "/openapi-3.0.json",
        "/docs",
        "/docs/",
    ] {
        for method in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            let reply = app.request(method.clone(), path).await;

            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(reply.json(), json!({"detail": "Method Not Allowed"}));
        }
    }
}

#[actix_web::test]
async fn head_on_an_unknown_path_answers_404_without_body() {
    let app = spawn_app();

    let answer = raw_http(
        app.socket_address(),
        "HEAD /nope HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;

    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body, "");
}

/// A route that fails the way handler code can: an actix-web error carrying a plain-text cause.
async fn failing_with_plain_text() -> actix_web::Result<HttpResponse> {
    Err(actix_web::error::ErrorInternalServerError(
        "db password is hunter2",
    ))
}

/// A route that fails with the service's own error type.
async fn failing_with_api_error() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Internal("db password is hunter2".into()))
}

/// A route whose handler panics.
async fn panicking() -> HttpResponse {
    panic!("the handler fell over")
}

/// A middleware that fails instead of answering: an `Err` that reaches the per-request layer.
async fn failing_middleware(
    _: actix_web::dev::ServiceRequest,
    _: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse, actix_web::Error> {
    Err(actix_web::error::ErrorBadGateway(
        "upstream password is hunter2",
    ))
}

/// The real app with failing routes added, on a real socket, with one worker.
fn spawn_app_with_failing_routes() -> TestApp {
    spawn_app_with_failing_routes_serving(ServingState::new())
}

/// The same, serving or draining as `serving` says.
fn spawn_app_with_failing_routes_serving(serving: ServingState) -> TestApp {
    spawn_failing_app(&ServeSettings::default(), serving)
}

/// The real app with failing routes, with `settings`, serving or draining as `serving` says.
fn spawn_failing_app(settings: &ServeSettings, serving: ServingState) -> TestApp {
    let state = AppState::new(settings).unwrap().with_serving(serving);
    let listener = free_port_listener();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        startup::app_with(state.clone(), |config| {
            config
                .route("/fail/plain", web::get().to(failing_with_plain_text))
                .route("/fail/api", web::get().to(failing_with_api_error))
                .route("/fail/panic", web::get().to(panicking))
                .service(
                    web::scope("/fail/middleware")
                        .wrap(actix_web::middleware::from_fn(failing_middleware))
                        .route("", web::get().to(HttpResponse::Ok)),
                );
        })
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    TestApp {
        address,
        client: client(),
    }
}

/// While the server drains, every answer closes its connection: a handler's, a refusal, a
/// panic's and a failing middleware's alike.
#[actix_web::test]
async fn while_draining_every_answer_closes_its_connection() {
    let serving = ServingState::new();
    let app = spawn_app_with_failing_routes_serving(serving.clone());
    assert_eq!(app.get("/").await.header("connection"), None);

    serving.begin_draining();
    for (path, status) in [
        ("/", 200),
        ("/nowhere", 404),
        ("/fail/panic", 500),
        ("/fail/middleware", 502),
        ("/fail/api", 500),
    ] {
        let answer = raw_http(
            app.socket_address(),
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {answer}"
        );
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{path}: {answer}"
        );
    }
}

/// With CORS on, a 500 (a panic's, a failing middleware's) carries the CORS headers too.
#[actix_web::test]
async fn server_errors_carry_the_cors_headers() {
    let settings = ServeSettings {
        cors_allow_origins: vec!["http://app.test".to_owned()],
        ..ServeSettings::default()
    };
    let app = spawn_failing_app(&settings, ServingState::new());
    for path in ["/fail/panic", "/fail/api", "/fail/middleware"] {
        let answer = raw_http(
            app.socket_address(),
            &format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nOrigin: http://app.test\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 5"), "{path}: {answer}");
        assert!(
            answer.contains("\r\naccess-control-allow-origin: http://app.test\r\n"),
            "{path}: {answer}"
        );
    }
}

#[actix_web::test]
async fn a_panicking_handler_answers_500_json_and_the_worker_keeps_serving() {
    let app = spawn_app_with_failing_routes();

    for _ in 0..3 {
        let reply = app.get("/fail/panic").await;

        assert_eq!(reply.status, 500);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json(), json!({"detail": "Internal Server Error"}));
        assert!(reply.header("x-request-id").is_some());
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        // The same (only) worker still serves.
        assert_eq!(app.get("/healthz").await.status, 200);
    }
}

#[actix_web::test]
async fn handler_failures_answer_500_json_without_their_cause() {
    let app = spawn_app_with_failing_routes();

    for path in ["/fail/plain", "/fail/api"] {
        let reply = app.get(path).await;

        assert_eq!(reply.status, 500, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(
            reply.json(),
            json!({"detail": "Internal Server Error"}),
            "{path}"
        );
        assert!(!reply.text().contains("hunter2"), "{path} leaked its cause");
    }
}

#[actix_web::test]
async fn a_middleware_error_is_answered_like_any_other_error() {
    let app = spawn_app_with_failing_routes();

    let reply = app.get("/fail/middleware").await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"detail": "Bad Gateway"}));
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert!(!reply.text().contains("hunter2"));
}
