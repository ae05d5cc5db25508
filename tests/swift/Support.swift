// Test doubles and helpers shared by the scenarios (twin of
// tests/kotlin/Support.kt).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MxClock

/// A Swift clock the Rust core reads through the TimeSource foreign trait.
final class SwiftTime: TimeSource, @unchecked Sendable {
    private let lock = NSLock()
    private var boot: Int64
    private var wall: Int64
    private var id: String
    private var count = 0

    init(bootMs: Int64, wallMs: Int64, bootId: String = "swift-boot") {
        boot = bootMs
        wall = wallMs
        id = bootId
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func bootMs() -> Int64 { return locked { count += 1; return boot } }
    func wallMs() -> Int64 { return locked { count += 1; return wall } }
    func bootId() -> String { return locked { count += 1; return id } }

    func advance(_ ms: Int64) { locked { boot += ms; wall += ms } }
    func jumpWall(_ deltaMs: Int64) { locked { wall += deltaMs } }
    var peekBootMs: Int64 { return locked { boot } }
    var peekWallMs: Int64 { return locked { wall } }
    var calls: Int { return locked { count } }
}

/// Mutable state shared with closures that run on other threads (URLSession
/// and Dispatch take `@Sendable` closures, which may not mutate captured
/// variables).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    @discardableResult
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }

    var current: Value {
        return withLock { $0 }
    }
}

/// `Date` header text (IMF-fixdate) for a Unix time in ms.
func httpDate(_ unixMs: Int64) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return f.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
}

/// GET `url` and return the body as a string (test routes only).
func httpGetString(_ url: String) throws -> String {
    guard let u = URL(string: url) else { throw TestSetupError(description: "bad URL \(url)") }
    let done = DispatchSemaphore(value: 0)
    let result = Locked<(body: String?, failure: String?)>((nil, nil))
    let task = URLSession.shared.dataTask(with: u) { data, _, error in
        let body = data.flatMap { String(data: $0, encoding: .utf8) }
        result.withLock { $0 = (body, error.map { "\($0)" }) }
        done.signal()
    }
    task.resume()
    if done.wait(timeout: .now() + 5) == .timedOut { throw TestSetupError(description: "GET \(url) timed out") }
    let (body, failure) = result.current
    if let failure = failure { throw TestSetupError(description: "GET \(url): \(failure)") }
    return body ?? ""
}

/// The loopback test homeserver binary (path in MXCLOCK_HOMESERVER) as a
/// child process. It prints `{"base_url":...}` and serves until stdin closes.
final class TestHomeserver {
    private let process = Process()
    private let stdin = Pipe()
    let baseUrl: String

    init(_ args: [String]) throws {
        guard let binary = ProcessInfo.processInfo.environment["MXCLOCK_HOMESERVER"] else {
            throw TestSetupError(description: "MXCLOCK_HOMESERVER (path of mxclock-test-homeserver) is not set")
        }
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = args
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(data: line, encoding: .utf8) ?? ""
        guard let start = text.range(of: "\"base_url\":\""),
              let end = text[start.upperBound...].firstIndex(of: "\"") else {
            throw TestSetupError(description: "no base_url in \(text)")
        }
        baseUrl = String(text[start.upperBound..<end])
    }

    private func number(_ json: String, _ key: String) throws -> Double {
        guard let r = json.range(of: "\"\(key)\":") else { throw TestSetupError(description: "no \(key) in \(json)") }
        let digits = json[r.upperBound...].prefix { "0123456789.-+eE".contains($0) }
        guard let value = Double(digits) else { throw TestSetupError(description: "bad \(key) in \(json)") }
        return value
    }

    /// The server's true clock, through the test-only route (not delayed).
    func trueServerMs() throws -> Double {
        return try number(httpGetString(baseUrl + "/_test/true_server_ms"), "true_server_ms")
    }

    /// Requests the MSC4094 endpoint has seen.
    func timeEndpointRequests() throws -> Int64 {
        return Int64(try number(httpGetString(baseUrl + "/_test/request_count"), "time_endpoint"))
    }

    func close() {
        stdin.fileHandleForWriting.closeFile() // EOF: the server exits
        process.waitUntilExit()
    }
}

/// A policy for tests that must not wait long.
func quickPolicy() -> SyncPolicy {
    return SyncPolicy(maxSamplesPerSync: 2, dateProbeBudget: 2)
}
