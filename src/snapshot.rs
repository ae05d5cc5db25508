//! A snapshot of the estimate for readers that must not cross the FFI on
//! every read, and a listener that tells them when to take a new one.
//!
//! A call through uniffi costs microseconds from Kotlin (BENCHMARKS.md,
//! "FFI cost"); a list row or an animation frame that wants server time
//! cannot pay that per read. Between two estimate changes, server time is
//! a pure function of the boot clock:
//!
//! ```text
//! server_now_ms  = boot_ms + boot_offset_ms
//! uncertainty_ms = ref_uncertainty_ms + ceil(uncertainty_growth_ppm × (boot_ms − ref_boot_ms) / 10⁶)
//! ```
//!
//! so a [`ClockSnapshot`] plus the app's own read of the boot clock gives
//! the same answers as [`ServerClock::estimate`] while the drift is not
//! learned; once it is, `estimate` follows the learned rate and the
//! snapshot (θ fixed, its uncertainty growing by that rate plus the learned
//! bound) still holds every value `estimate` allows. The hand-written companions
//! next to the generated bindings (`bindings/companion/`) hold one, refreshed
//! from a [`ClockListener`] that the clock calls after each estimate change.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::clock::ServerClock;
use crate::estimate::drift_widening_ms;

/// Everything needed to compute server time and its uncertainty from the
/// boot clock until the estimate next changes.
///
/// ```
/// use std::sync::Arc;
/// use mxclock::{ClockConfig, FakeTimeSource, ServerClock, TimeSource};
///
/// let time = Arc::new(FakeTimeSource::new(1_000, 1_700_000_000_000, "boot"));
/// let clock = ServerClock::new_with_sources(ClockConfig::new(""), Some(time.clone()), None)?;
/// assert!(clock.snapshot().is_none()); // not synced yet
/// clock.add_endpoint_sample(1_000, 1_060, 1_700_000_037_280)?;
///
/// let snapshot = clock.snapshot().unwrap();
/// time.advance_ms(3_600_000); // an hour later, no FFI call needed:
/// let e = clock.estimate().unwrap();
/// assert_eq!(snapshot.server_now_ms(time.boot_ms()), e.server_now_ms);
/// assert_eq!(snapshot.uncertainty_ms(time.boot_ms()), e.uncertainty_ms);
/// # Ok::<(), mxclock::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ClockSnapshot {
    /// Server minus boot clock (θ): server time is `boot_ms + boot_offset_ms`
    /// on the boot clock of the clock's `TimeSource`.
    pub boot_offset_ms: i64,
    /// The uncertainty at boot time `ref_boot_ms`.
    pub ref_uncertainty_ms: i64,
    /// Boot time at which the uncertainty is `ref_uncertainty_ms` (the
    /// newest sample's); it grows from there.
    pub ref_boot_ms: i64,
    /// Growth of the uncertainty in ms per 10⁶ ms of boot time since
    /// `ref_boot_ms`, rounded up: the drift bound (`drift_ppm`, or the
    /// learned bound plus the learned rate, which the estimate follows and
    /// this fixed `boot_offset_ms` does not; see the `drift` module).
    pub uncertainty_growth_ppm: u32,
}

impl ClockSnapshot {
    /// Server time when the boot clock reads `boot_ms` (saturating), as
    /// [`ServerClock::boot_ms_to_server_ms`] computes it.
    pub fn server_now_ms(&self, boot_ms: i64) -> i64 {
        boot_ms.saturating_add(self.boot_offset_ms)
    }

    /// The uncertainty when the boot clock reads `boot_ms`, as
    /// [`ServerClock::estimate`] computes it: never less than
    /// `ref_uncertainty_ms`, growing by `uncertainty_growth_ppm`, rounded up.
    pub fn uncertainty_ms(&self, boot_ms: i64) -> i64 {
        self.ref_uncertainty_ms.saturating_add(drift_widening_ms(
            self.uncertainty_growth_ppm,
            boot_ms.saturating_sub(self.ref_boot_ms),
        ))
    }
}

/// Told by a [`ServerClock`] after each change of its estimate (a sync, an
/// added sample). Kotlin and Swift implement it (a uniffi foreign trait).
///
/// The clock calls it on the thread that changed the estimate (often a
/// sync on a background thread), after releasing its lock: the listener may
/// call back into the clock (typically [`ServerClock::snapshot`]). It must
/// return quickly. A panic (or an exception thrown in Kotlin or Swift) is
/// caught and ignored: it never fails the sync that triggered it.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait ClockListener: Send + Sync {
    /// The estimate changed: take a new [`ClockSnapshot`].
    fn estimate_changed(&self);
}

/// The listeners of one clock, with the ids `add_listener` handed out.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: u64,
    entries: Vec<(u64, Arc<dyn ClockListener>)>,
}

