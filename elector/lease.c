/* The Lease codec: parse, compare and update coordination.k8s.io/v1 Leases. */
#include "lease.h"
#include "lf_clock.h"
#include "xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int lease_parse_microtime(const char *s, int64_t *unix_us)
{
    /* 2026-11-24T06:12:00.123456Z  (27) or ...+hh:mm (32) */
    size_t n = strlen(s);
    int Y, M, D, h, m, sec, frac, oh = 0, om = 0, sign = 0;
    if (n != 27 && n != 32)
        return -1;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D) ||
        s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec) || s[19] != '.' || digits(s + 20, 6, &frac))
        return -1;
    if (n == 27) {
        if (s[26] != 'Z')
            return -1;
    } else {
        if ((s[26] != '+' && s[26] != '-') || digits(s + 27, 2, &oh) || s[29] != ':' ||
            digits(s + 30, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        sign = s[26] == '+' ? 1 : -1;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 59)
        return -1;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return -1;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60);
    *unix_us = secs * 1000000 + frac;
    return 0;
}

void lease_format_microtime(int64_t unix_us, char *buf, size_t len)
{
    int64_t secs = unix_us / 1000000, us = unix_us % 1000000;
    if (us < 0) {
        us += 1000000;
        secs--;
    }
    char text[32];
    lf_clock_utc_text(secs, text, sizeof(text));
    snprintf(buf, len, "%s.%06dZ", text, (int)us);
}

void lease_record_release(struct lease_record *r)
{
    free(r->ns);
    free(r->name);
    free(r->uid);
    free(r->resource_version);
    free(r->holder);
    free(r->strategy);
    free(r->preferred_holder);
    memset(r, 0, sizeof(*r));
}

/* A NUL-terminated copy of the N bytes at P (which may hold NUL bytes themselves); you own it. */
static char *dup_bytes(const char *p, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/*
 * Optional string field: absent or null -> DEF (may be NULL); another type -> -1.  With LEN, the string
 * is taken whole, NUL bytes included, and LEN gets its length; without, a NUL byte in it is an error (the
 * API server never writes one into the metadata fields read here).
 */
static int opt_str(json_t *o, const char *key, const char *def, char **out, size_t *len, const char *where,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = def ? xstrdup(def) : NULL;
        if (len != NULL)
            *len = def ? strlen(def) : 0;
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s%s is not a string", where, key);
        return -1;
    }
    size_t n = json_string_length(v);
    if (len == NULL && memchr(json_string_value(v), '\0', n) != NULL) {
        snprintf(err, errlen, "%s%s holds a NUL byte", where, key);
        return -1;
    }
    *out = dup_bytes(json_string_value(v), n);
    if (len != NULL)
        *len = n;
    return 0;
}

static int opt_int32(json_t *o, const char *key, int64_t min, int32_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "spec.%s is not an integer", key);
        return -1;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > INT32_MAX) {
        snprintf(err, errlen, "spec.%s is out of range: %lld", key, (long long)i);
        return -1;
    }
    *out = (int32_t)i;
    return 0;
}

static int opt_time(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    /* The length first: lease_parse_microtime stops at a NUL byte, and "...Z\u0000junk" is no MicroTime. */
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        lease_parse_microtime(json_string_value(v), out) != 0) {
        snprintf(err, errlen, "spec.%s is not a MicroTime (YYYY-MM-DDTHH:MM:SS.ffffffZ)", key);
        return -1;
    }
    return 0;
}

