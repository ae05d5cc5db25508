// The access token must never appear in anything an app might log: records
// that can carry it print through Rust's redacting Debug (twin of
// tests/kotlin/RedactionScenarios.kt).
import Foundation
import MxClock

func redactionScenarios(_ h: Harness) {
    h.scenario("the access token never shows in descriptions") {
        let token = "syt_redaction_canary_42"
        let config = ClockConfig(homeserverUrl: "https://matrix.example.org", accessToken: token)
        // Messages never print the value under test, in case it leaks.
        h.check(!String(describing: config).contains(token), "String(describing: ClockConfig) contains the token")
        h.check(!String(reflecting: config).contains(token), "String(reflecting: ClockConfig) contains the token")
        h.check(!"\(config)".contains(token), "interpolating a ClockConfig prints the token")
        h.check(String(reflecting: config).contains("matrix.example.org"), "the description still says something useful")
        let header = HttpHeader(name: "Authorization", value: "Bearer \(token)")
        h.check(!String(describing: header).contains(token), "HttpHeader description contains the token")
        let request = HttpRequest(url: "https://matrix.example.org/_matrix/client/v3/get_server_now", headers: [header], timeoutMs: 1_000)
        h.check(!String(describing: request).contains(token), "HttpRequest description contains the token")
        h.eq(token, config.accessToken, "the token itself is still there for the transport")
    }
}

/// `text` with `%XX`, `\uXXXX` and `\/` decoded, lower-cased: what a reader
/// of a message could turn back into the token.
private func decodedLower(_ text: String) -> String {
    let chars = Array(text.unicodeScalars)
    func hex(_ from: Int, _ len: Int) -> UInt32? {
        guard from + len <= chars.count else { return nil }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: chars[from..<from + len])
        let s = String(view)
        guard s.allSatisfy({ $0.isHexDigit }) else { return nil }
        return UInt32(s, radix: 16)
    }
    var out = String.UnicodeScalarView()
    var i = 0
    while i < chars.count {
        if chars[i] == "%", let v = hex(i + 1, 2), let c = Unicode.Scalar(v) {
            out.append(c)
            i += 3
        } else if chars[i] == "\\", i + 1 < chars.count, chars[i + 1] == "u", let v = hex(i + 2, 4), let c = Unicode.Scalar(v) {
            out.append(c)
            i += 6
        } else if chars[i] == "\\", i + 1 < chars.count, chars[i + 1] == "/" {
            out.append("/")
            i += 2
        } else {
            out.append(chars[i])
            i += 1
        }
    }
    return String(out).lowercased()
}

/// The first 8-character piece of `token` that `text` holds in any spelling.
private func leakedPiece(_ token: String, _ text: String) -> String? {
    let plain = decodedLower(text)
    let lower = Array(token.lowercased())
    for i in 0...(lower.count - 8) {
        let piece = String(lower[i..<i + 8])
        if plain.contains(piece) { return piece }
    }
    return nil
}

/// A transport (as an app might write on URLSession) that echoes the token
/// it was sent, percent-encoded or JSON-escaped, in one of four places.
private final class EchoingTransport: HttpTransport, @unchecked Sendable {
    let place: Int
    init(place: Int) { self.place = place }

    func get(request: HttpRequest) throws -> HttpResponse {
        let auth = request.headers.first { $0.name == "Authorization" }?.value ?? ""
        let token = String(auth.dropFirst("Bearer ".count))
        let percent = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let json = token.unicodeScalars.map { c -> String in
            if CharacterSet.alphanumerics.contains(c) { return String(c) }
            if c == "/" { return "\\/" }
            return String(format: "\\u%04x", c.value)
        }.joined()
        switch place {
        case 0: throw TransportTestError(description: "unexpected end of stream, sent \(percent)")
        case 1: throw TransportError.Network(reason: "refused \(percent.lowercased())")
        case 2:
            return HttpResponse(status: 403, headers: [], body: Data("{\"errcode\":\"M_FORBIDDEN\",\"error\":\"not for \(json)\"}".utf8))
        default:
            return HttpResponse(status: 302, headers: [HttpHeader(name: "Location", value: "https://\(percent).evil.example/")], body: Data())
        }
    }
}

func echoedTokenScenarios(_ h: Harness) {
    h.scenario("a token echoed in another spelling never reaches an error") {
        let token = "syt+sw1ft/EchoSecret+0123=="
        for place in 0...3 {
            let config = ClockConfig(homeserverUrl: "https://matrix.example.org", accessToken: token)
            let time = SwiftTime(bootMs: 50_000, wallMs: 1_700_000_000_000)
            let clock = try ServerClock.newWithSources(config: config, timeSource: time, transport: EchoingTransport(place: place))
            let e = h.throwsError("sync with echo \(place)") { try clock.sync() }
            // The message is not printed: it might hold the token.
            let message = String(describing: e)
            h.check(e is MxClockError, "echo \(place): an MxClockError")
            h.eq(nil as String?, leakedPiece(token, message), "echo \(place): no piece of the token in the message")
            // A Location whose host is not a host name is not quoted at all.
            if place < 3 {
                h.check(message.contains("<redacted>"), "echo \(place): the echo was redacted, not dropped")
            }
        }
    }
}
