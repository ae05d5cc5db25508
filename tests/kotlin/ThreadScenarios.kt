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
