//! Event JSON, one event and the batch: any text gives an outcome or a typed
//! error, at any server time (the extremes find arithmetic overflows). The
//! batch fails only for text that is not a JSON array; each element gets
//! one outcome, an error naming its JSON path, or a decision whose state
//! agrees with `ended`/`ignore`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxclock::{
    evaluate_event_json, evaluate_events_json, Error, EventExpiry, ExpiryState, ServerNow,
};

/// What every decision promises.
fn check(e: &EventExpiry) {
    assert_eq!(e.expiry.is_expired, e.expiry.remaining_ms <= 0, "{e:?}");
    if e.ended || e.ignore {
        assert_eq!(e.expiry.state, ExpiryState::Expired, "{e:?}");
    }
}

/// A realistic reading and extreme ones; chosen by input length so the
/// corpus stays plain JSON.
fn now_for(len: usize) -> ServerNow {
    match len % 4 {
        0 => ServerNow::new(1_700_000_030_000, 20, 5_000),
        1 => ServerNow::new(i64::MAX, i64::MAX, i64::MAX),
        2 => ServerNow::new(i64::MIN, 0, i64::MIN),
        _ => ServerNow::new(0, 1_000_000_000, -1),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let realistic = ServerNow::new(1_700_000_030_000, 20, 5_000);
    let extreme = now_for(data.len());
    // Each call parses the JSON again: keep the number of calls small so the
    // fuzzer stays fast (the extremes go through the single-event path).
    for (now, received) in [
        (realistic, None),
        (realistic, Some(realistic.boot_ms)),
        (extreme, Some(i64::MIN)),
        (extreme, Some(i64::MAX)),
    ] {
        match evaluate_event_json(json, &now, received) {
            Ok(e) => check(&e),
            Err(Error::InvalidEvent { field, reason }) => {
                assert!(!field.is_empty() && !reason.is_empty());
            }
            Err(Error::NoExpiryRule { .. }) => {}
            Err(other) => panic!("unexpected error kind: {other:?}"),
        }
    }
    for (now, received) in [(realistic, Some(realistic.boot_ms)), (extreme, None)] {
        match evaluate_events_json(json, &now, received) {
            Ok(outcomes) => {
                assert!(json.trim_start().starts_with('['), "not an array, yet Ok");
                for o in outcomes {
                    // Exactly one of result / error.
                    assert!(o.result.is_some() != o.error.is_some(), "{o:?}");
                    if let Some(e) = &o.result {
                        check(e);
                    }
                    if let Some(err) = &o.error {
                        assert!(err.message.contains(&err.path), "{err:?}");
                    }
                }
            }
            Err(Error::InvalidEvent { field, .. }) => assert_eq!(field, "$"),
            Err(other) => panic!("unexpected batch error kind: {other:?}"),
        }
    }
});
