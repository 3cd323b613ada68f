/*
 * `leasefence elect`: one election candidate.  Logs one JSON line per
 * transition, runs COMMAND only while leading, serves its status over plain
 * HTTP, and releases the Lease on SIGTERM/SIGINT.
 */
#include "cmd.h"

#include "candidate.h"
#include "fdio.h"
#include "lf_clock.h"
#include "lf_duration.h"
#include "lf_name.h"
#include "kube.h"
#include "log.h"
#include "listener.h"
#include "xmem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include <sys/stat.h>
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
    struct kube_client *client;
    pthread_t sig_thread, status_thread;
    bool sig_started, status_started;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: leasefence elect --lease NAMESPACE/NAME --identity ID [--kubeconfig FILE]\n"
               "                        [--lease-duration D] [--renew-deadline D] [--retry-period D]\n"
               "                        [--status-listen ADDR:PORT] [--grace-period D]\n"
               "                        [--log-level debug|info|warn|error] [-- COMMAND ARGS...]\n"
               "durations as in Go: 500ms, 2s, 1m30s; defaults 15s, 10s, 2s; grace period 5s, at most\n"
               "lease duration - renew deadline - retry period (3s with the defaults), at least 1s\n");
}

static void mono_deadline(struct timespec *ts, int64_t ns_from_now)
{
    int64_t t = lf_clock_mono_ns() + ns_from_now;
    ts->tv_sec = t / 1000000000LL;
    ts->tv_nsec = t % 1000000000LL;
}

/* ---- the command run while leading ---- */

/* "NAME=VALUE"; you own it. */
static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = xmalloc(n);
    snprintf(s, n, "%s=%s", name, value);
    return s;
}

static bool env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* Our environment with LEASEFENCE_EPOCH, _IDENTITY and _LEASE set; NULL-terminated, you own it (env_free). */
static char **env_new(const struct elect *e, const char *epoch)
{
    size_t n = 0, k = 0;
    while (environ[n] != NULL)
        n++;
    char **env = xcalloc(n + 4, sizeof(*env));
    for (size_t i = 0; i < n; i++)
        if (!env_is(environ[i], "LEASEFENCE_EPOCH") && !env_is(environ[i], "LEASEFENCE_IDENTITY") &&
            !env_is(environ[i], "LEASEFENCE_LEASE"))
            env[k++] = xstrdup(environ[i]);
    env[k++] = env_entry("LEASEFENCE_EPOCH", epoch);
    env[k++] = env_entry("LEASEFENCE_IDENTITY", e->identity);
    env[k++] = env_entry("LEASEFENCE_LEASE", e->lease);
    return env;
}

static void env_free(char **env)
{
    for (size_t i = 0; env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* CMD's program as execvp finds it: the first executable on $PATH when CMD has no '/', else CMD (execve then
 * fails with ENOENT); you own the string. */
static char *command_path(const char *cmd)
{
    const char *path = getenv("PATH");
    if (strchr(cmd, '/') != NULL)
        return xstrdup(cmd);
    if (path == NULL || path[0] == '\0')
        path = "/bin:/usr/bin";
    for (const char *p = path;;) {
        const char *end = strchrnul(p, ':');
        int dl = (int)(end - p);
        size_t n = (size_t)dl + strlen(cmd) + 2;
        char *file = xmalloc(n);
        snprintf(file, n, "%.*s%s%s", dl, p, dl > 0 ? "/" : "",
                 cmd); /* an empty entry: the current directory */
        struct stat st;
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
            return file; /* a directory of that name (searchable, so X_OK) is passed over, as execvp does */
        free(file);
        if (*end == '\0')
            return xstrdup(cmd);
        p = end + 1;
    }
}

/* Closes the descriptors from LO to HI (both included). */
static void close_fds(unsigned lo, unsigned hi)
{
    if (lo > hi || close_range(lo, hi, 0) == 0)
        return;
    for (unsigned fd = lo; fd <= hi && fd < 4096; fd++)
        close((int)fd);
}

/*
 * In the child of fork(): only async-signal-safe calls from here on (the parent has other threads, which
 * may have held malloc's or the environment's lock at the fork), as git's run-command does.  Everything
 * was built before the fork.  On failure, execve's errno goes to ERRFD (close-on-exec: the parent reads
 * nothing when execve succeeded).
 */
/* ARGV as the shell runs PATH, a file without a '#!' line (as execvp does on ENOEXEC): "/bin/sh", PATH, then
 * ARGV's arguments; you own the array, not the strings. */
static char **shell_argv(const char *path, char **argv)
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **sh = xcalloc(n + 2, sizeof(*sh));
    sh[0] = (char *)"/bin/sh";
    sh[1] = (char *)path;
    for (size_t i = 1; i < n; i++)
        sh[i + 1] = argv[i];
    return sh;
}

