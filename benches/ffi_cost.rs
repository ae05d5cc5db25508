//! Cost of reading server time from Rust, for the C ABI comparison of
//! scripts/bench-ffi.sh: `ServerClock::server_now_ms`, the same call through
//! the `extern "C"` function `mxclock_server_now_ms`, and a bare
//! `clock_gettime(CLOCK_BOOTTIME)` (the boot-clock read inside both),
//! measured in one process. Prints `key=value` lines (ns per call, best of
//! 5 rounds). `cargo bench --bench ffi_cost [-- ITERATIONS]`.

use std::hint::black_box;
use std::time::Instant;

use mxclock::__internal::ffi::{
    mxclock_add_endpoint_sample, mxclock_config_default, mxclock_free, mxclock_new,
    mxclock_server_now_ms, mxclock_status,
};
use mxclock::{ClockConfig, OsTimeSource, ServerClock, TimeSource};

/// ns per iteration of `f` in one timed loop.
fn ns_per_call(iterations: u64, f: &mut dyn FnMut() -> i64) -> f64 {
    let start = Instant::now();
    let mut sink = 0i64;
    for _ in 0..iterations {
        sink = sink.wrapping_add(f());
    }
    black_box(sink);
    start.elapsed().as_nanos() as f64 / iterations as f64
}

/// Best (lowest) ns per call of each function over 5 rounds, the functions
/// interleaved within each round so that a burst of load elsewhere on the
/// machine hits them alike.
fn best_interleaved<const N: usize>(
    iterations: u64,
    fs: &mut [&mut dyn FnMut() -> i64; N],
) -> [f64; N] {
    let mut best = [f64::INFINITY; N];
    for _ in 0..5 {
        for (b, f) in best.iter_mut().zip(fs.iter_mut()) {
            *b = b.min(ns_per_call(iterations, *f));
        }
    }
    best
}

fn boottime_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

fn main() {
    let iterations: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let os = OsTimeSource::new();

    // A sans-I/O clock synced on an app-fed sample (server = this machine).
    let clock = ServerClock::new(ClockConfig::new("")).expect("clock");
    let b = os.boot_ms();
    clock
        .add_endpoint_sample(b, b, os.wall_ms())
        .expect("sample");

    // The same through the C ABI.
    let mut config = std::mem::MaybeUninit::uninit();
    let mut handle = std::ptr::null_mut();
    // SAFETY: valid out-pointers; the handle is freed below.
    unsafe {
        assert_eq!(
            mxclock_config_default(config.as_mut_ptr()),
            mxclock_status::Ok
        );
        assert_eq!(
            mxclock_new(config.as_ptr(), &mut handle),
            mxclock_status::Ok
        );
        let b = os.boot_ms();
        assert_eq!(
            mxclock_add_endpoint_sample(handle, b, b, os.wall_ms(), std::ptr::null_mut()),
            mxclock_status::Ok
        );
    }

    let mut rust_call = || black_box(&clock).server_now_ms().expect("synced");
    let mut ffi_call = || {
        let mut out = 0i64;
        // SAFETY: a live handle and a valid out-pointer.
        let status = unsafe { mxclock_server_now_ms(black_box(handle), &mut out) };
        assert_eq!(status, mxclock_status::Ok);
        out
    };
    let mut gettime_call = || black_box(boottime_ms());
    let [rust, ffi, gettime] = best_interleaved(
        iterations,
        &mut [&mut rust_call, &mut ffi_call, &mut gettime_call],
    );
    // SAFETY: the handle from mxclock_new, freed once.
    unsafe { mxclock_free(handle) };

    println!("iterations={iterations}");
    println!("rust_server_now_ms_ns={rust:.2}");
    println!("rust_extern_c_server_now_ms_ns={ffi:.2}");
    println!("rust_clock_gettime_boottime_ns={gettime:.2}");
}
