#ifndef LEASEFENCE_ELOG_H
#define LEASEFENCE_ELOG_H
/*
 * JSON-lines logging for the elector: one object per line on stderr,
 * {"ts":"2026-11-24T06:12:00.123456Z","level":"info","msg":"...", KEY: VALUE...}.
 */

/**
 * Writes one line.  The variadic part is KEY, VALUE string pairs ended by a
 * NULL key; a NULL value is skipped.  Thread-safe (one write(2) per line).
 */
void elog(const char *level, const char *msg, ...);

/** Sets the minimum level written ("debug", "info", "warn", "error"); default "info". */
void elog_set_level(const char *level);

#endif
