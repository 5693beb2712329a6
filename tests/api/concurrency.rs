use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::helpers::spawn_app_with_delay;

/// The original example's promise: waiting requests wait together. 1,000 requests that each
/// wait 1 s finish in about 1 s on 2 workers; served one at a time they would take 1,000 s,
/// and a thread per request 2 workers could not give. The bound is generous for a busy machine.
#[actix_web::test]
async fn a_thousand_waiting_requests_finish_together() {
    let app = spawn_app_with_delay(Duration::from_secs(1));

    let started = Instant::now();
    let replies = join_all((0..1000).map(|_| app.get("/"))).await;
    let elapsed = started.elapsed();

    for reply in &replies {
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), r#"{"Hello":"World"}"#);
    }
    assert!(
        elapsed >= Duration::from_secs(1),
        "answered before the wait: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "1,000 concurrent requests took {elapsed:?}"
    );
}
