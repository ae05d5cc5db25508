//! `mxclock demo`: syncs against an in-process homeserver whose clock is off
//! by a random skew, over a jittery ~40 ms network, first through the
//! MSC4094 endpoint and then through `Date` headers alone, and shows the
//! estimate next to the truth (which only the demo's server knows).

use std::time::{SystemTime, UNIX_EPOCH};

use mxclock::{ClockConfig, ServerClock, SyncReport};
use mxclock_test_homeserver::{Delay, HomeserverConfig, TestHomeserver};

const USAGE: &str = "usage: mxclock demo [--seed N]";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => {
                seed = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("--seed needs a number\n{USAGE}"))?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    // A skew between −2 h and +2 h with a sub-millisecond part.
    let skew_ms =
        ((seed % 14_400_000) as f64) - 7_200_000.0 + ((seed >> 32) % 1000) as f64 / 1000.0;
    let server = TestHomeserver::start(HomeserverConfig {
        skew_ms,
        uplink: Delay::jittered(30.0, 10.0),
        downlink: Delay::jittered(30.0, 10.0),
        msc4094: true,
        seed,
        ..HomeserverConfig::default()
    })
    .map_err(|e| format!("could not start the demo homeserver on 127.0.0.1: {e}"))?;

    println!("demo homeserver at {} (seed {seed})", server.base_url());
    println!("its clock is off from this machine's by {skew_ms:+.3} ms; the network adds 30 ms + jitter each way\n");
    println!(
        "{:<24} {:>8} {:>16} {:>14} {:>14} {:>8}",
        "mode", "requests", "offset_ms", "uncertainty", "true error", "inside"
    );

    let endpoint =
        ServerClock::new(ClockConfig::new(&server.base_url())).map_err(|e| e.to_string())?;
    let report = endpoint
        .sync()
        .map_err(|e| format!("endpoint sync failed: {e}"))?;
    row("MSC4094 endpoint", &endpoint, &report, &server);

    server.set_msc4094(false);
    let date = ServerClock::new(ClockConfig::new(&server.base_url())).map_err(|e| e.to_string())?;
    let report = date
        .sync()
        .map_err(|e| format!("Date-header sync failed: {e}"))?;
    row("Date header (probed)", &date, &report, &server);

    println!(
        "\noffset_ms is server minus this machine's wall clock; true error = estimate − truth."
    );
    println!("`inside` says whether the truth lies within ± uncertainty (it always should).");
    Ok(())
}

fn row(mode: &str, clock: &ServerClock, report: &SyncReport, server: &TestHomeserver) {
    let truth = server.true_server_ms();
    let Ok(now) = clock.server_now_ms() else {
        return;
    };
    let e = report.estimate;
    let err = now as f64 - truth;
    let inside = err.abs() <= e.uncertainty_ms as f64 + 1.0;
    println!(
        "{:<24} {:>8} {:>16} {:>11} ms {:>+11.1} ms {:>8}",
        mode,
        report.requests,
        e.offset_ms,
        format!("±{}", e.uncertainty_ms),
        err,
        if inside { "yes" } else { "NO" }
    );
}
