//! Requests per phone per day, and the error at hourly checks, with a
//! realistic crystal.
//!
//! `cargo bench --bench requests_per_day` simulates days of a phone that
//! keeps the app alive, through the real `ServerClock` (`sync_if_needed`,
//! `next_sync_due_in_ms`, `network_changed`, `export_state`/`restore`) with a
//! simulated clock, sleeps and an `HttpTransport` that answers from a
//! simulated homeserver over simulated network delays. Two configurations
//! run on the same days: the default (`learn_drift` on) and `learn_drift`
//! off (a fixed 100 ppm bound and the earlier policy). It prints both side
//! by side, then for each row where the requests go (per boot, per sync of
//! that boot: how many, how many requests each, the uncertainty after) and
//! what explains the largest errors at the hourly checks (which boot, how
//! many syncs it had, how long since the last one), and writes
//! `bench/requests_per_day.json` under the cargo target directory (per-day
//! numbers and a trace of one day, for the plots of `scripts/plots.sh`).
//!
//! The app does what the docs ask: it calls `sync_if_needed()` at start,
//! when `next_sync_due_in_ms()` says so (WorkManager/BGTask), after each
//! network change, and after restoring its state on the reboot. While the
//! phone sleeps (about 23:00 to 07:00) such jobs run only in maintenance
//! windows, at half past each hour (Doze).
//!
//! A day: cold start at 00:00 (no state), a reboot around 03:00 (the phone
//! is off 60 s), network changes around 07:45, 08:30, 17:30 and 18:15, each
//! jittered by up to ±30 min. The crystal: the boot clock runs fast or slow
//! by a fixed rate uniform in ±50 ppm, plus a daily swing of up to ±3 ppm
//! (temperature: phone in a pocket, on a desk, charging), plus up to ±20 ppm
//! more while asleep (the sleep crystal's tolerance: another oscillator). Mobile network
//! delays (30 ms + exp 20 ms each way, 2 % +500 ms). Every hour the estimate
//! is checked against the truth; every 5 minutes of the first day it is
//! traced. Everything is seeded and simulated (no real sleeps): two runs
//! print the same numbers.
//!
//! Peers are counted from their published defaults on the same days:
//! * TrueTime-Android (instacart/truetime-android `TrueTimeParameters`:
//!   `syncIntervalInMillis = 3600_000`; `TrueTimeImpl.init`: 5 requests to
//!   each IP the NTP host resolves to, up to 5 IPs: "5×5"), re-initialised
//!   when the app restarts after the reboot.
//! * Kronos-Android (lyft/Kronos-Android `DefaultParam`:
//!   `CACHE_EXPIRATION_MS` = `MIN_WAIT_TIME_BETWEEN_SYNC_MS` = 1 min; one
//!   SNTP request per sync; `SntpService.currentTime` starts a background
//!   sync when the cached response is ≥ 1 min old): with the app reading the
//!   time once a minute or once every 5 minutes.

#[path = "sim/mod.rs"]
mod sim;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use mxclock::{
    ClockConfig, HttpHeader, HttpRequest, HttpResponse, HttpTransport, ServerClock, Sleeper,
    SyncReason, TimeSource, TransportError, DEFAULT_ENDPOINT_PATH,
};
use serde_json::json;
use sim::{Network, Rng, SERVER_EPOCH_MS};

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 24.0 * HOUR_MS;
/// Days simulated per server kind and configuration.
const DAYS: u64 = 20;
/// How long the phone is off for the reboot.
const REBOOT_OFF_MS: f64 = 60_000.0;
/// Boot clock when the app restores its state after the reboot.
const BOOT_AT_RESTORE_MS: f64 = 20_000.0;
/// The first day is traced this often.
const TRACE_EVERY_MS: f64 = 300_000.0;

/// The boot clock's rate error over the day (τ in ms from 00:00).
#[derive(Debug, Clone, Copy)]
struct Crystal {
    /// Fixed rate − 1.
    offset: f64,
    /// Amplitude of the daily swing.
    swing: f64,
    phase: f64,
    /// Extra rate while asleep.
    asleep_extra: f64,
    /// Asleep in [0, wake) and [sleep, day end).
    wake_ms: f64,
    sleep_ms: f64,
}

