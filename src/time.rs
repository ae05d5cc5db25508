//! The three clocks: boot, wall and (estimated) server.
//!
//! Everything in mxclock reads time through a [`TimeSource`] so that tests
//! can drive it deterministically and apps can inject their own clock
//! (Android `SystemClock.elapsedRealtime()`, say). The pure core never reads a
//! clock: it takes boot/wall milliseconds as arguments.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// A source of local time.
///
/// * `boot_ms`: monotonic milliseconds that keep counting while the device
///   sleeps (Linux/Android `CLOCK_BOOTTIME`, Apple `CLOCK_MONOTONIC`). Must
///   never go backwards within one boot.
/// * `wall_ms`: the device's Unix time in milliseconds; may jump at any time.
/// * `boot_id`: a string that changes on every reboot, so saved state can tell
///   whether `boot_ms` values from before are still comparable.
///
/// Kotlin and Swift apps can implement this interface (it is a uniffi foreign
/// trait); implementations must be cheap and must not block.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait TimeSource: Send + Sync {
    /// Monotonic milliseconds since an arbitrary origin, counting sleep.
    fn boot_ms(&self) -> i64;
    /// Unix time in milliseconds by the device clock.
    fn wall_ms(&self) -> i64;
    /// An identifier of the current boot.
    fn boot_id(&self) -> String;
}

/// Waiting, as the clock's time source sees it. A sync waits to time its
/// `Date` probes and to space out its requests; with a fake time source the
/// wait must move the fake clock, not stall the test. Rust-only (Kotlin and
/// Swift apps use the real sleep).
pub trait Sleeper: Send + Sync {
    /// Returns after `ms` milliseconds have passed on the time source.
    fn sleep_ms(&self, ms: i64);
}

/// `std::thread::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep_ms(&self, ms: i64) {
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms as u64));
        }
    }
}

/// The operating system's clocks.
///
/// ```
/// use mxclock::{OsTimeSource, TimeSource};
/// let os = OsTimeSource::new();
/// let a = os.boot_ms();
/// let b = os.boot_ms();
/// assert!(b >= a);
/// assert!(os.wall_ms() > 1_500_000_000_000); // after 2017
/// assert!(!os.boot_id().is_empty());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct OsTimeSource;

impl OsTimeSource {
    /// The OS clocks. Cheap: holds no state.
    pub fn new() -> Self {
        OsTimeSource
    }

    /// Shared instance as the trait object the clock wants.
    pub fn shared() -> Arc<dyn TimeSource> {
        Arc::new(OsTimeSource)
    }
}

impl TimeSource for OsTimeSource {
    fn boot_ms(&self) -> i64 {
        os::boot_ms()
    }

    fn wall_ms(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A device clock before 1970: report it as negative ms.
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn boot_id(&self) -> String {
        os::boot_id()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    use super::timespec_ms;
    use once_cell::sync::Lazy;

    /// `CLOCK_BOOTTIME`: monotonic and counts suspend (unlike `Instant`).
    pub(super) fn boot_ms() -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        if rc != 0 {
            return super::fallback::boot_ms();
        }
        timespec_ms(&ts)
    }

    static BOOT_ID: Lazy<String> = Lazy::new(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let wall_ms = super::TimeSource::wall_ms(&super::OsTimeSource);
                super::boot_time_id(wall_ms, boot_ms())
            })
    });

    /// `/proc/sys/kernel/random/boot_id`, read once per process.
    ///
    /// Android lets apps read it from Android 9 (API 28: SELinux type
    /// `proc_random`, readable by every domain) and before Android 8; on
    /// Android 8.0 and 8.1 (API 26, 27) the file is labelled `proc`, which
    /// untrusted apps may not read. There, and wherever the read fails, the
    /// id is the wall-clock time of boot ([`boot_time_id`](super::boot_time_id)).
    pub(super) fn boot_id() -> String {
        BOOT_ID.clone()
    }
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
))]
mod os {
    use super::timespec_ms;

