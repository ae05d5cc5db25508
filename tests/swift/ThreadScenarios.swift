import Dispatch
import Foundation
import MxClock

func threadScenarios(_ h: Harness) {
    h.scenario("several Swift threads call into Rust at once") {
        let threads = 8
        let callsPerThread = 5_000
        let shared = osTimeSource() // one Rust object used by every thread
        let lock = NSLock()
        var wrong = 0
        var errors = 0
        DispatchQueue.concurrentPerform(iterations: threads) { n in
            var localWrong = 0
            var localErrors = 0
            var last = shared.bootMs()
            for i in 0..<callsPerThread {
                // Distinct inputs per thread and call: a mixed-up result shows.
                let sent = Int64(n) * 1_000_000 + Int64(i)
                let server = testServerMs + Int64(i)
                do {
                    let s = try sampleFromEndpoint(sentBootMs: sent, receivedBootMs: sent + Int64(n), serverMs: server)
                    if s.loMs != server - (sent + Int64(n)) - 1 || s.hiMs != server - sent + 1 {
                        localWrong += 1
                    }
                } catch {
                    localErrors += 1
                }
                let now = shared.bootMs()
                if now < last { localWrong += 1 }
                last = now
            }
            lock.lock()
            wrong += localWrong
            errors += localErrors
            lock.unlock()
        }
        h.eq(0, errors, "no call threw")
        h.eq(0, wrong, "every result belongs to its own call (\(threads) threads x \(callsPerThread) calls)")
    }
}
