/* LeaseFence status: the Ready condition's reason for each state of the object, the webhook configuration
 * and the Lease, and the status object (lastTransitionTime kept while the condition's status stays). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fencesrc.h"
#include "fixture.h"
#include "status.h"
#include "tracker.h"
#include "vwc.h"

#define SEC 1000000000LL
static const int64_t now = 1000 * SEC;

static struct fencesrc_object object(void)
{
    struct fencesrc_object o = {0};
    o.ns = "demo";
    o.name = "controller";
    o.uid = "uid-1";
    o.lease = "demo/controller-leader";
    o.generation = 2;
    o.state = FENCESRC_FENCING;
    o.fence = 0;
    o.lease_idx = 0;
    o.config = json_pack("{s:s,s:{s:[s],s:[]},s:s}", "lease", "demo/controller-leader", "writers", "users",
                         "system:serviceaccount:demo:controller", "groups", "mode", "enforce");
    return o;
}

static struct lease_snapshot held(void)
{
    return fixture_lease_held("demo", "controller-leader", "controller-0", now);
}

static struct vwc_state in_step(void)
{
    struct vwc_state vs = {0};
    vs.known = vs.in_step = true;
    vs.writers_expr = "(has(request.userInfo.username) && request.userInfo.username in "
                      "['system:serviceaccount:demo:controller']) || (has(request.userInfo.groups) && "
                      "request.userInfo.groups.exists(g, g in []))";
    vs.elections_expr =
        "!(request.resource.group == 'coordination.k8s.io' && (request.resource.resource == "
        "'leasecandidates' || (request.resource.resource == 'leases' && (request.namespace + '/' + "
        "request.name) in ['demo/controller-leader'])))";
    return vs;
}

static void expect_ready(const struct fencesrc_object *o, const struct lease_snapshot *s,
                         const struct vwc_state *vs, bool ready, const char *reason, const char *message)
{
    struct status_ready r;
    status_ready(o, s, vs, now, 30 * SEC, &r);
    assert_int_equal(r.ready, ready);
    assert_string_equal(r.reason, reason);
    if (message != NULL)
        assert_string_equal(r.message, message);
}

static void test_fencing(void **state)
{
    (void)state;
    struct fencesrc_object o = object();
    struct lease_snapshot s = held();
    struct vwc_state vs = in_step();
    expect_ready(
        &o, &s, &vs, true, "Fencing",
        "enforce: only replica \"controller-0\", the holder of Lease demo/controller-leader, may write");
    expect_ready(&o, &s, NULL, true, "Fencing", NULL); /* no webhook configuration kept */
    json_decref(o.config);
}

static void test_object_states(void **state)
{
    (void)state;
    struct fencesrc_object o = object();
    struct lease_snapshot s = held();
    struct vwc_state vs = in_step();
    o.message = "spec.mode: must be one of enforce, warn, audit";
    o.state = FENCESRC_INVALID;
    expect_ready(&o, &s, &vs, false, "InvalidSpec", "spec.mode: must be one of enforce, warn, audit");
    o.state = FENCESRC_FORBIDDEN;
    expect_ready(&o, &s, &vs, false, "WriterNotAllowed", NULL);
    o.state = FENCESRC_CONFLICT;
    expect_ready(&o, &s, &vs, false, "ConflictsWithConfig", NULL);
    json_decref(o.config);
}

