/*
 * A C time source for deterministic tests: boot and wall clocks that move
 * only when the test says so, and a settable boot id. Atomic, so that
 * reader threads may call it while a test advances it.
 */
#ifndef MXCLOCK_FAKE_TIME_H
#define MXCLOCK_FAKE_TIME_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mxclock.h"

typedef struct fake_time {
    _Atomic int64_t boot_ms;
    _Atomic int64_t wall_ms;
    char boot_id[64];
    _Atomic int boot_id_calls;
} fake_time;

static inline int64_t fake_boot_ms(void *userdata) {
    return atomic_load(&((fake_time *)userdata)->boot_ms);
}

static inline int64_t fake_wall_ms(void *userdata) {
    return atomic_load(&((fake_time *)userdata)->wall_ms);
}

static inline void fake_boot_id(void *userdata, char *buf, size_t buf_len) {
    fake_time *t = (fake_time *)userdata;
    atomic_fetch_add(&t->boot_id_calls, 1);
    snprintf(buf, buf_len, "%s", t->boot_id);
}

static inline void fake_init(fake_time *t, int64_t boot_ms, int64_t wall_ms, const char *boot_id) {
    atomic_store(&t->boot_ms, boot_ms);
    atomic_store(&t->wall_ms, wall_ms);
    snprintf(t->boot_id, sizeof t->boot_id, "%s", boot_id);
    atomic_store(&t->boot_id_calls, 0);
}

/* Both clocks move forward together, as they do when time passes. */
static inline void fake_advance(fake_time *t, int64_t ms) {
    atomic_fetch_add(&t->boot_ms, ms);
    atomic_fetch_add(&t->wall_ms, ms);
}

static inline mxclock_time_source fake_source(fake_time *t) {
    mxclock_time_source s;
    s.userdata = t;
    s.boot_ms = fake_boot_ms;
    s.wall_ms = fake_wall_ms;
    s.boot_id = fake_boot_id;
    return s;
}

#endif
