/*
 * Syncing over HTTP against the loopback test homeserver
 * (tests/homeserver), started by scripts/test-c.sh with a known clock skew
 * and faults; URLs come in environment variables. Also a port nobody
 * listens on, opened and closed here.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mxclock.h"
#include "test_util.h"

static const char *TOKEN = "syt_c_sync_secret_token_42";

static int64_t wall_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t skew_ms(void) {
    const char *s = test_env("MXCLOCK_TEST_SKEW_MS");
    return s ? strtoll(s, NULL, 10) : 0;
}

/* A clock for the server whose URL is in `env` (NULL clock on failure). */
static mxclock_server_clock *clock_for(const char *env, uint64_t timeout_ms, int64_t min_sync_interval_ms) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    const char *url = test_env(env);
    if (url == NULL) {
        return NULL;
    }
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = url;
    c.access_token = TOKEN;
    c.request_timeout_ms = timeout_ms;
    c.policy.date_probe_budget = 4;
    c.policy.min_sync_interval_ms = min_sync_interval_ms;
    CHECK_OK(mxclock_new(&c, &clock));
    return clock;
}

static void check_no_token_in_message(void) {
    CHECK(strstr(mxclock_last_error_message(), TOKEN) == NULL);
    CHECK(strstr(mxclock_last_error_message(), "c_sync_secret") == NULL);
}

/* The estimate agrees with the server's known skew: the true offset lies
 * within the uncertainty (+2 ms for whole-ms rounding of the clocks). */
static void check_offset(const mxclock_estimate *e) {
    CHECK_I64_NEAR(e->offset_ms, skew_ms(), e->uncertainty_ms + 2);
}

static void test_sync_endpoint(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL", 10000, 30000);
    mxclock_sync_report r;
    int64_t now = 0, wall;
    if (clock == NULL) {
        return;
    }
    CHECK_OK(mxclock_sync(clock, &r));
    CHECK(r.requests >= 1 && r.requests <= 4);
    CHECK(r.samples_taken >= 1 && r.samples_taken <= r.requests);
    CHECK(r.source == MXCLOCK_SAMPLE_SOURCE_ENDPOINT);
    CHECK(r.endpoint_supported);
    CHECK(!r.has_reason);
    CHECK(r.has_min_rtt_ms && r.min_rtt_ms >= 0);
    CHECK(r.estimate.source == MXCLOCK_SAMPLE_SOURCE_ENDPOINT);
    CHECK(r.estimate.samples >= 1);
    check_offset(&r.estimate);
    wall = wall_now_ms();
    CHECK_OK(mxclock_server_now_ms(clock, &now));
    /* Read right after the wall clock: within the uncertainty, plus 500 ms
     * for being descheduled in between on a loaded machine (the skew
     * itself is 120 s). */
    CHECK_I64_NEAR(now - wall, skew_ms(), r.estimate.uncertainty_ms + 500);
    /* Without a report pointer too. */
    CHECK_OK(mxclock_sync(clock, NULL));
    mxclock_free(clock);
}

static void test_sync_if_needed(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL", 10000, 30000);
    mxclock_sync_report r, untouched;
    bool synced = false;
    if (clock == NULL) {
        return;
    }
    CHECK_OK(mxclock_sync_if_needed(clock, &synced, &r));
    CHECK(synced);
    CHECK(r.has_reason && r.reason == MXCLOCK_SYNC_REASON_NO_ESTIMATE);
    check_offset(&r.estimate);
    /* Nothing due now: no sync, the report is not written. */
    memset(&untouched, 0x3C, sizeof untouched);
    r = untouched;
    synced = true;
    CHECK_OK(mxclock_sync_if_needed(clock, &synced, &r));
    CHECK(!synced);
    CHECK(memcmp(&r, &untouched, sizeof r) == 0);
    /* A network change makes one due, but not within min_sync_interval_ms. */
    CHECK_OK(mxclock_network_changed(clock));
    CHECK_OK(mxclock_sync_if_needed(clock, &synced, NULL));
    CHECK(!synced);
    mxclock_free(clock);

    /* Without the minimum interval, the network change syncs. */
    clock = clock_for("MXCLOCK_TEST_URL", 10000, 0);
    if (clock == NULL) {
        return;
    }
    CHECK_OK(mxclock_sync(clock, NULL));
    CHECK_OK(mxclock_network_changed(clock));
    CHECK_OK(mxclock_sync_if_needed(clock, &synced, &r));
    CHECK(synced);
    CHECK(r.has_reason && r.reason == MXCLOCK_SYNC_REASON_NETWORK_CHANGED);
    mxclock_free(clock);
}

