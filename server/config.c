/* Fence configuration: strict JSON validation with jansson (load time only, never per request). */
#include "config.h"
#include "xmem.h"

#include "lf_duration.h"
#include "lf_file.h"
#include "lf_name.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A configuration larger than this is a mistake, not a fence table. */
#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

struct config_slot {
    char *key; /* NULL: empty slot */
    size_t len;
    int *idx; /* the fences naming KEY, ascending */
    size_t n;
};

const char *config_mode_name(enum fence_mode m)
{
    switch (m) {
    case FENCE_WARN:
        return "warn";
    case FENCE_AUDIT:
        return "audit";
    case FENCE_ENFORCE:
        break;
    }
    return "enforce";
}

const char *config_consistency_name(enum fence_consistency c)
{
    return c == CONSISTENCY_STRICT ? "strict" : "watch";
}

const char *config_holder_match_name(enum fence_holder_match m)
{
    return m == HOLDER_MATCH_EXACT ? "exact" : "hostname";
}

/* A hash of A, then (when B is not NULL) of B after A: "NS/NAME" keys hash as their two parts, without
 * being built.  Eight bytes a step (names are tens of bytes: this is on every request's path). */
static uint64_t hash_part(uint64_t h, const char *s, size_t len)
{
    const uint64_t m = 0x9E3779B97F4A7C15ULL;
    uint64_t w;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * m;
        h ^= h >> 29;
    }
    w = len;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)(unsigned char)s[i] << (8 * i + 8); /* at most 7 bytes, after the length */
    h = (h ^ w) * m;
    return h ^ (h >> 32);
}

static uint64_t hash(const char *a, size_t alen, const char *b, size_t blen)
{
    uint64_t h = hash_part(14695981039346656037ULL, a, alen);
    return b == NULL ? h : hash_part(h, b, blen);
}

static bool key_is(const struct config_slot *s, const char *a, size_t alen, const char *b, size_t blen)
{
    if (b == NULL)
        return s->len == alen && memcmp(s->key, a, alen) == 0;
    return s->len == alen + 1 + blen && memcmp(s->key, a, alen) == 0 && s->key[alen] == '/' &&
           memcmp(s->key + alen + 1, b, blen) == 0;
}

static const struct config_slot *find(const struct config_slot *slots, size_t cap, const char *a, size_t alen,
                                      const char *b, size_t blen)
{
    if (cap == 0)
        return NULL;
    for (size_t i = hash(a, alen, b, blen) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (slots[i].key == NULL)
            return NULL;
        if (key_is(&slots[i], a, alen, b, blen))
            return &slots[i];
    }
}

static size_t found(const struct config_slot *s, const int **idx)
{
    *idx = s != NULL ? s->idx : NULL;
    return s != NULL ? s->n : 0;
}

size_t config_find_user(const struct fence_table *t, const char *name, size_t len, const int **idx)
{
    return found(find(t->users, t->users_cap, name, len, NULL, 0), idx);
}

size_t config_find_group(const struct fence_table *t, const char *name, size_t len, const int **idx)
{
    return found(find(t->groups, t->groups_cap, name, len, NULL, 0), idx);
}

bool config_is_fenced_lease(const struct fence_table *t, const char *ns, size_t nslen, const char *name,
                            size_t namelen)
{
    return find(t->leases, t->leases_cap, ns, nslen, name, namelen) != NULL;
}

/*
 * Adds fence IDX to the entry NAME[0..LEN), at slot I or after it (made when missing).  Fences are added in
 * ascending order, so each entry's list stays sorted.  Returns the fence that
 * named NAME before (its lowest index), -1 when none; IDX itself when it did.
 */
static int insert_at(struct config_slot *slots, size_t cap, const char *name, size_t len, size_t i, int idx)
{
    for (; slots[i].key != NULL; i = (i + 1) & (cap - 1))
        if (key_is(&slots[i], name, len, NULL, 0))
            break;
    struct config_slot *s = &slots[i];
    if (s->key == NULL) {
        s->key = xstrdup(name);
        s->len = len;
    } else if (s->idx[s->n - 1] == idx) {
        return idx;
    }
    s->idx = xrealloc(s->idx, (s->n + 1) * sizeof(*s->idx));
    s->idx[s->n++] = idx;
    return s->n > 1 ? s->idx[0] : -1;
}

/* insert_at for the user or group NAME. */
static int insert(struct config_slot *slots, size_t cap, const char *name, int idx)
{
    size_t len = strlen(name);
    size_t i = hash(name, len, NULL, 0) & (cap - 1);
    return insert_at(slots, cap, name, len, i, idx);
}

