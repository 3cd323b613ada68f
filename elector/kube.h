#ifndef LEASEFENCE_KUBE_H
#define LEASEFENCE_KUBE_H
/*
 * Internal to the elector library and the program (never installed): the Kubernetes REST client's
 * requests, Lease CRUD and the curl plumbing of the tracker's multi loop.  The client's public face is
 * client.h.  Thread-safe: one client may be shared by several threads, each request uses its own easy
 * handle or a handle owned by the calling thread.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/** Timeout of a request whose caller passes 0, in milliseconds. */
#define KUBE_DEFAULT_TIMEOUT_MS 10000

/**
 * One request: METHOD on PATH (starting with '/', query included), with BODY
 * (borrowed, may be NULL) as JSON.  Returns the HTTP status, or 0 when no
 * response came.  *RESP (when RESP is not NULL) gets a new reference to the
 * body when it parses as JSON (with JSON_ALLOW_NUL: the API server's strings
 * may hold NUL bytes), else NULL.  For anything but 2xx, ERR is filled
 * with "CODE REASON: MESSAGE" from the Status body (or the transport error).
 * TIMEOUT_MS bounds the whole request (0: KUBE_DEFAULT_TIMEOUT_MS).
 */
int kube_request(struct kube_client *c, const char *method, const char *path, json_t *body, long timeout_ms,
                 json_t **resp, char *err, size_t errlen);

/**
 * A PATCH of PATH with PATCH (borrowed) sent as PATCH_TYPE
 * ("application/json-patch+json", "application/merge-patch+json"); otherwise
 * as kube_request.  kube_request sends application/json, which the API server
 * refuses for PATCH (415).
 */
int kube_patch(struct kube_client *c, const char *path, const char *patch_type, json_t *patch,
               long timeout_ms, json_t **resp, char *err, size_t errlen);

/**
 * Lease operations on /apis/coordination.k8s.io/v1.  Each returns the HTTP
 * status (0: no response) and, on 2xx, a new reference in *OUT to the object
 * the server returned.  Errors read "cannot update lease 'demo/x': 409
 * Conflict: the object has been modified...".  OBJ is borrowed.
 */
int kube_lease_get(struct kube_client *c, const char *ns, const char *name, long timeout_ms, json_t **out,
                   char *err, size_t errlen);
int kube_lease_create(struct kube_client *c, const char *ns, json_t *obj, long timeout_ms, json_t **out,
                      char *err, size_t errlen);
int kube_lease_update(struct kube_client *c, const char *ns, const char *name, json_t *obj, long timeout_ms,
                      json_t **out, char *err, size_t errlen);
int kube_lease_delete(struct kube_client *c, const char *ns, const char *name, long timeout_ms, char *err,
                      size_t errlen);

/** Path of the Lease collection of NS, with QUERY appended after '?' when not NULL; you own the string. */
char *kube_lease_path(const char *ns, const char *name, const char *query);

/**
 * The request headers of METHOD: Accept, Content-Type for writes and, with a
 * token, Authorization (the token re-read when due).  A new list: free it with
 * kube_headers_free once no handle uses it.  Handles may share one list.
 */
struct curl_slist *kube_headers(struct kube_client *c, const char *method);

/** True when header lists A and B hold the same lines in the same order. */
bool kube_headers_equal(const struct curl_slist *a, const struct curl_slist *b);

/** Wipes (the token) and frees a list from kube_headers. */
void kube_headers_free(struct curl_slist *headers);

/**
 * A new easy handle set up for METHOD on PATH: URL, TLS, credentials, HTTP/2,
 * User-Agent, close-on-exec sockets, TCP keep-alive, timeouts (TIMEOUT_MS 0:
 * none, for watches; the caller then notices a hung stream itself), and
 * HEADERS (borrowed, from kube_headers).  The handle borrows the client's
 * certificates and HEADERS: clean it up before either goes.  Does not set a
 * write callback.  For curl multi loops (the tracker).
 */
CURL *kube_easy_new(struct kube_client *c, const char *method, const char *path, long timeout_ms,
                    struct curl_slist *headers);

/** How often a token file is re-read (default 60 s; bound service-account tokens rotate).  For tests. */
void kube_client_set_token_reread(struct kube_client *c, int seconds);

/** Counts one response with HTTP status CODE (0: none) in kube_client_request_counts. */
void kube_client_count(struct kube_client *c, int code);

/** Fills ERR with "CODE REASON: MESSAGE" from a Status BODY (borrowed, may be NULL). */
void kube_status_error(int code, json_t *body, char *err, size_t errlen);

/**
 * Splits a watch stream into events: feed bytes with kube_watch_feed, which
 * calls FN for each complete line {"type": T, "object": O} (O borrowed for the
 * call; decoded with JSON_ALLOW_NUL).  A line longer than the cap or not JSON makes feed return -1 with ERR
 * filled.  SKIP, when set (after init), sees each complete line first (LINE[0..LEN), borrowed, with the
 * same CTX): a line it returns true for is dropped undecoded.  A line longer than the cap is shown to SKIP
 * too, cut to its first cap bytes: when SKIP drops it, the rest of the line is read past and discarded,
 * and feed goes on with the next line; otherwise feed returns -1 ("watch event longer than N bytes").
 */
typedef bool (*kube_watch_skip_fn)(void *ctx, const char *line, size_t len);
struct kube_watch_decoder {
    char *buf;
    size_t len, cap, max;
    kube_watch_skip_fn skip;
    bool discarding; /* inside a line SKIP dropped when it was too long: read up to its newline */
};
typedef int (*kube_watch_event_fn)(void *ctx, const char *type, json_t *object);
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line);
void kube_watch_decoder_release(struct kube_watch_decoder *d);
int kube_watch_feed(struct kube_watch_decoder *d, const char *data, size_t len, kube_watch_event_fn fn,
                    void *ctx, char *err, size_t errlen);

#endif
