/*
 * `leasefence elect`: one election candidate.  Logs one JSON line per
 * transition, runs COMMAND only while leading, serves its status over plain
 * HTTP, and releases the Lease on SIGTERM/SIGINT.
 */
#include "cmd.h"

#include "candidate.h"
#include "fdio.h"
#include "kube.h"
#include "listener.h"
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GRACE_DEFAULT_NS (5LL * 1000000000LL)

struct elect {
    struct candidate *cand;
    char lease[600];
    const char *identity;
    char **command; /* NULL-terminated, or NULL */
    int64_t grace_ns;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pid_t child; /* 0 when none */
    bool child_exited;
    int child_status;
    int listen_fd;
    bool quit; /* under lock: the signal thread returns at its next signal */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: leasefence elect --lease NAMESPACE/NAME --identity ID "
               "[--kubeconfig FILE]\n"
               "                        [--lease-duration D] [--renew-deadline D] "
               "[--retry-period D]\n"
               "                        [--status-listen ADDR:PORT] [--grace-period D]\n"
               "                        [--log-level debug|info|warn|error] [-- COMMAND "
               "ARGS...]\n"
               "durations as in Go: 500ms, 2s, 1m30s; defaults 15s, 10s, 2s; grace "
               "period 5s, at most\n"
               "lease duration - renew deadline - retry period (3s with the defaults), "
               "at least 1s\n");
}

static void mono_deadline(struct timespec *ts, int64_t ns_from_now)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t t = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + ns_from_now;
    ts->tv_sec = t / 1000000000LL;
    ts->tv_nsec = t % 1000000000LL;
}

/* ---- the command run while leading ---- */

static void start_child(struct elect *e, const char *epoch)
{
    /*
     * The lock is held from before fork until the pid is recorded: a command that
     * exits at once is reaped by the signal thread, which compares the pid with
     * e->child under this lock, so its exit is not lost (else stop_child would
     * signal a reaped, maybe reused, pid and wait out the grace period).
     */
    pthread_mutex_lock(&e->lock);
    pid_t pid = fork();
    if (pid < 0) {
        pthread_mutex_unlock(&e->lock);
        log_event(LOGL_ERROR, "cannot start command", "lease", e->lease, "error", strerror(errno), NULL);
        return;
    }
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        /* Only stdin, stdout and stderr go to the command: our own sockets are
         * close-on-exec, but libcurl's internal ones (the socketpair of the multi
         * handle behind an easy request running on another thread at fork time) are
         * not. */
        if (close_range(3, ~0U, 0) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        setenv("LEASEFENCE_EPOCH", epoch, 1);
        setenv("LEASEFENCE_IDENTITY", e->identity, 1);
        setenv("LEASEFENCE_LEASE", e->lease, 1);
        execvp(e->command[0], e->command);
        fprintf(stderr, "leasefence elect: cannot run '%s': %s\n", e->command[0], strerror(errno));
        _exit(127);
    }
    char spid[32];
    snprintf(spid, sizeof(spid), "%d", (int)pid);
    e->child = pid;
    e->child_exited = false;
    pthread_mutex_unlock(&e->lock);
    log_event(LOGL_INFO, "started command", "lease", e->lease, "pid", spid, "command", e->command[0], NULL);
}

/* Waits up to NS for the child to be reaped; true when it was. Called with
 * e->lock held. */
static bool wait_child_locked(struct elect *e, int64_t ns)
{
    struct timespec until;
    mono_deadline(&until, ns);
    while (!e->child_exited) {
        if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
            break;
    }
    return e->child_exited;
}

static void stop_child(struct elect *e)
{
    pthread_mutex_lock(&e->lock);
    pid_t pid = e->child;
    if (pid > 0 && !e->child_exited) {
        kill(pid, SIGTERM);
        if (!wait_child_locked(e, e->grace_ns)) {
            char spid[32];
            snprintf(spid, sizeof(spid), "%d", (int)pid);
            log_event(LOGL_WARN, "command did not stop within the grace period, killing it", "lease",
                      e->lease, "pid", spid, NULL);
            kill(pid, SIGKILL);
            wait_child_locked(e, 5LL * 1000000000LL);
        }
    }
    e->child = 0;
    pthread_mutex_unlock(&e->lock);
}

