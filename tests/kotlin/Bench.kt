package org.mxclock.tests

import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.Pointer
import java.io.File
import java.lang.management.ManagementFactory
import java.nio.ByteBuffer
import org.mxclock.ClockConfig
import org.mxclock.FfiConverterSequenceTypeEventOutcome
import org.mxclock.FfiConverterTypeServerClock
import org.mxclock.IntegrityCheckingUniffiLib
import org.mxclock.ServerClock
import org.mxclock.ServerTimeReader
import org.mxclock.UniffiLib
import org.mxclock.UniffiRustCallStatus
import org.mxclock.osTimeSource
import org.mxclock.sampleFromEndpoint

// Per-call cost across the uniffi/JNA boundary, next to a pure-JVM baseline,
// measured in one run. Printed, never asserted (machines differ).
/** libc through JNA direct mapping, as uniffi binds libmxclock: JNA's own cost. */
private object LibC {
    init { Native.register("c") }
    external fun getpid(): Int
}

/**
 * The two native functions behind `ServerClock.serverNowMs()` bound again
 * by JNA direct mapping, with the call status as a plain Pointer instead of
 * uniffi's `Structure`: what the call costs without the Structure machinery.
 */
private object RawMx {
    init { Native.register(RawMx::class.java, "mxclock") }
    external fun uniffi_mxclock_fn_clone_serverclock(handle: Long, status: Pointer): Long
    external fun uniffi_mxclock_fn_method_serverclock_server_now_ms(handle: Long, status: Pointer): Long
}

