import Dispatch
import Foundation
import MxClock

// Per-call cost across the FFI, next to a pure-Swift baseline, measured in
// one run. Printed, never asserted. Phase 2 adds ServerClock.serverNowMs()
// and the 1 000-event batch.
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
}
