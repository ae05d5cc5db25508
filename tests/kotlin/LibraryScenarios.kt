package org.mxclock.tests

import org.mxclock.version

fun libraryScenarios(h: Harness) = h.scenario("library") {
    // The loaded native library is the one built from this checkout: the
    // script passes the version from Cargo.toml.
    val expected = System.getProperty("mxclock.expectedVersion")
    h.check(!expected.isNullOrEmpty(), "mxclock.expectedVersion system property is set")
    h.eq(expected, version(), "version() of the loaded library")
}
