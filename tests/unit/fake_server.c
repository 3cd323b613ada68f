/* The fake Kubernetes API server of the unit tests: see fake_server.h. */
#include "fake_server.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"

/* The unit tests run under cmocka, but a helper outside a test body reports with abort(). */
static void fake_server_die(const char *what)
{
    perror(what);
    abort();
}

void fake_server_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void fake_server_nap(struct fake_server *fs, int ms)
{
    for (int i = 0; i < ms / 10 && !fs->stop; i++)
        fake_server_sleep_ms(10);
}

void fake_server_send(int conn, const char *s)
{
    size_t n = strlen(s);
    if (send(conn, s, n, MSG_NOSIGNAL) != (ssize_t)n) /* the client may have hung up */
        return;
}

void fake_server_send_json(int conn, const char *status, const char *body)
{
    char head[256];
    snprintf(
        head, sizeof(head),
        "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
        status, strlen(body));
    fake_server_send(conn, head);
    fake_server_send(conn, body);
}

/* How many bytes the request in BUF takes, once its head is complete; 0 while it is not. */
static size_t request_size(const char *buf, bool with_body)
{
    const char *end = strstr(buf, "\r\n\r\n");
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end + 4 - buf);
    const char *cl = with_body ? strcasestr(buf, "Content-Length:") : NULL;
    return head + (cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
}

size_t fake_server_read_request(int conn, char *buf, size_t cap, bool with_body)
{
    size_t len = 0;
    ssize_t n;
    buf[0] = '\0';
    while (len < cap - 1 && (n = read(conn, buf + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
        buf[len] = '\0';
        size_t want = request_size(buf, with_body);
        if (want != 0 && len >= want)
            break;
    }
    return len;
}

struct conn_arg {
    struct fake_server *fs;
    int conn;
};

static void *conn_main(void *arg)
{
    struct conn_arg ca = *(struct conn_arg *)arg;
    free(arg);
    ca.fs->handler(ca.fs->ctx, ca.conn);
    close(ca.conn);
    ca.fs->threads--;
    return NULL;
}

static void serve_threaded(struct fake_server *fs, int conn)
{
    struct conn_arg *ca = malloc(sizeof(*ca));
    if (ca == NULL)
        fake_server_die("fake_server: malloc");
    ca->fs = fs;
    ca->conn = conn;
    pthread_t th;
    fs->threads++;
    if (pthread_create(&th, NULL, conn_main, ca) != 0)
        fake_server_die("fake_server: pthread_create");
    pthread_detach(th);
}

static void *accept_main(void *arg)
{
    struct fake_server *fs = arg;
    while (!fs->stop) {
        int conn = accept(fs->fd, NULL, NULL);
        if (conn < 0)
            break;
        if (fs->threaded) {
            serve_threaded(fs, conn);
        } else {
            fs->handler(fs->ctx, conn);
            close(conn);
        }
    }
    return NULL;
}

void fake_server_start(struct fake_server *fs, fake_server_handler *handler, void *ctx, bool threaded)
{
    fs->handler = handler;
    fs->ctx = ctx;
    fs->threaded = threaded;
    fs->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (fs->fd < 0 || bind(fs->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fs->fd, (struct sockaddr *)&sa, &sl) != 0 || listen(fs->fd, 64) != 0)
        fake_server_die("fake_server: listen on 127.0.0.1:0");
    fs->port = ntohs(sa.sin_port);
    if (pthread_create(&fs->th, NULL, accept_main, fs) != 0)
        fake_server_die("fake_server: pthread_create");
}

void fake_server_stop(struct fake_server *fs)
{
    fs->stop = 1;
    shutdown(fs->fd, SHUT_RDWR);
    close(fs->fd);
    pthread_join(fs->th, NULL);
    for (int i = 0; i < 300 && fs->threads > 0; i++) /* handlers that wait watch fs->stop */
        fake_server_sleep_ms(10);
}

struct kube_client *fake_server_client(const struct fake_server *fs)
{
    char path[] = "/tmp/leasefence-fake-server.XXXXXX";
    int fd = mkstemp(path);
    char kc[512];
    int kl = snprintf(kc, sizeof(kc),
                      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                      "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:%d'}\n"
                      "users:\n- name: u\n  user: {token: t}\n",
                      fs->port);
    if (fd < 0 || write(fd, kc, (size_t)kl) != kl)
        fake_server_die("fake_server: kubeconfig");
    close(fd);
    char err[256];
    struct kube_client *c = kube_client_new(path, err, sizeof(err));
    unlink(path);
    if (c == NULL) {
        fprintf(stderr, "fake_server: %s\n", err);
        abort();
    }
    return c;
}
