// ServerClock from Swift: sync against the loopback test homeserver, the
// estimate and its uncertainty, persistence, errors, and a Swift TimeSource
// driving the Rust core (twin of tests/kotlin/ClockScenarios.kt).
import Foundation
import MxClock

private let skewMs: Int64 = 37_250

func clockScenarios(_ h: Harness) {
    h.scenario("sync against the loopback homeserver (MSC4094)") {
        let hs = try TestHomeserver(["--skew-ms", "\(skewMs)", "--uplink-ms", "5", "--downlink-ms", "20", "--jitter-ms", "2", "--seed", "7"])
        defer { hs.close() }
        let config = ClockConfig(homeserverUrl: hs.baseUrl, accessToken: "syt_swift_canary_token")
        let clock = try ServerClock(config: config)
        h.check(clock.estimate() == nil, "no estimate before the first sync")
        let notSynced = h.throwsError("serverNowMs() before any sync") { try clock.serverNowMs() }
        if case .NotSynced? = notSynced as? MxClockError {} else {
            h.check(false, "expected NotSynced, got \(String(describing: notSynced))")
        }

        let report = try clock.sync()
        h.check(report.requests >= 1 && report.samplesTaken >= 1, "requests \(report.requests), samples \(report.samplesTaken)")
        h.check(report.endpointSupported, "the MSC4094 endpoint was found")
        h.eq(SampleSource.endpoint, report.source, "best sample from the endpoint")
        h.check((report.minRttMs ?? 0) >= 25, "min RTT \(String(describing: report.minRttMs)) ms includes the 25 ms path delay")
        h.check(try hs.timeEndpointRequests() >= Int64(report.requests), "the homeserver saw the requests")

        guard let before = clock.estimate() else { h.check(false, "estimate after sync"); return }
        let truth = try hs.trueServerMs()
        guard let after = clock.estimate() else { h.check(false, "estimate after sync"); return }
        h.check(before.uncertaintyMs >= 1 && before.uncertaintyMs <= 999, "uncertainty \(before.uncertaintyMs) ms is positive and within policy")
        h.check(before.withinPolicy, "estimate within policy")
        h.check(
            truth >= Double(before.serverNowMs - before.uncertaintyMs - 1) && truth <= Double(after.serverNowMs + after.uncertaintyMs + 1),
            "true server time \(truth) within [\(before.serverNowMs), \(after.serverNowMs)] ± \(after.uncertaintyMs)")
        h.check(abs(after.offsetMs - skewMs) <= after.uncertaintyMs + 2, "offset \(after.offsetMs) ms = skew \(skewMs) ± \(after.uncertaintyMs)")

        let state = try clock.exportState()
        h.check(!state.contains("syt_swift_canary_token"), "exported state holds no access token")
        let restored = try ServerClock.restore(config: config, stateJson: state)
        if let r = restored.estimate(), let now = clock.estimate() {
            h.check(abs(r.serverNowMs - now.serverNowMs) <= r.uncertaintyMs + now.uncertaintyMs + 5, "restored server time \(r.serverNowMs) ≈ \(now.serverNowMs)")
        } else {
            h.check(false, "restored clock has an estimate")
        }
        let garbled = h.throwsError("garbled state") {
            try ServerClock.restore(config: config, stateJson: "{\"format\":")
        }
        if case .InvalidState? = garbled as? MxClockError {} else {
            h.check(false, "expected InvalidState, got \(String(describing: garbled))")
        }
    }

    h.scenario("sync against a homeserver without MSC4094 (Date header)") {
        let hs = try TestHomeserver(["--skew-ms", "-4321", "--no-msc4094", "--uplink-ms", "2", "--downlink-ms", "3", "--seed", "9"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl))
        let report = try clock.sync()
        h.check(!report.endpointSupported, "the missing endpoint is noticed")
        h.eq(SampleSource.dateHeader, report.source, "best sample from a Date header")
        guard let before = clock.estimate() else { h.check(false, "estimate after sync"); return }
        let truth = try hs.trueServerMs()
        guard let after = clock.estimate() else { h.check(false, "estimate after sync"); return }
        h.check(after.uncertaintyMs >= 1 && after.uncertaintyMs <= 1_100, "uncertainty \(after.uncertaintyMs) ms is about 1 s or better")
        h.check(
            truth >= Double(before.serverNowMs - before.uncertaintyMs - 1) && truth <= Double(after.serverNowMs + after.uncertaintyMs + 1),
            "true server time \(truth) within [\(before.serverNowMs), \(after.serverNowMs)] ± \(after.uncertaintyMs)")
    }

    h.scenario("network and configuration errors surface as MxClockError") {
        let bad = h.throwsError("ftp:// homeserver URL") { try ServerClock(config: ClockConfig(homeserverUrl: "ftp://matrix.example.org")) }
        if case .InvalidConfig(let message)? = bad as? MxClockError {
            h.check(!message.isEmpty, "readable message: \(message)")
        } else {
            h.check(false, "expected InvalidConfig, got \(String(describing: bad))")
        }
        // Port 1 on loopback: nothing listens, the connection is refused.
        let config = ClockConfig(homeserverUrl: "http://127.0.0.1:1", accessToken: "syt_swift_canary_token", requestTimeoutMs: 2_000)
        let clock = try ServerClock(config: config)
        let e = h.throwsError("an unreachable homeserver") { try clock.sync() }
        let text = String(describing: e)
        h.check(e is MxClockError, "the error is an MxClockError: \(text)")
        h.check(!text.contains("syt_swift_canary_token"), "the token is not in the error")
        h.check(clock.estimate() == nil, "a failed sync leaves no estimate")
    }

    h.scenario("a Swift TimeSource drives the Rust clock") {
        let t = SwiftTime(bootMs: 10_000, wallMs: 1_700_000_000_000)
        let serverMs: Int64 = 1_750_000_000_000
        let clock = try ServerClock.newWithSources(config: ClockConfig(homeserverUrl: ""), timeSource: t, transport: nil)
        h.eq(Int64(10_000), clock.bootMs(), "the clock reads the Swift boot clock")
        // Sent at boot 9 960, received at 10 000: the server's time now is in
        // [serverMs, serverMs + 40].
        let e0 = try clock.addEndpointSample(sentBootMs: 9_960, receivedBootMs: 10_000, serverMs: serverMs)
        h.check(t.calls > 0, "Rust called the Swift TimeSource (\(t.calls) calls)")
        h.check(e0.uncertaintyMs <= 40 / 2 + 2, "uncertainty \(e0.uncertaintyMs) ≤ half the round trip + 2")
        h.check(e0.serverNowMs - e0.uncertaintyMs <= serverMs + 40 && e0.serverNowMs + e0.uncertaintyMs >= serverMs,
                "estimate \(e0.serverNowMs) ± \(e0.uncertaintyMs) covers [S, S + 40]")

        t.advance(60_000)
        guard let e1 = clock.estimate() else { h.check(false, "estimate"); return }
        h.eq(e0.serverNowMs + 60_000, e1.serverNowMs, "server time moves with the Swift boot clock")
        h.check(e1.uncertaintyMs > e0.uncertaintyMs && e1.uncertaintyMs <= e0.uncertaintyMs + 7,
                "uncertainty grows by 100 ppm drift: \(e0.uncertaintyMs) -> \(e1.uncertaintyMs)")

        t.jumpWall(-3_600_000)
        guard let e2 = clock.estimate() else { h.check(false, "estimate"); return }
        h.eq(e1.serverNowMs, e2.serverNowMs, "a wall-clock change does not move server time")
        h.eq(e1.offsetMs + 3_600_000, e2.offsetMs, "MSC4094 offset follows the wall clock")
        h.eq(Int64(3_600_000), abs(e2.wallJumpMs), "the wall-clock jump is reported")
        h.eq(e2.serverNowMs, try clock.serverNowMs(), "serverNowMs() agrees with estimate()")
    }
}
