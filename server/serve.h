#ifndef LEASEFENCE_SERVE_H
#define LEASEFENCE_SERVE_H
/*
 * `leasefence serve`: the h2o webhook server.  POST /validate over TLS on
 * --listen; /healthz, /readyz and /metrics on both --listen and the plain
 * --probe-listen.  Event loops on their own threads, the tracker and the
 * LeaseFence watch on their own; fences from LeaseFence objects and the
 * optional --config file (reloaded when it changes), certificates reloaded
 * when their files change.
 */
#include <stdbool.h>
#include <stdint.h>

struct serve_options {
    const char *config_path; /* NULL: fences from LeaseFence objects alone */
    const char *cert_path, *key_path;
    const char *kubeconfig;   /* NULL: $KUBECONFIG, then in-cluster */
    const char *listen;       /* "ADDR:PORT", ":PORT", "[V6]:PORT" */
    const char *probe_listen; /* same; "" or NULL: none */
    int threads;              /* event loop threads, >= 1 */
    int max_connections;      /* open connections at most, all threads together */
    bool http2;
    int64_t shutdown_grace_ms;
    int64_t request_timeout_ms; /* TLS handshake, and reading one request (headers and body) */
    int64_t max_skew_ms;        /* clock-skew allowance for first-sight validity (decide_check) */
    int64_t strict_timeout_ms;  /* strict fences: how long a review may wait for a fresh Lease read */
    int64_t reload_interval_ms;
    bool any_writer; /* a LeaseFence may name any user and group, not only its namespace's service accounts */
    /* the elected replica keeps this webhook configuration in step and writes LeaseFence status */
    const char *webhook_configuration; /* NULL or "": not kept */
    const char *ns;                    /* leasefence's namespace, for the election Lease (leader_namespace) */
    const char *election_lease;        /* the election Lease's name */
    int64_t election_lease_duration_ms, election_renew_deadline_ms, election_retry_period_ms;
};

/** Runs the server until SIGTERM or SIGINT; returns the process exit status (0 after a clean shutdown). */
int serve_run(const struct serve_options *opts);

#endif
