/* JSON-lines logging: each line is formatted whole and written with whole-line write(2)s, so lines never
 * interleave (up to PIPE_BUF bytes per line on a pipe). */
#include "log.h"
#include "fdio.h"
#include "lf_clock.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_FIELDS 32
/* Longer values are cut, at a UTF-8 boundary, and the cut is marked with what was left out: "…(+N bytes)". */
#define LOG_VALUE_MAX 1024
/* Room for that mark: "…" is 3 bytes, N at most 20 digits. */
#define LOG_CUT_MARK_MAX 40

static int min_level = LOGL_INFO;
/* The embedder's sink, NULL for stderr; set before anything logs. */
static log_sink_fn sink;
static void *sink_ctx;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_sink(log_sink_fn fn, void *ctx)
{
    sink = fn;
    sink_ctx = ctx;
}

int log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = i;
            return 0;
        }
    }
    return -1;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= min_level;
}

/* The buffer is sized for the worst case up front (every byte escaped as \u00XX), so puts never fail. */
struct line {
    char *buf;
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t want;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        want = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        want = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        want = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (want > n)
        return 0;
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((want == 2 && cp < 0x80) || (want == 3 && cp < 0x800) ||
        (want == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return want;
}

static void put_str(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    put(l, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(l, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, esc, 6);
            i++;
        } else if (c < 0x80) {
            put(l, (const char *)p + i, 1);
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                put(l, "\xef\xbf\xbd", 3);
                i++;
            } else {
                put(l, (const char *)p + i, k);
                i += k;
            }
        }
    }
    put(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const char *val, size_t len)
{
    put(l, ",", 1);
    put_str(l, key, strlen(key));
    put(l, ":", 1);
    if (len > LOG_VALUE_MAX) {
        char cut[LOG_VALUE_MAX + LOG_CUT_MARK_MAX];
        size_t keep = LOG_VALUE_MAX;
        /* not inside a character (at most 3 bytes back: further, it is not UTF-8 anyway) */
        while (keep > LOG_VALUE_MAX - 3 && ((unsigned char)val[keep] & 0xc0) == 0x80)
            keep--;
        memcpy(cut, val, keep);
        int m = snprintf(cut + keep, LOG_CUT_MARK_MAX, "\xe2\x80\xa6(+%zu bytes)", len - keep);
        put_str(l, cut, keep + (size_t)m);
    } else {
        put_str(l, val, len);
    }
}

static size_t worst(size_t n)
{
    return 6 * (n < LOG_VALUE_MAX + LOG_CUT_MARK_MAX ? n : LOG_VALUE_MAX + LOG_CUT_MARK_MAX) + 4;
}

/*
 * Batching: an event-loop thread collects its lines in a thread-local buffer and
 * writes them once per loop iteration (log_flush), instead of one write(2) per
 * line.  Writes end on line boundaries and hold at most PIPE_BUF bytes when the
 * lines allow it, so on a pipe (a container's stderr) lines of different threads
 * still never interleave.
 */
#define LOG_BATCH_CAP (64 * 1024)

struct batch {
    char *buf;
    size_t len;
    bool on;
};
static _Thread_local struct batch batch;

/* The "YYYY-MM-DDTHH:MM:SS" of the second last formatted by this thread. */
static _Thread_local struct {
    int64_t sec;
    char text[64];
} stamp = {-1, ""};

/* Writes whole lines of P[0..N) in chunks of at most PIPE_BUF bytes (a longer line goes alone). */
static void write_lines(const char *p, size_t n)
{
    while (n > 0) {
        size_t cut = 0;
        for (size_t i = 0; i < n && i < PIPE_BUF; i++)
            if (p[i] == '\n')
                cut = i + 1;
        if (cut == 0) { /* a line longer than PIPE_BUF */
            const char *nl = memchr(p, '\n', n);
            cut = nl != NULL ? (size_t)(nl - p) + 1 : n;
        }
        fd_write_all(STDERR_FILENO, p, cut);
        p += cut;
        n -= cut;
    }
}

void log_batch_begin(void)
{
    if (batch.buf == NULL)
        batch.buf = malloc(LOG_BATCH_CAP);
    batch.on = batch.buf != NULL; /* without a buffer, lines are written one by one */
}

void log_flush(void)
{
    if (batch.len > 0)
        write_lines(batch.buf, batch.len);
    batch.len = 0;
}

void log_batch_end(void)
{
    log_flush();
    free(batch.buf);
    batch.buf = NULL;
    batch.on = false;
}

/* Formats one line into L->buf, which has room for the worst case. */
static void format_line(struct line *l, enum log_level level, const char *msg, const struct log_field *f,
                        size_t n)
{
    char ms[8];
    int64_t now_ms = lf_clock_real_ns() / 1000000;
    if (now_ms / 1000 != stamp.sec) {
        stamp.sec = now_ms / 1000;
        lf_clock_utc_text(stamp.sec, stamp.text, sizeof(stamp.text));
    }
    long msec = (long)(now_ms % 1000);
    ms[0] = '.';
    ms[1] = (char)('0' + msec / 100);
    ms[2] = (char)('0' + msec / 10 % 10);
    ms[3] = (char)('0' + msec % 10);
    ms[4] = 'Z';
    ms[5] = '"';
    put(l, "{\"ts\":\"", 7);
    put(l, stamp.text, strlen(stamp.text));
    put(l, ms, 6);
    put(l, ",\"level\":", 9);
    put_str(l, level_names[level], strlen(level_names[level]));
    put_field(l, "msg", msg, strlen(msg));
    for (size_t i = 0; i < n; i++)
        if (f[i].val != NULL)
            put_field(l, f[i].key, f[i].val, f[i].len);
    put(l, "}\n", 2);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *f, size_t n)
{
    struct line l;
    size_t cap = 128 + worst(strlen(msg));
    if (!log_enabled(level))
        return;
    for (size_t i = 0; i < n; i++)
        if (f[i].val != NULL)
            cap += worst(strlen(f[i].key)) + worst(f[i].len);
    if (batch.on && sink == NULL && cap <= LOG_BATCH_CAP) {
        if (batch.len + cap > LOG_BATCH_CAP)
            log_flush();
        l.buf = batch.buf + batch.len;
        l.len = 0;
        format_line(&l, level, msg, f, n);
        batch.len += l.len;
        if (batch.len >= LOG_BATCH_CAP / 2)
            log_flush();
        return;
    }
    l.buf = malloc(cap);
    if (l.buf == NULL)
        return;
    l.len = 0;
    format_line(&l, level, msg, f, n);
    if (batch.on)
        log_flush(); /* keep this thread's lines in order */
    if (sink != NULL)
        sink(sink_ctx, level, l.buf, l.len);
    else
        write_lines(l.buf, l.len);
    free(l.buf);
}

void log_event(enum log_level level, const char *msg, ...)
{
    struct log_field f[LOG_MAX_FIELDS];
    size_t n = 0;
    va_list ap;
    if (!log_enabled(level))
        return;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        if (n < LOG_MAX_FIELDS && v != NULL) {
            f[n].key = k;
            f[n].val = v;
            f[n].len = strlen(v);
            n++;
        }
    }
    va_end(ap);
    log_fields(level, msg, f, n);
}
