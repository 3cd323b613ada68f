/* Reloads of the --config file and the certificate when their files change. */
#include "reload.h"
#include "serve_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fencesrc.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

/* What identifies a file's content for reloads: ConfigMap and Secret volumes swap a symlink,
 * so the resolved path and the inode matter as well as mtime and size. */
struct file_id {
    char path[4096];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool ok;
};

static struct file_id file_id_of(const char *path)
{
    struct file_id id;
    struct stat st;
    memset(&id, 0, sizeof(id));
    if (realpath(path, id.path) == NULL || stat(id.path, &st) != 0)
        return id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime = st.st_mtim;
    id.ok = true;
    return id;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
    return a->ok == b->ok && strcmp(a->path, b->path) == 0 && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct file_id config_id, cert_id, key_id;

static void reload_config(void)
{
    char err[1024] = "";
    if (serve_srv.opts->config_path == NULL)
        return;
    struct file_id id = file_id_of(serve_srv.opts->config_path);
    if (file_id_eq(&id, &config_id))
        return;
    config_id = id;
    if (fencesrc_load_file(serve_srv.fences, serve_srv.opts->config_path, err, sizeof(err)) < 0) {
        metrics_config_reload(false);
        log_event(LOGL_ERROR, "configuration not reloaded, keeping the previous one", "error", err, NULL);
        return;
    }
    char n[32];
    snprintf(n, sizeof(n), "%zu", serve_fences_in_force());
    metrics_config_reload(true);
    log_event(LOGL_INFO, "configuration reloaded", "path", serve_srv.opts->config_path, "fences", n, NULL);
}

static void reload_tls(void)
{
    char err[1024] = "";
    int64_t not_after = 0;
    struct file_id c = file_id_of(serve_srv.opts->cert_path), k = file_id_of(serve_srv.opts->key_path);
    if (file_id_eq(&c, &cert_id) && file_id_eq(&k, &key_id))
        return;
    cert_id = c;
    key_id = k;
    SSL_CTX *ctx = tls_load(serve_srv.opts->cert_path, serve_srv.opts->key_path, serve_srv.opts->http2,
                            &not_after, err, sizeof(err));
    if (ctx == NULL) {
        metrics_certificate_reload(false);
        log_event(LOGL_ERROR, "certificate not reloaded, keeping the previous one", "error", err, NULL);
        return;
    }
    serve_publish_ssl(ctx);
    metrics_set_certificate_expiry(not_after);
    metrics_certificate_reload(true);
    log_event(LOGL_INFO, "certificate reloaded", "path", serve_srv.opts->cert_path, NULL);
}

void reload_init(void)
{
    if (serve_srv.opts->config_path != NULL)
        config_id = file_id_of(serve_srv.opts->config_path);
    cert_id = file_id_of(serve_srv.opts->cert_path);
    key_id = file_id_of(serve_srv.opts->key_path);
}

void reload_poll(void)
{
    reload_config();
    reload_tls();
}
