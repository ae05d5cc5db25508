package org.mxclock.tests

import java.io.File
import org.mxclock.TimeSource
import org.mxclock.TimeSourceImpl
import org.mxclock.osTimeSource

fun timeSourceScenarios(h: Harness) {
    h.scenario("Rust OS time source called from Kotlin") {
        val os: TimeSource = osTimeSource()
        var last = os.bootMs()
        var backwards = 0
        repeat(1_000) {
            val now = os.bootMs()
            if (now < last) backwards++
            last = now
        }
        h.eq(0, backwards, "boot clock never goes back over 1 000 reads")

        // Same wall clock as the JVM's (both read the system clock); the
        // bound only absorbs the two calls' distance, not drift.
        val skew = os.wallMs() - System.currentTimeMillis()
        h.check(kotlin.math.abs(skew) < 1_000, "wallMs() is the system clock (differs by $skew ms)")

        val linux = File("/proc/sys/kernel/random/boot_id")
        if (linux.exists()) {
            h.eq(linux.readText().trim(), os.bootId(), "bootId() is the kernel's boot id")
            // /proc/uptime counts suspend like CLOCK_BOOTTIME: the boot clock
            // is the boot clock, not a process-relative Instant.
            val uptimeMs = (File("/proc/uptime").readText().split(" ")[0].toDouble() * 1000).toLong()
            val diff = os.bootMs() - uptimeMs
            h.check(kotlin.math.abs(diff) < 2_000, "bootMs() is CLOCK_BOOTTIME (differs from /proc/uptime by $diff ms)")
        } else {
            h.check(os.bootId().isNotEmpty(), "bootId() is not empty")
        }
    }

    h.scenario("Rust objects are freed and then refuse calls") {
        val os = osTimeSource() as TimeSourceImpl
        os.use { h.check(it.bootMs() >= 0, "usable inside use {}") }
        h.throws<IllegalStateException>("call after close()") { os.bootMs() }
    }
}
