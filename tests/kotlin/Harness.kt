// A tiny test harness: no JUnit, so the tests need only kotlinc, the Kotlin
// stdlib and JNA. Scenarios are plain functions taking the Harness; each
// check counts as one pass or failure, and an exception escaping a scenario
// counts as one failure (with its stack trace) without stopping the run.
package org.mxclock.tests

class Harness {
    var passed = 0
        private set
    var failed = 0
        private set
    private var scenario = "?"

    fun scenario(name: String, body: () -> Unit) {
        scenario = name
        try {
            body()
        } catch (t: Throwable) {
            fail("escaped exception: $t")
            t.printStackTrace(System.out)
        }
    }

    fun check(condition: Boolean, what: String) {
        if (condition) passed++ else fail(what)
    }

    fun <T> eq(expected: T, actual: T, what: String) {
        check(expected == actual, "$what: expected <$expected>, got <$actual>")
    }

    /** Runs [body], which must throw an [E]; returns it for further checks. */
    inline fun <reified E : Throwable> throws(what: String, body: () -> Unit): E? {
        try {
            body()
        } catch (e: Throwable) {
            if (e is E) {
                check(true, what)
                return e
            }
            check(false, "$what: expected ${E::class.simpleName}, got $e")
            return null
        }
        check(false, "$what: expected ${E::class.simpleName}, nothing was thrown")
        return null
    }

    private fun fail(what: String) {
        failed++
        println("FAIL [$scenario] $what")
    }
}
