/*
 * A C function-pointer transport: what mxclock asks of it (URL, headers,
 * timeout), how it answers (a fixed body, a deterministic server, a 404
 * with a Date header), its failures, and the memory rule (C owns the
 * response; mxclock copies it and calls free_response once per answer).
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
#define ENDPOINT_URL BASE_URL "/_matrix/client/v3/get_server_now"
#define VERSIONS_URL BASE_URL "/_matrix/client/versions"
#define TOKEN "syt_transport_token_99"
#define FIXED_SERVER_MS INT64_C(1750000000000)

enum mode {
    FIXED_BODY,      /* {"server_now": FIXED_SERVER_MS} every time */
    FAKE_SERVER,     /* a server on the fake clock, 10 ms round trips */
    NOT_FOUND_DATE,  /* 404 M_UNRECOGNIZED with a Date header */
    FAIL_NETWORK,    /* get returns 7 */
    FAIL_TIMEOUT,    /* get returns MXCLOCK_STATUS_TIMEOUT */
    HUGE_BODY,       /* body_len over 64 KiB */
    NULL_HEADER,     /* a header with a NULL name */
    NULL_BODY        /* body NULL with a non-zero length */
};

typedef struct transport_state {
    enum mode mode;
    fake_time *time;   /* FAKE_SERVER / NOT_FOUND_DATE */
    int64_t server_minus_boot_ms;
    int gets;
    int frees;
    int endpoint_gets;
    int versions_gets;
    int bad_requests;  /* requests missing what they must carry */
    uint64_t last_timeout_ms;
    char last_url[256];
} transport_state;

/* What one answer allocates; freed by free_response. */
typedef struct answer {
    mxclock_http_header headers[2];
    char date[64];
    char *body;
} answer;

static const char *find_header(const mxclock_http_header *h, size_t n, const char *name) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (h[i].name != NULL && strcmp(h[i].name, name) == 0) {
            return h[i].value;
        }
    }
    return NULL;
}

