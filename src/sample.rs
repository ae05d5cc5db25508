//! One observation of the server clock, as an interval for θ = server − boot.
//!
//! Every observation bounds θ by `[lo, hi]` and, given positive one-way
//! delays, the truth is inside it whatever the asymmetry of the path. Boot-clock readings are whole milliseconds truncated from a finer
//! clock, so each bound is widened by 1 ms to stay honest.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Earliest server time we believe: 2000-01-01T00:00:00Z.
pub const MIN_SANE_SERVER_MS: i64 = 946_684_800_000;
/// Latest server time we believe: 2200-01-01T00:00:00Z.
pub const MAX_SANE_SERVER_MS: i64 = 7_258_118_400_000;
/// Resolution of the MSC4094 endpoint's time (whole ms, truncated).
pub(crate) const ENDPOINT_RESOLUTION_MS: i64 = 1;
/// Resolution of the local boot clock readings (whole ms, truncated).
pub(crate) const BOOT_RESOLUTION_MS: i64 = 1;
/// An `Age` header larger than this (one day) is not believed.
pub(crate) const MAX_AGE_HEADER_S: i64 = 86_400;

/// Where a sample came from, best first.
///
/// `#[repr(C)]`: this enum is also the C API's `mxclock_sample_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(C)]
pub enum SampleSource {
    /// MSC4094 `GET /_matrix/client/v3/get_server_now`.
    Endpoint = 0,
    /// The HTTP `Date` header of any response (1 s resolution).
    DateHeader = 1,
    /// `origin_server_ts + unsigned.age` of an event (weak).
    EventAge = 2,
}

impl SampleSource {
    /// The name used in JSON and by the CLI: `endpoint`, `date_header`, `event_age`.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleSource::Endpoint => "endpoint",
            SampleSource::DateHeader => "date_header",
            SampleSource::EventAge => "event_age",
        }
    }
}

/// θ = server − boot lies in `[lo_ms, hi_ms]` as of boot time `taken_boot_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Sample {
    /// What was observed.
    pub source: SampleSource,
    /// Lower bound of θ (server ms − boot ms).
    pub lo_ms: i64,
    /// Upper bound of θ (server ms − boot ms).
    pub hi_ms: i64,
    /// Boot-clock time at which the observation completed (reply received).
    pub taken_boot_ms: i64,
}

fn check_server_ms(what: &str, server_ms: i64) -> Result<()> {
    if !(MIN_SANE_SERVER_MS..=MAX_SANE_SERVER_MS).contains(&server_ms) {
        return Err(Error::TimeOutOfRange(format!(
            "{what} {server_ms} ms is not between the years 2000 and 2200; \
             the server's clock or reply is broken"
        )));
    }
    Ok(())
}

/// `a + b + c` or an error: boot times come from apps and foreign time
/// sources, and extreme ones must not overflow (a panic in debug builds, a
/// wrapped, nonsensical interval in release builds).
fn sum3(a: i64, b: i64, c: i64) -> Result<i64> {
    a.checked_add(b)
        .and_then(|v| v.checked_add(c))
        .ok_or_else(|| {
            Error::InvalidArgument(
                "boot time out of range: server time minus boot time overflows".into(),
            )
        })
}

fn neg(boot_ms: i64) -> Result<i64> {
    boot_ms
        .checked_neg()
        .ok_or_else(|| Error::InvalidArgument(format!("boot time {boot_ms} ms is out of range")))
}

fn check_round_trip(sent_boot_ms: i64, received_boot_ms: i64) -> Result<()> {
    if received_boot_ms < sent_boot_ms {
        return Err(Error::InvalidArgument(format!(
            "reply received at boot {received_boot_ms} ms before the request was sent at \
             {sent_boot_ms} ms; both times must come from the same boot clock"
        )));
    }
    Ok(())
}

impl Sample {
    /// A reply of the MSC4094 endpoint: the request left at boot time
    /// `sent_boot_ms`, the reply arrived at `received_boot_ms`, and its body
    /// said `server_ms`.
    ///
    /// θ is in `[T − B3, T − B0 + res]`, widened by the boot clock's
    /// resolution.
    ///
    /// ```
    /// use mxclock::Sample;
    /// let s = Sample::from_endpoint(1_000, 1_080, 1_700_000_000_040).unwrap();
    /// assert!(s.lo_ms <= 1_700_000_000_040 - 1_040 && 1_700_000_000_040 - 1_040 <= s.hi_ms);
    /// assert!(s.hi_ms - s.lo_ms <= 80 + 3);
    /// ```
    pub fn from_endpoint(
        sent_boot_ms: i64,
        received_boot_ms: i64,
        server_ms: i64,
    ) -> Result<Sample> {
        check_round_trip(sent_boot_ms, received_boot_ms)?;
        check_server_ms("server time", server_ms)?;
        Ok(Sample {
            source: SampleSource::Endpoint,
            lo_ms: sum3(server_ms, neg(received_boot_ms)?, -BOOT_RESOLUTION_MS)?,
            hi_ms: sum3(server_ms, neg(sent_boot_ms)?, ENDPOINT_RESOLUTION_MS)?,
            taken_boot_ms: received_boot_ms,
        })
    }

