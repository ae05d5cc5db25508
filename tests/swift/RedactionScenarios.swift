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
