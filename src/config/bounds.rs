//! The range of every numeric setting, in one table ([`BOUNDS`]): the parsers read it, each
//! flag's `--help` states it, and the README's table of settings repeats it (tests check both
//! against this table). No value inside a range can start a server that cannot serve: the
//! durations end at an hour (a larger one overflowed actix-http's clock and failed every
//! connection), the sizes where the parser can still answer.

use std::time::Duration;

use std::num::{NonZeroU32, NonZeroUsize};

use bytesize::ByteSize;

/// What kind of number a setting takes, and so how its bounds read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number.
    Count,
    /// A size in bytes, in bytesize's notation (`64KiB`, `512`).
    Size,
    /// A human duration (`250ms`, `1h`).
    Duration,
    /// A rate, `N/s` or `N/min`: the bounds are N's.
    Rate,
}

/// The smallest and largest values one setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The flag, e.g. `--workers`.
    pub flag: &'static str,
    /// How the bounds read.
    pub kind: Kind,
    /// The smallest value accepted, as written in `--help` and the README.
    pub min: &'static str,
    /// The largest value accepted, likewise.
    pub max: &'static str,
}

const fn bound(flag: &'static str, kind: Kind, min: &'static str, max: &'static str) -> Bound {
    Bound {
        flag,
        kind,
        min,
        max,
    }
}

/// Every numeric setting's range. `--max-uri-length` stops at 32KiB: actix-http cannot parse a
/// request target of 65,534 bytes or more (it answers a bare `400` before greeter sees it), so a
/// larger limit could not be told by a `414`.
pub const BOUNDS: &[Bound] = &[
    bound("--port", Kind::Count, "0", "65535"),
    bound("--workers", Kind::Count, "1", "512"),
    bound("--backlog", Kind::Count, "1", "65535"),
    bound("--max-body", Kind::Size, "1", "1GiB"),
    bound("--max-header-size", Kind::Size, "1KiB", "96KiB"),
    bound("--max-uri-length", Kind::Size, "256", "32KiB"),
    bound("--head-timeout", Kind::Duration, "1ms", "1h"),
    bound("--keep-alive", Kind::Duration, "0s", "1h"),
    bound("--max-connections", Kind::Count, "1", "1000000"),
    bound("--shutdown-timeout", Kind::Duration, "0s", "1h"),
    bound("--drain-delay", Kind::Duration, "0s", "1h"),
    bound("--io-delay", Kind::Duration, "0s", "1h"),
    bound("--rate-limit", Kind::Rate, "1", "1000000"),
    bound("--rate-limit-burst", Kind::Count, "1", "1000000"),
    bound("--upstream-timeout", Kind::Duration, "1ms", "1h"),
    bound("--upstream-max-body", Kind::Size, "1", "1GiB"),
    bound("--upstream-max-connections", Kind::Count, "1", "65535"),
    bound("--upstream-body-budget", Kind::Size, "1KiB", "64GiB"),
    bound("healthcheck --port", Kind::Count, "1", "65535"),
    bound("healthcheck --timeout", Kind::Duration, "1ms", "1h"),
];

/// The bounds of `flag`.
///
/// # Panics
/// When `flag` is not in [`BOUNDS`]: a parser names a flag the table lacks (a unit test parses
/// every entry, so this cannot ship).
pub fn of(flag: &str) -> &'static Bound {
    BOUNDS
        .iter()
        .find(|bound| bound.flag == flag)
        .unwrap_or_else(|| panic!("{flag} is not in the table of bounds"))
}

impl Bound {
    fn out_of_range(&self) -> String {
        format!("must be from {} to {}", self.min, self.max)
    }

    fn count_range(&self) -> (u64, u64) {
        let parse = |text: &str| text.parse::<u64>().expect("a whole number in the table");
        (parse(self.min), parse(self.max))
    }

    fn size_range(&self) -> (u64, u64) {
        let parse = |text: &str| {
            text.parse::<ByteSize>()
                .expect("a size in the table")
                .as_u64()
        };
        (parse(self.min), parse(self.max))
    }

    fn duration_range(&self) -> (Duration, Duration) {
        let parse = |text: &str| humantime::parse_duration(text).expect("a duration in the table");
        (parse(self.min), parse(self.max))
    }

    /// The largest whole number a count's bounds take.
    ///
    /// # Panics
    /// When the bound is not a count's (a unit test checks every use).
    pub fn largest(&self) -> u64 {
        self.count_range().1
    }

    /// A whole number within the bounds.
    pub fn count(&self, input: &str) -> Result<u64, String> {
        let (min, max) = self.count_range();
        match input.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(self.out_of_range()),
            Err(_) => Err(format!(
                "{input:?} is not a whole number ({})",
                self.out_of_range()
            )),
        }
    }

    /// A size within the bounds.
    pub fn size(&self, input: &str) -> Result<ByteSize, String> {
        let (min, max) = self.size_range();
        let size: ByteSize = input.parse()?;
        if !(min..=max).contains(&size.as_u64()) {
            return Err(self.out_of_range());
        }
        Ok(size)
    }

    /// A duration within the bounds.
    pub fn duration(&self, input: &str) -> Result<humantime::Duration, String> {
        let (min, max) = self.duration_range();
        let duration: humantime::Duration = input.parse().map_err(|e| format!("{e}"))?;
        if !(min..=max).contains(&Duration::from(duration)) {
            return Err(self.out_of_range());
        }
        Ok(duration)
    }

    /// Values just inside and just outside the bounds, as a user would write them:
    /// `(accepted, refused)`.
    pub fn edges(&self) -> (Vec<String>, Vec<String>) {
        let (inside, outside): (Vec<String>, Vec<String>) = match self.kind {
            Kind::Count | Kind::Rate => {
                let (min, max) = self.count_range();
                (
                    vec![min.to_string(), max.to_string()],
                    [min.checked_sub(1), max.checked_add(1)]
                        .into_iter()
                        .flatten()
                        .map(|n| n.to_string())
                        .collect(),
                )
            }
            Kind::Size => {
                let (min, max) = self.size_range();
                (
                    vec![self.min.to_owned(), self.max.to_owned()],
                    [min.checked_sub(1), Some(max + 1)]
                        .into_iter()
                        .flatten()
                        .map(|n| n.to_string())
                        .collect(),
                )
            }
            Kind::Duration => {
                let (min, max) = self.duration_range();
                let below = min
                    .checked_sub(Duration::from_micros(1))
                    .map(|d| humantime::format_duration(d).to_string());
                let above = humantime::format_duration(max + Duration::from_millis(1)).to_string();
                (
                    vec![self.min.to_owned(), self.max.to_owned()],
                    below.into_iter().chain([above]).collect(),
                )
            }
        };
        let rate = |n: String| format!("{n}/s");
        match self.kind {
            Kind::Rate => (
                inside.into_iter().map(rate).collect(),
                outside.into_iter().map(rate).collect(),
            ),
            _ => (inside, outside),
        }
    }
}

/// A port: 0 to 65535.
pub fn parse_port(input: &str) -> Result<u16, String> {
    of("--port")
        .count(input)
        .map(|n| u16::try_from(n).unwrap_or(u16::MAX))
}

/// `n`, which a bound of 1 or more has checked, as a `NonZeroUsize`.
pub fn non_zero(n: u64) -> NonZeroUsize {
    NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)).unwrap_or(NonZeroUsize::MIN)
}

/// `n`, which a bound of 1 to 1000000 has checked, as a `NonZeroU32`.
pub fn non_zero_u32(n: u64) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
}