/* SH_ARGV: the same command as the shell would run it, tried when execve says the file is no program. */
static void __attribute__((noreturn))
child_exec(const char *path, char **argv, char **sh_argv, char **envp, int errfd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* elect ignores SIGPIPE; an ignored signal stays ignored across execve, so give the command the default
     * back (signal() is async-signal-safe). */
    signal(SIGPIPE, SIG_DFL);
    /* Only stdin, stdout and stderr go to the command: our own sockets are close-on-exec, but libcurl's
     * internal ones (the socketpair of the multi handle behind an easy request running on another thread
     * at fork time) are not. */
    if (errfd < 3) { /* stdin, stdout or stderr was closed when the pipe was made: ERRFD is one of them */
        close_fds(3, ~0U);
    } else {
        close_fds(3, (unsigned)errfd - 1);
        close_fds((unsigned)errfd + 1, ~0U);
    }
    execve(path, argv, envp);
    if (errno == ENOEXEC)
        execve("/bin/sh", sh_argv, envp);
    int e = errno;
    ssize_t n = write(errfd, &e, sizeof(e));
    (void)n;
    _exit(127);
}

/* The errno of the child's failed execve from FD, or 0 when it ran the command. */
static int exec_error(int fd)
{
    int e = 0;
    ssize_t n;
    while ((n = read(fd, &e, sizeof(e))) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof(e) ? e : 0;
}

static void start_child(struct elect *e, const char *epoch)
{
    char *path = command_path(e->command[0]);
    char **sh_argv = shell_argv(path, e->command);
    char **envp = env_new(e, epoch);
    int pipefd[2], err = 0;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        log_event(LOGL_ERROR, "cannot start command", "lease", e->lease, "error", strerror(errno), NULL);
        goto out;
    }
    /*
     * The lock is held from before fork until the pid is recorded: a command that exits at once is reaped
     * by the signal thread, which compares the pid with e->child under this lock, so its exit is not lost
     * (else stop_child would signal a reaped, maybe reused, pid and wait out the grace period).
     */
    pthread_mutex_lock(&e->lock);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(path, e->command, sh_argv, envp, pipefd[1]);
    err = errno;
    close(pipefd[1]);
    if (pid > 0) {
        e->child = pid;
        e->child_exited = false;
    }
    pthread_mutex_unlock(&e->lock);
    if (pid < 0) {
        log_event(LOGL_ERROR, "cannot start command", "lease", e->lease, "error", strerror(err), NULL);
    } else if ((err = exec_error(pipefd[0])) != 0) {
        log_event(LOGL_ERROR, "cannot run command", "lease", e->lease, "command", e->command[0], "error",
                  strerror(err), NULL);
    } else {
        char spid[32];
        snprintf(spid, sizeof(spid), "%d", (int)pid);
        log_event(LOGL_INFO, "started command", "lease", e->lease, "pid", spid, "command", e->command[0],
                  NULL);
    }
    close(pipefd[0]);
out:
    free(path);
    free(sh_argv);
    env_free(envp);
}

/* Waits up to NS for the child to be reaped; true when it was. Called with e->lock held. */
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
    /* The command stops before the Lease is released: a new leader must not overlap with it. */
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
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, ctype, strlen(body));
    if (n > 0 && (size_t)n < sizeof(head))
        fd_write_all(fd, head, (size_t)n);
    fd_write_all(fd, body, strlen(body));
}

/* The whole request head must arrive within this: clients are served one at a time, so a slow one
 * (or one that trickles bytes) must not hold up the probes behind it. */
#define STATUS_REQUEST_DEADLINE_MS 2000

