/* Fences from LeaseFence objects and the --config file, merged through config_parse. */
#include "fencesrc.h"
#include "xmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "informer.h"
#include "kube.h"
#include "lf_fatal.h"
#include "log.h"

#define LEASEFENCES_PATH "/apis/leasefence.io/v1alpha1/leasefences"

struct fencesrc {
    struct fencesrc_options o;
    pthread_mutex_t lock; /* everything below, and each build and publish */
    char *file;           /* the --config file's "fences" array as compact JSON; NULL: no file.  Text, not
                             jansson's tree: with 10,000 fences the tree is 10 MB, the text 1.5 */
    char *file_name;
    json_t *objects;  /* "NS/NAME" -> the LeaseFence as last read */
    json_t *outcomes; /* "NS/NAME" -> what became of it in the last table, as logged */
    bool synced;
    char why[512]; /* why not synced */
    uint64_t gen;
    char **warned; /* the warnings of the last table, logged once each */
    size_t nwarned;
    struct informer *informer;
};

/* ---- the build ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *str(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/*
 * The --config fence of LeaseFence spec SPEC in namespace NS (a new object).  Values of the wrong type are
 * passed on as they are, for config_parse to name.  *NUSERS: how many of writers.users came from
 * spec.writers.users (the service accounts follow them).
 */
static json_t *to_fence(json_t *spec, const char *ns, size_t *nusers)
{
    json_t *f = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    json_t *lease = json_object_get(f, "lease");
    *nusers = 0;
    if (json_is_string(lease)) {
        char *l = join3(ns, "/", json_string_value(lease));
        json_object_set_new(f, "lease", json_string(l));
        free(l);
    }
    json_t *w = json_object_get(f, "writers");
    json_t *sas = json_object_get(w, "serviceAccounts");
    if (json_is_object(w) && sas != NULL) {
        json_t *users = json_object_get(w, "users");
        if (users == NULL) {
            users = json_array();
            json_object_set_new(w, "users", users);
        }
        if (json_is_array(users) && json_is_array(sas)) {
            size_t i;
            json_t *sa;
            *nusers = json_array_size(users);
            json_array_foreach(sas, i, sa)
            {
                if (json_is_string(sa)) {
                    char *prefix = join3("system:serviceaccount:", ns, ":");
                    char *u = join3(prefix, json_string_value(sa), "");
                    json_array_append_new(users, json_string(u));
                    free(prefix);
                    free(u);
                } else {
                    json_array_append(users, sa);
                }
            }
            json_object_del(w, "serviceAccounts");
        }
    } else if (json_is_object(w) && json_is_array(json_object_get(w, "users"))) {
        *nusers = json_array_size(json_object_get(w, "users"));
    }
    json_t *id = json_object_get(f, "identity");
    if (json_is_string(id) && strcmp(json_string_value(id), "annotation") == 0) {
        json_t *key = json_object_get(f, "identityAnnotation");
        json_t *a = json_object();
        json_object_set(a, "annotation", key != NULL ? key : json_null());
        json_object_set_new(f, "identity", a);
        json_object_del(f, "identityAnnotation");
    }
    return f;
}

/*
 * config_parse's message MSG about the single fence of object LABEL, told in the object's terms:
 * "config 'LABEL': fences[0].identity.annotation: ..." becomes "spec.identityAnnotation: ...", and a user
 * index past NUSERS names the service account it came from.
 */
static void spec_message(const char *msg, const char *label, size_t nusers, char *out, size_t outlen)
{
    char prefix[352];
    snprintf(prefix, sizeof(prefix), "config '%s': ", label);
    if (strncmp(msg, prefix, strlen(prefix)) == 0)
        msg += strlen(prefix);
    static const char f0[] = "fences[0]";
    if (strncmp(msg, f0, sizeof(f0) - 1) != 0) {
        snprintf(out, outlen, "%s", msg);
        return;
    }
    const char *rest = msg + sizeof(f0) - 1;
    static const char ann[] = ".identity.annotation";
    static const char users[] = ".writers.users[";
    if (strncmp(rest, ann, sizeof(ann) - 1) == 0) {
        snprintf(out, outlen, "spec.identityAnnotation%s", rest + sizeof(ann) - 1);
    } else if (strncmp(rest, users, sizeof(users) - 1) == 0) {
        char *end;
        unsigned long i = strtoul(rest + sizeof(users) - 1, &end, 10);
        if (*end == ']' && i >= nusers)
            snprintf(out, outlen, "spec.writers.serviceAccounts[%lu]%s", i - nusers, end + 1);
        else
            snprintf(out, outlen, "spec%s", rest);
    } else {
        snprintf(out, outlen, "spec%s", rest);
    }
}

