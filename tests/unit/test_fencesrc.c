/* Fences from LeaseFence objects: the translation into --config fences, the validator's messages in the
 * object's terms, the namespace guard, conflicts with the file, the unions the webhook configuration names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "fencesrc.h"

static char err[1024];

static json_t *obj(const char *ns, const char *name, const char *spec)
{
    json_error_t je;
    json_t *s = json_loads(spec, 0, &je);
    if (s == NULL)
        fail_msg("bad spec in test: %s: %s", spec, je.text);
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:i},s:o}", "apiVersion", "leasefence.io/v1alpha1", "kind",
                     "LeaseFence", "metadata", "namespace", ns, "name", name, "uid", "uid-1", "generation", 3,
                     "spec", s);
}

struct built {
    struct fence_table *t;
    struct fencesrc_view *v;
};

static struct built build(json_t *file, json_t **objs, size_t n, bool any)
{
    struct built b;
    err[0] = '\0';
    b.t = fencesrc_build(file, "/etc/fences.json", objs, n, any, &b.v, err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        json_decref(objs[i]);
    return b;
}

static void release(struct built *b)
{
    config_free(b->t);
    fencesrc_view_release(b->v);
}

static int user_fence(const struct fence_table *t, const char *name)
{
    const int *idx;
    size_t n = config_find_user(t, name, strlen(name), &idx);
    return n ? idx[0] : -1;
}

static void test_translation(void **state)
{
    (void)state;
    json_t *o[] = {
        obj("demo", "controller",
            "{\"lease\":\"controller-leader\",\"writers\":{\"users\":[\"system:serviceaccount:demo:x\"],"
            "\"serviceAccounts\":[\"controller\"]},\"identity\":\"annotation\","
            "\"identityAnnotation\":\"example.com/id\",\"mode\":\"warn\",\"holderMatch\":\"hostname\","
            "\"epochAnnotation\":\"example.com/epoch\"}")};
    struct built b = build(NULL, o, 1, false);
    assert_non_null(b.t);
    assert_int_equal(b.t->nfences, 1);
    const struct fence *f = &b.t->fences[0];
    assert_string_equal(f->lease, "demo/controller-leader");
    assert_int_equal(f->identity, IDENTITY_ANNOTATION);
    assert_string_equal(f->identity_annotation, "example.com/id");
    assert_int_equal(f->mode, FENCE_WARN);
    assert_int_equal(f->holder_match, HOLDER_MATCH_HOSTNAME);
    assert_string_equal(f->epoch_annotation, "example.com/epoch");
    assert_int_equal(user_fence(b.t, "system:serviceaccount:demo:controller"), 0);
    assert_int_equal(user_fence(b.t, "system:serviceaccount:demo:x"), 0);
    assert_int_equal(b.v->nobjects, 1);
    assert_int_equal(b.v->objects[0].state, FENCESRC_FENCING);
    assert_int_equal(b.v->objects[0].fence, 0);
    assert_int_equal(b.v->objects[0].generation, 3);
    assert_string_equal(b.v->objects[0].lease, "demo/controller-leader");
    assert_int_equal(b.v->nusers, 2);
    assert_string_equal(b.v->users[0], "system:serviceaccount:demo:controller");
    assert_string_equal(b.v->users[1], "system:serviceaccount:demo:x");
    assert_int_equal(b.v->nleases, 1);
    assert_string_equal(b.v->leases[0], "demo/controller-leader");
    release(&b);
}

/* The defaults are config_parse's: podName, enforce, and holderMatch hostname for podName. */
static void test_defaults(void **state)
{
    (void)state;
    json_t *o[] = {obj("demo", "c", "{\"lease\":\"l\",\"writers\":{\"serviceAccounts\":[\"controller\"]}}")};
    struct built b = build(NULL, o, 1, false);
    assert_non_null(b.t);
    assert_int_equal(b.t->fences[0].identity, IDENTITY_POD_NAME);
    assert_int_equal(b.t->fences[0].mode, FENCE_ENFORCE);
    assert_int_equal(b.t->fences[0].holder_match, HOLDER_MATCH_HOSTNAME);
    release(&b);
}

