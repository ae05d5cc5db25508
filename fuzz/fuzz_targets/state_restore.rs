//! Saved state: any text restores into a working clock or gives
//! `Error::InvalidState`, on the same boot and after a reboot; a restored
//! clock answers, exports, and its export restores again.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mxclock::{ClockConfig, Error, FakeTimeSource, ServerClock, TimeSource};

/// The boot and wall clocks the seed corpus was exported at (see
/// docs/fuzzing.md): restoring on the same boot keeps the estimate.
const BOOT_ID: &str = "fuzz-boot";
const BOOT_MS: i64 = 10_000_000;
const WALL_MS: i64 = 1_750_000_000_000;

fn check(state: &str, time: Arc<FakeTimeSource>) {
    let config = ClockConfig::new("");
    match ServerClock::restore(config.clone(), state.to_owned(), Some(time.clone()), None) {
        Ok(clock) => {
            if let Some(e) = clock.estimate() {
                assert!(e.uncertainty_ms >= 0, "{e:?}");
                assert_eq!(clock.server_now_ms(), Ok(e.server_now_ms));
            }
            let _ = clock.next_sync_due_in_ms();
            let _ = clock.sync_reason();
            let _ = clock.expiry_at(WALL_MS);
            let exported = clock.export_state().expect("export");
            time.advance_ms(1);
            // What the clock exports, it restores.
            ServerClock::restore(config, exported, Some(time), None).expect("round trip");
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
