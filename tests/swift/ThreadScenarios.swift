import Dispatch
import Foundation
import MxClock

func threadScenarios(_ h: Harness) {
    h.scenario("several Swift threads call into Rust at once") {
        let threads = 8
        let callsPerThread = 5_000
        let shared = osTimeSource() // one Rust object used by every thread
        let totals = Locked((wrong: 0, errors: 0))
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
            totals.withLock { $0.wrong += localWrong; $0.errors += localErrors }
        }
        let (wrong, errors) = totals.current
        h.eq(0, errors, "no call threw")
        h.eq(0, wrong, "every result belongs to its own call (\(threads) threads x \(callsPerThread) calls)")
    }
}

func readersWhileSyncingScenario(_ h: Harness) {
    h.scenario("Swift threads read the clock while another syncs") {
        let skewMs: Int64 = 12_345
        let hs = try TestHomeserver(["--skew-ms", "\(skewMs)", "--uplink-ms", "40", "--downlink-ms", "40", "--seed", "11"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl))
        _ = try clock.sync()
        let done = Locked(false)
        let totals = Locked((reads: 0, outside: 0))
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                var localReads = 0
                var localOutside = 0
                while !done.current {
                    // The homeserver's clock is this machine's wall clock + skew.
                    let w0 = Int64(Date().timeIntervalSince1970 * 1000)
                    guard let e = clock.estimate() else { continue }
                    let w1 = Int64(Date().timeIntervalSince1970 * 1000)
                    if e.serverNowMs < w0 + skewMs - e.uncertaintyMs - 2 || e.serverNowMs > w1 + skewMs + e.uncertaintyMs + 2 {
                        localOutside += 1
                    }
                    localReads += 1
                }
                totals.withLock { $0.reads += localReads; $0.outside += localOutside }
            }
        }
        var syncs = 0
        for _ in 0..<3 {
            if let r = try? clock.sync(), r.samplesTaken >= 1 { syncs += 1 }
        }
        done.withLock { $0 = true }
        group.wait()
        let (reads, outside) = totals.current
        h.eq(3, syncs, "three syncs while reading")
        h.check(reads > 0, "readers read (\(reads) readings)")
        h.eq(0, outside, "every reading held the true server time within its uncertainty")
    }
}