/* A LeaseFence may name only its own namespace's service accounts unless ANY_WRITER: a namespace's admin
 * must not fence (and so stop) writers of the whole cluster.  0, or -1 with MSG filled. */
static int own_writers(json_t *spec, const char *ns, char *msg, size_t msglen)
{
    json_t *w = json_object_get(spec, "writers");
    char *user_prefix = join3("system:serviceaccount:", ns, ":");
    char *group = join3("system:serviceaccounts:", ns, "");
    const char *const kinds[] = {"users", "groups"};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(w, kinds[k]), i, v)
        {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            bool ok =
                k == 0 ? strncmp(s, user_prefix, strlen(user_prefix)) == 0 && s[strlen(user_prefix)] != '\0'
                       : strcmp(s, group) == 0;
            if (!ok) {
                snprintf(msg, msglen,
                         "spec.writers.%s[%zu]: '%s' is not of namespace %s: a LeaseFence may fence only its "
                         "namespace's service accounts (users %s*, group %s) unless leasefence runs with "
                         "--leasefence-writers=any",
                         kinds[k], i, s, ns, user_prefix, group);
                rc = -1;
                break;
            }
        }
    }
    free(user_prefix);
    free(group);
    return rc;
}

/* Collects the strings of ARR into SET (an object used as a set). */
static void add_all(json_t *set, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            json_object_set_new(set, json_string_value(v), json_true());
    }
}

/* The keys of SET, sorted, in a new array of new strings. */
static char **sorted_keys(json_t *set, size_t *n)
{
    const char *k;
    json_t *v;
    char **out = xcalloc(json_object_size(set) + 1, sizeof(*out));
    *n = 0;
    json_object_foreach(set, k, v)
    {
        out[(*n)++] = xstrdup(k);
    }
    qsort(out, *n, sizeof(*out), cmp_str);
    return out;
}

/* Rewrites "fences[K]" with K >= NFILE in the table's warnings to the object's name. */
static void name_objects(struct fence_table *t, const struct fencesrc_view *v)
{
    for (size_t w = 0; w < t->nwarnings; w++) {
        char out[1024];
        size_t o = 0;
        const char *p = t->warnings[w];
        while (*p != '\0' && o + 1 < sizeof(out)) {
            char *end;
            if (strncmp(p, "fences[", 7) == 0) {
                unsigned long k = strtoul(p + 7, &end, 10);
                if (*end == ']' && k >= v->nfile) {
                    for (size_t i = 0; i < v->nobjects; i++) {
                        if (v->objects[i].fence == (int)k) {
                            int m = snprintf(out + o, sizeof(out) - o, "LeaseFence %s/%s", v->objects[i].ns,
                                             v->objects[i].name);
                            o += m > 0 ? (size_t)m : 0;
                            if (o >= sizeof(out))
                                o = sizeof(out) - 1;
                            break;
                        }
                    }
                    p = end + 1;
                    continue;
                }
            }
            out[o++] = *p++;
        }
        out[o] = '\0';
        free(t->warnings[w]);
        t->warnings[w] = xstrdup(out);
    }
}

static void object_init(struct fencesrc_object *o, json_t *obj)
{
    const char *ns = str(obj, "metadata", "namespace"), *name = str(obj, "metadata", "name");
    const char *uid = str(obj, "metadata", "uid"), *lease = str(obj, "spec", "lease");
    o->ns = xstrdup(ns ? ns : "");
    o->name = xstrdup(name ? name : "");
    o->uid = xstrdup(uid ? uid : "");
    o->lease = join3(o->ns, "/", lease ? lease : "");
    o->generation = json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
    o->status = json_object_get(obj, "status");
    if (o->status != NULL)
        json_incref(o->status);
    o->fence = -1;
    o->lease_idx = -1;
}

