//! Saved state holds evidence, not conclusions: a restore checks every
//! sample, keeps the newest `max_samples`, and recomputes the estimate from
//! them. Forged selections, samples from the future, a hundred thousand
//! samples and forged policy times can at worst lose the estimate, never
//! invent one.

use std::sync::Arc;

// The estimator itself, to recompute what a restore must give.
use mxclock::__internal::{select, trim_window, Drift, Selection};
use mxclock::{ClockConfig, Error, Estimate, FakeTimeSource, Sample, ServerClock, TimeSource};
use proptest::prelude::*;
use serde_json::{json, Value};

const BOOT_MS: i64 = 10_000_000;
const WALL_MS: i64 = 1_750_000_000_000;
/// Server − boot of the honest samples: the server is 37.25 s ahead.
const THETA: i64 = WALL_MS - BOOT_MS + 37_250;

fn time_later(ms: i64) -> Arc<FakeTimeSource> {
    Arc::new(FakeTimeSource::new(BOOT_MS + ms, WALL_MS + ms, "boot-1"))
}

fn endpoint(taken_boot_ms: i64, theta: i64) -> Sample {
    Sample::from_endpoint(
        taken_boot_ms - 20,
        taken_boot_ms,
        taken_boot_ms - 10 + theta,
    )
    .unwrap()
}

