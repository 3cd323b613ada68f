#ifndef LEASEFENCE_PEEK_H
#define LEASEFENCE_PEEK_H
/*
 * A look at a watch event line, or at one item of a list, without decoding it: the event's type and its
 * object's metadata.name and metadata.resourceVersion, found by skipping over everything else.  For a watch
 * or a list of a whole namespace, where most events and items are of Leases nobody fenced and are not
 * worth a full parse.
 */
#include <stdbool.h>
#include <stddef.h>

/** A string value as it stands in the line (borrowed): never unescaped, so only set when it has no '\\'. */
struct peek_str {
    const char *p; /* NULL when absent, escaped, or not a string */
    size_t len;
};

struct peek_event {
    struct peek_str type, name, rv;
};

/**
 * Scans LINE[0..LEN) ({"type":T,"object":{"metadata":{"name":N,"resourceVersion":R,...},...}}) for type,
 * object.metadata.name and object.metadata.resourceVersion, stopping once it has all three.  Fills OUT
 * with what it found before the end or the first byte where the structure it walks is not JSON; values it
 * skips are not validated (brackets counted, strings followed), nor is anything after what it found.
 * Returns true when the name was found.
 */
bool peek_watch_event(const char *line, size_t len, struct peek_event *out);

/**
 * The same of a bare object OBJ[0..LEN) ({"metadata":{"name":N,"resourceVersion":R,...},...}), as a list's
 * item is: fills OUT's name and rv (type stays unset), stopping once it has both.  OBJ may be the cut start
 * of a longer object: what lies in it is found.  Returns true when the name was found.
 */
bool peek_object(const char *obj, size_t len, struct peek_event *out);

/** True when S holds exactly the LEN bytes at P. */
bool peek_is(struct peek_str s, const char *p, size_t len);

#endif
