#ifndef LEASEFENCE_CLIENT_H
#define LEASEFENCE_CLIENT_H
/*
 * The Kubernetes API client that candidates and trackers borrow.  Thread-safe: one client may be shared
 * by several candidates, trackers and threads.
 */
#include <stddef.h>
#include <stdint.h>

struct kube_client;

/**
 * Loads connection settings from KUBECONFIG_PATH when not NULL, else from
 * $KUBECONFIG, else from the in-cluster service account, and creates a
 * client.  Returns NULL with err filled ("kubeconfig '/x': no current-context").
 */
struct kube_client *kube_client_new(const char *kubeconfig_path, char *err, size_t errlen);

/** Frees the client; no request may be under way. */
void kube_client_free(struct kube_client *c);

/** The API server's base URL ("https://127.0.0.1:6443"); borrowed. */
const char *kube_client_server(const struct kube_client *c);

/** One row of kube_client_request_counts: HTTP status (0: no response) and how many requests got it. */
struct kube_code_count {
    int code;
    uint64_t count;
};

/** Fills OUT with up to MAX rows of requests by response code; returns the number of rows. */
size_t kube_client_request_counts(struct kube_client *c, struct kube_code_count *out, size_t max);

#endif