int lease_parse(json_t *obj, struct lease_record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "lease is not a JSON object");
        return -1;
    }
    json_t *jkind = json_object_get(obj, "kind");
    const char *kind = json_string_value(jkind);
    if (kind != NULL && (json_string_length(jkind) != 5 || strcmp(kind, "Lease") != 0)) {
        snprintf(err, errlen, "object is a '%s', not a Lease", kind);
        return -1;
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        snprintf(err, errlen, "lease has no metadata");
        return -1;
    }
    json_t *spec = json_object_get(obj, "spec");
    if (spec != NULL && !json_is_null(spec) && !json_is_object(spec)) {
        snprintf(err, errlen, "spec is not an object");
        return -1;
    }
    json_t *empty = NULL;
    if (!json_is_object(spec))
        spec = empty = json_object();
    int rc = -1;
    if (opt_str(md, "namespace", "", &out->ns, NULL, "metadata.", err, errlen) ||
        opt_str(md, "name", "", &out->name, NULL, "metadata.", err, errlen) ||
        opt_str(md, "uid", "", &out->uid, NULL, "metadata.", err, errlen) ||
        opt_str(md, "resourceVersion", "", &out->resource_version, NULL, "metadata.", err, errlen) ||
        opt_str(spec, "holderIdentity", "", &out->holder, &out->holder_len, "spec.", err, errlen) ||
        opt_int32(spec, "leaseDurationSeconds", 1, &out->duration_s, err, errlen) ||
        opt_int32(spec, "leaseTransitions", 0, &out->transitions, err, errlen) ||
        opt_time(spec, "acquireTime", &out->acquire_us, err, errlen) ||
        opt_time(spec, "renewTime", &out->renew_us, err, errlen) ||
        opt_str(spec, "strategy", NULL, &out->strategy, &out->strategy_len, "spec.", err, errlen) ||
        opt_str(spec, "preferredHolder", NULL, &out->preferred_holder, &out->preferred_holder_len, "spec.",
                err, errlen))
        goto out;
    if (out->name[0] == '\0') {
        snprintf(err, errlen, "lease has no metadata.name");
        goto out;
    }
    rc = 0;
out:
    json_decref(empty);
    if (rc != 0)
        lease_record_release(out);
    return rc;
}

/* Byte strings (NULL: absent) compared whole, NUL bytes included. */
static bool bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL)
        return a == b;
    return alen == blen && memcmp(a, b, alen) == 0;
}

bool lease_record_same(const struct lease_record *a, const struct lease_record *b)
{
    return bytes_eq(a->holder, a->holder_len, b->holder, b->holder_len) && a->duration_s == b->duration_s &&
           a->transitions == b->transitions && a->acquire_us == b->acquire_us && a->renew_us == b->renew_us &&
           bytes_eq(a->strategy, a->strategy_len, b->strategy, b->strategy_len) &&
           bytes_eq(a->preferred_holder, a->preferred_holder_len, b->preferred_holder,
                    b->preferred_holder_len);
}

bool lease_holder_is(const struct lease_record *r, const char *holder, size_t holder_len)
{
    return r->holder != NULL && bytes_eq(r->holder, r->holder_len, holder, holder_len);
}

void lease_epoch(const struct lease_record *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%d", r->uid ? r->uid : "", (int)r->transitions);
}

json_t *lease_new_object(const char *ns, const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                     "Lease", "metadata", "name", name, "namespace", ns, "spec");
}

static void set_time(json_t *spec, const char *key, int64_t us)
{
    if (us == 0) {
        json_object_del(spec, key);
        return;
    }
    char buf[48];
    lease_format_microtime(us, buf, sizeof(buf));
    json_object_set_new(spec, key, json_string(buf));
}

int lease_set_spec(json_t *obj, const char *holder, size_t holder_len, int32_t duration_s, int64_t acquire_us,
                   int64_t renew_us, int32_t transitions)
{
    json_t *jholder = json_stringn(holder, holder_len);
    if (jholder == NULL)
        return -1; /* not UTF-8: json_object_set_new would keep the previous holder */
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    json_object_set_new(spec, "holderIdentity", jholder);
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(duration_s));
    set_time(spec, "acquireTime", acquire_us);
    set_time(spec, "renewTime", renew_us);
    json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    return 0;
}
