// The sync session from Swift, driven by the app's own HTTP stack with
// async/await: URLSession for the requests, Task.sleep for the waits
// (twin of tests/kotlin/SessionScenarios.kt). No Rust call blocks.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MxClock

/// Sends `request` with URLSession, not following redirects; the reply with
/// any status, or the failure as a TransportError.
final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil) // mxclock's transport contract: a 3xx is a reply
    }
}

func send(_ request: MxClock.HttpRequest, with urlSession: URLSession) async -> Result<MxClock.HttpResponse, TransportError> {
    guard let url = URL(string: request.url) else {
        return .failure(.InvalidRequest(reason: "bad URL \(request.url)"))
    }
    var r = URLRequest(url: url)
    r.timeoutInterval = Double(request.timeoutMs) / 1000
    for h in request.headers { r.addValue(h.value, forHTTPHeaderField: h.name) }
    return await withCheckedContinuation { continuation in
        urlSession.dataTask(with: r) { data, response, error in
            if let http = response as? HTTPURLResponse {
                let headers = http.allHeaderFields.map { HttpHeader(name: "\($0.key)", value: "\($0.value)") }
                continuation.resume(returning: .success(HttpResponse(status: UInt16(http.statusCode), headers: headers, body: data ?? Data())))
            } else if let e = error as? URLError, e.code == .timedOut {
                continuation.resume(returning: .failure(.Timeout(reason: "\(e)")))
            } else {
                continuation.resume(returning: .failure(.Network(reason: "\(String(describing: error))")))
            }
        }.resume()
    }
}

/// Drives `session` to its end; returns the report or throws the sync's error.
func drive(_ session: SyncSession, clock: ServerClock, urlSession: URLSession) async throws -> SyncReport {
    while true {
        switch try session.nextAction(nowBootMs: clock.bootMs()) {
        case let .send(requestId, request):
            let sent = clock.bootMs()
            let reply = await send(request, with: urlSession)
            let received = clock.bootMs()
            switch reply {
            case let .success(response):
                try session.receiveResponse(requestId: requestId, sentBootMs: sent, receivedBootMs: received, response: response)
            case let .failure(error):
                try session.receiveFailure(requestId: requestId, sentBootMs: sent, receivedBootMs: received, error: error)
            }
        case let .wait(untilBootMs):
            let ms = max(0, untilBootMs - clock.bootMs())
            try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
        case let .done(report):
            return report
        }
    }
}

