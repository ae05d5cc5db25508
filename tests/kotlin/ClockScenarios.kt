// ServerClock from Kotlin: sync against the loopback test homeserver, the
// estimate and its uncertainty, persistence, errors, and a Kotlin TimeSource
// driving the Rust core.
package org.mxclock.tests

import kotlin.math.abs
import org.mxclock.ClockConfig
import org.mxclock.MxClockException
import org.mxclock.SampleSource
import org.mxclock.ServerClock
import org.mxclock.SyncPolicy

private const val SKEW_MS = 37_250L

fun clockScenarios(h: Harness) {
    h.scenario("sync against the loopback homeserver (MSC4094)") {
        TestHomeserver("--skew-ms", "$SKEW_MS", "--uplink-ms", "5", "--downlink-ms", "20", "--jitter-ms", "2", "--seed", "7").use { hs ->
            val config = ClockConfig(homeserverUrl = hs.baseUrl, accessToken = "syt_kotlin_canary_token")
            ServerClock(config).use { clock ->
                h.eq(null, clock.estimate(), "no estimate before the first sync")
                h.throws<MxClockException.NotSynced>("serverNowMs() before any sync") { clock.serverNowMs() }

                val report = clock.sync()
                h.check(report.requests >= 1u && report.samplesTaken >= 1u, "requests ${report.requests}, samples ${report.samplesTaken}")
                h.check(report.endpointSupported, "the MSC4094 endpoint was found")
                h.eq(SampleSource.ENDPOINT, report.source, "best sample from the endpoint")
                // The server sleeps 5 + 20 ms on the path, so no round trip is shorter.
                h.check((report.minRttMs ?: 0) >= 25, "min RTT ${report.minRttMs} ms includes the 25 ms path delay")
                h.check(hs.timeEndpointRequests() >= report.requests.toLong(), "the homeserver saw the requests")

                // The true server time lies inside the error bars.
                val before = clock.estimate()!!
                val truth = hs.trueServerMs()
                val after = clock.estimate()!!
                h.check(before.uncertaintyMs in 1..999, "uncertainty ${before.uncertaintyMs} ms is positive and within policy")
                h.check(before.withinPolicy, "estimate within policy")
                h.check(
                    truth >= before.serverNowMs - before.uncertaintyMs - 1 && truth <= after.serverNowMs + after.uncertaintyMs + 1,
                    "true server time $truth within [${before.serverNowMs}, ${after.serverNowMs}] ± ${after.uncertaintyMs}",
                )
                // MSC4094's offset (server − this device's wall clock) is the skew.
                h.check(abs(after.offsetMs - SKEW_MS) <= after.uncertaintyMs + 2, "offset ${after.offsetMs} ms = skew $SKEW_MS ± ${after.uncertaintyMs}")

                // Persistence: the saved state restores the same estimate and
                // never holds the token.
                val state = clock.exportState()
                h.check(!state.contains("syt_kotlin_canary_token"), "exported state holds no access token")
                ServerClock.restore(config, state).use { restored ->
                    val r = restored.estimate()
                    h.check(r != null, "restored clock has an estimate")
                    val now = clock.estimate()!!
                    if (r != null) {
                        h.check(abs(r.serverNowMs - now.serverNowMs) <= r.uncertaintyMs + now.uncertaintyMs + 5, "restored server time ${r.serverNowMs} ≈ ${now.serverNowMs}")
                    }
                }
                h.throws<MxClockException.InvalidState>("garbled state") { ServerClock.restore(config, "{\"format\":") }
            }
        }
    }

    h.scenario("sync against a homeserver without MSC4094 (Date header)") {
        TestHomeserver("--skew-ms", "-4321", "--no-msc4094", "--uplink-ms", "2", "--downlink-ms", "3", "--seed", "9").use { hs ->
            ServerClock(ClockConfig(homeserverUrl = hs.baseUrl)).use { clock ->
                val report = clock.sync()
                h.check(!report.endpointSupported, "the missing endpoint is noticed")
                h.eq(SampleSource.DATE_HEADER, report.source, "best sample from a Date header")
                val before = clock.estimate()!!
                val truth = hs.trueServerMs()
                val after = clock.estimate()!!
                h.check(after.uncertaintyMs in 1..1_100, "uncertainty ${after.uncertaintyMs} ms is about 1 s or better")
                h.check(
                    truth >= before.serverNowMs - before.uncertaintyMs - 1 && truth <= after.serverNowMs + after.uncertaintyMs + 1,
                    "true server time $truth within [${before.serverNowMs}, ${after.serverNowMs}] ± ${after.uncertaintyMs}",
                )
            }
        }
    }

    h.scenario("network and configuration errors surface as MxClockException") {
        val bad = h.throws<MxClockException.InvalidConfig>("ftp:// homeserver URL") {
            ServerClock(ClockConfig(homeserverUrl = "ftp://matrix.example.org"))
        }
        h.check(bad?.message?.isNotBlank() == true, "readable message: ${bad?.message}")
        h.throws<MxClockException.InvalidConfig>("zero request timeout") {
            ServerClock(ClockConfig(homeserverUrl = "https://matrix.example.org", requestTimeoutMs = 0uL))
        }
        // Port 1 on loopback: nothing listens, the connection is refused.
        val config = ClockConfig(homeserverUrl = "http://127.0.0.1:1", accessToken = "syt_kotlin_canary_token", requestTimeoutMs = 2_000uL)
        ServerClock(config).use { clock ->
            val e = h.throws<MxClockException>("an unreachable homeserver") { clock.sync() }
            h.check(e?.message?.isNotBlank() == true, "readable message: ${e?.message}")
            h.check(e?.message?.contains("syt_kotlin_canary_token") == false, "the token is not in the error")
            h.eq(null, clock.estimate(), "a failed sync leaves no estimate")
        }
    }

    h.scenario("a Kotlin TimeSource drives the Rust clock") {
        val t = KotlinTime(bootMs = 10_000, wallMs = 1_700_000_000_000)
        val serverMs = 1_750_000_000_000L
        ServerClock.newWithSources(ClockConfig(homeserverUrl = ""), t, null).use { clock ->
            h.eq(10_000L, clock.bootMs(), "the clock reads the Kotlin boot clock")
            // Sent at boot 9 960, received at 10 000, the server said serverMs:
            // the server's time now is in [serverMs, serverMs + 40].
            val e0 = clock.addEndpointSample(9_960, 10_000, serverMs)
            h.check(t.calls.get() > 0, "Rust called the Kotlin TimeSource (${t.calls.get()} calls)")
            h.check(e0.uncertaintyMs <= 40 / 2 + 2, "uncertainty ${e0.uncertaintyMs} ≤ half the round trip + 2")
            h.check(e0.serverNowMs - e0.uncertaintyMs <= serverMs + 40 && e0.serverNowMs + e0.uncertaintyMs >= serverMs, "estimate ${e0.serverNowMs} ± ${e0.uncertaintyMs} covers [S, S + 40]")

            t.advance(60_000) // a minute passes (awake or asleep)
            val e1 = clock.estimate()!!
            h.eq(e0.serverNowMs + 60_000, e1.serverNowMs, "server time moves with the Kotlin boot clock")
            h.check(e1.uncertaintyMs > e0.uncertaintyMs && e1.uncertaintyMs <= e0.uncertaintyMs + 7, "uncertainty grows by 100 ppm drift: ${e0.uncertaintyMs} -> ${e1.uncertaintyMs}")

            t.jumpWall(-3_600_000) // the user sets the device clock back an hour
            val e2 = clock.estimate()!!
            h.eq(e1.serverNowMs, e2.serverNowMs, "a wall-clock change does not move server time")
            h.eq(e1.offsetMs + 3_600_000, e2.offsetMs, "MSC4094 offset follows the wall clock")
            h.eq(3_600_000L, abs(e2.wallJumpMs), "the wall-clock jump is reported")
            h.eq(e2.serverNowMs, clock.serverNowMs(), "serverNowMs() agrees with estimate()")
        }
    }
}

/** A policy for tests that must not wait long. */
fun quickPolicy() = SyncPolicy(maxSamplesPerSync = 2u, dateProbeBudget = 2u)
