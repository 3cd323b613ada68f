/* TLS contexts for the webhook listener. */
#include "tls.h"
#include "xmem.h"

#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lf_file.h"
#include "log.h"

#define TLS_MAX_FILE (1024 * 1024)

/* TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are all AEAD. */
static const char ciphers12[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static h2o_iovec_t alpn_http1[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
static h2o_iovec_t alpn_h2[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(err, errlen, "%s '%s': %s", what, path, buf);
}

/* The key file whole (lf_file_read: read(2), no stdio buffer left unwiped); NULL with ERR filled. */
static unsigned char *read_key(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = lf_file_read("tls key", path, TLS_MAX_FILE, len, err, errlen);
    if (buf != NULL && *len == 0) {
        snprintf(err, errlen, "tls key '%s': empty file", path);
        free(buf);
        buf = NULL;
    }
    return (unsigned char *)buf;
}

static int64_t not_after_of(X509 *x)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

SSL_CTX *tls_load(const char *cert_path, const char *key_path, bool http2, int64_t *not_after, char *err,
                  size_t errlen)
{
    SSL_CTX *ctx = NULL, *ret = NULL;
    unsigned char *key = NULL;
    size_t keylen = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    struct stat st;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error(err, errlen, "tls", "context");
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, ciphers12) != 1) {
        ssl_error(err, errlen, "tls", "ciphers");
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        ssl_error(err, errlen, "tls certificate", cert_path);
        goto out;
    }
    if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0) {
        char mode[8];
        snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
        log_event(LOGL_WARN, "tls key file is readable by group or others", "path", key_path, "mode", mode,
                  NULL);
    }
    if ((key = read_key(key_path, &keylen, err, errlen)) == NULL)
        goto out;
    bio = BIO_new_mem_buf(key, (int)keylen);
    if (bio == NULL || (pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
        ssl_error(err, errlen, "tls key", key_path);
        goto out;
    }
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
        snprintf(err, errlen, "tls key '%s': does not match the certificate in '%s'", key_path, cert_path);
        ERR_clear_error();
        goto out;
    }
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
        ssl_error(err, errlen, "tls key", key_path);
        goto out;
    }
    *not_after = not_after_of(SSL_CTX_get0_certificate(ctx));
    h2o_ssl_register_alpn_protocols(ctx, http2 ? alpn_h2 : alpn_http1);
    ret = ctx;
    ctx = NULL;
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    if (key != NULL) {
        OPENSSL_cleanse(key, keylen);
        free(key);
    }
    SSL_CTX_free(ctx);
    return ret;
}
