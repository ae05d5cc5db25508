// The sync session from Kotlin, driven by the app's own HTTP stack: the JDK's
// java.net.http.HttpClient, asynchronously, the way an app drives it from
// OkHttp callbacks or coroutines. Nothing blocks inside a Rust call: each
// step runs on the HttpClient's completion thread or on a timer, and the
// test thread only waits for the final report.
package org.mxclock.tests

import java.io.IOException
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpTimeoutException
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit
import kotlin.math.abs
import org.mxclock.ClockConfig
import org.mxclock.HttpHeader
import org.mxclock.HttpResponse
import org.mxclock.MxClockException
import org.mxclock.SampleSource
import org.mxclock.ServerClock
import org.mxclock.SyncAction
import org.mxclock.SyncReport
import org.mxclock.SyncSession
import org.mxclock.TransportException
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse

/**
 * Drives [session] to its end with [http] and [timer]; the future completes
 * with the report, or with the sync's MxClockException.
 */
class HttpClientDriver(
    private val clock: ServerClock,
    private val session: SyncSession,
    private val http: HttpClient,
    private val timer: ScheduledExecutorService,
) {
    val result = CompletableFuture<SyncReport>()
    var requests = 0
        private set

    fun start(): CompletableFuture<SyncReport> {
        step()
        return result
    }

    private fun step() {
        val action = try {
            session.nextAction(clock.bootMs())
        } catch (e: MxClockException) {
            result.completeExceptionally(e)
            return
        }
        when (action) {
            is SyncAction.Send -> send(action)
            is SyncAction.Wait -> timer.schedule(
                { step() },
                maxOf(0L, action.untilBootMs - clock.bootMs()),
                TimeUnit.MILLISECONDS,
            )
            is SyncAction.Done -> result.complete(action.report)
        }
    }

    private fun send(action: SyncAction.Send) {
        val r = action.request
        val builder = JdkRequest.newBuilder(URI(r.url))
            .timeout(Duration.ofMillis(r.timeoutMs.toLong()))
            .GET()
        for (h in r.headers) builder.header(h.name, h.value)
        requests++
        val sent = clock.bootMs()
        http.sendAsync(builder.build(), JdkResponse.BodyHandlers.ofByteArray()).whenComplete { reply, failure ->
            val received = clock.bootMs()
            try {
                if (reply != null) {
                    val headers = reply.headers().map().flatMap { (name, values) -> values.map { HttpHeader(name, it) } }
                    session.receiveResponse(action.requestId, sent, received, HttpResponse(reply.statusCode().toUShort(), headers, reply.body()))
                } else {
                    val cause = (failure as? java.util.concurrent.CompletionException)?.cause ?: failure
                    val error = when (cause) {
                        is HttpTimeoutException -> TransportException.Timeout(cause.toString())
                        is IOException -> TransportException.Network(cause.toString())
                        else -> TransportException.Network(cause.toString())
                    }
                    session.receiveFailure(action.requestId, sent, received, error)
                }
                step()
            } catch (e: Throwable) {
                result.completeExceptionally(e)
            }
        }
    }
}

