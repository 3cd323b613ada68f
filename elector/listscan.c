/*
 * The list scanner: a state machine over the top-level object of a list body, one byte at a time (a run of
 * string bytes at once), so that a piece may end anywhere.  An element of "items" that lies whole in one
 * piece is handed on where it lies; one that spans pieces is gathered in a buffer reused for the next.
 */
#include "listscan.h"
#include "xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the scan is in the top-level object. */
enum state {
    ST_START,       /* before its '{' */
    ST_FIRST_KEY,   /* after '{': a key or '}' */
    ST_NEXT_KEY,    /* after ',': a key */
    ST_IN_KEY,      /* inside a key */
    ST_COLON,       /* after a key */
    ST_VALUE,       /* after ':': a value */
    ST_IN_VALUE,    /* inside a value other than the items array (kept when it is the metadata) */
    ST_FIRST_ITEM,  /* after the items' '[': an element or ']' */
    ST_NEXT_ITEM,   /* after ',': an element */
    ST_IN_ITEM,     /* inside an element */
    ST_AFTER_ITEM,  /* after an element: ',' or ']' */
    ST_AFTER_VALUE, /* after a value: ',' or '}' */
    ST_END,         /* after the closing '}': only whitespace */
    ST_FAILED,
};

/* The kind of value being read. */
enum kind { V_STRING, V_NESTED, V_LITERAL };

/* Where the value being read goes. */
enum target { TO_NOWHERE, TO_META, TO_ITEM };

/* What a byte does to the value being read. */
enum step { MORE, LAST, PAST, BAD }; /* part of it; its last byte; the first byte after it; not JSON */

void listscan_init(struct listscan *s, size_t max_item, listscan_item_fn fn, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->ctx = ctx;
    s->max_item = max_item;
    s->state = ST_START;
}

void listscan_release(struct listscan *s)
{
    free(s->item);
    free(s->meta);
    s->item = s->meta = NULL;
    s->item_len = s->item_cap = s->meta_len = s->meta_cap = 0;
}