/* Inserts the Lease key "NS/NAME" (hashed as its two parts, as config_is_fenced_lease looks it up). */
static void insert_lease(struct config_slot *slots, size_t cap, const char *key, int idx)
{
    size_t len = strlen(key), nslen = (size_t)(strchr(key, '/') - key);
    size_t i = hash(key, nslen, key + nslen + 1, len - nslen - 1) & (cap - 1);
    insert_at(slots, cap, key, len, i, idx);
}

static size_t table_cap(size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

static void free_slots(struct config_slot *slots, size_t cap)
{
    if (slots == NULL)
        return;
    for (size_t i = 0; i < cap; i++) {
        free(slots[i].key);
        free(slots[i].idx);
    }
    free(slots);
}

void config_free(struct fence_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nfences; i++) {
        free(t->fences[i].lease);
        free(t->fences[i].ns);
        free(t->fences[i].name);
        free(t->fences[i].identity_annotation);
        free(t->fences[i].epoch_annotation);
    }
    free(t->fences);
    free_slots(t->users, t->users_cap);
    free_slots(t->groups, t->groups_cap);
    free_slots(t->leases, t->leases_cap);
    free(t->annotation_keys);
    free(t->want_keys);
    for (size_t i = 0; i < t->nwarnings; i++)
        free(t->warnings[i]);
    free(t->warnings);
    free(t);
}

/* ---- validation ---- */

struct ctx {
    const char *name;
    char *err;
    size_t errlen;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path[0] != '\0')
        snprintf(c->err, c->errlen, "config '%s': %s: %s", c->name, path, msg);
    else
        snprintf(c->err, c->errlen, "config '%s': %s", c->name, msg);
    return -1;
}

static void warn(struct fence_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct fence_table *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    t->warnings = xrealloc(t->warnings, (t->nwarnings + 1) * sizeof(*t->warnings));
    t->warnings[t->nwarnings++] = xstrdup(msg);
}

static bool is_alnum_lower(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
    return is_alnum_lower(ch) || (ch >= 'A' && ch <= 'Z');
}

/* Kubernetes qualified name (annotation key): [PREFIX/]NAME. */
static bool qualified_name(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *n = s;
    if (slash != NULL) {
        if (!lf_name_subdomain(s, (size_t)(slash - s)))
            return false;
        n = slash + 1;
    }
    size_t len = strlen(n);
    if (len == 0 || len > 63 || !is_alnum(n[0]) || !is_alnum(n[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.')
            return false;
    return true;
}

/* Rejects any key of OBJ not in ALLOWED (NULL-terminated). */
static int only_keys(struct ctx *c, const char *path, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool found = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            found = found || strcmp(key, allowed[i]) == 0;
        if (!found) {
            char p[256];
            if (path[0] != '\0')
                snprintf(p, sizeof(p), "%s.%s", path, key);
            else
                snprintf(p, sizeof(p), "%s", key);
            return fail(c, p, "unknown field");
        }
    }
    return 0;
}

static int parse_lease(struct ctx *c, const char *path, json_t *v, struct fence *f)
{
    char e[512];
    size_t ns_len = 0;
    if (!json_is_string(v))
        return fail(c, path, "must be a string \"NAMESPACE/NAME\"");
    const char *s = json_string_value(v);
    if (lf_name_split_lease(s, &ns_len, e, sizeof(e)) != 0)
        return fail(c, path, "%s", e);
    f->lease = xstrdup(s);
    f->ns = xstrndup(s, ns_len);
    f->name = xstrdup(s + ns_len + 1);
    return 0;
}

static int parse_identity(struct ctx *c, const char *path, json_t *v, struct fence *f)
{
    static const char *const keys[] = {"annotation", NULL};
    const char *msg = "must be \"podName\", \"username\" or {\"annotation\": \"KEY\"}";
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "podName") == 0)
            f->identity = IDENTITY_POD_NAME;
        else if (strcmp(json_string_value(v), "username") == 0)
            f->identity = IDENTITY_USERNAME;
        else
            return fail(c, path, "%s", msg);
        return 0;
    }
    if (!json_is_object(v))
        return fail(c, path, "%s", msg);
    if (only_keys(c, path, v, keys) < 0)
        return -1;
    json_t *a = json_object_get(v, "annotation");
    char p[256];
    snprintf(p, sizeof(p), "%s.annotation", path);
    if (a == NULL)
        return fail(c, path, "%s", msg);
    if (!json_is_string(a) || !qualified_name(json_string_value(a)))
        return fail(c, p, "must be an annotation key ([PREFIX/]NAME)");
    f->identity = IDENTITY_ANNOTATION;
    f->identity_annotation = xstrdup(json_string_value(a));
    return 0;
}