    /// Apple's `CLOCK_MONOTONIC` counts time asleep (unlike `Instant`, which
    /// uses `CLOCK_UPTIME_RAW` there).
    pub fn boot_ms() -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        if rc != 0 {
            return super::fallback::boot_ms();
        }
        timespec_ms(&ts)
    }

    /// `kern.boottime` (the wall time of boot) identifies a boot.
    pub fn boot_id() -> String {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let mut size = std::mem::size_of::<libc::timeval>();
        let mut mib = [libc::CTL_KERN, libc::KERN_BOOTTIME];
        // SAFETY: mib, tv and size are valid for the duration of the call and
        // size is the exact size of tv.
        let rc = unsafe {
            libc::sysctl(
                mib.as_mut_ptr(),
                2,
                &mut tv as *mut _ as *mut libc::c_void,
                &mut size,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 {
            return super::fallback::boot_id();
        }
        format!("kern.boottime:{}.{:06}", tv.tv_sec, tv.tv_usec)
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
)))]
mod os {
    pub fn boot_ms() -> i64 {
        super::fallback::boot_ms()
    }
    pub fn boot_id() -> String {
        super::fallback::boot_id()
    }
}

/// Granularity of [`boot_time_id`]: coarse enough that the jitter of two
/// clock reads and NTP's slewing rarely change the id within one boot, fine
/// enough that no real reboot (which takes longer) keeps it.
const BOOT_TIME_ID_GRANULARITY_MS: i64 = 10_000;

/// A boot id from the wall-clock time of boot (wall − boot clock, in units
/// of [`BOOT_TIME_ID_GRANULARITY_MS`]), for systems whose boot id cannot be
/// read. It is stable within a boot while nobody sets the wall clock; when
/// someone does, the id changes and a restore takes the reboot path (carry
/// over through the wall clock, with the uncertainty inflated), which is the
/// cautious side. Apple's `kern.boottime` is the same quantity.
#[allow(dead_code)]
fn boot_time_id(wall_ms: i64, boot_ms: i64) -> String {
    let boot_wall_ms = wall_ms.saturating_sub(boot_ms);
    format!(
        "boot-time:{}",
        boot_wall_ms.div_euclid(BOOT_TIME_ID_GRANULARITY_MS)
    )
}

/// `time_t`/`c_long` are 32-bit on ARM32 Android, so the casts are needed
/// there even though they are no-ops on 64-bit targets.
#[allow(dead_code, clippy::unnecessary_cast)]
fn timespec_ms(ts: &libc::timespec) -> i64 {
    (ts.tv_sec as i64).saturating_mul(1000) + (ts.tv_nsec as i64) / 1_000_000
}

/// Used where the OS gives nothing better: `Instant` (does not count sleep)
/// and a per-process id (so a restore always takes the reboot path, which is
/// the safe one).
#[allow(dead_code)]
mod fallback {
    use once_cell::sync::Lazy;
    use std::time::Instant;

    static START: Lazy<Instant> = Lazy::new(Instant::now);