static void test_webhook_configuration(void **state)
{
    (void)state;
    struct fencesrc_object o = object();
    struct lease_snapshot s = held();
    struct vwc_state vs = in_step();
    vs.writers_expr = "(has(request.userInfo.username) && request.userInfo.username in []) || x";
    vs.in_step = false;
    snprintf(vs.error, sizeof(vs.error),
             "cannot patch validatingwebhookconfiguration 'leasefence': 403 Forbidden");
    expect_ready(
        &o, &s, &vs, false, "WebhookConfigurationNotUpdated",
        "the webhook configuration does not name this fence's writers and Lease yet, so the API server "
        "does not send their writes: cannot patch validatingwebhookconfiguration 'leasefence': 403 "
        "Forbidden");
    /* a fence the configuration names is not affected by another's failure */
    struct vwc_state ok = in_step();
    ok.in_step = false;
    snprintf(ok.error, sizeof(ok.error), "cannot patch");
    expect_ready(&o, &s, &ok, true, "Fencing", NULL);
    /* a name that only appears inside another literal does not count */
    ok.writers_expr = "x in ['evil\\'system:serviceaccount:demo:controller']";
    expect_ready(&o, &s, &ok, false, "WebhookConfigurationNotUpdated", NULL);
    struct vwc_state unknown = {0};
    snprintf(unknown.error, sizeof(unknown.error), "validatingwebhookconfiguration 'leasefence' not found");
    expect_ready(&o, &s, &unknown, false, "WebhookConfigurationUnknown",
                 "validatingwebhookconfiguration 'leasefence' not found");
    json_decref(o.config);
}

static void test_lease_states(void **state)
{
    (void)state;
    struct fencesrc_object o = object();
    struct vwc_state vs = in_step();
    struct lease_snapshot s = held();
    expect_ready(&o, NULL, &vs, false, "LeaseNotSynced", NULL);
    s.known = false;
    expect_ready(&o, &s, &vs, false, "LeaseNotSynced", NULL);
    s = held();
    s.exists = false;
    expect_ready(
        &o, &s, &vs, false, "LeaseNotFound",
        "Lease demo/controller-leader does not exist: every write of the fenced writers fails (no-lease)");
    s = held();
    s.holder = "";
    s.holder_len = 0;
    expect_ready(&o, &s, &vs, false, "LeaseReleased", NULL);
    s = held();
    s.changed_mono_ns = now - 20 * SEC;
    expect_ready(
        &o, &s, &vs, false, "LeaseExpired",
        "the holder \"controller-0\" of Lease demo/controller-leader stopped renewing it 5s ago: every "
        "write of the fenced writers fails (expired)");
    json_decref(o.config);
}

static void test_object(void **state)
{
    (void)state;
    struct fencesrc_object o = object();
    struct lease_snapshot s = held();
    struct status_ready r = {true, "Fencing", "m"};
    s.holder = "pod-a\0x"; /* a Go string may hold NUL: written whole */
    s.holder_len = 7;
    json_t *st = status_object(&o, &s, &r, 5, 2, "2026-01-01T00:00:00Z");
    char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text, "{\"allowed\":5,\"conditions\":[{\"lastTransitionTime\":\"2026-01-01T00:00:00Z\","
              "\"message\":\"m\",\"observedGeneration\":2,\"reason\":\"Fencing\",\"status\":\"True\","
              "\"type\":\"Ready\"}],\"denied\":2,\"epoch\":\"u1/3\",\"holder\":\"pod-a\\u0000x\","
              "\"observedGeneration\":2}");
    free(text);
    /* stored with the same condition status: lastTransitionTime kept; another status: now */
    o.status = st;
    json_t *again = status_object(&o, &s, &r, 6, 2, "2026-01-01T00:05:00Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(again, "conditions"), 0), "lastTransitionTime")),
                        "2026-01-01T00:00:00Z");
    struct status_ready nr = {false, "LeaseExpired", "x"};
    json_t *flip = status_object(&o, &s, &nr, 6, 2, "2026-01-01T00:05:00Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(flip, "conditions"), 0), "lastTransitionTime")),
                        "2026-01-01T00:05:00Z");
    /* no Lease: holder and epoch empty */
    s.exists = false;
    json_t *none = status_object(&o, &s, &nr, 0, 0, "t");
    assert_string_equal(json_string_value(json_object_get(none, "holder")), "");
    assert_string_equal(json_string_value(json_object_get(none, "epoch")), "");
    json_decref(none);
    json_decref(flip);
    json_decref(again);
    json_decref(st);
    json_decref(o.config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fencing),
        cmocka_unit_test(test_object_states),
        cmocka_unit_test(test_webhook_configuration),
        cmocka_unit_test(test_lease_states),
        cmocka_unit_test(test_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
