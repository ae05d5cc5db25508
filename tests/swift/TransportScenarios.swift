// A Swift HttpTransport (what an app would build on URLSession) driving the
// Rust sync, on a Swift clock so that every number is exact (twin of
// tests/kotlin/TransportScenarios.kt).
import Foundation
import MxClock

struct TransportTestError: Error, CustomStringConvertible {
    let description: String
}

/// A homeserver simulated in Swift: the request takes `upMs` to arrive, the
/// server reads its clock (the Swift wall clock + `skewMs`), the reply takes
/// `downMs`. Time moves only here.
final class SwiftTransport: HttpTransport, @unchecked Sendable {
    private let time: SwiftTime
    private let skewMs: Int64
    private let upMs: Int64
    private let downMs: Int64
    private let msc4094: Bool
    private let lock = NSLock()
    private var seen: [HttpRequest] = []
    var failWith: Error?

    init(time: SwiftTime, skewMs: Int64, upMs: Int64, downMs: Int64, msc4094: Bool = true) {
        self.time = time
        self.skewMs = skewMs
        self.upMs = upMs
        self.downMs = downMs
        self.msc4094 = msc4094
    }

    var requests: [HttpRequest] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    func get(request: HttpRequest) throws -> HttpResponse {
        lock.lock()
        seen.append(request)
        let failure = failWith
        lock.unlock()
        if let failure = failure { throw failure }
        time.advance(upMs)
        let serverMs = time.peekWallMs + skewMs
        time.advance(downMs)
        let headers = [HttpHeader(name: "Content-Type", value: "application/json"), HttpHeader(name: "Date", value: httpDate(serverMs))]
        let endpoint = request.url.hasSuffix("/_matrix/client/v3/get_server_now")
        if endpoint && msc4094 {
            return HttpResponse(status: 200, headers: headers, body: Data("{\"server_time\":\(serverMs)}".utf8))
        } else if endpoint {
            return HttpResponse(status: 404, headers: headers, body: Data("{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"Unrecognized request\"}".utf8))
        }
        return HttpResponse(status: 200, headers: headers, body: Data("{\"versions\":[\"v1.11\"]}".utf8))
    }
}

private func header(_ request: HttpRequest, _ name: String) -> String? {
    return request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
}

func transportScenarios(_ h: Harness) {
    let token = "syt_swift_transport_canary"
    let skewMs: Int64 = -91_234

    h.scenario("a Swift HttpTransport serves the MSC4094 endpoint") {
        let t = SwiftTime(bootMs: 50_000, wallMs: 1_700_000_000_000)
        let transport = SwiftTransport(time: t, skewMs: skewMs, upMs: 12, downMs: 18)
        let config = ClockConfig(homeserverUrl: "https://matrix.example.org", accessToken: token)
        let clock = try ServerClock.newWithSources(config: config, timeSource: t, transport: transport)
        let report = try clock.sync()
        h.eq(Int(report.requests), transport.requests.count, "every request went through the Swift transport")
        h.eq(SampleSource.endpoint, report.source, "best sample from the endpoint")
        h.eq(Int64(30), report.minRttMs, "round trip measured on the Swift clock")
        guard let req = transport.requests.first else { h.check(false, "a request was made"); return }
        h.eq("https://matrix.example.org/_matrix/client/v3/get_server_now", req.url, "endpoint URL")
        h.eq("Bearer \(token)", header(req, "Authorization"), "the token goes to the endpoint")
        h.eq("no-cache", header(req, "Cache-Control"), "no cached answers")
        h.eq(UInt64(10_000), req.timeoutMs, "the configured timeout is passed on")

        guard let e = clock.estimate() else { h.check(false, "estimate after sync"); return }
        let truth = t.peekWallMs + skewMs
        h.check(abs(e.serverNowMs - truth) <= e.uncertaintyMs, "estimate \(e.serverNowMs) ± \(e.uncertaintyMs) holds the truth \(truth)")
        h.check(e.uncertaintyMs <= 30 / 2 + 3, "uncertainty \(e.uncertaintyMs) ≤ half the round trip + 3 (resolution, drift, the boot clock read)")
        h.check(abs(e.offsetMs - skewMs) <= e.uncertaintyMs, "offset \(e.offsetMs) = skew \(skewMs) ± \(e.uncertaintyMs)")
    }

    h.scenario("a Swift HttpTransport without MSC4094: Date headers, token kept back") {
        let t = SwiftTime(bootMs: 50_000, wallMs: 1_700_000_000_250)
        let transport = SwiftTransport(time: t, skewMs: skewMs, upMs: 4, downMs: 6, msc4094: false)
        let config = ClockConfig(homeserverUrl: "https://matrix.example.org", accessToken: token, policy: quickPolicy())
        let clock = try ServerClock.newWithSources(config: config, timeSource: t, transport: transport)
        let report = try clock.sync()
        h.check(!report.endpointSupported, "the 404 marks the endpoint unsupported")
        h.eq(SampleSource.dateHeader, report.source, "best sample from a Date header")
        let others = transport.requests.filter { !$0.url.hasSuffix("/get_server_now") }
        h.check(!others.isEmpty, "Date probes were sent")
        h.check(others.allSatisfy { header($0, "Authorization") == nil }, "the token is sent to the MSC4094 endpoint only")
        guard let e = clock.estimate() else { h.check(false, "estimate after sync"); return }
        let truth = t.peekWallMs + skewMs
        h.check(abs(e.serverNowMs - truth) <= e.uncertaintyMs, "estimate \(e.serverNowMs) ± \(e.uncertaintyMs) holds the truth \(truth)")
    }

    h.scenario("an error thrown by a Swift HttpTransport becomes MxClockError") {
        let t = SwiftTime(bootMs: 50_000, wallMs: 1_700_000_000_000)
        let transport = SwiftTransport(time: t, skewMs: skewMs, upMs: 1, downMs: 1)
        transport.failWith = TransportTestError(description: "connection refused by the Swift test")
        let config = ClockConfig(homeserverUrl: "https://matrix.example.org", accessToken: token)
        let clock = try ServerClock.newWithSources(config: config, timeSource: t, transport: transport)
        let e = h.throwsError("sync with a failing transport") { try clock.sync() }
        h.check(e is MxClockError, "the error is an MxClockError: \(String(describing: e))")
        h.check(!String(describing: e).contains(token), "the token is not in the error")
        h.check(clock.estimate() == nil, "no estimate from a failed sync")
        transport.failWith = nil
        t.advance(120_000)
        h.check(try clock.sync().samplesTaken >= 1, "the next sync works")
    }

    h.scenario("a TransportError thrown by a Swift HttpTransport keeps its kind") {
        let t = SwiftTime(bootMs: 50_000, wallMs: 1_700_000_000_000)
        let transport = SwiftTransport(time: t, skewMs: skewMs, upMs: 1, downMs: 1)
        let config = ClockConfig(homeserverUrl: "https://matrix.example.org")
        let clock = try ServerClock.newWithSources(config: config, timeSource: t, transport: transport)
        transport.failWith = TransportError.Timeout(reason: "URLSession timed out")
        let e = h.throwsError("sync with a timing-out transport") { try clock.sync() }
        if case .Timeout? = e as? MxClockError {
            h.check(true, "a Swift TransportError.Timeout arrives as MxClockError.Timeout")
        } else {
            h.check(false, "expected MxClockError.Timeout, got \(String(describing: e))")
        }
        h.check(String(describing: e).contains("URLSession timed out"), "the reason reaches the app")
    }
}
