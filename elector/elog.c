/* JSON-lines logging shared by the elector modules. */
#include "elog.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int min_rank = 1;

static int level_rank(const char *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(level, names[i]) == 0)
            return i;
    return 1;
}

void elog_set_level(const char *level)
{
    min_rank = level_rank(level);
}

void elog(const char *level, const char *msg, ...)
{
    if (level_rank(level) < min_rank)
        return;
    struct timespec ts;
    struct tm tm;
    char tsbuf[128];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(tsbuf, sizeof(tsbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000));

    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(tsbuf));
    json_object_set_new(o, "level", json_string(level));
    json_object_set_new(o, "msg", json_string(msg));
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        if (v != NULL)
            json_object_set_new(o, k, json_string(v));
    }
    va_end(ap);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (line == NULL)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps leaves room for NUL; replace it and write n+1 */
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    free(line);
}