impl ServerClock {
    /// Calls every listener, outside any lock of the clock.
    pub(crate) fn notify_estimate_changed(&self) {
        let listeners: Vec<Arc<dyn ClockListener>> = {
            let guard = self.listeners.read().unwrap_or_else(|e| e.into_inner());
            guard.entries.iter().map(|(_, l)| l.clone()).collect()
        };
        for listener in listeners {
            // A foreign listener that throws reaches Rust as a panic.
            let _ = catch_unwind(AssertUnwindSafe(|| listener.estimate_changed()));
        }
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// The estimate as a [`ClockSnapshot`], or None before the first sample.
    /// Server time and uncertainty computed from it equal
    /// [`estimate`](Self::estimate) at any later boot time, until the
    /// estimate changes (listeners are told).
    pub fn snapshot(&self) -> Option<ClockSnapshot> {
        let (boot_offset_ms, ref_uncertainty_ms, ref_boot_ms, uncertainty_growth_ppm) =
            self.selection_bounds()?;
        Some(ClockSnapshot {
            boot_offset_ms,
            ref_uncertainty_ms,
            ref_boot_ms,
            uncertainty_growth_ppm,
        })
    }

    /// Registers `listener`, called after each change of the estimate
    /// until [`remove_listener`](Self::remove_listener) with the returned id
    /// (or until the clock is dropped).
    pub fn add_listener(&self, listener: Arc<dyn ClockListener>) -> u64 {
        let mut guard = self.listeners.write().unwrap_or_else(|e| e.into_inner());
        guard.next_id += 1;
        let id = guard.next_id;
        guard.entries.push((id, listener));
        id
    }

    /// Unregisters the listener `add_listener` returned `listener_id` for.
    /// Returns whether there was one.
    pub fn remove_listener(&self, listener_id: u64) -> bool {
        let mut guard = self.listeners.write().unwrap_or_else(|e| e.into_inner());
        let before = guard.entries.len();
        guard.entries.retain(|(id, _)| *id != listener_id);
        guard.entries.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClockConfig, FakeTimeSource, TimeSource};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn clock() -> (Arc<FakeTimeSource>, Arc<ServerClock>) {
        let time = Arc::new(FakeTimeSource::new(10_000, 1_700_000_000_000, "boot"));
        let clock =
            ServerClock::new_with_sources(ClockConfig::new(""), Some(time.clone()), None).unwrap();
        (time, clock)
    }

    #[test]
    fn snapshot_predicts_the_estimate_at_any_later_boot_time() {
        let (time, clock) = clock();
        assert_eq!(clock.snapshot(), None);
        clock
            .add_endpoint_sample(10_000, 10_047, 1_750_000_000_000)
            .unwrap();
        time.advance_ms(500);
        clock
            .add_endpoint_sample(10_500, 10_531, 1_750_000_000_510)
            .unwrap();
        let snapshot = clock.snapshot().unwrap();
        for step_ms in [0, 1, 999, 1_000_000, 86_400_000, 30 * 86_400_000] {
            time.advance_ms(step_ms);
            let e = clock.estimate().unwrap();
            let boot = time.boot_ms();
            assert_eq!(snapshot.server_now_ms(boot), e.server_now_ms, "{step_ms}");
            assert_eq!(snapshot.uncertainty_ms(boot), e.uncertainty_ms, "{step_ms}");
        }
    }

    #[test]
    fn snapshot_saturates_instead_of_overflowing() {
        let s = ClockSnapshot {
            boot_offset_ms: i64::MAX - 5,
            ref_uncertainty_ms: i64::MAX - 5,
            ref_boot_ms: i64::MIN,
            uncertainty_growth_ppm: u32::MAX,
        };
        assert_eq!(s.server_now_ms(i64::MAX), i64::MAX);
        assert_eq!(s.uncertainty_ms(i64::MAX), i64::MAX);
        // Before the reference time the uncertainty does not shrink.
        assert_eq!(s.uncertainty_ms(i64::MIN), i64::MAX - 5);
    }

    struct Counter {
        calls: AtomicUsize,
        clock: std::sync::Mutex<Option<Arc<ServerClock>>>,
        seen: std::sync::Mutex<Vec<Option<ClockSnapshot>>>,
    }

    impl ClockListener for Counter {
        fn estimate_changed(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Calling back into the clock must not deadlock: no lock is held.
            if let Some(clock) = self.clock.lock().unwrap().as_ref() {
                self.seen.lock().unwrap().push(clock.snapshot());
            }
        }
    }

    #[test]
    fn listeners_hear_every_change_and_may_call_back() {
        let (_time, clock) = clock();
        let counter = Arc::new(Counter {
            calls: AtomicUsize::new(0),
            clock: std::sync::Mutex::new(Some(clock.clone())),
            seen: std::sync::Mutex::new(Vec::new()),
        });
        let id = clock.add_listener(counter.clone());
        clock
            .add_endpoint_sample(10_000, 10_040, 1_750_000_000_000)
            .unwrap();
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
        assert_eq!(counter.seen.lock().unwrap()[0], clock.snapshot());
        // An invalid sample changes nothing and tells no one.
        assert!(clock.add_endpoint_sample(10_040, 10_000, 0).is_err());
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);

        assert!(clock.remove_listener(id));
        assert!(!clock.remove_listener(id));
        clock
            .add_endpoint_sample(10_000, 10_020, 1_750_000_000_000)
            .unwrap();
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
        // Break the cycle clock → listener → clock.
        counter.clock.lock().unwrap().take();
    }

    struct Panicking;
    impl ClockListener for Panicking {
        fn estimate_changed(&self) {
            panic!("a listener bug");
        }
    }

    #[test]
    fn a_panicking_listener_does_not_fail_the_change_or_silence_others() {
        let (_time, clock) = clock();
        let counter = Arc::new(Counter {
            calls: AtomicUsize::new(0),
            clock: std::sync::Mutex::new(None),
            seen: std::sync::Mutex::new(Vec::new()),
        });
        clock.add_listener(Arc::new(Panicking));
        clock.add_listener(counter.clone());
        let e = clock
            .add_endpoint_sample(10_000, 10_040, 1_750_000_000_000)
            .unwrap();
        assert_eq!(
            Some(e.boot_offset_ms),
            clock.snapshot().map(|s| s.boot_offset_ms)
        );
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
    }
}