size_t listscan_held(const struct listscan *s)
{
    return s->item_cap + s->meta_cap;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A byte of a number, true, false or null (which of them, and in what order, is not checked). */
static bool is_literal(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

/* Ends the scan with the error in s->err, copied to ERR. */
static int fail(struct listscan *s, char *err, size_t errlen)
{
    s->state = ST_FAILED;
    snprintf(err, errlen, "%s", s->err);
    return -1;
}

/* Ends the scan: the byte at AT (of the piece being fed) is not what the structure needs (WANT). */
static int unexpected(struct listscan *s, size_t at, const char *want, char *err, size_t errlen)
{
    snprintf(s->err, sizeof(s->err), "list is not JSON: %s at byte %llu", want,
             (unsigned long long)(s->offset + at));
    return fail(s, err, errlen);
}

/* Starts reading a value at its first byte C; false when no value starts with C. */
static bool value_start(struct listscan *s, char c, enum target target)
{
    s->target = target;
    s->in_str = s->esc = false;
    s->depth = 0;
    if (c == '"') {
        s->kind = V_STRING;
        s->in_str = true;
    } else if (c == '{' || c == '[') {
        s->kind = V_NESTED;
        s->depth = 1;
    } else if (c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
        s->kind = V_LITERAL; /* a number, true, false or null */
    } else {
        return false;
    }
    return true;
}

/* C, the next byte after a value's first, for the value being read. */
static enum step value_step(struct listscan *s, char c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = false;
        else if (c == '\\')
            s->esc = true;
        else if (c == '"') {
            s->in_str = false;
            return s->kind == V_STRING ? LAST : MORE;
        }
        return MORE;
    }
    if (s->kind == V_LITERAL)
        return c == ',' || c == '}' || c == ']' || is_ws(c) ? PAST : is_literal(c) ? MORE : BAD;
    if (c == '"')
        s->in_str = true;
    else if (c == '{' || c == '[')
        s->depth++;
    else if ((c == '}' || c == ']') && --s->depth == 0)
        return LAST;
    return MORE;
}

/* Appends P[0..N) to the element being read, up to max_item; the rest marks it truncated. */
static void item_append(struct listscan *s, const char *p, size_t n)
{
    size_t room = s->max_item - s->item_len;
    if (n > room) {
        s->truncated = true;
        n = room;
    }
    if (n == 0)
        return;
    xgrow(&s->item, &s->item_cap, s->item_len + n);
    memcpy(s->item + s->item_len, p, n);
    s->item_len += n;
}

/* Appends P[0..N) to the metadata; -1 when it would pass the cap. */
static int meta_append(struct listscan *s, const char *p, size_t n, char *err, size_t errlen)
{
    if (n > LISTSCAN_MAX_META - s->meta_len) {
        snprintf(s->err, sizeof(s->err), "list metadata longer than %u bytes", LISTSCAN_MAX_META);
        return fail(s, err, errlen);
    }
    if (n == 0)
        return 0;
    xgrow(&s->meta, &s->meta_cap, s->meta_len + n);
    memcpy(s->meta + s->meta_len, p, n);
    s->meta_len += n;
    return 0;
}

/* Keeps P[0..N), the part of the value being read that lies in this piece, where it goes. */
static int keep(struct listscan *s, const char *p, size_t n, char *err, size_t errlen)
{
    if (s->target == TO_ITEM)
        item_append(s, p, n);
    else if (s->target == TO_META)
        return meta_append(s, p, n, err, errlen);
    return 0;
}

/* The value being read ended; P[0..N) is its part in this piece.  Hands an element on. */
static int value_end(struct listscan *s, const char *p, size_t n, char *err, size_t errlen)
{
    if (s->target != TO_ITEM) {
        s->state = ST_AFTER_VALUE;
        return keep(s, p, n, err, errlen);
    }
    s->state = ST_AFTER_ITEM;
    s->items++;
    int r;
    if (s->item_len == 0 && !s->truncated && n <= s->max_item) { /* whole in this piece: no copy */
        r = s->fn(s->ctx, p, n, false, s->err, sizeof(s->err));
    } else {
        item_append(s, p, n);
        r = s->fn(s->ctx, s->item, s->item_len, s->truncated, s->err, sizeof(s->err));
    }
    s->item_len = 0;
    s->truncated = false;
    return r != 0 ? fail(s, err, errlen) : 0;
}

/* Whether the key just read is KEY (LEN bytes, at most sizeof(s->key)). */
static bool key_is(const struct listscan *s, const char *key, size_t len)
{
    return s->key_plain && s->key_len == len && memcmp(s->key, key, len) == 0;
}

/* The first byte C (at I) of the value of the key just read. */
static int top_value(struct listscan *s, char c, size_t i, char *err, size_t errlen)
{
    bool items = key_is(s, "items", 5), meta = key_is(s, "metadata", 8);
    if ((items && s->seen_items) || (meta && s->seen_meta))
        return unexpected(s, i, items ? "a second \"items\"" : "a second \"metadata\"", err, errlen);
    s->seen_items |= items;
    s->seen_meta |= meta;
    if (items && c == '[') {
        s->items_array = true;
        s->state = ST_FIRST_ITEM;
        return 0;
    }
    if (!value_start(s, c, meta ? TO_META : TO_NOWHERE))
        return unexpected(s, i, "a value expected", err, errlen);
    s->state = ST_IN_VALUE;
    return 0;
}

int listscan_feed(struct listscan *s, const char *data, size_t len, char *err, size_t errlen)
{
    size_t i = 0, span = 0; /* span: where the value being read starts in this piece */
    if (s->state == ST_FAILED)
        return fail(s, err, errlen);
    while (i < len) {
        char c = data[i];
        if (is_ws(c) && s->state != ST_IN_KEY && s->state != ST_IN_VALUE && s->state != ST_IN_ITEM) {
            i++;
            continue;
        }
        switch (s->state) {
        case ST_START:
            if (c != '{')
                return unexpected(s, i, "'{' expected", err, errlen);
            s->state = ST_FIRST_KEY;
            break;
        case ST_FIRST_KEY:
        case ST_NEXT_KEY:
            if (c == '}' && s->state == ST_FIRST_KEY) {
                s->state = ST_END;
                break;
            }
            if (c != '"')
                return unexpected(s, i, "a key expected", err, errlen);
            s->key_len = 0;
            s->key_plain = true;
            s->esc = false;
            s->state = ST_IN_KEY;
            break;
        case ST_IN_KEY:
            if (s->esc) {
                s->esc = false;
            } else if (c == '\\') {
                s->esc = true;
                s->key_plain = false; /* "\u0069tems" is not taken for "items" */
            } else if (c == '"') {
                s->state = ST_COLON;
            } else {
                if (s->key_len < sizeof(s->key))
                    s->key[s->key_len] = c;
                else
                    s->key_plain = false; /* longer than any key wanted */
                s->key_len++;
            }
            break;
        case ST_COLON:
            if (c != ':')
                return unexpected(s, i, "':' expected", err, errlen);
            s->state = ST_VALUE;
            break;
        case ST_VALUE:
            if (top_value(s, c, i, err, errlen) != 0)
                return -1;
            span = i;
            break;
        case ST_FIRST_ITEM:
        case ST_NEXT_ITEM:
            if (c == ']' && s->state == ST_FIRST_ITEM) {
                s->state = ST_AFTER_VALUE;
                break;
            }
            if (!value_start(s, c, TO_ITEM))
                return unexpected(s, i, "a list item expected", err, errlen);
            s->state = ST_IN_ITEM;
            span = i;
            break;
        case ST_IN_VALUE:
        case ST_IN_ITEM: {
            if (s->in_str && !s->esc) { /* the bulk of a list: string bytes, passed over at once */
                while (i < len && data[i] != '"' && data[i] != '\\')
                    i++;
                if (i == len)
                    continue;
                c = data[i];
            }
            enum step st = value_step(s, c);
            if (st == MORE)
                break;
            if (st == BAD)
                return unexpected(s, i, "a number, true, false or null expected", err, errlen);
            size_t end = st == LAST ? i + 1 : i;
            if (value_end(s, data + span, end - span, err, errlen) != 0)
                return -1;
            i = end;
            continue; /* PAST: the byte after the value is the structure's */
        }
        case ST_AFTER_ITEM:
            if (c == ',')
                s->state = ST_NEXT_ITEM;
            else if (c == ']')
                s->state = ST_AFTER_VALUE;
            else
                return unexpected(s, i, "',' or ']' expected", err, errlen);
            break;
        case ST_AFTER_VALUE:
            if (c == ',')
                s->state = ST_NEXT_KEY;
            else if (c == '}')
                s->state = ST_END;
            else
                return unexpected(s, i, "',' or '}' expected", err, errlen);
            break;
        case ST_END:
            return unexpected(s, i, "data after the list", err, errlen);
        default:
            return fail(s, err, errlen);
        }
        i++;
    }
    /* A value that goes on in the next piece: keep its part in this one. */
    if ((s->state == ST_IN_VALUE || s->state == ST_IN_ITEM) &&
        keep(s, data + span, len - span, err, errlen) != 0)
        return -1;
    s->offset += len;
    return 0;
}

int listscan_end(struct listscan *s, char *err, size_t errlen)
{
    if (s->state == ST_FAILED)
        return fail(s, err, errlen);
    if (s->state == ST_START)
        snprintf(s->err, sizeof(s->err), "list is not JSON: empty body");
    else if (s->state != ST_END)
        snprintf(s->err, sizeof(s->err), "list is not JSON: cut off at byte %llu",
                 (unsigned long long)s->offset);
    else if (!s->items_array || !s->seen_meta)
        snprintf(s->err, sizeof(s->err), "list without items or resourceVersion");
    else
        return 0;
    return fail(s, err, errlen);
}
