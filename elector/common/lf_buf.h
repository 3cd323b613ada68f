#ifndef LEASEFENCE_LF_BUF_H
#define LEASEFENCE_LF_BUF_H
/*
 * The capped growable buffer (shared runtime tier, elector/common/README; like curl's curlx_dyn_*): bytes
 * that grow from input never grow past MAX.  The data is kept NUL-terminated (data[len] == '\0') once
 * anything was appended; data may hold NUL bytes before.
 */
#include <stdbool.h>
#include <stddef.h>

struct lf_buf {
    char *data;    /* NULL until the first append; you own it (lf_buf_release frees it) */
    size_t len;    /* bytes held */
    size_t cap;    /* bytes allocated */
    size_t max;    /* the cap on len */
    bool overflow; /* an append was refused: it would have passed MAX */
};

/** Sets B up empty with the cap MAX, allocating nothing. */
void lf_buf_init(struct lf_buf *b, size_t max);

/** Frees B's data and sets it up empty again (same cap). */
void lf_buf_release(struct lf_buf *b);

/** Empties B, keeping its memory, and clears overflow. */
void lf_buf_reset(struct lf_buf *b);

/** Appends N bytes at P.  Returns 0, or -1 (nothing appended, overflow set) when LEN + N would pass MAX. */
int lf_buf_append(struct lf_buf *b, const void *p, size_t n);

/** Appends the C string S; as lf_buf_append. */
int lf_buf_append_str(struct lf_buf *b, const char *s);

/**
 * A CURLOPT_WRITEFUNCTION appending into USERDATA (a struct lf_buf *): returns SIZE * NMEMB, or 0 (curl then
 * fails the transfer with CURLE_WRITE_ERROR) when the cap is passed; overflow tells the two apart.
 */
size_t lf_buf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata);

#endif
