//! Every connection holds a file descriptor, and the soft limit on open files is often 1,024:
//! far fewer than `--max-connections` allows. At start the soft limit is raised to what the
//! settings need, as far as the hard limit allows. When that falls short, the default number of
//! connections per worker is fitted to the limit (the start-up line says so; the arithmetic is
//! logged at debug level); a warning is only for a value the user chose that cannot be honoured.

use crate::config::ServeSettings;

/// Descriptors besides connections: listeners, event loops and their wakers, stdio, the log.
pub const SPARE_DESCRIPTORS: u64 = 64;

/// The open files `settings` can use: every worker at `--max-connections` and at each
/// upstream's most connections (its `max_connections`, or `--upstream-max-connections`), and
/// the spares.
pub fn needed(settings: &ServeSettings) -> u64 {
    let workers = settings.workers.get() as u64;
    let clients = workers.saturating_mul(settings.max_connections().get() as u64);
    let per_worker: u64 = settings
        .upstreams
        .iter()
        .map(|upstream| settings.max_connections_of(upstream).get() as u64)
        .fold(0, u64::saturating_add);
    let upstream = workers.saturating_mul(per_worker);
    clients
        .saturating_add(upstream)
        .saturating_add(SPARE_DESCRIPTORS)
}

/// Raises the soft limit on open files towards [`needed`] (never lowers it); returns the
/// limit now in force. When it is below what the settings need: with `--max-connections`
/// unset, fits the connections per worker to the limit (and notes the limit in the settings);
/// otherwise
/// warns that the values chosen cannot be honoured.
pub fn raise_limit(settings: &mut ServeSettings) -> std::io::Result<u64> {
    let wanted = needed(settings);
    let limit = rlimit::increase_nofile_limit(wanted)?;
    if limit >= wanted {
        return Ok(limit);
    }
    let workers = settings.workers.get() as u64;
    let upstream = needed(&ServeSettings {
        max_connections: Some(std::num::NonZeroUsize::MIN),
        ..settings.clone()
    })
    .saturating_sub(workers); // what upstreams and spares need, without clients
    let fitted = limit.saturating_sub(upstream) / workers;
    match (
        settings.max_connections,
        usize::try_from(fitted)
            .ok()
            .and_then(std::num::NonZeroUsize::new),
    ) {
        (None, Some(fitted)) => {
            log::debug!(
                "open files are limited to {limit}: serving up to {fitted} connections per \
                 worker, fitted to it: ({limit} - {SPARE_DESCRIPTORS} spare - {} workers x {} \
                 upstreams x {} --upstream-max-connections) / {} workers (set --max-connections \
                 to choose)",
                settings.workers,
                settings.upstreams.len(),
                settings.upstream_max_connections,
                settings.workers,
            );
            settings.max_connections = Some(fitted);
            settings.fitted_to_open_files = Some(limit);
        }
        _ => log::warn!(
            "open files are limited to {limit} (the hard limit), below the {wanted} that \
             {} workers x --max-connections {} (and {} upstreams x --upstream-max-connections {}) \
             need: clients past it wait until others close, upstream calls past it fail as connect",
            settings.workers,
            settings.max_connections(),
            settings.upstreams.len(),
            settings.upstream_max_connections,
        ),
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    #[test]
    fn every_worker_may_fill_its_connections() {
        let settings = ServeSettings {
            workers: NonZeroUsize::new(3).unwrap(),
            max_connections: NonZeroUsize::new(1000),
            ..ServeSettings::default()
        };
        assert_eq!(needed(&settings), 3000 + SPARE_DESCRIPTORS);
    }

    #[test]
    fn upstream_connections_count_too() {
        let settings = ServeSettings {
            workers: NonZeroUsize::new(2).unwrap(),
            max_connections: NonZeroUsize::new(1000),
            upstreams: vec![
                crate::config::Upstream::parse("a=http://127.0.0.1:1/").unwrap(),
                crate::config::Upstream::parse("b=http://127.0.0.1:2/").unwrap(),
            ],
            upstream_max_connections: NonZeroUsize::new(10).unwrap(),
            ..ServeSettings::default()
        };
        assert_eq!(needed(&settings), 2000 + 2 * 2 * 10 + SPARE_DESCRIPTORS);
    }
}