/* ---- callbacks ---- */

static void on_started(void *ctx, const char *epoch)
{
    struct elect *e = ctx;
    log_event(LOGL_INFO, "started leading", "lease", e->lease, "identity", e->identity, "epoch", epoch, NULL);
    if (e->command != NULL)
        start_child(e, epoch);
}

static void on_stopped(void *ctx)
{
    struct elect *e = ctx;
    /* The command stops before the Lease is released: a new leader must not
     * overlap with it. */
    if (e->command != NULL)
        stop_child(e);
    log_event(LOGL_INFO, "stopped leading", "lease", e->lease, "identity", e->identity, NULL);
}

static void on_new_leader(void *ctx, const char *holder, size_t holder_len)
{
    struct elect *e = ctx;
    /* With its length: a holder may hold NUL bytes, written as \u0000. */
    struct log_field f[] = {
        {"lease", e->lease, strlen(e->lease)},
        {"identity", e->identity, strlen(e->identity)},
        {"holder", holder, holder_len},
    };
    log_fields(LOGL_INFO, "new leader", f, sizeof(f) / sizeof(f[0]));
}

/* ---- signals: one thread takes SIGTERM, SIGINT and SIGCHLD ---- */

static void *signal_main(void *arg)
{
    struct elect *e = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        pthread_mutex_lock(&e->lock);
        bool quit = e->quit;
        pthread_mutex_unlock(&e->lock);
        if (quit)
            return NULL;
        if (sig == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                pthread_mutex_lock(&e->lock);
                bool ours = pid == e->child;
                if (ours) {
                    e->child_exited = true;
                    e->child_status = status;
                    pthread_cond_broadcast(&e->cond);
                }
                pthread_mutex_unlock(&e->lock);
                if (ours) {
                    char code[32];
                    if (WIFEXITED(status))
                        snprintf(code, sizeof(code), "exit %d", WEXITSTATUS(status));
                    else
                        snprintf(code, sizeof(code), "signal %d", WTERMSIG(status));
                    log_event(LOGL_INFO, "command exited", "lease", e->lease, "status", code, NULL);
                }
            }
            continue;
        }
        log_event(LOGL_INFO, sig == SIGTERM ? "received SIGTERM, stopping" : "received SIGINT, stopping",
                  "lease", e->lease, NULL);
        candidate_cancel(e->cand);
    }
    return NULL;
}

/* ---- status server ---- */

static void respond(int fd, int code, const char *ctype, const char *body)
{
    char head[256];
    const char *reason = code == 200   ? "OK"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                                       : "Bad Request";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     code, reason, ctype, strlen(body));
    if (n > 0 && (size_t)n < sizeof(head))
        fd_write_all(fd, head, (size_t)n);
    fd_write_all(fd, body, strlen(body));
}

/* The whole request head must arrive within this: clients are served one at a
 * time, so a slow one (or one that trickles bytes) must not hold up the probes
 * behind it. */
#define STATUS_REQUEST_DEADLINE_MS 2000

