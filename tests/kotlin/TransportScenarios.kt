// A Kotlin HttpTransport (what an app would build on OkHttp) driving the
// Rust sync, on a Kotlin clock so that every number is exact.
package org.mxclock.tests

import java.io.IOException
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.math.abs
import org.mxclock.ClockConfig
import org.mxclock.HttpHeader
import org.mxclock.HttpRequest
import org.mxclock.HttpResponse
import org.mxclock.HttpTransport
import org.mxclock.MxClockException
import org.mxclock.SampleSource
import org.mxclock.ServerClock
import org.mxclock.TransportException

/**
 * A homeserver simulated in Kotlin: the request takes [upMs] to arrive, the
 * server reads its clock (the Kotlin wall clock + [skewMs]), the reply takes
 * [downMs]. Time moves only here.
 */
class KotlinTransport(
    private val time: KotlinTime,
    private val skewMs: Long,
    private val upMs: Long,
    private val downMs: Long,
    private val msc4094: Boolean = true,
) : HttpTransport {
    val requests = CopyOnWriteArrayList<HttpRequest>()
    @Volatile var failWith: Exception? = null

    override fun get(request: HttpRequest): HttpResponse {
        requests.add(request)
        failWith?.let { throw it }
        time.advance(upMs)
        val serverMs = time.peekWallMs() + skewMs
        time.advance(downMs)
        val date = HttpHeader("Date", httpDate(serverMs))
        val json = HttpHeader("Content-Type", "application/json")
        val endpoint = request.url.endsWith("/_matrix/client/v3/get_server_now")
        return when {
            endpoint && msc4094 -> HttpResponse(200u, listOf(json, date), """{"server_time":$serverMs}""".encodeToByteArray())
            endpoint -> HttpResponse(404u, listOf(json, date), """{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}""".encodeToByteArray())
            else -> HttpResponse(200u, listOf(json, date), """{"versions":["v1.11"]}""".encodeToByteArray())
        }
    }
}

private fun HttpRequest.header(name: String) = headers.firstOrNull { it.name.equals(name, ignoreCase = true) }?.value

fun transportScenarios(h: Harness) {
    val token = "syt_kotlin_transport_canary"
    val skewMs = -91_234L

    h.scenario("a Kotlin HttpTransport serves the MSC4094 endpoint") {
        val t = KotlinTime(bootMs = 50_000, wallMs = 1_700_000_000_000)
        val transport = KotlinTransport(t, skewMs, upMs = 12, downMs = 18)
        val config = ClockConfig(homeserverUrl = "https://matrix.example.org", accessToken = token)
        ServerClock.newWithSources(config, t, transport).use { clock ->
            val report = clock.sync()
            h.eq(report.requests.toInt(), transport.requests.size, "every request went through the Kotlin transport")
            h.eq(SampleSource.ENDPOINT, report.source, "best sample from the endpoint")
            h.eq(30L, report.minRttMs, "round trip measured on the Kotlin clock")
            val req = transport.requests.first()
            h.eq("https://matrix.example.org/_matrix/client/v3/get_server_now", req.url, "endpoint URL")
            h.eq("Bearer $token", req.header("Authorization"), "the token goes to the endpoint")
            h.eq("no-cache", req.header("Cache-Control"), "no cached answers")
            h.eq(10_000uL, req.timeoutMs, "the configured timeout is passed on")

            val e = clock.estimate()!!
            val truth = t.peekWallMs() + skewMs
            h.check(abs(e.serverNowMs - truth) <= e.uncertaintyMs, "estimate ${e.serverNowMs} ± ${e.uncertaintyMs} holds the truth $truth")
            h.check(e.uncertaintyMs <= 30 / 2 + 3, "uncertainty ${e.uncertaintyMs} ≤ half the round trip + 3 (resolution, drift, the boot clock read)")
            h.check(abs(e.offsetMs - skewMs) <= e.uncertaintyMs, "offset ${e.offsetMs} = skew $skewMs ± ${e.uncertaintyMs}")
        }
    }

    h.scenario("a Kotlin HttpTransport without MSC4094: Date headers, token kept back") {
        val t = KotlinTime(bootMs = 50_000, wallMs = 1_700_000_000_250)
        val transport = KotlinTransport(t, skewMs, upMs = 4, downMs = 6, msc4094 = false)
        val config = ClockConfig(homeserverUrl = "https://matrix.example.org", accessToken = token, policy = quickPolicy())
        ServerClock.newWithSources(config, t, transport).use { clock ->
            val report = clock.sync()
            h.check(!report.endpointSupported, "the 404 marks the endpoint unsupported")
            h.eq(SampleSource.DATE_HEADER, report.source, "best sample from a Date header")
            val others = transport.requests.filter { !it.url.endsWith("/get_server_now") }
            h.check(others.isNotEmpty(), "Date probes were sent (${transport.requests.map { it.url }})")
            h.check(others.all { it.header("Authorization") == null }, "the token is sent to the MSC4094 endpoint only")
            val e = clock.estimate()!!
            val truth = t.peekWallMs() + skewMs
            h.check(abs(e.serverNowMs - truth) <= e.uncertaintyMs, "estimate ${e.serverNowMs} ± ${e.uncertaintyMs} holds the truth $truth")
        }
    }

    h.scenario("an exception in a Kotlin HttpTransport becomes MxClockException") {
        val t = KotlinTime(bootMs = 50_000, wallMs = 1_700_000_000_000)
        val transport = KotlinTransport(t, skewMs, upMs = 1, downMs = 1)
        transport.failWith = IOException("connection refused by the Kotlin test")
        val config = ClockConfig(homeserverUrl = "https://matrix.example.org", accessToken = token)
        ServerClock.newWithSources(config, t, transport).use { clock ->
            val e = h.throws<MxClockException>("sync with a failing transport") { clock.sync() }
            h.check(e?.message?.contains("connection refused by the Kotlin test") == true, "the Kotlin message reaches the app: ${e?.message}")
            h.check(e?.message?.contains(token) == false, "the token is not in the error")
            h.eq(null, clock.estimate(), "no estimate from a failed sync")
            // The same clock recovers once the transport works.
            transport.failWith = null
            t.advance(120_000) // past the failure backoff
            h.check(clock.sync().samplesTaken >= 1u, "the next sync works")
        }
    }

    h.scenario("a TransportException thrown by a Kotlin HttpTransport keeps its kind") {
        val t = KotlinTime(bootMs = 50_000, wallMs = 1_700_000_000_000)
        val transport = KotlinTransport(t, skewMs, upMs = 1, downMs = 1)
        val config = ClockConfig(homeserverUrl = "https://matrix.example.org")
        ServerClock.newWithSources(config, t, transport).use { clock ->
            transport.failWith = TransportException.Timeout("OkHttp call timed out")
            val timeout = h.throws<MxClockException.Timeout>("sync with a timing-out transport") { clock.sync() }
            h.check(timeout?.message?.contains("OkHttp call timed out") == true, "the reason reaches the app: ${timeout?.message}")
            transport.failWith = TransportException.Network("no route to host")
            t.advance(120_000)
            val network = h.throws<MxClockException.Network>("sync with an unreachable server") { clock.sync() }
            h.check(network?.message?.contains("no route to host") == true, "network reason kept: ${network?.message}")
        }
    }
}
