/* Metrics text: per-thread counters summed, fixed names, histogram shape, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "version.h"

static void *heap(void *ctx, size_t size)
{
    void **list = ctx;
    void *p = malloc(size);
    assert_non_null(p);
    /* keep every block: metrics_render copies into a bigger one and drops the old */
    for (int i = 0; i < 64; i++) {
        if (list[i] == NULL) {
            list[i] = p;
            return p;
        }
    }
    fail_msg("too many blocks");
    return NULL;
}

static char *render(void)
{
    static void *blocks[64];
    char *text, *copy;
    size_t len;
    memset(blocks, 0, sizeof(blocks));
    metrics_render(NULL, NULL, 0, heap, blocks, &text, &len);
    copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    return copy;
}

/* The value of the sample line starting with PREFIX followed by a space, or -1. */
static double value(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* A sample line and the value it must have. */
struct sample {
    const char *line;
    double value;
};

/* Each of the N samples of WANT is in TEXT with exactly its value. */
static void expect_samples(const char *text, const struct sample *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double got = value(text, want[i].line);
        if (got != want[i].value)
            fail_msg("%s is %g, want %g", want[i].line, got, want[i].value);
    }
}

static void test_counters_are_summed_over_threads(void **state)
{
    (void)state;
    struct metrics_thread *a = metrics_thread_new(), *b = metrics_thread_new();
    metrics_count_request(a, -1, FENCE_ENFORCE, REASON_UNFENCED, true, 50000);
    metrics_count_request(b, -1, FENCE_ENFORCE, REASON_UNFENCED, true, 50000);
    metrics_count_request(b, -1, FENCE_ENFORCE, REASON_LEASE, true, 300000);
    metrics_count_request(a, -1, FENCE_ENFORCE, REASON_UNKNOWN, false, 2000000000ULL);
    metrics_count_bad_request(a, 400);
    metrics_count_bad_request(b, 400);
    metrics_count_bad_request(b, 415);
    metrics_count_bad_request(b, 999); /* not a tracked code: ignored */
    metrics_in_flight(a, 1);
    metrics_config_reload(true);
    metrics_config_reload(false);
    metrics_config_reload(false);
    metrics_certificate_reload(true);
    metrics_set_certificate_expiry(1827142867);
    char *t = render();
    static const struct sample want[] = {
        {"leasefence_admission_requests_total{decision=\"allowed\",reason=\"unfenced\",fence=\"\",mode=\"\"}",
         2},
        {"leasefence_admission_requests_total{decision=\"allowed\",reason=\"lease\",fence=\"\",mode=\"\"}",
         1},
        {"leasefence_admission_requests_total{decision=\"denied\",reason=\"unknown\",fence=\"\",mode=\"\"}",
         1},
        {"leasefence_admission_request_duration_seconds_bucket{le=\"0.0001\"}", 2},
        {"leasefence_admission_request_duration_seconds_bucket{le=\"0.0005\"}", 3},
        {"leasefence_admission_request_duration_seconds_bucket{le=\"1\"}", 3},
        {"leasefence_admission_request_duration_seconds_bucket{le=\"+Inf\"}", 4},
        {"leasefence_admission_request_duration_seconds_count", 4},
        {"leasefence_admission_in_flight_requests", 1},
        {"leasefence_bad_requests_total{code=\"400\"}", 2},
        {"leasefence_bad_requests_total{code=\"415\"}", 1},
        {"leasefence_config_reloads_total{result=\"ok\"}", 1},
        {"leasefence_config_reloads_total{result=\"failed\"}", 2},
        {"leasefence_certificate_reloads_total{result=\"ok\"}", 1},
        {"leasefence_certificate_expiry_timestamp_seconds", 1827142867},
    };
    expect_samples(t, want, sizeof(want) / sizeof(want[0]));
    double sum = value(t, "leasefence_admission_request_duration_seconds_sum");
    assert_true(sum > 2.0003 && sum < 2.0005);
    assert_true(value(t, "leasefence_build_info{version=\"" LEASEFENCE_VERSION
                         "\",commit=\"" LEASEFENCE_COMMIT "\"}") == 1);
    assert_true(value(t, "process_resident_memory_bytes") > 0);
    assert_true(value(t, "process_open_fds") > 0);
    assert_true(value(t, "process_max_fds") > 0);
    assert_true(value(t, "process_start_time_seconds") > 1e9);
    assert_true(value(t, "process_cpu_seconds_total") >= 0);
    free(t);
}

