//! Events evaluated per second: the batch call `evaluate_events_json` on a
//! 1 000-event mixed timeline versus one `evaluate_event_json` call per
//! event, measured side by side in one run, next to what merely scanning the
//! same JSON costs (serde's `IgnoredAny`: the floor for any parser that
//! checks the whole text). Plain `fn main`, prints a table; run with
//! `cargo bench --bench expiry`.
//!
//! Time is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time: on a machine shared with other builds, wall time mostly measures
//! the neighbours.
//!
//! `MXCLOCK_BENCH_BATCH=FILE` also times the batch call on that file (a JSON
//! array of events), e.g. the batch `scripts/test-kotlin.sh --bench` writes,
//! so the Rust share of a call from Kotlin can be told from the rest.

use std::hint::black_box;
use std::time::Duration;

use mxclock::{evaluate_event, evaluate_event_json, evaluate_events_json, ServerNow};
use serde_json::Value;

const EVENTS: usize = 1_000;
const ROUNDS: usize = 7;
const ROUND_TIME: Duration = Duration::from_millis(300);
/// Cost of one uniffi call from Kotlin on these machines (see
/// `scripts/test-kotlin.sh --bench`).
const UNIFFI_CALL_NS: f64 = 9_000.0;

/// The fixtures of every supported event type, plus events without a rule
/// and a broken one, as a timeline would mix them.
fn timeline() -> (Vec<Value>, usize) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events/");
    let text = std::fs::read_to_string(format!("{dir}timeline.json")).expect("timeline.json");
    let kinds: Vec<Value> = serde_json::from_str(&text).expect("timeline.json is an array");
    let timeline = (0..EVENTS)
        .map(|i| {
            let mut ev = kinds[i % kinds.len()].clone();
            // Realistic sizes: a call invite carries an SDP offer of a few KB,
            // a text message a body and its HTML.
            if let Some(offer) = ev.pointer_mut("/content/offer") {
                offer["sdp"] = Value::String(sdp(i));
            }
            if ev.pointer("/content/msgtype") == Some(&Value::from("m.text")) {
                let body = format!("message {i}: {}", "lorem ipsum dolor sit amet ".repeat(8));
                ev["content"]["formatted_body"] = Value::String(format!("<p>{body}</p>"));
                ev["content"]["body"] = Value::String(body);
            }
            // Distinct ids and timestamps, so nothing is trivially repeated.
            if let Some(obj) = ev.as_object_mut() {
                obj.insert("event_id".into(), Value::String(format!("$ev{i}")));
                if let Some(ts) = obj.get("origin_server_ts").and_then(Value::as_i64) {
                    obj.insert("origin_server_ts".into(), (ts + i as i64).into());
                }
            }
            ev
        })
        .collect();
    (timeline, kinds.len())
}