/* Checks object O (whose --config fence is F) alone; fills its state.  True when it goes into the table. */
static bool check_object(struct fencesrc_object *o, json_t *spec, json_t *f, size_t nusers, bool any_writer,
                         json_t *file_leases, const char *file_name)
{
    char label[320], err[1024], msg[1024];
    if (!any_writer && own_writers(spec, o->ns, msg, sizeof(msg)) < 0) {
        o->state = FENCESRC_FORBIDDEN;
        o->message = xstrdup(msg);
        return false;
    }
    snprintf(label, sizeof(label), "LeaseFence %s/%s", o->ns, o->name);
    json_t *doc = json_pack("{s:[O]}", "fences", f);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        lf_fatal_oom("json_dumps", 0);
    struct fence_table *one = config_parse(text, strlen(text), label, err, sizeof(err));
    free(text);
    if (one == NULL) {
        spec_message(err, label, nusers, msg, sizeof(msg));
        o->state = FENCESRC_INVALID;
        o->message = xstrdup(msg);
        return false;
    }
    config_free(one);
    json_t *idx = json_object_get(file_leases, o->lease);
    if (idx != NULL) {
        snprintf(msg, sizeof(msg),
                 "the configuration file '%s' fences Lease %s too (fences[%lld]): both fences are weighed, "
                 "so a writer named by either must pass both; remove one",
                 file_name, o->lease, (long long)json_integer_value(idx));
        o->state = FENCESRC_CONFLICT;
        o->message = xstrdup(msg);
    }
    return true;
}

struct fence_table *fencesrc_build(json_t *file_fences, const char *file_name, json_t *const *objs, size_t n,
                                   bool any_writer, struct fencesrc_view **view, char *err, size_t errlen)
{
    struct fencesrc_view *v = xcalloc(1, sizeof(*v));
    json_t *merged = json_array(), *file_leases = json_object();
    json_t *users = json_object(), *groups = json_object(), *leases = json_object();
    struct fence_table *t = NULL;
    size_t i;
    json_t *f;

    atomic_init(&v->refs, 1);
    v->objects = xcalloc(n + 1, sizeof(*v->objects));
    v->nobjects = n;
    if (file_fences != NULL) {
        json_array_extend(merged, file_fences);
        json_array_foreach(file_fences, i, f)
        {
            const char *l = str(f, "lease", NULL);
            if (l != NULL && json_object_get(file_leases, l) == NULL)
                json_object_set_new(file_leases, l, json_integer((json_int_t)i));
        }
    }
    v->nfile = json_array_size(merged);
    for (i = 0; i < n; i++) {
        struct fencesrc_object *o = &v->objects[i];
        json_t *spec = json_object_get(objs[i], "spec");
        size_t nusers;
        object_init(o, objs[i]);
        f = to_fence(spec, o->ns, &nusers);
        o->config = json_incref(f);
        if (check_object(o, spec, f, nusers, any_writer, file_leases, file_name ? file_name : "")) {
            o->fence = (int)json_array_size(merged);
            json_array_append(merged, f);
        }
        json_decref(f);
    }
    json_t *doc = json_pack("{s:O}", "fences", merged);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        lf_fatal_oom("json_dumps", 0);
    t = config_parse(text, strlen(text), file_name ? file_name : "LeaseFences", err, errlen);
    free(text);
    if (t == NULL) {
        fencesrc_view_release(v);
        v = NULL;
        goto out;
    }
    json_array_foreach(merged, i, f)
    {
        json_t *w = json_object_get(f, "writers");
        add_all(users, json_object_get(w, "users"));
        add_all(groups, json_object_get(w, "groups"));
        if (json_is_string(json_object_get(f, "lease")))
            json_object_set_new(leases, json_string_value(json_object_get(f, "lease")), json_true());
    }
    v->users = sorted_keys(users, &v->nusers);
    v->groups = sorted_keys(groups, &v->ngroups);
    v->leases = sorted_keys(leases, &v->nleases);
    name_objects(t, v);
out:
    json_decref(merged);
    json_decref(file_leases);
    json_decref(users);
    json_decref(groups);
    json_decref(leases);
    *view = v;
    return t;
}

struct fencesrc_view *fencesrc_view_ref(struct fencesrc_view *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return v;
}

