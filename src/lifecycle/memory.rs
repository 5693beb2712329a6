//! Memory that start-up frees, returned to the system once serving. Start-up builds the OpenAPI
//! documents and each worker its routes (utoipa generates the whole document to register them),
//! about 2.5 MB of short-lived allocations. jemalloc (the binary's allocator) keeps such memory:
//! in each thread's cache of freed objects, and as freed pages it returns only at its next decay
//! tick, which an idle server never reaches. Idle RSS was 11.1 MB, and is 9.0 MB with this
//! (`make bench`'s footprint; docs/benchmarks.md).

use std::time::Duration;

/// How long after start-up the worker threads are done with what they build (a few
/// milliseconds; this is generous).
pub const START_UP_SETTLE: Duration = Duration::from_millis(200);

/// Waits [`START_UP_SETTLE`], then [`release_freed_memory`] on the calling thread. Spawn it on
/// each thread that built something at start: the main one and every worker.
pub async fn release_after_start_up() {
    actix_rt::time::sleep(START_UP_SETTLE).await;
    release_freed_memory();
}

/// Flushes this thread's cache of freed objects back to jemalloc's arena, then returns the
/// arena's freed pages to the system. Without jemalloc as the allocator (the tests) it does
/// nothing that matters: jemalloc's own state is empty.
pub fn release_freed_memory() {
    mallctl(b"thread.tcache.flush\0");
    // MALLCTL_ARENAS_ALL: every arena.
    mallctl(b"arena.4096.purge\0");
}

/// Runs the jemalloc control `name` (NUL-terminated), which takes and returns nothing.
fn mallctl(name: &[u8]) {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: `name` is NUL-terminated (checked above for every caller's literal), and these
    // controls take no old or new value, as the null pointers and zero length say; jemalloc's
    // controls are safe to call from any thread at any time.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        log::debug!(
            "jemalloc's {} failed (error {status})",
            String::from_utf8_lossy(&name[..name.len() - 1])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_is_safe_from_any_thread_at_any_time() {
        release_freed_memory();
        std::thread::spawn(release_freed_memory).join().unwrap();
        let kept: Vec<Vec<u8>> = (0..1000).map(|n| vec![0u8; n]).collect();
        release_freed_memory();
        assert_eq!(kept[999].len(), 999);
    }
}