static void expect_refused(const char *spec, bool any, enum fencesrc_state state, const char *msg)
{
    json_t *o[] = {obj("demo", "c", spec),
                   obj("demo", "ok", "{\"lease\":\"l2\",\"writers\":{\"serviceAccounts\":[\"other\"]}}")};
    struct built b = build(NULL, o, 2, any);
    assert_non_null(b.t);
    assert_int_equal(b.v->objects[0].state, state);
    assert_int_equal(b.v->objects[0].fence, -1);
    assert_string_equal(b.v->objects[0].message, msg);
    /* the other object is in force, alone */
    assert_int_equal(b.t->nfences, 1);
    assert_int_equal(b.v->objects[1].state, FENCESRC_FENCING);
    assert_int_equal(b.v->objects[1].fence, 0);
    assert_int_equal(b.v->nleases, 1);
    release(&b);
}

static void test_invalid_in_spec_terms(void **state)
{
    (void)state;
    expect_refused("{\"lease\":\"l\",\"writers\":{\"serviceAccounts\":[\"a\"]},\"mode\":\"bogus\"}", false,
                   FENCESRC_INVALID, "spec.mode: must be one of enforce, warn, audit");
    expect_refused("{\"lease\":\"L_x\",\"writers\":{\"serviceAccounts\":[\"a\"]}}", false, FENCESRC_INVALID,
                   "spec.lease: name 'L_x' is not a valid Lease name (RFC 1123 subdomain)");
    expect_refused("{\"lease\":\"l\",\"writers\":{\"serviceAccounts\":[\"a\"]},\"identity\":\"annotation\"}",
                   false, FENCESRC_INVALID,
                   "spec.identityAnnotation: must be an annotation key ([PREFIX/]NAME)");
    expect_refused("{\"lease\":\"l\",\"writers\":{\"users\":[\"system:serviceaccount:demo:a\"],"
                   "\"serviceAccounts\":[\"b\",\"a\"]}}",
                   false, FENCESRC_INVALID,
                   "spec.writers.serviceAccounts[1]: 'system:serviceaccount:demo:a' is listed twice");
    expect_refused("{\"lease\":\"l\",\"writers\":{}}", false, FENCESRC_INVALID,
                   "spec.writers: must name at least one user or group");
    expect_refused("{\"writers\":{\"serviceAccounts\":[\"a\"]}}", false, FENCESRC_INVALID,
                   "spec.lease: is required");
    expect_refused("{\"lease\":\"l\",\"writers\":{\"serviceAccounts\":[\"a\"]},\"colour\":\"red\"}", false,
                   FENCESRC_INVALID, "spec.colour: unknown field");
}