/// A saved state of the current format around `samples` (and whatever
/// else `extra` sets).
fn state(samples: &[Sample], extra: Value) -> String {
    let mut v = json!({
        "format": "mxclock-state",
        "version": 1,
        "homeserver_url": "",
        "boot_id": "boot-1",
        "saved_boot_ms": BOOT_MS,
        "saved_wall_ms": WALL_MS,
        "samples": samples,
        "policy": {
            "last_attempt_boot_ms": null, "consecutive_failures": 0, "retry_at_boot_ms": null,
            "rate_limited": false, "endpoint_unsupported_until_boot_ms": null,
            "network_changed": false, "reboot_detected": false
        },
        "wall_minus_boot_ms": WALL_MS - BOOT_MS,
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in more {
            obj.insert(k.clone(), x.clone());
        }
    }
    v.to_string()
}

fn restore(json: &str, time: &Arc<FakeTimeSource>) -> Result<Arc<ServerClock>, Error> {
    ServerClock::restore_with_sources(ClockConfig::new(""), json, Some(time.clone()), None)
}

/// What the samples alone give, read at `time`: the selection among the
/// newest `max_samples`, as `ServerClock::estimate` reports it.
fn recomputed(samples: &[Sample], time: &FakeTimeSource) -> Option<(i64, i64, Selection)> {
    let config = ClockConfig::new("");
    let mut kept = samples.to_vec();
    trim_window(&mut kept, config.max_samples as usize);
    let sel = select(&kept, config.drift_ppm).ok()?;
    let now = time.boot_ms();
    // No sync left a drift history here: the fixed bound.
    let (theta, uncertainty) = sel.reading_at(now, &Drift::fixed(config.drift_ppm));
    Some((now + theta, uncertainty, sel))
}

fn assert_same(e: &Estimate, expected: &(i64, i64, Selection)) {
    let (server_now_ms, uncertainty_ms, sel) = expected;
    assert_eq!(e.server_now_ms, *server_now_ms, "{e:?} vs {sel:?}");
    assert_eq!(e.uncertainty_ms, *uncertainty_ms, "{e:?} vs {sel:?}");
    assert_eq!(e.samples as usize, sel.survivors.len());
    assert_eq!(e.falsetickers as usize, sel.falsetickers.len());
    assert_eq!(e.newest_sample_boot_ms, sel.ref_boot_ms);
}

#[test]
fn a_forged_selection_is_ignored() {
    let samples: Vec<Sample> = (0..4)
        .map(|i| endpoint(BOOT_MS - 4_000 + 1_000 * i, THETA))
        .collect();
    let time = time_later(60_000);
    let expected = recomputed(&samples, &time).unwrap();
    // lo = hi = i64::MAX; and +1 h with zero width while the samples say +0.
    let forged = [
        json!({"lo_ms": i64::MAX, "hi_ms": i64::MAX, "ref_boot_ms": BOOT_MS, "best_source": "endpoint",
               "survivors": [], "falsetickers": [], "dropped_by_step": []}),
        json!({"lo_ms": THETA + 3_600_000, "hi_ms": THETA + 3_600_000, "ref_boot_ms": BOOT_MS,
               "best_source": "endpoint", "survivors": samples, "falsetickers": [],
               "dropped_by_step": []}),
        json!(42),
    ];
    for selection in forged {
        let clock = restore(&state(&samples, json!({ "selection": selection })), &time).unwrap();
        let e = clock.estimate().unwrap();
        assert_same(&e, &expected);
        let truth = time.boot_ms() + THETA;
        assert!((e.server_now_ms - truth).abs() <= e.uncertainty_ms, "{e:?}");
        // What it exports holds samples only.
        let exported: Value = serde_json::from_str(&clock.export_state().unwrap()).unwrap();
        assert!(exported.get("selection").is_none(), "{exported}");
    }
}

#[test]
fn a_sample_from_after_the_save_is_refused() {
    // A reference 31 years ahead would keep the uncertainty from ever
    // growing (drift is counted from the newest sample).
    let years_31 = 31 * 365 * 86_400_000i64;
    let mut samples: Vec<Sample> = (0..3)
        .map(|i| endpoint(BOOT_MS - 3_000 + 1_000 * i, THETA))
        .collect();
    samples.push(endpoint(BOOT_MS + years_31, THETA));
    let time = time_later(60_000);
    let r = restore(&state(&samples, json!({})), &time);
    assert!(
        matches!(&r, Err(Error::InvalidState(m)) if m.contains("after the state was saved")),
        "{r:?}"
    );
    // After a reboot too.
    let rebooted = Arc::new(FakeTimeSource::new(5_000, WALL_MS + 60_000, "boot-2"));
    assert!(matches!(
        restore(&state(&samples, json!({})), &rebooted),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn a_hundred_thousand_samples_are_trimmed_to_max_samples() {
    let samples: Vec<Sample> = (0..100_000)
        .map(|i| endpoint(BOOT_MS - 100_000_000 + 1_000 * i, THETA))
        .collect();
    let time = time_later(60_000);
    let clock = restore(&state(&samples, json!({})), &time).unwrap();
    let e = clock.estimate().unwrap();
    assert_same(&e, &recomputed(&samples, &time).unwrap());
    let exported: Value = serde_json::from_str(&clock.export_state().unwrap()).unwrap();
    let kept = exported["samples"].as_array().unwrap();
    assert_eq!(kept.len(), ClockConfig::new("").max_samples as usize);
    // The newest ones.
    let newest = samples.last().unwrap().taken_boot_ms;
    assert!(kept.iter().any(|s| s["taken_boot_ms"] == json!(newest)));
}

#[test]
fn forged_policy_times_cannot_stop_syncing_for_long() {
    let samples = [endpoint(BOOT_MS - 1_000, THETA)];
    let time = time_later(60_000);
    let extra = json!({"policy": {
        "last_attempt_boot_ms": i64::MAX, "consecutive_failures": u32::MAX,
        "retry_at_boot_ms": i64::MAX, "rate_limited": true,
        "endpoint_unsupported_until_boot_ms": i64::MAX,
        "network_changed": false, "reboot_detected": false
    }});
    let clock = restore(&state(&samples, extra), &time).unwrap();
    let due = clock.next_sync_due_in_ms();
    assert!(
        due <= 86_400_000,
        "a forged state holds syncing off for {due} ms"
    );
}

#[test]
fn samples_that_disagree_give_no_estimate_and_stay() {
    let samples = [
        endpoint(BOOT_MS - 2_000, THETA),
        endpoint(BOOT_MS - 1_000, THETA + 86_400_000),
    ];
    let time = time_later(60_000);
    let clock = restore(&state(&samples, json!({})), &time).unwrap();
    assert!(clock.estimate().is_none());
    let exported: Value = serde_json::from_str(&clock.export_state().unwrap()).unwrap();
    assert_eq!(exported["samples"].as_array().unwrap().len(), 2);
}

/// A sample as saved state may hold it: mostly honest or a little off, now
/// and then far off, empty, absurd, or from after the save.
fn any_saved_sample() -> impl Strategy<Value = Sample> {
    let honest = (0i64..200_000, 0i64..300, -2_000i64..2_000).prop_map(|(ago, rtt, off)| {
        let taken = BOOT_MS - ago;
        Sample::from_endpoint(taken - rtt, taken, taken - rtt / 2 + THETA + off).unwrap()
    });
    let raw =
        (any::<i64>(), any::<i64>(), any::<i64>(), 0u8..3).prop_map(|(lo, hi, taken, src)| {
            Sample {
                source: [
                    mxclock::SampleSource::Endpoint,
                    mxclock::SampleSource::DateHeader,
                    mxclock::SampleSource::EventAge,
                ][src as usize],
                lo_ms: lo,
                hi_ms: hi,
                taken_boot_ms: taken,
            }
        });
    let near =
        (-5_000i64..5_000, 0i64..20_000, -100_000i64..1_000).prop_map(|(lo, w, ago)| Sample {
            source: mxclock::SampleSource::DateHeader,
            lo_ms: THETA + lo,
            hi_ms: THETA + lo + w,
            taken_boot_ms: BOOT_MS + ago,
        });
    prop_oneof![6 => honest, 1 => raw, 2 => near]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever the saved samples, a restored clock's estimate on the same
    /// boot is exactly what selecting among them gives; after a reboot it is
    /// never tighter. A state with an invalid sample is refused as a whole.
    #[test]
    fn the_estimate_is_recomputed_from_the_saved_samples(
        samples in proptest::collection::vec(any_saved_sample(), 0..40),
        later in 0i64..3_600_000,
    ) {
        let json = state(&samples, json!({}));
        let invalid = samples.iter().any(|s| s.validate().is_err() || s.taken_boot_ms > BOOT_MS);
        let time = time_later(later);
        match restore(&json, &time) {
            Ok(clock) => {
                prop_assert!(!invalid, "accepted an invalid sample");
                match (clock.estimate(), recomputed(&samples, &time)) {
                    (Some(e), Some(expected)) => assert_same(&e, &expected),
                    (None, None) => {}
                    (e, expected) => prop_assert!(false, "{e:?} vs {expected:?}"),
                }
            }
            Err(Error::InvalidState(_)) => prop_assert!(invalid),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
        // After a reboot: carried through the wall clock, never tighter.
        let rebooted = Arc::new(FakeTimeSource::new(5_000, WALL_MS + later, "boot-2"));
        if let Ok(clock) = restore(&json, &rebooted) {
            let at_save = time_later(0);
            match (clock.estimate(), recomputed(&samples, &at_save)) {
                // The carried interval holds the bounds the samples gave.
                (Some(e), Some((_, _, sel))) => {
                    prop_assert!(e.uncertainty_ms >= (sel.hi_ms - sel.lo_ms + 1) / 2, "{e:?} {sel:?}")
                }
                (Some(e), None) => prop_assert!(false, "invented: {e:?}"),
                (None, _) => {}
            }
        }
    }
}

#[test]
fn the_memory_of_several_clocks_is_kept_checked_and_carried_over_a_reboot() {
    let samples = [endpoint(BOOT_MS - 1_000, THETA)];
    let policy = |until: Value| {
        json!({"policy": {
            "last_attempt_boot_ms": null, "consecutive_failures": 0, "retry_at_boot_ms": null,
            "rate_limited": false, "endpoint_unsupported_until_boot_ms": null,
            "network_changed": false, "reboot_detected": false,
            "several_clocks_until_boot_ms": until
        }})
    };
    let kept = |clock: &ServerClock| {
        let exported: Value = serde_json::from_str(&clock.export_state().unwrap()).unwrap();
        exported["policy"]["several_clocks_until_boot_ms"].as_i64()
    };
    // Same boot: kept as saved, and a forged one far ahead lasts a day.
    let time = time_later(60_000);
    let clock = restore(&state(&samples, policy(json!(BOOT_MS + 3_600_000))), &time).unwrap();
    assert_eq!(kept(&clock), Some(BOOT_MS + 3_600_000));
    let clock = restore(&state(&samples, policy(json!(i64::MAX))), &time).unwrap();
    assert_eq!(kept(&clock), Some(BOOT_MS + 60_000 + 86_400_000));
    // State saved before the field existed: nothing remembered.
    let clock = restore(&state(&samples, json!({})), &time).unwrap();
    assert_eq!(kept(&clock), None);
    // Not a number: refused.
    assert!(matches!(
        restore(&state(&samples, policy(json!("soon"))), &time),
        Err(Error::InvalidState(_))
    ));
    // After a reboot, what remains by the wall clock: an hour was left at
    // the save, a minute has passed.
    let rebooted = Arc::new(FakeTimeSource::new(5_000, WALL_MS + 60_000, "boot-2"));
    let clock = restore(
        &state(&samples, policy(json!(BOOT_MS + 3_600_000))),
        &rebooted,
    )
    .unwrap();
    assert_eq!(kept(&clock), Some(5_000 + 3_600_000 - 60_000));
}
