// The expiry rules (docs/expiry.md) evaluated from Swift (twin of
// tests/kotlin/ExpiryScenarios.kt): one event per rule, the generic
// expiryAt, and the batch. Server time "now" is known to ±1 ms; deadlines
// are computed here from the rules.
import Foundation
import MxClock

private let boot: Int64 = 100_000

/// A clock whose server time at boot `boot` is the returned `s`, ± ~1 ms.
private func frozenClock() throws -> (ServerClock, Int64) {
    let t = SwiftTime(bootMs: boot, wallMs: 1_700_000_000_000)
    let clock = try ServerClock.newWithSources(config: ClockConfig(homeserverUrl: ""), timeSource: t, transport: nil)
    _ = try clock.addEndpointSample(sentBootMs: boot, receivedBootMs: boot, serverMs: 1_760_000_000_000)
    return (clock, try clock.serverNowMs())
}

struct RuleCase {
    let name: String
    let json: String
    let rule: ExpiryRule
    let state: ExpiryState
    let deadlineMs: Int64? // nil: not checked
    var receivedBootMs: Int64? = nil
    var check: (Harness, EventExpiry) -> Void = { _, _ in }
}

func ruleCases(_ s: Int64) -> [RuleCase] {
    return [
        RuleCase(
            name: "m.call.member session, live",
            json: #"{"type":"m.call.member","event_id":"$m1","origin_server_ts":\#(s - 1_000),"state_key":"_@a:x_DEV","content":{"application":"m.call","call_id":"","device_id":"DEV","focus_active":{"type":"livekit"},"foci_preferred":[],"scope":"m.room","created_ts":\#(s - 60_000),"expires":3600000}}"#,
            rule: .callMemberSession, state: .live, deadlineMs: s - 60_000 + 3_600_000),
        RuleCase(
            name: "m.call.member session, default 4 h, expired",
            json: #"{"type":"m.call.member","origin_server_ts":\#(s - 18_000_000),"content":{"application":"m.call","call_id":"","device_id":"DEV","scope":"m.room"}}"#,
            rule: .callMemberSession, state: .expired, deadlineMs: s - 18_000_000 + 14_400_000),
        RuleCase(
            name: "legacy MSC3401 memberships: the latest device counts",
            json: #"{"type":"org.matrix.msc3401.call.member","origin_server_ts":\#(s),"content":{"memberships":[{"call_id":"","device_id":"D1","expires_ts":\#(s + 30_000)},{"call_id":"","device_id":"D2","expires_ts":\#(s + 90_000)}]}}"#,
            rule: .callMemberLegacy, state: .live, deadlineMs: s + 90_000),
        RuleCase(
            name: "m.call.member with empty content: left",
            json: #"{"type":"m.call.member","origin_server_ts":\#(s),"content":{}}"#,
            rule: .membershipLeft, state: .expired, deadlineMs: nil,
            check: { h, e in h.check(e.ended, "left: ended") }),
        RuleCase(
            name: "m.rtc.member sticky, duration capped at 1 h",
            json: #"{"type":"m.rtc.member","origin_server_ts":\#(s - 1_000),"sticky":{"duration_ms":7200000},"content":{"slot_id":"m.call#","application":{"type":"m.call"},"member":{"id":"x","device_id":"D","user_id":"@a:x"}}}"#,
            rule: .rtcMemberSticky, state: .live, deadlineMs: s - 1_000 + 3_600_000),
        RuleCase(
            name: "m.rtc.member with the server's sticky TTL, counted from receipt",
            json: #"{"type":"m.rtc.member","origin_server_ts":\#(s - 1_000),"sticky":{"duration_ms":600000},"unsigned":{"sticky_duration_ttl_ms":120000},"content":{"slot_id":"m.call#","application":{"type":"m.call"},"member":{"id":"x","device_id":"D","user_id":"@a:x"}}}"#,
            rule: .rtcMemberStickyTtl, state: .live, deadlineMs: s + 120_000, receivedBootMs: boot),
        RuleCase(
            name: "to-device verification request: prompt for 2 min after receipt",
            json: #"{"type":"m.key.verification.request","sender":"@a:x","content":{"from_device":"D","methods":["m.sas.v1"],"timestamp":\#(s - 1_000),"transaction_id":"t1"}}"#,
            rule: .verificationRequestToDevice, state: .live, deadlineMs: s + 120_000, receivedBootMs: boot,
            check: { h, e in
                h.eq(VerificationValidity.valid, e.verificationValidity, "fresh request is valid")
                h.check(!e.ignore, "fresh request is shown")
            }),
        RuleCase(
            name: "to-device verification request older than 10 min: ignored",
            json: #"{"type":"m.key.verification.request","content":{"from_device":"D","methods":["m.sas.v1"],"timestamp":\#(s - 700_000),"transaction_id":"t2"}}"#,
            rule: .verificationRequestToDevice, state: .expired, deadlineMs: nil, receivedBootMs: boot,
            check: { h, e in
                h.eq(VerificationValidity.tooOld, e.verificationValidity, "old request")
                h.check(e.ignore, "old request is ignored")
            }),
        RuleCase(
            name: "in-room verification request from 5+ min in the future: ignored",
            json: #"{"type":"m.room.message","origin_server_ts":\#(s + 400_000),"content":{"msgtype":"m.key.verification.request","body":"verify?","from_device":"D","methods":["m.sas.v1"],"to":"@b:x"}}"#,
            // Ignored, so expired: `state` never shows a request to drop as live.
            rule: .verificationRequestInRoom, state: .expired, deadlineMs: nil,
            check: { h, e in
                h.eq(VerificationValidity.inFuture, e.verificationValidity, "future request")
                h.check(e.ignore, "future request is ignored")
            }),
        // "expired when now − origin_server_ts > lifetime": the first expired
        // millisecond is one past ots + lifetime.
        RuleCase(
            name: "m.call.invite within its lifetime rings",
            json: #"{"type":"m.call.invite","origin_server_ts":\#(s - 30_000),"content":{"call_id":"c1","lifetime":60000,"version":"1","offer":{"type":"offer","sdp":""}}}"#,
            rule: .callInvite, state: .live, deadlineMs: s - 30_000 + 60_000 + 1,
            check: { h, e in h.eq(true, e.shouldRing, "live invite rings") }),
        RuleCase(
            name: "m.call.invite past its lifetime does not ring",
            json: #"{"type":"m.call.invite","origin_server_ts":\#(s - 90_000),"content":{"call_id":"c2","lifetime":60000,"version":"1"}}"#,
            rule: .callInvite, state: .expired, deadlineMs: s - 90_000 + 60_000 + 1,
            check: { h, e in h.eq(false, e.shouldRing, "expired invite is silent") }),
        RuleCase(
            name: "m.rtc.notification ring, lifetime capped at 2 min",
            json: #"{"type":"m.rtc.notification","origin_server_ts":\#(s - 5_000),"content":{"sender_ts":\#(s - 5_000),"lifetime":600000,"notification_type":"ring","m.mentions":{}}}"#,
            rule: .rtcNotification, state: .live, deadlineMs: s - 5_000 + 120_000,
            check: { h, e in h.eq(true, e.shouldRing, "live ring notification rings") }),
        RuleCase(
            name: "org.matrix.msc4075.rtc.notification of type notification never rings",
            json: #"{"type":"org.matrix.msc4075.rtc.notification","origin_server_ts":\#(s - 5_000),"content":{"sender_ts":\#(s - 5_000),"lifetime":30000,"notification_type":"notification"}}"#,
            rule: .rtcNotification, state: .live, deadlineMs: s + 25_000,
            check: { h, e in h.eq(false, e.shouldRing, "a plain notification is silent") }),
        RuleCase(
            name: "m.rtc.notification with its fields nested in application (newest MSC4075)",
            json: #"{"type":"m.rtc.notification","origin_server_ts":\#(s - 5_000),"content":{"application":{"type":"m.call","notification_type":"ring","sender_ts":\#(s - 5_000),"lifetime":30000},"m.mentions":{"room":true}}}"#,
            rule: .rtcNotification, state: .live, deadlineMs: s + 25_000,
            check: { h, e in h.eq(true, e.shouldRing, "nested ring notification rings") }),
        RuleCase(
            name: "any sticky event (MSC4354), here a custom type",
            json: #"{"type":"org.example.status","origin_server_ts":\#(s - 1_000),"msc4354_sticky":{"duration_ms":300000},"content":{}}"#,
            rule: .sticky, state: .live, deadlineMs: s - 1_000 + 300_000),
        RuleCase(
            name: "m.rtc.member with membership leave",
            json: #"{"type":"m.rtc.member","origin_server_ts":\#(s - 1_000),"sticky":{"duration_ms":600000},"content":{"slot_id":"m.call#ROOM","member":{"id":"x","membership":"leave"},"sticky_key":"x"}}"#,
            rule: .membershipLeft, state: .expired, deadlineMs: nil,
            check: { h, e in h.check(e.ended, "left: ended") }),
        RuleCase(
            name: "live location m.beacon_info",
            json: #"{"type":"m.beacon_info","origin_server_ts":\#(s - 1_000),"content":{"description":"","live":true,"timeout":300000,"m.ts":\#(s - 1_000),"m.asset":{"type":"m.self"}}}"#,
            rule: .beaconInfo, state: .live, deadlineMs: s - 1_000 + 300_000),
        RuleCase(
            name: "stopped beacon",
            json: #"{"type":"m.beacon_info","origin_server_ts":\#(s - 1_000),"content":{"live":false,"timeout":300000,"m.ts":\#(s - 1_000)}}"#,
            rule: .beaconInfo, state: .expired, deadlineMs: nil,
            check: { h, e in h.check(e.ended, "stopped: ended") }),
    ]
}