static void free_strs(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void fencesrc_view_release(struct fencesrc_view *v)
{
    if (v == NULL || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < v->nobjects; i++) {
        struct fencesrc_object *o = &v->objects[i];
        free(o->ns);
        free(o->name);
        free(o->uid);
        free(o->lease);
        free(o->message);
        json_decref(o->status);
        json_decref(o->config);
    }
    free(v->objects);
    free_strs(v->users, v->nusers);
    free_strs(v->groups, v->ngroups);
    free_strs(v->leases, v->nleases);
    free(v);
}

/* ---- the source ---- */

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Logs the warnings of T that the previous table did not have. */
static void log_new_warnings(struct fencesrc *s, const struct fence_table *t)
{
    for (size_t i = 0; i < t->nwarnings; i++) {
        bool seen = false;
        for (size_t j = 0; j < s->nwarned && !seen; j++)
            seen = strcmp(s->warned[j], t->warnings[i]) == 0;
        if (!seen)
            log_event(LOGL_WARN, "configuration warning", "warning", t->warnings[i], NULL);
    }
    free_strs(s->warned, s->nwarned);
    s->warned = xcalloc(t->nwarnings + 1, sizeof(*s->warned));
    for (size_t i = 0; i < t->nwarnings; i++)
        s->warned[i] = xstrdup(t->warnings[i]);
    s->nwarned = t->nwarnings;
}

/* Logs each object whose outcome differs from the last table's, once. */
static void log_outcomes(struct fencesrc *s, const struct fencesrc_view *v)
{
    static const char *const states[] = {"fencing", "invalid", "forbidden", "conflict"};
    json_t *now = json_object();
    for (size_t i = 0; i < v->nobjects; i++) {
        const struct fencesrc_object *o = &v->objects[i];
        char key[512], what[1200];
        snprintf(key, sizeof(key), "%s/%s", o->ns, o->name);
        snprintf(what, sizeof(what), "%s %s %s", states[o->state], o->lease, o->message ? o->message : "");
        json_object_set_new(now, key, json_string(what));
        json_t *before = json_object_get(s->outcomes, key);
        if (before != NULL && strcmp(json_string_value(before), what) == 0)
            continue;
        if (o->state == FENCESRC_FENCING)
            log_event(LOGL_INFO, "LeaseFence in force", "leasefence", key, "lease", o->lease, NULL);
        else
            log_event(o->state == FENCESRC_CONFLICT ? LOGL_WARN : LOGL_ERROR,
                      o->state == FENCESRC_CONFLICT ? "LeaseFence conflicts with the configuration file"
                                                    : "LeaseFence refused",
                      "leasefence", key, "state", states[o->state], "error", o->message, NULL);
    }
    const char *k;
    json_t *val;
    json_object_foreach(s->outcomes, k, val)
    {
        if (json_object_get(now, k) == NULL)
            log_event(LOGL_INFO, "LeaseFence gone", "leasefence", k, NULL);
    }
    json_decref(s->outcomes);
    s->outcomes = now;
}

/* Builds and publishes the table of what is known now; with s->lock held. */
static int rebuild(struct fencesrc *s, char *err, size_t errlen)
{
    size_t n = json_object_size(s->objects), i = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    json_t **objs = xcalloc(n + 1, sizeof(*objs));
    const char *k;
    json_t *v;
    json_object_foreach(s->objects, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 0; i < n; i++)
        objs[i] = json_object_get(s->objects, keys[i]);
    struct fencesrc_view *view = NULL;
    json_t *file = s->file != NULL ? json_loads(s->file, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (s->file != NULL && file == NULL) /* it was dumped by jansson itself */
        lf_fatal("json_loads of the configuration's fences, as dumped");
    struct fence_table *t = fencesrc_build(file, s->file_name, objs, n, s->o.any_writer, &view, err, errlen);
    json_decref(file);
    free(keys);
    free(objs);
    if (t == NULL)
        return -1;
    view->synced = s->synced;
    view->gen = ++s->gen;
    log_new_warnings(s, t);
    log_outcomes(s, view);
    s->o.publish(s->o.ctx, t, view);
    return 0;
}

/* Rebuilds after a change of the objects; a failure keeps the table in force. */
static void rebuild_logged(struct fencesrc *s)
{
    char err[1024];
    if (rebuild(s, err, sizeof(err)) < 0)
        log_event(LOGL_ERROR, "fences not rebuilt, keeping the previous ones", "error", err, NULL);
}

static char *key_of(json_t *obj)
{
    const char *ns = str(obj, "metadata", "namespace"), *name = str(obj, "metadata", "name");
    if (ns == NULL || name == NULL)
        return NULL;
    return join3(ns, "/", name);
}

static void on_replace(void *ctx, json_t *items)
{
    struct fencesrc *s = ctx;
    size_t i;
    json_t *obj;
    pthread_mutex_lock(&s->lock);
    json_object_clear(s->objects);
    json_array_foreach(items, i, obj)
    {
        char *key = key_of(obj);
        if (key != NULL)
            json_object_set(s->objects, key, obj);
        free(key);
    }
    s->synced = true;
    s->why[0] = '\0';
    rebuild_logged(s);
    pthread_mutex_unlock(&s->lock);
}

static void on_event(void *ctx, const char *type, json_t *obj)
{
    struct fencesrc *s = ctx;
    char *key = key_of(obj);
    if (key == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    if (strcmp(type, "DELETED") == 0)
        json_object_del(s->objects, key);
    else
        json_object_set(s->objects, key, obj);
    rebuild_logged(s);
    pthread_mutex_unlock(&s->lock);
    free(key);
}

static void on_failed(void *ctx, int code, const char *err)
{
    struct fencesrc *s = ctx;
    pthread_mutex_lock(&s->lock);
    if (code == 404) {
        /* No CRD, so no LeaseFence: that is known.  (Deleting the CRD deletes every object first.) */
        bool had = json_object_size(s->objects) > 0 || !s->synced;
        json_object_clear(s->objects);
        s->synced = true;
        s->why[0] = '\0';
        if (had)
            rebuild_logged(s);
    } else {
        snprintf(s->why, sizeof(s->why), "cannot list leasefences: %s", err);
    }
    pthread_mutex_unlock(&s->lock);
}

struct fencesrc *fencesrc_new(const struct fencesrc_options *o)
{
    struct fencesrc *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    pthread_mutex_init(&s->lock, NULL);
    s->objects = json_object();
    s->outcomes = json_object();
    s->synced = o->kube == NULL;
    snprintf(s->why, sizeof(s->why), "%s", s->synced ? "" : "leasefences not listed yet");
    return s;
}

int fencesrc_load_file(struct fencesrc *s, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *buf = config_read(path, &len, err, errlen);
    if (buf == NULL)
        return -1;
    struct fence_table *t = config_parse(buf, len, path, err, errlen);
    json_t *root = t != NULL ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(buf);
    config_free(t);
    if (root == NULL)
        return -1;
    pthread_mutex_lock(&s->lock);
    char *old = s->file;
    char *old_name = s->file_name;
    s->file = json_dumps(json_object_get(root, "fences"), JSON_COMPACT);
    if (s->file == NULL)
        lf_fatal_oom("json_dumps of the configuration's fences", 0);
    s->file_name = xstrdup(path);
    int rc = rebuild(s, err, errlen);
    if (rc < 0) { /* keep the previous file part */
        free(s->file);
        free(s->file_name);
        s->file = old;
        s->file_name = old_name;
    } else {
        free(old);
        free(old_name);
    }
    pthread_mutex_unlock(&s->lock);
    json_decref(root);
    return rc;
}

int fencesrc_publish(struct fencesrc *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    int rc = rebuild(s, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int fencesrc_start(struct fencesrc *s, char *err, size_t errlen)
{
    if (s->o.kube == NULL)
        return 0;
    struct informer_handlers h = {on_replace, on_event, on_failed, s};
    s->informer = informer_new(s->o.kube, LEASEFENCES_PATH, NULL, "leasefences.leasefence.io", &h);
    return informer_start(s->informer, err, errlen);
}

void fencesrc_stop(struct fencesrc *s)
{
    if (s->informer != NULL)
        informer_stop(s->informer);
}

void fencesrc_free(struct fencesrc *s)
{
    if (s == NULL)
        return;
    informer_free(s->informer);
    free(s->file);
    json_decref(s->objects);
    json_decref(s->outcomes);
    free(s->file_name);
    free_strs(s->warned, s->nwarned);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool fencesrc_synced(struct fencesrc *s)
{
    pthread_mutex_lock(&s->lock);
    bool synced = s->synced;
    pthread_mutex_unlock(&s->lock);
    return synced;
}

void fencesrc_why_not_synced(struct fencesrc *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->lock);
    snprintf(buf, len, "%s", s->synced ? "" : s->why);
    pthread_mutex_unlock(&s->lock);
}