    /// An HTTP `Date` header (`date_unix_s`, whole seconds, the floor of the
    /// server's time) of a reply to a request sent at `sent_boot_ms` and
    /// received at `received_boot_ms`. `age_s` is the `Age` header, if there
    /// was one: a cache answered, and the response was made between `age_s`
    /// and `age_s + 1` seconds before it was sent (`Age` counts whole
    /// seconds, so even `Age: 0` means up to a second old).
    ///
    /// ```
    /// use mxclock::Sample;
    /// let s = Sample::from_date_header(0, 40, 1_700_000_000, None).unwrap();
    /// assert_eq!(s.hi_ms - s.lo_ms, 1_000 + 40 + 1);
    /// // `Age: 0`: up to a second older, so a second wider at the top.
    /// let cached = Sample::from_date_header(0, 40, 1_700_000_000, Some(0)).unwrap();
    /// assert_eq!((cached.lo_ms, cached.hi_ms), (s.lo_ms, s.hi_ms + 1_000));
    /// ```
    pub fn from_date_header(
        sent_boot_ms: i64,
        received_boot_ms: i64,
        date_unix_s: i64,
        age_s: Option<i64>,
    ) -> Result<Sample> {
        check_round_trip(sent_boot_ms, received_boot_ms)?;
        let date_ms = date_unix_s.checked_mul(1000).ok_or_else(|| {
            Error::TimeOutOfRange(format!("Date header {date_unix_s} s overflows"))
        })?;
        check_server_ms("Date header", date_ms)?;
        if let Some(age_s) = age_s {
            if !(0..=MAX_AGE_HEADER_S).contains(&age_s) {
                return Err(Error::ProtocolViolation(format!(
                    "Age header {age_s} s is outside 0..={MAX_AGE_HEADER_S}; a broken cache is in the path"
                )));
            }
        }
        // Made at server time [D, D+1s); served a real age in [A, A+1s) later
        // (A whole seconds, so any Age header, 0 included, adds up to A+1 s),
        // somewhere between sending and receiving.
        let (older_ms, newer_ms) = match age_s {
            Some(a) => (a * 1000, (a + 1) * 1000),
            None => (0, 0),
        };
        Ok(Sample {
            source: SampleSource::DateHeader,
            lo_ms: sum3(
                date_ms + older_ms,
                neg(received_boot_ms)?,
                -BOOT_RESOLUTION_MS,
            )?,
            hi_ms: sum3(date_ms + 1000, newer_ms, neg(sent_boot_ms)?)?,
            taken_boot_ms: received_boot_ms,
        })
    }

    /// An event's `origin_server_ts + unsigned.age`, which is the server's
    /// time when it built the response that carried the event, received at
    /// `received_boot_ms`. The response spent between 0 and `max_transit_ms`
    /// in flight. Weak: `age` is wrong over federation (synapse#8429), missing
    /// on Dendrite and fixed on old Conduit, which is why the estimator can
    /// outvote it.
    ///
    /// ```
    /// use mxclock::Sample;
    /// let s = Sample::from_event_age(1_700_000_000_000, 1_500, 9_000, 10_000).unwrap();
    /// assert_eq!(s.lo_ms, 1_700_000_001_500 - 9_000 - 1);
    /// ```
    pub fn from_event_age(
        origin_server_ts: i64,
        age_ms: i64,
        received_boot_ms: i64,
        max_transit_ms: i64,
    ) -> Result<Sample> {
        if age_ms < 0 {
            return Err(Error::InvalidArgument(format!(
                "unsigned.age {age_ms} ms is negative; the server's age is broken"
            )));
        }
        if max_transit_ms < 0 {
            return Err(Error::InvalidArgument(format!(
                "max_transit_ms {max_transit_ms} is negative"
            )));
        }
        let built_ms = origin_server_ts.checked_add(age_ms).ok_or_else(|| {
            Error::TimeOutOfRange("origin_server_ts + unsigned.age overflows".into())
        })?;
        check_server_ms("origin_server_ts + unsigned.age", built_ms)?;
        let lo = sum3(built_ms, neg(received_boot_ms)?, -BOOT_RESOLUTION_MS)?;
        Ok(Sample {
            source: SampleSource::EventAge,
            lo_ms: lo,
            hi_ms: sum3(lo, BOOT_RESOLUTION_MS, max_transit_ms)?,
            taken_boot_ms: received_boot_ms,
        })
    }

