//! Free functions exported to Kotlin and Swift (uniffi) that have no better
//! home on an object.
//!
//! They serve the sans-I/O path (`docs/design.md#samples`, app-supplied
//! samples): an app that measures with its own HTTP stack (OkHttp,
//! URLSession) timestamps the request on mxclock's boot clock
//! ([`os_time_source`]) and turns what it saw into a [`Sample`] with the same
//! interval arithmetic the Rust transport uses. Rust callers use
//! [`Sample::from_endpoint`] and friends directly; these wrappers only
//! translate.

use std::sync::Arc;

use crate::error::Result;
use crate::sample::Sample;
use crate::time::{OsTimeSource, TimeSource};

/// The version of the native library, e.g. `"0.1.0"`.
///
/// The Kotlin bindings are generated without uniffi's per-function
/// checksums (see `uniffi.toml`), so this is how an app can log which
/// native build it actually loaded next to its own bindings version.
///
/// ```
/// assert_eq!(mxclock::version(), env!("CARGO_PKG_VERSION"));
/// ```
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The operating system's clocks, as mxclock reads them by default
/// (Linux/Android `CLOCK_BOOTTIME`, Apple `CLOCK_MONOTONIC`, the boot id).
///
/// Apps that measure samples themselves must take `sent_boot_ms` and
/// `received_boot_ms` from this clock (or from the `TimeSource` they gave the
/// clock), not from a clock that stops during sleep such as Java's
/// `System.nanoTime()` on Android.
///
/// ```
/// let os = mxclock::os_time_source();
/// assert!(os.boot_ms() <= os.boot_ms());
/// ```
#[uniffi::export]
pub fn os_time_source() -> Arc<dyn TimeSource> {
    OsTimeSource::shared()
}

/// A reply of the MSC4094 endpoint measured by the app: the request left at
/// boot time `sent_boot_ms`, the reply arrived at `received_boot_ms`, and its
/// body said `server_ms`. See [`Sample::from_endpoint`].
///
/// ```
/// let s = mxclock::sample_from_endpoint(1_000, 1_080, 1_700_000_000_040).unwrap();
/// assert!(s.lo_ms <= 1_700_000_000_040 - 1_040 && 1_700_000_000_040 - 1_040 <= s.hi_ms);
/// assert!(mxclock::sample_from_endpoint(1_000, 1_080, 0).is_err()); // 1970
/// ```
#[uniffi::export]
pub fn sample_from_endpoint(
    sent_boot_ms: i64,
    received_boot_ms: i64,
    server_ms: i64,
) -> Result<Sample> {
    Sample::from_endpoint(sent_boot_ms, received_boot_ms, server_ms)
}

/// The HTTP `Date` header of any reply, measured by the app: `date_unix_s`
/// is the header as Unix seconds, `age_s` the `Age` header if a cache
/// answered. See [`Sample::from_date_header`].
///
/// ```
/// let s = mxclock::sample_from_date_header(0, 40, 1_700_000_000, None).unwrap();
/// assert_eq!(s.hi_ms - s.lo_ms, 1_000 + 40 + 1);
/// ```
#[uniffi::export]
pub fn sample_from_date_header(
    sent_boot_ms: i64,
    received_boot_ms: i64,
    date_unix_s: i64,
    age_s: Option<i64>,
) -> Result<Sample> {
    Sample::from_date_header(sent_boot_ms, received_boot_ms, date_unix_s, age_s)
}

/// An event's `origin_server_ts + unsigned.age`, received at
/// `received_boot_ms` in a response that spent at most `max_transit_ms` in
/// flight. Weak evidence; see [`Sample::from_event_age`].
///
/// ```
/// let s = mxclock::sample_from_event_age(1_700_000_000_000, 1_500, 9_000, 10_000).unwrap();
/// assert_eq!(s.hi_ms - s.lo_ms, 10_000 + 1);
/// ```
#[uniffi::export]
pub fn sample_from_event_age(
    origin_server_ts: i64,
    age_ms: i64,
    received_boot_ms: i64,
    max_transit_ms: i64,
) -> Result<Sample> {
    Sample::from_event_age(origin_server_ts, age_ms, received_boot_ms, max_transit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn wrappers_match_the_rust_constructors() {
        let t = 1_750_000_000_123;
        assert_eq!(
            sample_from_endpoint(5, 9, t),
            Sample::from_endpoint(5, 9, t)
        );
        assert_eq!(
            sample_from_date_header(5, 9, t / 1000, Some(2)),
            Sample::from_date_header(5, 9, t / 1000, Some(2))
        );
        assert_eq!(
            sample_from_event_age(t, 10, 9, 500),
            Sample::from_event_age(t, 10, 9, 500)
        );
        assert!(matches!(
            sample_from_endpoint(9, 5, t),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn os_time_source_is_the_os_clock() {
        let os = os_time_source();
        assert_eq!(os.boot_id(), OsTimeSource::new().boot_id());
        assert!(os.wall_ms() > 1_500_000_000_000);
    }
}