static void test_sync_date_only(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_DATE_ONLY", 10000, 30000);
    mxclock_sync_report r;
    if (clock == NULL) {
        return;
    }
    CHECK_OK(mxclock_sync(clock, &r));
    CHECK(r.source == MXCLOCK_SAMPLE_SOURCE_DATE_HEADER);
    CHECK(!r.endpoint_supported);
    CHECK(r.estimate.uncertainty_ms <= 1000);
    check_offset(&r.estimate);
    mxclock_free(clock);
}

/* A loopback URL on a port that was free a moment ago: connection refused. */
static void refused_url(char *buf, size_t len) {
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &alen) == 0);
    close(fd);
    snprintf(buf, len, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
}

static void test_sync_unreachable(void) {
    char url[64];
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    mxclock_sync_report r, untouched;
    int64_t due = 0, ms = -5;
    refused_url(url, sizeof url);
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = url;
    c.access_token = TOKEN;
    CHECK_OK(mxclock_new(&c, &clock));
    memset(&untouched, 0x11, sizeof untouched);
    r = untouched;
    CHECK_STATUS(mxclock_sync(clock, &r), MXCLOCK_STATUS_NETWORK);
    CHECK(strlen(mxclock_last_error_message()) > 0);
    check_no_token_in_message();
    CHECK(memcmp(&r, &untouched, sizeof r) == 0);
    CHECK_STATUS(mxclock_server_now_ms(clock, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK(ms == -5);
    /* The failure backs off. */
    CHECK_OK(mxclock_next_sync_due_in_ms(clock, &due));
    CHECK(due > 0);
    mxclock_free(clock);
}

static void test_sync_garbage_body_uses_date(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_GARBAGE", 10000, 30000);
    mxclock_sync_report r;
    if (clock == NULL) {
        return;
    }
    /* Garbage instead of JSON: the Date header of the same reply is used. */
    CHECK_OK(mxclock_sync(clock, &r));
    CHECK(r.source == MXCLOCK_SAMPLE_SOURCE_DATE_HEADER);
    check_offset(&r.estimate);
    mxclock_free(clock);
}

static void test_sync_huge_body(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_HUGE", 10000, 30000);
    if (clock == NULL) {
        return;
    }
    CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_PROTOCOL_VIOLATION);
    check_no_token_in_message();
    mxclock_free(clock);
}

static void test_sync_rate_limited(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_429", 10000, 30000);
    int64_t due = 0;
    if (clock == NULL) {
        return;
    }
    CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_RATE_LIMITED);
    CHECK_MESSAGE_HAS("rate limited");
    check_no_token_in_message();
    /* Honoured: the next sync is refused without asking. */
    CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_RATE_LIMITED);
    CHECK_OK(mxclock_next_sync_due_in_ms(clock, &due));
    CHECK(due > 0);
    mxclock_free(clock);
}

static void test_sync_timeout(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_HANG", 300, 30000);
    if (clock == NULL) {
        return;
    }
    CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_TIMEOUT);
    CHECK_MESSAGE_HAS("300 ms");
    check_no_token_in_message();
    mxclock_free(clock);
}

static void test_sync_unsupported(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL_UNSUPPORTED", 10000, 30000);
    if (clock == NULL) {
        return;
    }
    CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_UNSUPPORTED);
    check_no_token_in_message();
    mxclock_free(clock);
}

static void test_sync_then_export_restore(void) {
    mxclock_server_clock *clock = clock_for("MXCLOCK_TEST_URL", 10000, 30000), *restored = NULL;
    mxclock_config c;
    mxclock_estimate e;
    char *json = NULL;
    if (clock == NULL) {
        return;
    }
    CHECK_OK(mxclock_sync(clock, NULL));
    CHECK_OK(mxclock_export_state(clock, &json));
    CHECK(json != NULL && strstr(json, TOKEN) == NULL);
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = test_env("MXCLOCK_TEST_URL");
    CHECK_OK(mxclock_restore(&c, json, &restored));
    CHECK_OK(mxclock_get_estimate(restored, &e));
    check_offset(&e);
    mxclock_string_free(json);
    mxclock_free(restored);
    mxclock_free(clock);
}

int main(void) {
    RUN(test_sync_endpoint);
    RUN(test_sync_if_needed);
    RUN(test_sync_date_only);
    RUN(test_sync_unreachable);
    RUN(test_sync_garbage_body_uses_date);
    RUN(test_sync_huge_body);
    RUN(test_sync_rate_limited);
    RUN(test_sync_timeout);
    RUN(test_sync_unsupported);
    RUN(test_sync_then_export_restore);
    return finish("test_sync");
}