impl Crystal {
    fn new(rng: &mut Rng) -> Crystal {
        Crystal {
            offset: rng.uniform(-50e-6, 50e-6),
            swing: rng.uniform(0.0, 3e-6),
            phase: rng.uniform(0.0, 2.0 * std::f64::consts::PI),
            asleep_extra: rng.uniform(-20e-6, 20e-6),
            wake_ms: 7.0 * HOUR_MS + rng.uniform(-0.5 * HOUR_MS, 0.5 * HOUR_MS),
            sleep_ms: 23.0 * HOUR_MS + rng.uniform(-0.5 * HOUR_MS, 0.5 * HOUR_MS),
        }
    }

    fn asleep(&self, tau: f64) -> bool {
        tau < self.wake_ms || tau >= self.sleep_ms
    }

    /// Time asleep in [0, τ].
    fn asleep_until(&self, tau: f64) -> f64 {
        tau.clamp(0.0, self.wake_ms) + (tau - self.sleep_ms).max(0.0)
    }

    /// ∫₀^τ rate error: how far the boot clock ran ahead of true time.
    fn integral(&self, tau: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI / DAY_MS;
        self.offset * tau
            + self.swing / w * (self.phase.cos() - (w * tau + self.phase).cos())
            + self.asleep_extra * self.asleep_until(tau)
    }
}

struct Inner {
    /// True time since 00:00 of the simulated day, ms.
    tau: f64,
    /// τ at which the current boot's clock read `boot_at_origin`.
    origin_tau: f64,
    boot_at_origin: f64,
    boot_id: String,
    rng: Rng,
}

/// The simulated world: true time τ, the server clock `S(τ) = S₀ + τ`, the
/// device boot clock (with the crystal's error), and the homeserver with
/// its network path.
struct World {
    crystal: Crystal,
    date_only: bool,
    network: Network,
    inner: Mutex<Inner>,
    endpoint_requests: AtomicU64,
    date_requests: AtomicU64,
}