fun bench() {
    val os = osTimeSource()
    // Wall time per call, and the process's CPU time per call (all threads:
    // the GC and JNA's cleaner thread work for the allocations too). On a
    // shared machine the CPU figure is the steadier one.
    val cpu = java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        as com.sun.management.OperatingSystemMXBean
    fun nsPerCall(name: String, calls: Int, body: () -> Long) {
        var sink = 0L
        repeat(calls / 10) { sink += body() } // warm up the JIT
        System.gc()
        val c0 = cpu.processCpuTime
        val t0 = System.nanoTime()
        repeat(calls) { sink += body() }
        val ns = (System.nanoTime() - t0).toDouble() / calls
        val cpuNs = (cpu.processCpuTime - c0).toDouble() / calls
        println("bench: %-46s %10.1f ns/call %10.1f ns CPU/call  (%d calls, sink %d)".format(name, ns, cpuNs, calls, sink and 1))
    }
    nsPerCall("System.currentTimeMillis()", 2_000_000) { System.currentTimeMillis() }
    nsPerCall("getpid() [JNA direct mapping, no uniffi]", 200_000) { LibC.getpid().toLong() }
    nsPerCall("contract version [libmxclock, JNA direct, no status]", 200_000) {
        IntegrityCheckingUniffiLib.ffi_mxclock_uniffi_contract_version().toLong()
    }
    nsPerCall("osTimeSource().bootMs() [Rust via JNA]", 200_000) { os.bootMs() }
    nsPerCall("sampleFromEndpoint() [record via RustBuffer]", 200_000) {
        sampleFromEndpoint(1_000, 1_040, 1_750_000_000_123).loMs
    }

    // A clock on the OS clocks, fed one sample (no network).
    val clock = ServerClock(ClockConfig(homeserverUrl = ""))
    val b = os.bootMs()
    clock.addEndpointSample(b - 20, b, System.currentTimeMillis() + 5_000)
    nsPerCall("ServerClock.serverNowMs()", 200_000) { clock.serverNowMs() }
    ServerTimeReader(clock).use { reader ->
        nsPerCall("ServerTimeReader.serverNowMs() [companion]", 20_000_000) { reader.serverNowMs() }
        nsPerCall("ServerTimeReader.uncertaintyMs() [companion]", 20_000_000) { reader.uncertaintyMs() }
    }

    // Where the uniffi call's time goes. serverNowMs() makes two native
    // calls (clone the object's handle, then the method, which consumes the
    // clone), each with a new UniffiRustCallStatus JNA Structure that JNA
    // writes to native memory before and reads back after the call.
    nsPerCall("  part: new UniffiRustCallStatus()", 200_000) { UniffiRustCallStatus().code.toLong() }
    val handle = FfiConverterTypeServerClock.lower(clock) // one extra reference, freed below
    val status = UniffiRustCallStatus()
    nsPerCall("  part: clone + method, one reused Structure", 200_000) {
        val h = UniffiLib.uniffi_mxclock_fn_clone_serverclock(handle, status)
        UniffiLib.uniffi_mxclock_fn_method_serverclock_server_now_ms(h, status)
    }
    val raw = Memory(64).also { it.clear() } // >= sizeof(RustCallStatus) = 32
    nsPerCall("  part: clone + method, status as a Pointer", 2_000_000) {
        val h = RawMx.uniffi_mxclock_fn_clone_serverclock(handle, raw)
        RawMx.uniffi_mxclock_fn_method_serverclock_server_now_ms(h, raw)
    }
    UniffiLib.uniffi_mxclock_fn_free_serverclock(handle, status)

    // 1 000 events of every rule, evaluated in one call.
    val s = clock.serverNowMs()
    val cases = ruleCases(s)
    // -Dmxclock.benchBatch=FILE times that batch instead (to compare builds
    // on the very same events).
    val batch = System.getProperty("mxclock.benchBatch")?.let { File(it).readText() }
        ?: (0 until 1_000).joinToString(",", "[", "]") { i -> withEventId(cases[i % cases.size].json, "\$e$i") }
    // Medians of CPU time (this thread's), after a long warm-up: on a
    // machine shared with other builds wall time measures the neighbours,
    // and the JIT needs many calls before the lifting code is compiled.
    val batchNs = medianNsPerEvent { clock.evaluateEventsJson(batch, b).size.toLong() }
    println("bench: %-44s %10.1f ns/event (CPU time, median of 7 x 30 calls x 1 000 events)".format("ServerClock.evaluateEventsJson() batch", batchNs))

    // Where that time goes. The Kotlin side of the call: the String to
    // UTF-8 (lowering the argument) and reading the outcome records back
    // from their serialized bytes (lifting the result), each alone. The
    // Rust side: `MXCLOCK_BENCH_BATCH=<file> cargo bench --bench expiry`
    // on the same batch, written here.
    val utf8 = medianNsPerEvent { batch.encodeToByteArray().size.toLong() }
    println("bench: %-44s %10.1f ns/event".format("  of which String -> UTF-8 (lowering)", utf8))
    val outcomes = clock.evaluateEventsJson(batch, b)
    val bytes = ByteBuffer.allocate(FfiConverterSequenceTypeEventOutcome.allocationSize(outcomes).toInt())
    FfiConverterSequenceTypeEventOutcome.write(outcomes, bytes)
    val lift = medianNsPerEvent {
        bytes.rewind()
        FfiConverterSequenceTypeEventOutcome.read(bytes).size.toLong()
    }
    println("bench: %-44s %10.1f ns/event (%d bytes)".format("  of which reading the records (lifting)", lift, bytes.capacity()))
    val file = File("target/kotlin-tests/bench-batch.json")
    file.parentFile?.mkdirs()
    file.writeText(batch)
    println("bench: Rust side: MXCLOCK_BENCH_BATCH=${file.path} cargo bench --bench expiry")
    clock.close()
}

/** Median CPU ns per event of `body`, which handles one 1 000-event batch. */
private fun medianNsPerEvent(body: () -> Long): Double {
    val threads = ManagementFactory.getThreadMXBean()
    var sink = 0L
    repeat(300) { sink += body() } // warm up the JIT
    val rounds = (0 until 7).map {
        val t0 = threads.currentThreadCpuTime
        repeat(30) { sink += body() }
        (threads.currentThreadCpuTime - t0).toDouble() / (30 * 1_000L)
    }.sorted()
    return rounds[rounds.size / 2] + (sink and 0L)
}
