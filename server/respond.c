/* Answers on h2o: a whole body at once, and a JSON writer on a sized buffer. */
#include "respond.h"
#include "lf_fatal.h"

#include <stdlib.h>
#include <string.h>

static h2o_generator_t generator = {NULL, NULL};

void respond_send(h2o_req_t *req, int status, const char *reason, const char *ctype, const char *body,
                  size_t len)
{
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    size_t n = strlen(text);
    char *body = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(body, text, n);
    body[n] = '\n';
    respond_send(req, status, reason, "text/plain; charset=utf-8", body, n + 1);
}

void respond_json_raw(struct respond_json *b, const char *s, size_t n)
{
    if (b->len + n > b->cap)
        lf_fatal("respond_json: the body is larger than its size estimate"); /* a bug */
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void respond_json_lit(struct respond_json *b, const char *s)
{
    respond_json_raw(b, s, strlen(s));
}

/* A JSON string (with quotes); at most 6 bytes per input byte + 2.  Runs that need no escape are copied
 * whole. */
void respond_json_str(struct respond_json *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending unescaped run */
    respond_json_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        respond_json_raw(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            respond_json_raw(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            respond_json_raw(b, e, 6);
        }
    }
    respond_json_raw(b, s + run, n - run);
    respond_json_raw(b, "\"", 1);
}

size_t respond_json_size(size_t n)
{
    return 6 * n + 2;
}
