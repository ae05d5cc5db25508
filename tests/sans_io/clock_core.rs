//! ServerClock without a network: the time model (`docs/design.md#time-model`)
//! and persistence (`#persistence`), driven by a fake time source.

use std::sync::Arc;

use mxclock::{ClockConfig, Error, FakeTimeSource, Sample, ServerClock, SyncReason, TimeSource};

const WALL0: i64 = 1_760_000_000_000;
/// The server runs 37.25 s ahead of the device's wall clock.
const SKEW_MS: i64 = 37_250;

struct World {
    time: Arc<FakeTimeSource>,
    /// Server time minus the *true* time; the device wall clock starts true.
    skew_ms: i64,
    /// Server time minus boot time at boot 0 of the first boot.
    true_theta: i64,
}

impl World {
    fn new() -> World {
        let time = Arc::new(FakeTimeSource::new(10_000, WALL0, "boot-1"));
        World {
            time,
            skew_ms: SKEW_MS,
            true_theta: WALL0 - 10_000 + SKEW_MS,
        }
    }

    fn server_now(&self) -> i64 {
        self.time.boot_ms() + self.true_theta
    }

    fn clock(&self) -> Arc<ServerClock> {
        ServerClock::new_with_sources(ClockConfig::new(""), Some(self.time.clone()), None).unwrap()
    }

    /// One endpoint exchange with `up`/`down` ms one-way delays, fed to `clock`.
    fn exchange(&self, clock: &ServerClock, up: i64, down: i64) -> mxclock::Estimate {
        let sent = self.time.boot_ms();
        self.time.advance_ms(up);
        let server = self.server_now();
        self.time.advance_ms(down);
        clock
            .add_endpoint_sample(sent, self.time.boot_ms(), server)
            .unwrap()
    }

    fn assert_truth_inside(&self, clock: &ServerClock) {
        let e = clock.estimate().expect("an estimate");
        let err = e.server_now_ms - self.server_now();
        assert!(
            err.abs() <= e.uncertainty_ms,
            "error {err} ms > uncertainty {} ms",
            e.uncertainty_ms
        );
    }
}

#[test]
fn not_synced_is_a_clear_error() {
    let w = World::new();
    let c = w.clock();
    assert_eq!(c.server_now_ms(), Err(Error::NotSynced));
    assert!(c.estimate().is_none());
    assert_eq!(c.sync_reason(), Some(SyncReason::NoEstimate));
    assert_eq!(c.next_sync_due_in_ms(), 0);
    let msg = Error::NotSynced.to_string();
    assert!(msg.contains("sync()"), "{msg}");
}

#[test]
fn offset_and_conversions() {
    let w = World::new();
    let c = w.clock();
    let e = w.exchange(&c, 15, 25);
    assert!(e.uncertainty_ms <= 20 + 2);
    w.assert_truth_inside(&c);
    // offset = server − wall.
    assert!((e.offset_ms - w.skew_ms).abs() <= e.uncertainty_ms);
    let s = c.server_now_ms().unwrap();
    assert!((s - w.server_now()).abs() <= e.uncertainty_ms);
    let boot = c.server_ms_to_boot_ms(s + 5_000).unwrap();
    assert_eq!(boot, w.time.boot_ms() + 5_000);
    assert_eq!(c.boot_ms_to_server_ms(boot).unwrap(), s + 5_000);
    let wall = c.server_ms_to_wall_ms(s).unwrap();
    assert_eq!(wall, w.time.wall_ms());
    assert_eq!(c.wall_ms_to_server_ms(wall).unwrap(), s);
}

#[test]
fn wall_clock_jump_is_reported_and_changes_nothing() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let before = c.estimate().unwrap();
    assert_eq!(before.wall_jump_ms, 0);
    w.time.jump_wall_ms(-3_600_000); // the user sets the clock back an hour
    let after = c.estimate().unwrap();
    assert_eq!(after.server_now_ms, before.server_now_ms);
    assert_eq!(after.uncertainty_ms, before.uncertainty_ms);
    assert_eq!(after.wall_jump_ms, -3_600_000);
    // The MSC offset (server − wall) moves by the jump; server time does not.
    assert_eq!(after.offset_ms, before.offset_ms + 3_600_000);
    w.assert_truth_inside(&c);
    // A small NTP slew below the threshold is not a jump.
    w.time.jump_wall_ms(3_600_000 + 300);
    assert_eq!(c.estimate().unwrap().wall_jump_ms, 0);
}

