// The expiry rules (docs/expiry.md) evaluated from Kotlin: one event per
// rule through evaluateEventJson, the generic expiryAt, and the batch.
// The clock runs on a Kotlin TimeSource fed one zero-round-trip sample, so
// server time "now" is known to ±1 ms and every deadline below is computed
// here from the rule, not copied from Rust.
package org.mxclock.tests

import org.mxclock.ClockConfig
import org.mxclock.EventErrorKind
import org.mxclock.EventExpiry
import org.mxclock.ExpiryRule
import org.mxclock.ExpiryState
import org.mxclock.MxClockException
import org.mxclock.ServerClock
import org.mxclock.VerificationValidity

private const val BOOT = 100_000L

/** A clock whose server time at boot [BOOT] is `serverNowMs()`, ± ~1 ms. */
private fun frozenClock(): Pair<ServerClock, Long> {
    val t = KotlinTime(bootMs = BOOT, wallMs = 1_700_000_000_000)
    val clock = ServerClock.newWithSources(ClockConfig(homeserverUrl = ""), t, null)
    clock.addEndpointSample(BOOT, BOOT, 1_760_000_000_000)
    return clock to clock.serverNowMs()
}

/** One event per rule and case, as JSON, with its expected outcome. */
class RuleCase(
    val name: String,
    val json: String,
    val rule: ExpiryRule,
    val state: ExpiryState,
    val deadlineMs: Long?, // null: not checked (ended)
    val receivedBootMs: Long? = null,
    val check: (Harness, EventExpiry) -> Unit = { _, _ -> },
)

