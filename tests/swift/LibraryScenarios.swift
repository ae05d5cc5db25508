import Foundation
import MxClock

func libraryScenarios(_ h: Harness) {
    h.scenario("library") {
        // The loaded native library is the one built from this checkout.
        let expected = ProcessInfo.processInfo.environment["MXCLOCK_EXPECTED_VERSION"] ?? ""
        h.check(!expected.isEmpty, "MXCLOCK_EXPECTED_VERSION is set")
        h.eq(expected, version(), "version() of the loaded library")
    }
}
