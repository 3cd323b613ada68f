/*
 * The decision on real AdmissionReviews captured from real clusters by others
 * (../shared/corpus/admission-real, or $LEASEFENCE_ADMISSION_CORPUS): status
 * updates whose metadata kube-apiserver reset, DELETEs that carry only
 * oldObject, UPDATEs that leave an annotation as stored, CREATEs.  Each body's
 * own writer is fenced with annotation identity on an annotation the body
 * carries, and the Lease is held by that annotation's value: only a write that
 * set the tag itself may count as the holder.  Bodies whose token carries a pod
 * name are also fenced by podName, with a client-go holder "<pod>_<uuid>".
 */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "decide.h"
#include "fixture.h"

#define SEC 1000000000LL
#define NOW (1000 * SEC)

static const char *corpus_dir(void)
{
    const char *d = getenv("LEASEFENCE_ADMISSION_CORPUS");
    return d != NULL && d[0] != '\0' ? d : "../shared/corpus/admission-real";
}

static void *heap_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = test_malloc(size ? size : 1); /* the arena below frees them all */
    return p;
}

/* Every allocation of one review, freed together. */
struct arena {
    void *p[4096];
    size_t n;
};

static void *arena_alloc(void *ctx, size_t size)
{
    struct arena *a = ctx;
    assert_true(a->n < sizeof(a->p) / sizeof(a->p[0]));
    return a->p[a->n++] = heap_alloc(NULL, size);
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        test_free(a->p[i]);
    a->n = 0;
}

/* The request of FILE as an AdmissionReview v1 body (request-only captures are wrapped); NULL for a
 * file that is not JSON (a documentation example with comments: nothing kube-apiserver sends). */
static char *review_body(const char *path, json_t **request)
{
    json_error_t e;
    json_t *root = json_load_file(path, JSON_DECODE_ANY, &e);
    if (root == NULL) {
        print_message("# %s: not JSON (%s), not a review kube-apiserver could send\n", path, e.text);
        return NULL;
    }
    json_t *req = json_object_get(root, "request");
    if (req == NULL) {
        json_t *w = json_pack("{s:s, s:s, s:O}", "apiVersion", "admission.k8s.io/v1", "kind",
                              "AdmissionReview", "request", root);
        json_decref(root);
        root = w;
        req = json_object_get(root, "request");
    }
    *request = json_incref(req);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return body;
}

static const char *annotation(json_t *req, const char *obj, const char **key)
{
    json_t *ann = json_object_get(json_object_get(json_object_get(req, obj), "metadata"), "annotations");
    const char *k;
    json_t *v;
    json_object_foreach(ann, k, v)
    {
        if (json_is_string(v)) {
            *key = k;
            return json_string_value(v);
        }
    }
    return NULL;
}

static void weigh(const struct review *r, const struct fence_table *t, const struct lease_snapshot *s,
                  struct decision *d)
{
    int idx[4];
    struct fence_check checks[4];
    const struct lease_snapshot *snaps[4];
    size_t n = decide_fences(r, t, idx, 4);
    assert_int_equal(n, 1);
    snaps[0] = s;
    decide_check(r, t, idx[0], s, NOW, 30 * SEC, &checks[0]);
    decide(r, t, checks, snaps, n, d);
}

static struct lease_snapshot held_by(const char *holder)
{
    return fixture_lease_held("demo", "leader", holder, NOW);
}