impl World {
    fn new(seed: u64, date_only: bool) -> World {
        let mut rng = Rng::new(seed);
        let crystal = Crystal::new(&mut rng);
        let boot_at_origin = rng.uniform(3_600_000.0, 10.0 * DAY_MS);
        World {
            crystal,
            date_only,
            network: Network::mobile(),
            inner: Mutex::new(Inner {
                tau: 0.0,
                origin_tau: 0.0,
                boot_at_origin,
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

    fn tau(&self) -> f64 {
        self.lock().tau
    }

    fn server_ms(&self, tau: f64) -> f64 {
        SERVER_EPOCH_MS + tau
    }

    /// Skip ahead to τ (never back).
    fn advance_to(&self, tau: f64) {
        let mut inner = self.lock();
        inner.tau = inner.tau.max(tau);
    }

    fn advance_by(&self, ms: f64) {
        self.lock().tau += ms.max(0.0);
    }

    /// The phone reboots now: off for a minute, the boot clock restarts.
    fn reboot(&self, seed: u64, n: u32) {
        let mut inner = self.lock();
        inner.tau += REBOOT_OFF_MS;
        inner.origin_tau = inner.tau;
        inner.boot_at_origin = BOOT_AT_RESTORE_MS;
        inner.boot_id = format!("boot-{seed}-{n}");
    }

    fn requests(&self) -> u64 {
        self.endpoint_requests.load(Ordering::Relaxed) + self.date_requests.load(Ordering::Relaxed)
    }
}

impl TimeSource for World {
    fn boot_ms(&self) -> i64 {
        let inner = self.lock();
        let c = &self.crystal;
        let boot = inner.boot_at_origin + (inner.tau - inner.origin_tau) + c.integral(inner.tau)
            - c.integral(inner.origin_tau);
        boot.floor() as i64
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

/// The library's waits (probe timing, request spacing) move simulated time.
impl Sleeper for World {
    fn sleep_ms(&self, ms: i64) {
        self.advance_by(ms as f64);
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
    /// Record the estimate's error and uncertainty (first day only).
    Trace,
}

/// The day's events, jittered per day.
fn schedule(rng: &mut Rng, trace: bool) -> Vec<(f64, Event)> {
    let jitter = |rng: &mut Rng| rng.uniform(-0.5 * HOUR_MS, 0.5 * HOUR_MS);
    let mut events = vec![(3.0 * HOUR_MS + jitter(rng), Event::Reboot)];
    for h in [7.75, 8.5, 17.5, 18.25] {
        events.push((h * HOUR_MS + jitter(rng), Event::NetworkChanged));
    }
    for h in 1..24 {
        events.push((h as f64 * HOUR_MS, Event::Check));
    }
    if trace {
        let mut t = TRACE_EVERY_MS;
        while t < DAY_MS {
            events.push((t, Event::Trace));
            t += TRACE_EVERY_MS;
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events
}

/// The next time the app may run a job at or after τ: at once while awake,
/// else at the next maintenance window (half past the hour) or the wake-up.
fn next_run_tau(c: &Crystal, tau: f64) -> f64 {
    if !c.asleep(tau) {
        return tau;
    }
    let window = ((tau - 0.5 * HOUR_MS) / HOUR_MS).ceil() * HOUR_MS + 0.5 * HOUR_MS;
    if tau < c.wake_ms {
        window.min(c.wake_ms)
    } else {
        window
    }
}

/// One sync of a simulated day, for the breakdown of where requests go.
#[derive(Debug, Clone)]
struct SyncLog {
    /// 0 on the cold boot, 1 after the reboot.
    boot: usize,
    /// 1 for the boot's first sync, 2 for its second, ...
    ordinal: usize,
    reason: usize,
    requests: u32,
    /// The estimate's uncertainty right after the sync, ms.
    uncertainty_ms: i64,
}

/// One hourly check, with what explains its error.
#[derive(Debug, Clone)]
struct CheckLog {
    hour: f64,
    boot: usize,
    error_ms: f64,
    uncertainty_ms: i64,
    /// Since the boot's latest sync, hours.
    since_sync_h: f64,
    /// Syncs so far on this boot.
    syncs_on_boot: usize,
    /// How fast the uncertainty grows (the snapshot's growth), ppm.
    growth_ppm: u32,
}

#[derive(Debug, Default, Clone)]
struct DayResult {
    requests: u64,
    syncs: u64,
    by_reason: [u64; 4],
    failures: u64,
    checks: u64,
    checks_covered: u64,
    max_uncertainty_ms: i64,
    max_error_ms: f64,
    reboot_at_ms: f64,
    /// (hour, |error| ms, uncertainty ms), first day only.
    trace: Vec<(f64, f64, i64)>,
    syncs_log: Vec<SyncLog>,
    checks_log: Vec<CheckLog>,
}

fn reason_index(r: Option<SyncReason>) -> usize {
    match r {
        Some(SyncReason::NoEstimate) | None => 0,
        Some(SyncReason::UncertaintyTooHigh) => 1,
        Some(SyncReason::Reboot) => 2,
        Some(SyncReason::NetworkChanged) => 3,
    }
}

fn simulate_day(seed: u64, date_only: bool, learn_drift: bool) -> DayResult {
    let world = Arc::new(World::new(seed, date_only));
    let mut rng = Rng::new(seed ^ 0xDA7E);
    let events = schedule(&mut rng, seed % DAYS == 0);
    let mut config = ClockConfig::new("https://matrix.example.org");
    config.learn_drift = learn_drift;
    let time: Arc<dyn TimeSource> = world.clone();
    let transport: Arc<dyn HttpTransport> = world.clone();
    let sleeper: Arc<dyn Sleeper> = world.clone();
    let mut clock = ServerClock::new_with_sources_and_sleeper(
        config.clone(),
        time.clone(),
        Some(transport.clone()),
        sleeper.clone(),
    )
    .expect("default config is valid");
    let mut result = DayResult::default();
    let mut next_event = 0;
    let mut reboots = 0;
    let mut boot = 0;
    let mut syncs_on_boot = 0;
    let mut last_sync_tau = 0.0;
    loop {
        // Ask the clock for work; it returns None when nothing is due.
        match clock.sync_if_needed() {
            Ok(Some(report)) => {
                result.syncs += 1;
                result.by_reason[reason_index(report.reason)] += 1;
                syncs_on_boot += 1;
                last_sync_tau = world.tau();
                result.syncs_log.push(SyncLog {
                    boot,
                    ordinal: syncs_on_boot,
                    reason: reason_index(report.reason),
                    requests: report.requests,
                    uncertainty_ms: report.estimate.uncertainty_ms,
                });
            }
            Ok(None) => {}
            Err(_) => result.failures += 1,
        }
        let now = world.tau();
        let due = clock.next_sync_due_in_ms().max(1) as f64;
        let event_at = events.get(next_event).map(|e| e.0).unwrap_or(f64::INFINITY);
        let job_at = next_run_tau(&world.crystal, now + due);
        let wake = job_at.min(event_at).min(DAY_MS);
        if wake >= DAY_MS {
            break;
        }
        world.advance_to(wake);
        if wake < event_at {
            continue;
        }
        let (_, event) = events[next_event];
        next_event += 1;
        match event {
            Event::NetworkChanged => clock.network_changed(),
            Event::Reboot => {
                reboots += 1;
                let state = clock.export_state().expect("state exports");
                result.reboot_at_ms = world.tau();
                world.reboot(seed, reboots);
                boot += 1;
                syncs_on_boot = 0;
                clock = ServerClock::restore_with_sources_and_sleeper(
                    config.clone(),
                    &state,
                    time.clone(),
                    Some(transport.clone()),
                    sleeper.clone(),
                )
                .expect("own state restores");
            }
            Event::Check | Event::Trace => {
                if let Some(e) = clock.estimate() {
                    let truth = world.server_ms(world.tau());
                    let err = (e.server_now_ms as f64 - truth).abs();
                    if event == Event::Trace {
                        result
                            .trace
                            .push((world.tau() / HOUR_MS, err, e.uncertainty_ms));
                        continue;
                    }
                    result.checks += 1;
                    result.checks_log.push(CheckLog {
                        hour: world.tau() / HOUR_MS,
                        boot,
                        error_ms: err,
                        uncertainty_ms: e.uncertainty_ms,
                        since_sync_h: (world.tau() - last_sync_tau) / HOUR_MS,
                        syncs_on_boot,
                        growth_ppm: clock.snapshot().map_or(0, |s| s.uncertainty_growth_ppm),
                    });
                    if err <= e.uncertainty_ms as f64 {
                        result.checks_covered += 1;
                    }
                    result.max_error_ms = result.max_error_ms.max(err);
                    result.max_uncertainty_ms = result.max_uncertainty_ms.max(e.uncertainty_ms);
                }
            }
        }
    }
    result.requests = world.requests();
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

/// The days of one server kind and configuration, two at a time.
fn run(date_only: bool, learn_drift: bool) -> Vec<DayResult> {
    let seeds: Vec<u64> = (0..DAYS)
        .map(|day| 0x5EED_0000 + day + if date_only { 1_000 } else { 0 })
        .collect();
    let mut out = Vec::new();
    for pair in seeds.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|&seed| std::thread::spawn(move || simulate_day(seed, date_only, learn_drift)))
            .collect();
        out.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("a simulated day panicked")),
        );
    }
    out
}

struct Row {
    label: &'static str,
    server: &'static str,
    learn_drift: bool,
    days: Vec<DayResult>,
}

/// Where one row's requests go (per boot and per sync of that boot), and
/// what explains its largest errors at the hourly checks.
fn print_breakdown(row: &Row) {
    let days = row.days.len() as f64;
    println!("\n### Breakdown: {}, {}\n", row.label, row.server);
    println!("| boot | sync of the boot | syncs/day | requests/sync | requests/day | uncertainty after (mean, max ms) | reasons: start, drift, reboot, network |");
    println!("|---|---|---:|---:|---:|---|---|");
    let boot_name = |b: usize| if b == 0 { "cold start" } else { "after reboot" };
    for boot in 0..2 {
        let max_ordinal = row
            .days
            .iter()
            .flat_map(|d| d.syncs_log.iter())
            .filter(|s| s.boot == boot)
            .map(|s| s.ordinal)
            .max()
            .unwrap_or(0);
        for ordinal in 1..=max_ordinal {
            // Syncs from the fourth on are one bucket.
            if ordinal > 4 {
                break;
            }
            let logs: Vec<&SyncLog> = row
                .days
                .iter()
                .flat_map(|d| d.syncs_log.iter())
                .filter(|s| {
                    s.boot == boot && (s.ordinal == ordinal || (ordinal == 4 && s.ordinal > 4))
                })
                .collect();
            let n = logs.len() as f64;
            let requests: f64 = logs.iter().map(|s| s.requests as f64).sum();
            let u_mean = logs.iter().map(|s| s.uncertainty_ms as f64).sum::<f64>() / n;
            let u_max = logs.iter().map(|s| s.uncertainty_ms).max().unwrap_or(0);
            let mut reasons = [0usize; 4];
            for s in &logs {
                reasons[s.reason] += 1;
            }
            println!(
                "| {} | {}{} | {:.2} | {:.1} | {:.1} | {u_mean:.0}, {u_max} | {}, {}, {}, {} |",
                boot_name(boot),
                ordinal,
                if ordinal == 4 { "+" } else { "" },
                n / days,
                requests / n,
                requests / days,
                reasons[0],
                reasons[1],
                reasons[2],
                reasons[3],
            );
        }
    }
    let mut checks: Vec<&CheckLog> = row.days.iter().flat_map(|d| d.checks_log.iter()).collect();
    println!("\nLargest error at hourly checks, by state (syncs so far on the boot):\n");
    println!("| boot | syncs on the boot | checks | max error (ms) | max error / uncertainty |");
    println!("|---|---|---:|---:|---:|");
    for boot in 0..2 {
        for (name, range) in [("1", 1..=1), ("2", 2..=2), ("3+", 3..=usize::MAX)] {
            let set: Vec<&&CheckLog> = checks
                .iter()
                .filter(|c| c.boot == boot && range.contains(&c.syncs_on_boot))
                .collect();
            if set.is_empty() {
                continue;
            }
            let max_err = set.iter().map(|c| c.error_ms).fold(0.0, f64::max);
            let ratio = set
                .iter()
                .map(|c| c.error_ms / c.uncertainty_ms.max(1) as f64)
                .fold(0.0, f64::max);
            println!(
                "| {} | {name} | {} | {max_err:.0} | {ratio:.2} |",
                boot_name(boot),
                set.len()
            );
        }
    }
    checks.sort_by(|a, b| b.error_ms.total_cmp(&a.error_ms));
    println!("\nThe five largest:\n");
    println!("| hour | boot | syncs on the boot | hours since its last sync | growth (ppm) | error (ms) | uncertainty (ms) |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for c in checks.iter().take(5) {
        println!(
            "| {:.0} | {} | {} | {:.2} | {} | {:.0} | {} |",
            c.hour,
            boot_name(c.boot),
            c.syncs_on_boot,
            c.since_sync_h,
            c.growth_ppm,
            c.error_ms,
            c.uncertainty_ms
        );
    }
}

fn main() {
    let started = Instant::now();
    let mut rows = Vec::new();
    for (server, date_only) in [("MSC4094 endpoint", false), ("`Date` only", true)] {
        for (label, learn) in [
            ("mxclock, fixed 100 ppm (`learn_drift` off: before)", false),
            ("mxclock, learned drift (default: after)", true),
        ] {
            rows.push(Row {
                label,
                server,
                learn_drift: learn,
                days: run(date_only, learn),
            });
        }
    }

    println!("## Requests per phone per day ({DAYS} simulated days per row)\n");
    println!(
        "| client | server | requests/day mean (min–max) | syncs/day | of which: start, drift, reboot, network | failed syncs | hourly checks inside uncertainty | max uncertainty (ms) | max error at hourly checks (ms) |"
    );
    println!("|---|---|---:|---:|---|---:|---:|---:|---:|");
    let mut json_rows = Vec::new();
    for row in &rows {
        let days = &row.days;
        let reqs: Vec<f64> = days.iter().map(|d| d.requests as f64).collect();
        let (mean, min, max) = mean_min_max(&reqs);
        let syncs: Vec<f64> = days.iter().map(|d| d.syncs as f64).collect();
        let by: Vec<f64> = (0..4)
            .map(|i| days.iter().map(|d| d.by_reason[i] as f64).sum::<f64>() / days.len() as f64)
            .collect();
        let checks: u64 = days.iter().map(|d| d.checks).sum();
        let covered: u64 = days.iter().map(|d| d.checks_covered).sum();
        let failures: u64 = days.iter().map(|d| d.failures).sum();
        let max_u = days.iter().map(|d| d.max_uncertainty_ms).max().unwrap_or(0);
        let max_err = days.iter().map(|d| d.max_error_ms).fold(0.0, f64::max);
        println!(
            "| {} | {} | {mean:.1} ({min:.0}–{max:.0}) | {:.1} | {:.1}, {:.1}, {:.1}, {:.1} | {failures} | {covered}/{checks} | {max_u} | {max_err:.1} |",
            row.label,
            row.server,
            mean_min_max(&syncs).0,
            by[0],
            by[1],
            by[2],
            by[3],
        );
        let trace = days.iter().find(|d| !d.trace.is_empty()).map(|d| {
            d.trace
                .iter()
                .map(|&(h, e, u)| json!([h, e, u]))
                .collect::<Vec<_>>()
        });
        json_rows.push(json!({
            "client": row.label,
            "server": row.server.replace('`', ""),
            "learn_drift": row.learn_drift,
            "requests_per_day": reqs,
            "mean_requests_per_day": mean,
            "max_error_ms": max_err,
            "max_uncertainty_ms": max_u,
            "checks": checks,
            "checks_covered": covered,
            "trace_first_day": trace,
        }));
    }
    // Peers on the same days (their requests go to NTP servers, not to the
    // homeserver, so the server kind does not change them).
    let reboots: Vec<f64> = rows[0].days.iter().map(|d| d.reboot_at_ms).collect();
    let tt: Vec<f64> = reboots.iter().map(|&r| truetime_syncs(r) as f64).collect();
    let (tt_syncs, _, _) = mean_min_max(&tt);
    println!(
        "| TrueTime-Android (hourly, 5 requests × 5 IPs) | any (NTP) | {:.0} | {tt_syncs:.1} | — | — | — | — | — |",
        tt_syncs * 25.0
    );
    let mut peers =
        vec![json!({"client": "TrueTime-Android", "mean_requests_per_day": tt_syncs * 25.0})];
    for (every, label) in [(60_000.0, "1 min"), (300_000.0, "5 min")] {
        let k: Vec<f64> = reboots
            .iter()
            .map(|&r| kronos_requests(r, every, 100.0) as f64)
            .collect();
        let (mean, _, _) = mean_min_max(&k);
        println!(
            "| Kronos-Android (1 request per sync; app reads the time every {label}) | any (NTP) | {mean:.0} | {mean:.0} | — | — | — | — | — |"
        );
        peers.push(json!({"client": format!("Kronos-Android (reads every {label})"), "mean_requests_per_day": mean}));
    }

    // The goals, checked as measured (default configuration).
    println!("\n### Goals (default configuration)\n");
    let goal = |ok: bool| if ok { "yes" } else { "**no**" };
    for row in rows.iter().filter(|r| r.learn_drift) {
        let mean = row.days.iter().map(|d| d.requests as f64).sum::<f64>() / row.days.len() as f64;
        let max_err = row.days.iter().map(|d| d.max_error_ms).fold(0.0, f64::max);
        let checks: u64 = row.days.iter().map(|d| d.checks).sum();
        let covered: u64 = row.days.iter().map(|d| d.checks_covered).sum();
        let (limit, endpoint) = if row.server.contains("Date") {
            (40.0, false)
        } else {
            (8.0, true)
        };
        print!(
            "* {}: {mean:.1} requests/day ≤ {limit}: {}; every hourly check inside the uncertainty: {}",
            row.server,
            goal(mean <= limit),
            goal(covered == checks)
        );
        if endpoint {
            print!(
                "; max error {max_err:.0} ms ≤ 100 ms: {}",
                goal(max_err <= 100.0)
            );
        }
        println!();
    }

    for row in &rows {
        print_breakdown(row);
    }

    let doc = json!({
        "days_per_row": DAYS,
        "rows": json_rows,
        "peers": peers,
    });
    sim::write_json("requests_per_day", "requests_per_day.json", &doc);
    println!(
        "Simulated {} days in {:.1} s.",
        rows.len() as u64 * DAYS,
        started.elapsed().as_secs_f64()
    );
}
