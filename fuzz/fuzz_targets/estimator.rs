//! The estimator fed arbitrary samples: raw intervals and samples built by
//! the public constructors from arbitrary times. `select` gives a selection
//! whose invariants hold, or a typed error; a clock fed the same samples one
//! by one never panics and its estimate matches a selection.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mxclock::__internal::select;
use mxclock::{ClockConfig, Error, FakeTimeSource, Sample, SampleSource, ServerClock};

/// Reads little-endian integers off the input; zeros when it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    /// Mostly realistic values near a base, sometimes anything.
    fn near(&mut self, base: i64) -> i64 {
        let [mode] = self.take::<1>();
        match mode % 4 {
            0 => self.i64(),
            _ => base.wrapping_add(i64::from(i32::from_le_bytes(self.take()))),
        }
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const T: i64 = 1_750_000_000_000;

fn next_sample(b: &mut Bytes) -> Option<Result<Sample, Error>> {
    let [kind] = b.take::<1>();
    let boot = b.near(1_000_000);
    Some(match kind % 5 {
        0 => Ok(Sample {
            source: [
                SampleSource::Endpoint,
                SampleSource::DateHeader,
                SampleSource::EventAge,
            ][usize::from(kind / 5 % 3)],
            lo_ms: b.near(T - 1_000_000),
            hi_ms: b.near(T - 1_000_000),
            taken_boot_ms: boot,
        }),
        1 | 2 => {
            let sent = b.near(boot);
            Sample::from_endpoint(sent, boot, b.near(T))
        }
        3 => {
            let sent = b.near(boot);
            let age = match b.take::<1>()[0] {
                0 => None,
                a => Some(i64::from(a) - 1),
            };
            Sample::from_date_header(sent, boot, b.near(T / 1000), age)
        }
        _ => Sample::from_event_age(b.near(T), b.near(0), boot, b.near(10_000)),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let drift_ppm = u32::from(u16::from_le_bytes(b.take()));
    let mut samples = Vec::new();
    while !b.is_empty() && samples.len() < 16 {
        match next_sample(&mut b) {
            Some(Ok(s)) => samples.push(s),
            Some(Err(
                Error::InvalidArgument(_) | Error::TimeOutOfRange(_) | Error::ProtocolViolation(_),
            )) => {}
            Some(Err(other)) => panic!("unexpected constructor error: {other:?}"),
            None => break,
        }
    }
    match select(&samples, drift_ppm) {
        Ok(sel) => {
            assert!(sel.lo_ms <= sel.hi_ms, "{sel:?}");
            assert!(!sel.survivors.is_empty(), "{sel:?}");
            assert!(
                sel.lo_ms <= sel.offset_ms() && sel.offset_ms() <= sel.hi_ms,
                "{sel:?}"
            );
            assert!(sel.half_width_ms() >= 0);
            assert_eq!(
                sel.survivors.len() + sel.falsetickers.len() + sel.dropped_by_step.len(),
                samples.len(),
                "{sel:?}"
            );
        }
        Err(Error::NotSynced) => assert!(samples.is_empty()),
        Err(Error::Inconsistent(_) | Error::InvalidArgument(_) | Error::TimeOutOfRange(_)) => {}
        Err(other) => panic!("unexpected select error: {other:?}"),
    }
    // The same samples through a clock (merge, trim, re-select).
    let time = Arc::new(FakeTimeSource::new(1_000_000, T, "fuzz"));
    let mut config = ClockConfig::new("");
    config.drift_ppm = drift_ppm.min(100_000);
    let clock = ServerClock::new_with_sources(config, Some(time.clone()), None).unwrap();
    for s in samples {
        match clock.add_sample(s) {
            Ok(e) => assert!(e.uncertainty_ms >= 0, "{e:?}"),
            Err(Error::Inconsistent(_) | Error::InvalidArgument(_) | Error::TimeOutOfRange(_)) => {}
            Err(other) => panic!("unexpected add_sample error: {other:?}"),
        }
        time.advance_ms(1_000);
    }
    let _ = clock.estimate();
    let _ = clock.export_state().unwrap();
});
