// Hand-written companion of the generated bindings (mxclock.kt, same
// package): server time without crossing the FFI on every read. Not
// generated, not touched by scripts/generate-bindings.sh; ship it next to
// mxclock.kt (scripts/android-build.sh copies both). The Swift twin is
// bindings/companion/swift/ServerTimeReader.swift.
package org.mxclock

import java.lang.ref.WeakReference

/**
 * A boot clock in milliseconds that keeps counting while the device sleeps:
 * the clock the [ServerClock]'s [TimeSource] reads. On Android that is
 * `SystemClock.elapsedRealtime()` (`CLOCK_BOOTTIME`, what mxclock's own
 * `osTimeSource()` reads too).
 */
fun interface BootClock {
    fun nowMs(): Long
}

/**
 * Server time read from a snapshot of a [ServerClock]'s estimate and the
 * boot clock, without a call into the native library: a read costs a
 * volatile load and a boot-clock read (tens of ns) where
 * `ServerClock.serverNowMs()` costs a JNA round trip (microseconds).
 * Use it where server time is read often: per frame, per list row.
 *
 * The snapshot (`ServerClock.snapshot()`) is taken at construction and again
 * whenever the clock changes its estimate (a sync, an added sample): the
 * reader registers a [ClockListener]. Between two changes server time is
 * `bootMs + bootOffsetMs` exactly as the clock computes it, so the answers
 * equal the clock's own.
 *
 * [bootClock] must read the same clock as the clock's [TimeSource]: the
 * default, `SystemClock.elapsedRealtime()`, is right for a clock on the OS
 * clocks (`ServerClock(config)`) or on an app `TimeSource` whose `bootMs()`
 * is `elapsedRealtime()`. Thread-safe. [close] unregisters the listener
 * (the reader then keeps its last snapshot); a reader that is dropped
 * without [close] unregisters nothing but is still collected (the listener
 * holds it weakly), and its listener is freed with the clock.
 */
class ServerTimeReader @JvmOverloads constructor(
    private val clock: ServerClockInterface,
    private val bootClock: BootClock = BootClock { android.os.SystemClock.elapsedRealtime() },
) : AutoCloseable {
    /** One reading: server time and its uncertainty at boot time [bootMs]. */
    data class Reading(val serverNowMs: Long, val uncertaintyMs: Long, val bootMs: Long)

    @Volatile
    private var snapshot: ClockSnapshot? = null
    private val refreshLock = Any()
    private val listenerId: ULong = clock.addListener(Listener(WeakReference(this)))

    init {
        refresh()
    }

    /**
     * Takes a new snapshot now (one FFI call). Not needed after changes the
     * clock makes itself; it tells the reader.
     */
    fun refresh() {
        // Serialised, so that a slow refresh cannot overwrite a newer one.
        synchronized(refreshLock) { snapshot = clock.snapshot() }
    }

    /** The snapshot in use, or null before the clock's first estimate. */
    fun snapshot(): ClockSnapshot? = snapshot

    /**
     * Server time now in ms since the Unix epoch, as `ServerClock.serverNowMs()`.
     * @throws MxClockException.NotSynced before the clock's first estimate.
     */
    fun serverNowMs(): Long {
        val s = snapshot ?: throw notSynced()
        return saturatingAdd(bootClock.nowMs(), s.bootOffsetMs)
    }

    /** Server time now, or null before the clock's first estimate. */
    fun serverNowMsOrNull(): Long? {
        val s = snapshot ?: return null
        return saturatingAdd(bootClock.nowMs(), s.bootOffsetMs)
    }

    /**
     * The uncertainty now, as `ServerClock.estimate()?.uncertaintyMs`.
     * @throws MxClockException.NotSynced before the clock's first estimate.
     */
    fun uncertaintyMs(): Long {
        val s = snapshot ?: throw notSynced()
        return uncertaintyAt(s, bootClock.nowMs())
    }

    /** Server time and uncertainty from one boot-clock read, or null before the first estimate. */
    fun read(): Reading? {
        val s = snapshot ?: return null
        val boot = bootClock.nowMs()
        return Reading(saturatingAdd(boot, s.bootOffsetMs), uncertaintyAt(s, boot), boot)
    }

    /** Stops following the clock's changes. */
    override fun close() {
        clock.removeListener(listenerId)
    }

    private class Listener(private val reader: WeakReference<ServerTimeReader>) : ClockListener {
        override fun estimateChanged() {
            try {
                reader.get()?.refresh()
            } catch (e: Exception) {
                // The clock was closed meanwhile: keep the last snapshot.
            }
        }
    }

    companion object {
        private fun notSynced() =
            MxClockException.NotSynced("no server time estimate yet: call sync() or add a sample first")

        private fun saturatingAdd(a: Long, b: Long): Long {
            val r = a + b
            // Overflow iff both operands have the sign the result lacks.
            return if ((a xor r) and (b xor r) < 0) (if (a < 0) Long.MIN_VALUE else Long.MAX_VALUE) else r
        }

        private fun saturatingSub(a: Long, b: Long): Long {
            val r = a - b
            return if ((a xor b) and (a xor r) < 0) (if (a < 0) Long.MIN_VALUE else Long.MAX_VALUE) else r
        }

        /**
         * `refUncertaintyMs + ceil(growthPpm × (bootMs − refBootMs) / 10⁶)`,
         * never less than `refUncertaintyMs`, saturating: the arithmetic of
         * `ClockSnapshot::uncertainty_ms` in Rust.
         */
        internal fun uncertaintyAt(s: ClockSnapshot, bootMs: Long): Long {
            val elapsed = saturatingSub(bootMs, s.refBootMs)
            if (elapsed <= 0) return s.refUncertaintyMs
            val ppm = s.uncertaintyGrowthPpm.toLong() // < 2^32
            // ceil(ppm × elapsed / 10⁶) in 64 bits: with elapsed = q × 10⁶ + r
            // it is ppm × q + ceil(ppm × r / 10⁶), and ppm × r < 2^52.
            val q = elapsed / 1_000_000
            val r = elapsed % 1_000_000
            if (ppm != 0L && q > Long.MAX_VALUE / ppm) return Long.MAX_VALUE
            val growth = saturatingAdd(ppm * q, (ppm * r + 999_999) / 1_000_000)
            return saturatingAdd(s.refUncertaintyMs, growth)
        }
    }
}
