use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::helpers::spawn_app_with_delay;

/// The original example's promise: waiting requests wait together. 1,000 requests that each
/// wait 3 s finish in one wave of about 3 s on 2 workers; served in two waves or more (one at a
/// time, or a thread each from a pool) they would take 6 s or more.
#[actix_web::test]
async fn a_thousand_waiting_requests_finish_together() {
    let delay = Duration::from_secs(3);
    let app = spawn_app_with_delay(delay);

    let started = Instant::now();
    let replies = join_all((0..1000).map(|_| app.get("/"))).await;
    let elapsed = started.elapsed();

    for reply in &replies {
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), r#"{"Hello":"World"}"#);
    }
    assert!(elapsed >= delay, "answered before the wait: {elapsed:?}");
    assert!(
        elapsed < 2 * delay,
        "1,000 concurrent requests took {elapsed:?}: not one wave"
    );
}