fun ruleCases(s: Long): List<RuleCase> = listOf(
    RuleCase(
        "m.call.member session, live",
        """{"type":"m.call.member","event_id":"${'$'}m1","origin_server_ts":${s - 1_000},"state_key":"_@a:x_DEV","content":{"application":"m.call","call_id":"","device_id":"DEV","focus_active":{"type":"livekit"},"foci_preferred":[],"scope":"m.room","created_ts":${s - 60_000},"expires":3600000}}""",
        ExpiryRule.CALL_MEMBER_SESSION, ExpiryState.LIVE, s - 60_000 + 3_600_000,
    ),
    RuleCase(
        "m.call.member session, default 4 h, expired",
        """{"type":"m.call.member","origin_server_ts":${s - 18_000_000},"content":{"application":"m.call","call_id":"","device_id":"DEV","scope":"m.room"}}""",
        ExpiryRule.CALL_MEMBER_SESSION, ExpiryState.EXPIRED, s - 18_000_000 + 14_400_000,
    ),
    RuleCase(
        "legacy MSC3401 memberships: the latest device counts",
        """{"type":"org.matrix.msc3401.call.member","origin_server_ts":$s,"content":{"memberships":[{"call_id":"","device_id":"D1","expires_ts":${s + 30_000}},{"call_id":"","device_id":"D2","expires_ts":${s + 90_000}}]}}""",
        ExpiryRule.CALL_MEMBER_LEGACY, ExpiryState.LIVE, s + 90_000,
    ),
    RuleCase(
        "m.call.member with empty content: left",
        """{"type":"m.call.member","origin_server_ts":$s,"content":{}}""",
        ExpiryRule.MEMBERSHIP_LEFT, ExpiryState.EXPIRED, null,
        check = { h, e -> h.check(e.ended, "left: ended") },
    ),
    RuleCase(
        "m.rtc.member sticky, duration capped at 1 h",
        """{"type":"m.rtc.member","origin_server_ts":${s - 1_000},"sticky":{"duration_ms":7200000},"content":{"slot_id":"m.call#","application":{"type":"m.call"},"member":{"id":"x","device_id":"D","user_id":"@a:x"}}}""",
        ExpiryRule.RTC_MEMBER_STICKY, ExpiryState.LIVE, s - 1_000 + 3_600_000,
    ),
    RuleCase(
        "m.rtc.member with the server's sticky TTL, counted from receipt",
        """{"type":"m.rtc.member","origin_server_ts":${s - 1_000},"sticky":{"duration_ms":600000},"unsigned":{"sticky_duration_ttl_ms":120000},"content":{"slot_id":"m.call#","application":{"type":"m.call"},"member":{"id":"x","device_id":"D","user_id":"@a:x"}}}""",
        ExpiryRule.RTC_MEMBER_STICKY_TTL, ExpiryState.LIVE, s + 120_000, receivedBootMs = BOOT,
    ),
    RuleCase(
        "to-device verification request: prompt for 2 min after receipt",
        """{"type":"m.key.verification.request","sender":"@a:x","content":{"from_device":"D","methods":["m.sas.v1"],"timestamp":${s - 1_000},"transaction_id":"t1"}}""",
        ExpiryRule.VERIFICATION_REQUEST_TO_DEVICE, ExpiryState.LIVE, s + 120_000, receivedBootMs = BOOT,
        check = { h, e ->
            h.eq(VerificationValidity.VALID, e.verificationValidity, "fresh request is valid")
            h.check(!e.ignore, "fresh request is shown")
        },
    ),
    RuleCase(
        "to-device verification request older than 10 min: ignored",
        """{"type":"m.key.verification.request","content":{"from_device":"D","methods":["m.sas.v1"],"timestamp":${s - 700_000},"transaction_id":"t2"}}""",
        ExpiryRule.VERIFICATION_REQUEST_TO_DEVICE, ExpiryState.EXPIRED, null, receivedBootMs = BOOT,
        check = { h, e ->
            h.eq(VerificationValidity.TOO_OLD, e.verificationValidity, "old request")
            h.check(e.ignore, "old request is ignored")
        },
    ),
    RuleCase(
        "in-room verification request from 5+ min in the future: ignored",
        """{"type":"m.room.message","origin_server_ts":${s + 400_000},"content":{"msgtype":"m.key.verification.request","body":"verify?","from_device":"D","methods":["m.sas.v1"],"to":"@b:x"}}""",
        // Ignored, so expired: `state` never shows a request to drop as live.
        ExpiryRule.VERIFICATION_REQUEST_IN_ROOM, ExpiryState.EXPIRED, null,
        check = { h, e ->
            h.eq(VerificationValidity.IN_FUTURE, e.verificationValidity, "future request")
            h.check(e.ignore, "future request is ignored")
        },
    ),
    RuleCase(
        "m.call.invite within its lifetime rings",
        """{"type":"m.call.invite","origin_server_ts":${s - 30_000},"content":{"call_id":"c1","lifetime":60000,"version":"1","offer":{"type":"offer","sdp":""}}}""",
        // "expired when now − origin_server_ts > lifetime": the first expired
        // millisecond is one past ots + lifetime.
        ExpiryRule.CALL_INVITE, ExpiryState.LIVE, s - 30_000 + 60_000 + 1,
        check = { h, e -> h.eq(true, e.shouldRing, "live invite rings") },
    ),
    RuleCase(
        "m.call.invite past its lifetime does not ring",
        """{"type":"m.call.invite","origin_server_ts":${s - 90_000},"content":{"call_id":"c2","lifetime":60000,"version":"1"}}""",
        ExpiryRule.CALL_INVITE, ExpiryState.EXPIRED, s - 90_000 + 60_000 + 1,
        check = { h, e -> h.eq(false, e.shouldRing, "expired invite is silent") },
    ),
    RuleCase(
        "m.rtc.notification ring, lifetime capped at 2 min",
        """{"type":"m.rtc.notification","origin_server_ts":${s - 5_000},"content":{"sender_ts":${s - 5_000},"lifetime":600000,"notification_type":"ring","m.mentions":{}}}""",
        ExpiryRule.RTC_NOTIFICATION, ExpiryState.LIVE, s - 5_000 + 120_000,
        check = { h, e -> h.eq(true, e.shouldRing, "live ring notification rings") },
    ),
    RuleCase(
        "org.matrix.msc4075.rtc.notification of type notification never rings",
        """{"type":"org.matrix.msc4075.rtc.notification","origin_server_ts":${s - 5_000},"content":{"sender_ts":${s - 5_000},"lifetime":30000,"notification_type":"notification"}}""",
        ExpiryRule.RTC_NOTIFICATION, ExpiryState.LIVE, s + 25_000,
        check = { h, e -> h.eq(false, e.shouldRing, "a plain notification is silent") },
    ),
    RuleCase(
        "m.rtc.notification with its fields nested in application (newest MSC4075)",
        """{"type":"m.rtc.notification","origin_server_ts":${s - 5_000},"content":{"application":{"type":"m.call","notification_type":"ring","sender_ts":${s - 5_000},"lifetime":30000},"m.mentions":{"room":true}}}""",
        ExpiryRule.RTC_NOTIFICATION, ExpiryState.LIVE, s + 25_000,
        check = { h, e -> h.eq(true, e.shouldRing, "nested ring notification rings") },
    ),
    RuleCase(
        "any sticky event (MSC4354), here a custom type",
        """{"type":"org.example.status","origin_server_ts":${s - 1_000},"msc4354_sticky":{"duration_ms":300000},"content":{}}""",
        ExpiryRule.STICKY, ExpiryState.LIVE, s - 1_000 + 300_000,
    ),
    RuleCase(
        "m.rtc.member with membership leave",
        """{"type":"m.rtc.member","origin_server_ts":${s - 1_000},"sticky":{"duration_ms":600000},"content":{"slot_id":"m.call#ROOM","member":{"id":"x","membership":"leave"},"sticky_key":"x"}}""",
        ExpiryRule.MEMBERSHIP_LEFT, ExpiryState.EXPIRED, null,
        check = { h, e -> h.check(e.ended, "left: ended") },
    ),
    RuleCase(
        "live location m.beacon_info",
        """{"type":"m.beacon_info","origin_server_ts":${s - 1_000},"content":{"description":"","live":true,"timeout":300000,"m.ts":${s - 1_000},"m.asset":{"type":"m.self"}}}""",
        ExpiryRule.BEACON_INFO, ExpiryState.LIVE, s - 1_000 + 300_000,
    ),
    RuleCase(
        "stopped beacon",
        """{"type":"m.beacon_info","origin_server_ts":${s - 1_000},"content":{"live":false,"timeout":300000,"m.ts":${s - 1_000}}}""",
        ExpiryRule.BEACON_INFO, ExpiryState.EXPIRED, null,
        check = { h, e -> h.check(e.ended, "stopped: ended") },
    ),
)