static void serve_one(struct elect *e, int fd)
{
    struct timeval tv = {.tv_sec = 2}; /* writes: a client that does not read */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct timespec deadline;
    mono_deadline(&deadline, (int64_t)STATUS_REQUEST_DEADLINE_MS * 1000000);
    char req[4096];
    size_t len = 0;
    while (len < sizeof(req) - 1) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left_ms =
            (int64_t)(deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0)
            return; /* too slow: hang up without an answer */
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
            break;
    }
    req[len] = '\0';
    char method[16], path[1024];
    if (sscanf(req, "%15s %1023s", method, path) != 2) {
        respond(fd, 400, "text/plain", "bad request\n");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond(fd, 405, "text/plain", "method not allowed\n");
        return;
    }
    char *q = strchr(path, '?');
    if (q != NULL)
        *q = '\0';
    if (strcmp(path, "/healthz") == 0) {
        respond(fd, 200, "text/plain", "ok\n");
    } else if (strcmp(path, "/") == 0) {
        struct candidate_status st;
        candidate_status(e->cand, &st);
        /* The holder whole, NUL bytes included (dumped as \u0000) */
        json_t *o = json_pack("{s:s%, s:b, s:s}", "name", st.holder, st.holder_len, "isLeader", st.leading,
                              "epoch", st.epoch);
        char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        candidate_status_release(&st);
        respond(fd, 200, "application/json", body ? body : "{}");
        free(body);
    } else {
        respond(fd, 404, "text/plain", "not found\n");
    }
}

static void *status_main(void *arg)
{
    struct elect *e = arg;
    for (;;) {
        int fd = accept(e->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) { /* out of descriptors: wait instead of spinning */
                struct timespec pause_ts = {.tv_nsec = 100000000};
                nanosleep(&pause_ts, NULL);
                continue;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        serve_one(e, fd);
        close(fd);
    }
    return NULL;
}

/* ---- flags ---- */

static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "leasefence elect: %s needs a value\n", name);
            return NULL;
        }
        return argv[++*i];
    }
    return NULL;
}

static bool is_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strcmp(arg, name) == 0 || (strncmp(arg, name, n) == 0 && arg[n] == '=');
}

