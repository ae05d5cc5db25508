// The hand-written companion ServerTimeReader
// (bindings/companion/swift/ServerTimeReader.swift) against the uniffi calls
// it replaces: its answers must equal the clock's own. The Swift twin of
// tests/kotlin/CompanionScenarios.kt.
import Foundation
import MxClock

func companionScenarios(_ h: Harness) {
    h.scenario("ServerTimeReader equals ServerClock on a shared fake clock") {
        let time = SwiftTime(bootMs: 50_000, wallMs: 1_750_000_000_000)
        let clock = try ServerClock.newWithSources(config: ClockConfig(homeserverUrl: ""), timeSource: time, transport: nil)
        let reader = ServerTimeReader(clock: clock, bootMs: { time.peekBootMs })
        h.check(reader.snapshot() == nil, "no snapshot before the first estimate")
        h.check(reader.read() == nil, "no reading before the first estimate")
        let notSynced = h.throwsError("serverNowMs() before the first estimate") { try reader.serverNowMs() }
        if case .NotSynced? = notSynced as? MxClockError {} else {
            h.check(false, "expected NotSynced, got \(String(describing: notSynced))")
        }

        _ = try clock.addEndpointSample(sentBootMs: 50_000, receivedBootMs: 50_060, serverMs: 1_750_000_037_280)
        h.check(reader.snapshot() != nil, "the listener refreshed the snapshot after addEndpointSample")
        for stepMs: Int64 in [0, 1, 999, 60_000, 3_600_000, 86_400_000, 30 * 86_400_000] {
            time.advance(stepMs)
            let e = clock.estimate()!
            h.eq(e.serverNowMs, try reader.serverNowMs(), "server time after +\(stepMs) ms")
            h.eq(e.uncertaintyMs, try reader.uncertaintyMs(), "uncertainty after +\(stepMs) ms")
            h.eq(try clock.serverNowMs(), reader.read()!.serverNowMs, "read() after +\(stepMs) ms")
        }

        let before = reader.snapshot()
        let boot = time.peekBootMs
        _ = try clock.addEndpointSample(sentBootMs: boot, receivedBootMs: boot + 8, serverMs: 1_750_000_037_280 + (boot - 50_000) + 4)
        h.check(reader.snapshot() != before, "snapshot replaced after the estimate changed")
        h.eq(clock.estimate()!.uncertaintyMs, try reader.uncertaintyMs(), "uncertainty after the new sample")
        h.eq(try clock.serverNowMs(), try reader.serverNowMs(), "server time after the new sample")

        reader.close()
        let frozen = reader.snapshot()
        time.advance(1_000)
        let b2 = time.peekBootMs
        _ = try clock.addEndpointSample(sentBootMs: b2, receivedBootMs: b2 + 2, serverMs: 1_750_000_037_280 + (b2 - 50_000) + 900)
        h.check(reader.snapshot() == frozen, "a closed reader keeps its last snapshot")
        h.check(clock.snapshot() != frozen, "while the clock's own estimate moved")
    }

    h.scenario("ServerTimeReader follows a sync made on another thread") {
        let hs = try TestHomeserver(["--skew-ms", "-8200", "--uplink-ms", "3", "--downlink-ms", "3", "--seed", "5"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl, accessToken: "syt_companion_token"))
        let reader = ServerTimeReader(clock: clock)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? clock.sync()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 30)
        h.check(reader.snapshot() != nil, "the sync's estimate reached the reader")
        h.eq(clock.snapshot(), reader.snapshot(), "the reader holds the clock's snapshot")
        try withinOneMs(h, clock, reader, "after a real sync")
    }

    h.scenario("ServerTimeReader on the real boot clock stays within 1 ms of ServerClock") {
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: ""))
        let reader = ServerTimeReader(clock: clock)
        let b = clock.bootMs()
        let wallMs = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try clock.addEndpointSample(sentBootMs: b - 30, receivedBootMs: b, serverMs: wallMs + 12_345)
        try withinOneMs(h, clock, reader, "over 10 000 reads")
    }

    h.scenario("ServerTimeReader saturates like Rust (extreme snapshot)") {
        let s = ClockSnapshot(bootOffsetMs: Int64.max - 5, refUncertaintyMs: Int64.max - 5,
                              refBootMs: Int64.min, uncertaintyGrowthPpm: UInt32.max)
        h.eq(Int64.max, ServerTimeReader.uncertainty(s, atBootMs: Int64.max), "uncertainty saturates")
        h.eq(Int64.max - 5, ServerTimeReader.uncertainty(s, atBootMs: Int64.min), "no growth before the reference")
        let small = ClockSnapshot(bootOffsetMs: 0, refUncertaintyMs: 7, refBootMs: 1_000, uncertaintyGrowthPpm: 200)
        h.eq(Int64(8), ServerTimeReader.uncertainty(small, atBootMs: 1_000 + 4_999), "rounded up below one ms")
        h.eq(Int64(8), ServerTimeReader.uncertainty(small, atBootMs: 1_000 + 5_000), "exactly one ms")
        h.eq(Int64(9), ServerTimeReader.uncertainty(small, atBootMs: 1_000 + 5_001), "just above one ms")
        h.eq(Int64(7 + 200 * 86_400), ServerTimeReader.uncertainty(small, atBootMs: 1_000 + 86_400_000_000), "1 000 days")
    }
}

/// Reader and clock bracket each other within 1 ms, read after read.
private func withinOneMs(_ h: Harness, _ clock: ServerClock, _ reader: ServerTimeReader, _ what: String) throws {
    var worst: Int64 = 0
    for _ in 0..<10_000 {
        let a = try reader.serverNowMs()
        let rust = try clock.serverNowMs()
        let b = try reader.serverNowMs()
        worst = max(worst, a - rust, rust - b)
    }
    h.check(worst <= 1, "\(what): ServerTimeReader within 1 ms of serverNowMs() (worst \(worst) ms)")
    let e = clock.estimate()!
    let u = try reader.uncertaintyMs()
    h.check(abs(u - e.uncertaintyMs) <= 1, "\(what): uncertainty \(e.uncertaintyMs) vs \(u) ms")
}
