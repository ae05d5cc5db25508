package org.mxclock.tests

import org.mxclock.Sample
import org.mxclock.SampleSource
import org.mxclock.sampleFromDateHeader
import org.mxclock.sampleFromEndpoint
import org.mxclock.sampleFromEventAge

// A server time well past 2^32 ms, so a truncated Long would show.
private const val T = 1_750_000_000_123L

// Latest server time the core believes (2200-01-01), see src/sample.rs.
private const val MAX_SANE_SERVER_MS = 7_258_118_400_000L

private fun Sample.contains(thetaMs: Long) = loMs <= thetaMs && thetaMs <= hiMs

fun sampleScenarios(h: Harness) {
    h.scenario("endpoint sample from Kotlin") {
        // The true offset θ = T − 5_000: the server read T when the boot
        // clock read 5_000. Whatever the split of the round trip, θ is inside.
        for ((up, down) in listOf(0L to 0L, 1L to 99L, 99L to 1L, 500L to 3L)) {
            val s = sampleFromEndpoint(5_000 - up, 5_000 + down, T)
            h.eq(SampleSource.ENDPOINT, s.source, "source ($up/$down)")
            h.check(s.contains(T - 5_000), "θ inside the interval for $up/$down: $s")
            h.eq(up + down + 2, s.hiMs - s.loMs, "width = round trip + 2 ms resolution ($up/$down)")
            h.eq(5_000 + down, s.takenBootMs, "taken when the reply arrived ($up/$down)")
        }
        // The edge of the sane window still passes through intact.
        val edge = sampleFromEndpoint(0, 10, MAX_SANE_SERVER_MS)
        h.eq(MAX_SANE_SERVER_MS - 10 - 1, edge.loMs, "i64 bounds survive the FFI")
    }

    h.scenario("Date header sample from Kotlin") {
        // Server second D = floor(T / 1000); reply built at boot 5_000.
        val d = T / 1000
        val plain = sampleFromDateHeader(4_990, 5_010, d, null)
        h.eq(SampleSource.DATE_HEADER, plain.source, "source")
        h.check(plain.contains(T - 5_000), "θ inside the 1 s interval: $plain")
        h.eq(1_000L + 20 + 1, plain.hiMs - plain.loMs, "width = 1 s + round trip + 1 ms")
        // A cache answered with Age: 7 => the response was made ~7 s earlier.
        val cached = sampleFromDateHeader(4_990, 5_010, d - 7, 7)
        h.check(cached.contains(T - 5_000), "θ inside with an Age header: $cached")
        h.check(cached.hiMs - cached.loMs > plain.hiMs - plain.loMs, "Age widens the interval")
    }

    h.scenario("event age sample from Kotlin") {
        val s = sampleFromEventAge(T - 2_000, 2_000, 7_000, 500)
        h.eq(SampleSource.EVENT_AGE, s.source, "source")
        h.check(s.contains(T - 7_000), "θ inside: $s")
        h.eq(500L + 1, s.hiMs - s.loMs, "width = max transit + 1 ms")
    }

    h.scenario("Sample is a Kotlin value") {
        val a = sampleFromEndpoint(100, 140, T)
        val b = sampleFromEndpoint(100, 140, T)
        h.eq(a, b, "equal inputs give equal records")
        h.eq(a.hashCode(), b.hashCode(), "equal records hash alike")
        val moved = a.copy(loMs = a.loMs - 1)
        h.check(moved != a, "copy() with a changed field is a different value")
        h.eq(a.hiMs, moved.hiMs, "copy() keeps the other fields")
    }
}
