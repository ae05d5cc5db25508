// The access token must never appear in anything an app might log. Kotlin
// data classes print every field in toString(), so the records that can
// carry the token print through Rust's redacting Debug instead.
package org.mxclock.tests

import org.mxclock.ClockConfig
import org.mxclock.HttpHeader
import org.mxclock.HttpRequest
import org.mxclock.ServerClock

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

/** `text` with `%XX`, `\uXXXX` and `\/` decoded, lower-cased: what a reader
 *  of a message could turn back into the token. */
private fun decodedLower(text: String): String {
    fun hex(from: Int, len: Int): Int? =
        if (from + len <= text.length && text.substring(from, from + len).all { it.isDigit() || it.lowercaseChar() in 'a'..'f' })
            text.substring(from, from + len).toInt(16) else null
    val out = StringBuilder()
    var i = 0
    while (i < text.length) {
        val pct = if (text[i] == '%') hex(i + 1, 2) else null
        val uni = if (text.startsWith("\\u", i)) hex(i + 2, 4) else null
        when {
            pct != null -> { out.append(pct.toChar()); i += 3 }
            uni != null -> { out.append(uni.toChar()); i += 6 }
            text.startsWith("\\/", i) -> { out.append('/'); i += 2 }
            else -> { out.append(text[i]); i += 1 }
        }
    }
    return out.toString().lowercase()
}

/** The first 8-character piece of [token] that [text] holds in any spelling. */
private fun leakedPiece(token: String, text: String): String? {
    val plain = decodedLower(text)
    val lower = token.lowercase()
    return (0..lower.length - 8).map { lower.substring(it, it + 8) }.firstOrNull { plain.contains(it) }
}

/** A transport (as an app might write on OkHttp) that echoes the token it
 *  was sent, percent-encoded or JSON-escaped, in one of four places. */
private class EchoingTransport(val place: Int) : org.mxclock.HttpTransport {
    override fun get(request: HttpRequest): org.mxclock.HttpResponse {
        val token = request.headers.first { it.name == "Authorization" }.value.removePrefix("Bearer ")
        val percent = java.net.URLEncoder.encode(token, "UTF-8")
        val json = token.map { if (it.isLetterOrDigit()) "$it" else if (it == '/') "\\/" else "\\u%04x".format(it.code) }.joinToString("")
        return when (place) {
            0 -> throw java.io.IOException("unexpected end of stream, sent $percent")
            1 -> throw org.mxclock.TransportException.Network("refused ${percent.lowercase()}")
            2 -> org.mxclock.HttpResponse(403u, listOf(), """{"errcode":"M_FORBIDDEN","error":"not for $json"}""".encodeToByteArray())
            else -> org.mxclock.HttpResponse(302u, listOf(HttpHeader("Location", "https://$percent.evil.example/")), ByteArray(0))
        }
    }
}

fun echoedTokenScenarios(h: Harness) = h.scenario("a token echoed in another spelling never reaches an exception") {
    val token = "syt+k0tl1n/EchoSecret+0123=="
    for (place in 0..3) {
        val config = ClockConfig(homeserverUrl = "https://matrix.example.org", accessToken = token)
        val time = KotlinTime(bootMs = 50_000, wallMs = 1_700_000_000_000)
        ServerClock.newWithSources(config, time, EchoingTransport(place)).use { clock ->
            val e = h.throws<org.mxclock.MxClockException>("sync with echo $place") { clock.sync() }
            val message = e?.message ?: ""
            // The message is not printed: it might hold the token.
            h.check(message.isNotEmpty(), "echo $place: the exception has a message")
            h.eq(null, leakedPiece(token, message), "echo $place: no piece of the token in the message")
            // A Location whose host is not a host name is not quoted at all.
            if (place < 3) h.check(message.contains("<redacted>"), "echo $place: the echo was redacted, not dropped")
        }
    }
}
