#ifndef LEASEFENCE_LOG_H
#define LEASEFENCE_LOG_H
/*
 * Logs of leasefence (serve and elect) and of the elector library: one JSON object per line, on stderr
 * unless an embedder sets a sink (log_set_sink),
 * {"ts":"2026-11-24T06:12:00.123Z","level":"info","msg":"...", KEY: VALUE...}.
 * Values are strings of a given length (NUL bytes included); they are escaped (NUL as \u0000), invalid
 * UTF-8 is replaced by U+FFFD, and a value longer than 1024 bytes is cut there, marked "…(+N bytes)".
 */
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/** A field whose value is LEN bytes at VAL (not NUL-terminated); a NULL VAL is skipped. */
struct log_field {
    const char *key;
    const char *val;
    size_t len;
};

/**
 * An embedder's log sink (like curl's CURLOPT_DEBUGFUNCTION): called with each line that is written, LEN
 * bytes at LINE, the JSON object and its '\n' (LINE is borrowed for the call).  Called on the thread that
 * logs, perhaps on several threads at once.
 */
typedef void (*log_sink_fn)(void *ctx, enum log_level level, const char *line, size_t len);

/**
 * Sends every line to FN(CTX, ...) instead of stderr; a NULL FN restores stderr (the default).  Call it
 * before anything logs (before candidate_run or tracker_start).  The one line that never reaches the
 * sink is the library's last before abort() ({"level":"fatal",...}: out of memory, or a state it cannot go
 * on from), written straight to stderr without allocating, since a sink may need memory itself.
 */
void log_set_sink(log_sink_fn fn, void *ctx);

/** Sets the minimum level from "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_set_level(const char *name);

/** True when LEVEL is written. */
bool log_enabled(enum log_level level);

/** Writes one line; the variadic part is KEY, VALUE string pairs ended by a NULL key (NULL values skipped).
 */
void log_event(enum log_level level, const char *msg, ...);

/** Writes one line with N fields. */
void log_fields(enum log_level level, const char *msg, const struct log_field *f, size_t n);

/*
 * Batching, for event-loop threads: after log_batch_begin() the calling thread's
 * lines are collected and written by log_flush() (call it once per loop
 * iteration, before the loop waits) or when 32 KiB have gathered.  A line is
 * never split.  log_batch_end() flushes and frees the thread's buffer.
 */
void log_batch_begin(void);
void log_flush(void);
void log_batch_end(void);

#endif
