//! The Rust library against a real Synapse.
//!
//! Each server runs under libfaketime with a random fractional offset that
//! only this test knows; the library has to find it. Two servers are shared
//! by all tests of this file: plain Synapse (the `Date` header is all there
//! is) and Synapse with `contrib/synapse-msc4094` (the MSC4094 endpoint).
//!
//! The tests are `#[ignore]`d: plain `cargo test` lists them as ignored
//! instead of failing on a machine without Synapse. `scripts/test-synapse.sh`
//! installs Synapse and runs them with `--ignored`. By hand:
//!
//! ```sh
//! cargo build --example mxclock
//! cargo test --test synapse_e2e -- --ignored --test-threads=1 --nocapture
//! ```
//!
//! Environment:
//! - `MXCLOCK_SYNAPSE_ENV`: the harness CLI (default `scripts/synapse-env.sh`,
//!   which installs Synapse into `target/synapse-venv` when missing);
//! - `MXCLOCK_SYNAPSE_OFFSET_S`: use this offset (seconds) instead of a
//!   random one, to reproduce a failure (the offset is printed);
//! - `MXCLOCK_CLI_BIN`: the `mxclock` example binary (default: next to this
//!   test's executable, `<target>/debug/examples/mxclock`);
//! - `MXCLOCK_SYNAPSE_KEEP=1`: keep the servers' state dirs (logs).
//!
//! Servers are stopped at exit (an `atexit` hook; a `static` is never
//! dropped), and by the harness's watchdog when this process dies without
//! running it (`--watch-pid`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mxclock::{
    evaluate_event_json, ClockConfig, ExpiryRule, ExpiryState, OsTimeSource, SampleSource,
    ServerClock, ServerNow, TimeSource,
};
use serde_json::{json, Value};

/// Integer ms on both sides of a comparison with a real-valued truth: the
/// estimate is whole ms, and `offset_ms` = θ − (wall − boot) is read from
/// two clocks each truncated to the ms.
const ROUNDING_MS: f64 = 2.0;
/// Error bounds on loopback.
const MAX_ENDPOINT_ERROR_MS: f64 = 5.0;
const MAX_DATE_ERROR_MS: f64 = 20.0;
/// The offsets drawn stay at least this far from zero (up to a day): the
/// expiry test shows that a device-clock decision is wrong, which needs a
/// device clock further off than the lifetimes involved (30 s, 60 s).
const MIN_ABS_OFFSET_US: i64 = 300_000_000;
const MAX_ABS_OFFSET_US: i64 = 86_400_000_000;

// ---------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------

/// One Synapse started through the harness CLI; stopped on drop and at exit.
struct Synapse {
    name: &'static str,
    base_url: String,
    state_dir: PathBuf,
    /// Server clock minus this machine's wall clock, ms (the faketime offset).
    true_offset_ms: f64,
    stopped: AtomicBool,
}