fun expiryScenarios(h: Harness) {
    h.scenario("each expiry rule from Kotlin") {
        val (clock, s) = frozenClock()
        clock.use {
            val unc = clock.estimate()!!.uncertaintyMs
            h.check(unc <= 2, "zero-round-trip sample: uncertainty $unc ≤ 2 ms")
            for (c in ruleCases(s)) {
                val e = clock.evaluateEventJson(c.json, c.receivedBootMs)
                h.eq(c.rule, e.rule, "${c.name}: rule")
                h.eq(c.state, e.expiry.state, "${c.name}: state")
                h.eq(c.state == ExpiryState.EXPIRED, e.expiry.isExpired, "${c.name}: isExpired")
                if (c.deadlineMs != null) {
                    h.eq(c.deadlineMs, e.expiry.deadlineMs, "${c.name}: deadline")
                    h.eq(c.deadlineMs - s, e.expiry.remainingMs, "${c.name}: remaining")
                    // Fire the timer when the boot clock reaches the deadline.
                    h.eq(BOOT + (c.deadlineMs - s), e.expiry.fireAtBootMs, "${c.name}: timer on the boot clock")
                }
                c.check(h, e)
            }
        }
    }

    h.scenario("expiryAt: live, expired, and uncertain within the error bars") {
        val (clock, s) = frozenClock()
        clock.use {
            h.eq(ExpiryState.LIVE, clock.expiryAt(s + 10_000).state, "10 s ahead: live")
            h.eq(ExpiryState.EXPIRED, clock.expiryAt(s - 10_000).state, "10 s ago: expired")
            val now = clock.expiryAt(s)
            // Over at the deadline itself; uncertain only if the clock's
            // error bars reach past it.
            val unc = clock.estimate()!!.uncertaintyMs
            h.eq(if (unc > 0) ExpiryState.UNCERTAIN else ExpiryState.EXPIRED, now.state, "deadline now, ±$unc ms")
            h.check(now.isExpired, "best guess at remaining 0: expired (as matrix-js-sdk)")
            h.eq(ExpiryState.EXPIRED, clock.expiryAt(s - unc).state, "deadline now − uncertainty: expired")
            h.eq(s + 60_000, clock.serverMsAfter(60_000), "serverMsAfter() for expires_ts of own events")
        }
    }

    h.scenario("bad events surface as MxClockException") {
        val (clock, _) = frozenClock()
        clock.use {
            val notJson = h.throws<MxClockException.InvalidEvent>("not JSON") { clock.evaluateEventJson("{not json", null) }
            h.check(notJson?.message?.contains("`\$`") == true, "message names the JSON path: ${notJson?.message}")
            val noRule = h.throws<MxClockException.NoExpiryRule>("m.room.topic has no rule") {
                clock.evaluateEventJson("""{"type":"m.room.topic","content":{"topic":"x"}}""", null)
            }
            h.check(noRule?.message?.contains("m.room.topic") == true, "message names the type: ${noRule?.message}")
            val badField = h.throws<MxClockException.InvalidEvent>("float lifetime") {
                clock.evaluateEventJson("""{"type":"m.call.invite","origin_server_ts":1,"content":{"lifetime":1.5}}""", null)
            }
            h.check(badField?.message?.contains("content.lifetime") == true, "message names the field: ${badField?.message}")
        }
    }

    h.scenario("batch evaluation of 1 000 events in one call") {
        val (clock, s) = frozenClock()
        clock.use {
            val cases = ruleCases(s)
            val events = (0 until 1_000).map { i ->
                if (i == 500) """{"type":"m.call.invite","event_id":"${'$'}e$i","content":{}}""" // lifetime missing
                else withEventId(cases[i % cases.size].json, "${'$'}e$i")
            }
            val outcomes = clock.evaluateEventsJson(events.joinToString(",", "[", "]"), BOOT)
            h.eq(1_000, outcomes.size, "one outcome per event")
            h.check(outcomes.withIndex().all { (i, o) -> o.eventId == "${'$'}e$i" }, "outcomes keep the order and the event ids")
            val bad = outcomes[500]
            h.check(bad.result == null && bad.error?.message?.contains("content.lifetime") == true, "the bad event gives an error outcome: ${bad.error}")
            h.eq(EventErrorKind.INVALID_EVENT, bad.error?.kind, "the error's kind")
            h.eq("content.lifetime", bad.error?.path, "the error's JSON path")
            h.eq(999, outcomes.count { it.result != null && it.error == null }, "every other event has a result")
            // Same answers as one-by-one (the Kotlin clock is frozen).
            val mismatches = (0 until 1_000 step 37).filter { it != 500 }.count { i ->
                clock.evaluateEventJson(events[i], BOOT) != outcomes[i].result
            }
            h.eq(0, mismatches, "batch results equal single-event results")
        }
    }
}