/* 10,000 fences: a Lease index far past the first chunk of counters is counted like the first. */
static void test_counters_of_lease_10000(void **state)
{
    (void)state;
    struct metrics_thread *a = metrics_thread_new(), *b = metrics_thread_new();
    uint64_t passed, failed;
    metrics_count_check(a, 9999, FENCE_ENFORCE, REASON_HOLDER);
    metrics_count_check(b, 9999, FENCE_ENFORCE, REASON_HOLDER);
    metrics_count_check(b, 9999, FENCE_ENFORCE, REASON_NOT_HOLDER);
    metrics_count_check(a, 0, FENCE_ENFORCE, REASON_HOLDER);
    metrics_fence_checks(9999, &passed, &failed);
    assert_int_equal((int)passed, 2);
    assert_int_equal((int)failed, 1);
    metrics_fence_checks(9998, &passed, &failed); /* same chunk, never counted */
    assert_int_equal((int)(passed + failed), 0);
    metrics_fence_checks(METRICS_MAX_LEASES, &passed, &failed); /* past the cap: nothing, no crash */
    assert_int_equal((int)(passed + failed), 0);
}

static void test_every_family_has_help_and_type(void **state)
{
    (void)state;
    static const char *const families[] = {
        "leasefence_admission_requests_total counter",
        "leasefence_admission_request_duration_seconds histogram",
        "leasefence_admission_in_flight_requests gauge",
        "leasefence_bad_requests_total counter",
        "leasefence_strict_reads_total counter",
        "leasefence_strict_waits_total counter",
        "leasefence_strict_wait_duration_seconds histogram",
        "leasefence_strict_overturned_total counter",
        "leasefence_lease_holder_info gauge",
        "leasefence_lease_transitions gauge",
        "leasefence_lease_last_change_age_seconds gauge",
        "leasefence_lease_synced gauge",
        "leasefence_lease_expired gauge",
        "leasefence_watch_restarts_total counter",
        "leasefence_kube_api_requests_total counter",
        "leasefence_config_reloads_total counter",
        "leasefence_certificate_reloads_total counter",
        "leasefence_certificate_expiry_timestamp_seconds gauge",
        "leasefence_build_info gauge",
        "process_cpu_seconds_total counter",
        "process_resident_memory_bytes gauge",
        "process_open_fds gauge",
        "process_max_fds gauge",
        "process_start_time_seconds gauge",
    };
    char *t = render();
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char want[128], help[128];
        snprintf(want, sizeof(want), "\n# TYPE %s\n", families[i]);
        snprintf(help, sizeof(help), "# HELP %.*s ", (int)(strchr(families[i], ' ') - families[i]),
                 families[i]);
        if (strstr(t, want) == NULL && strncmp(t, want + 1, strlen(want + 1)) != 0)
            fail_msg("no '%s'", families[i]);
        assert_non_null(strstr(t, help));
    }
    assert_int_equal(t[strlen(t) - 1], '\n');
    free(t);
}

/* Strict waits: counted by result over threads, their duration in a histogram, overturned checks summed. */
static void test_strict_waits(void **state)
{
    (void)state;
    struct metrics_thread *a = metrics_thread_new(), *b = metrics_thread_new();
    metrics_count_strict_wait(a, STRICT_FRESH, 300000, 0);       /* 0.3 ms */
    metrics_count_strict_wait(b, STRICT_FRESH, 2000000, 1);      /* 2 ms, one check overturned */
    metrics_count_strict_wait(b, STRICT_TIMEOUT, 1000500000, 0); /* past the 1 s budget */
    metrics_count_strict_wait(a, STRICT_GONE, 50000000, 0);
    metrics_count_strict_wait(a, STRICT_RESULTS, 1, 5); /* not a result: ignored */
    char *t = render();
    static const struct sample want[] = {
        {"leasefence_strict_waits_total{result=\"fresh\"}", 2},
        {"leasefence_strict_waits_total{result=\"failed\"}", 0},
        {"leasefence_strict_waits_total{result=\"timeout\"}", 1},
        {"leasefence_strict_waits_total{result=\"gone\"}", 1},
        {"leasefence_strict_wait_duration_seconds_bucket{le=\"0.0005\"}", 1},
        {"leasefence_strict_wait_duration_seconds_bucket{le=\"0.0025\"}", 2},
        {"leasefence_strict_wait_duration_seconds_bucket{le=\"1\"}", 3},
        {"leasefence_strict_wait_duration_seconds_bucket{le=\"2.5\"}", 4},
        {"leasefence_strict_wait_duration_seconds_bucket{le=\"+Inf\"}", 4},
        {"leasefence_strict_wait_duration_seconds_count", 4},
        {"leasefence_strict_overturned_total", 1},
        {"leasefence_strict_reads_total{result=\"read\"}", 0}, /* no tracker */
    };
    expect_samples(t, want, sizeof(want) / sizeof(want[0]));
    free(t);
}

int main(void)
{
    metrics_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_are_summed_over_threads),
        cmocka_unit_test(test_counters_of_lease_10000),
        cmocka_unit_test(test_every_family_has_help_and_type),
        cmocka_unit_test(test_strict_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
