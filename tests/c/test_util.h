/*
 * Minimal test harness for the mxclock C tests: each test is a function;
 * CHECK marks the running test failed (and goes on); every test prints
 * "PASS name" or "FAIL name", and the program ends with
 * "<program>: N passed, M failed" and a non-zero exit on any failure.
 * scripts/test-c.sh counts the PASS/FAIL lines.
 */
#ifndef MXCLOCK_TEST_UTIL_H
#define MXCLOCK_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxclock.h"

static int t_case_failed;
static int t_passed;
static int t_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, mxclock_last_error_message());                   \
            t_case_failed = 1;                                                        \
        }                                                                             \
    } while (0)

/* The call must return `expected`; on a mismatch both names are printed. */
#define CHECK_STATUS(call, expected)                                                \
    do {                                                                            \
        mxclock_status s_ = (call);                                                 \
        if (s_ != (expected)) {                                                     \
            fprintf(stderr, "  %s:%d: %s returned %s, expected %s (last error: %s)\n", \
                    __FILE__, __LINE__, #call, mxclock_status_name((int)s_),        \
                    mxclock_status_name((int)(expected)), mxclock_last_error_message()); \
            t_case_failed = 1;                                                      \
        }                                                                           \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, MXCLOCK_STATUS_OK)

/* The last error message must contain `needle`. */
#define CHECK_MESSAGE_HAS(needle)                                                  \
    do {                                                                           \
        const char *m_ = mxclock_last_error_message();                             \
        if (m_ == NULL || strstr(m_, (needle)) == NULL) {                          \
            fprintf(stderr, "  %s:%d: last error %s lacks \"%s\"\n", __FILE__,     \
                    __LINE__, m_ ? m_ : "(NULL)", (needle));                       \
            t_case_failed = 1;                                                     \
        }                                                                          \
    } while (0)

#define CHECK_I64_NEAR(a, b, tol)                                                     \
    do {                                                                              \
        int64_t a_ = (a), b_ = (b), t_ = (tol);                                       \
        if (llabs((long long)(a_ - b_)) > t_) {                                       \
            fprintf(stderr, "  %s:%d: %s = %lld not within %lld of %s = %lld\n",      \
                    __FILE__, __LINE__, #a, (long long)a_, (long long)t_, #b,         \
                    (long long)b_);                                                   \
            t_case_failed = 1;                                                        \
        }                                                                             \
    } while (0)

#define RUN(fn) run_case(#fn, fn)

static inline void run_case(const char *name, void (*fn)(void)) {
    t_case_failed = 0;
    fn();
    if (t_case_failed) {
        t_failed++;
        printf("FAIL %s\n", name);
    } else {
        t_passed++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

static inline int finish(const char *program) {
    printf("%s: %d passed, %d failed\n", program, t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}

/* A required environment variable (set by scripts/test-c.sh); missing is a
 * failure of the calling test, never a silent skip. */
static inline const char *test_env(const char *name) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "  environment variable %s is not set: run via scripts/test-c.sh\n", name);
        t_case_failed = 1;
        return NULL;
    }
    return v;
}

#endif
