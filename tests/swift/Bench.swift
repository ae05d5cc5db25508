import Dispatch
import Foundation
import MxClock

// Per-call cost across the FFI, next to a pure-Swift baseline, measured in
// one run. Printed, never asserted.
func bench() {
    let clocks = osTimeSource()
    func nsPerCall(_ name: String, _ calls: Int, _ body: () -> Int64) {
        var sink: Int64 = 0
        for _ in 0..<(calls / 10) { sink &+= body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { sink &+= body() }
        let ns = Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(calls)
        print("bench: \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%10.1f", ns)) ns/call  (\(calls) calls, sink \(sink & 1))")
    }
    nsPerCall("Date().timeIntervalSince1970", 2_000_000) { Int64(Date().timeIntervalSince1970 * 1000) }
    nsPerCall("osTimeSource().bootMs() [Rust via C]", 1_000_000) { clocks.bootMs() }
    nsPerCall("sampleFromEndpoint() [record via RustBuffer]", 1_000_000) {
        (try? sampleFromEndpoint(sentBootMs: 1_000, receivedBootMs: 1_040, serverMs: testServerMs).loMs) ?? 0
    }

    // A clock on the OS clocks, fed one sample (no network).
    guard let clock = try? ServerClock(config: ClockConfig(homeserverUrl: "")) else { return }
    let b = clocks.bootMs()
    _ = try? clock.addEndpointSample(sentBootMs: b - 20, receivedBootMs: b, serverMs: Int64(Date().timeIntervalSince1970 * 1000) + 5_000)
    nsPerCall("ServerClock.serverNowMs()", 1_000_000) { (try? clock.serverNowMs()) ?? 0 }

    // 1 000 events of every rule, evaluated in one call.
    let s = (try? clock.serverNowMs()) ?? 0
    let cases = ruleCases(s)
    let batch = "[" + (0..<1_000).map { withEventId(cases[$0 % cases.count].json, "$e\($0)") }.joined(separator: ",") + "]"
    let calls = 200
    for _ in 0..<20 { _ = try? clock.evaluateEventsJson(jsonArray: batch, receivedBootMs: b) }
    let t0 = DispatchTime.now().uptimeNanoseconds
    var n = 0
    for _ in 0..<calls { n += (try? clock.evaluateEventsJson(jsonArray: batch, receivedBootMs: b).count) ?? 0 }
    let perEvent = Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(max(n, 1))
    print("bench: \("ServerClock.evaluateEventsJson() batch".padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%10.1f", perEvent)) ns/event (\(calls) calls x 1 000 events)")
}