#[test]
fn sleep_keeps_the_estimate_right_and_drift_widens_it() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let u0 = c.estimate().unwrap().uncertainty_ms;
    w.time.sleep_ms(8 * 3_600_000); // a night in a drawer
    w.assert_truth_inside(&c);
    let u1 = c.estimate().unwrap().uncertainty_ms;
    // 100 ppm over 8 h = 2 880 ms more.
    assert_eq!(u1 - u0, 2_880);
    assert!(!c.estimate().unwrap().within_policy);
    assert_eq!(c.sync_reason(), Some(SyncReason::UncertaintyTooHigh));
}

#[test]
fn drift_within_the_assumed_bound_stays_covered() {
    // The device's boot clock runs 80 ppm slow against the server.
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 20, 20);
    let mut theta = w.true_theta;
    for _ in 0..50 {
        w.time.advance_ms(600_000);
        theta += 48; // 80 ppm of 10 min
        let e = c.estimate().unwrap();
        let truth = w.time.boot_ms() + theta;
        assert!((e.server_now_ms - truth).abs() <= e.uncertainty_ms);
    }
}

#[test]
fn server_clock_step_newest_samples_win() {
    let mut w = World::new();
    let c = w.clock();
    for _ in 0..6 {
        w.exchange(&c, 10, 10);
        w.time.advance_ms(1_000);
    }
    w.true_theta += 3_600_000; // the server's admin fixed its clock by an hour
    let e = w.exchange(&c, 10, 10);
    assert!(!e.server_clock_stepped, "one sample alone is an outlier");
    assert_eq!(e.falsetickers, 1);
    let e = w.exchange(&c, 10, 10);
    assert!(
        e.server_clock_stepped,
        "two agreeing new samples are a step"
    );
    w.assert_truth_inside(&c);
}

#[test]
fn random_times_are_rejected_not_averaged() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let good = c.estimate().unwrap();
    let sent = w.time.boot_ms();
    w.time.advance_ms(20);
    let r = c.add_endpoint_sample(sent, w.time.boot_ms(), w.server_now() + 86_400_000);
    assert!(matches!(r, Err(Error::Inconsistent(_))), "{r:?}");
    let after = c.estimate().unwrap();
    assert_eq!(after.boot_offset_ms, good.boot_offset_ms);
    w.assert_truth_inside(&c);
}

#[test]
fn event_age_is_weak_but_honest() {
    let w = World::new();
    let c = w.clock();
    // An event sent 2.5 s ago by server time, response built now, 300 ms in flight.
    let ots = w.server_now() - 2_500;
    w.time.advance_ms(300);
    let e = c.observe_event(ots, 2_500, w.time.boot_ms()).unwrap();
    assert_eq!(e.source, mxclock::SampleSource::EventAge);
    w.assert_truth_inside(&c);
    assert!(
        e.uncertainty_ms >= 5_000,
        "event age is weak: {}",
        e.uncertainty_ms
    );
    // An endpoint sample then gives the estimate, but one reply alone never
    // sets an edge of the reported interval (it could be the one that lies):
    // the bounds stay the event's until a second reply agrees.
    let e = w.exchange(&c, 10, 10);
    assert_eq!(e.source, mxclock::SampleSource::Endpoint);
    assert!(e.uncertainty_ms >= 5_000, "{e:?}");
    w.assert_truth_inside(&c);
    w.time.advance_ms(1_000);
    let e = w.exchange(&c, 10, 10);
    assert!(e.uncertainty_ms <= 12 + 1, "{e:?}");
    w.assert_truth_inside(&c);
}

#[test]
fn restore_in_the_same_boot_keeps_everything() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let state = c.export_state().unwrap();
    w.time.advance_ms(60_000);
    let r =
        ServerClock::restore_with_sources(ClockConfig::new(""), &state, Some(w.time.clone()), None)
            .unwrap();
    assert_eq!(r.estimate(), c.estimate());
    assert_eq!(r.sync_reason(), None);
}

#[test]
fn restore_after_reboot_converts_through_the_wall_clock() {
    let mut w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let state = c.export_state().unwrap();
    let before = c.estimate().unwrap();
    // Off for 5 minutes, then boots: boot clock restarts at 3 s.
    w.time.advance_ms(300_000);
    let server_now = w.server_now();
    w.time.reboot("boot-2", 3_000);
    w.true_theta = server_now - 3_000;
    let r =
        ServerClock::restore_with_sources(ClockConfig::new(""), &state, Some(w.time.clone()), None)
            .unwrap();
    let e = r.estimate().expect("carried over");
    assert!(
        e.uncertainty_ms > before.uncertainty_ms + 1_000,
        "{}",
        e.uncertainty_ms
    );
    w.assert_truth_inside(&r);
    assert_eq!(r.sync_reason(), Some(SyncReason::Reboot));
}

