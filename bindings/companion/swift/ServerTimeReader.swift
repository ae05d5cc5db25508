// Hand-written companion of the generated bindings (MxClock.swift, same
// module): server time without crossing the FFI on every read. Not
// generated, not touched by scripts/generate-bindings.sh; scripts/ios-build.sh
// puts it next to MxClock.swift. The Kotlin twin is
// bindings/companion/kotlin/org/mxclock/ServerTimeReader.kt.
import Foundation
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Server time read from a snapshot of a `ServerClock`'s estimate and the
/// boot clock, without a call into the native library: a read costs a lock
/// and a `clock_gettime` where `ServerClock.serverNowMs()` crosses the FFI.
/// Use it where server time is read often: per frame, per list row.
///
/// The snapshot (`ServerClock.snapshot()`) is taken at creation and again
/// whenever the clock changes its estimate (a sync, an added sample): the
/// reader registers a `ClockListener`. Between two changes server time is
/// `bootMs + bootOffsetMs` exactly as the clock computes it, so the answers
/// equal the clock's own.
///
/// `bootMs` must read the same clock as the clock's `TimeSource`: the
/// default is mxclock's own boot clock (`clock_gettime(CLOCK_MONOTONIC)` on
/// Apple platforms, which counts sleep; `CLOCK_BOOTTIME` on Linux), right
/// for `ServerClock(config:)`. `close()` unregisters the listener (the
/// reader then keeps its last snapshot); the listener holds the reader
/// weakly, so a reader dropped without `close()` is still freed.
public final class ServerTimeReader: @unchecked Sendable {
    /// One reading: server time and its uncertainty at boot time `bootMs`.
    public struct Reading: Equatable, Sendable {
        public let serverNowMs: Int64
        public let uncertaintyMs: Int64
        public let bootMs: Int64
    }

    private let clock: ServerClockProtocol
    private let bootMs: @Sendable () -> Int64
    private let lock = NSLock()
    private var current: ClockSnapshot?
    private let refreshLock = NSLock()
    private var listenerId: UInt64 = 0

    public init(clock: ServerClockProtocol, bootMs: @escaping @Sendable () -> Int64 = ServerTimeReader.systemBootMs) {
        self.clock = clock
        self.bootMs = bootMs
        listenerId = clock.addListener(listener: Listener(reader: self))
        refresh()
    }

    deinit {
        _ = clock.removeListener(listenerId: listenerId)
    }

    /// Takes a new snapshot now (one FFI call). Not needed after changes
    /// the clock makes itself; it tells the reader.
    public func refresh() {
        // Serialised, so that a slow refresh cannot overwrite a newer one.
        refreshLock.lock()
        defer { refreshLock.unlock() }
        let fresh = clock.snapshot()
        lock.lock()
        current = fresh
        lock.unlock()
    }

    /// The snapshot in use, or nil before the clock's first estimate.
    public func snapshot() -> ClockSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Server time now in ms since the Unix epoch, as `ServerClock.serverNowMs()`.
    /// Throws `MxClockError.NotSynced` before the clock's first estimate.
    public func serverNowMs() throws -> Int64 {
        guard let s = snapshot() else { throw ServerTimeReader.notSynced }
        return ServerTimeReader.saturatingAdd(bootMs(), s.bootOffsetMs)
    }

    /// The uncertainty now, as `ServerClock.estimate()?.uncertaintyMs`.
    /// Throws `MxClockError.NotSynced` before the clock's first estimate.
    public func uncertaintyMs() throws -> Int64 {
        guard let s = snapshot() else { throw ServerTimeReader.notSynced }
        return ServerTimeReader.uncertainty(s, atBootMs: bootMs())
    }

    /// Server time and uncertainty from one boot-clock read, or nil before
    /// the first estimate.
    public func read() -> Reading? {
        guard let s = snapshot() else { return nil }
        let boot = bootMs()
        return Reading(
            serverNowMs: ServerTimeReader.saturatingAdd(boot, s.bootOffsetMs),
            uncertaintyMs: ServerTimeReader.uncertainty(s, atBootMs: boot),
            bootMs: boot)
    }

    /// Stops following the clock's changes.
    public func close() {
        _ = clock.removeListener(listenerId: listenerId)
    }

    /// mxclock's boot clock, as `osTimeSource().bootMs()` reads it.
    @Sendable public static func systemBootMs() -> Int64 {
        var ts = timespec()
        #if canImport(Darwin)
        // Apple's CLOCK_MONOTONIC counts time asleep.
        clock_gettime(CLOCK_MONOTONIC, &ts)
        #else
        clock_gettime(CLOCK_BOOTTIME, &ts)
        #endif
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// `refUncertaintyMs + ceil(growthPpm × (bootMs − refBootMs) / 10⁶)`,
    /// never less than `refUncertaintyMs`, saturating: the arithmetic of
    /// `ClockSnapshot::uncertainty_ms` in Rust.
    public static func uncertainty(_ s: ClockSnapshot, atBootMs bootMs: Int64) -> Int64 {
        let elapsed = saturatingSub(bootMs, s.refBootMs)
        if elapsed <= 0 { return s.refUncertaintyMs }
        let ppm = Int64(s.uncertaintyGrowthPpm) // < 2^32
        // ceil(ppm × elapsed / 10⁶) in 64 bits: with elapsed = q × 10⁶ + r
        // it is ppm × q + ceil(ppm × r / 10⁶), and ppm × r < 2^52.
        let q = elapsed / 1_000_000
        let r = elapsed % 1_000_000
        let (whole, overflow) = ppm.multipliedReportingOverflow(by: q)
        if overflow { return Int64.max }
        let growth = saturatingAdd(whole, (ppm * r + 999_999) / 1_000_000)
        return saturatingAdd(s.refUncertaintyMs, growth)
    }

    private static var notSynced: MxClockError {
        return MxClockError.NotSynced(message: "no server time estimate yet: call sync() or add a sample first")
    }

    private static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? (a < 0 ? Int64.min : Int64.max) : r
    }

    private static func saturatingSub(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (a < 0 ? Int64.min : Int64.max) : r
    }

    private final class Listener: ClockListener, @unchecked Sendable {
        weak var reader: ServerTimeReader?

        init(reader: ServerTimeReader) {
            self.reader = reader
        }

        func estimateChanged() {
            reader?.refresh()
        }
    }
}
