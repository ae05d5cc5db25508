/*
 * The sync session from C: a loop that asks mxclock_sync_session_next_action
 * what to do, answers SEND with a fake responder (a homeserver on the fake
 * clock, no sockets), WAIT by moving the fake clock, and stops at DONE. Then
 * the session's rules: a Date header from another clock, replies it did not
 * ask for, times going back, a failure, two sessions at once, a freed
 * session, the order of frees.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_time.h"
#include "mxclock.h"
#include "test_util.h"

#define BASE_URL "https://matrix.example.org"
#define TOKEN "syt_c2Vzc2lvbg_SESSIONTOKEN_77"
#define SKEW_MS INT64_C(37250)
#define ONE_WAY_MS 5

/* The responder: a homeserver SKEW_MS ahead of the fake wall clock. */
typedef struct responder {
    fake_time *time;
    bool endpoint;         /* has the MSC4094 endpoint (else 404) */
    int64_t date_skew_ms;  /* Date header's clock minus the server's */
    int requests;
    int with_token;        /* requests that carried the token */
    int huge;              /* answer with a body over 64 KiB */
    /* The reply being handed back (valid during receive_response). */
    mxclock_http_header headers[2];
    char date[64];
    char body[128];
} responder;

static const char *find_header(const mxclock_http_header *h, size_t n, const char *name) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (strcmp(h[i].name, name) == 0) {
            return h[i].value;
        }
    }
    return NULL;
}

static void http_date(int64_t ms, char *buf, size_t len) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* "Sends" the request of a SEND action: moves the clock by the path's
 * delays and fills `*out` with the server's reply. */
static void respond(responder *r, const mxclock_sync_action *a, mxclock_http_response *out) {
    static char huge_body[70000];
    const char *auth = find_header(a->headers, a->n_headers, "Authorization");
    bool is_endpoint = strstr(a->url, "/get_server_now") != NULL;
    int64_t server_ms;
    r->requests++;
    if (auth != NULL && strstr(auth, TOKEN) != NULL) {
        r->with_token++;
    }
    fake_advance(r->time, ONE_WAY_MS);
    server_ms = atomic_load(&r->time->wall_ms) + SKEW_MS;
    fake_advance(r->time, ONE_WAY_MS);
    http_date(server_ms + r->date_skew_ms, r->date, sizeof r->date);
    r->headers[0].name = "Date";
    r->headers[0].value = r->date;
    r->headers[1].name = "Content-Type";
    r->headers[1].value = "application/json";
    memset(out, 0, sizeof *out);
    if (is_endpoint && r->endpoint) {
        out->status = 200;
        snprintf(r->body, sizeof r->body, "{\"server_now\":%" PRId64 "}", server_ms);
    } else if (is_endpoint) {
        out->status = 404;
        snprintf(r->body, sizeof r->body, "{\"errcode\":\"M_UNRECOGNIZED\"}");
    } else {
        out->status = 200;
        snprintf(r->body, sizeof r->body, "{\"versions\":[\"v1.11\"]}");
    }
    out->headers = r->headers;
    out->n_headers = 2;
    out->body = (const uint8_t *)r->body;
    out->body_len = strlen(r->body);
    if (r->huge) {
        out->body = (const uint8_t *)huge_body;
        out->body_len = sizeof huge_body;
    }
}

/* Drives `s` to its end; returns the status that ended it and fills
 * `*report` on DONE. */