fun sessionScenarios(h: Harness) {
    val http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1) // the test homeserver speaks HTTP/1.1 only
        .followRedirects(HttpClient.Redirect.NEVER) // mxclock's transport contract
        .connectTimeout(Duration.ofSeconds(5))
        .build()
    val timer = Executors.newSingleThreadScheduledExecutor()
    try {
        h.scenario("a sync session driven by java.net.http.HttpClient (MSC4094)") {
            TestHomeserver("--skew-ms", "-73500", "--uplink-ms", "3", "--downlink-ms", "7", "--seed", "11").use { hs ->
                val config = ClockConfig(homeserverUrl = hs.baseUrl, accessToken = "syt_kotlin_session_canary")
                ServerClock(config).use { clock ->
                    val session = clock.startSync(clock.bootMs())
                    val driver = HttpClientDriver(clock, session, http, timer)
                    val report = driver.start().get(30, TimeUnit.SECONDS)
                    h.eq(SampleSource.ENDPOINT, report.source, "best sample from the endpoint")
                    h.check(report.endpointSupported, "the endpoint was found")
                    h.check(report.requests.toInt() in 2..4, "requests ${report.requests}")
                    h.eq(driver.requests, report.requests.toInt(), "every request the session handed out was counted")
                    h.eq(report.requests.toLong(), hs.timeEndpointRequests(), "the homeserver saw exactly those requests")
                    h.check((report.minRttMs ?: 0) >= 10, "min RTT ${report.minRttMs} ms includes the 10 ms path delay")
                    h.eq(null, report.dateDisagreementMs, "body and Date from one clock agree")
                    val before = clock.estimate()!!
                    val truth = hs.trueServerMs()
                    val after = clock.estimate()!!
                    h.check(
                        truth >= before.serverNowMs - before.uncertaintyMs - 1 && truth <= after.serverNowMs + after.uncertaintyMs + 1,
                        "true server time $truth within [${before.serverNowMs}, ${after.serverNowMs}] ± ${after.uncertaintyMs}",
                    )
                    h.check(abs(after.offsetMs + 73_500) <= after.uncertaintyMs + 2, "offset ${after.offsetMs} ms = skew -73500 ± ${after.uncertaintyMs}")
                    // Over: asked again, the session says Done with the same report.
                    val again = session.nextAction(clock.bootMs())
                    h.check(again is SyncAction.Done && again.report == report, "a finished session repeats its report")
                    session.close()
                }
            }
        }

        h.scenario("a sync session against a homeserver without MSC4094 (timed Date probes)") {
            TestHomeserver("--skew-ms", "4321.5", "--no-msc4094", "--uplink-ms", "2", "--downlink-ms", "2", "--seed", "12").use { hs ->
                ServerClock(ClockConfig(homeserverUrl = hs.baseUrl)).use { clock ->
                    clock.startSync(clock.bootMs()).use { session ->
                        val report = HttpClientDriver(clock, session, http, timer).start().get(30, TimeUnit.SECONDS)
                        h.eq(SampleSource.DATE_HEADER, report.source, "best sample from a Date header")
                        h.check(!report.endpointSupported, "the missing endpoint is noticed")
                        val e = clock.estimate()!!
                        val truth = hs.trueServerMs()
                        // Only probes timed by the session's Wait actions get below 1 s.
                        h.check(e.uncertaintyMs <= 100, "uncertainty ${e.uncertaintyMs} ms after ${report.requests} timed probes")
                        h.check(abs(e.serverNowMs - truth) <= e.uncertaintyMs + 2, "true server time $truth within ${e.serverNowMs} ± ${e.uncertaintyMs}")
                    }
                }
            }
        }

        h.scenario("a sync session refuses replies it did not ask for, and times from another clock") {
            TestHomeserver("--skew-ms", "0").use { hs ->
                ServerClock(ClockConfig(homeserverUrl = hs.baseUrl)).use { clock ->
                    h.throws<MxClockException.TimeOutOfRange>("a wall-clock time as now_boot_ms") {
                        clock.startSync(System.currentTimeMillis())
                    }
                    clock.startSync(clock.bootMs()).use { session ->
                        val send = session.nextAction(clock.bootMs()) as SyncAction.Send
                        h.check(send.request.url.endsWith("/_matrix/client/v3/get_server_now"), "first request: the endpoint (${send.request.url})")
                        val now = clock.bootMs()
                        val reply = HttpResponse(200u, listOf(HttpHeader("Content-Type", "application/json")), "{\"server_now\": 1750000000000}".toByteArray())
                        h.throws<MxClockException.InvalidArgument>("a reply for a request id it did not hand out") {
                            session.receiveResponse(send.requestId + 1000u, now, now, reply)
                        }
                        h.throws<MxClockException.TimeOutOfRange>("a reply received before it was sent") {
                            session.receiveResponse(send.requestId, now + 5, now, reply)
                        }
                        // A failure ends the sync with the transport's kind of error.
                        session.receiveFailure(send.requestId, now, clock.bootMs(), TransportException.Network("connection reset by peer"))
                        val e = h.throws<MxClockException.Network>("the sync's failure, from nextAction") { session.nextAction(clock.bootMs()) }
                        h.check(e?.message?.contains("connection reset") == true, "message: ${e?.message}")
                    }
                    // Closing it left nothing in flight: a blocking sync runs.
                    h.check(clock.sync().samplesTaken >= 1u, "a sync after the failed session")
                }
            }
        }
    } finally {
        timer.shutdownNow()
    }
}
