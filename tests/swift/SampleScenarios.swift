import Foundation
import MxClock

extension Sample {
    func contains(_ thetaMs: Int64) -> Bool {
        return loMs <= thetaMs && thetaMs <= hiMs
    }
}

func sampleScenarios(_ h: Harness) {
    h.scenario("endpoint sample from Swift") {
        // The true offset θ = T − 5_000: the server read T when the boot
        // clock read 5_000. Whatever the split of the round trip, θ is inside.
        let splits: [(Int64, Int64)] = [(0, 0), (1, 99), (99, 1), (500, 3)]
        for (up, down) in splits {
            let s = try sampleFromEndpoint(
                sentBootMs: 5_000 - up, receivedBootMs: 5_000 + down, serverMs: testServerMs)
            h.eq(SampleSource.endpoint, s.source, "source (\(up)/\(down))")
            h.check(s.contains(testServerMs - 5_000), "θ inside the interval for \(up)/\(down): \(s)")
            h.eq(up + down + 2, s.hiMs - s.loMs, "width = round trip + 2 ms resolution (\(up)/\(down))")
            h.eq(5_000 + down, s.takenBootMs, "taken when the reply arrived (\(up)/\(down))")
        }
        // The edge of the sane window still passes through intact.
        let edge = try sampleFromEndpoint(sentBootMs: 0, receivedBootMs: 10, serverMs: maxSaneServerMs)
        h.eq(maxSaneServerMs - 10 - 1, edge.loMs, "i64 bounds survive the FFI")
    }

    h.scenario("Date header sample from Swift") {
        // Server second D = floor(T / 1000); reply built at boot 5_000.
        let d = testServerMs / 1000
        let plain = try sampleFromDateHeader(
            sentBootMs: 4_990, receivedBootMs: 5_010, dateUnixS: d, ageS: nil)
        h.eq(SampleSource.dateHeader, plain.source, "source")
        h.check(plain.contains(testServerMs - 5_000), "θ inside the 1 s interval: \(plain)")
        h.eq(Int64(1_000 + 20 + 1), plain.hiMs - plain.loMs, "width = 1 s + round trip + 1 ms")
        // A cache answered with Age: 7 => the response was made ~7 s earlier.
        let cached = try sampleFromDateHeader(
            sentBootMs: 4_990, receivedBootMs: 5_010, dateUnixS: d - 7, ageS: 7)
        h.check(cached.contains(testServerMs - 5_000), "θ inside with an Age header: \(cached)")
        h.check(cached.hiMs - cached.loMs > plain.hiMs - plain.loMs, "Age widens the interval")
    }

    h.scenario("event age sample from Swift") {
        let s = try sampleFromEventAge(
            originServerTs: testServerMs - 2_000, ageMs: 2_000, receivedBootMs: 7_000, maxTransitMs: 500)
        h.eq(SampleSource.eventAge, s.source, "source")
        h.check(s.contains(testServerMs - 7_000), "θ inside: \(s)")
        h.eq(Int64(500 + 1), s.hiMs - s.loMs, "width = max transit + 1 ms")
    }

    h.scenario("Sample is a Swift value") {
        let a = try sampleFromEndpoint(sentBootMs: 100, receivedBootMs: 140, serverMs: testServerMs)
        let b = try sampleFromEndpoint(sentBootMs: 100, receivedBootMs: 140, serverMs: testServerMs)
        h.eq(a, b, "equal inputs give equal records")
        h.eq(a.hashValue, b.hashValue, "equal records hash alike")
        var moved = a
        moved.loMs -= 1
        h.check(moved != a, "a changed copy is a different value")
        h.eq(a.hiMs, moved.hiMs, "the copy keeps the other fields")
    }
}