static mxclock_status drive(mxclock_sync_session *s, responder *r, mxclock_sync_report *report) {
    int steps;
    for (steps = 0; steps < 1000; steps++) {
        mxclock_sync_action a;
        mxclock_http_response reply;
        int64_t sent;
        mxclock_status st = mxclock_sync_session_next_action(s, atomic_load(&r->time->boot_ms), &a);
        if (st != MXCLOCK_STATUS_OK) {
            return st;
        }
        switch (a.kind) {
        case MXCLOCK_SYNC_ACTION_KIND_SEND:
            sent = atomic_load(&r->time->boot_ms);
            respond(r, &a, &reply);
            st = mxclock_sync_session_receive_response(s, a.request_id, sent,
                                                       atomic_load(&r->time->boot_ms), &reply);
            if (st != MXCLOCK_STATUS_OK) {
                return st;
            }
            break;
        case MXCLOCK_SYNC_ACTION_KIND_WAIT:
            CHECK(a.until_boot_ms > atomic_load(&r->time->boot_ms));
            CHECK(a.url == NULL && a.n_headers == 0);
            fake_advance(r->time, a.until_boot_ms - atomic_load(&r->time->boot_ms));
            break;
        case MXCLOCK_SYNC_ACTION_KIND_DONE:
            *report = a.report;
            return MXCLOCK_STATUS_OK;
        }
    }
    CHECK(!"the session never ended");
    return MXCLOCK_STATUS_INTERNAL;
}

static fake_time g_time;

/* A clock on the fake time source, with no transport of its own in use. */
static mxclock_server_clock *new_clock(const char *token) {
    mxclock_config config;
    mxclock_time_source ts;
    mxclock_server_clock *clock = NULL;
    fake_init(&g_time, 50000, INT64_C(1760000000000), "c-session");
    ts = fake_source(&g_time);
    mxclock_config_default(&config);
    config.homeserver_url = BASE_URL;
    config.access_token = token;
    CHECK_OK(mxclock_new_with_sources(&config, &ts, NULL, &clock));
    return clock;
}

static responder new_responder(void) {
    responder r;
    memset(&r, 0, sizeof r);
    r.time = &g_time;
    r.endpoint = true;
    return r;
}

static int64_t boot(void) {
    return atomic_load(&g_time.boot_ms);
}

static void endpoint_sync_driven_from_c(void) {
    mxclock_server_clock *clock = new_clock(TOKEN);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_report report;
    mxclock_estimate e;
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_OK(drive(s, &r, &report));
    CHECK(report.requests == 2 && report.samples_taken == 2);
    CHECK(r.requests == 2 && r.with_token == 2);
    CHECK(report.source == MXCLOCK_SAMPLE_SOURCE_ENDPOINT && report.endpoint_supported);
    CHECK(report.has_min_rtt_ms && report.min_rtt_ms == 2 * ONE_WAY_MS);
    CHECK(!report.has_date_disagreement_ms && report.date_disagreement_ms == 0);
    CHECK_OK(mxclock_get_estimate(clock, &e));
    CHECK_I64_NEAR(e.offset_ms, SKEW_MS, e.uncertainty_ms);
    /* Half the round trip, + 1 ms resolution, + 1 ms of drift between the
     * replies, + 1 ms for reading the boot clock. */
    CHECK(e.uncertainty_ms <= ONE_WAY_MS + 3);
    mxclock_sync_session_free(s);
    mxclock_free(clock);
}

static void date_only_server_gets_probes(void) {
    mxclock_server_clock *clock = new_clock(NULL);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_report report;
    r.endpoint = false;
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_OK(drive(s, &r, &report));
    CHECK(report.source == MXCLOCK_SAMPLE_SOURCE_DATE_HEADER && !report.endpoint_supported);
    /* Narrowed to ±16 ms, then each edge confirmed by a probe that lands a
     * round trip and a few ms beyond it: 8 to 10 requests, about ±35 ms. */
    CHECK(report.requests >= 3 && report.requests <= 10);
    CHECK(report.estimate.uncertainty_ms <= 45);
    CHECK_I64_NEAR(report.estimate.offset_ms, SKEW_MS, report.estimate.uncertainty_ms);
    mxclock_sync_session_free(s);
    mxclock_free(clock);
}

