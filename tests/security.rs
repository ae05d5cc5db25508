//! Security and robustness checks of issue 9 (DESIGN.md section 9).

use std::sync::Arc;

use mxclock::{ClockConfig, Error, FakeTimeSource, Sample, SampleSource, ServerClock};

const T: i64 = 1_750_000_000_000;

/// Boot times come from apps (sans-I/O calls, foreign time sources, the C
/// ABI): extreme ones give a typed error, never an overflow panic.
#[test]
fn extreme_boot_times_give_typed_errors() {
    let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let time = Arc::new(FakeTimeSource::new(1_000, T, "b"));
    let clock = ServerClock::with_sources(ClockConfig::new(""), Some(time), None).unwrap();
    for &a in &extremes {
        for &b in &extremes {
            for server in [T, T / 1000] {
                let results = [
                    Sample::from_endpoint(a, b, server).map(|_| ()),
                    Sample::from_date_header(a, b, server, None).map(|_| ()),
                    Sample::from_date_header(a, b, server, Some(5)).map(|_| ()),
                    Sample::from_event_age(server, 10, b, a.max(0)).map(|_| ()),
                    clock.add_endpoint_sample(a, b, server).map(|_| ()),
                    clock.add_date_sample(a, b, server, None).map(|_| ()),
                    clock.observe_event(server, 0, b).map(|_| ()),
                ];
                for r in results {
                    assert!(
                        matches!(
                            r,
                            Ok(())
                                | Err(Error::InvalidArgument(_))
                                | Err(Error::TimeOutOfRange(_))
                                | Err(Error::Inconsistent(_))
                        ),
                        "{a} {b} {server}: {r:?}"
                    );
                }
            }
            let raw = Sample {
                source: SampleSource::Endpoint,
                lo_ms: a,
                hi_ms: b,
                taken_boot_ms: b,
            };
            let _ = raw.validate();
            let _ = clock.add_sample(raw);
        }
    }
}