/* One corpus body under an annotation fence; returns 1 when it carried an annotation to fence on. */
static int annotation_case(const char *name, const char *body, json_t *req, int *seen)
{
    const char *key = NULL, *object_value, *old_value, *okey = NULL,
               *op = json_string_value(json_object_get(req, "operation"));
    const char *user = json_string_value(json_object_get(json_object_get(req, "userInfo"), "username"));
    object_value = annotation(req, "object", &key);
    old_value = annotation(req, "oldObject", &okey);
    if (user == NULL || (object_value == NULL && old_value == NULL))
        return 0;
    if (object_value == NULL)
        key = okey;
    /* the holder is the tag's value: the new object's when the write set one, else the stored one's
       (which the old code took as the writer's identity); the part before '#' is the identity */
    json_t *ov = json_object_get(
        json_object_get(json_object_get(json_object_get(req, "oldObject"), "metadata"), "annotations"), key);
    json_t *nv = json_object_get(
        json_object_get(json_object_get(json_object_get(req, "object"), "metadata"), "annotations"), key);
    char holder[512];
    snprintf(holder, sizeof(holder), "%s",
             json_is_string(nv) ? json_string_value(nv) : json_string_value(ov));
    holder[strcspn(holder, "#")] = '\0';
    json_t *cfg = json_pack("{s:[{s:s, s:{s:[s]}, s:{s:s}}]}", "fences", "lease", "demo/leader", "writers",
                            "users", user, "identity", "annotation", key);
    char *text = json_dumps(cfg, 0), err[512];
    json_decref(cfg);
    struct fence_table *t = config_parse(text, strlen(text), name, err, sizeof(err));
    free(text);
    if (t == NULL) /* an annotation key our configuration refuses (not a qualified name) */
        return 0;

    struct arena a = {.n = 0};
    struct review r;
    if (review_decode(&r, body, strlen(body), &t->want, arena_alloc, &a, err, sizeof(err)) != 0) {
        /* a capture artefact ("oldObject": "None"): refused with a reason, as the server would */
        print_message("# %s: refused: %s\n", name, err);
        arena_free(&a);
        config_free(t);
        return 0;
    }
    struct lease_snapshot s = held_by(holder);
    struct decision d;
    weigh(&r, t, &s, &d);

    bool is_delete = strcmp(op, "DELETE") == 0;
    bool unchanged = json_is_string(ov) && json_is_string(nv) && json_equal(ov, nv);
    const char *want = is_delete || unchanged ? "untagged" : "holder";
    print_message("# %s: %s%s%s, annotation '%s': %s\n", name, op,
                  json_is_string(json_object_get(req, "subResource")) ? " " : "",
                  json_is_string(json_object_get(req, "subResource"))
                      ? json_string_value(json_object_get(req, "subResource"))
                      : "",
                  key, decide_reason_name(d.reason));
    if (strcmp(decide_reason_name(d.reason), want) != 0)
        fail_msg("%s: %s with annotation '%s' %s: want %s, got %s", name, op, key,
                 is_delete   ? "(DELETE: only oldObject)"
                 : unchanged ? "(left as stored)"
                             : "(set by the write)",
                 want, decide_reason_name(d.reason));
    seen[is_delete ? 0 : unchanged ? 1 : 2]++;
    arena_free(&a);
    config_free(t);
    return 1;
}

/* A body whose token carries a pod name, under a podName fence held by "<pod>_<uuid>". */
static void pod_case(const char *name, const char *body, json_t *req, int *seen)
{
    json_t *pods = json_object_get(json_object_get(json_object_get(req, "userInfo"), "extra"),
                                   "authentication.kubernetes.io/pod-name");
    const char *user = json_string_value(json_object_get(json_object_get(req, "userInfo"), "username"));
    if (!json_is_string(json_array_get(pods, 0)) || user == NULL)
        return;
    json_t *cfg =
        json_pack("{s:[{s:s, s:{s:[s]}}]}", "fences", "lease", "demo/leader", "writers", "users", user);
    char *text = json_dumps(cfg, 0), err[512], holder[300];
    json_decref(cfg);
    struct fence_table *t = config_parse(text, strlen(text), name, err, sizeof(err));
    free(text);
    assert_non_null(t);
    struct arena a = {.n = 0};
    struct review r;
    struct decision d;
    if (review_decode(&r, body, strlen(body), &t->want, arena_alloc, &a, err, sizeof(err)) != 0)
        fail_msg("%s: %s", name, err);
    snprintf(holder, sizeof(holder), "%s_3f2c9a6e-2b1d-4c7e-9f0a-1d2e3f4a5b6c",
             json_string_value(json_array_get(pods, 0)));
    struct lease_snapshot s = held_by(holder);
    weigh(&r, t, &s, &d);
    assert_string_equal(decide_reason_name(d.reason), "holder");
    snprintf(holder, sizeof(holder), "%sx_3f2c", json_string_value(json_array_get(pods, 0)));
    s = held_by(holder);
    weigh(&r, t, &s, &d);
    assert_string_equal(decide_reason_name(d.reason), "not-holder");
    seen[3]++;
    arena_free(&a);
    config_free(t);
}

static void test_real_reviews(void **state)
{
    (void)state;
    const char *dir = corpus_dir();
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("the real AdmissionReview corpus is not at '%s' (set LEASEFENCE_ADMISSION_CORPUS)", dir);
    int seen[4] = {0}, files = 0; /* deletes, left as stored, set by the write, pod names */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[4096];
        json_t *req;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *body = review_body(path, &req);
        if (body == NULL)
            continue;
        const char *op = json_string_value(json_object_get(req, "operation"));
        if (op != NULL &&
            (strcmp(op, "CREATE") == 0 || strcmp(op, "UPDATE") == 0 || strcmp(op, "DELETE") == 0)) {
            files += annotation_case(e->d_name, body, req, seen);
            pod_case(e->d_name, body, req, seen);
        }
        json_decref(req);
        free(body);
    }
    closedir(d);
    print_message(
        "# %d bodies fenced by annotation: %d DELETEs, %d UPDATEs leaving the tag as stored, %d writes "
        "setting it; %d fenced by pod name\n",
        files, seen[0], seen[1], seen[2], seen[3]);
    /* the corpus holds each kind; if it shrinks, this test must say so rather than pass on nothing */
    assert_true(seen[0] >= 1);
    assert_true(seen[1] >= 1);
    assert_true(seen[2] >= 3);
    assert_true(seen[3] >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_reviews),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