#[test]
fn restore_after_reboot_drops_stale_or_backwards_state() {
    for wall_move in [40 * 86_400_000i64, -60_000] {
        let w = World::new();
        let c = w.clock();
        w.exchange(&c, 10, 10);
        let state = c.export_state().unwrap();
        w.time.jump_wall_ms(wall_move);
        w.time.reboot("boot-2", 3_000);
        let r = ServerClock::restore_with_sources(
            ClockConfig::new(""),
            &state,
            Some(w.time.clone()),
            None,
        )
        .unwrap();
        assert!(r.estimate().is_none(), "wall moved {wall_move}");
        assert_eq!(r.sync_reason(), Some(SyncReason::NoEstimate));
    }
}

#[test]
fn boot_clock_gone_back_counts_as_reboot() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let state = c.export_state().unwrap();
    w.time.reboot("boot-1", 0); // same id (a broken boot id source), clock restarted
    let r =
        ServerClock::restore_with_sources(ClockConfig::new(""), &state, Some(w.time.clone()), None)
            .unwrap();
    assert_eq!(r.sync_reason(), Some(SyncReason::Reboot));
}

#[test]
fn garbled_state_is_a_clear_error() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    let good = c.export_state().unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "not JSON"),
        ("{".into(), "not JSON"),
        ("[]".into(), "not mxclock state"),
        ("{\"format\":\"other\"}".into(), "not mxclock state"),
        (
            good.replace("\"version\":1", "\"version\":99"),
            "version 99",
        ),
        (
            good.replace("\"version\":1", "\"version\":\"1\""),
            "no format version",
        ),
        (good.replace("\"samples\":", "\"samplez\":"), "missing"),
        (
            good.replace("\"lo_ms\":", "\"lo_ms\":\"x\",\"_\":"),
            "wrong type",
        ),
        (good.replace("\"endpoint\"", "\"sundial\""), "wrong type"),
    ];
    for (json, expect) in cases {
        let r = ServerClock::restore_with_sources(
            ClockConfig::new(""),
            &json,
            Some(w.time.clone()),
            None,
        );
        match r {
            Err(Error::InvalidState(m)) => assert!(m.contains(expect), "{json}: {m}"),
            other => panic!("{json}: expected InvalidState, got {other:?}"),
        }
    }
    // Another homeserver's state.
    let mut cfg = ClockConfig::new("https://other.example.org");
    cfg.allow_insecure_http = false;
    let r = ServerClock::restore_with_sources(cfg, &good, Some(w.time.clone()), None);
    assert!(matches!(r, Err(Error::InvalidState(_))));
}

#[test]
fn state_never_contains_the_token() {
    let w = World::new();
    let mut cfg = ClockConfig::new("https://matrix.example.org");
    cfg.access_token = Some("syt_c2VjcmV0_TOKENVALUE".into());
    let c = ServerClock::new_with_sources(cfg.clone(), Some(w.time.clone()), None).unwrap();
    w.exchange(&c, 10, 10);
    let state = c.export_state().unwrap();
    assert!(!state.contains("TOKENVALUE"));
    assert!(!format!("{c:?}").contains("TOKENVALUE"));
    assert!(!format!("{cfg:?}").contains("TOKENVALUE"));
}

#[test]
fn samples_from_apps_are_checked() {
    let w = World::new();
    let c = w.clock();
    let bad = Sample {
        source: mxclock::SampleSource::Endpoint,
        lo_ms: 5,
        hi_ms: 1,
        taken_boot_ms: 0,
    };
    assert!(matches!(c.add_sample(bad), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        c.add_endpoint_sample(10, 5, WALL0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.add_endpoint_sample(0, 5, 12),
        Err(Error::TimeOutOfRange(_))
    ));
    assert!(c.estimate().is_none());
}

#[test]
fn network_change_makes_a_sync_due() {
    let w = World::new();
    let c = w.clock();
    w.exchange(&c, 10, 10);
    assert_eq!(c.sync_reason(), None);
    // The drift is not learned yet: due once 100 ppm have grown the
    // uncertainty past a quarter of max_uncertainty_ms (250 ms), ~40 min.
    assert!(c.next_sync_due_in_ms() > 2_000_000);
    c.network_changed();
    assert_eq!(c.sync_reason(), Some(SyncReason::NetworkChanged));
}

#[test]
fn sync_without_transport_says_what_to_do() {
    let w = World::new();
    let c = w.clock();
    match c.sync() {
        Err(Error::InvalidConfig(m)) => assert!(m.contains("add_sample"), "{m}"),
        other => panic!("{other:?}"),
    }
}
