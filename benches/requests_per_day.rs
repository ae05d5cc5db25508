//! Requests per phone per day under the default policy (issue 8, item 4).
//!
//! `cargo bench --bench requests_per_day` simulates days of a phone that
//! keeps the app alive, through the real `ServerClock` (default
//! `ClockConfig`, `sync_if_needed`, `next_sync_due_in_ms`, `network_changed`,
//! `export_state`/`restore`) with a simulated clock and an `HttpTransport`
//! that answers from a simulated homeserver with simulated network delays.
//! The app does what the docs ask: it calls `sync_if_needed()` at start,
//! when `next_sync_due_in_ms()` says so (WorkManager/BGTask), after each
//! network change, and after restoring its state on the reboot.
//!
//! A day: start at 00:00 (cold, no state), a reboot around 03:00 (OS update;
//! the device is off 60 s), network changes around 07:45, 08:30, 17:30 and
//! 18:15 (home Wi-Fi → mobile → office Wi-Fi → mobile → home), times jittered
//! by up to ±30 min per day; true boot-clock drift uniform in ±50 ppm
//! (mxclock assumes 100 ppm); mobile network delays (30 ms + exp 20 ms each
//! way, 2 % +500 ms). Every hour the estimate is checked against the truth.
//!
//! Time: the simulated clock is the bench's skipped-ahead time plus real
//! elapsed time, so that the real `std::thread::sleep` with which
//! `src/sync.rs` times `Date` probes moves it too. Days run in parallel
//! threads (they mostly sleep). Everything but those sub-ms sleep overshoots
//! is seeded.
//!
//! Peers are counted from their published defaults on the same day:
//! * TrueTime-Android (instacart/truetime-android `TrueTimeParameters`:
//!   `syncIntervalInMillis = 3600_000`; `TrueTimeImpl.init`: 5 requests to
//!   each IP the NTP host resolves to, up to 5 IPs: "5×5"), re-initialised
//!   when the app restarts after the reboot.
//! * Kronos-Android (lyft/Kronos-Android `DefaultParam`:
//!   `CACHE_EXPIRATION_MS` = `MIN_WAIT_TIME_BETWEEN_SYNC_MS` = 1 min; one
//!   SNTP request per sync; `SntpService.currentTime` starts a background
//!   sync when the cached response is ≥ 1 min old): with the app reading the
//!   time once a minute.

#[path = "sim/mod.rs"]
mod sim;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use mxclock::protocol::DEFAULT_ENDPOINT_PATH;
use mxclock::transport::TransportError;
use mxclock::{
    ClockConfig, HttpHeader, HttpRequest, HttpResponse, HttpTransport, ServerClock, SyncReason,
    TimeSource,
};
use sim::{Network, Rng, SERVER_EPOCH_MS};

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 24.0 * HOUR_MS;
/// Days simulated per server kind.
const DAYS: u64 = 10;
/// How long the phone is off for the reboot.
const REBOOT_OFF_MS: f64 = 60_000.0;
/// Boot clock when the app restores its state after the reboot.
const BOOT_AT_RESTORE_MS: f64 = 20_000.0;

struct Inner {
    /// Simulated time skipped ahead by the bench (ms), on top of real time.
    skipped_ms: f64,
    /// τ at which the current boot's clock read 0.
    boot_origin_tau: f64,
    boot_id: String,
    rng: Rng,
}

/// The simulated world: true time τ, the server clock `S(τ) = S₀ + τ`, the
/// device boot clock (drifting), and the homeserver with its network path.
struct World {
    real_start: Instant,
    /// Boot clock rate − 1.
    drift: f64,
    date_only: bool,
    network: Network,
    inner: Mutex<Inner>,
    endpoint_requests: AtomicU64,
    date_requests: AtomicU64,
}

