/* `leasefence serve`: its flags parsed into struct serve_options, then serve_run. */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "serve.h"

static const char usage_serve[] =
    "usage: leasefence serve --tls-cert FILE --tls-key FILE [--config FILE] [options]\n"
    "\n"
    "Fences come from LeaseFence objects (leasefence.io/v1alpha1, every namespace) and --config.\n"
    "\n"
    "  --config FILE          more fences (JSON), merged with the LeaseFences; reloaded when it changes\n"
    "  --leasefence-writers W namespace (default): a LeaseFence fences only its namespace's service\n"
    "                         accounts; any: any user and group it names\n"
    "  --tls-cert FILE        serving certificate chain (PEM); reloaded when it changes\n"
    "  --tls-key FILE         its private key (PEM)\n"
    "  --kubeconfig FILE      Kubernetes access (default: $KUBECONFIG, then in-cluster)\n"
    "  --webhook-configuration NAME  the ValidatingWebhookConfiguration whose matchConditions\n"
    "                         fenced-writers and not-elections the elected replica keeps in step\n"
    "                         with the fences, default leasefence (\"\" to leave it alone)\n"
    "  --namespace NS         leasefence's namespace, for its election Lease (default: $POD_NAMESPACE,\n"
    "                         then the in-cluster namespace, then leasefence-system)\n"
    "  --leader-elect-resource-name NAME  the election Lease, default leasefence; the identity is\n"
    "                         $POD_NAME, else the hostname\n"
    "  --leader-elect-lease-duration D, --leader-elect-renew-deadline D, --leader-elect-retry-period D\n"
    "                         the election's timing, default 15s, 10s, 2s\n"
    "  --listen ADDR:PORT     webhook (TLS) address, default :8443\n"
    "  --probe-listen ADDR:PORT  plain HTTP /healthz /readyz /metrics, default :8080 (\"\" to disable)\n"
    "  --threads N            event loop threads, default: number of CPUs\n"
    "  --max-connections N    open connections at most, default 4096\n"
    "  --http2                offer HTTP/2 (off by default: h2o 2.2.5 lacks the rapid-reset fix)\n"
    "  --shutdown-grace D     time to finish requests after SIGTERM, default 10s\n"
    "  --request-timeout D    TLS handshake and reading one request (slow clients), default 10s\n"
    "  --max-clock-skew D     how far a holder's clock may lag ours: a Lease first seen long after its\n"
    "                         renewTime is valid until renewTime + leaseDuration + D, default 30s\n"
    "  --strict-timeout D     strict fences: how long a write may wait for the Lease to be read afresh\n"
    "                         before it is denied (reason unknown); keep it well under the webhook's\n"
    "                         timeoutSeconds; default 1s\n"
    "  --log-level L          debug, info, warn or error; default info\n"
    "  --check-config         validate --config, print \"configuration OK\" or the error, and exit\n";

