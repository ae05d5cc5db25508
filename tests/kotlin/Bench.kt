package org.mxclock.tests

import org.mxclock.osTimeSource
import org.mxclock.sampleFromEndpoint

// Per-call cost across the uniffi/JNA boundary, next to a pure-JVM baseline,
// measured in one run. Printed, never asserted (machines differ).
// Phase 2 adds ServerClock.serverNowMs() and the 1 000-event batch here.
fun bench() {
    val os = osTimeSource()
    fun nsPerCall(name: String, calls: Int, body: () -> Long) {
        var sink = 0L
        repeat(calls / 10) { sink += body() } // warm up the JIT
        val t0 = System.nanoTime()
        repeat(calls) { sink += body() }
        val ns = (System.nanoTime() - t0).toDouble() / calls
        println("bench: %-44s %10.1f ns/call  (%d calls, sink %d)".format(name, ns, calls, sink and 1))
    }
    nsPerCall("System.currentTimeMillis()", 2_000_000) { System.currentTimeMillis() }
    nsPerCall("osTimeSource().bootMs() [Rust via JNA]", 200_000) { os.bootMs() }
    nsPerCall("sampleFromEndpoint() [record via RustBuffer]", 200_000) {
        sampleFromEndpoint(1_000, 1_040, 1_750_000_000_123).loMs
    }
}