static int parse_mode(struct ctx *c, const char *path, json_t *v, struct fence *f)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, "enforce") == 0)
        f->mode = FENCE_ENFORCE;
    else if (strcmp(s, "warn") == 0)
        f->mode = FENCE_WARN;
    else if (strcmp(s, "audit") == 0)
        f->mode = FENCE_AUDIT;
    else
        return fail(c, path, "must be one of enforce, warn, audit");
    return 0;
}

/* Checks writers.users / writers.groups of fence IDX and adds them to the hash table. */
static int parse_names(struct ctx *c, const char *path, json_t *arr, struct fence_table *t, bool users,
                       int idx, size_t *count)
{
    size_t i;
    json_t *v;
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return fail(c, path, "must be an array of strings");
    json_array_foreach(arr, i, v)
    {
        char p[256];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (!json_is_string(v) || json_string_length(v) == 0)
            return fail(c, p, "must be a non-empty string");
        int other = users ? insert(t->users, t->users_cap, json_string_value(v), idx)
                          : insert(t->groups, t->groups_cap, json_string_value(v), idx);
        if (other == idx)
            return fail(c, p, "'%s' is listed twice", json_string_value(v));
        if (other >= 0)
            warn(t,
                 "config '%s': %s: %s '%s' is also a writer of fences[%d]: its writes must pass every fence "
                 "that names it",
                 c->name, p, users ? "user" : "group", json_string_value(v), other);
        (*count)++;
    }
    return 0;
}

static int parse_holder_match(struct ctx *c, const char *path, json_t *v, struct fence *f)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, "exact") == 0)
        f->holder_match = HOLDER_MATCH_EXACT;
    else if (strcmp(s, "hostname") == 0)
        f->holder_match = HOLDER_MATCH_HOSTNAME;
    else
        return fail(c, path, "must be one of hostname, exact");
    return 0;
}

static int parse_consistency(struct ctx *c, const char *path, json_t *v, struct fence *f)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, "watch") == 0)
        f->consistency = CONSISTENCY_WATCH;
    else if (strcmp(s, "strict") == 0)
        f->consistency = CONSISTENCY_STRICT;
    else
        return fail(c, path, "must be one of watch, strict");
    return 0;
}

/* Adds KEY to the table's annotation keys unless it is there already. */
static void want_annotation(struct fence_table *t, const char *key)
{
    for (size_t i = 0; i < t->nannotation_keys; i++)
        if (strcmp(t->annotation_keys[i], key) == 0)
            return;
    t->annotation_keys =
        xrealloc(t->annotation_keys, (t->nannotation_keys + 1) * sizeof(*t->annotation_keys));
    t->annotation_keys[t->nannotation_keys++] = key;
}

static size_t array_len(json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : 0;
}