/* A whole number in [MIN, MAX]; -1 with a message when S is not one. */
static int parse_int(const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "leasefence: %s: '%s' is not a number from %ld to %ld\n", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* A duration (config_parse_duration_ms); -1 with a message when S is not one. */
static int parse_duration_ms(const char *opt, const char *s, int64_t *out)
{
    char err[256];
    if (config_parse_duration_ms(s, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "leasefence serve: %s: %s\n", opt, err);
        return -1;
    }
    return 0;
}

/* What `serve` was asked to do. */
struct serve_cmd {
    struct serve_options o;
    bool check; /* --check-config: validate --config and exit */
};

enum {
    O_CONFIG = 256,
    O_CERT,
    O_KEY,
    O_KUBECONFIG,
    O_LISTEN,
    O_PROBE,
    O_THREADS,
    O_MAXCONN,
    O_HTTP2,
    O_GRACE,
    O_REQTIMEOUT,
    O_SKEW,
    O_STRICT_TIMEOUT,
    O_LOGLEVEL,
    O_CHECK,
    O_WRITERS,
    O_VWC,
    O_NAMESPACE,
    O_LE_NAME,
    O_LE_DURATION,
    O_LE_DEADLINE,
    O_LE_RETRY,
    O_HELP
};

static const struct option serve_longopts[] = {
    {"config", required_argument, NULL, O_CONFIG},
    {"tls-cert", required_argument, NULL, O_CERT},
    {"tls-key", required_argument, NULL, O_KEY},
    {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
    {"listen", required_argument, NULL, O_LISTEN},
    {"probe-listen", required_argument, NULL, O_PROBE},
    {"threads", required_argument, NULL, O_THREADS},
    {"max-connections", required_argument, NULL, O_MAXCONN},
    {"http2", no_argument, NULL, O_HTTP2},
    {"shutdown-grace", required_argument, NULL, O_GRACE},
    {"request-timeout", required_argument, NULL, O_REQTIMEOUT},
    {"max-clock-skew", required_argument, NULL, O_SKEW},
    {"strict-timeout", required_argument, NULL, O_STRICT_TIMEOUT},
    {"log-level", required_argument, NULL, O_LOGLEVEL},
    {"check-config", no_argument, NULL, O_CHECK},
    {"leasefence-writers", required_argument, NULL, O_WRITERS},
    {"webhook-configuration", required_argument, NULL, O_VWC},
    {"namespace", required_argument, NULL, O_NAMESPACE},
    {"leader-elect-resource-name", required_argument, NULL, O_LE_NAME},
    {"leader-elect-lease-duration", required_argument, NULL, O_LE_DURATION},
    {"leader-elect-renew-deadline", required_argument, NULL, O_LE_DEADLINE},
    {"leader-elect-retry-period", required_argument, NULL, O_LE_RETRY},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static const struct serve_options serve_defaults = {
    .listen = ":8443",
    .probe_listen = ":8080",
    .threads = 0,
    .max_connections = 4096,
    .shutdown_grace_ms = 10000,
    .request_timeout_ms = 10000,
    .max_skew_ms = 30000,
    .strict_timeout_ms = 1000,
    .reload_interval_ms = 1000,
    .webhook_configuration = "leasefence",
    .election_lease = "leasefence",
    .election_lease_duration_ms = 15000,
    .election_renew_deadline_ms = 10000,
    .election_retry_period_ms = 2000,
};

/* The flags that take a number or a duration, into O; -1 after a message. */
static int parse_number_flag(int c, const char *arg, struct serve_options *o)
{
    long n;
    switch (c) {
    case O_THREADS:
        if (parse_int("--threads", arg, 1, 256, &n) < 0)
            return -1;
        o->threads = (int)n;
        return 0;
    case O_MAXCONN:
        if (parse_int("--max-connections", arg, 1, 1000000, &n) < 0)
            return -1;
        o->max_connections = (int)n;
        return 0;
    case O_GRACE:
        return parse_duration_ms("--shutdown-grace", arg, &o->shutdown_grace_ms);
    case O_REQTIMEOUT:
        if (parse_duration_ms("--request-timeout", arg, &o->request_timeout_ms) < 0)
            return -1;
        if (o->request_timeout_ms < 100) {
            fprintf(stderr, "leasefence: --request-timeout: at least 100ms\n");
            return -1;
        }
        return 0;
    case O_SKEW:
        return parse_duration_ms("--max-clock-skew", arg, &o->max_skew_ms);
    case O_STRICT_TIMEOUT:
        if (parse_duration_ms("--strict-timeout", arg, &o->strict_timeout_ms) < 0)
            return -1;
        /* kube-apiserver's webhook timeoutSeconds is 1-30 s: a budget it cannot wait for is a mistake */
        if (o->strict_timeout_ms < 10 || o->strict_timeout_ms > 29000) {
            fprintf(stderr, "leasefence: --strict-timeout: from 10ms to 29s, well under the webhook's "
                            "timeoutSeconds\n");
            return -1;
        }
        return 0;
    case O_LE_DURATION:
        return parse_duration_ms("--leader-elect-lease-duration", arg, &o->election_lease_duration_ms);
    case O_LE_DEADLINE:
        return parse_duration_ms("--leader-elect-renew-deadline", arg, &o->election_renew_deadline_ms);
    case O_LE_RETRY:
        return parse_duration_ms("--leader-elect-retry-period", arg, &o->election_retry_period_ms);
    }
    return -1;
}

/* One flag C with its value ARG into CMD; -1 after a message when it is not valid. */
static int parse_flag(int c, const char *arg, struct serve_cmd *cmd)
{
    struct serve_options *o = &cmd->o;
    switch (c) {
    case O_CONFIG:
        o->config_path = arg;
        return 0;
    case O_CERT:
        o->cert_path = arg;
        return 0;
    case O_KEY:
        o->key_path = arg;
        return 0;
    case O_KUBECONFIG:
        o->kubeconfig = arg;
        return 0;
    case O_LISTEN:
        o->listen = arg;
        return 0;
    case O_PROBE:
        o->probe_listen = arg;
        return 0;
    case O_HTTP2:
        o->http2 = true;
        return 0;
    case O_LOGLEVEL:
        if (log_set_level(arg) == 0)
            return 0;
        fprintf(stderr, "leasefence: --log-level: '%s' is not one of debug, info, warn, error\n", arg);
        return -1;
    case O_CHECK:
        cmd->check = true;
        return 0;
    case O_WRITERS:
        if (strcmp(arg, "namespace") != 0 && strcmp(arg, "any") != 0) {
            fprintf(stderr, "leasefence: --leasefence-writers: '%s' is not one of namespace, any\n", arg);
            return -1;
        }
        o->any_writer = strcmp(arg, "any") == 0;
        return 0;
    case O_VWC:
        o->webhook_configuration = arg;
        return 0;
    case O_NAMESPACE:
        o->ns = arg;
        return 0;
    case O_LE_NAME:
        o->election_lease = arg;
        return 0;
    }
    return parse_number_flag(c, arg, o);
}

/* ARGV into CMD; -1 to run, else the exit code (help: 0, bad usage: 2). */
static int serve_parse(int argc, char **argv, struct serve_cmd *cmd)
{
    int c;
    cmd->o = serve_defaults;
    cmd->check = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", serve_longopts, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(usage_serve, stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            fputs(usage_serve, stderr);
            return 2;
        }
        if (parse_flag(c, optarg, cmd) < 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "leasefence serve: unexpected argument '%s'\n%s", argv[optind], usage_serve);
        return 2;
    }
    if (cmd->check && cmd->o.config_path == NULL) {
        fprintf(stderr, "leasefence serve: --check-config needs --config\n%s", usage_serve);
        return 2;
    }
    if (!cmd->check && (cmd->o.cert_path == NULL || cmd->o.key_path == NULL)) {
        fprintf(stderr, "leasefence serve: --tls-cert and --tls-key are required\n%s", usage_serve);
        return 2;
    }
    if (cmd->o.threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cmd->o.threads = cpus > 0 ? (int)(cpus < 64 ? cpus : 64) : 1;
    }
    return -1;
}

/* --check-config: prints "configuration OK" (after any warnings) or the error; the exit code. */
static int check_config(const char *path)
{
    char err[1024];
    struct fence_table *t = config_load(path, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (size_t i = 0; i < t->nwarnings; i++)
        fprintf(stderr, "warning: %s\n", t->warnings[i]);
    config_free(t);
    puts("configuration OK");
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    struct serve_cmd cmd;
    int rc = serve_parse(argc, argv, &cmd);
    if (rc >= 0)
        return rc;
    return cmd.check ? check_config(cmd.o.config_path) : serve_run(&cmd.o);
}
