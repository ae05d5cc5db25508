//! Drift learning through the real `ServerClock`: syncs over a simulated
//! transport on a boot clock that runs fast, restores on the same boot and
//! after a reboot, forged histories.

use std::sync::{Arc, Mutex};

use mxclock::TransportError;
use mxclock::{
    ClockConfig, Error, HttpHeader, HttpRequest, HttpResponse, HttpTransport, ServerClock, Sleeper,
    SyncReason, TimeSource,
};

const SERVER0_MS: f64 = 1_750_000_000_000.0;
const HOUR_MS: f64 = 3_600_000.0;

/// True time τ; the server clock is `SERVER0_MS + τ`; the boot clock runs
/// `1 + rate` fast from `boot0`. Replies take `one_way_ms` each way.
struct World {
    state: Mutex<(f64, String)>,
    rate: f64,
    boot0: f64,
    one_way_ms: f64,
    /// The server lacks the MSC4094 endpoint: `Date` headers only.
    date_only: bool,
}

impl World {
    fn new(rate_ppm: f64) -> Arc<World> {
        Arc::new(World {
            state: Mutex::new((0.0, "boot-a".into())),
            rate: rate_ppm * 1e-6,
            boot0: 50_000.0,
            one_way_ms: 20.0,
            date_only: false,
        })
    }
    fn date_only(rate_ppm: f64) -> Arc<World> {
        Arc::new(World {
            state: Mutex::new((0.0, "boot-a".into())),
            rate: rate_ppm * 1e-6,
            boot0: 50_000.0,
            one_way_ms: 20.0,
            date_only: true,
        })
    }
    fn tau(&self) -> f64 {
        self.state.lock().unwrap().0
    }
    fn advance(&self, ms: f64) {
        self.state.lock().unwrap().0 += ms;
    }
    fn truth_ms(&self) -> f64 {
        SERVER0_MS + self.tau()
    }
    fn clock(self: &Arc<Self>, config: ClockConfig) -> Arc<ServerClock> {
        ServerClock::new_with_sources_and_sleeper(
            config,
            self.clone(),
            Some(self.clone()),
            self.clone(),
        )
        .unwrap()
    }
    fn restore(
        self: &Arc<Self>,
        config: ClockConfig,
        state: &str,
    ) -> Result<Arc<ServerClock>, Error> {
        ServerClock::restore_with_sources_and_sleeper(
            config,
            state,
            self.clone(),
            Some(self.clone()),
            self.clone(),
        )
    }
    /// The estimate holds the truth; returns |error| ms.
    fn check(&self, clock: &ServerClock) -> f64 {
        let e = clock.estimate().expect("an estimate");
        let err = (e.server_now_ms as f64 - self.truth_ms()).abs();
        assert!(
            err <= e.uncertainty_ms as f64,
            "error {err} ms outside ±{} ms at τ {}",
            e.uncertainty_ms,
            self.tau()
        );
        err
    }
}

impl TimeSource for World {
    fn boot_ms(&self) -> i64 {
        (self.boot0 + self.tau() * (1.0 + self.rate)).floor() as i64
    }
    fn wall_ms(&self) -> i64 {
        self.truth_ms() as i64
    }
    fn boot_id(&self) -> String {
        self.state.lock().unwrap().1.clone()
    }
}

impl Sleeper for World {
    fn sleep_ms(&self, ms: i64) {
        self.advance(ms.max(0) as f64);
    }
}

impl HttpTransport for World {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.advance(self.one_way_ms);
        let server = self.truth_ms().floor() as i64;
        self.advance(self.one_way_ms);
        if self.date_only {
            let date = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs((server / 1000) as u64),
            );
            let endpoint = request.url.ends_with("/get_server_now");
            return Ok(HttpResponse {
                status: if endpoint { 404 } else { 200 },
                headers: vec![
                    HttpHeader::new("Date", date),
                    HttpHeader::new("Content-Type", "application/json"),
                ],
                body: if endpoint {
                    br#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#.to_vec()
                } else {
                    br#"{"versions":["v1.11"]}"#.to_vec()
                },
            });
        }
        Ok(HttpResponse {
            status: 200,
            headers: vec![HttpHeader::new("Content-Type", "application/json")],
            body: format!("{{\"server_now\": {server}}}").into_bytes(),
        })
    }
}

fn config() -> ClockConfig {
    ClockConfig::new("https://matrix.example.org")
}

/// Syncs at τ = 0, 1 h and 5 h on a boot clock 40 ppm fast.
fn learned(world: &Arc<World>) -> Arc<ServerClock> {
    let clock = world.clock(config());
    for at in [0.0, HOUR_MS, 5.0 * HOUR_MS] {
        world.advance(at - world.tau());
        clock.sync().unwrap();
    }
    clock
}

