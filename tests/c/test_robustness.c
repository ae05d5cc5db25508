/*
 * Hostile input through the C ABI: the repository's corpus of bad event
 * JSON, every fixture as saved state, and extreme integers in every
 * numeric argument and from the time source. Each call must return a
 * typed status (never MXCLOCK_STATUS_PANIC, never a crash); under ASan and
 * valgrind, no invalid access or leak either. Run from the repository root
 * (scripts/test-c.sh does).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_time.h"
#include "mxclock.h"
#include "test_util.h"

#define EVENTS_DIR "tests/data/events"
#define BAD_DIR EVENTS_DIR "/bad"

/* The file's bytes, NUL-terminated (NULL on failure). */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)len + 1);
    if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL) {
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

static mxclock_server_clock *synced_fake_clock(fake_time *t) {
    mxclock_config c;
    mxclock_time_source src;
    mxclock_server_clock *clock = NULL;
    fake_init(t, 5000, INT64_C(1700000000000), "boot-1");
    src = fake_source(t);
    CHECK_OK(mxclock_config_default(&c));
    CHECK_OK(mxclock_new_with_sources(&c, &src, NULL, &clock));
    fake_advance(t, 40);
    CHECK_OK(mxclock_add_endpoint_sample(clock, 5000, 5040, INT64_C(1700000000000), NULL));
    return clock;
}

/* Calls `fn` for every .json file of `dir`; returns how many. */
static int each_json(const char *dir, void (*fn)(const char *path, const char *json, void *), void *ctx) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL) {
        fprintf(stderr, "  cannot open %s (run from the repository root)\n", dir);
        t_case_failed = 1;
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        char path[512];
        char *json;
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json = read_file(path);
        CHECK(json != NULL);
        if (json != NULL) {
            fn(path, json, ctx);
            n++;
            free(json);
        }
    }
    closedir(d);
    return n;
}

static void bad_event(const char *path, const char *json, void *ctx) {
    const mxclock_server_clock *clock = (const mxclock_server_clock *)ctx;
    mxclock_event_expiry ev;
    mxclock_event_outcomes outs;
    mxclock_status s = mxclock_evaluate_event_json(clock, json, true, 5040, &ev);
    if (s != MXCLOCK_STATUS_INVALID_EVENT && s != MXCLOCK_STATUS_NO_EXPIRY_RULE &&
        s != MXCLOCK_STATUS_INVALID_UTF8) {
        fprintf(stderr, "  %s: evaluate_event_json gave %s\n", path, mxclock_status_name((int)s));
        t_case_failed = 1;
    }
    /* The same bytes as a batch: an error outcome or a typed failure. */
    s = mxclock_evaluate_events_json(clock, json, false, 0, &outs);
    if (s == MXCLOCK_STATUS_OK) {
        size_t i;
        for (i = 0; i < outs.len; i++) {
            CHECK(outs.items[i].status == MXCLOCK_STATUS_OK ||
                  (outs.items[i].error_message != NULL && outs.items[i].error_path != NULL));
        }
        mxclock_event_outcomes_free(&outs);
    } else if (s == MXCLOCK_STATUS_PANIC || s == MXCLOCK_STATUS_INTERNAL) {
        fprintf(stderr, "  %s: evaluate_events_json gave %s\n", path, mxclock_status_name((int)s));
        t_case_failed = 1;
    }
}

static void not_state(const char *path, const char *json, void *ctx) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    mxclock_status s;
    (void)ctx;
    CHECK_OK(mxclock_config_default(&c));
    s = mxclock_restore(&c, json, &clock);
    if (s != MXCLOCK_STATUS_INVALID_STATE && s != MXCLOCK_STATUS_INVALID_UTF8) {
        fprintf(stderr, "  %s: restore gave %s\n", path, mxclock_status_name((int)s));
        t_case_failed = 1;
    }
    CHECK(clock == NULL);
}

static void good_event(const char *path, const char *json, void *ctx) {
    const mxclock_server_clock *clock = (const mxclock_server_clock *)ctx;
    mxclock_event_expiry ev;
    mxclock_event_outcomes outs;
    if (json[strspn(json, " \t\r\n")] == '[') {
        CHECK_OK(mxclock_evaluate_events_json(clock, json, true, 5040, &outs));
        CHECK(outs.len > 0);
        mxclock_event_outcomes_free(&outs);
    } else if (mxclock_evaluate_event_json(clock, json, true, 5040, &ev) != MXCLOCK_STATUS_OK) {
        fprintf(stderr, "  %s: %s\n", path, mxclock_last_error_message());
        t_case_failed = 1;
    }
}

static void test_bad_event_corpus(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_fake_clock(&t);
    int n = each_json(BAD_DIR, bad_event, clock);
    printf("  %d bad events\n", n);
    CHECK(n >= 20);
    mxclock_free(clock);
}