/// A plausible 4 KB WebRTC offer (only its size matters here).
fn sdp(i: usize) -> String {
    let mut sdp = format!("v=0\r\no=- {i} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    let mut n = 0;
    while sdp.len() < 4_000 {
        sdp.push_str(&format!(
            "a=candidate:{n} 1 udp 2122260223 192.168.1.{} {} typ host generation 0\r\n",
            n % 250,
            50_000 + n
        ));
        n += 1;
    }
    sdp
}

/// This thread's CPU time.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median events per CPU second of each path over `ROUNDS` rounds of
/// `ROUND_TIME`, the paths taking turns within each round so that what
/// other processes do to the caches hits them alike.
fn measure(paths: &mut [&mut dyn FnMut() -> usize]) -> Vec<f64> {
    let mut rates = vec![Vec::with_capacity(ROUNDS); paths.len()];
    for _ in 0..ROUNDS {
        for (path, rates) in paths.iter_mut().zip(rates.iter_mut()) {
            let start = cpu_time();
            let mut events = 0usize;
            while cpu_time() - start < ROUND_TIME {
                events += path();
            }
            rates.push(events as f64 / (cpu_time() - start).as_secs_f64());
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[ROUNDS / 2]
        })
        .collect()
}

fn main() {
    let (events, kinds) = timeline();
    let batch_json = serde_json::to_string(&events).expect("serialise");
    let singles: Vec<String> = events.iter().map(Value::to_string).collect();
    let now = ServerNow {
        server_now_ms: 1_700_000_010_000,
        uncertainty_ms: 120,
        boot_ms: 86_400_000,
    };
    let received = Some(now.boot_ms - 500);

    // Sanity: the three ways agree before anything is timed.
    let outcomes = evaluate_events_json(&batch_json, &now, received).expect("batch");
    let ok = outcomes.iter().filter(|o| o.result.is_some()).count();
    for (s, o) in singles.iter().zip(&outcomes) {
        assert_eq!(evaluate_event_json(s, &now, received).ok(), o.result);
    }

    let mut batch = || {
        let out = evaluate_events_json(black_box(&batch_json), black_box(&now), received);
        black_box(out.expect("batch")).len()
    };
    // Errors are formatted as the batch does for `EventOutcome.error` (and
    // as an FFI exception would be), so both paths do the same work.
    let mut single = || {
        for s in &singles {
            let r = evaluate_event_json(black_box(s), black_box(&now), received);
            let _ = black_box(r.map_err(|e| e.to_string()));
        }
        singles.len()
    };
    let mut parsed = || {
        for ev in &events {
            let _ = black_box(evaluate_event(black_box(ev), black_box(&now), received));
        }
        events.len()
    };
    // The floor: checking the JSON text without building anything.
    let mut scan = || {
        let v: serde::de::IgnoredAny = serde_json::from_str(black_box(&batch_json)).expect("JSON");
        black_box(v);
        EVENTS
    };
    let rates = measure(&mut [&mut batch, &mut single, &mut parsed, &mut scan]);
    let (batch, single, parsed, scan) = (rates[0], rates[1], rates[2], rates[3]);

    println!(
        "mxclock expiry benchmark: {EVENTS}-event mixed timeline ({} kinds, {ok} evaluable, {} errors), \
         median of {ROUNDS} x {} ms of CPU time",
        kinds,
        EVENTS - ok,
        ROUND_TIME.as_millis()
    );
    println!("{:<52} {:>14} {:>12}", "path", "events/s", "ns/event");
    for (name, rate) in [
        ("evaluate_events_json (one call, 1 000 events)", batch),
        ("evaluate_event_json (one call per event)", single),
        (
            "evaluate_event (a serde_json::Value, printed again)",
            parsed,
        ),
        ("scan only: from_str::<IgnoredAny> (the floor)", scan),
    ] {
        println!("{name:<52} {rate:>14.0} {:>12.0}", 1e9 / rate);
    }
    println!(
        "batch / single: {:.2}x; batch / scan: {:.2}; batch JSON size {} bytes",
        batch / single,
        batch / scan,
        batch_json.len()
    );
    if let Ok(path) = std::env::var("MXCLOCK_BENCH_BATCH") {
        file_batch(&path, &now, received);
    }
    // What the batch is for: from Kotlin every uniffi call costs about
    // UNIFFI_CALL_NS whatever it does. An estimate
    // from that figure, not a measurement of this run.
    let per_event_single = 1e9 / single + UNIFFI_CALL_NS;
    let per_event_batch = 1e9 / batch + UNIFFI_CALL_NS / EVENTS as f64;
    println!(
        "estimate across uniffi ({:.0} us/call): single {:.0} events/s, batch {:.0} events/s ({:.1}x)",
        UNIFFI_CALL_NS / 1e3,
        1e9 / per_event_single,
        1e9 / per_event_batch,
        per_event_single / per_event_batch
    );
}

/// Times the batch call on a file of events (`MXCLOCK_BENCH_BATCH`).
fn file_batch(path: &str, now: &ServerNow, received: Option<i64>) {
    let json = match std::fs::read_to_string(path) {
        Ok(json) => json,
        Err(e) => {
            println!("MXCLOCK_BENCH_BATCH={path}: cannot read: {e}");
            return;
        }
    };
    let n = match evaluate_events_json(&json, now, received) {
        Ok(outcomes) => outcomes.len(),
        Err(e) => {
            println!("MXCLOCK_BENCH_BATCH={path}: {e}");
            return;
        }
    };
    let mut batch = || {
        let out = evaluate_events_json(black_box(&json), black_box(now), received);
        black_box(out.map_or(0, |o| o.len()))
    };
    let rate = measure(&mut [&mut batch])[0];
    println!(
        "{path}: {n} events, {} bytes: evaluate_events_json {rate:.0} events/s, {:.0} ns/event",
        json.len(),
        1e9 / rate
    );
}