fn harness() -> Command {
    let path = std::env::var_os("MXCLOCK_SYNAPSE_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synapse-env.sh"));
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs the harness CLI; its single stdout line is JSON. stderr (progress)
/// is shown only when it fails.
fn run_harness(args: &[&str]) -> Result<Value, String> {
    let out = harness()
        .args(args)
        .output()
        .map_err(|e| format!("cannot run the Synapse harness (MXCLOCK_SYNAPSE_ENV): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "synapse-env.sh {} failed ({}):\n{}",
            args.first().unwrap_or(&""),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).map_err(|e| {
        format!(
            "synapse-env.sh {}: stdout is not one JSON line ({e})",
            args.first().unwrap_or(&"")
        )
    })
}

/// State dirs of runs that were killed before they could clean up
/// (`synapse-e2e-<pid>-<name>` whose process is gone).
fn remove_stale_state_dirs(tmp: &Path) {
    if std::env::var_os("MXCLOCK_SYNAPSE_KEEP").is_some() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("synapse-e2e-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("/dev/urandom");
    u64::from_le_bytes(b)
}

/// A random offset in whole microseconds (libfaketime takes µs exactly),
/// MIN_ABS..=MAX_ABS either side of zero, or MXCLOCK_SYNAPSE_OFFSET_S.
fn pick_offset_us() -> i64 {
    if let Ok(s) = std::env::var("MXCLOCK_SYNAPSE_OFFSET_S") {
        let v: f64 = s.parse().expect("MXCLOCK_SYNAPSE_OFFSET_S is not a number");
        return (v * 1e6).round() as i64;
    }
    let r = random_u64();
    let span = (MAX_ABS_OFFSET_US - MIN_ABS_OFFSET_US + 1) as u64;
    let magnitude = MIN_ABS_OFFSET_US + ((r >> 1) % span) as i64;
    if r & 1 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

impl Synapse {
    fn start(name: &'static str, module: bool) -> Result<Synapse, String> {
        let offset_us = pick_offset_us();
        let offset_arg = format!("{:.6}", offset_us as f64 / 1e6);
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_state_dirs(tmp);
        let state_dir = tmp.join(format!("synapse-e2e-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&state_dir).map_err(|e| e.to_string())?;
        let pid = std::process::id().to_string();
        let dir = state_dir.to_string_lossy().into_owned();
        let mut args = vec![
            "start",
            "--offset-s",
            &offset_arg,
            "--state-dir",
            &dir,
            "--watch-pid",
            &pid,
            "--max-lifetime-s",
            "900",
        ];
        if module {
            args.push("--module");
        }
        let t0 = std::time::Instant::now();
        let info = run_harness(&args)?;
        let synapse = Synapse {
            name,
            base_url: info["base_url"]
                .as_str()
                .ok_or("start: no base_url")?
                .to_owned(),
            state_dir,
            true_offset_ms: offset_us as f64 / 1000.0,
            stopped: AtomicBool::new(false),
        };
        // Stop it if anything below fails.
        if info["offset_s"].as_f64() != Some(offset_us as f64 / 1e6) || info["module"] != module {
            return Err(format!("start: unexpected reply {info}"));
        }
        eprintln!(
            "[{name}] Synapse at {} (module: {module}), true offset {:+.3} ms, started in {:.1} s",
            synapse.base_url,
            synapse.true_offset_ms,
            t0.elapsed().as_secs_f64()
        );
        Ok(synapse)
    }

    fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let dir = self.state_dir.to_string_lossy().into_owned();
        if let Err(e) = run_harness(&["stop", "--state-dir", &dir]) {
            eprintln!("[{}] stop: {e}", self.name);
        }
        if std::env::var_os("MXCLOCK_SYNAPSE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }

    /// A new user (shared-secret admin API, through the harness).
    fn register(&self, username: &str) -> Session {
        let dir = self.state_dir.to_string_lossy().into_owned();
        let out = run_harness(&["register", "--state-dir", &dir, "--username", username])
            .unwrap_or_else(|e| panic!("[{}] {e}", self.name));
        let field = |k: &str| {
            out[k]
                .as_str()
                .unwrap_or_else(|| panic!("register: no {k}"))
                .to_owned()
        };
        Session {
            base_url: self.base_url.clone(),
            user_id: field("user_id"),
            device_id: field("device_id"),
            access_token: field("access_token"),
            agent: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build(),
            ),
        }
    }

    /// A clock for this server on the OS clocks and the built-in transport.
    fn clock(&self) -> Arc<ServerClock> {
        ServerClock::new(ClockConfig::new(&self.base_url)).expect("loopback http is allowed")
    }

    /// The true server time now, ms (real-valued).
    fn true_server_now_ms(&self) -> f64 {
        real_wall_ms() + self.true_offset_ms
    }

    /// Requests Synapse served, from its access log (`homeserver.log`).
    fn access_log(&self) -> Vec<Served> {
        let text =
            std::fs::read_to_string(self.state_dir.join("homeserver.log")).unwrap_or_default();
        text.lines().filter_map(Served::parse).collect()
    }

    /// Marks the access log: pass it to [`served_since`](Self::served_since).
    fn access_log_mark(&self) -> usize {
        self.access_log().len()
    }

    /// Requests served since `mark` with the mxclock user agent. Synapse
    /// logs a request once its reply is written, which can be just after
    /// the client has read it: wait (up to 3 s) until `expected` are there,
    /// then a little longer for any extra one.
    fn served_since(&self, mark: usize, expected: usize) -> Vec<Served> {
        let ours = || -> Vec<Served> {
            self.access_log()
                .into_iter()
                .skip(mark)
                .filter(|r| r.user_agent.starts_with("mxclock/"))
                .collect()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while ours().len() < expected && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        ours()
    }
}

/// One line of Synapse's access log.
#[derive(Debug, Clone)]
struct Served {
    status: u16,
    method: String,
    path: String,
    user_agent: String,
}

impl Served {
    /// `... Processed request: ... 59B 404 "GET /path HTTP/1.1" "agent" [0 dbevts]`
    fn parse(line: &str) -> Option<Served> {
        let rest = &line[line.find("Processed request:")?..];
        let mut quoted = rest.split('"');
        let before = quoted.next()?;
        let request = quoted.next()?;
        quoted.next()?;
        let user_agent = quoted.next()?.to_owned();
        let status = before.split_whitespace().last()?.parse().ok()?;
        let mut req = request.split_whitespace();
        Some(Served {
            status,
            method: req.next()?.to_owned(),
            path: req.next()?.to_owned(),
            user_agent,
        })
    }
}

/// Requests per path, e.g. `{"/_matrix/client/versions 200": 7}`.
fn per_path(served: &[Served]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in served {
        *m.entry(format!("{} {} {}", r.method, r.path, r.status))
            .or_insert(0) += 1;
    }
    m
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

fn real_wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1000.0
}

const ENDPOINT_PATH: &str = mxclock::DEFAULT_ENDPOINT_PATH;
const DATE_PROBE_PATH: &str = mxclock::DATE_PROBE_PATH;

/// One test at a time talks to the servers, even without
/// `--test-threads=1`: the request counts read from Synapse's access log
/// and the timings stay each test's own.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    // A failed test poisons it; the next one still runs.
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every server started, for the exit hook.
static STARTED: Mutex<Vec<Arc<Synapse>>> = Mutex::new(Vec::new());
static PLAIN: OnceLock<Result<Arc<Synapse>, String>> = OnceLock::new();
static MODULE: OnceLock<Result<Arc<Synapse>, String>> = OnceLock::new();

extern "C" fn stop_all_at_exit() {
    // Never unwind out of an extern "C" fn.
    let _ = std::panic::catch_unwind(|| {
        let servers = match STARTED.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for s in servers {
            s.stop();
        }
    });
}

fn shared(
    cell: &'static OnceLock<Result<Arc<Synapse>, String>>,
    name: &'static str,
    module: bool,
) -> Arc<Synapse> {
    let result = cell.get_or_init(|| {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            // SAFETY: registers a plain extern "C" function without arguments.
            unsafe {
                libc::atexit(stop_all_at_exit);
            }
        });
        let s = Arc::new(Synapse::start(name, module)?);
        STARTED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s.clone());
        Ok(s)
    });
    // A server that would not start fails every test that needs it, loudly.
    result.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// Plain Synapse: no MSC4094 endpoint.
fn plain() -> Arc<Synapse> {
    shared(&PLAIN, "plain", false)
}

/// Synapse with the MSC4094 module.
fn with_module() -> Arc<Synapse> {
    shared(&MODULE, "module", true)
}

// ---------------------------------------------------------------------------
// Client-server API, just enough for the tests
// ---------------------------------------------------------------------------

struct Session {
    base_url: String,
    user_id: String,
    device_id: String,
    /// Never printed.
    access_token: String,
    agent: ureq::Agent,
}

/// Percent-encodes everything but RFC 3986 unreserved characters (room and
/// event ids, state keys, a filter in a query).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Session {
    /// One authenticated request; panics (without the token) unless 200.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.base_url);
        let auth = format!("Bearer {}", self.access_token);
        let result = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            "PUT" | "POST" => {
                let builder = if method == "PUT" {
                    self.agent.put(&url)
                } else {
                    self.agent.post(&url)
                };
                builder
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.unwrap_or(&json!({})).to_string())
            }
            other => panic!("method {other}"),
        };
        let response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .unwrap_or_else(|e| panic!("{method} {path}: body: {e}"));
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    fn create_room(&self) -> String {
        let r = self.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&json!({"preset": "private_chat"})),
        );
        r["room_id"].as_str().expect("room_id").to_owned()
    }

    fn send(&self, room: &str, event_type: &str, txn: &str, content: &Value) -> String {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{}/{}",
            enc(room),
            enc(event_type),
            enc(txn)
        );
        let r = self.call("PUT", &path, Some(content));
        r["event_id"].as_str().expect("event_id").to_owned()
    }

    fn put_state(&self, room: &str, event_type: &str, state_key: &str, content: &Value) -> String {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/{}/{}",
            enc(room),
            enc(event_type),
            enc(state_key)
        );
        let r = self.call("PUT", &path, Some(content));
        r["event_id"].as_str().expect("event_id").to_owned()
    }

    /// The event as a client reads it (`/rooms/{id}/event/{id}`).
    fn event(&self, room: &str, event_id: &str) -> Value {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/event/{}",
            enc(room),
            enc(event_id)
        );
        self.call("GET", &path, None)
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Error of the clock's offset (server − wall) against the truth, and its
/// uncertainty; asserts that the truth is inside.
fn offset_error(what: &str, synapse: &Synapse, offset_ms: i64, uncertainty_ms: i64) -> f64 {
    let error = offset_ms as f64 - synapse.true_offset_ms;
    assert!(
        error.abs() <= uncertainty_ms as f64 + ROUNDING_MS,
        "{what}: true offset {:.3} ms is outside {offset_ms} ± {uncertainty_ms} ms (error {error:.3})",
        synapse.true_offset_ms
    );
    error
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
#[ignore = "needs Synapse: run scripts/test-synapse.sh"]
fn plain_synapse_sync_falls_back_to_date_and_refines_it() {
    let _serial = serial();
    let s = plain();

    // One request: the endpoint's 404 (M_UNRECOGNIZED) still has a Date
    // header, which alone bounds the offset to about a second.
    let mut one = ClockConfig::new(&s.base_url);
    one.policy.max_samples_per_sync = 1;
    one.policy.date_probe_budget = 1;
    let clock = ServerClock::new(one).unwrap();
    let mark = s.access_log_mark();
    let r = clock.sync().expect("sync against plain Synapse");
    let served = s.served_since(mark, 1);
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(
        (served[0].path.as_str(), served[0].status),
        (ENDPOINT_PATH, 404)
    );
    assert_eq!(r.source, SampleSource::DateHeader);
    assert!(!r.endpoint_supported, "{r:?}");
    assert_eq!(r.requests, 1);
    let e = r.estimate;
    let err1 = offset_error("one Date sample", &s, e.offset_ms, e.uncertainty_ms);
    let u1 = e.uncertainty_ms;
    assert!(u1 >= 490, "one Date header cannot give ±{u1} ms");

    // The default burst: phase-timed probes against the second boundary.
    let clock = s.clock();
    let t0 = std::time::Instant::now();
    let mark = s.access_log_mark();
    let r = clock.sync().expect("sync against plain Synapse");
    let took_ms = t0.elapsed().as_millis();
    assert_eq!(r.source, SampleSource::DateHeader);
    assert!(!r.endpoint_supported);
    assert!(r.requests >= 2, "no refinement: {r:?}");
    let e = clock.estimate().unwrap();
    let err = offset_error("Date burst", &s, e.offset_ms, e.uncertainty_ms);
    // The endpoint once (404), then the Date probes on /versions.
    let served = per_path(&s.served_since(mark, r.requests as usize));
    let probes = r.requests as usize - 1;
    assert_eq!(
        served,
        [
            (format!("GET {ENDPOINT_PATH} 404"), 1),
            (format!("GET {DATE_PROBE_PATH} 200"), probes)
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect(),
    );
    eprintln!(
        "[plain] Date only: 1 request ±{u1} ms (error {err1:+.3}); burst of {} requests \
         ({} samples, min RTT {:?} ms, {took_ms} ms) ±{} ms, error {err:+.3} ms; \
         served: {served:?}",
        r.requests, r.samples_taken, r.min_rtt_ms, e.uncertainty_ms
    );
    assert!(
        err.abs() <= MAX_DATE_ERROR_MS,
        "Date-only error {err:.3} ms > {MAX_DATE_ERROR_MS} (min RTT {:?} ms)",
        r.min_rtt_ms
    );
    assert!(
        e.uncertainty_ms < 100,
        "the burst did not narrow the second: ±{} ms",
        e.uncertainty_ms
    );

    // The server clock keeps agreeing later: server_now_ms against the truth.
    let now = clock.server_now_ms().unwrap() as f64;
    let truth = s.true_server_now_ms();
    assert!((now - truth).abs() <= e.uncertainty_ms as f64 + ROUNDING_MS + 1.0);

    // The missing endpoint is remembered: the next sync only probes Date.
    let mark = s.access_log_mark();
    let r = clock.sync().expect("second sync");
    let served = s.served_since(mark, r.requests as usize);
    assert_eq!(served.len(), r.requests as usize, "{served:?}");
    assert!(
        served.iter().all(|x| x.path == DATE_PROBE_PATH),
        "{served:?}"
    );
    let e = clock.estimate().unwrap();
    let err = offset_error("second Date burst", &s, e.offset_ms, e.uncertainty_ms);
    eprintln!(
        "[plain] second sync: {} requests, all {DATE_PROBE_PATH}, ±{} ms, error {err:+.3} ms",
        r.requests, e.uncertainty_ms
    );
}

#[test]
#[ignore = "needs Synapse: run scripts/test-synapse.sh"]
fn module_synapse_sync_uses_the_endpoint() {
    let _serial = serial();
    let s = with_module();
    let clock = s.clock();
    let mark = s.access_log_mark();
    let r = clock.sync().expect("sync against Synapse with the module");
    assert_eq!(r.source, SampleSource::Endpoint, "{r:?}");
    assert!(r.endpoint_supported);
    let e = clock.estimate().unwrap();
    let err = offset_error("endpoint burst", &s, e.offset_ms, e.uncertainty_ms);
    let served = per_path(&s.served_since(mark, r.requests as usize));
    assert_eq!(
        served,
        [(format!("GET {ENDPOINT_PATH} 200"), r.requests as usize)]
            .into_iter()
            .collect()
    );
    eprintln!(
        "[module] endpoint: {} requests ({} samples, min RTT {:?} ms) ±{} ms, error {err:+.3} ms; \
         served: {served:?}",
        r.requests, r.samples_taken, r.min_rtt_ms, e.uncertainty_ms
    );
    assert!(
        err.abs() <= MAX_ENDPOINT_ERROR_MS,
        "endpoint error {err:.3} ms > {MAX_ENDPOINT_ERROR_MS} (min RTT {:?} ms)",
        r.min_rtt_ms
    );
    // A second sync adds to the window; the truth stays inside.
    let r2 = clock.sync().unwrap();
    let e2 = clock.estimate().unwrap();
    let err2 = offset_error("second burst", &s, e2.offset_ms, e2.uncertainty_ms);
    eprintln!(
        "[module] second sync: {} requests, {} samples kept, ±{} ms, error {err2:+.3} ms",
        r2.requests, e2.samples, e2.uncertainty_ms
    );
    assert!(e2.uncertainty_ms <= e.uncertainty_ms + 1);
}

/// `origin_server_ts + unsigned.age` of an event read through `/sync`.
fn event_age_case(s: &Synapse, user: &str) {
    let alice = s.register(user);
    let room = alice.create_room();
    let sent_wall = real_wall_ms();
    let event_id = alice.send(
        &room,
        "m.room.message",
        "age-1",
        &json!({"msgtype": "m.text", "body": "what time is it?"}),
    );
    let clock = ServerClock::new(ClockConfig::new("")).unwrap();
    let filter = json!({"room": {"timeline": {"limit": 50}}}).to_string();
    let b0 = clock.boot_ms();
    let sync = alice.call(
        "GET",
        &format!("/_matrix/client/v3/sync?filter={}", enc(&filter)),
        None,
    );
    let b3 = clock.boot_ms();
    let ev = sync["rooms"]["join"][&room]["timeline"]["events"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["event_id"] == event_id.as_str())
        .unwrap_or_else(|| panic!("{event_id} not in /sync"))
        .clone();
    let ots = ev["origin_server_ts"].as_i64().expect("origin_server_ts");
    let age = ev["unsigned"]["age"].as_i64().expect("unsigned.age");
    // origin_server_ts is on the skewed clock, not ours.
    let ots_vs_truth = ots as f64 - (sent_wall + s.true_offset_ms);
    assert!(
        ots_vs_truth.abs() < 5_000.0,
        "origin_server_ts is {ots_vs_truth:.0} ms off the faked clock"
    );
    let e = clock.observe_event(ots, age, b3).expect("event sample");
    assert_eq!(e.source, SampleSource::EventAge);
    let err = offset_error("event age", s, e.offset_ms, e.uncertainty_ms);
    // The interval is [built − received, + max transit]: how far inside its
    // lower edge the truth lies is the time the reply took to arrive.
    let above_lower_edge = s.true_offset_ms - (e.offset_ms - e.uncertainty_ms) as f64;
    eprintln!(
        "[{}] event age: age {age} ms, /sync took {} ms, interval ±{} ms, midpoint error \
         {err:+.1} ms, truth {above_lower_edge:.1} ms above the lower edge",
        s.name,
        b3 - b0,
        e.uncertainty_ms
    );
    assert!(
        above_lower_edge <= (b3 - b0) as f64 + 1.0 + ROUNDING_MS,
        "the reply was built before the request was sent?"
    );
}

#[test]
#[ignore = "needs Synapse: run scripts/test-synapse.sh"]
fn event_age_from_synapse_sync_contains_the_offset() {
    let _serial = serial();
    event_age_case(&plain(), "age-plain");
    event_age_case(&with_module(), "age-module");
}

/// The device's clock an hour off, the boot clock true: what a phone with a
/// wrong clock has.
struct WrongWallClock {
    wall_skew_ms: i64,
}

impl TimeSource for WrongWallClock {
    fn boot_ms(&self) -> i64 {
        OsTimeSource.boot_ms()
    }
    fn wall_ms(&self) -> i64 {
        OsTimeSource.wall_ms() + self.wall_skew_ms
    }
    fn boot_id(&self) -> String {
        OsTimeSource.boot_id()
    }
}

#[test]
#[ignore = "needs Synapse: run scripts/test-synapse.sh"]
fn call_membership_and_notification_expiry_use_the_server_clock() {
    let _serial = serial();
    let s = with_module();
    let clock = s.clock();
    clock.sync().expect("sync");
    // A second clock on a device whose wall clock is an hour behind.
    let device_skew_ms = -3_600_000;
    let wrong_device = ServerClock::new_with_sources(
        ClockConfig::new(&s.base_url),
        Some(Arc::new(WrongWallClock {
            wall_skew_ms: device_skew_ms,
        })),
        None,
    )
    .unwrap();
    wrong_device.sync().expect("sync");

    let alice = s.register("caller");
    let room = alice.create_room();
    let state_key = format!("_{}_{}", alice.user_id, alice.device_id);
    let session = |extra: Value| {
        let mut c = json!({
            "application": "m.call",
            "call_id": "",
            "scope": "m.room",
            "device_id": alice.device_id,
            "focus_active": {"type": "livekit", "focus_selection": "oldest_membership"},
            "foci_preferred": [{
                "type": "livekit",
                "livekit_service_url": "https://livekit.example.org",
                "livekit_alias": room,
            }],
        });
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };

    // What each case sends, and what mxclock must decide.
    struct Case {
        name: &'static str,
        event_id: String,
        /// Deadline on the server clock, from what the server stored.
        deadline: Box<dyn Fn(&Value) -> i64>,
        state: ExpiryState,
        ring: Option<bool>,
        /// The longest this can be live (lifetime or expires), when the
        /// device-clock decision must be wrong: over already, or live for
        /// longer than this.
        device_clock_wrong_past: Option<i64>,
    }
    let mut cases = Vec::new();

    // 1. Membership without created_ts/expires: origin_server_ts + 4 h.
    let id = alice.put_state(&room, "m.call.member", &state_key, &session(json!({})));
    cases.push(Case {
        name: "m.call.member default expiry",
        event_id: id,
        deadline: Box::new(|ev| ev["origin_server_ts"].as_i64().unwrap() + 14_400_000),
        state: ExpiryState::Live,
        ring: None,
        device_clock_wrong_past: None,
    });
    // 2. Membership stamped by an mxclock app: created_ts = server_now_ms(),
    //    expires 60 s. Live for a minute by the server clock; by this
    //    machine's clock (|offset| ≥ 5 min) it would be long over or live
    //    for far longer than a minute.
    let created = clock.server_now_ms().unwrap();
    let state_key2 = format!("_{}_{}b", alice.user_id, alice.device_id);
    let id = alice.put_state(
        &room,
        "m.call.member",
        &state_key2,
        &session(json!({"created_ts": created, "expires": 60_000})),
    );
    cases.push(Case {
        name: "m.call.member created_ts + 60 s",
        event_id: id,
        deadline: Box::new(move |_| created + 60_000),
        state: ExpiryState::Live,
        ring: None,
        device_clock_wrong_past: Some(60_000),
    });
    // 3. A stale membership (created 4 h 1 min ago by the server clock).
    let stale = clock.server_now_ms().unwrap() - 14_460_000;
    let state_key3 = format!("_{}_{}c", alice.user_id, alice.device_id);
    let id = alice.put_state(
        &room,
        "m.call.member",
        &state_key3,
        &session(json!({"created_ts": stale})),
    );
    cases.push(Case {
        name: "m.call.member stale",
        event_id: id,
        deadline: Box::new(move |_| stale + 14_400_000),
        state: ExpiryState::Expired,
        ring: None,
        device_clock_wrong_past: None,
    });
    // 4. A ring whose sender_ts comes from the sender's device clock (this
    //    machine's, off by the offset): more than 20 s from origin_server_ts,
    //    so the lifetime counts from origin_server_ts.
    let device_sender_ts = real_wall_ms() as i64;
    let id = alice.send(
        &room,
        "m.rtc.notification",
        "ring-1",
        &json!({
            "notification_type": "ring",
            "sender_ts": device_sender_ts,
            "lifetime": 30_000,
            "m.mentions": {"room": true},
        }),
    );
    cases.push(Case {
        name: "m.rtc.notification ring, device sender_ts",
        event_id: id,
        deadline: Box::new(|ev| ev["origin_server_ts"].as_i64().unwrap() + 30_000),
        state: ExpiryState::Live,
        ring: Some(true),
        device_clock_wrong_past: Some(30_000),
    });
    // 5. A ring stamped with the server clock (an mxclock sender).
    let server_sender_ts = clock.server_now_ms().unwrap();
    let id = alice.send(
        &room,
        "m.rtc.notification",
        "ring-2",
        &json!({
            "notification_type": "ring",
            "sender_ts": server_sender_ts,
            "lifetime": 30_000,
            "m.mentions": {"room": true},
        }),
    );
    cases.push(Case {
        name: "m.rtc.notification ring, server sender_ts",
        event_id: id,
        deadline: Box::new(move |_| server_sender_ts + 30_000),
        state: ExpiryState::Live,
        ring: Some(true),
        device_clock_wrong_past: Some(30_000),
    });
    // 6. A plain notification never rings.
    let id = alice.send(
        &room,
        "m.rtc.notification",
        "notify-1",
        &json!({
            "notification_type": "notification",
            "sender_ts": clock.server_now_ms().unwrap(),
            "lifetime": 30_000,
        }),
    );
    cases.push(Case {
        name: "m.rtc.notification notification",
        event_id: id,
        deadline: Box::new(|ev| ev["content"]["sender_ts"].as_i64().unwrap() + 30_000),
        state: ExpiryState::Live,
        ring: Some(false),
        device_clock_wrong_past: None,
    });

    for case in &cases {
        let name = case.name;
        let received = clock.boot_ms();
        let ev = alice.event(&room, &case.event_id);
        let json = ev.to_string();
        let got = clock
            .evaluate_event_json(json.clone(), Some(received))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let truth_now = s.true_server_now_ms();
        let u = clock.estimate().unwrap().uncertainty_ms;
        let x = got.expiry;
        let true_remaining = x.deadline_ms as f64 - truth_now;
        assert!(
            (x.remaining_ms as f64 - true_remaining).abs() <= u as f64 + ROUNDING_MS,
            "{name}: remaining {} ms, truly {true_remaining:.1} ms (uncertainty {u})",
            x.remaining_ms
        );
        assert_eq!(x.deadline_ms, (case.deadline)(&ev), "{name}");
        assert_eq!(x.state, case.state, "{name}: {x:?}");
        assert_eq!(got.should_ring, case.ring, "{name}");
        let rule = if ev["type"] == "m.call.member" {
            ExpiryRule::CallMemberSession
        } else {
            ExpiryRule::RtcNotification
        };
        assert_eq!(got.rule, rule, "{name}");

        // The device whose wall clock is an hour off decides the same: the
        // decision rests on the boot clock and the server, not the wall.
        let other = wrong_device
            .evaluate_event_json(json.clone(), Some(received))
            .unwrap();
        let u2 = wrong_device.estimate().unwrap().uncertainty_ms;
        assert_eq!(other.expiry.state, x.state, "{name}: wrong wall clock");
        assert_eq!(other.should_ring, got.should_ring, "{name}");
        assert!(
            (other.expiry.remaining_ms - x.remaining_ms).abs() <= u + u2 + 2 * ROUNDING_MS as i64,
            "{name}: {} vs {}",
            other.expiry.remaining_ms,
            x.remaining_ms
        );

        // What deciding by this machine's clock would have said.
        let naive_now = ServerNow::new(real_wall_ms() as i64, 0, clock.boot_ms());
        let naive = evaluate_event_json(&json, &naive_now, Some(received)).unwrap();
        let naive_error = naive.expiry.remaining_ms - x.remaining_ms;
        eprintln!(
            "[module] {name}: {} remaining {} ms (±{u}); by the device clock: {} remaining {} ms",
            x.state.as_str(),
            x.remaining_ms,
            naive.expiry.state.as_str(),
            naive.expiry.remaining_ms
        );
        // The device-clock answer is off by the offset.
        assert!(
            (naive_error as f64 - s.true_offset_ms).abs() <= u as f64 + 50.0,
            "{name}: device-clock remaining off by {naive_error} ms"
        );
        if let Some(lifetime) = case.device_clock_wrong_past {
            assert!(x.remaining_ms <= lifetime, "{name}: {x:?}");
            assert!(
                naive.expiry.is_expired || naive.expiry.remaining_ms > lifetime,
                "{name}: the device clock would have decided right: {naive:?}"
            );
        }
    }
    eprintln!(
        "[module] device wall clock {device_skew_ms} ms off: offset_ms {} vs {} (true {:.3})",
        wrong_device.estimate().unwrap().offset_ms,
        clock.estimate().unwrap().offset_ms,
        s.true_offset_ms
    );
    let wrong_offset = wrong_device.estimate().unwrap().offset_ms;
    offset_error(
        "wrong device clock",
        &s,
        wrong_offset + device_skew_ms,
        wrong_device.estimate().unwrap().uncertainty_ms,
    );
}

fn cli_case(s: &Synapse, source: SampleSource, max_error_ms: f64) {
    let mark = s.access_log_mark();
    let v: Value = serde_json::from_str(&crate::cli::sync(&s.base_url, &["--json"]))
        .expect("--json prints JSON");
    assert_eq!(v["source"], source.as_str(), "{v}");
    let offset_ms = v["offset_ms"].as_i64().expect("offset_ms");
    let u = v["uncertainty_ms"].as_i64().expect("uncertainty_ms");
    let requests = v["requests"].as_u64().expect("requests") as usize;
    let err = offset_error("CLI", s, offset_ms, u);
    let served = s.served_since(mark, requests);
    assert_eq!(
        served.len(),
        requests,
        "the CLI said {requests}: {served:?}"
    );
    let endpoint_status = if source == SampleSource::Endpoint {
        200
    } else {
        404
    };
    assert!(
        served[0].path == ENDPOINT_PATH && served[0].status == endpoint_status,
        "{served:?}"
    );
    eprintln!(
        "[{}] CLI: source {}, {requests} requests, offset {offset_ms} ± {u} ms, \
         error {err:+.3} ms; served: {:?}",
        s.name,
        v["source"],
        per_path(&served)
    );
    assert!(err.abs() <= max_error_ms, "CLI error {err:.3} ms");
    let server_now = v["server_now_ms"].as_i64().expect("server_now_ms") as f64;
    // server_now_ms was read before the process exited: the truth now is later.
    let behind = s.true_server_now_ms() - server_now;
    assert!(
        behind >= -(u as f64 + ROUNDING_MS) && behind < 10_000.0,
        "server_now_ms {behind:.0} ms behind the truth"
    );
}

#[test]
#[ignore = "needs Synapse: run scripts/test-synapse.sh"]
fn cli_sync_reports_the_offset() {
    let _serial = serial();
    cli_case(&plain(), SampleSource::DateHeader, MAX_DATE_ERROR_MS);
    cli_case(
        &with_module(),
        SampleSource::Endpoint,
        MAX_ENDPOINT_ERROR_MS,
    );
}
