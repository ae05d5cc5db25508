// Entry point of the Swift binding tests (scripts/test-swift.sh), the same
// scenarios as tests/kotlin.
//
// Environment (set by the script):
//   MXCLOCK_EXPECTED_VERSION  the crate version from Cargo.toml
//   MXCLOCK_HOMESERVER        path of the mxclock-test-homeserver binary
// Arguments:
//   --bench                   also print per-call costs (never asserted)
import Foundation
import MxClock

let harness = Harness()
libraryScenarios(harness)
sampleScenarios(harness)
errorScenarios(harness)
timeSourceScenarios(harness)
threadScenarios(harness)
redactionScenarios(harness)
echoedTokenScenarios(harness)
clockScenarios(harness)
sessionScenarios(harness)
transportScenarios(harness)
expiryScenarios(harness)
ringScenarios(harness)
readersWhileSyncingScenario(harness)
companionScenarios(harness)
if CommandLine.arguments.contains("--bench") {
    bench()
}
print("swift: \(harness.passed) passed, \(harness.failed) failed")
exit(harness.failed == 0 && harness.passed > 0 ? 0 : 1)
