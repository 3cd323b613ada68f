/* Accepting connections on a loop thread: at most max_conns at once, the listeners paused while full. */
#include "throttle.h"
#include "serve_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void on_accept_tls(h2o_socket_t *listener, const char *err);
static void on_accept_plain(h2o_socket_t *listener, const char *err);

static void pause_listeners(struct loop_thread *lt, bool pause)
{
    if (lt->closed || lt->paused == pause)
        return;
    lt->paused = pause;
    if (pause) {
        h2o_socket_read_stop(lt->listen_tls);
        if (lt->listen_plain != NULL)
            h2o_socket_read_stop(lt->listen_plain);
    } else {
        h2o_socket_read_start(lt->listen_tls, on_accept_tls);
        if (lt->listen_plain != NULL)
            h2o_socket_read_start(lt->listen_plain, on_accept_plain);
    }
}

static void on_conn_close(void *data)
{
    struct loop_thread *lt = data;
    lt->conns--;
    if (lt->paused && lt->conns < lt->max_conns && !serve_stopping())
        pause_listeners(lt, false);
}

static void accept_some(h2o_socket_t *listener, h2o_accept_ctx_t *actx)
{
    struct loop_thread *lt = listener->data;
    for (int i = 0; i < 16 && lt->conns < lt->max_conns; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        lt->conns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = lt;
        h2o_accept(actx, sock);
    }
    if (lt->conns >= lt->max_conns)
        pause_listeners(lt, true);
}

static void on_accept_tls(h2o_socket_t *listener, const char *err)
{
    struct loop_thread *lt = listener->data;
    if (err != NULL)
        return;
    serve_thread_ssl(lt);
    accept_some(listener, &lt->accept_tls);
}

static void on_accept_plain(h2o_socket_t *listener, const char *err)
{
    struct loop_thread *lt = listener->data;
    if (err != NULL)
        return;
    accept_some(listener, &lt->accept_plain);
}

static h2o_socket_t *listen_on(struct loop_thread *lt, int fd, h2o_socket_cb cb)
{
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        log_event(LOGL_ERROR, "cannot duplicate the listening socket", "error", strerror(errno), NULL);
        exit(1);
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(lt->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = lt;
    h2o_socket_read_start(sock, cb);
    return sock;
}

/* Connections already queued on LISTENER are accepted and answered, not reset by the close. */
static void drain(h2o_socket_t *listener, h2o_accept_ctx_t *actx)
{
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        struct loop_thread *lt = listener->data;
        lt->conns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = lt;
        h2o_accept(actx, sock);
    }
}

void throttle_close(struct loop_thread *lt)
{
    if (lt->closed)
        return;
    serve_thread_ssl(lt);
    drain(lt->listen_tls, &lt->accept_tls);
    if (lt->listen_plain != NULL)
        drain(lt->listen_plain, &lt->accept_plain);
    lt->closed = true;
    if (!lt->paused)
        h2o_socket_read_stop(lt->listen_tls);
    h2o_socket_close(lt->listen_tls);
    if (lt->listen_plain != NULL) {
        if (!lt->paused)
            h2o_socket_read_stop(lt->listen_plain);
        h2o_socket_close(lt->listen_plain);
    }
}

void throttle_start(struct loop_thread *lt)
{
    lt->listen_tls = listen_on(lt, serve_srv.fd_tls, on_accept_tls);
    if (serve_srv.fd_plain >= 0)
        lt->listen_plain = listen_on(lt, serve_srv.fd_plain, on_accept_plain);
}
