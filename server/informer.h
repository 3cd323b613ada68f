#ifndef LEASEFENCE_INFORMER_H
#define LEASEFENCE_INFORMER_H
/*
 * A list-then-watch loop over one collection of the API server (client-go's
 * reflector, cut down): list, then watch from the list's resourceVersion with
 * bookmarks, resume a watch that ends from the last resourceVersion seen, and
 * list again after 410 Gone or an undecodable event.  Each informer runs on a
 * thread of its own and calls its handlers there, one call at a time.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct kube_client;
struct informer;

struct informer_handlers {
    /** After each (re)list: ITEMS (borrowed, an array of objects) is now the whole collection. */
    void (*replace)(void *ctx, json_t *items);
    /** One change: TYPE "ADDED", "MODIFIED" or "DELETED"; OBJ borrowed for the call. */
    void (*event)(void *ctx, const char *type, json_t *obj);
    /** A list failed: CODE is the HTTP status (0: no answer; 404: the resource is not served) and ERR
     * says why.  Called at every failed attempt; the informer retries with backoff. */
    void (*failed)(void *ctx, int code, const char *err);
    void *ctx;
};

/**
 * An informer on the collection PATH ("/apis/leasefence.io/v1alpha1/leasefences") with QUERY appended to
 * every list and watch (a selector such as "fieldSelector=metadata.name%3Dx", or NULL).  WHAT names it in
 * logs.  KC is borrowed and must outlive the informer; the strings and H are copied.
 */
struct informer *informer_new(struct kube_client *kc, const char *path, const char *query, const char *what,
                              const struct informer_handlers *h);

/**
 * Watches ask for a timeoutSeconds drawn from [SECONDS, 1.5 x SECONDS] (default 30); a list that fails with
 * 404 is tried again every NOT_FOUND_RETRY_MS (default 2000).  Call before informer_start; for tests.
 */
void informer_set_timing(struct informer *in, int watch_seconds, int not_found_retry_ms);

/** Starts the thread.  0, or -1 with ERR filled. */
int informer_start(struct informer *in, char *err, size_t errlen);

/** Stops the thread (within about a second: a request under way is abandoned) and waits for it. */
void informer_stop(struct informer *in);

/** Stops the informer if it runs, and frees it; NULL is fine. */
void informer_free(struct informer *in);

#endif