    /// Width of the interval in ms.
    pub fn width_ms(&self) -> i64 {
        self.hi_ms.saturating_sub(self.lo_ms)
    }

    /// Whether θ = `offset_ms` lies inside the interval.
    pub fn contains(&self, offset_ms: i64) -> bool {
        self.lo_ms <= offset_ms && offset_ms <= self.hi_ms
    }

    /// Checks the invariants a sample from outside (saved state, an app)
    /// must hold.
    pub fn validate(&self) -> Result<()> {
        if self.lo_ms > self.hi_ms {
            return Err(Error::InvalidArgument(format!(
                "sample interval is empty: lo {} ms > hi {} ms",
                self.lo_ms, self.hi_ms
            )));
        }
        // θ = server − boot; boot is ≥ 0 and far below the server's epoch
        // milliseconds, so θ itself must be a sane server time give or take
        // a century of uptime.
        const SLACK: i64 = 100 * 365 * 86_400_000;
        if self.lo_ms < (MIN_SANE_SERVER_MS - SLACK).saturating_sub(self.taken_boot_ms.max(0))
            || self.hi_ms > MAX_SANE_SERVER_MS + SLACK
        {
            return Err(Error::TimeOutOfRange(format!(
                "sample interval [{}, {}] ms is outside the sane window",
                self.lo_ms, self.hi_ms
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_750_000_000_123;

    #[test]
    fn endpoint_interval_contains_truth_for_any_asymmetry() {
        // True θ = T − 5_000 (server is at T when boot is 5_000). Request sent
        // at boot 5_000 − up, reply received at 5_000 + down.
        for (up, down) in [(0, 0), (1, 99), (99, 1), (50, 50), (500, 3)] {
            let s = Sample::from_endpoint(5_000 - up, 5_000 + down, T).unwrap();
            assert!(s.contains(T - 5_000), "{up}/{down}: {s:?}");
            assert_eq!(s.width_ms(), up + down + 2);
        }
    }

    #[test]
    fn date_interval_contains_truth_within_the_second() {
        for sub_ms in [0, 1, 500, 999] {
            let server_now = T - T % 1000 + sub_ms;
            let s = Sample::from_date_header(4_990, 5_010, server_now / 1000, None).unwrap();
            // Reply generated at boot 5_000 ⇒ θ = server_now − 5_000.
            assert!(s.contains(server_now - 5_000), "{sub_ms}: {s:?}");
        }
    }

    #[test]
    fn date_with_age_header_widens_and_shifts() {
        let made = T - T % 1000 + 300;
        // Cached 7.4 s ago, served at boot 10_000 when the server reads made+7_400.
        let s = Sample::from_date_header(9_990, 10_010, made / 1000, Some(7)).unwrap();
        assert!(s.contains(made + 7_400 - 10_000), "{s:?}");
        assert!(Sample::from_date_header(0, 1, T / 1000, Some(-1)).is_err());
        assert!(Sample::from_date_header(0, 1, T / 1000, Some(10 * MAX_AGE_HEADER_S)).is_err());
    }

    #[test]
    fn event_age_interval() {
        let s = Sample::from_event_age(T - 2_000, 2_000, 7_000, 500).unwrap();
        assert!(s.contains(T - 7_000));
        assert!(s.contains(T - 7_000 + 500));
        assert!(!s.contains(T - 7_000 + 502));
        assert!(Sample::from_event_age(T, -5, 0, 500).is_err());
        assert!(Sample::from_event_age(i64::MAX, 1, 0, 500).is_err());
    }

    #[test]
    fn insane_times_and_reversed_round_trips_are_rejected() {
        assert!(matches!(
            Sample::from_endpoint(0, 10, 0),
            Err(Error::TimeOutOfRange(_))
        ));
        assert!(matches!(
            Sample::from_endpoint(0, 10, -1_000_000),
            Err(Error::TimeOutOfRange(_))
        ));
        assert!(matches!(
            Sample::from_endpoint(0, 10, MAX_SANE_SERVER_MS + 1),
            Err(Error::TimeOutOfRange(_))
        ));
        assert!(matches!(
            Sample::from_endpoint(10, 9, T),
            Err(Error::InvalidArgument(_))
        ));
        assert!(Sample::from_date_header(0, 1, i64::MAX, None).is_err());
        assert!(Sample::from_date_header(0, 1, -2_208_988_800, None).is_err()); // 1900
    }

    #[test]
    fn validate_rejects_empty_and_absurd_intervals() {
        let good = Sample::from_endpoint(0, 10, T).unwrap();
        assert!(good.validate().is_ok());
        let empty = Sample {
            lo_ms: 5,
            hi_ms: 4,
            ..good
        };
        assert!(empty.validate().is_err());
        let absurd = Sample {
            lo_ms: i64::MIN,
            ..good
        };
        assert!(absurd.validate().is_err());
    }
}
