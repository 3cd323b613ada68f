#ifndef LEASEFENCE_LEASE_H
#define LEASEFENCE_LEASE_H
/*
 * The coordination.k8s.io/v1 Lease codec on jansson.  A Lease is kept as the
 * JSON object the server returned; updates change spec fields in that object,
 * so labels, annotations and fields we do not know survive.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * What a Lease says, parsed.  Strings are owned by the record and NUL-terminated; absent strings are ""
 * (strategy, preferred_holder: NULL).  The spec strings are what the API server stores, which may hold
 * NUL bytes ("\u0000" in JSON): their real length is in the matching _len field, and they are compared
 * and printed with it, never with strlen.  The metadata strings never hold NUL (lease_parse refuses them).
 */
struct lease_record {
    char *ns, *name, *uid, *resource_version;
    char *holder;                /* spec.holderIdentity, "" when absent */
    size_t holder_len;           /* bytes of holder */
    int32_t duration_s;          /* spec.leaseDurationSeconds, 0 when absent */
    int32_t transitions;         /* spec.leaseTransitions, 0 when absent */
    int64_t acquire_us;          /* spec.acquireTime, unix microseconds, 0 when absent */
    int64_t renew_us;            /* spec.renewTime, unix microseconds, 0 when absent */
    char *strategy;              /* spec.strategy or NULL */
    size_t strategy_len;         /* bytes of strategy */
    char *preferred_holder;      /* spec.preferredHolder or NULL */
    size_t preferred_holder_len; /* bytes of preferred_holder */
};

/**
 * Parses OBJ (borrowed; load it with JSON_ALLOW_NUL, as the API server's JSON may carry "\u0000") into
 * OUT.  Returns 0, or -1 with ERR naming the bad field; OUT is then empty.
 */
int lease_parse(json_t *obj, struct lease_record *out, char *err, size_t errlen);

/** Frees the strings of R and zeroes it. */
void lease_record_release(struct lease_record *r);

/** True when A and B hold the same election record (every spec field, byte for byte; client-go's "observed
 * record changed" test). */
bool lease_record_same(const struct lease_record *a, const struct lease_record *b);

/** "<uid>/<transitions>" into BUF. */
void lease_epoch(const struct lease_record *r, char *buf, size_t len);

/** A new Lease object NS/NAME with an empty spec; you own the reference. */
json_t *lease_new_object(const char *ns, const char *name);

/** True when R's holder is the HOLDER_LEN bytes at HOLDER (a holder with a NUL byte is never a C string's).
 */
bool lease_holder_is(const struct lease_record *r, const char *holder, size_t holder_len);

/**
 * Sets the election fields of spec in OBJ (the object you read): holderIdentity
 * (HOLDER_LEN bytes of valid UTF-8), leaseDurationSeconds, acquireTime,
 * renewTime (microseconds; 0 removes the field), leaseTransitions.  Everything
 * else in OBJ is kept.  Returns 0, or -1 when HOLDER is not valid UTF-8 (OBJ unchanged).
 */
int lease_set_spec(json_t *obj, const char *holder, size_t holder_len, int32_t duration_s, int64_t acquire_us,
                   int64_t renew_us, int32_t transitions);

/** Parses a MicroTime: exactly "YYYY-MM-DDTHH:MM:SS.ffffff" then "Z" or "+hh:mm"/"-hh:mm".  0 or -1. */
int lease_parse_microtime(const char *s, int64_t *unix_us);

/** Formats UNIX_US as "2026-11-24T06:12:00.123456Z" (always six fraction digits) into BUF (at least 32
 * bytes). */
void lease_format_microtime(int64_t unix_us, char *buf, size_t len);

#endif