static void serve_one(struct elect *e, int fd)
{
    struct timeval tv = {.tv_sec = 2}; /* writes: a client that does not read */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int64_t deadline_ms = lf_clock_mono_ms() + STATUS_REQUEST_DEADLINE_MS;
    char req[4096];
    size_t len = 0;
    while (len < sizeof(req) - 1) {
        int64_t left_ms = deadline_ms - lf_clock_mono_ms();
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

/* What `elect` was asked to do. */
struct elect_options {
    const char *lease, *identity, *kubeconfig, *status_listen;
    char ns[64]; /* --lease's namespace; its name is cfg.name */
    struct candidate_config cfg;
    int64_t grace_ns; /* -1: not given */
    char **command;   /* NULL-terminated, or NULL */
};

/* A duration (the one grammar, lf_duration_parse) for FLAG; -1 after a message when S is not one. */
static int parse_duration(const char *flag, const char *s, int64_t *ns)
{
    char err[256];
    if (lf_duration_parse(s, ns, err, sizeof(err)) != 0) {
        fprintf(stderr, "leasefence elect: %s: %s\n", flag, err);
        return -1;
    }
    return 0;
}

enum {
    O_LEASE = 256,
    O_IDENTITY,
    O_KUBECONFIG,
    O_STATUS,
    O_LOGLEVEL,
    O_DURATION,
    O_DEADLINE,
    O_RETRY,
    O_GRACE
};

static const struct option elect_longopts[] = {
    {"lease", required_argument, NULL, O_LEASE},
    {"identity", required_argument, NULL, O_IDENTITY},
    {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
    {"status-listen", required_argument, NULL, O_STATUS},
    {"log-level", required_argument, NULL, O_LOGLEVEL},
    {"lease-duration", required_argument, NULL, O_DURATION},
    {"renew-deadline", required_argument, NULL, O_DEADLINE},
    {"retry-period", required_argument, NULL, O_RETRY},
    {"grace-period", required_argument, NULL, O_GRACE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One flag C with its value ARG into O; -1 (after a message) when it is not valid. */
static int parse_flag(int c, const char *arg, struct elect_options *o)
{
    switch (c) {
    case O_LEASE:
        o->lease = arg;
        return 0;
    case O_IDENTITY:
        o->identity = arg;
        return 0;
    case O_KUBECONFIG:
        o->kubeconfig = arg;
        return 0;
    case O_STATUS:
        o->status_listen = arg;
        return 0;
    case O_LOGLEVEL:
        if (log_set_level(arg) == 0)
            return 0;
        fprintf(stderr, "leasefence elect: --log-level: '%s' is not one of debug, info, warn, error\n", arg);
        return -1;
    case O_DURATION:
        return parse_duration("--lease-duration", arg, &o->cfg.lease_duration_ns);
    case O_DEADLINE:
        return parse_duration("--renew-deadline", arg, &o->cfg.renew_deadline_ns);
    case O_RETRY:
        return parse_duration("--retry-period", arg, &o->cfg.retry_period_ns);
    case O_GRACE:
        return parse_duration("--grace-period", arg, &o->grace_ns);
    }
    return -1;
}

/* The checks across flags, once all are read; -1 after a message. */
static int check_options(struct elect_options *o)
{
    char err[1024];
    if (o->lease == NULL || o->identity == NULL) {
        fprintf(stderr, "leasefence elect: --lease and --identity are required\n");
        usage(stderr);
        return -1;
    }
    size_t ns_len;
    if (lf_name_split_lease(o->lease, &ns_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "leasefence elect: --lease '%s': %s\n", o->lease, err);
        return -1;
    }
    memcpy(o->ns, o->lease, ns_len); /* a DNS label: at most 63 bytes */
    o->ns[ns_len] = '\0';
    o->cfg.name = o->lease + ns_len + 1;
    o->cfg.ns = o->ns;
    o->cfg.identity = o->identity;
    if (candidate_config_validate(&o->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return -1;
    }
    /*
     * A leader notices its loss at most a renew deadline plus a retry period
     * after its last renewal; another candidate may take over a lease duration
     * after it.  A command still running past that overlaps the next leader.
     */
    int64_t margin = o->cfg.lease_duration_ns - o->cfg.renew_deadline_ns - o->cfg.retry_period_ns;
    if (o->grace_ns < 0) /* the default: 5 s, or less when the durations leave less, but at least 1 s */
        o->grace_ns = margin < 1000000000LL       ? 1000000000LL
                      : margin < GRACE_DEFAULT_NS ? margin
                                                  : GRACE_DEFAULT_NS;
    else if (o->command != NULL && o->grace_ns > margin)
        log_event(LOGL_WARN,
                  "the grace period outlasts the lease: a stopping command may overlap the next leader's "
                  "(keep --grace-period below lease duration - renew deadline - retry period)",
                  "lease", o->lease, NULL);
    return 0;
}

/* ARGV into O; -1 to run, else the exit code (help: 0, bad usage: 2). */
static int elect_parse(int argc, char **argv, struct elect_options *o)
{
    int c;
    memset(o, 0, sizeof(*o));
    candidate_config_init(&o->cfg);
    o->grace_ns = -1;
    opterr = 0; /* our messages, not getopt's */
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", elect_longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == ':') {
            fprintf(stderr, "leasefence elect: %s needs a value\n", argv[optind - 1]);
            return 2;
        }
        if (c == '?') {
            fprintf(stderr, "leasefence elect: unknown argument '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (parse_flag(c, optarg, o) < 0)
            return 2;
    }
    if (optind < argc) { /* only after "--": the command */
        if (strcmp(argv[optind - 1], "--") != 0) {
            fprintf(stderr, "leasefence elect: unknown argument '%s'\n", argv[optind]);
            usage(stderr);
            return 2;
        }
        o->command = argv + optind;
    }
    return check_options(o) < 0 ? 2 : -1;
}

/* ---- the run ---- */

static void elect_init(struct elect *e, const struct elect_options *o)
{
    pthread_condattr_t ca;
    memset(e, 0, sizeof(*e));
    snprintf(e->lease, sizeof(e->lease), "%s", o->lease);
    e->identity = o->identity;
    e->command = o->command;
    e->grace_ns = o->grace_ns;
    e->listen_fd = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Starts FN on a new thread; false after a message naming WHAT when it could not. */
static bool start_thread(pthread_t *t, void *(*fn)(void *), struct elect *e, const char *what)
{
    int rc = pthread_create(t, NULL, fn, e);
    if (rc != 0)
        fprintf(stderr, "leasefence elect: cannot start the %s thread: %s\n", what, strerror(rc));
    return rc == 0;
}

/* Winds the threads down and frees everything, so that valgrind stays clean. */
static void elect_release(struct elect *e)
{
    if (e->sig_started) {
        pthread_mutex_lock(&e->lock);
        e->quit = true;
        pthread_mutex_unlock(&e->lock);
        pthread_kill(e->sig_thread, SIGINT);
        pthread_join(e->sig_thread, NULL);
    }
    if (e->status_started) {
        shutdown(e->listen_fd, SHUT_RDWR); /* accept() returns */
        pthread_join(e->status_thread, NULL);
    }
    if (e->listen_fd >= 0)
        close(e->listen_fd);
    candidate_free(e->cand);
    kube_client_free(e->client);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
}

/* The status listener, the API client and the candidate of O into E; the exit code on failure, else -1. */
static int elect_open(struct elect *e, const struct elect_options *o)
{
    char err[1024];
    struct candidate_config cfg = o->cfg;
    if (o->status_listen != NULL &&
        (e->listen_fd = listener_open("--status-listen", o->status_listen, 0, err, sizeof(err))) < 0) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 2;
    }
    if ((e->client = kube_client_new(o->kubeconfig, err, sizeof(err))) == NULL) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 1;
    }
    cfg.cb = (struct candidate_callbacks){on_started, on_stopped, on_new_leader, e};
    if ((e->cand = candidate_new(e->client, &cfg, err, sizeof(err))) == NULL) {
        fprintf(stderr, "leasefence elect: %s\n", err);
        return 2;
    }
    return -1;
}

/* Runs the candidate of O until SIGTERM or SIGINT; the exit code. */
static int elect_run(const struct elect_options *o)
{
    struct elect e;
    sigset_t set;
    int rc;

    elect_init(&e, o);
    if ((rc = elect_open(&e, o)) >= 0)
        goto out;
    /* Every thread inherits this mask; only the signal thread takes these signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = 1;
    if (!(e.sig_started = start_thread(&e.sig_thread, signal_main, &e, "signal")))
        goto out;
    if (e.listen_fd >= 0 &&
        !(e.status_started = start_thread(&e.status_thread, status_main, &e, "status server")))
        goto out;
    log_event(LOGL_INFO, "candidate starting", "lease", e.lease, "identity", e.identity, "server",
              kube_client_server(e.client), NULL);
    candidate_run(e.cand);
    if (e.command != NULL)
        stop_child(&e);
    log_event(LOGL_INFO, "candidate stopped", "lease", e.lease, "identity", e.identity, NULL);
    rc = 0;
out:
    elect_release(&e);
    return rc;
}

int cmd_elect(int argc, char **argv)
{
    struct elect_options o;
    int rc = elect_parse(argc, argv, &o);
    return rc >= 0 ? rc : elect_run(&o);
}