/// The event JSON with `event_id` set (replacing one if present).
func withEventId(_ json: String, _ id: String) -> String {
    var body = json
    if let r = body.range(of: #""event_id":"[^"]*","#, options: .regularExpression) {
        body.removeSubrange(r)
    }
    return "{\"event_id\":\"\(id)\"," + body.dropFirst()
}

func expiryScenarios(_ h: Harness) {
    h.scenario("each expiry rule from Swift") {
        let (clock, s) = try frozenClock()
        let unc = clock.estimate()?.uncertaintyMs ?? -1
        h.check(unc >= 0 && unc <= 2, "zero-round-trip sample: uncertainty \(unc) ≤ 2 ms")
        for c in ruleCases(s) {
            let e = try clock.evaluateEventJson(json: c.json, receivedBootMs: c.receivedBootMs)
            h.eq(c.rule, e.rule, "\(c.name): rule")
            h.eq(c.state, e.expiry.state, "\(c.name): state")
            h.eq(c.state == .expired, e.expiry.isExpired, "\(c.name): isExpired")
            if let deadline = c.deadlineMs {
                h.eq(deadline, e.expiry.deadlineMs, "\(c.name): deadline")
                h.eq(deadline - s, e.expiry.remainingMs, "\(c.name): remaining")
                h.eq(boot + (deadline - s), e.expiry.fireAtBootMs, "\(c.name): timer on the boot clock")
            }
            c.check(h, e)
        }
    }

    h.scenario("expiryAt: live, expired, and uncertain within the error bars") {
        let (clock, s) = try frozenClock()
        h.eq(ExpiryState.live, try clock.expiryAt(deadlineMs: s + 10_000).state, "10 s ahead: live")
        h.eq(ExpiryState.expired, try clock.expiryAt(deadlineMs: s - 10_000).state, "10 s ago: expired")
        let now = try clock.expiryAt(deadlineMs: s)
        // Over at the deadline itself; uncertain only if the clock's error
        // bars reach past it.
        let unc = clock.estimate()?.uncertaintyMs ?? 0
        h.eq(unc > 0 ? ExpiryState.uncertain : ExpiryState.expired, now.state, "deadline now, ±\(unc) ms")
        h.check(now.isExpired, "best guess at remaining 0: expired (as matrix-js-sdk)")
        h.eq(ExpiryState.expired, try clock.expiryAt(deadlineMs: s - unc).state, "deadline now − uncertainty: expired")
        h.eq(s + 60_000, try clock.serverMsAfter(durationMs: 60_000), "serverMsAfter() for expires_ts of own events")
    }

    h.scenario("bad events surface as MxClockError") {
        let (clock, _) = try frozenClock()
        let notJson = h.throwsError("not JSON") { try clock.evaluateEventJson(json: "{not json", receivedBootMs: nil) }
        if case .InvalidEvent(let message)? = notJson as? MxClockError {
            h.check(message.contains("`$`"), "message names the JSON path: \(message)")
        } else {
            h.check(false, "expected InvalidEvent, got \(String(describing: notJson))")
        }
        let noRule = h.throwsError("m.room.topic has no rule") {
            try clock.evaluateEventJson(json: #"{"type":"m.room.topic","content":{"topic":"x"}}"#, receivedBootMs: nil)
        }
        if case .NoExpiryRule(let message)? = noRule as? MxClockError {
            h.check(message.contains("m.room.topic"), "message names the type: \(message)")
        } else {
            h.check(false, "expected NoExpiryRule, got \(String(describing: noRule))")
        }
    }

    h.scenario("batch evaluation of 1 000 events in one call") {
        let (clock, s) = try frozenClock()
        let cases = ruleCases(s)
        let events: [String] = (0..<1_000).map { i in
            i == 500
                ? #"{"type":"m.call.invite","event_id":"$e500","content":{}}"# // lifetime missing
                : withEventId(cases[i % cases.count].json, "$e\(i)")
        }
        let outcomes = try clock.evaluateEventsJson(jsonArray: "[" + events.joined(separator: ",") + "]", receivedBootMs: boot)
        h.eq(1_000, outcomes.count, "one outcome per event")
        h.check(outcomes.enumerated().allSatisfy { $0.element.eventId == "$e\($0.offset)" }, "outcomes keep the order and the event ids")
        let bad = outcomes[500]
        h.check(bad.result == nil && (bad.error?.message ?? "").contains("content.lifetime"), "the bad event gives an error outcome: \(String(describing: bad.error))")
        h.eq(EventErrorKind.invalidEvent, bad.error?.kind, "the error's kind")
        h.eq("content.lifetime", bad.error?.path, "the error's JSON path")
        h.eq(999, outcomes.filter { $0.result != nil && $0.error == nil }.count, "every other event has a result")
        var mismatches = 0
        for i in stride(from: 0, to: 1_000, by: 37) where i != 500 {
            if try clock.evaluateEventJson(json: events[i], receivedBootMs: boot) != outcomes[i].result { mismatches += 1 }
        }
        h.eq(0, mismatches, "batch results equal single-event results")
    }
}

func ringScenarios(_ h: Harness) {
    h.scenario("batch: one bad number is one error outcome; a decline ends a ring") {
        let (clock, s) = try frozenClock()
        let notification = #"{"type":"m.rtc.notification","event_id":"$n","origin_server_ts":\#(s - 1_000),"content":{"notification_type":"ring","sender_ts":\#(s - 1_000),"lifetime":30000}}"#
        let huge = #"{"type":"m.call.invite","event_id":"$huge","origin_server_ts":1e400,"content":{"call_id":"c","lifetime":60000}}"#
        let decline = #"{"type":"org.matrix.msc4310.rtc.decline","event_id":"$d","origin_server_ts":\#(s - 500),"content":{"m.relates_to":{"rel_type":"m.reference","event_id":"$n"}}}"#
        let alone = try clock.evaluateEventsJson(jsonArray: "[\(notification),\(huge)]", receivedBootMs: boot)
        h.eq(true, alone[0].result?.shouldRing, "the notification rings on its own")
        h.eq(EventErrorKind.invalidEvent, alone[1].error?.kind, "1e400: an error outcome")
        h.eq("origin_server_ts", alone[1].error?.path, "naming the field")
        let declined = try clock.evaluateEventsJson(jsonArray: "[\(notification),\(huge),\(decline)]", receivedBootMs: boot)
        h.eq(false, declined[0].result?.shouldRing, "declined: no ring")
        h.check(declined[0].result?.ended == true, "declined: ended")
        h.eq(ExpiryRule.ringResponse, declined[2].result?.rule, "the decline's own rule")
        let notArray = h.throwsError("only a non-array fails the call") {
            _ = try clock.evaluateEventsJson(jsonArray: notification, receivedBootMs: boot)
        }
        if case .InvalidEvent(let message)? = notArray as? MxClockError {
            h.check(message.contains("array"), "says so: \(message)")
        } else {
            h.check(false, "expected InvalidEvent, got \(String(describing: notArray))")
        }
    }
}