static int parse_fence(struct ctx *c, size_t idx, json_t *v, struct fence_table *t)
{
    static const char *const keys[] = {"lease", "writers",         "identity",    "holderMatch",
                                       "mode",  "epochAnnotation", "consistency", NULL};
    static const char *const wkeys[] = {"users", "groups", NULL};
    struct fence *f = &t->fences[idx];
    char path[64], p[96];
    json_t *x;
    size_t nwriters = 0;

    snprintf(path, sizeof(path), "fences[%zu]", idx);
    f->lease_idx = -1;
    f->identity = IDENTITY_POD_NAME;
    f->mode = FENCE_ENFORCE;
    if (!json_is_object(v))
        return fail(c, path, "must be an object");
    if (only_keys(c, path, v, keys) < 0)
        return -1;

    snprintf(p, sizeof(p), "%s.lease", path);
    if ((x = json_object_get(v, "lease")) == NULL)
        return fail(c, p, "is required");
    if (parse_lease(c, p, x, f) < 0)
        return -1;

    snprintf(p, sizeof(p), "%s.writers", path);
    if ((x = json_object_get(v, "writers")) == NULL)
        return fail(c, p, "is required");
    if (!json_is_object(x))
        return fail(c, p, "must be an object {\"users\": [...], \"groups\": [...]}");
    if (only_keys(c, p, x, wkeys) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.writers.users", path);
    if (parse_names(c, p, json_object_get(x, "users"), t, true, (int)idx, &nwriters) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.writers.groups", path);
    if (parse_names(c, p, json_object_get(x, "groups"), t, false, (int)idx, &nwriters) < 0)
        return -1;
    if (nwriters == 0) {
        snprintf(p, sizeof(p), "%s.writers", path);
        return fail(c, p, "must name at least one user or group");
    }

    snprintf(p, sizeof(p), "%s.identity", path);
    if ((x = json_object_get(v, "identity")) != NULL && parse_identity(c, p, x, f) < 0)
        return -1;
    f->holder_match = f->identity == IDENTITY_POD_NAME ? HOLDER_MATCH_HOSTNAME : HOLDER_MATCH_EXACT;
    snprintf(p, sizeof(p), "%s.holderMatch", path);
    if ((x = json_object_get(v, "holderMatch")) != NULL && parse_holder_match(c, p, x, f) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.mode", path);
    if ((x = json_object_get(v, "mode")) != NULL && parse_mode(c, p, x, f) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.epochAnnotation", path);
    if ((x = json_object_get(v, "epochAnnotation")) != NULL) {
        if (!json_is_string(x) || !qualified_name(json_string_value(x)))
            return fail(c, p, "must be an annotation key ([PREFIX/]NAME)");
        f->epoch_annotation = xstrdup(json_string_value(x));
    }
    snprintf(p, sizeof(p), "%s.consistency", path);
    if ((x = json_object_get(v, "consistency")) != NULL && parse_consistency(c, p, x, f) < 0)
        return -1;
    if (f->identity_annotation != NULL)
        want_annotation(t, f->identity_annotation);
    if (f->epoch_annotation != NULL)
        want_annotation(t, f->epoch_annotation);
    insert_lease(t->leases, t->leases_cap, f->lease, (int)idx);
    return 0;
}

struct fence_table *config_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    static const char *const keys[] = {"fences", NULL};
    struct ctx c = {name, err, errlen};
    struct fence_table *t = NULL;
    json_error_t jerr;
    json_t *root, *fences, *v;
    size_t i, nusers = 0, ngroups = 0;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fail(&c, "", "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        fail(&c, "", "must be a JSON object {\"fences\": [...]}");
        goto out;
    }
    if (only_keys(&c, "", root, keys) < 0)
        goto out;
    fences = json_object_get(root, "fences");
    if (fences == NULL) {
        fail(&c, "fences", "is required");
        goto out;
    }
    if (!json_is_array(fences)) {
        fail(&c, "fences", "must be an array");
        goto out;
    }
    json_array_foreach(fences, i, v)
    {
        json_t *w = json_is_object(v) ? json_object_get(v, "writers") : NULL;
        if (json_is_object(w)) {
            nusers += array_len(json_object_get(w, "users"));
            ngroups += array_len(json_object_get(w, "groups"));
        }
    }
    t = xcalloc(1, sizeof(*t));
    t->nfences = json_array_size(fences);
    t->fences = xcalloc(t->nfences + 1, sizeof(*t->fences));
    t->users_cap = table_cap(nusers);
    t->groups_cap = table_cap(ngroups);
    t->leases_cap = table_cap(t->nfences);
    t->users = xcalloc(t->users_cap, sizeof(*t->users));
    t->groups = xcalloc(t->groups_cap, sizeof(*t->groups));
    t->leases = xcalloc(t->leases_cap, sizeof(*t->leases));
    json_array_foreach(fences, i, v)
    {
        if (parse_fence(&c, i, v, t) < 0) {
            config_free(t);
            t = NULL;
            goto out;
        }
    }
    t->want_keys = xcalloc(t->nannotation_keys + 1, sizeof(*t->want_keys));
    for (i = 0; i < t->nannotation_keys; i++) {
        t->want_keys[i].ptr = t->annotation_keys[i];
        t->want_keys[i].len = strlen(t->annotation_keys[i]);
    }
    review_want_init(&t->want, t->want_keys, t->nannotation_keys);
out:
    json_decref(root);
    return t;
}

int config_parse_duration_ms(const char *s, int64_t *out_ms, char *err, size_t errlen)
{
    int64_t ns = 0;
    if (lf_duration_parse(s, &ns, err, errlen) != 0)
        return -1;
    if (ns > 86400 * 1000000000LL) {
        snprintf(err, errlen, "invalid duration '%s': longer than 24h", s);
        return -1;
    }
    *out_ms = ns / 1000000;
    return 0;
}

char *config_read(const char *path, size_t *len, char *err, size_t errlen)
{
    return lf_file_read("config", path, CONFIG_MAX_BYTES, len, err, errlen);
}

struct fence_table *config_load(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *buf = config_read(path, &len, err, errlen);
    if (buf == NULL)
        return NULL;
    struct fence_table *t = config_parse(buf, len, path, err, errlen);
    free(buf);
    return t;
}