static void test_good_events(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_fake_clock(&t);
    int n = each_json(EVENTS_DIR, good_event, clock);
    printf("  %d fixtures\n", n);
    CHECK(n >= 10);
    mxclock_free(clock);
}

static void test_events_are_not_state(void) {
    int n = each_json(BAD_DIR, not_state, NULL) + each_json(EVENTS_DIR, not_state, NULL);
    CHECK(n >= 30);
}

static const int64_t EXTREMES[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
#define N_EXTREMES (sizeof EXTREMES / sizeof EXTREMES[0])

/* No call may panic (or report an internal error) whatever the numbers. */
#define CHECK_TYPED(call)                                                          \
    do {                                                                           \
        mxclock_status s_ = (call);                                                \
        if (s_ == MXCLOCK_STATUS_PANIC || s_ == MXCLOCK_STATUS_INTERNAL) {         \
            fprintf(stderr, "  %s:%d: %s gave %s: %s\n", __FILE__, __LINE__, #call, \
                    mxclock_status_name((int)s_), mxclock_last_error_message());   \
            t_case_failed = 1;                                                     \
        }                                                                          \
    } while (0)

static void test_extreme_arguments(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_fake_clock(&t);
    size_t i, j, k;
    int64_t ms;
    mxclock_estimate e;
    mxclock_expiry x;
    mxclock_sample s;
    for (i = 0; i < N_EXTREMES; i++) {
        int64_t a = EXTREMES[i];
        CHECK_TYPED(mxclock_server_ms_to_boot_ms(clock, a, &ms));
        CHECK_TYPED(mxclock_boot_ms_to_server_ms(clock, a, &ms));
        CHECK_TYPED(mxclock_server_ms_to_wall_ms(clock, a, &ms));
        CHECK_TYPED(mxclock_wall_ms_to_server_ms(clock, a, &ms));
        CHECK_TYPED(mxclock_server_ms_after(clock, a, &ms));
        CHECK_TYPED(mxclock_expiry_at(clock, a, &x));
        for (j = 0; j < N_EXTREMES; j++) {
            int64_t b = EXTREMES[j];
            CHECK_TYPED(mxclock_add_date_sample(clock, a, b, a, true, b, &e));
            CHECK_TYPED(mxclock_observe_event(clock, a, b, a, &e));
            s.source = MXCLOCK_SAMPLE_SOURCE_ENDPOINT;
            s.lo_ms = a;
            s.hi_ms = b;
            s.taken_boot_ms = a;
            CHECK_TYPED(mxclock_add_sample(clock, &s, &e));
            for (k = 0; k < N_EXTREMES; k++) {
                CHECK_TYPED(mxclock_add_endpoint_sample(clock, a, b, EXTREMES[k], &e));
            }
        }
    }
    CHECK_TYPED(mxclock_get_estimate(clock, &e));
    CHECK_TYPED(mxclock_next_sync_due_in_ms(clock, &ms));
    mxclock_free(clock);
}

static void test_extreme_time_source(void) {
    size_t i, j;
    for (i = 0; i < N_EXTREMES; i++) {
        for (j = 0; j < N_EXTREMES; j++) {
            fake_time t;
            mxclock_config c;
            mxclock_time_source src;
            mxclock_server_clock *clock = NULL;
            mxclock_estimate e;
            mxclock_sync_reason reason;
            bool has_reason;
            mxclock_expiry x;
            char *json = NULL;
            int64_t ms;
            fake_init(&t, EXTREMES[i], EXTREMES[j], "boot-x");
            src = fake_source(&t);
            CHECK_OK(mxclock_config_default(&c));
            CHECK_TYPED(mxclock_new_with_sources(&c, &src, NULL, &clock));
            if (clock == NULL) {
                continue;
            }
            CHECK_TYPED(mxclock_add_endpoint_sample(clock, EXTREMES[i], EXTREMES[i],
                                                    INT64_C(1700000000000), &e));
            CHECK_TYPED(mxclock_server_now_ms(clock, &ms));
            CHECK_TYPED(mxclock_get_estimate(clock, &e));
            CHECK_TYPED(mxclock_expiry_at(clock, INT64_C(1700000000000), &x));
            CHECK_TYPED(mxclock_get_sync_reason(clock, &has_reason, &reason));
            CHECK_TYPED(mxclock_next_sync_due_in_ms(clock, &ms));
            CHECK_TYPED(mxclock_export_state(clock, &json));
            if (json != NULL) {
                mxclock_server_clock *restored = NULL;
                CHECK_TYPED(mxclock_restore_with_sources(&c, json, &src, NULL, &restored));
                mxclock_free(restored);
                mxclock_string_free(json);
            }
            mxclock_free(clock);
        }
    }
}

int main(void) {
    RUN(test_bad_event_corpus);
    RUN(test_good_events);
    RUN(test_events_are_not_state);
    RUN(test_extreme_arguments);
    RUN(test_extreme_time_source);
    return finish("test_robustness");
}
