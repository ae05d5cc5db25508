// Entry point of the Kotlin binding tests (scripts/test-kotlin.sh).
//
// Every scenario group lives in its own file and is listed here.
//
// System properties (set by the script):
//   mxclock.expectedVersion  the crate version from Cargo.toml
//   mxclock.homeserver       path of the mxclock-test-homeserver binary
// Arguments:
//   --bench                  also print per-call costs (never asserted)
//   --bench-only             only those (experiments with JVM flags)
package org.mxclock.tests

import kotlin.system.exitProcess

fun main(args: Array<String>) {
    // Only the benchmark, for experiments with JVM flags (no closing line).
    if ("--bench-only" in args) return bench()
    val h = Harness()
    libraryScenarios(h)
    sampleScenarios(h)
    errorScenarios(h)
    timeSourceScenarios(h)
    threadScenarios(h)
    redactionScenarios(h)
    echoedTokenScenarios(h)
    clockScenarios(h)
    sessionScenarios(h)
    transportScenarios(h)
    expiryScenarios(h)
    ringScenarios(h)
    readersWhileSyncingScenario(h)
    companionScenarios(h)
    if ("--bench" in args) bench()
    println("kotlin: ${h.passed} passed, ${h.failed} failed")
    exitProcess(if (h.failed == 0 && h.passed > 0) 0 else 1)
}
