package org.mxclock.tests

import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread
import org.mxclock.osTimeSource
import org.mxclock.sampleFromEndpoint

private const val T = 1_750_000_000_123L

fun threadScenarios(h: Harness) = h.scenario("several Kotlin threads call into Rust at once") {
    val threads = 8
    val callsPerThread = 5_000
    val shared = osTimeSource() // one Rust object used by every thread
    val wrong = AtomicInteger()
    val errors = AtomicInteger()
    val start = CountDownLatch(1)
    val workers = (0 until threads).map { n ->
        thread(name = "mxclock-test-$n") {
            start.await()
            try {
                var last = shared.bootMs()
                for (i in 0 until callsPerThread) {
                    // Distinct inputs per thread and call: a mixed-up result shows.
                    val sent = n * 1_000_000L + i
                    val s = sampleFromEndpoint(sent, sent + n, T + i)
                    if (s.loMs != T + i - (sent + n) - 1 || s.hiMs != T + i - sent + 1) wrong.incrementAndGet()
                    val now = shared.bootMs()
                    if (now < last) wrong.incrementAndGet()
                    last = now
                }
            } catch (t: Throwable) {
                errors.incrementAndGet()
                t.printStackTrace(System.out)
            }
        }
    }
    start.countDown()
    workers.forEach { it.join() }
    h.eq(0, errors.get(), "no thread threw")
    h.eq(0, wrong.get(), "every result belongs to its own call ($threads threads x $callsPerThread calls)")
}

fun readersWhileSyncingScenario(h: Harness) = h.scenario("Kotlin threads read the clock while another syncs") {
    val skewMs = 12_345L
    // 40 ms each way: every sync takes a while, and readers run meanwhile.
    TestHomeserver("--skew-ms", "$skewMs", "--uplink-ms", "40", "--downlink-ms", "40", "--seed", "11").use { hs ->
        org.mxclock.ServerClock(org.mxclock.ClockConfig(homeserverUrl = hs.baseUrl)).use { clock ->
            clock.sync()
            val done = java.util.concurrent.atomic.AtomicBoolean(false)
            val reads = AtomicInteger()
            val outside = AtomicInteger()
            val errors = AtomicInteger()
            val readers = (0 until 4).map { n ->
                thread(name = "mxclock-reader-$n") {
                    try {
                        while (!done.get()) {
                            // The homeserver's clock is this machine's wall
                            // clock + skew, so every reading can be checked.
                            val w0 = System.currentTimeMillis()
                            val e = clock.estimate() ?: continue
                            val w1 = System.currentTimeMillis()
                            if (e.serverNowMs < w0 + skewMs - e.uncertaintyMs - 2 || e.serverNowMs > w1 + skewMs + e.uncertaintyMs + 2) {
                                outside.incrementAndGet()
                            }
                            reads.incrementAndGet()
                        }
                    } catch (t: Throwable) {
                        errors.incrementAndGet()
                        t.printStackTrace(System.out)
                    }
                }
            }
            var syncs = 0
            try {
                repeat(3) { if (clock.sync().samplesTaken >= 1u) syncs++ }
            } finally {
                done.set(true)
                readers.forEach { it.join() }
            }
            h.eq(3, syncs, "three syncs while reading")
            h.eq(0, errors.get(), "no reader threw")
            h.check(reads.get() > 0, "readers read (${reads.get()} readings)")
            h.eq(0, outside.get(), "every reading held the true server time within its uncertainty")
        }
    }
}