#[test]
fn a_learned_drift_keeps_the_truth_inside_and_the_error_small() {
    let world = World::new(40.0);
    let clock = learned(&world);
    // The fixed bound would grow 100 ms per 1 000 s; the learned one far less.
    let before = clock.estimate().unwrap().uncertainty_ms;
    let mut worst: f64 = 0.0;
    for _ in 0..20 {
        world.advance(HOUR_MS);
        worst = worst.max(world.check(&clock));
    }
    let after = clock.estimate().unwrap().uncertainty_ms;
    let growth_ppm = (after - before) as f64 / (20.0 * HOUR_MS) * 1e6;
    assert!(growth_ppm < 50.0, "grows {growth_ppm} ppm");
    assert!(
        growth_ppm >= 35.0,
        "grows {growth_ppm} ppm, below the floor"
    );
    // Uncorrected, 40 ppm over 20 h is 2.9 s.
    assert!(worst < 100.0, "error {worst} ms");
    // The fast path and the conversions extrapolate the same θ.
    let e = clock.estimate().unwrap();
    assert!((clock.server_now_ms().unwrap() - e.server_now_ms).abs() <= 1);
    let boot = clock.boot_ms();
    let server = clock.boot_ms_to_server_ms(boot + 3_600_000).unwrap();
    assert!((clock.server_ms_to_boot_ms(server).unwrap() - (boot + 3_600_000)).abs() <= 1);
}

#[test]
fn the_fixed_bound_without_learning() {
    let world = World::new(40.0);
    let mut c = config();
    c.learn_drift = false;
    let clock = world.clock(c);
    clock.sync().unwrap();
    let before = clock.estimate().unwrap().uncertainty_ms;
    world.advance(HOUR_MS);
    clock.sync().unwrap_or_else(|e| panic!("{e}"));
    world.advance(HOUR_MS);
    let after = clock.estimate().unwrap().uncertainty_ms;
    // 100 ppm over an hour: 360 ms on top of a fresh sync's.
    assert!(after - before >= 350, "{before} → {after}");
    world.check(&clock);
}

#[test]
fn a_same_boot_restore_keeps_learning_and_a_reboot_drops_it() {
    let world = World::new(-30.0);
    let clock = learned(&world);
    world.advance(HOUR_MS);
    let state = clock.export_state().unwrap();
    let due = clock.next_sync_due_in_ms();
    assert!(due > 5 * HOUR_MS as i64, "learned: due in {due} ms");
    // The restored history moves the estimate as before, but bounds nothing
    // until a sync of this process fits it: the fixed bound (plus the rate).
    let restored = world.restore(config(), &state).unwrap();
    let (r, c) = (restored.estimate().unwrap(), clock.estimate().unwrap());
    assert_eq!(r.server_now_ms, c.server_now_ms);
    assert!(r.uncertainty_ms > c.uncertainty_ms, "{r:?} {c:?}");
    assert!(restored.next_sync_due_in_ms() < due);
    world.check(&restored);
    restored.sync().unwrap();
    let due = restored.next_sync_due_in_ms();
    assert!(
        due > 5 * HOUR_MS as i64,
        "learned again after one sync: due in {due} ms"
    );
    world.check(&restored);

    // After a reboot the history means nothing: the fixed bound, and a sync.
    world.state.lock().unwrap().1 = "boot-b".into();
    let rebooted = world.restore(config(), &state).unwrap();
    rebooted.sync().unwrap();
    let fresh = rebooted.estimate().unwrap().uncertainty_ms;
    world.advance(HOUR_MS);
    let grown = rebooted.estimate().unwrap().uncertainty_ms - fresh;
    assert!(
        grown >= 350,
        "fixed bound after a reboot: grew {grown} ms in an hour"
    );
}

#[test]
fn a_reboot_carries_the_learned_rate_into_the_estimate_but_not_into_the_bound() {
    let world = World::new(-40.0);
    let clock = learned(&world);
    world.advance(HOUR_MS);
    let state = clock.export_state().unwrap();
    world.state.lock().unwrap().1 = "boot-b".into();
    let rebooted = world.restore(config(), &state).unwrap();
    rebooted.sync().unwrap();
    let fresh = rebooted.estimate().unwrap().uncertainty_ms;
    // No early learning sync: the carried rate keeps the estimate near; the
    // next sync is due when the fixed bound (widened by the carried 40 ppm,
    // 140 ppm) has used up the headroom, about 2 h.
    let due = rebooted.next_sync_due_in_ms();
    assert!(due > (1.5 * HOUR_MS) as i64, "due in {due} ms");
    world.advance(1.5 * HOUR_MS);
    let err = world.check(&rebooted);
    // Uncorrected, 40 ppm over 1.5 h is 216 ms.
    assert!(err < 20.0, "error {err} ms");
    let grown = rebooted.estimate().unwrap().uncertainty_ms - fresh;
    assert!(
        grown >= 540 + 216,
        "the fixed bound plus the carried rate: grew {grown} ms in 1.5 h"
    );
    // The carried history survives a restore on the new boot and another
    // reboot (this boot learned nothing yet).
    let state = rebooted.export_state().unwrap();
    world.state.lock().unwrap().1 = "boot-c".into();
    let again = world.restore(config(), &state).unwrap();
    again.sync().unwrap();
    world.advance(HOUR_MS);
    assert!(world.check(&again) < 20.0);
}

