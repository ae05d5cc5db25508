/*
 * Threads: several threads read server time from one clock while two
 * others sync it (one in-flight burst shared); each thread keeps its own
 * last error message; clocks created and freed on many threads at once.
 * Uses the skewed loopback homeserver of scripts/test-c.sh with 25 ms
 * delays each way, so that the readers run while a sync waits on the
 * network.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxclock.h"
#include "test_util.h"

#define READERS 4
#define SYNCERS 2
#define SYNCS 6 /* per syncing thread */

static int64_t wall_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct reader_result {
    long ok;
    long ok_while_syncing; /* before the syncing threads were done */
    long not_synced;
    long unexpected;    /* any other status */
    long bad_expiry;    /* an expiry far from what the estimate says */
    long out_of_range;  /* a reading far from the known skew */
    long wrong_message; /* another thread's error message seen */
} reader_result;

typedef struct shared {
    const mxclock_server_clock *clock;
    int64_t skew_ms;
    atomic_bool stop;
    reader_result results[READERS];
    mxclock_status sync_status[SYNCERS][SYNCS];
} shared;

typedef struct arg {
    shared *s;
    int index;
} arg;

static void *reader(void *p) {
    arg *a = (arg *)p;
    shared *s = a->s;
    reader_result *r = &s->results[a->index];
    long after_stop = 0;
    /* Keep reading until told to stop, and then a little more, so that
     * every reader also reads the synced clock. */
    while (!atomic_load(&s->stop) || after_stop++ < 200) {
        int64_t now = 0, wall;
        mxclock_estimate e;
        mxclock_expiry x;
        mxclock_status st;
        wall = wall_now_ms();
        st = mxclock_server_now_ms(s->clock, &now);
        if (st == MXCLOCK_STATUS_OK) {
            r->ok++;
            if (!atomic_load(&s->stop)) {
                r->ok_while_syncing++;
            }
            /* 2 s of slack for being descheduled between the two reads
             * (valgrind); the skew itself is 120 s. */
            if (llabs((long long)(now - wall - s->skew_ms)) > 2000) {
                r->out_of_range++;
            }
            /* The estimate may be refined by a sync between the two calls
             * (by a few ms), and the thread may be descheduled: a minute's
             * deadline must still be about a minute away. */
            if (mxclock_get_estimate(s->clock, &e) != MXCLOCK_STATUS_OK ||
                mxclock_expiry_at(s->clock, e.server_now_ms + 60000, &x) != MXCLOCK_STATUS_OK) {
                r->unexpected++;
            } else if (x.remaining_ms > 60000 + 1000 || x.remaining_ms < 60000 - 5000 ||
                       x.state != MXCLOCK_EXPIRY_STATE_LIVE) {
                r->bad_expiry++;
            }
        } else if (st == MXCLOCK_STATUS_NOT_SYNCED) {
            r->not_synced++;
        } else {
            r->unexpected++;
        }
        /* This thread's own error, whatever the others are doing. */
        if (a->index % 2 == 0) {
            if (mxclock_server_now_ms(s->clock, NULL) != MXCLOCK_STATUS_NULL_ARGUMENT ||
                strstr(mxclock_last_error_message(), "`out_ms`") == NULL) {
                r->wrong_message++;
            }
        } else {
            if (mxclock_config_default(NULL) != MXCLOCK_STATUS_NULL_ARGUMENT ||
                strstr(mxclock_last_error_message(), "`out`") == NULL ||
                strstr(mxclock_last_error_message(), "`out_ms`") != NULL) {
                r->wrong_message++;
            }
        }
    }
    return NULL;
}

static void *syncer(void *p) {
    arg *a = (arg *)p;
    int i;
    for (i = 0; i < SYNCS; i++) {
        a->s->sync_status[a->index][i] = mxclock_sync(a->s->clock, NULL);
    }
    return NULL;
}