impl World {
    fn new(seed: u64, date_only: bool) -> World {
        let mut rng = Rng::new(seed);
        let drift = rng.uniform(-50e-6, 50e-6);
        World {
            real_start: Instant::now(),
            drift,
            date_only,
            network: Network::mobile(),
            inner: Mutex::new(Inner {
                skipped_ms: 0.0,
                boot_origin_tau: -rng.uniform(3_600_000.0, 10.0 * DAY_MS),
                boot_id: format!("boot-{seed}-0"),
                rng,
            }),
            endpoint_requests: AtomicU64::new(0),
            date_requests: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tau_with(&self, inner: &Inner) -> f64 {
        inner.skipped_ms + self.real_start.elapsed().as_secs_f64() * 1000.0
    }

    fn tau(&self) -> f64 {
        self.tau_with(&self.lock())
    }

    fn server_ms(&self, tau: f64) -> f64 {
        SERVER_EPOCH_MS + tau
    }

    /// Skip simulated time ahead to τ (never back).
    fn advance_to(&self, tau: f64) {
        let mut inner = self.lock();
        let now = self.tau_with(&inner);
        if tau > now {
            inner.skipped_ms += tau - now;
        }
    }

    fn advance_by(&self, ms: f64) {
        self.lock().skipped_ms += ms;
    }

    /// The phone reboots now: off for a minute, the boot clock restarts.
    fn reboot(&self, n: u32) {
        let mut inner = self.lock();
        inner.skipped_ms += REBOOT_OFF_MS;
        let now = self.tau_with(&inner);
        inner.boot_origin_tau = now - BOOT_AT_RESTORE_MS;
        let seed_part = inner.boot_id.split('-').nth(1).unwrap_or("0").to_owned();
        inner.boot_id = format!("boot-{seed_part}-{n}");
    }

    fn requests(&self) -> (u64, u64) {
        (
            self.endpoint_requests.load(Ordering::Relaxed),
            self.date_requests.load(Ordering::Relaxed),
        )
    }
}

impl TimeSource for World {
    fn boot_ms(&self) -> i64 {
        let inner = self.lock();
        let tau = self.tau_with(&inner);
        ((tau - inner.boot_origin_tau) * (1.0 + self.drift)).floor() as i64
    }

    fn wall_ms(&self) -> i64 {
        // A device clock 2 s fast: irrelevant to the counts, but not equal
        // to the server's.
        (self.server_ms(self.tau()) + 2_000.0).floor() as i64
    }

    fn boot_id(&self) -> String {
        self.lock().boot_id.clone()
    }
}

fn date_header(server_ms: f64) -> HttpHeader {
    let s = (server_ms / 1000.0).floor() as u64;
    HttpHeader::new(
        "Date",
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s)),
    )
}

