// The hand-written companion ServerTimeReader
// (bindings/companion/kotlin/org/mxclock/ServerTimeReader.kt) against the
// uniffi calls it replaces: its answers must equal the clock's own.
package org.mxclock.tests

import java.util.concurrent.atomic.AtomicInteger
import org.mxclock.BootClock
import org.mxclock.ClockConfig
import org.mxclock.ClockListener
import org.mxclock.ClockSnapshot
import org.mxclock.MxClockException
import org.mxclock.ServerClock
import org.mxclock.ServerTimeReader

fun companionScenarios(h: Harness) {
    h.scenario("ServerTimeReader equals ServerClock on a shared fake clock") {
        val time = KotlinTime(bootMs = 50_000, wallMs = 1_750_000_000_000)
        ServerClock.newWithSources(ClockConfig(homeserverUrl = ""), time, null).use { clock ->
            ServerTimeReader(clock, BootClock { time.peekBootMs() }).use { reader ->
                h.eq(null, reader.snapshot(), "no snapshot before the first estimate")
                h.eq(null, reader.serverNowMsOrNull(), "no server time before the first estimate")
                h.throws<MxClockException.NotSynced>("serverNowMs() before the first estimate, like the clock") {
                    reader.serverNowMs()
                }

                clock.addEndpointSample(50_000, 50_060, 1_750_000_037_280)
                h.check(reader.snapshot() != null, "the listener refreshed the snapshot after addEndpointSample")
                for (stepMs in longArrayOf(0, 1, 999, 60_000, 3_600_000, 86_400_000, 30L * 86_400_000)) {
                    time.advance(stepMs)
                    val e = clock.estimate()!!
                    h.eq(e.serverNowMs, reader.serverNowMs(), "server time after +$stepMs ms")
                    h.eq(e.uncertaintyMs, reader.uncertaintyMs(), "uncertainty after +$stepMs ms")
                    h.eq(clock.serverNowMs(), reader.read()!!.serverNowMs, "read() after +$stepMs ms")
                }

                // A new sample moves the estimate; the reader follows at once.
                val before = reader.snapshot()
                val boot = time.peekBootMs()
                clock.addEndpointSample(boot, boot + 8, 1_750_000_037_280 + (boot - 50_000) + 4)
                h.check(reader.snapshot() != before, "snapshot replaced after the estimate changed")
                h.eq(clock.estimate()!!.uncertaintyMs, reader.uncertaintyMs(), "uncertainty after the new sample")
                h.eq(clock.serverNowMs(), reader.serverNowMs(), "server time after the new sample")

                // After close() the reader no longer follows (so the
                // listener really was what kept it up to date).
                reader.close()
                val frozen = reader.snapshot()
                time.advance(1_000)
                val b2 = time.peekBootMs()
                clock.addEndpointSample(b2, b2 + 2, 1_750_000_037_280 + (b2 - 50_000) + 900)
                h.eq(frozen, reader.snapshot(), "a closed reader keeps its last snapshot")
                h.check(clock.snapshot() != frozen, "while the clock's own estimate moved")
            }
        }
    }

    h.scenario("ServerTimeReader follows a sync made on another thread") {
        TestHomeserver("--skew-ms", "-8200", "--uplink-ms", "3", "--downlink-ms", "3", "--seed", "5").use { hs ->
            ServerClock(ClockConfig(homeserverUrl = hs.baseUrl, accessToken = "syt_companion_token")).use { clock ->
                ServerTimeReader(clock).use { reader ->
                    val t = Thread { clock.sync() }
                    t.start()
                    t.join(30_000)
                    h.check(reader.snapshot() != null, "the sync's estimate reached the reader")
                    h.eq(clock.snapshot(), reader.snapshot(), "the reader holds the clock's snapshot")
                    withinOneMs(h, clock, reader, "after a real sync")
                }
            }
        }
    }

    h.scenario("ServerTimeReader on the real boot clock stays within 1 ms of ServerClock") {
        // The OS clocks on both sides: Rust reads CLOCK_BOOTTIME, the reader
        // android.os.SystemClock.elapsedRealtime() (tests/kotlin/android/os).
        ServerClock(ClockConfig(homeserverUrl = "")).use { clock ->
            ServerTimeReader(clock).use { reader ->
                val b = clock.bootMs()
                clock.addEndpointSample(b - 30, b, System.currentTimeMillis() + 12_345)
                withinOneMs(h, clock, reader, "over 10 000 reads")
            }
        }
    }

    h.scenario("a listener that throws does not break the clock") {
        ServerClock(ClockConfig(homeserverUrl = "")).use { clock ->
            val calls = AtomicInteger()
            clock.addListener(object : ClockListener {
                override fun estimateChanged() {
                    calls.incrementAndGet()
                    throw IllegalStateException("listener bug")
                }
            })
            val b = clock.bootMs()
            val e = clock.addEndpointSample(b - 10, b, System.currentTimeMillis())
            h.eq(1, calls.get(), "the listener was called once")
            h.eq(e.bootOffsetMs, clock.snapshot()?.bootOffsetMs, "the sample was taken all the same")
        }
    }

    h.scenario("ServerTimeReader saturates like Rust (extreme snapshot)") {
        // The same cases as snapshot::tests::snapshot_saturates_instead_of_overflowing.
        val s = ClockSnapshot(
            bootOffsetMs = Long.MAX_VALUE - 5,
            refUncertaintyMs = Long.MAX_VALUE - 5,
            refBootMs = Long.MIN_VALUE,
            uncertaintyGrowthPpm = UInt.MAX_VALUE,
        )
        h.eq(Long.MAX_VALUE, ServerTimeReader.uncertaintyAt(s, Long.MAX_VALUE), "uncertainty saturates")
        h.eq(Long.MAX_VALUE - 5, ServerTimeReader.uncertaintyAt(s, Long.MIN_VALUE), "no growth before the reference")
        val small = ClockSnapshot(bootOffsetMs = 0, refUncertaintyMs = 7, refBootMs = 1_000, uncertaintyGrowthPpm = 200u)
        // ceil(200 × 4 999 / 10⁶) = ceil(0.9998) = 1; ceil(200 × 5 000 / 10⁶) = 1; 5 001 → ceil(1.0002) = 2.
        h.eq(8L, ServerTimeReader.uncertaintyAt(small, 1_000 + 4_999), "rounded up below one ms")
        h.eq(8L, ServerTimeReader.uncertaintyAt(small, 1_000 + 5_000), "exactly one ms")
        h.eq(9L, ServerTimeReader.uncertaintyAt(small, 1_000 + 5_001), "just above one ms")
        h.eq(7L + 200L * 86_400, ServerTimeReader.uncertaintyAt(small, 1_000 + 86_400_000_000), "1 000 days")
    }
}

/** Reader and clock bracket each other within 1 ms, read after read. */
private fun withinOneMs(h: Harness, clock: ServerClock, reader: ServerTimeReader, what: String) {
    var worst = 0L
    repeat(10_000) {
        val a = reader.serverNowMs()
        val rust = clock.serverNowMs()
        val b = reader.serverNowMs()
        // Rust's read lies between the two reader reads, up to 1 ms of
        // rounding between the two boot clocks.
        val off = maxOf(a - rust, rust - b, 0)
        if (off > worst) worst = off
    }
    h.check(worst <= 1, "$what: ServerTimeReader within 1 ms of serverNowMs() (worst $worst ms)")
    val e = clock.estimate()!!
    val u = reader.uncertaintyMs()
    h.check(kotlin.math.abs(u - e.uncertaintyMs) <= 1, "$what: uncertainty ${e.uncertaintyMs} vs $u ms")
}