    pub(super) fn boot_ms() -> i64 {
        i64::try_from(START.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    pub(super) fn boot_id() -> String {
        static ID: Lazy<String> = Lazy::new(|| {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("process:{}:{}", std::process::id(), wall)
        });
        ID.clone()
    }
}

/// A clock for tests and simulations: time moves only when told to.
///
/// ```
/// use mxclock::{FakeTimeSource, TimeSource};
/// let t = FakeTimeSource::new(1_000, 1_700_000_000_000, "boot-a");
/// t.advance_ms(250);
/// assert_eq!(t.boot_ms(), 1_250);
/// t.jump_wall_ms(-3_600_000); // the user sets the clock back an hour
/// assert_eq!(t.wall_ms(), 1_700_000_000_250 - 3_600_000);
/// t.reboot("boot-b", 5_000);
/// assert_eq!((t.boot_ms(), t.boot_id().as_str()), (5_000, "boot-b"));
/// ```
#[derive(Debug)]
pub struct FakeTimeSource {
    boot_ms: AtomicI64,
    wall_ms: AtomicI64,
    boot_id: Mutex<String>,
}

impl FakeTimeSource {
    /// A fake clock reading `boot_ms` and `wall_ms` in boot `boot_id`.
    pub fn new(boot_ms: i64, wall_ms: i64, boot_id: &str) -> Self {
        FakeTimeSource {
            boot_ms: AtomicI64::new(boot_ms),
            wall_ms: AtomicI64::new(wall_ms),
            boot_id: Mutex::new(boot_id.to_owned()),
        }
    }

    /// Time passes (awake or asleep: the boot clock counts both).
    pub fn advance_ms(&self, ms: i64) {
        self.boot_ms.fetch_add(ms, Ordering::SeqCst);
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The device sleeps for `ms`: same as [`advance_ms`](Self::advance_ms),
    /// named for tests that mean it.
    pub fn sleep_ms(&self, ms: i64) {
        self.advance_ms(ms)
    }

    /// The wall clock is set by `delta_ms` (user, NTP, time zone bug);
    /// the boot clock does not move.
    pub fn jump_wall_ms(&self, delta_ms: i64) {
        self.wall_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// The device reboots: a new boot id and the boot clock restarts at
    /// `boot_ms`; the wall clock keeps going.
    pub fn reboot(&self, new_boot_id: &str, boot_ms: i64) {
        *self.boot_id.lock().unwrap_or_else(|e| e.into_inner()) = new_boot_id.to_owned();
        self.boot_ms.store(boot_ms, Ordering::SeqCst);
    }
}

/// Sleeping on a fake clock advances it at once.
impl Sleeper for FakeTimeSource {
    fn sleep_ms(&self, ms: i64) {
        if ms > 0 {
            self.advance_ms(ms);
        }
    }
}

impl TimeSource for FakeTimeSource {
    fn boot_ms(&self) -> i64 {
        self.boot_ms.load(Ordering::SeqCst)
    }
    fn wall_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }
    fn boot_id(&self) -> String {
        self.boot_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_boot_clock_is_monotonic_and_boot_id_stable() {
        let os = OsTimeSource::new();
        let mut last = os.boot_ms();
        for _ in 0..1000 {
            let now = os.boot_ms();
            assert!(now >= last, "boot clock went back: {last} -> {now}");
            last = now;
        }
        assert_eq!(os.boot_id(), os.boot_id());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_boot_id_is_the_kernel_one() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
        assert_eq!(OsTimeSource::new().boot_id(), kernel.trim());
    }

    #[test]
    fn boot_time_id_is_stable_within_a_boot_and_changes_across_boots() {
        let boot_wall_ms = 1_750_000_123_456;
        let id = boot_time_id(boot_wall_ms + 5_000, 5_000);
        // Later in the same boot, with a few ms of read jitter either way.
        assert_eq!(boot_time_id(boot_wall_ms + 86_400_000 + 3, 86_400_000), id);
        assert_eq!(boot_time_id(boot_wall_ms + 60_000 - 3, 60_000), id);
        // A reboot a minute later: the boot clock restarts, the wall goes on.
        assert_ne!(boot_time_id(boot_wall_ms + 65_000, 1_000), id);
        // Saturates rather than overflowing on absurd inputs.
        assert!(!boot_time_id(i64::MIN, i64::MAX).is_empty());
        assert_eq!(boot_time_id(-1, 0), "boot-time:-1");
    }

    #[test]
    fn fake_clock_moves_only_when_told() {
        let t = FakeTimeSource::new(10, 20, "a");
        assert_eq!((t.boot_ms(), t.wall_ms()), (10, 20));
        t.sleep_ms(5);
        assert_eq!((t.boot_ms(), t.wall_ms()), (15, 25));
        t.jump_wall_ms(100);
        assert_eq!((t.boot_ms(), t.wall_ms()), (15, 125));
        t.reboot("b", 0);
        assert_eq!(
            (t.boot_ms(), t.wall_ms(), t.boot_id()),
            (0, 125, "b".to_owned())
        );
    }
}