impl HttpTransport for World {
    fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (up, down) = {
            let mut inner = self.lock();
            let net = self.network;
            net.draw(&mut inner.rng)
        };
        self.advance_by(up);
        let server_ms = self.server_ms(self.tau());
        self.advance_by(down);
        let endpoint = request.url.ends_with(DEFAULT_ENDPOINT_PATH);
        if endpoint {
            self.endpoint_requests.fetch_add(1, Ordering::Relaxed);
        } else {
            self.date_requests.fetch_add(1, Ordering::Relaxed);
        }
        let json = HttpHeader::new("Content-Type", "application/json");
        Ok(match (endpoint, self.date_only) {
            (true, false) => HttpResponse {
                status: 200,
                headers: vec![date_header(server_ms), json],
                body: format!("{{\"server_now\": {}}}", server_ms.floor() as i64).into_bytes(),
            },
            (true, true) => HttpResponse {
                status: 404,
                headers: vec![date_header(server_ms), json],
                body: br#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#.to_vec(),
            },
            (false, _) => HttpResponse {
                status: 200,
                headers: vec![date_header(server_ms), json],
                body: br#"{"versions":["v1.11"]}"#.to_vec(),
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Reboot,
    NetworkChanged,
    /// Compare the estimate with the truth (no action).
    Check,
}

/// The day's events, jittered per day.
fn schedule(rng: &mut Rng) -> Vec<(f64, Event)> {
    let jitter = |rng: &mut Rng| rng.uniform(-0.5 * HOUR_MS, 0.5 * HOUR_MS);
    let mut events = vec![(3.0 * HOUR_MS + jitter(rng), Event::Reboot)];
    for h in [7.75, 8.5, 17.5, 18.25] {
        events.push((h * HOUR_MS + jitter(rng), Event::NetworkChanged));
    }
    for h in 1..24 {
        events.push((h as f64 * HOUR_MS, Event::Check));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events
}

#[derive(Debug, Default, Clone)]
struct DayResult {
    endpoint_requests: u64,
    date_requests: u64,
    syncs: u64,
    by_reason: [u64; 4],
    /// Requests spent by syncs of each reason.
    requests_by_reason: [u64; 4],
    failures: u64,
    checks: u64,
    checks_covered: u64,
    max_uncertainty_ms: i64,
    max_error_ms: f64,
    reboot_at_ms: f64,
}

fn reason_index(r: Option<SyncReason>) -> usize {
    match r {
        Some(SyncReason::NoEstimate) | None => 0,
        Some(SyncReason::UncertaintyTooHigh) => 1,
        Some(SyncReason::Reboot) => 2,
        Some(SyncReason::NetworkChanged) => 3,
    }
}

fn simulate_day(seed: u64, date_only: bool) -> DayResult {
    let world = Arc::new(World::new(seed, date_only));
    let mut rng = Rng::new(seed ^ 0xDA7E);
    let events = schedule(&mut rng);
    let config = ClockConfig::new("https://matrix.example.org");
    let time: Arc<dyn TimeSource> = world.clone();
    let transport: Arc<dyn HttpTransport> = world.clone();
    let mut clock =
        ServerClock::with_sources(config.clone(), Some(time.clone()), Some(transport.clone()))
            .expect("default config is valid");
    let mut result = DayResult::default();
    let mut next_event = 0;
    let mut reboots = 0;
    loop {
        // Ask the clock for work; it returns None when nothing is due.
        match clock.sync_if_needed() {
            Ok(Some(report)) => {
                result.syncs += 1;
                result.by_reason[reason_index(report.reason)] += 1;
                result.requests_by_reason[reason_index(report.reason)] +=
                    u64::from(report.requests);
            }
            Ok(None) => {}
            Err(_) => result.failures += 1,
        }
        let now = world.tau();
        let due = clock.next_sync_due_in_ms().max(1) as f64;
        let event_at = events.get(next_event).map(|e| e.0).unwrap_or(f64::INFINITY);
        let wake = (now + due).min(event_at).min(DAY_MS);
        if wake >= DAY_MS {
            break;
        }
        world.advance_to(wake);
        if wake >= event_at {
            let (_, event) = events[next_event];
            next_event += 1;
            match event {
                Event::NetworkChanged => clock.network_changed(),
                Event::Reboot => {
                    reboots += 1;
                    let state = clock.export_state().expect("state exports");
                    result.reboot_at_ms = world.tau();
                    world.reboot(reboots);
                    clock = ServerClock::restore(
                        config.clone(),
                        state,
                        Some(time.clone()),
                        Some(transport.clone()),
                    )
                    .expect("own state restores");
                }
                Event::Check => {
                    if let Some(e) = clock.estimate() {
                        let truth = world.server_ms(world.tau());
                        let err = (e.server_now_ms as f64 - truth).abs();
                        result.checks += 1;
                        if err <= e.uncertainty_ms as f64 + 1.0 {
                            result.checks_covered += 1;
                        }
                        result.max_error_ms = result.max_error_ms.max(err);
                        result.max_uncertainty_ms = result.max_uncertainty_ms.max(e.uncertainty_ms);
                    }
                }
            }
        }
    }
    let (endpoint, date) = world.requests();
    result.endpoint_requests = endpoint;
    result.date_requests = date;
    result
}

/// TrueTime-Android: a sync at app start and every hour after it; the app
/// restarts after the reboot and syncs again. 5 requests × 5 IPs per sync.
fn truetime_syncs(reboot_at_ms: f64) -> u64 {
    let mut syncs = 0;
    let mut t = 0.0;
    while t < reboot_at_ms {
        syncs += 1;
        t += HOUR_MS;
    }
    let mut t = reboot_at_ms + REBOOT_OFF_MS;
    while t < DAY_MS {
        syncs += 1;
        t += HOUR_MS;
    }
    syncs
}

/// Kronos-Android with the app reading the time every `read_every_ms`: a
/// read starts a background sync when the cached response is at least a
/// minute old and the last sync ended at least a minute ago; a sync (one
/// SNTP exchange) takes `sync_ms`. The cache is dropped across the reboot.
fn kronos_requests(reboot_at_ms: f64, read_every_ms: f64, sync_ms: f64) -> u64 {
    const MIN_MS: f64 = 60_000.0;
    let mut requests = 0;
    let mut response_at: Option<f64> = None;
    let mut last_sync_end = f64::NEG_INFINITY;
    let mut t = 0.0;
    let mut rebooted = false;
    while t < DAY_MS {
        if !rebooted && t >= reboot_at_ms {
            rebooted = true;
            response_at = None;
            last_sync_end = f64::NEG_INFINITY;
            t = reboot_at_ms + REBOOT_OFF_MS;
            continue;
        }
        let stale = response_at.is_none_or(|r| t - r >= MIN_MS);
        if stale && t - last_sync_end >= MIN_MS {
            requests += 1;
            response_at = Some(t + sync_ms);
            last_sync_end = t + sync_ms;
        }
        t += read_every_ms;
    }
    requests
}

fn mean_min_max(v: &[f64]) -> (f64, f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

fn run(date_only: bool) -> Vec<DayResult> {
    let handles: Vec<_> = (0..DAYS)
        .map(|day| {
            let seed = 0x5EED_0000 + day + if date_only { 1_000 } else { 0 };
            std::thread::spawn(move || simulate_day(seed, date_only))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a simulated day panicked"))
        .collect()
}

fn main() {
    let started = Instant::now();
    let endpoint_days = run(false);
    let date_days = run(true);

    println!("## Requests per phone per day ({DAYS} simulated days per server kind)\n");
    println!(
        "| client | server | requests/day mean (min–max) | syncs/day | of which: start, drift, reboot, network | requests per sync: start, drift, reboot, network | failed syncs | hourly checks inside uncertainty | max uncertainty (ms) | max error (ms) |"
    );
    println!("|---|---|---:|---:|---|---|---:|---:|---:|---:|");
    for (label, days) in [
        ("MSC4094 endpoint", &endpoint_days),
        ("`Date` only", &date_days),
    ] {
        let reqs: Vec<f64> = days
            .iter()
            .map(|d| (d.endpoint_requests + d.date_requests) as f64)
            .collect();
        let (mean, min, max) = mean_min_max(&reqs);
        let syncs: Vec<f64> = days.iter().map(|d| d.syncs as f64).collect();
        let by: Vec<f64> = (0..4)
            .map(|i| days.iter().map(|d| d.by_reason[i] as f64).sum::<f64>() / days.len() as f64)
            .collect();
        let per_sync: Vec<String> = (0..4)
            .map(|i| {
                let req: u64 = days.iter().map(|d| d.requests_by_reason[i]).sum();
                let n: u64 = days.iter().map(|d| d.by_reason[i]).sum();
                if n == 0 {
                    "—".to_string()
                } else {
                    format!("{:.1}", req as f64 / n as f64)
                }
            })
            .collect();
        let checks: u64 = days.iter().map(|d| d.checks).sum();
        let covered: u64 = days.iter().map(|d| d.checks_covered).sum();
        let failures: u64 = days.iter().map(|d| d.failures).sum();
        let max_u = days.iter().map(|d| d.max_uncertainty_ms).max().unwrap_or(0);
        let max_err = days.iter().map(|d| d.max_error_ms).fold(0.0, f64::max);
        let endpoint_share: u64 = days.iter().map(|d| d.endpoint_requests).sum();
        let date_share: u64 = days.iter().map(|d| d.date_requests).sum();
        println!(
            "| mxclock (default policy) | {label} | {mean:.1} ({min:.0}–{max:.0}) [endpoint {:.1}, `Date` probes {:.1}] | {:.1} | {:.1}, {:.1}, {:.1}, {:.1} | {} | {failures} | {covered}/{checks} | {max_u} | {max_err:.1} |",
            endpoint_share as f64 / days.len() as f64,
            date_share as f64 / days.len() as f64,
            mean_min_max(&syncs).0,
            by[0],
            by[1],
            by[2],
            by[3],
            per_sync.join(", "),
        );
    }
    // Peers on the same days (their requests go to NTP servers, not to the
    // homeserver, so the server kind does not change them).
    let reboots: Vec<f64> = endpoint_days.iter().map(|d| d.reboot_at_ms).collect();
    let tt: Vec<f64> = reboots.iter().map(|&r| truetime_syncs(r) as f64).collect();
    let (tt_syncs, _, _) = mean_min_max(&tt);
    println!(
        "| TrueTime-Android (hourly, 5 requests × 5 IPs) | any (NTP) | {:.0} | {tt_syncs:.1} | — | 25 | — | — | — | — |",
        tt_syncs * 25.0
    );
    for (every, label) in [(60_000.0, "1 min"), (300_000.0, "5 min")] {
        let k: Vec<f64> = reboots
            .iter()
            .map(|&r| kronos_requests(r, every, 100.0) as f64)
            .collect();
        let (mean, _, _) = mean_min_max(&k);
        println!(
            "| Kronos-Android (1 request per sync; app reads the time every {label}) | any (NTP) | {mean:.0} | {mean:.0} | — | 1 | — | — | — | — |"
        );
    }
    println!(
        "\nSimulated {} days in {:.1} s (real time; `Date` probes really sleep).",
        2 * DAYS,
        started.elapsed().as_secs_f64()
    );
}
