// The access token must never appear in anything an app might log. Kotlin
// data classes print every field in toString(), so the records that can
// carry the token print through Rust's redacting Debug instead.
package org.mxclock.tests

import org.mxclock.ClockConfig
import org.mxclock.HttpHeader
import org.mxclock.HttpRequest

fun redactionScenarios(h: Harness) = h.scenario("the access token never shows in toString()") {
    val token = "syt_redaction_canary_42"
    val config = ClockConfig(homeserverUrl = "https://matrix.example.org", accessToken = token)
    // Messages never print the value under test, in case it leaks.
    h.check(!config.toString().contains(token), "ClockConfig.toString() contains the token")
    h.check(config.toString().contains("matrix.example.org"), "ClockConfig.toString() still says something useful")
    val header = HttpHeader("Authorization", "Bearer $token")
    h.check(!header.toString().contains(token), "HttpHeader.toString() contains the token")
    val request = HttpRequest("https://matrix.example.org/_matrix/client/v3/get_server_now", listOf(header), 1_000uL)
    h.check(!request.toString().contains(token), "HttpRequest.toString() contains the token")
    h.check(!listOf(config).toString().contains(token), "a list of configs prints the token")
    h.eq(token, config.accessToken, "the token itself is still there for the transport")
}
