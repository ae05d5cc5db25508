// A tiny test harness, the Swift twin of tests/kotlin/Harness.kt: each check
// counts as one pass or failure; an error escaping a scenario counts as one
// failure without stopping the run.
import Foundation

/// A server time well past 2^32 ms, so a truncated Int64 would show.
let testServerMs: Int64 = 1_750_000_000_123
/// Latest server time the core believes (2200-01-01), see src/sample.rs.
let maxSaneServerMs: Int64 = 7_258_118_400_000

final class Harness {
    private(set) var passed = 0
    private(set) var failed = 0
    private var current = "?"

    func scenario(_ name: String, _ body: () throws -> Void) {
        current = name
        do {
            try body()
        } catch {
            fail("escaped error: \(error)")
        }
    }

    func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        if condition {
            passed += 1
        } else {
            fail(what())
        }
    }

    func eq<T: Equatable>(_ expected: T, _ actual: T, _ what: String) {
        check(expected == actual, "\(what): expected <\(expected)>, got <\(actual)>")
    }

    /// Runs `body`, which must throw; returns what it threw.
    func throwsError<T>(_ what: String, _ body: () throws -> T) -> Error? {
        do {
            _ = try body()
        } catch {
            check(true, what)
            return error
        }
        check(false, "\(what): nothing was thrown")
        return nil
    }

    private func fail(_ what: String) {
        failed += 1
        print("FAIL [\(current)] \(what)")
    }
}
