#ifndef LEASEFENCE_LISTSCAN_H
#define LEASEFENCE_LISTSCAN_H
/*
 * Internal to the elector library: a Kubernetes list body ({"kind":...,"metadata":{...},"items":[...]})
 * read as it comes, in pieces of any size, in bounded memory whatever its size.  It follows the top-level
 * object's keys: the value of "metadata" is kept (capped at LISTSCAN_MAX_META), each element of "items"
 * is handed to a callback as soon as it is complete (capped, the rest of a longer one read past), and
 * everything else is skipped without being kept.  Strings and their escapes are followed and brackets
 * counted; what is skipped or handed on is not otherwise validated.  For the tracker's list of a
 * namespace's Leases, most of which are of Leases nobody fenced and need not be decoded.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The cap on the top-level metadata value (a list's: resourceVersion, continue, remainingItemCount). */
#define LISTSCAN_MAX_META (64u << 10)

/**
 * Called with each element of "items" in order: ITEM[0..LEN) (borrowed for the call), the element's JSON
 * text; when TRUNCATED, only its first max_item bytes (the element was longer).  Returns 0, or non-zero to
 * fail the scan with ERR filled.
 */
typedef int (*listscan_item_fn)(void *ctx, const char *item, size_t len, bool truncated, char *err,
                                size_t errlen);

struct listscan {
    listscan_item_fn fn;
    void *ctx;
    size_t max_item;
    /* The value of the top-level "metadata" (its JSON text, meta_len bytes; not NUL-terminated), NULL
     * when there was none.  Complete once listscan_end succeeded. */
    char *meta;
    size_t meta_len;
    size_t items; /* elements handed to FN */

    /* the rest is the scanner's */
    int state;
    uint64_t offset; /* bytes fed before the current piece */
    /* the value being read (a key, a skipped value, metadata, an item) */
    int kind, target;
    size_t depth;
    bool in_str, esc;
    char key[8]; /* a key's first bytes, enough to tell "items" and "metadata" */
    size_t key_len;
    bool key_plain; /* no escape in the key */
    bool seen_items, seen_meta, items_array;
    char *item; /* the element being read when it spans pieces */
    size_t item_len, item_cap, meta_cap;
    bool truncated; /* the element passed max_item: read past the rest */
    char err[256];  /* the error that ended the scan */
};

/** Sets S up to hand elements of at most MAX_ITEM bytes to FN with CTX.  Allocates nothing. */
void listscan_init(struct listscan *s, size_t max_item, listscan_item_fn fn, void *ctx);

/**
 * Feeds the next LEN bytes of the body.  Returns 0, or -1 with ERR filled ("list is not JSON: ..." where
 * the structure breaks, "list metadata longer than N bytes", or FN's error); after -1 every call fails
 * the same.
 */
int listscan_feed(struct listscan *s, const char *data, size_t len, char *err, size_t errlen);

/**
 * The body ended: returns 0 when it was a whole JSON object (only whitespace after its closing brace) with
 * "items" an array and "metadata" present, else -1 with ERR filled ("list is not JSON: empty body",
 * "list is not JSON: cut off at byte N", "list without items or resourceVersion", or the feed's error).
 */
int listscan_end(struct listscan *s, char *err, size_t errlen);

/** Bytes S holds allocated (the element and metadata buffers). */
size_t listscan_held(const struct listscan *s);

/** Frees what S holds; S may be set up again with listscan_init. */
void listscan_release(struct listscan *s);

#endif
