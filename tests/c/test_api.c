/*
 * The whole C API without a network: configuration, errors, the sans-I/O
 * samples, estimates, conversions, expiry, events, state, on a fake time
 * source so that every expected value follows from the inputs.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_time.h"
#include "mxclock.h"
#include "test_util.h"

#ifndef MXCLOCK_EXPECTED_VERSION
#error "compile with -DMXCLOCK_EXPECTED_VERSION=\"x.y.z\" (scripts/test-c.sh does)"
#endif

#define BOOT0 5000
#define WALL0 INT64_C(1700000000000)
/* Server time the fake endpoint reports: 37.27 s ahead of the wall clock. */
#define SERVER_MS INT64_C(1700000037270)

static const int64_t SENTINEL = INT64_C(-777);

/* A sans-I/O clock on `t`, without a homeserver. */
static mxclock_server_clock *fake_clock(fake_time *t, const char *url) {
    mxclock_config config;
    mxclock_server_clock *clock = NULL;
    mxclock_time_source src = fake_source(t);
    CHECK_OK(mxclock_config_default(&config));
    config.homeserver_url = url;
    CHECK_OK(mxclock_new_with_sources(&config, &src, NULL, &clock));
    CHECK(clock != NULL);
    return clock;
}

/* A clock fed one endpoint sample: sent at boot 5000, answered at 5040. */
static mxclock_server_clock *synced_clock(fake_time *t) {
    mxclock_server_clock *clock;
    fake_init(t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(t, NULL);
    fake_advance(t, 40);
    CHECK_OK(mxclock_add_endpoint_sample(clock, BOOT0, BOOT0 + 40, SERVER_MS, NULL));
    return clock;
}

static void test_version(void) {
    const char *v = mxclock_version();
    CHECK(v != NULL);
    CHECK(v != NULL && strcmp(v, MXCLOCK_EXPECTED_VERSION) == 0);
}

static void test_status_names(void) {
    int i;
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_OK), "MXCLOCK_STATUS_OK") == 0);
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_NOT_SYNCED), "MXCLOCK_STATUS_NOT_SYNCED") == 0);
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_TIME_OUT_OF_RANGE),
                 "MXCLOCK_STATUS_TIME_OUT_OF_RANGE") == 0);
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_INTERNAL), "MXCLOCK_STATUS_INTERNAL") == 0);
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_PANIC), "MXCLOCK_STATUS_PANIC") == 0);
    /* Numbers never change meaning: 17 (a callback status that nothing
     * returned) is retired, its neighbours keep their values. */
    CHECK(MXCLOCK_STATUS_INVALID_STATE == 16 && MXCLOCK_STATUS_PANIC == 18 &&
          MXCLOCK_STATUS_INTERNAL == 19);
    for (i = MXCLOCK_STATUS_OK; i <= MXCLOCK_STATUS_INTERNAL; i++) {
        /* Unknown is NULL, as for every mxclock_*_name. */
        CHECK((mxclock_status_name(i) == NULL) == (i == 17));
        CHECK(i == 17 || strncmp(mxclock_status_name(i), "MXCLOCK_STATUS_", 15) == 0);
    }
    CHECK(mxclock_status_name(-1) == NULL);
    CHECK(mxclock_status_name(MXCLOCK_STATUS_INTERNAL + 1) == NULL);
    CHECK(strcmp(mxclock_status_name(MXCLOCK_STATUS_PROTOCOL_VIOLATION),
                 "MXCLOCK_STATUS_PROTOCOL_VIOLATION") == 0 &&
          MXCLOCK_STATUS_PROTOCOL_VIOLATION == 11);
}

static void test_enum_names(void) {
    CHECK(strcmp(mxclock_sample_source_name(MXCLOCK_SAMPLE_SOURCE_ENDPOINT), "endpoint") == 0);
    CHECK(strcmp(mxclock_sample_source_name(MXCLOCK_SAMPLE_SOURCE_DATE_HEADER), "date_header") == 0);
    CHECK(strcmp(mxclock_sample_source_name(MXCLOCK_SAMPLE_SOURCE_EVENT_AGE), "event_age") == 0);
    CHECK(mxclock_sample_source_name(3) == NULL);
    CHECK(strcmp(mxclock_expiry_state_name(MXCLOCK_EXPIRY_STATE_UNCERTAIN), "uncertain") == 0);
    CHECK(mxclock_expiry_state_name(-1) == NULL);
    CHECK(strcmp(mxclock_expiry_rule_name(MXCLOCK_EXPIRY_RULE_CALL_INVITE), "call_invite") == 0);
    CHECK(strcmp(mxclock_expiry_rule_name(MXCLOCK_EXPIRY_RULE_BEACON_INFO), "beacon_info") == 0);
    CHECK(strcmp(mxclock_expiry_rule_name(MXCLOCK_EXPIRY_RULE_STICKY), "sticky") == 0);
    CHECK(strcmp(mxclock_expiry_rule_name(MXCLOCK_EXPIRY_RULE_RING_RESPONSE), "ring_response") == 0);
    CHECK(mxclock_expiry_rule_name(MXCLOCK_EXPIRY_RULE_RING_RESPONSE + 1) == NULL);
    CHECK(mxclock_expiry_rule_name(-1) == NULL);
    CHECK(strcmp(mxclock_sync_reason_name(MXCLOCK_SYNC_REASON_NETWORK_CHANGED), "network_changed") == 0);
    CHECK(strcmp(mxclock_sync_reason_name(MXCLOCK_SYNC_REASON_NO_ESTIMATE), "no_estimate") == 0);
    CHECK(mxclock_sync_reason_name(0) == NULL); /* 0 is not a reason */
    CHECK(mxclock_sync_reason_name(99) == NULL);
}

