#ifndef LEASEFENCE_TLS_H
#define LEASEFENCE_TLS_H
/*
 * Server TLS contexts: TLS 1.2 minimum, AEAD cipher suites only, ALPN
 * http/1.1 (plus h2 when HTTP2 is set).  A reload builds a new context; the
 * caller swaps it in for new handshakes (connections keep the one they began with).
 */
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

/**
 * A new SSL_CTX serving the certificate chain in CERT_PATH with the key in
 * KEY_PATH (PEM).  *NOT_AFTER gets the leaf's expiry (unix seconds).  Returns
 * NULL with ERR filled ("tls key '/x': ...") when the pair cannot be used.
 * The key's bytes are wiped from memory once loaded.  Warns (log) when the key
 * file is readable by group or others.
 */
SSL_CTX *tls_load(const char *cert_path, const char *key_path, bool http2, int64_t *not_after, char *err,
                  size_t errlen);

#endif
