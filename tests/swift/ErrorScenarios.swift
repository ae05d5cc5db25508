import Foundation
import MxClock

func errorScenarios(_ h: Harness) {
    h.scenario("Rust errors surface as MxClockError with a readable message") {
        let reversed = h.throwsError("reply before request") {
            try sampleFromEndpoint(sentBootMs: 10, receivedBootMs: 9, serverMs: testServerMs)
        }
        if case .InvalidArgument(let message)? = reversed as? MxClockError {
            h.check(message.contains("before the request was sent"), "message says what went wrong: \(message)")
        } else {
            h.check(false, "expected MxClockError.InvalidArgument, got \(String(describing: reversed))")
        }

        let epoch = h.throwsError("server time of 1970") {
            try sampleFromEndpoint(sentBootMs: 0, receivedBootMs: 10, serverMs: 0)
        }
        if case .TimeOutOfRange(let message)? = epoch as? MxClockError {
            h.check(message.contains("between the years 2000 and 2200"), "message names the sane window: \(message)")
        } else {
            h.check(false, "expected MxClockError.TimeOutOfRange, got \(String(describing: epoch))")
        }

        let age = h.throwsError("negative Age header") {
            try sampleFromDateHeader(sentBootMs: 0, receivedBootMs: 10, dateUnixS: testServerMs / 1000, ageS: -1)
        }
        if case .ProtocolViolation(let message)? = age as? MxClockError {
            h.check(message.contains("Age header"), "message names the header: \(message)")
        } else {
            h.check(false, "expected MxClockError.ProtocolViolation, got \(String(describing: age))")
        }

        // Apps catch the family, or any Error, and can show it.
        do {
            _ = try sampleFromEventAge(originServerTs: testServerMs, ageMs: -5, receivedBootMs: 0, maxTransitMs: 500)
            h.check(false, "negative age: nothing was thrown")
        } catch let e as MxClockError {
            h.check(!(e.localizedDescription.isEmpty), "localizedDescription is not empty")
        } catch {
            h.check(false, "negative age: expected MxClockError, got \(error)")
        }

        // An error leaves nothing broken behind.
        let next = try sampleFromEndpoint(sentBootMs: 0, receivedBootMs: 10, serverMs: testServerMs)
        h.eq(testServerMs - 10 - 1, next.loMs, "the next call works")
    }
}
