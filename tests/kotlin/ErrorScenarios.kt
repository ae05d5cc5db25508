package org.mxclock.tests

import org.mxclock.MxClockException
import org.mxclock.sampleFromDateHeader
import org.mxclock.sampleFromEndpoint
import org.mxclock.sampleFromEventAge

private const val T = 1_750_000_000_123L

fun errorScenarios(h: Harness) {
    h.scenario("Rust errors surface as MxClockException with a readable message") {
        val reversed = h.throws<MxClockException.InvalidArgument>("reply before request") {
            sampleFromEndpoint(10, 9, T)
        }
        h.check(
            reversed?.message?.contains("before the request was sent") == true,
            "message says what went wrong: ${reversed?.message}",
        )

        val epoch = h.throws<MxClockException.TimeOutOfRange>("server time of 1970") {
            sampleFromEndpoint(0, 10, 0)
        }
        h.check(
            epoch?.message?.contains("between the years 2000 and 2200") == true,
            "message names the sane window: ${epoch?.message}",
        )

        val age = h.throws<MxClockException.ProtocolViolation>("negative Age header") {
            sampleFromDateHeader(0, 10, T / 1000, -1)
        }
        h.check(age?.message?.contains("Age header") == true, "message names the header: ${age?.message}")

        // Apps catch the family or plain kotlin.Exception.
        h.throws<MxClockException>("caught as the base class") { sampleFromEventAge(T, -5, 0, 500) }
        h.throws<Exception>("caught as kotlin.Exception") { sampleFromEventAge(Long.MAX_VALUE, 1, 0, 500) }

        // An error leaves nothing broken behind.
        h.eq(T - 10 - 1, sampleFromEndpoint(0, 10, T).loMs, "the next call works")
    }
}