int cmd_elect(int argc, char **argv)
{
    const char *lease = NULL, *identity = NULL, *kubeconfig = NULL, *status = NULL;
    struct candidate_config cfg;
    candidate_config_init(&cfg);
    int64_t grace = -1; /* not given */
    char **command = NULL;
    char err[1024];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int64_t *dur = NULL;
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                command = argv + i + 1;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (is_flag(a, "--lease")) {
            if ((v = flag_value(argc, argv, &i, "--lease")) == NULL)
                return 2;
            lease = v;
        } else if (is_flag(a, "--identity")) {
            if ((v = flag_value(argc, argv, &i, "--identity")) == NULL)
                return 2;
            identity = v;
        } else if (is_flag(a, "--kubeconfig")) {
            if ((v = flag_value(argc, argv, &i, "--kubeconfig")) == NULL)
                return 2;
            kubeconfig = v;
        } else if (is_flag(a, "--status-listen")) {
            if ((v = flag_value(argc, argv, &i, "--status-listen")) == NULL)
                return 2;
            status = v;
        } else if (is_flag(a, "--log-level")) {
            if ((v = flag_value(argc, argv, &i, "--log-level")) == NULL)
                return 2;
            if (log_set_level(v) < 0) {
                fprintf(stderr,
                        "leasefence elect: --log-level: '%s' is not one of debug, "
                        "info, warn, error\n",
                        v);
                return 2;
            }
        } else if (is_flag(a, "--lease-duration")) {
            dur = &cfg.lease_duration_ns;
            v = flag_value(argc, argv, &i, "--lease-duration");
        } else if (is_flag(a, "--renew-deadline")) {
            dur = &cfg.renew_deadline_ns;
            v = flag_value(argc, argv, &i, "--renew-deadline");
        } else if (is_flag(a, "--retry-period")) {
            dur = &cfg.retry_period_ns;
            v = flag_value(argc, argv, &i, "--retry-period");
        } else if (is_flag(a, "--grace-period")) {
            dur = &grace;
            v = flag_value(argc, argv, &i, "--grace-period");
        } else {
            fprintf(stderr, "leasefence elect: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (dur != NULL) {
            if (v == NULL)
                return 2;
            if (candidate_parse_duration(v, dur) != 0) {
                fprintf(stderr,
                        "leasefence elect: invalid duration '%s' (want e.g. 500ms, 2s, "
                        "1m)\n",
                        v);
                return 2;
            }
        }
    }
    if (lease == NULL || identity == NULL) {
        fprintf(stderr, "leasefence elect: --lease and --identity are required\n");
        usage(stderr);
        return 2;
    }
    const char *slash = strchr(lease, '/');
    if (slash == NULL || slash == lease || slash[1] == '\0' || strchr(slash + 1, '/') != NULL ||
        (size_t)(slash - lease) >= 256) {
        fprintf(stderr, "leasefence elect: --lease '%s': want NAMESPACE/NAME\n", lease);
        return 2;
    }
    char ns[256];
    memcpy(ns, lease, (size_t)(slash - lease));
    ns[slash - lease] = '\0';
    cfg.ns = ns;
    cfg.name = slash + 1;
    cfg.identity = identity;
    if (candidate_config_validate(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 2;
    }
    /*
     * A leader notices its loss at most a renew deadline plus a retry period
     * after its last renewal; another candidate may take over a lease duration
     * after it.  A command still running past that overlaps the next leader.
     */
    int64_t margin = cfg.lease_duration_ns - cfg.renew_deadline_ns - cfg.retry_period_ns;
    if (grace < 0) /* the default: 5 s, or less when the durations leave less, but
                      at least 1 s */
        grace = margin < 1000000000LL ? 1000000000LL : margin < GRACE_DEFAULT_NS ? margin : GRACE_DEFAULT_NS;
    else if (command != NULL && grace > margin)
        log_event(LOGL_WARN,
                  "the grace period outlasts the lease: a stopping command may "
                  "overlap the next leader's "
                  "(keep --grace-period below lease duration - renew deadline - "
                  "retry period)",
                  "lease", lease, NULL);

    struct elect e;
    memset(&e, 0, sizeof(e));
    snprintf(e.lease, sizeof(e.lease), "%s", lease);
    e.identity = identity;
    e.command = command;
    e.grace_ns = grace;
    e.listen_fd = -1;
    pthread_mutex_init(&e.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e.cond, &ca);
    pthread_condattr_destroy(&ca);

    if (status != NULL && (e.listen_fd = listener_open("--status-listen", status, 0, err, sizeof(err))) < 0) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 2;
    }
    struct kube_client *client = kube_client_new(kubeconfig, err, sizeof(err));
    if (client == NULL) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 1;
    }
    cfg.cb = (struct candidate_callbacks){on_started, on_stopped, on_new_leader, &e};
    e.cand = candidate_new(client, &cfg, NULL, err, sizeof(err));
    if (e.cand == NULL) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        kube_client_free(client);
        return 2;
    }

    /* Every thread inherits this mask; only the signal thread takes these
     * signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t sig_thread, status_thread;
    pthread_create(&sig_thread, NULL, signal_main, &e);
    if (e.listen_fd >= 0)
        pthread_create(&status_thread, NULL, status_main, &e);
    log_event(LOGL_INFO, "candidate starting", "lease", e.lease, "identity", identity, "server",
              kube_client_server(client), NULL);
    candidate_run(e.cand);
    if (e.command != NULL)
        stop_child(&e);
    log_event(LOGL_INFO, "candidate stopped", "lease", e.lease, "identity", identity, NULL);

    /* Wind the threads down so that everything can be freed (valgrind stays
     * clean). */
    pthread_mutex_lock(&e.lock);
    e.quit = true;
    pthread_mutex_unlock(&e.lock);
    pthread_kill(sig_thread, SIGINT);
    pthread_join(sig_thread, NULL);
    if (e.listen_fd >= 0) {
        shutdown(e.listen_fd, SHUT_RDWR); /* accept() returns */
        pthread_join(status_thread, NULL);
        close(e.listen_fd);
    }
    candidate_free(e.cand);
    kube_client_free(client);
    pthread_cond_destroy(&e.cond);
    pthread_mutex_destroy(&e.lock);
    return 0;
}