/// Runs an async body to its end from the synchronous harness.
func runBlocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Locked<Result<T, Error>?>(nil)
    Task {
        do {
            let value = try await body()
            result.withLock { $0 = .success(value) }
        } catch {
            result.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    guard let r = result.current else { throw TestSetupError(description: "the task ended without a result") }
    return try r.get()
}

func sessionScenarios(_ h: Harness) {
    let urlSession = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)

    h.scenario("a sync session driven by URLSession and async/await (MSC4094)") {
        let hs = try TestHomeserver(["--skew-ms", "-73500", "--uplink-ms", "3", "--downlink-ms", "7", "--seed", "11"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl, accessToken: "syt_swift_session_canary"))
        let session = try clock.startSync(nowBootMs: clock.bootMs())
        let report = try runBlocking { try await drive(session, clock: clock, urlSession: urlSession) }
        h.eq(SampleSource.endpoint, report.source, "best sample from the endpoint")
        h.check(report.endpointSupported, "the endpoint was found")
        h.check(report.requests >= 2 && report.requests <= 4, "requests \(report.requests)")
        h.eq(Int64(report.requests), try hs.timeEndpointRequests(), "the homeserver saw exactly those requests")
        h.check((report.minRttMs ?? 0) >= 10, "min RTT \(String(describing: report.minRttMs)) ms includes the 10 ms path delay")
        h.eq(nil, report.dateDisagreementMs, "body and Date from one clock agree")
        guard let before = clock.estimate() else { h.check(false, "estimate after the session"); return }
        let truth = try hs.trueServerMs()
        guard let after = clock.estimate() else { h.check(false, "estimate after the session"); return }
        h.check(
            truth >= Double(before.serverNowMs - before.uncertaintyMs - 1) && truth <= Double(after.serverNowMs + after.uncertaintyMs + 1),
            "true server time \(truth) within [\(before.serverNowMs), \(after.serverNowMs)] ± \(after.uncertaintyMs)")
        h.check(abs(after.offsetMs + 73_500) <= after.uncertaintyMs + 2, "offset \(after.offsetMs) ms = skew -73500 ± \(after.uncertaintyMs)")
        if case let .done(again) = try session.nextAction(nowBootMs: clock.bootMs()) {
            h.eq(report, again, "a finished session repeats its report")
        } else {
            h.check(false, "a finished session says done")
        }
    }

    h.scenario("a sync session against a homeserver without MSC4094 (timed Date probes)") {
        let hs = try TestHomeserver(["--skew-ms", "4321.5", "--no-msc4094", "--uplink-ms", "2", "--downlink-ms", "2", "--seed", "12"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl))
        let session = try clock.startSync(nowBootMs: clock.bootMs())
        let report = try runBlocking { try await drive(session, clock: clock, urlSession: urlSession) }
        h.eq(SampleSource.dateHeader, report.source, "best sample from a Date header")
        h.check(!report.endpointSupported, "the missing endpoint is noticed")
        guard let e = clock.estimate() else { h.check(false, "estimate after the session"); return }
        let truth = try hs.trueServerMs()
        h.check(e.uncertaintyMs <= 100, "uncertainty \(e.uncertaintyMs) ms after \(report.requests) timed probes")
        h.check(abs(Double(e.serverNowMs) - truth) <= Double(e.uncertaintyMs + 2), "true server time \(truth) within \(e.serverNowMs) ± \(e.uncertaintyMs)")
    }

    h.scenario("a sync session refuses replies it did not ask for, and times from another clock") {
        let hs = try TestHomeserver(["--skew-ms", "0"])
        defer { hs.close() }
        let clock = try ServerClock(config: ClockConfig(homeserverUrl: hs.baseUrl))
        let wallMs = Int64(Date().timeIntervalSince1970 * 1000)
        let ahead = h.throwsError("a wall-clock time as nowBootMs") { try clock.startSync(nowBootMs: wallMs) }
        if case .TimeOutOfRange? = ahead as? MxClockError {} else {
            h.check(false, "expected TimeOutOfRange, got \(String(describing: ahead))")
        }
        let session = try clock.startSync(nowBootMs: clock.bootMs())
        guard case let .send(requestId, request) = try session.nextAction(nowBootMs: clock.bootMs()) else {
            h.check(false, "the first action sends a request")
            return
        }
        h.check(request.url.hasSuffix("/_matrix/client/v3/get_server_now"), "first request: the endpoint (\(request.url))")
        let now = clock.bootMs()
        let reply = HttpResponse(status: 200, headers: [HttpHeader(name: "Content-Type", value: "application/json")],
                                 body: Data("{\"server_now\": 1750000000000}".utf8))
        let unknown = h.throwsError("a reply for a request id it did not hand out") {
            try session.receiveResponse(requestId: requestId + 1000, sentBootMs: now, receivedBootMs: now, response: reply)
        }
        if case .InvalidArgument? = unknown as? MxClockError {} else {
            h.check(false, "expected InvalidArgument, got \(String(describing: unknown))")
        }
        let backwards = h.throwsError("a reply received before it was sent") {
            try session.receiveResponse(requestId: requestId, sentBootMs: now + 5, receivedBootMs: now, response: reply)
        }
        if case .TimeOutOfRange? = backwards as? MxClockError {} else {
            h.check(false, "expected TimeOutOfRange, got \(String(describing: backwards))")
        }
        try session.receiveFailure(requestId: requestId, sentBootMs: now, receivedBootMs: clock.bootMs(),
                                   error: .Network(reason: "connection reset by peer"))
        let failed = h.throwsError("the sync's failure, from nextAction") { try session.nextAction(nowBootMs: clock.bootMs()) }
        if case .Network? = failed as? MxClockError {} else {
            h.check(false, "expected Network, got \(String(describing: failed))")
        }
        h.check("\(String(describing: failed))".contains("connection reset"), "message: \(String(describing: failed))")
        h.check(try clock.sync().samplesTaken >= 1, "a sync after the failed session")
    }
}
