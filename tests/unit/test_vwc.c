/* The webhook configuration's owned matchConditions: CEL literals, the two expressions in the base's exact
 * form, and the JSON patch that touches those two conditions and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vwc.h"

/* The expressions of manifests/base/webhook.yaml, which names no one. */
static const char base_writers[] =
    "(has(request.userInfo.username) && request.userInfo.username in []) || (has(request.userInfo.groups) && "
    "request.userInfo.groups.exists(g, g in []))";
static const char base_elections[] =
    "!(request.resource.group == 'coordination.k8s.io' && (request.resource.resource == 'leasecandidates' || "
    "(request.resource.resource == 'leases' && (request.namespace + '/' + request.name) in [])))";

static void test_cel_string(void **state)
{
    (void)state;
    char *s = vwc_cel_string("system:serviceaccount:demo:controller", 37);
    assert_string_equal(s, "'system:serviceaccount:demo:controller'");
    free(s);
    s = vwc_cel_string("o'brien\\x", 9);
    assert_string_equal(s, "'o\\'brien\\\\x'");
    free(s);
    s = vwc_cel_string("a\nb\0c", 5);
    assert_string_equal(s, "'a\\x0ab\\x00c'");
    free(s);
    s = vwc_cel_string("jöhn", strlen("jöhn")); /* UTF-8 is CEL source as it is */
    assert_string_equal(s, "'jöhn'");
    free(s);
}

static void test_expressions(void **state)
{
    (void)state;
    char *w = vwc_fenced_writers(NULL, 0, NULL, 0), *e = vwc_not_elections(NULL, 0);
    assert_string_equal(w, base_writers);
    assert_string_equal(e, base_elections);
    free(w);
    free(e);
    char *users[] = {"system:serviceaccount:demo:controller", "u2"}, *groups[] = {"g"},
         *leases[] = {"demo/x", "a/b"};
    w = vwc_fenced_writers(users, 2, groups, 1);
    assert_string_equal(
        w, "(has(request.userInfo.username) && request.userInfo.username in "
           "['system:serviceaccount:demo:controller', 'u2']) || (has(request.userInfo.groups) && "
           "request.userInfo.groups.exists(g, g in ['g']))");
    e = vwc_not_elections(leases, 2);
    assert_string_equal(
        e, "!(request.resource.group == 'coordination.k8s.io' && (request.resource.resource == "
           "'leasecandidates' || (request.resource.resource == 'leases' && (request.namespace + '/' "
           "+ request.name) in ['demo/x', 'a/b'])))");
    free(w);
    free(e);
}

static json_t *vwc_object(void)
{
    json_t *o =
        json_pack("{s:{s:s},s:[{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:[{s:[s]}]}]}", "metadata", "name",
                  "leasefence", "webhooks", "name", "fence.leasefence.io", "matchConditions", "name",
                  "not-elections", "expression", base_elections, "name", "not-events", "expression", "true",
                  "name", "fenced-writers", "expression", base_writers, "rules", "resources", "*");
    assert_non_null(o);
    return o;
}

static void test_patch_owned_only(void **state)
{
    (void)state;
    char problem[512];
    json_t *o = vwc_object();
    assert_null(vwc_patch_for(o, base_writers, base_elections, problem, sizeof(problem)));
    assert_string_equal(problem, "");

    json_t *ops = vwc_patch_for(o, "W", base_elections, problem, sizeof(problem));
    assert_non_null(ops);
    assert_string_equal(problem, "");
    char *text = json_dumps(ops, JSON_COMPACT);
    assert_string_equal(text,
                        "[{\"op\":\"test\",\"path\":\"/webhooks/0/name\",\"value\":\"fence.leasefence.io\"},"
                        "{\"op\":\"test\",\"path\":\"/webhooks/0/matchConditions/2/name\",\"value\":"
                        "\"fenced-writers\"},"
                        "{\"op\":\"replace\",\"path\":\"/webhooks/0/matchConditions/2/expression\","
                        "\"value\":\"W\"}]");
    free(text);
    json_decref(ops);

    ops = vwc_patch_for(o, "W", "E", problem, sizeof(problem));
    assert_int_equal(json_array_size(ops), 6);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 2), "path")),
                        "/webhooks/0/matchConditions/0/expression");
    json_decref(ops);
    json_decref(o);
}

static void test_patch_problems(void **state)
{
    (void)state;
    char problem[512];
    json_t *o = vwc_object();
    /* without fenced-writers: not added, reported */
    json_array_remove(json_object_get(json_array_get(json_object_get(o, "webhooks"), 0), "matchConditions"),
                      2);
    json_t *ops = vwc_patch_for(o, "W", "E", problem, sizeof(problem));
    assert_int_equal(json_array_size(ops), 3); /* not-elections is still fixed */
    assert_string_equal(problem,
                        "webhook 'fence.leasefence.io' of validatingwebhookconfiguration 'leasefence' has "
                        "no matchCondition 'fenced-writers'");
    json_decref(ops);
    /* no matchConditions at all (an API server that drops them) */
    json_object_del(json_array_get(json_object_get(o, "webhooks"), 0), "matchConditions");
    assert_null(vwc_patch_for(o, "W", "E", problem, sizeof(problem)));
    assert_string_equal(problem,
                        "no webhook of validatingwebhookconfiguration 'leasefence' has a matchCondition "
                        "'fenced-writers' (an API server older than 1.28 drops matchConditions: see the "
                        "README, Install)");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cel_string),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_patch_owned_only),
        cmocka_unit_test(test_patch_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
