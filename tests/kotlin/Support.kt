// Test doubles and helpers shared by the scenarios.
package org.mxclock.tests

import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.HttpURLConnection
import java.net.URI
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.Locale
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import org.mxclock.TimeSource

/** A Kotlin clock the Rust core reads through the TimeSource foreign trait. */
class KotlinTime(bootMs: Long, wallMs: Long, @Volatile var bootIdValue: String = "kotlin-boot") : TimeSource {
    private val boot = AtomicLong(bootMs)
    private val wall = AtomicLong(wallMs)
    val calls = AtomicInteger()

    override fun bootMs(): Long { calls.incrementAndGet(); return boot.get() }
    override fun wallMs(): Long { calls.incrementAndGet(); return wall.get() }
    override fun bootId(): String { calls.incrementAndGet(); return bootIdValue }

    fun advance(ms: Long) { boot.addAndGet(ms); wall.addAndGet(ms) }
    fun jumpWall(deltaMs: Long) { wall.addAndGet(deltaMs) }
    fun peekBootMs() = boot.get()
    fun peekWallMs() = wall.get()
}

/** `Date` header text (IMF-fixdate) for a Unix time in ms. */
fun httpDate(unixMs: Long): String =
    DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US)
        .format(Instant.ofEpochMilli(unixMs).atOffset(ZoneOffset.UTC))

/**
 * The loopback test homeserver binary (`mxclock-test-homeserver`, path in
 * the system property `mxclock.homeserver`) as a child process. It prints
 * `{"base_url":...,"port":...}` and serves until its stdin closes.
 */
class TestHomeserver(vararg args: String) : AutoCloseable {
    private val process: Process
    val baseUrl: String

    init {
        val binary = System.getProperty("mxclock.homeserver")
            ?: error("system property mxclock.homeserver (path of mxclock-test-homeserver) is not set")
        process = ProcessBuilder(listOf(binary) + args)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine()
            ?: error("mxclock-test-homeserver printed nothing (exit ${process.waitFor()})")
        baseUrl = Regex("\"base_url\"\\s*:\\s*\"([^\"]+)\"").find(line)?.groupValues?.get(1)
            ?: error("no base_url in $line")
    }

    private fun getJson(path: String): String {
        val c = URI(baseUrl + path).toURL().openConnection() as HttpURLConnection
        c.connectTimeout = 5_000
        c.readTimeout = 5_000
        return c.inputStream.use { it.readBytes().decodeToString() }
    }

    private fun number(json: String, key: String): Double =
        Regex("\"$key\"\\s*:\\s*(-?[0-9.eE+-]+)").find(json)?.groupValues?.get(1)?.toDouble()
            ?: error("no $key in $json")

    /** The server's true clock, through the test-only route (not delayed). */
    fun trueServerMs(): Double = number(getJson("/_test/true_server_ms"), "true_server_ms")

    /** Requests the MSC4094 endpoint has seen. */
    fun timeEndpointRequests(): Long = number(getJson("/_test/request_count"), "time_endpoint").toLong()

    override fun close() {
        process.outputStream.close() // EOF on stdin: the server exits
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}
