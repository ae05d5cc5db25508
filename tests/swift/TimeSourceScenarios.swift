import Foundation
import MxClock

func timeSourceScenarios(_ h: Harness) {
    h.scenario("Rust OS time source called from Swift") {
        let clocks = osTimeSource()
        var last = clocks.bootMs()
        var backwards = 0
        for _ in 0..<1_000 {
            let now = clocks.bootMs()
            if now < last { backwards += 1 }
            last = now
        }
        h.eq(0, backwards, "boot clock never goes back over 1 000 reads")

        // Same wall clock as Foundation's; the bound only absorbs the two
        // calls' distance, not drift.
        let skew = clocks.wallMs() - Int64(Date().timeIntervalSince1970 * 1000)
        h.check(abs(skew) < 1_000, "wallMs() is the system clock (differs by \(skew) ms)")
        h.check(!clocks.bootId().isEmpty, "bootId() is not empty")

        #if os(Linux)
        let kernelBootId = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        h.eq(kernelBootId.trimmingCharacters(in: .whitespacesAndNewlines), clocks.bootId(), "bootId() is the kernel's")
        // /proc/uptime counts suspend like CLOCK_BOOTTIME.
        let uptime = try String(contentsOfFile: "/proc/uptime", encoding: .utf8)
        let uptimeMs = Int64((Double(uptime.split(separator: " ")[0]) ?? -1) * 1000)
        let diff = clocks.bootMs() - uptimeMs
        h.check(abs(diff) < 2_000, "bootMs() is CLOCK_BOOTTIME (differs from /proc/uptime by \(diff) ms)")
        #else
        // Apple: mxclock's boot clock is CLOCK_MONOTONIC, which counts sleep.
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let monotonicMs = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        let diff = clocks.bootMs() - monotonicMs
        h.check(abs(diff) < 2_000, "bootMs() is CLOCK_MONOTONIC (differs by \(diff) ms)")
        #endif
    }

    h.scenario("Rust objects come and go") {
        // Each handle is freed on deinit; a leak or double free would crash
        // or show in sanitizers, not here, but every object must work.
        var sum: Int64 = 0
        for _ in 0..<10_000 {
            let clocks = osTimeSource()
            sum += clocks.bootMs() >= 0 ? 1 : 0
        }
        h.eq(Int64(10_000), sum, "10 000 short-lived time sources all answered")
    }
}