static void http_date(int64_t server_ms, char *buf, size_t len) {
    time_t secs = (time_t)(server_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int get(void *userdata, const char *url, const mxclock_http_header *headers, size_t n_headers,
               uint64_t timeout_ms, mxclock_http_response *out) {
    transport_state *t = (transport_state *)userdata;
    answer *a;
    int64_t server_ms = FIXED_SERVER_MS;
    const char *cache = find_header(headers, n_headers, "Cache-Control");
    t->gets++;
    t->last_timeout_ms = timeout_ms;
    snprintf(t->last_url, sizeof t->last_url, "%s", url);
    if (strcmp(url, ENDPOINT_URL) == 0) {
        const char *auth = find_header(headers, n_headers, "Authorization");
        t->endpoint_gets++;
        if (auth == NULL || strcmp(auth, "Bearer " TOKEN) != 0) {
            t->bad_requests++;
        }
    } else if (strcmp(url, VERSIONS_URL) == 0) {
        t->versions_gets++;
        /* The token goes to the MSC4094 endpoint only. */
        if (find_header(headers, n_headers, "Authorization") != NULL) {
            t->bad_requests++;
        }
    } else {
        t->bad_requests++;
    }
    if (cache == NULL || strcmp(cache, "no-cache") != 0) {
        t->bad_requests++;
    }
    switch (t->mode) {
    case FAIL_NETWORK:
        return 7;
    case FAIL_TIMEOUT:
        return MXCLOCK_STATUS_TIMEOUT;
    default:
        break;
    }
    if (t->time != NULL) {
        /* 5 ms up, the server reads its clock, 5 ms down. */
        fake_advance(t->time, 5);
        server_ms = atomic_load(&t->time->boot_ms) + t->server_minus_boot_ms;
        fake_advance(t->time, 5);
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        return 12;
    }
    a->body = malloc(128);
    if (a->body == NULL) {
        free(a);
        return 12;
    }
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->response_userdata = a;
    out->headers = a->headers;
    if (t->mode == NOT_FOUND_DATE) {
        out->status = 404;
        snprintf(a->body, 128, "{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"Unrecognized request\"}");
        if (strcmp(url, VERSIONS_URL) == 0) {
            out->status = 200;
            snprintf(a->body, 128, "{\"versions\":[\"v1.12\"]}");
        }
        http_date(server_ms, a->date, sizeof a->date);
        a->headers[0].name = "Date";
        a->headers[0].value = a->date;
        out->n_headers = 1;
    } else {
        snprintf(a->body, 128, "{\"server_now\":%" PRId64 "}", server_ms);
        a->headers[0].name = "Content-Type";
        a->headers[0].value = "application/json";
        out->n_headers = 1;
    }
    out->body = (const uint8_t *)a->body;
    out->body_len = strlen(a->body);
    if (t->mode == HUGE_BODY) {
        out->body_len = 70000; /* rejected before anything is read */
    } else if (t->mode == NULL_HEADER) {
        a->headers[1].name = NULL;
        a->headers[1].value = "x";
        out->n_headers = 2;
    } else if (t->mode == NULL_BODY) {
        out->body = NULL;
    }
    return 0;
}

static void free_response(void *userdata, mxclock_http_response *response) {
    transport_state *t = (transport_state *)userdata;
    answer *a = (answer *)response->response_userdata;
    t->frees++;
    free(a->body);
    free(a);
}

static mxclock_http_transport make_transport(transport_state *t) {
    mxclock_http_transport tr;
    tr.userdata = t;
    tr.get = get;
    tr.free_response = free_response;
    return tr;
}

static mxclock_server_clock *transport_clock(transport_state *t, fake_time *time, uint32_t burst) {
    mxclock_config c;
    mxclock_http_transport tr = make_transport(t);
    mxclock_time_source src;
    mxclock_server_clock *clock = NULL;
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = BASE_URL;
    c.access_token = TOKEN;
    c.request_timeout_ms = 4321;
    c.policy.date_probe_budget = 2;
    c.policy.max_samples_per_sync = burst;
    if (time != NULL) {
        src = fake_source(time);
        CHECK_OK(mxclock_new_with_sources(&c, &src, &tr, &clock));
    } else {
        CHECK_OK(mxclock_new_with_sources(&c, NULL, &tr, &clock));
    }
    return clock;
}

static void test_fixed_body(void) {
    transport_state t;
    mxclock_server_clock *clock;
    mxclock_sync_report r;
    int64_t now = 0;
    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    t.mode = FIXED_BODY;
    /* One request: the same time repeated over a slow (valgrind) burst is
     * a server clock standing still, which mxclock rightly rejects. */
    clock = transport_clock(&t, NULL, 1);
    CHECK_OK(mxclock_sync(clock, &r));
    CHECK(r.source == MXCLOCK_SAMPLE_SOURCE_ENDPOINT && r.endpoint_supported);
    CHECK(r.requests == 1 && t.gets == 1);
    CHECK(t.frees == t.gets);
    CHECK(t.bad_requests == 0);
    CHECK(t.last_timeout_ms == 4321);
    CHECK(strcmp(t.last_url, ENDPOINT_URL) == 0);
    CHECK_OK(mxclock_server_now_ms(clock, &now));
    /* The server said FIXED_SERVER_MS a moment ago. */
    CHECK(now >= FIXED_SERVER_MS && now <= FIXED_SERVER_MS + 1000);
    mxclock_free(clock);
}

static void test_deterministic_server(void) {
    transport_state t;
    fake_time time;
    mxclock_server_clock *clock;
    mxclock_sync_report r;
    int64_t truth;
    memset(&t, 0, sizeof t);
    fake_init(&time, 5000, INT64_C(1700000000000), "boot-1");
    t.mode = FAKE_SERVER;
    t.time = &time;
    t.server_minus_boot_ms = INT64_C(1750000000000) - 5000;
    clock = transport_clock(&t, &time, 4);
    CHECK_OK(mxclock_sync(clock, &r));
    /* Every exchange takes 10 ms on the fake clock: the estimate is within
     * 5 ms (+1 for the endpoint's whole-ms resolution, +1 for the drift
     * allowed the older of the two replies that back the bounds, +1 for
     * reading the boot clock) of the truth. */
    CHECK(r.has_min_rtt_ms && r.min_rtt_ms == 10);
    CHECK(r.estimate.uncertainty_ms <= 8);
    truth = atomic_load(&time.boot_ms) + t.server_minus_boot_ms;
    CHECK_I64_NEAR(r.estimate.server_now_ms, truth, r.estimate.uncertainty_ms);
    CHECK(r.estimate.samples == r.samples_taken);
    CHECK((int)r.requests == t.gets && t.frees == t.gets && t.bad_requests == 0);
    mxclock_free(clock);
}

static void test_not_found_uses_date(void) {
    transport_state t;
    fake_time time;
    mxclock_server_clock *clock;
    mxclock_sync_report r;
    memset(&t, 0, sizeof t);
    fake_init(&time, 5000, INT64_C(1700000000000), "boot-1");
    t.mode = NOT_FOUND_DATE;
    t.time = &time;
    t.server_minus_boot_ms = INT64_C(1750000000000) - 5000;
    clock = transport_clock(&t, &time, 4);
    CHECK_OK(mxclock_sync(clock, &r));
    CHECK(r.source == MXCLOCK_SAMPLE_SOURCE_DATE_HEADER);
    CHECK(!r.endpoint_supported);
    CHECK(t.endpoint_gets == 1);
    CHECK(t.versions_gets >= 1);
    CHECK(t.frees == t.gets && t.bad_requests == 0);
    /* Two Date replies (the budget): neither alone sets an edge, so the
     * bound holds both seconds, about ±0.75 s. */
    CHECK(r.estimate.uncertainty_ms <= 1020);
    mxclock_free(clock);
}

static void test_failures(void) {
    transport_state t;
    mxclock_server_clock *clock;
    mxclock_sync_report r, untouched;
    const struct {
        enum mode mode;
        mxclock_status want;
        const char *message;
    } cases[] = {
        {FAIL_NETWORK, MXCLOCK_STATUS_NETWORK, "code 7"},
        {FAIL_TIMEOUT, MXCLOCK_STATUS_TIMEOUT, "timed out after 4321 ms: GET " ENDPOINT_URL},
        {HUGE_BODY, MXCLOCK_STATUS_PROTOCOL_VIOLATION, "70000 bytes"},
        {NULL_HEADER, MXCLOCK_STATUS_PROTOCOL_VIOLATION, "NULL header name"},
        {NULL_BODY, MXCLOCK_STATUS_PROTOCOL_VIOLATION, "NULL body"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&t, 0, sizeof t);
        t.mode = cases[i].mode;
        clock = transport_clock(&t, NULL, 4);
        memset(&untouched, 0x42, sizeof untouched);
        r = untouched;
        CHECK_STATUS(mxclock_sync(clock, &r), cases[i].want);
        CHECK_MESSAGE_HAS(cases[i].message);
        CHECK(strstr(mxclock_last_error_message(), TOKEN) == NULL);
        CHECK(memcmp(&r, &untouched, sizeof r) == 0);
        /* Every answer that came back was released, failures included. */
        if (cases[i].mode == FAIL_NETWORK || cases[i].mode == FAIL_TIMEOUT) {
            CHECK(t.frees == 0);
        } else {
            CHECK(t.frees == t.gets);
        }
        mxclock_free(clock);
    }
}

/* A transport without free_response: a static answer, nothing to free. */
static int static_get(void *userdata, const char *url, const mxclock_http_header *headers,
                      size_t n_headers, uint64_t timeout_ms, mxclock_http_response *out) {
    static const char body[] = "{\"server_now\":1750000000000}";
    (void)url;
    (void)headers;
    (void)n_headers;
    (void)timeout_ms;
    (*(int *)userdata)++;
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->body = (const uint8_t *)body;
    out->body_len = sizeof body - 1;
    return 0;
}

static void test_no_free_response(void) {
    int calls = 0;
    mxclock_http_transport tr;
    mxclock_config c;
    mxclock_server_clock *clock = NULL;
    int64_t now = 0;
    tr.userdata = &calls;
    tr.get = static_get;
    tr.free_response = NULL;
    CHECK_OK(mxclock_config_default(&c));
    c.homeserver_url = BASE_URL;
    c.policy.max_samples_per_sync = 1;
    CHECK_OK(mxclock_new_with_sources(&c, NULL, &tr, &clock));
    CHECK_OK(mxclock_sync(clock, NULL));
    CHECK(calls == 1);
    CHECK_OK(mxclock_server_now_ms(clock, &now));
    CHECK(now >= FIXED_SERVER_MS && now <= FIXED_SERVER_MS + 1000);
    mxclock_free(clock);
}

/* A server that echoes the token in another spelling: percent-encoded,
 * JSON-escaped, upper-cased, in a Matrix error or a redirect's Location. */
#define ECHO_TOKEN "syt+c4p1/EchoSecret+0123=="

enum echo { ECHO_PERCENT_401, ECHO_JSON_500, ECHO_UPPER_403, ECHO_LOCATION_302, ECHO_COUNT };

static int echo_get(void *userdata, const char *url, const mxclock_http_header *headers,
                    size_t n_headers, uint64_t timeout_ms, mxclock_http_response *out) {
    static mxclock_http_header location[1] = {
        {"Location", "https://syt%2Bc4p1%2FEchoSecret%2B0123%3D%3D.evil.example/"}};
    static const char percent[] =
        "{\"errcode\":\"M_UNKNOWN_TOKEN\",\"error\":\"unknown syt%2bc4p1%2fechosecret%2B0123%3d%3D\"}";
    static const char json[] =
        "{\"errcode\":\"M_UNKNOWN\",\"error\":\"crash on syt\\u002bc4p1\\/EchoSecret\\u002B0123\"}";
    static const char upper[] =
        "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"SYT+C4P1/ECHOSECRET+0123== may not\"}";
    enum echo e = *(enum echo *)userdata;
    (void)url;
    (void)headers;
    (void)n_headers;
    (void)timeout_ms;
    memset(out, 0, sizeof *out);
    switch (e) {
    case ECHO_PERCENT_401:
        out->status = 401;
        out->body = (const uint8_t *)percent;
        out->body_len = sizeof percent - 1;
        break;
    case ECHO_JSON_500:
        out->status = 500;
        out->body = (const uint8_t *)json;
        out->body_len = sizeof json - 1;
        break;
    case ECHO_UPPER_403:
        out->status = 403;
        out->body = (const uint8_t *)upper;
        out->body_len = sizeof upper - 1;
        break;
    default:
        out->status = 302;
        out->headers = location;
        out->n_headers = 1;
        break;
    }
    return 0;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* `in` with %XX, \uXXXX and \/ decoded and ASCII lower-cased: what a reader
 * of the message could turn back into the token. */
static void decode_lower(const char *in, char *out, size_t cap) {
    size_t o = 0;
    while (*in != '\0' && o + 1 < cap) {
        int c = (unsigned char)*in, len = 1;
        if (in[0] == '%' && hex_value(in[1]) >= 0 && hex_value(in[2]) >= 0) {
            c = hex_value(in[1]) * 16 + hex_value(in[2]);
            len = 3;
        } else if (in[0] == '\\' && in[1] == 'u' && in[2] == '0' && in[3] == '0' &&
                   hex_value(in[4]) >= 0 && hex_value(in[5]) >= 0) {
            c = hex_value(in[4]) * 16 + hex_value(in[5]);
            len = 6;
        } else if (in[0] == '\\' && in[1] == '/') {
            c = '/';
            len = 2;
        }
        out[o++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        in += len;
    }
    out[o] = '\0';
}

static void test_echoed_token_never_in_last_error_message(void) {
    char token[64], message[2048], piece[9];
    size_t i, len;
    enum echo e;
    decode_lower(ECHO_TOKEN, token, sizeof token);
    len = strlen(token);
    for (e = ECHO_PERCENT_401; e < ECHO_COUNT; e++) {
        mxclock_http_transport tr;
        mxclock_config c;
        mxclock_server_clock *clock = NULL;
        tr.userdata = &e;
        tr.get = echo_get;
        tr.free_response = NULL;
        CHECK_OK(mxclock_config_default(&c));
        c.homeserver_url = BASE_URL;
        c.access_token = ECHO_TOKEN;
        CHECK_OK(mxclock_new_with_sources(&c, NULL, &tr, &clock));
        CHECK_STATUS(mxclock_sync(clock, NULL), MXCLOCK_STATUS_HTTP);
        decode_lower(mxclock_last_error_message(), message, sizeof message);
        /* No 8 characters of the token, in any of those spellings. */
        for (i = 0; i + 8 <= len; i++) {
            memcpy(piece, token + i, 8);
            piece[8] = '\0';
            if (strstr(message, piece) != NULL) {
                fprintf(stderr, "  echo %d: \"%s\" of the token in: %s\n", (int)e, piece,
                        mxclock_last_error_message());
                CHECK(0);
                break;
            }
        }
        mxclock_free(clock);
    }
}

int main(void) {
    RUN(test_fixed_body);
    RUN(test_deterministic_server);
    RUN(test_not_found_uses_date);
    RUN(test_failures);
    RUN(test_no_free_response);
    RUN(test_echoed_token_never_in_last_error_message);
    return finish("test_transport");
}
