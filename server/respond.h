#ifndef LEASEFENCE_RESPOND_H
#define LEASEFENCE_RESPOND_H
/* Answers on h2o: a whole body at once, and a JSON writer on a buffer sized for the worst case. */
#include <h2o.h>
#include <stddef.h>

/** Answers REQ with STATUS REASON, Content-Type CTYPE and the LEN bytes of BODY (borrowed until sent:
 * allocate it from req->pool). */
void respond_send(h2o_req_t *req, int status, const char *reason, const char *ctype, const char *body,
                  size_t len);

/** Answers REQ with TEXT (copied) and a newline, as text/plain. */
void respond_text(h2o_req_t *req, int status, const char *reason, const char *text);

/** A JSON writer on P (the caller's, sized for the worst case: respond_json_size per string); it aborts
 * when the estimate was wrong. */
struct respond_json {
    char *p;
    size_t len, cap;
};

/** Appends the N bytes at S as they are. */
void respond_json_raw(struct respond_json *b, const char *s, size_t n);

/** Appends the C string S as it is. */
void respond_json_lit(struct respond_json *b, const char *s);

/** Appends the N bytes at S as a JSON string, quoted and escaped. */
void respond_json_str(struct respond_json *b, const char *s, size_t n);

/** The most bytes respond_json_str writes for N bytes. */
size_t respond_json_size(size_t n);

#endif
