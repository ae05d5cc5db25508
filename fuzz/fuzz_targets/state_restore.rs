//! Saved state: any text restores into a working clock or gives
//! `Error::InvalidState`, on the same boot and after a reboot; a restored
//! clock answers, exports, and its export restores again. The estimate is
//! never the state's word: on the same boot it is exactly what selecting
//! among the saved samples (the newest `max_samples`) gives, and after a
//! reboot never tighter than that.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mxclock::__internal::{
    learn, select_with_drift, trim_window, validate_history, Drift, Selection, SyncInterval,
};
use mxclock::{ClockConfig, Error, FakeTimeSource, Sample, ServerClock, TimeSource};

/// The boot and wall clocks the seed corpus was exported at (see
/// docs/fuzzing.md): restoring on the same boot keeps the estimate.
const BOOT_ID: &str = "fuzz-boot";
const BOOT_MS: i64 = 10_000_000;
const WALL_MS: i64 = 1_750_000_000_000;

/// What the saved evidence alone supports: the drift learned from the
/// saved drift history (the fixed bound without one) and the selection
/// among the newest `max_samples` samples with it (`None` when there are
/// none or they disagree).
fn recomputed(state: &str, config: &ClockConfig) -> Option<(Selection, Drift)> {
    let value: serde_json::Value = serde_json::from_str(state).ok()?;
    let mut samples: Vec<Sample> = serde_json::from_value(value.get("samples")?.clone()).ok()?;
    trim_window(&mut samples, config.max_samples as usize);
    let history: Vec<SyncInterval> = value
        .get("drift_history")
        .and_then(|h| serde_json::from_value(h.clone()).ok())
        .unwrap_or_default();
    let history = validate_history(history).ok()?;
    let drift = learn(&history, config.drift_ppm);
    select_with_drift(&samples, &drift).ok().map(|s| (s, drift))
}

fn check(state: &str, time: Arc<FakeTimeSource>) {
    let config = ClockConfig::new("");
    // The state's own say on the boot it was saved in (the clock's rule).
    let same_boot = serde_json::from_str::<serde_json::Value>(state).is_ok_and(|v| {
        v.get("boot_id").and_then(|b| b.as_str()) == Some(time.boot_id().as_str())
            && v.get("saved_boot_ms")
                .and_then(|b| b.as_i64())
                .is_some_and(|b| time.boot_ms() >= b)
    });
    match ServerClock::restore_with_sources(config.clone(), state, Some(time.clone()), None) {
        Ok(clock) => {
            if let Some(e) = clock.estimate() {
                assert!(e.uncertainty_ms >= 0, "{e:?}");
                assert_eq!(clock.server_now_ms(), Ok(e.server_now_ms));
            }
            let expected = recomputed(state, &config);
            match (clock.estimate(), &expected) {
                (Some(e), Some((sel, drift))) if same_boot => {
                    let (theta, uncertainty) = sel.reading_at(time.boot_ms(), drift);
                    assert_eq!(e.boot_offset_ms, theta, "{e:?} {sel:?}");
                    assert_eq!(e.uncertainty_ms, uncertainty, "{e:?} {sel:?}");
                }
                // After a reboot: carried through the wall clock, holding at
                // least the bounds the samples gave.
                (Some(e), Some((sel, _))) => {
                    let half = (sel.hi_ms as i128 - sel.lo_ms as i128 + 1) / 2;
                    assert!(e.uncertainty_ms as i128 >= half, "{e:?} {sel:?}")
                }
                (Some(e), None) => panic!("an estimate its samples do not support: {e:?}"),
                (None, Some(sel)) if same_boot => {
                    panic!("lost an estimate its samples give: {sel:?}")
                }
                (None, _) => {}
            }
            let _ = clock.next_sync_due_in_ms();
            let _ = clock.sync_reason();
            let _ = clock.expiry_at(WALL_MS);
            let exported = clock.export_state().expect("export");
            time.advance_ms(1);
            // What the clock exports, it restores.
            ServerClock::restore_with_sources(config, &exported, Some(time), None).expect("round trip");
        }
        Err(Error::InvalidState(_)) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(state) = std::str::from_utf8(data) else {
        return;
    };
    // Same boot, later.
    check(
        state,
        Arc::new(FakeTimeSource::new(
            BOOT_MS + 60_000,
            WALL_MS + 60_000,
            BOOT_ID,
        )),
    );
    // After a reboot: carried over through the wall clock.
    let t = Arc::new(FakeTimeSource::new(BOOT_MS, WALL_MS, BOOT_ID));
    t.reboot("fuzz-boot-2", 5_000);
    t.advance_ms(3_600_000);
    check(state, t);
    // Same boot id but the boot clock went backwards, and a wall clock far off.
    let t = Arc::new(FakeTimeSource::new(1, -WALL_MS, BOOT_ID));
    assert_eq!(t.boot_id(), BOOT_ID);
    check(state, t);
});
