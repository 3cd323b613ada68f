#ifndef LEASEFENCE_KUBECONFIG_H
#define LEASEFENCE_KUBECONFIG_H
/*
 * Internal to the elector library (never installed): where the API server is and how to authenticate to
 * it, from a kubeconfig file or the in-cluster service account.  kube.c's client is built on it.
 */
#include <stdbool.h>
#include <stddef.h>

struct curl_slist;

/** Bytes of a PEM blob (NUL-terminated after LEN); wiped when released. */
struct kubeconfig_blob {
    unsigned char *data;
    size_t len;
};

struct kubeconfig {
    char *server; /* "https://host:port", no trailing '/' */
    char *ca_file, *cert_file, *key_file;
    struct kubeconfig_blob ca, cert, key;
    bool insecure;
    char *tls_server_name;
    char *url_base; /* server with tls-server-name as its host, or NULL: requests go to server */
    struct curl_slist *connect_to; /* "NAME:PORT:HOST:PORT": the connection still goes to server's host */
    char *token;                   /* the bearer token, or NULL; never logged */
    char *token_file;              /* where the token is re-read from, or NULL */
};

/**
 * Fills C (zeroed) from KUBECONFIG_PATH when not NULL or "", else from the first entry of $KUBECONFIG that
 * exists (no merging, as kubectl's first file), else from the in-cluster service account
 * ($LEASEFENCE_TEST_SERVICEACCOUNT_DIR for tests).  0, or -1 with ERR ("kubeconfig '/x': no
 * current-context"); release C either way.
 */
int kubeconfig_load(struct kubeconfig *c, const char *kubeconfig_path, char *err, size_t errlen);

/** Frees (and wipes the secrets of) what C holds, and zeroes it. */
void kubeconfig_release(struct kubeconfig *c);

/** The token in file PATH without trailing whitespace; you own it (kubeconfig_wipe_free).  NULL with ERR. */
char *kubeconfig_read_token(const char *path, char *err, size_t errlen);

/** Wipes the C string S and frees it; NULL is fine. */
void kubeconfig_wipe_free(char *s);

/** Wipes and frees B's bytes, and empties it. */
void kubeconfig_blob_release(struct kubeconfig_blob *b);

#endif