static void test_config_default(void) {
    mxclock_config c;
    memset(&c, 0xAB, sizeof c);
    CHECK_OK(mxclock_config_default(&c));
    CHECK(c.homeserver_url == NULL && c.access_token == NULL && c.endpoint_path == NULL);
    CHECK(c.request_timeout_ms == 10000);
    CHECK(c.allow_insecure_http == false);
    CHECK(c.drift_ppm == 100 && c.learn_drift);
    CHECK(c.max_samples == 8);
    CHECK(c.wall_jump_threshold_ms == 1000);
    CHECK(c.event_max_transit_ms == 10000);
    CHECK(c.restore_max_age_ms == INT64_C(2592000000));
    CHECK(c.policy.max_samples_per_sync == 4);
    CHECK(c.policy.date_probe_budget == 20);
    CHECK(c.policy.target_uncertainty_ms == 50);
    CHECK(c.policy.max_uncertainty_ms == 1000);
    CHECK(c.policy.min_sync_interval_ms == 30000);
    CHECK(c.policy.backoff_initial_ms == 5000);
    CHECK(c.policy.backoff_max_ms == 3600000);
    CHECK(c.policy.unsupported_retry_ms == 86400000);
    CHECK_STATUS(mxclock_config_default(NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`out`");
}

static void test_new_and_free(void) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    int i;
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = "https://matrix.example.org";
    c.access_token = "syt_c_api_token";
    c.endpoint_path = "/_matrix/client/unstable/org.matrix.msc4094/server_now";
    for (i = 0; i < 50; i++) {
        clock = NULL;
        CHECK_OK(mxclock_new(&c, &clock));
        CHECK(clock != NULL);
        mxclock_free(clock);
    }
    mxclock_free(NULL);
    /* Empty URL: a sans-I/O clock. */
    c.homeserver_url = "";
    CHECK_OK(mxclock_new(&c, &clock));
    mxclock_free(clock);
}

static void test_new_null_arguments(void) {
    mxclock_config c;
    mxclock_server_clock *clock = (mxclock_server_clock *)&c; /* sentinel: must stay untouched */
    mxclock_time_source src;
    mxclock_http_transport tr;
    CHECK_OK(mxclock_config_default(&c));
    CHECK_STATUS(mxclock_new(NULL, &clock), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`config`");
    CHECK(clock == (mxclock_server_clock *)&c);
    CHECK_STATUS(mxclock_new(&c, NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`out`");
    memset(&src, 0, sizeof src);
    CHECK_STATUS(mxclock_new_with_sources(&c, &src, NULL, &clock), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("time_source->boot_ms");
    memset(&tr, 0, sizeof tr);
    CHECK_STATUS(mxclock_new_with_sources(&c, NULL, &tr, &clock), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("transport->get");
    CHECK_STATUS(mxclock_restore(&c, NULL, &clock), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`state_json`");
    CHECK(clock == (mxclock_server_clock *)&c);
}

static void test_invalid_config(void) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = "ftp://matrix.example.org";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK(clock == NULL);
    c.homeserver_url = "not a url";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    /* Plain HTTP only for loopback unless opted in. */
    c.homeserver_url = "http://matrix.example.org";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    c.allow_insecure_http = true;
    CHECK_OK(mxclock_new(&c, &clock));
    mxclock_free(clock);
    clock = NULL;
    c.allow_insecure_http = false;
    c.homeserver_url = "https://matrix.example.org";
    c.request_timeout_ms = 0;
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK_MESSAGE_HAS("request_timeout_ms");
    c.request_timeout_ms = 10000;
    c.max_samples = 0;
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK_MESSAGE_HAS("max_samples");
    c.max_samples = 8;
    c.endpoint_path = "no-slash";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK_MESSAGE_HAS("endpoint_path");
    c.endpoint_path = NULL;
    c.policy.backoff_max_ms = 1;
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK(clock == NULL);
}

static void test_invalid_utf8(void) {
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    fake_time t;
    mxclock_event_expiry ev;
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = "https://\xff\xfe.example.org";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_UTF8);
    CHECK_MESSAGE_HAS("config->homeserver_url");
    c.homeserver_url = "https://matrix.example.org";
    c.access_token = "tok\xc3";
    CHECK_STATUS(mxclock_new(&c, &clock), MXCLOCK_STATUS_INVALID_UTF8);
    CHECK_MESSAGE_HAS("config->access_token");
    CHECK(clock == NULL);
    clock = synced_clock(&t);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "{\"type\":\"\xff\"}", false, 0, &ev),
                 MXCLOCK_STATUS_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`json`");
    mxclock_free(clock);
}

static void test_not_synced(void) {
    fake_time t;
    mxclock_server_clock *clock;
    int64_t ms = SENTINEL;
    mxclock_estimate e;
    mxclock_expiry x;
    mxclock_event_expiry ev;
    mxclock_event_outcomes outs = {NULL, 7};
    mxclock_sync_report r;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(&t, NULL);
    CHECK_STATUS(mxclock_server_now_ms(clock, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_MESSAGE_HAS("no server time estimate yet");
    CHECK(ms == SENTINEL);
    CHECK_STATUS(mxclock_get_estimate(clock, &e), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_server_ms_after(clock, 1000, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_server_ms_to_boot_ms(clock, SERVER_MS, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_boot_ms_to_server_ms(clock, BOOT0, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_server_ms_to_wall_ms(clock, SERVER_MS, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_wall_ms_to_server_ms(clock, WALL0, &ms), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK(ms == SENTINEL);
    CHECK_STATUS(mxclock_expiry_at(clock, SERVER_MS, &x), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "{}", false, 0, &ev), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK_STATUS(mxclock_evaluate_events_json(clock, "[]", false, 0, &outs), MXCLOCK_STATUS_NOT_SYNCED);
    CHECK(outs.items == NULL && outs.len == 7);
    /* No homeserver: sync is a configuration error, not a crash. */
    CHECK_STATUS(mxclock_sync(clock, &r), MXCLOCK_STATUS_INVALID_CONFIG);
    CHECK_MESSAGE_HAS("homeserver_url");
    mxclock_free(clock);
}

static void test_null_clock_everywhere(void) {
    int64_t ms;
    bool b;
    char *s;
    mxclock_estimate e;
    mxclock_sync_report r;
    mxclock_sync_reason reason;
    mxclock_expiry x;
    mxclock_event_expiry ev;
    mxclock_event_outcomes outs;
    mxclock_sample sample = {MXCLOCK_SAMPLE_SOURCE_ENDPOINT, 0, 1, 1};
    const mxclock_server_clock *n = NULL;
    const mxclock_status want = MXCLOCK_STATUS_NULL_ARGUMENT;
    CHECK_STATUS(mxclock_export_state(n, &s), want);
    CHECK_MESSAGE_HAS("`clock`");
    CHECK_STATUS(mxclock_sync(n, &r), want);
    CHECK_STATUS(mxclock_sync_if_needed(n, &b, &r), want);
    CHECK_STATUS(mxclock_get_sync_reason(n, &b, &reason), want);
    CHECK_STATUS(mxclock_next_sync_due_in_ms(n, &ms), want);
    CHECK_STATUS(mxclock_network_changed(n), want);
    CHECK_STATUS(mxclock_get_estimate(n, &e), want);
    CHECK_STATUS(mxclock_server_now_ms(n, &ms), want);
    CHECK_STATUS(mxclock_server_ms_after(n, 1, &ms), want);
    CHECK_STATUS(mxclock_boot_ms(n, &ms), want);
    CHECK_STATUS(mxclock_server_ms_to_boot_ms(n, 1, &ms), want);
    CHECK_STATUS(mxclock_boot_ms_to_server_ms(n, 1, &ms), want);
    CHECK_STATUS(mxclock_server_ms_to_wall_ms(n, 1, &ms), want);
    CHECK_STATUS(mxclock_wall_ms_to_server_ms(n, 1, &ms), want);
    CHECK_STATUS(mxclock_add_sample(n, &sample, &e), want);
    CHECK_STATUS(mxclock_add_endpoint_sample(n, 1, 2, SERVER_MS, &e), want);
    CHECK_STATUS(mxclock_add_date_sample(n, 1, 2, SERVER_MS / 1000, false, 0, &e), want);
    CHECK_STATUS(mxclock_observe_event(n, SERVER_MS, 10, 2, &e), want);
    CHECK_STATUS(mxclock_expiry_at(n, SERVER_MS, &x), want);
    CHECK_STATUS(mxclock_evaluate_event_json(n, "{}", false, 0, &ev), want);
    CHECK_STATUS(mxclock_evaluate_events_json(n, "[]", false, 0, &outs), want);
}

static void test_null_outputs(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    const mxclock_status want = MXCLOCK_STATUS_NULL_ARGUMENT;
    CHECK_STATUS(mxclock_server_now_ms(clock, NULL), want);
    CHECK_MESSAGE_HAS("`out_ms`");
    CHECK_STATUS(mxclock_get_estimate(clock, NULL), want);
    CHECK_STATUS(mxclock_export_state(clock, NULL), want);
    CHECK_MESSAGE_HAS("`out_json`");
    CHECK_STATUS(mxclock_sync_if_needed(clock, NULL, NULL), want);
    CHECK_MESSAGE_HAS("`out_has_report`");
    CHECK_STATUS(mxclock_get_sync_reason(clock, NULL, NULL), want);
    CHECK_MESSAGE_HAS("`out_has_reason`");
    CHECK_STATUS(mxclock_next_sync_due_in_ms(clock, NULL), want);
    CHECK_STATUS(mxclock_boot_ms(clock, NULL), want);
    CHECK_STATUS(mxclock_server_ms_after(clock, 1, NULL), want);
    CHECK_STATUS(mxclock_wall_ms_to_server_ms(clock, 1, NULL), want);
    CHECK_STATUS(mxclock_expiry_at(clock, 1, NULL), want);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "{}", false, 0, NULL), want);
    CHECK_STATUS(mxclock_evaluate_events_json(clock, "[]", false, 0, NULL), want);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, NULL, false, 0, NULL), want);
    CHECK_STATUS(mxclock_add_sample(clock, NULL, NULL), want);
    CHECK_MESSAGE_HAS("`sample`");
    /* Optional outputs may be NULL. */
    CHECK_OK(mxclock_add_endpoint_sample(clock, BOOT0 + 40, BOOT0 + 60, SERVER_MS + 30, NULL));
    mxclock_free(clock);
}

static void test_endpoint_sample_and_estimate(void) {
    fake_time t;
    mxclock_server_clock *clock;
    mxclock_estimate e, e2;
    int64_t ms = SENTINEL, boot = 0;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(&t, NULL);
    fake_advance(&t, 40);
    CHECK_OK(mxclock_add_endpoint_sample(clock, BOOT0, BOOT0 + 40, SERVER_MS, &e));
    /* The reply left the server between send and receipt: server now is
     * SERVER_MS plus up to 40 ms; the midpoint is +20. */
    CHECK_I64_NEAR(e.server_now_ms, SERVER_MS + 20, e.uncertainty_ms);
    CHECK(e.uncertainty_ms >= 20 && e.uncertainty_ms <= 22);
    CHECK(e.source == MXCLOCK_SAMPLE_SOURCE_ENDPOINT);
    CHECK(e.samples == 1 && e.falsetickers == 0);
    CHECK(e.boot_ms == BOOT0 + 40);
    CHECK(e.newest_sample_boot_ms == BOOT0 + 40);
    CHECK(e.boot_offset_ms == e.server_now_ms - e.boot_ms);
    /* offset = server − wall. */
    CHECK(e.offset_ms == e.server_now_ms - (WALL0 + 40));
    CHECK_I64_NEAR(e.offset_ms, SERVER_MS - WALL0, 25);
    CHECK(e.within_policy);
    CHECK(e.wall_jump_ms == 0);
    CHECK(!e.server_clock_stepped);

    CHECK_OK(mxclock_get_estimate(clock, &e2));
    CHECK(e2.server_now_ms == e.server_now_ms && e2.uncertainty_ms == e.uncertainty_ms);
    CHECK_OK(mxclock_server_now_ms(clock, &ms));
    CHECK(ms == e.server_now_ms);
    CHECK_OK(mxclock_boot_ms(clock, &boot));
    CHECK(boot == BOOT0 + 40);

    /* Ten seconds later: the server clock moved with the boot clock and
     * the uncertainty grew by drift (100 ppm of 10 s = 1 ms). */
    fake_advance(&t, 10000);
    CHECK_OK(mxclock_server_now_ms(clock, &ms));
    CHECK(ms == e.server_now_ms + 10000);
    CHECK_OK(mxclock_get_estimate(clock, &e2));
    CHECK(e2.uncertainty_ms >= e.uncertainty_ms + 1 && e2.uncertainty_ms <= e.uncertainty_ms + 2);
    CHECK(e2.newest_sample_boot_ms == BOOT0 + 40);
    mxclock_free(clock);
}

static void test_conversions(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    mxclock_estimate e;
    int64_t ms = SENTINEL, back = SENTINEL;
    const int64_t wall_minus_boot = WALL0 - BOOT0;
    CHECK_OK(mxclock_get_estimate(clock, &e));
    CHECK_OK(mxclock_boot_ms_to_server_ms(clock, 123456, &ms));
    CHECK(ms == 123456 + e.boot_offset_ms);
    CHECK_OK(mxclock_server_ms_to_boot_ms(clock, ms, &back));
    CHECK(back == 123456);
    CHECK_OK(mxclock_server_ms_to_wall_ms(clock, SERVER_MS, &ms));
    CHECK(ms == SERVER_MS - e.boot_offset_ms + wall_minus_boot);
    CHECK_OK(mxclock_wall_ms_to_server_ms(clock, ms, &back));
    CHECK(back == SERVER_MS);
    CHECK_OK(mxclock_server_ms_after(clock, 60000, &ms));
    CHECK(ms == e.server_now_ms + 60000);
    mxclock_free(clock);
}

static void test_date_sample(void) {
    fake_time t;
    mxclock_server_clock *plain, *aged;
    mxclock_estimate e, ea;
    const int64_t date_s = SERVER_MS / 1000;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    plain = fake_clock(&t, NULL);
    aged = fake_clock(&t, NULL);
    fake_advance(&t, 40);
    CHECK_OK(mxclock_add_date_sample(plain, BOOT0, BOOT0 + 40, date_s, false, 12345, &e));
    CHECK(e.source == MXCLOCK_SAMPLE_SOURCE_DATE_HEADER);
    /* A Date header is the floor of a second: the server is somewhere in
     * [D, D + 1 s + the 40 ms round trip]. */
    CHECK(e.server_now_ms >= date_s * 1000 && e.server_now_ms <= date_s * 1000 + 1040);
    /* Half of 1 s + 40 ms + 1 ms, and 1 ms for reading the boot clock. */
    CHECK(e.uncertainty_ms >= 500 && e.uncertainty_ms <= 522);
    /* With `Age: 3` a cache held the reply for 3 to 4 s (Age has whole
     * seconds too): the interval moves 3 s at its low end, 4 s at its high. */
    CHECK_OK(mxclock_add_date_sample(aged, BOOT0, BOOT0 + 40, date_s, true, 3, &ea));
    CHECK(ea.server_now_ms - ea.uncertainty_ms == e.server_now_ms - e.uncertainty_ms + 3000);
    CHECK(ea.server_now_ms + ea.uncertainty_ms == e.server_now_ms + e.uncertainty_ms + 4000);
    /* A server time before 2000; a reply received before it was sent. */
    CHECK_STATUS(mxclock_add_date_sample(plain, BOOT0, BOOT0 + 40, -2208988800LL, false, 0, &e),
                 MXCLOCK_STATUS_TIME_OUT_OF_RANGE);
    CHECK_STATUS(mxclock_add_endpoint_sample(plain, BOOT0 + 40, BOOT0, SERVER_MS, &e),
                 MXCLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("before the request was sent");
    mxclock_free(plain);
    mxclock_free(aged);
}

static void test_observe_event(void) {
    fake_time t;
    mxclock_server_clock *clock;
    mxclock_estimate e;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(&t, NULL);
    /* Built at server time ots + age, received at boot 5040, with up to
     * event_max_transit_ms (10 s) in flight. */
    CHECK_OK(mxclock_observe_event(clock, SERVER_MS - 2000, 2000, BOOT0, &e));
    CHECK(e.source == MXCLOCK_SAMPLE_SOURCE_EVENT_AGE);
    CHECK(e.server_now_ms >= SERVER_MS && e.server_now_ms <= SERVER_MS + 10000);
    CHECK(e.uncertainty_ms >= 5000 && e.uncertainty_ms <= 5002);
    CHECK(!e.within_policy);
    mxclock_free(clock);
}

static void test_add_sample(void) {
    fake_time t;
    mxclock_server_clock *clock;
    mxclock_estimate e;
    mxclock_sample s;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(&t, NULL);
    s.source = MXCLOCK_SAMPLE_SOURCE_ENDPOINT;
    s.lo_ms = SERVER_MS - BOOT0 - 10;
    s.hi_ms = SERVER_MS - BOOT0 + 10;
    s.taken_boot_ms = BOOT0;
    CHECK_OK(mxclock_add_sample(clock, &s, &e));
    CHECK(e.server_now_ms == SERVER_MS);
    /* ±10 ms, and 1 ms for reading the boot clock (whole ms). */
    CHECK(e.uncertainty_ms == 11);
    s.source = 7;
    CHECK_STATUS(mxclock_add_sample(clock, &s, &e), MXCLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("sample->source 7");
    s.source = MXCLOCK_SAMPLE_SOURCE_ENDPOINT;
    s.lo_ms = s.hi_ms + 1; /* an empty interval */
    CHECK(mxclock_add_sample(clock, &s, &e) != MXCLOCK_STATUS_OK);
    mxclock_free(clock);
}

static void test_wall_jump(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    mxclock_estimate before, after;
    CHECK_OK(mxclock_get_estimate(clock, &before));
    /* The user sets the device clock 5 s ahead: server time is unmoved. */
    atomic_fetch_add(&t.wall_ms, 5000);
    CHECK_OK(mxclock_get_estimate(clock, &after));
    CHECK(after.server_now_ms == before.server_now_ms);
    CHECK(after.wall_jump_ms == 5000);
    CHECK(after.offset_ms == before.offset_ms - 5000);
    mxclock_free(clock);
}

static void test_expiry_at(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    mxclock_estimate e;
    mxclock_expiry x;
    CHECK_OK(mxclock_get_estimate(clock, &e));
    CHECK_OK(mxclock_expiry_at(clock, e.server_now_ms + 60000, &x));
    CHECK(x.deadline_ms == e.server_now_ms + 60000);
    CHECK(x.remaining_ms == 60000);
    CHECK(x.state == MXCLOCK_EXPIRY_STATE_LIVE);
    CHECK(!x.is_expired);
    CHECK(x.fire_at_boot_ms == e.boot_ms + 60000);
    CHECK_OK(mxclock_expiry_at(clock, e.server_now_ms - 60000, &x));
    CHECK(x.state == MXCLOCK_EXPIRY_STATE_EXPIRED && x.is_expired && x.remaining_ms == -60000);
    /* Within the ±21 ms uncertainty: cannot tell, best guess not expired. */
    CHECK_OK(mxclock_expiry_at(clock, e.server_now_ms + 5, &x));
    CHECK(x.state == MXCLOCK_EXPIRY_STATE_UNCERTAIN && !x.is_expired);
    mxclock_free(clock);
}

static void test_evaluate_event_json(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    mxclock_estimate e;
    mxclock_event_expiry ev, untouched;
    char json[1024];
    CHECK_OK(mxclock_get_estimate(clock, &e));

    snprintf(json, sizeof json,
             "{\"type\":\"m.call.invite\",\"event_id\":\"$inv\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"call_id\":\"c1\",\"lifetime\":60000,\"version\":\"1\"}}",
             e.server_now_ms - 30000);
    CHECK_OK(mxclock_evaluate_event_json(clock, json, false, 0, &ev));
    CHECK(ev.rule == MXCLOCK_EXPIRY_RULE_CALL_INVITE);
    CHECK(ev.expiry.state == MXCLOCK_EXPIRY_STATE_LIVE);
    /* Expired once the age *exceeds* the lifetime: 1 ms after it. */
    CHECK(ev.expiry.remaining_ms == 30001);
    CHECK(ev.has_should_ring && ev.should_ring);
    CHECK(!ev.ended && !ev.ignore);
    CHECK(!ev.has_verification_validity);

    snprintf(json, sizeof json,
             "{\"type\":\"m.call.invite\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"call_id\":\"c1\",\"lifetime\":60000,\"version\":\"1\"}}",
             e.server_now_ms - 120000);
    CHECK_OK(mxclock_evaluate_event_json(clock, json, false, 0, &ev));
    CHECK(ev.expiry.state == MXCLOCK_EXPIRY_STATE_EXPIRED && ev.expiry.is_expired);
    CHECK(ev.has_should_ring && !ev.should_ring);

    snprintf(json, sizeof json,
             "{\"type\":\"m.call.member\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"application\":\"m.call\",\"call_id\":\"\",\"scope\":\"m.room\","
             "\"device_id\":\"D1\",\"focus_active\":{\"type\":\"livekit\"},"
             "\"foci_preferred\":[{\"type\":\"livekit\"}]}}",
             e.server_now_ms - 1000);
    CHECK_OK(mxclock_evaluate_event_json(clock, json, false, 0, &ev));
    CHECK(ev.rule == MXCLOCK_EXPIRY_RULE_CALL_MEMBER_SESSION);
    CHECK(ev.expiry.remaining_ms == 14400000 - 1000);
    CHECK(!ev.has_should_ring);

    CHECK_OK(mxclock_evaluate_event_json(
        clock, "{\"type\":\"m.call.member\",\"origin_server_ts\":1700000060000,\"content\":{}}",
        false, 0, &ev));
    CHECK(ev.rule == MXCLOCK_EXPIRY_RULE_MEMBERSHIP_LEFT && ev.ended);

    /* A to-device verification request 11 minutes old: ignore it. */
    snprintf(json, sizeof json,
             "{\"type\":\"m.key.verification.request\",\"content\":{\"from_device\":\"G\","
             "\"methods\":[\"m.sas.v1\"],\"timestamp\":%" PRId64 ",\"transaction_id\":\"t1\"}}",
             e.server_now_ms - 660000);
    CHECK_OK(mxclock_evaluate_event_json(clock, json, true, e.boot_ms, &ev));
    CHECK(ev.rule == MXCLOCK_EXPIRY_RULE_VERIFICATION_REQUEST_TO_DEVICE);
    CHECK(ev.ignore);
    CHECK(ev.has_verification_validity &&
          ev.verification_validity == MXCLOCK_VERIFICATION_VALIDITY_TOO_OLD);
    /* Ignored means expired too: `state` alone never shows it as live. */
    CHECK(ev.expiry.state == MXCLOCK_EXPIRY_STATE_EXPIRED && ev.expiry.is_expired);

    /* Errors leave the output untouched. */
    memset(&untouched, 0x5A, sizeof untouched);
    ev = untouched;
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "{\"type\": ", false, 0, &ev),
                 MXCLOCK_STATUS_INVALID_EVENT);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "garbage", false, 0, &ev),
                 MXCLOCK_STATUS_INVALID_EVENT);
    CHECK_STATUS(mxclock_evaluate_event_json(clock, "[1,2]", false, 0, &ev),
                 MXCLOCK_STATUS_INVALID_EVENT);
    CHECK_STATUS(mxclock_evaluate_event_json(
                     clock,
                     "{\"type\":\"m.call.invite\",\"origin_server_ts\":\"soon\","
                     "\"content\":{\"call_id\":\"c1\",\"lifetime\":60000,\"version\":\"1\"}}",
                     false, 0, &ev),
                 MXCLOCK_STATUS_INVALID_EVENT);
    CHECK_MESSAGE_HAS("origin_server_ts");
    CHECK_STATUS(mxclock_evaluate_event_json(
                     clock, "{\"type\":\"m.room.message\",\"origin_server_ts\":1,\"content\":{}}",
                     false, 0, &ev),
                 MXCLOCK_STATUS_NO_EXPIRY_RULE);
    CHECK_MESSAGE_HAS("m.room.message");
    CHECK(memcmp(&ev, &untouched, sizeof ev) == 0);
    mxclock_free(clock);
}

static void test_evaluate_events_json(void) {
    fake_time t;
    mxclock_server_clock *clock = synced_clock(&t);
    mxclock_estimate e;
    mxclock_event_outcomes outs;
    char json[1024];
    CHECK_OK(mxclock_get_estimate(clock, &e));
    snprintf(json, sizeof json,
             "[{\"type\":\"m.call.invite\",\"event_id\":\"$inv\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"call_id\":\"c1\",\"lifetime\":60000,\"version\":\"1\"}},"
             " 5,"
             " {\"type\":\"m.room.message\",\"event_id\":\"$msg\",\"origin_server_ts\":1,\"content\":{}},"
             " {\"type\":\"m.call.invite\",\"event_id\":\"$big\",\"origin_server_ts\":1e400,"
             "\"content\":{\"call_id\":\"c2\",\"lifetime\":60000}}]",
             e.server_now_ms - 30000);
    CHECK_OK(mxclock_evaluate_events_json(clock, json, true, e.boot_ms, &outs));
    CHECK(outs.len == 4 && outs.items != NULL);
    if (outs.len == 4 && outs.items != NULL) {
        CHECK(outs.items[0].status == MXCLOCK_STATUS_OK);
        CHECK(outs.items[0].error_message == NULL && outs.items[0].error_path == NULL);
        CHECK(outs.items[0].event_id != NULL && strcmp(outs.items[0].event_id, "$inv") == 0);
        CHECK(outs.items[0].result.rule == MXCLOCK_EXPIRY_RULE_CALL_INVITE);
        CHECK(outs.items[0].result.expiry.remaining_ms == 30001);
        CHECK(outs.items[0].result.has_should_ring && outs.items[0].result.should_ring);
        CHECK(outs.items[1].status == MXCLOCK_STATUS_INVALID_EVENT && outs.items[1].event_id == NULL);
        CHECK(outs.items[1].error_message != NULL &&
              strstr(outs.items[1].error_message, "invalid event") != NULL);
        CHECK(outs.items[1].error_path != NULL && strcmp(outs.items[1].error_path, "$") == 0);
        CHECK(outs.items[2].status == MXCLOCK_STATUS_NO_EXPIRY_RULE);
        CHECK(outs.items[2].event_id != NULL && strcmp(outs.items[2].event_id, "$msg") == 0);
        CHECK(outs.items[2].error_message != NULL &&
              strstr(outs.items[2].error_message, "m.room.message") != NULL);
        CHECK(outs.items[2].error_path != NULL && strcmp(outs.items[2].error_path, "type") == 0);
        /* A number no double holds is that event's error, not the batch's. */
        CHECK(outs.items[3].status == MXCLOCK_STATUS_INVALID_EVENT);
        CHECK(outs.items[3].error_path != NULL &&
              strcmp(outs.items[3].error_path, "origin_server_ts") == 0);
        CHECK(outs.items[3].event_id != NULL && strcmp(outs.items[3].event_id, "$big") == 0);
    }
    mxclock_event_outcomes_free(&outs);
    CHECK(outs.items == NULL && outs.len == 0);
    mxclock_event_outcomes_free(&outs); /* twice is fine: it was zeroed */
    mxclock_event_outcomes_free(NULL);

    CHECK_OK(mxclock_evaluate_events_json(clock, "[]", false, 0, &outs));
    CHECK(outs.items == NULL && outs.len == 0);
    mxclock_event_outcomes_free(&outs);
    CHECK_STATUS(mxclock_evaluate_events_json(clock, "{\"type\":\"m.call.invite\"}", false, 0, &outs),
                 MXCLOCK_STATUS_INVALID_EVENT);
    CHECK_MESSAGE_HAS("array");
    CHECK_STATUS(mxclock_evaluate_events_json(clock, "[{", false, 0, &outs),
                 MXCLOCK_STATUS_INVALID_EVENT);

    /* A decline in the batch ends the ring of the notification it relates to. */
    snprintf(json, sizeof json,
             "[{\"type\":\"m.rtc.notification\",\"event_id\":\"$n\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"notification_type\":\"ring\",\"sender_ts\":%" PRId64
             ",\"lifetime\":30000}},"
             " {\"type\":\"m.rtc.decline\",\"event_id\":\"$d\",\"origin_server_ts\":%" PRId64
             ",\"content\":{\"m.relates_to\":{\"rel_type\":\"m.reference\",\"event_id\":\"$n\"}}}]",
             e.server_now_ms - 1000, e.server_now_ms - 1000, e.server_now_ms - 500);
    CHECK_OK(mxclock_evaluate_events_json(clock, json, true, e.boot_ms, &outs));
    CHECK(outs.len == 2 && outs.items != NULL);
    if (outs.len == 2 && outs.items != NULL) {
        CHECK(outs.items[0].result.rule == MXCLOCK_EXPIRY_RULE_RTC_NOTIFICATION);
        CHECK(outs.items[0].result.has_should_ring && !outs.items[0].result.should_ring &&
              outs.items[0].result.ended);
        CHECK(outs.items[1].result.rule == MXCLOCK_EXPIRY_RULE_RING_RESPONSE);
    }
    mxclock_event_outcomes_free(&outs);
    mxclock_free(clock);
}

static void test_export_and_restore(void) {
    fake_time t;
    mxclock_server_clock *clock, *restored = NULL;
    mxclock_config c;
    mxclock_time_source src;
    mxclock_estimate e, er;
    char *json = NULL;
    mxclock_sync_reason reason;
    bool has_reason = false;
    const char *token = "syt_never_in_state_0123";
    fake_init(&t, BOOT0, WALL0, "boot-1");
    src = fake_source(&t);
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = "https://matrix.example.org";
    c.access_token = token;
    CHECK_OK(mxclock_new_with_sources(&c, &src, NULL, &clock));
    fake_advance(&t, 40);
    CHECK_OK(mxclock_add_endpoint_sample(clock, BOOT0, BOOT0 + 40, SERVER_MS, &e));
    CHECK_OK(mxclock_export_state(clock, &json));
    CHECK(json != NULL);
    if (json == NULL) {
        mxclock_free(clock);
        return;
    }
    CHECK(strstr(json, "\"mxclock-state\"") != NULL);
    CHECK(strstr(json, token) == NULL);

    /* Same boot: the estimate comes back as it was. */
    CHECK_OK(mxclock_restore_with_sources(&c, json, &src, NULL, &restored));
    CHECK_OK(mxclock_get_estimate(restored, &er));
    CHECK(er.server_now_ms == e.server_now_ms && er.uncertainty_ms == e.uncertainty_ms);
    mxclock_free(restored);
    restored = NULL;

    /* After a reboot (new boot id, boot clock restarted, 60 s later by the
     * wall clock): carried over through the wall clock, less sure, and a
     * sync is due. */
    fake_init(&t, 1000, WALL0 + 40 + 60000, "boot-2");
    CHECK_OK(mxclock_restore_with_sources(&c, json, &src, NULL, &restored));
    CHECK_OK(mxclock_get_estimate(restored, &er));
    CHECK_I64_NEAR(er.server_now_ms, e.server_now_ms + 60000, er.uncertainty_ms);
    CHECK(er.uncertainty_ms > e.uncertainty_ms + 1000 - 1);
    CHECK_OK(mxclock_get_sync_reason(restored, &has_reason, &reason));
    CHECK(has_reason);
    CHECK(reason == MXCLOCK_SYNC_REASON_REBOOT || reason == MXCLOCK_SYNC_REASON_UNCERTAINTY_TOO_HIGH);
    mxclock_free(restored);
    restored = NULL;

    /* Garbage, foreign and mismatched state: INVALID_STATE, nothing out. */
    CHECK_STATUS(mxclock_restore_with_sources(&c, "not json at all", &src, NULL, &restored),
                 MXCLOCK_STATUS_INVALID_STATE);
    CHECK_STATUS(mxclock_restore_with_sources(&c, "{}", &src, NULL, &restored),
                 MXCLOCK_STATUS_INVALID_STATE);
    CHECK_STATUS(mxclock_restore(&c, "{\"format\":\"mxclock-state\",\"version\":99}", &restored),
                 MXCLOCK_STATUS_INVALID_STATE);
    CHECK_MESSAGE_HAS("version 99");
    c.homeserver_url = "https://other.example.org";
    CHECK_STATUS(mxclock_restore(&c, json, &restored), MXCLOCK_STATUS_INVALID_STATE);
    CHECK_MESSAGE_HAS("other.example.org");
    CHECK(restored == NULL);
    mxclock_string_free(json);
    mxclock_string_free(NULL);
    mxclock_free(clock);
}

static void test_sync_scheduling(void) {
    fake_time t;
    mxclock_server_clock *clock;
    bool has_reason = false;
    mxclock_sync_reason reason = MXCLOCK_SYNC_REASON_UNCERTAINTY_TOO_HIGH;
    int64_t due = SENTINEL;
    fake_init(&t, BOOT0, WALL0, "boot-1");
    clock = fake_clock(&t, NULL);
    CHECK_OK(mxclock_get_sync_reason(clock, &has_reason, &reason));
    CHECK(has_reason && reason == MXCLOCK_SYNC_REASON_NO_ESTIMATE);
    /* The reason is optional: whether one is due needs no second pointer. */
    has_reason = false;
    CHECK_OK(mxclock_get_sync_reason(clock, &has_reason, NULL));
    CHECK(has_reason);
    CHECK_OK(mxclock_next_sync_due_in_ms(clock, &due));
    CHECK(due == 0);
    fake_advance(&t, 40);
    CHECK_OK(mxclock_add_endpoint_sample(clock, BOOT0, BOOT0 + 40, SERVER_MS, NULL));
    reason = MXCLOCK_SYNC_REASON_REBOOT;
    CHECK_OK(mxclock_get_sync_reason(clock, &has_reason, &reason));
    CHECK(!has_reason);
    CHECK(reason == MXCLOCK_SYNC_REASON_REBOOT); /* not written: none is due */
    CHECK_OK(mxclock_next_sync_due_in_ms(clock, &due));
    /* The drift is not learned yet: the learning sync is due once the
     * uncertainty has grown by a quarter of the 1000 ms limit since the
     * sample, at 100 ppm after about 2.5e6 ms (2.51e6 with the rounding). */
    CHECK(due > 2400000 && due < 2600000);
    CHECK_OK(mxclock_network_changed(clock));
    CHECK_OK(mxclock_get_sync_reason(clock, &has_reason, &reason));
    CHECK(has_reason && reason == MXCLOCK_SYNC_REASON_NETWORK_CHANGED);
    mxclock_free(clock);
}

static void test_last_error_copy(void) {
    char buf[8];
    char big[256];
    size_t len = 0;
    const char *msg;
    CHECK_STATUS(mxclock_config_default(NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    msg = mxclock_last_error_message();
    CHECK(strlen(msg) > sizeof buf);
    CHECK_OK(mxclock_last_error_copy(buf, sizeof buf, &len));
    CHECK(len == strlen(mxclock_last_error_message()));
    CHECK(buf[sizeof buf - 1] == '\0' && strncmp(buf, mxclock_last_error_message(), sizeof buf - 1) == 0);
    CHECK_OK(mxclock_last_error_copy(big, sizeof big, NULL));
    CHECK(strcmp(big, mxclock_last_error_message()) == 0);
    CHECK_OK(mxclock_last_error_copy(NULL, 0, &len));
    CHECK_STATUS(mxclock_last_error_copy(NULL, 4, &len), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`buf`");
}

int main(void) {
    RUN(test_version);
    RUN(test_status_names);
    RUN(test_enum_names);
    RUN(test_config_default);
    RUN(test_new_and_free);
    RUN(test_new_null_arguments);
    RUN(test_invalid_config);
    RUN(test_invalid_utf8);
    RUN(test_not_synced);
    RUN(test_null_clock_everywhere);
    RUN(test_null_outputs);
    RUN(test_endpoint_sample_and_estimate);
    RUN(test_conversions);
    RUN(test_date_sample);
    RUN(test_observe_event);
    RUN(test_add_sample);
    RUN(test_wall_jump);
    RUN(test_expiry_at);
    RUN(test_evaluate_event_json);
    RUN(test_evaluate_events_json);
    RUN(test_export_and_restore);
    RUN(test_sync_scheduling);
    RUN(test_last_error_copy);
    return finish("test_api");
}