static void test_readers_while_syncing(void) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    shared s;
    pthread_t readers[READERS], syncers[SYNCERS];
    arg rargs[READERS], sargs[SYNCERS];
    const char *url = test_env("MXCLOCK_TEST_URL_SLOW");
    const char *skew = test_env("MXCLOCK_TEST_SKEW_MS");
    int i, j;
    if (url == NULL || skew == NULL) {
        return;
    }
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = url;
    CHECK_OK(mxclock_new(&c, &clock));
    memset(&s, 0, sizeof s);
    s.clock = clock;
    s.skew_ms = strtoll(skew, NULL, 10);
    atomic_store(&s.stop, false);
    for (i = 0; i < READERS; i++) {
        rargs[i].s = &s;
        rargs[i].index = i;
        CHECK(pthread_create(&readers[i], NULL, reader, &rargs[i]) == 0);
    }
    for (i = 0; i < SYNCERS; i++) {
        sargs[i].s = &s;
        sargs[i].index = i;
        CHECK(pthread_create(&syncers[i], NULL, syncer, &sargs[i]) == 0);
    }
    for (i = 0; i < SYNCERS; i++) {
        CHECK(pthread_join(syncers[i], NULL) == 0);
    }
    atomic_store(&s.stop, true);
    for (i = 0; i < READERS; i++) {
        CHECK(pthread_join(readers[i], NULL) == 0);
    }
    for (i = 0; i < SYNCERS; i++) {
        for (j = 0; j < SYNCS; j++) {
            if (s.sync_status[i][j] != MXCLOCK_STATUS_OK) {
                fprintf(stderr, "  sync %d/%d: %s\n", i, j, mxclock_status_name((int)s.sync_status[i][j]));
            }
            CHECK(s.sync_status[i][j] == MXCLOCK_STATUS_OK);
        }
    }
    {
        long total = 0;
        for (i = 0; i < READERS; i++) {
            total += s.results[i].ok_while_syncing;
        }
        /* Reads of the synced clock overlapped the later syncs. */
        printf("  %ld readings while syncs ran\n", total);
        CHECK(total > 0);
    }
    for (i = 0; i < READERS; i++) {
        reader_result *r = &s.results[i];
        printf("  reader %d: %ld ok, %ld not synced yet, %ld unexpected, %ld bad expiry, "
               "%ld out of range, %ld wrong message\n",
               i, r->ok, r->not_synced, r->unexpected, r->bad_expiry, r->out_of_range,
               r->wrong_message);
        CHECK(r->ok >= 200);
        CHECK(r->unexpected == 0);
        CHECK(r->bad_expiry == 0);
        CHECK(r->out_of_range == 0);
        CHECK(r->wrong_message == 0);
    }
    mxclock_free(clock);
}

static void *lifecycle(void *p) {
    long *failures = (long *)p;
    int i;
    for (i = 0; i < 100; i++) {
        mxclock_config c;
        mxclock_server_clock *clock = NULL;
        char *json = NULL;
        int64_t now;
        if (mxclock_config_default(&c) != MXCLOCK_STATUS_OK ||
            mxclock_new(&c, &clock) != MXCLOCK_STATUS_OK ||
            mxclock_add_endpoint_sample(clock, 1000, 1010, INT64_C(1700000000000), NULL) != MXCLOCK_STATUS_OK ||
            mxclock_server_now_ms(clock, &now) != MXCLOCK_STATUS_OK ||
            mxclock_export_state(clock, &json) != MXCLOCK_STATUS_OK) {
            (*failures)++;
        }
        mxclock_string_free(json);
        mxclock_free(clock);
    }
    return NULL;
}

static void test_clocks_on_many_threads(void) {
    pthread_t threads[8];
    long failures[8] = {0};
    int i;
    for (i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, lifecycle, &failures[i]) == 0);
    }
    for (i = 0; i < 8; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(failures[i] == 0);
    }
}

int main(void) {
    RUN(test_readers_while_syncing);
    RUN(test_clocks_on_many_threads);
    return finish("test_threads");
}