static void test_namespace_guard(void **state)
{
    (void)state;
    expect_refused("{\"lease\":\"l\",\"writers\":{\"users\":[\"alice\"]}}", false, FENCESRC_FORBIDDEN,
                   "spec.writers.users[0]: 'alice' is not of namespace demo: a LeaseFence may fence only its "
                   "namespace's service accounts (users system:serviceaccount:demo:*, group "
                   "system:serviceaccounts:demo) unless leasefence runs with --leasefence-writers=any");
    expect_refused(
        "{\"lease\":\"l\",\"writers\":{\"users\":[\"system:serviceaccount:other:x\"]}}", false,
        FENCESRC_FORBIDDEN,
        "spec.writers.users[0]: 'system:serviceaccount:other:x' is not of namespace demo: a LeaseFence "
        "may fence only its namespace's service accounts (users system:serviceaccount:demo:*, group "
        "system:serviceaccounts:demo) unless leasefence runs with --leasefence-writers=any");
    expect_refused(
        "{\"lease\":\"l\",\"writers\":{\"groups\":[\"system:masters\"]}}", false, FENCESRC_FORBIDDEN,
        "spec.writers.groups[0]: 'system:masters' is not of namespace demo: a LeaseFence may fence "
        "only its namespace's service accounts (users system:serviceaccount:demo:*, group "
        "system:serviceaccounts:demo) unless leasefence runs with --leasefence-writers=any");
    /* the namespace's own service accounts and group pass; with any, everyone does */
    json_t *o[] = {
        obj("demo", "c",
            "{\"lease\":\"l\",\"writers\":{\"users\":[\"system:serviceaccount:demo:a\"],"
            "\"groups\":[\"system:serviceaccounts:demo\"]}}"),
        obj("demo", "d", "{\"lease\":\"l\",\"writers\":{\"users\":[\"alice\"],\"groups\":[\"g\"]}}")};
    struct built b = build(NULL, o, 2, true);
    assert_int_equal(b.v->objects[0].state, FENCESRC_FENCING);
    assert_int_equal(b.v->objects[1].state, FENCESRC_FENCING);
    assert_int_equal(b.v->ngroups, 2);
    release(&b);
}

static void test_file_and_conflicts(void **state)
{
    (void)state;
    json_t *file =
        json_loads("[{\"lease\":\"demo/l\",\"writers\":{\"users\":[\"system:serviceaccount:demo:a\"]}},"
                   " {\"lease\":\"ops/x\",\"writers\":{\"groups\":[\"ops\"]}}]",
                   0, NULL);
    json_t *o[] = {
        obj("demo", "same-lease", "{\"lease\":\"l\",\"writers\":{\"serviceAccounts\":[\"b\"]}}"),
        obj("demo", "shared-writer", "{\"lease\":\"m\",\"writers\":{\"serviceAccounts\":[\"a\"]}}")};
    struct built b = build(file, o, 2, false);
    assert_non_null(b.t);
    assert_int_equal(b.v->nfile, 2);
    assert_int_equal(b.t->nfences, 4); /* both sources, nothing dropped */
    assert_string_equal(b.t->fences[0].lease, "demo/l");
    assert_string_equal(b.t->fences[2].lease, "demo/l");
    assert_int_equal(b.v->objects[0].state, FENCESRC_CONFLICT);
    assert_int_equal(b.v->objects[0].fence, 2);
    assert_string_equal(b.v->objects[0].message,
                        "the configuration file '/etc/fences.json' fences Lease demo/l too (fences[0]): both "
                        "fences are weighed, so a writer named by either must pass both; remove one");
    assert_int_equal(b.v->objects[1].state, FENCESRC_FENCING);
    /* a writer of the file and of an object: weighed against both, the warning names the object */
    const int *idx;
    assert_int_equal(config_find_user(b.t, "system:serviceaccount:demo:a", 28, &idx), 2);
    assert_int_equal(b.t->nwarnings, 1);
    assert_string_equal(
        b.t->warnings[0],
        "config '/etc/fences.json': LeaseFence demo/shared-writer.writers.users[0]: user "
        "'system:serviceaccount:demo:a' is also a writer of fences[0]: its writes must pass every "
        "fence that names it");
    assert_int_equal(b.v->nleases, 3);
    assert_int_equal(b.v->ngroups, 1);
    assert_string_equal(b.v->groups[0], "ops");
    json_decref(file);
    release(&b);
}

static void test_empty(void **state)
{
    (void)state;
    struct built b = build(NULL, NULL, 0, false);
    assert_non_null(b.t);
    assert_int_equal(b.t->nfences, 0);
    assert_int_equal(b.v->nusers + b.v->ngroups + b.v->nleases, 0);
    release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation),           cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_invalid_in_spec_terms), cmocka_unit_test(test_namespace_guard),
        cmocka_unit_test(test_file_and_conflicts),    cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