static void a_date_from_another_clock_is_reported(void) {
    mxclock_server_clock *clock = new_clock(NULL);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_report report;
    r.date_skew_ms = -INT64_C(3600000); /* a proxy an hour behind */
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_OK(drive(s, &r, &report));
    CHECK(report.has_date_disagreement_ms);
    CHECK_I64_NEAR(report.date_disagreement_ms, -INT64_C(3600000) + 500, 520);
    CHECK_I64_NEAR(report.estimate.offset_ms, SKEW_MS, report.estimate.uncertainty_ms);
    mxclock_sync_session_free(s);
    mxclock_free(clock);
}

static void misuse_is_refused_with_a_status(void) {
    mxclock_server_clock *clock = new_clock(TOKEN);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_action a;
    mxclock_http_response reply;
    mxclock_sync_report report;
    int64_t sent;
    CHECK_STATUS(mxclock_start_sync(NULL, boot(), &s), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(mxclock_start_sync(clock, boot(), NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    /* A wall-clock time where a boot time belongs. */
    CHECK_STATUS(mxclock_start_sync(clock, atomic_load(&g_time.wall_ms), &s),
                 MXCLOCK_STATUS_TIME_OUT_OF_RANGE);
    CHECK_MESSAGE_HAS("ahead");
    CHECK(s == NULL);
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_STATUS(mxclock_sync_session_next_action(NULL, boot(), &a), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(mxclock_sync_session_next_action(s, boot(), NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_OK(mxclock_sync_session_next_action(s, boot(), &a));
    CHECK(a.kind == MXCLOCK_SYNC_ACTION_KIND_SEND && a.request_id != 0);
    CHECK(strcmp(a.url, BASE_URL "/_matrix/client/v3/get_server_now") == 0);
    CHECK(a.timeout_ms == 10000);
    sent = boot();
    respond(&r, &a, &reply);
    /* Time going back; the refused call changes nothing. */
    {
        mxclock_sync_action untouched;
        untouched.kind = MXCLOCK_SYNC_ACTION_KIND_DONE;
        CHECK_STATUS(mxclock_sync_session_next_action(s, sent - 1, &untouched),
                     MXCLOCK_STATUS_TIME_OUT_OF_RANGE);
        CHECK_MESSAGE_HAS("earlier");
        CHECK(untouched.kind == MXCLOCK_SYNC_ACTION_KIND_DONE);
    }
    CHECK_STATUS(mxclock_sync_session_receive_response(s, a.request_id + 1000, sent, boot(), &reply),
                 MXCLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not waiting");
    CHECK_STATUS(mxclock_sync_session_receive_response(s, a.request_id, boot(), sent, &reply),
                 MXCLOCK_STATUS_TIME_OUT_OF_RANGE);
    CHECK_STATUS(mxclock_sync_session_receive_response(s, a.request_id, sent, boot(), NULL),
                 MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_OK(mxclock_sync_session_receive_response(s, a.request_id, sent, boot(), &reply));
    CHECK_STATUS(mxclock_sync_session_receive_response(s, a.request_id, sent, boot(), &reply),
                 MXCLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_OK(drive(s, &r, &report));
    CHECK(report.requests == 2);
    mxclock_sync_session_free(s);
    mxclock_sync_session_free(NULL);
    mxclock_free(clock);
}

static void a_failure_ends_the_sync_without_the_token(void) {
    mxclock_server_clock *clock = new_clock(TOKEN);
    mxclock_sync_session *s = NULL;
    mxclock_sync_action a;
    char reason[256];
    int64_t sent;
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_OK(mxclock_sync_session_next_action(s, boot(), &a));
    CHECK(a.kind == MXCLOCK_SYNC_ACTION_KIND_SEND);
    snprintf(reason, sizeof reason, "gave up sending Authorization: %s",
             find_header(a.headers, a.n_headers, "Authorization"));
    CHECK(strstr(reason, TOKEN) != NULL);
    sent = boot();
    fake_advance(&g_time, 10000);
    CHECK_OK(mxclock_sync_session_receive_failure(s, a.request_id, sent, boot(),
                                                  MXCLOCK_STATUS_TIMEOUT, reason));
    CHECK_STATUS(mxclock_sync_session_next_action(s, boot(), &a), MXCLOCK_STATUS_TIMEOUT);
    CHECK_MESSAGE_HAS("gave up sending");
    CHECK(strstr(mxclock_last_error_message(), "SESSIONTOKEN") == NULL);
    /* Asked again: the same outcome. */
    CHECK_STATUS(mxclock_sync_session_next_action(s, boot(), &a), MXCLOCK_STATUS_TIMEOUT);
    mxclock_sync_session_free(s);
    mxclock_free(clock);
}

static void a_second_session_joins_and_takes_over_when_the_first_is_freed(void) {
    mxclock_server_clock *clock = new_clock(NULL);
    responder r = new_responder();
    mxclock_sync_session *first = NULL, *second = NULL;
    mxclock_sync_action a;
    mxclock_sync_report report;
    CHECK_OK(mxclock_start_sync(clock, boot(), &first));
    CHECK_OK(mxclock_start_sync(clock, boot(), &second));
    CHECK_OK(mxclock_sync_session_next_action(first, boot(), &a));
    CHECK(a.kind == MXCLOCK_SYNC_ACTION_KIND_SEND);
    CHECK_OK(mxclock_sync_session_next_action(second, boot(), &a));
    CHECK(a.kind == MXCLOCK_SYNC_ACTION_KIND_WAIT && a.until_boot_ms > boot());
    mxclock_sync_session_free(first); /* abandoned mid-request */
    CHECK_OK(drive(second, &r, &report));
    CHECK(report.requests == 2 && r.requests == 2);
    mxclock_sync_session_free(second);
    mxclock_free(clock);
}

static void start_if_needed_and_free_in_either_order(void) {
    mxclock_server_clock *clock = new_clock(NULL);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_report report;
    int64_t now_ms;
    CHECK_STATUS(mxclock_start_sync_if_needed(clock, boot(), NULL), MXCLOCK_STATUS_NULL_ARGUMENT);
    CHECK_OK(mxclock_start_sync_if_needed(clock, boot(), &s));
    CHECK(s != NULL);
    /* The session keeps the clock alive. */
    mxclock_free(clock);
    CHECK_OK(drive(s, &r, &report));
    mxclock_sync_session_free(s);

    clock = new_clock(NULL);
    s = NULL;
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_OK(drive(s, &r, &report));
    mxclock_sync_session_free(s);
    CHECK_OK(mxclock_server_now_ms(clock, &now_ms));
    s = (mxclock_sync_session *)&now_ms; /* written even when none starts */
    CHECK_OK(mxclock_start_sync_if_needed(clock, boot(), &s));
    CHECK(s == NULL); /* fresh estimate: not due */
    mxclock_free(clock);
}

static void an_oversized_reply_is_a_protocol_failure(void) {
    mxclock_server_clock *clock = new_clock(NULL);
    responder r = new_responder();
    mxclock_sync_session *s = NULL;
    mxclock_sync_report report;
    r.huge = 1;
    CHECK_OK(mxclock_start_sync(clock, boot(), &s));
    CHECK_STATUS(drive(s, &r, &report), MXCLOCK_STATUS_PROTOCOL_VIOLATION);
    CHECK_MESSAGE_HAS("limit");
    CHECK(strstr(mxclock_last_error_message(), "protocol error: protocol error") == NULL);
    CHECK(r.requests == 1);
    mxclock_sync_session_free(s);
    mxclock_free(clock);
}

int main(void) {
    RUN(endpoint_sync_driven_from_c);
    RUN(date_only_server_gets_probes);
    RUN(a_date_from_another_clock_is_reported);
    RUN(misuse_is_refused_with_a_status);
    RUN(a_failure_ends_the_sync_without_the_token);
    RUN(a_second_session_joins_and_takes_over_when_the_first_is_freed);
    RUN(start_if_needed_and_free_in_either_order);
    RUN(an_oversized_reply_is_a_protocol_failure);
    return finish("test_session");
}
