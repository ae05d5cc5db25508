// Stand-in for Android's android.os.SystemClock on the desktop JVM, so that
// the companion's default boot clock (bindings/companion/kotlin) compiles and
// runs in these tests. Test code only: apps compile against the real one.
package android.os

object SystemClock {
    // CLOCK_BOOTTIME in ms, like Android's elapsedRealtime(): mxclock's own
    // boot clock read once, then advanced by System.nanoTime()
    // (CLOCK_MONOTONIC, which differs from CLOCK_BOOTTIME only by time spent
    // suspended, and a test machine does not suspend mid-run). The base read
    // and nanoTime are taken together, so the two agree within about 1 ms.
    private val baseNanos: Long
    private val baseBootMs: Long

    init {
        val os = org.mxclock.osTimeSource()
        // The base with the smallest gap between the two reads.
        var bestGap = Long.MAX_VALUE
        var nanos = 0L
        var boot = 0L
        repeat(50) {
            val before = System.nanoTime()
            val b = os.bootMs()
            val after = System.nanoTime()
            if (after - before < bestGap) {
                bestGap = after - before
                nanos = (before + after) / 2
                boot = b
            }
        }
        baseNanos = nanos
        baseBootMs = boot
    }

    @JvmStatic
    fun elapsedRealtime(): Long = baseBootMs + (System.nanoTime() - baseNanos) / 1_000_000
}
