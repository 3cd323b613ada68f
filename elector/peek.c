/*
 * The peek: a skipper over JSON that descends only into a watch event's "object" (or a bare object, a
 * list's item) and its "metadata".  It never builds anything, so an event or a list item of a Lease nobody
 * fenced costs a scan of its first few hundred bytes.
 */
#include "peek.h"

#include <string.h>

struct cur {
    const char *p, *end;
};

enum level { TOP, OBJECT, METADATA };

static void ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static bool eat(struct cur *c, char ch)
{
    ws(c);
    if (c->p >= c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

/* A string at c->p (after whitespace); OUT (may be NULL) gets its bytes unless it holds an escape. */
static bool string(struct cur *c, struct peek_str *out)
{
    if (!eat(c, '"'))
        return false;
    const char *start = c->p;
    bool escaped = false;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\') {
            escaped = true;
            if (c->end - c->p < 2) { /* a cut line ends inside the escape: never step past the end */
                c->p = c->end;
                break;
            }
            c->p++;
        }
        c->p++;
    }
    if (c->p >= c->end)
        return false;
    if (out != NULL) {
        out->p = escaped ? NULL : start;
        out->len = escaped ? 0 : (size_t)(c->p - start);
    }
    c->p++;
    return true;
}

/* Skips one value of any kind: strings are followed, brackets counted, literals run to a delimiter. */
static bool skip_value(struct cur *c)
{
    ws(c);
    if (c->p >= c->end)
        return false;
    if (*c->p == '"')
        return string(c, NULL);
    if (*c->p != '{' && *c->p != '[') {
        const char *start = c->p;
        while (c->p < c->end && strchr(",}] \t\r\n", *c->p) == NULL)
            c->p++;
        return c->p > start && c->p < c->end;
    }
    int depth = 0;
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == '"') {
            if (!string(c, NULL))
                return false;
            continue;
        }
        c->p++;
        if (ch == '{' || ch == '[')
            depth++;
        else if ((ch == '}' || ch == ']') && --depth == 0)
            return true;
    }
    return false;
}

/* Done once OUT has the name, the resourceVersion and, when the walk started at TOP, the type. */
static bool complete(const struct peek_event *e, enum level from)
{
    return (from != TOP || e->type.p != NULL) && e->name.p != NULL && e->rv.p != NULL;
}

/*
 * Walks the object at c->p at LEVEL (the walk started at FROM), taking what OUT wants; false at the end, on
 * bad JSON or when done.
 */
static bool walk(struct cur *c, enum level level, enum level from, struct peek_event *out)
{
    if (!eat(c, '{'))
        return false;
    if (eat(c, '}'))
        return true;
    do {
        struct peek_str key;
        if (!string(c, &key) || key.p == NULL || !eat(c, ':'))
            return false;
        bool ok;
        if (level == TOP && peek_is(key, "type", 4))
            ok = string(c, &out->type);
        else if (level == TOP && peek_is(key, "object", 6))
            ok = walk(c, OBJECT, from, out);
        else if (level == OBJECT && peek_is(key, "metadata", 8))
            ok = walk(c, METADATA, from, out);
        else if (level == METADATA && peek_is(key, "name", 4))
            ok = string(c, &out->name);
        else if (level == METADATA && peek_is(key, "resourceVersion", 15))
            ok = string(c, &out->rv);
        else
            ok = skip_value(c);
        if (!ok || complete(out, from))
            return false;
    } while (eat(c, ','));
    return eat(c, '}');
}

bool peek_watch_event(const char *line, size_t len, struct peek_event *out)
{
    struct cur c = {line, line + len};
    memset(out, 0, sizeof(*out));
    walk(&c, TOP, TOP, out);
    return out->name.p != NULL;
}

bool peek_object(const char *obj, size_t len, struct peek_event *out)
{
    struct cur c = {obj, obj + len};
    memset(out, 0, sizeof(*out));
    walk(&c, OBJECT, OBJECT, out);
    return out->name.p != NULL;
}

bool peek_is(struct peek_str s, const char *p, size_t len)
{
    return s.p != NULL && s.len == len && memcmp(s.p, p, len) == 0;
}