#[test]
fn a_date_refresh_of_a_learned_drift_sends_fewer_probes() {
    let world = World::date_only(25.0);
    let clock = world.clock(config());
    // A first estimate and the syncs that learn the drift narrow the phase
    // all the way down.
    let mut first = Vec::new();
    for at in [0.0, 2.0 * HOUR_MS, 8.0 * HOUR_MS] {
        world.advance(at - world.tau());
        first.push(clock.sync().unwrap().requests);
        world.check(&clock);
    }
    // Learned: the next sync only brings the uncertainty back under the
    // limit, and stops once its replies agree within ±125 ms.
    let due = clock.next_sync_due_in_ms();
    assert!(due > (5.0 * HOUR_MS) as i64, "due in {due} ms");
    world.advance(due as f64 / (1.0 + world.rate) + 1_000.0);
    let report = clock.sync_if_needed().unwrap().expect("a refresh is due");
    assert_eq!(report.reason, Some(SyncReason::UncertaintyTooHigh));
    world.check(&clock);
    let narrow = *first.iter().min().unwrap();
    assert!(
        report.requests + 2 <= narrow,
        "refresh {} requests, narrow syncs {first:?}",
        report.requests
    );
}

#[test]
fn forged_histories_are_refused() {
    let world = World::new(10.0);
    let clock = learned(&world);
    let state: serde_json::Value = serde_json::from_str(&clock.export_state().unwrap()).unwrap();
    let history = state["drift_history"].as_array().unwrap().clone();
    assert!(history.len() >= 2, "{state}");
    let forge = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut s = state.clone();
        f(&mut s["drift_history"]);
        world.restore(config(), &s.to_string())
    };
    // lo above hi; out of order; taken after the save; not a number.
    let cases: [&dyn Fn(&mut serde_json::Value); 4] = [
        &|h| h[0]["lo_us"] = (h[0]["hi_us"].as_i64().unwrap() + 1).into(),
        &|h| h.as_array_mut().unwrap().reverse(),
        &|h| h[1]["boot_ms"] = i64::MAX.into(),
        &|h| h[0]["mid_us"] = "soon".into(),
    ];
    for (i, f) in cases.iter().enumerate() {
        match forge(f) {
            Err(Error::InvalidState(_)) => {}
            other => panic!("case {i}: {other:?}"),
        }
    }
    // The unforged state restores.
    assert!(world.restore(config(), &state.to_string()).is_ok());
}

#[test]
fn the_snapshot_grows_by_the_learned_rate_and_bound_and_holds_the_truth() {
    let world = World::new(40.0);
    let clock = learned(&world);
    let snapshot = clock.snapshot().expect("synced");
    // θ held fixed: the growth covers the 40 ppm the estimate follows, plus
    // the bound (at least the 35 ppm floor), and stays below the fixed 100.
    assert!(
        (55..100).contains(&snapshot.uncertainty_growth_ppm),
        "{snapshot:?}"
    );
    for _ in 0..10 {
        world.advance(HOUR_MS);
        let boot = clock.boot_ms();
        let err = (snapshot.server_now_ms(boot) as f64 - world.truth_ms()).abs();
        assert!(
            err <= snapshot.uncertainty_ms(boot) as f64,
            "{err} {snapshot:?}"
        );
        // And it holds every value the estimate allows.
        let e = clock.estimate().unwrap();
        assert!(
            snapshot.server_now_ms(boot) - snapshot.uncertainty_ms(boot)
                <= e.server_now_ms - e.uncertainty_ms
        );
        assert!(
            snapshot.server_now_ms(boot) + snapshot.uncertainty_ms(boot)
                >= e.server_now_ms + e.uncertainty_ms
        );
    }
}

#[test]
fn a_forged_drift_history_in_saved_state_cannot_narrow_the_bound() {
    // The crystal runs at −30 ppm; the saved history is rewritten to claim
    // +85 ppm with zero-width intervals (the samples are left as they were).
    let world = World::new(-30.0);
    let clock = learned(&world);
    let mut state: serde_json::Value =
        serde_json::from_str(&clock.export_state().unwrap()).unwrap();
    let history = state["drift_history"].as_array_mut().unwrap();
    let last = history.last().unwrap().clone();
    let (boot_last, mid_last) = (
        last["boot_ms"].as_i64().unwrap(),
        last["mid_us"].as_i64().unwrap(),
    );
    for h in history.iter_mut() {
        let boot = h["boot_ms"].as_i64().unwrap();
        let theta_us = mid_last + (boot - boot_last) * 85 / 1_000;
        h["lo_us"] = theta_us.into();
        h["hi_us"] = theta_us.into();
        h["mid_us"] = theta_us.into();
    }
    let restored = world.restore(config(), &state.to_string()).unwrap();
    for _ in 0..10 {
        world.advance(HOUR_MS);
        world.check(&restored);
    }
}
