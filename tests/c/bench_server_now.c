/*
 * Cost of mxclock_server_now_ms from C, next to a bare
 * clock_gettime(CLOCK_BOOTTIME) (the boot-clock read inside it), measured
 * in the same run. Usage: bench_server_now [iterations] (default 20e6).
 * Prints key=value lines for scripts/bench-ffi.sh.
 */
#define _GNU_SOURCE /* CLOCK_BOOTTIME */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mxclock.h"

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t boot_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    long long iterations = argc > 1 ? atoll(argv[1]) : 20000000LL;
    mxclock_config config;
    mxclock_server_clock *clock = NULL;
    int64_t sent, received, out = 0, t0, t1, t2;
    volatile int64_t sink = 0; /* keeps the loops from being optimised away */
    long long i;
    int round;
    double best_ffi = 1e30, best_gettime = 1e30;

    if (iterations <= 0) {
        fprintf(stderr, "iterations must be positive\n");
        return 2;
    }
    if (mxclock_config_default(&config) != MXCLOCK_STATUS_OK ||
        mxclock_new(&config, &clock) != MXCLOCK_STATUS_OK) {
        fprintf(stderr, "mxclock_new: %s\n", mxclock_last_error_message());
        return 1;
    }
    /* Synced on an app-fed sample: server time = this machine's clock. */
    sent = boot_ms();
    received = boot_ms();
    if (mxclock_add_endpoint_sample(clock, sent, received, wall_ms(), NULL) != MXCLOCK_STATUS_OK) {
        fprintf(stderr, "add_endpoint_sample: %s\n", mxclock_last_error_message());
        return 1;
    }
    /* Best of 5 interleaved rounds: the least disturbed by other load. */
    for (round = 0; round < 5; round++) {
        t0 = mono_ns();
        for (i = 0; i < iterations; i++) {
            if (mxclock_server_now_ms(clock, &out) != MXCLOCK_STATUS_OK) {
                fprintf(stderr, "server_now_ms: %s\n", mxclock_last_error_message());
                return 1;
            }
            sink += out;
        }
        t1 = mono_ns();
        for (i = 0; i < iterations; i++) {
            sink += boot_ms();
        }
        t2 = mono_ns();
        if ((double)(t1 - t0) / iterations < best_ffi) {
            best_ffi = (double)(t1 - t0) / iterations;
        }
        if ((double)(t2 - t1) / iterations < best_gettime) {
            best_gettime = (double)(t2 - t1) / iterations;
        }
    }
    printf("iterations=%lld\n", iterations);
    printf("c_server_now_ms_ns=%.2f\n", best_ffi);
    printf("c_clock_gettime_boottime_ns=%.2f\n", best_gettime);
    printf("checksum=%" PRId64 "\n", (int64_t)(sink & 0xff));
    mxclock_free(clock);
    return 0;
}
