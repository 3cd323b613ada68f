/*
 * Test helper for tests/integration/test_tracker.sh: tracks the Leases named
 * on the command line (NS/NAME...) and prints one JSON line each time a
 * snapshot differs from the last one printed, for SECONDS (env PROBE_SECONDS,
 * default 30).  With PROBE_COMMANDS=FILE, lines appended to FILE ("track NS/NAME", "untrack NS/NAME")
 * are acted on as they come.  Built by make (build/tests/tracker_probe) against
 * build/libleasefence-elector.a.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leasefence/elector.h" /* an embedder: the public headers only */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Tracks NS/NAME in ARG; 0, or -1 with a message. */
static int track(struct tracker *t, const char *arg)
{
    char ns[256], err[512];
    const char *slash = strchr(arg, '/');
    if (slash == NULL || (size_t)(slash - arg) >= sizeof(ns))
        return -1;
    memcpy(ns, arg, (size_t)(slash - arg));
    ns[slash - arg] = '\0';
    if (tracker_track(t, ns, slash + 1, err, sizeof(err)) < 0) {
        fprintf(stderr, "probe: %s\n", err);
        return -1;
    }
    return 0;
}

/* Acts on the complete lines of FILE past *OFF ("track NS/NAME", "untrack NS/NAME"). */
static void follow_commands(struct tracker *t, const char *file, long *off)
{
    FILE *f = file != NULL ? fopen(file, "r") : NULL;
    char line[600];
    if (f == NULL)
        return;
    fseek(f, *off, SEEK_SET);
    while (fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') != NULL) {
        *off = ftell(f);
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "track ", 6) == 0) {
            track(t, line + 6);
        } else if (strncmp(line, "untrack ", 8) == 0) {
            char *slash = strchr(line + 8, '/');
            if (slash != NULL) {
                *slash = '\0';
                int i = tracker_find(t, line + 8, slash + 1);
                if (i >= 0)
                    tracker_untrack(t, (size_t)i);
            }
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    char err[512];
    struct kube_client *c = kube_client_new(NULL, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "probe: %s\n", err);
        return 1;
    }
    struct tracker *t = tracker_new(c);
    for (int i = 1; i < argc; i++)
        if (track(t, argv[i]) < 0)
            return 2;
    if (tracker_start(t, err, sizeof(err)) != 0) {
        fprintf(stderr, "probe: %s\n", err);
        return 1;
    }
    const char *secs = getenv("PROBE_SECONDS");
    int64_t end = mono_ns() + (secs ? strtoll(secs, NULL, 10) : 30) * 1000000000LL;
    size_t n = tracker_count(t);
    char **last = calloc(n, sizeof(*last));
    bool synced = false;
    const char *commands = getenv("PROBE_COMMANDS");
    long off = 0;
    while (mono_ns() < end) {
        follow_commands(t, commands, &off);
        if (tracker_count(t) > n) {
            size_t m = tracker_count(t);
            last = realloc(last, m * sizeof(*last));
            memset(last + n, 0, (m - n) * sizeof(*last));
            n = m;
        }
        if (!synced && tracker_all_synced(t)) {
            synced = true;
            printf("{\"all_synced\":true}\n");
            fflush(stdout); /* lease lines flush only when one changed: this line may come after the last */
        }
        for (size_t i = 0; i < n; i++) {
            const struct lease_snapshot *s = tracker_acquire(t, i);
            struct tracker_stats st;
            tracker_stats(t, i, &st);
            /* the holder whole: it may hold NUL bytes (printed as \u0000) */
            json_t *o =
                json_pack("{s:s++, s:b, s:b, s:b, s:b, s:s%, s:i, s:i, s:s, s:s, s:s, s:b, s:I, s:I, s:I}",
                          "lease", s->ns, "/", s->name, "tracked", s->tracked, "known", s->known, "exists",
                          s->exists, "watching", s->watching, "holder", s->holder, s->holder_len, "duration",
                          (int)s->lease_duration_s, "transitions", (int)s->transitions, "uid", s->uid, "rv",
                          s->resource_version, "epoch", s->epoch, "has_renew", s->renew_time_us != 0,
                          "relists", (json_int_t)st.relists, "restarts", (json_int_t)st.watch_restarts,
                          "changes", (json_int_t)st.changes);
            char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (last[i] == NULL || strcmp(last[i], line) != 0) {
                printf("%s\n", line);
                fflush(stdout);
                free(last[i]);
                last[i] = line;
            } else {
                free(line);
            }
            json_decref(o);
            tracker_release(t, s);
        }
        usleep(20000);
    }
    tracker_free(t);
    kube_client_free(c);
    for (size_t i = 0; i < n; i++)
        free(last[i]);
    free(last);
    return 0;
}