fun ringScenarios(h: Harness) {
    h.scenario("batch: one bad number is one error outcome; a decline ends a ring") {
        val (clock, s) = frozenClock()
        clock.use {
            val notification = """{"type":"m.rtc.notification","event_id":"${'$'}n","origin_server_ts":${s - 1_000},"content":{"notification_type":"ring","sender_ts":${s - 1_000},"lifetime":30000}}"""
            val huge = """{"type":"m.call.invite","event_id":"${'$'}huge","origin_server_ts":1e400,"content":{"call_id":"c","lifetime":60000}}"""
            val decline = """{"type":"org.matrix.msc4310.rtc.decline","event_id":"${'$'}d","origin_server_ts":${s - 500},"content":{"m.relates_to":{"rel_type":"m.reference","event_id":"${'$'}n"}}}"""
            val alone = clock.evaluateEventsJson("[$notification,$huge]", BOOT)
            h.eq(true, alone[0].result?.shouldRing, "the notification rings on its own")
            h.eq(EventErrorKind.INVALID_EVENT, alone[1].error?.kind, "1e400: an error outcome")
            h.eq("origin_server_ts", alone[1].error?.path, "naming the field")
            val declined = clock.evaluateEventsJson("[$notification,$huge,$decline]", BOOT)
            h.eq(false, declined[0].result?.shouldRing, "declined: no ring")
            h.check(declined[0].result?.ended == true, "declined: ended")
            h.eq(ExpiryRule.RING_RESPONSE, declined[2].result?.rule, "the decline's own rule")
            val notArray = h.throws<MxClockException.InvalidEvent>("only a non-array fails the call") {
                clock.evaluateEventsJson(notification, BOOT)
            }
            h.check(notArray?.message?.contains("array") == true, "says so: ${notArray?.message}")
        }
    }
}

/** The event JSON with `event_id` set (replacing one if present). */
fun withEventId(json: String, id: String): String {
    val stripped = json.replace(Regex(""""event_id":"[^"]*","""), "")
    return "{\"event_id\":\"$id\"," + stripped.removePrefix("{")
}
