#include "lf_buf.h"
#include "xmem.h"

#include <stdlib.h>
#include <string.h>

void lf_buf_init(struct lf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->overflow = false;
}

void lf_buf_release(struct lf_buf *b)
{
    free(b->data);
    lf_buf_init(b, b->max);
}

void lf_buf_reset(struct lf_buf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int lf_buf_append(struct lf_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n) {
        b->overflow = true;
        return -1;
    }
    xgrow(&b->data, &b->cap, b->len + n + 1);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int lf_buf_append_str(struct lf_buf *b, const char *s)
{
    return lf_buf_append(b, s, strlen(s));
}

size_t lf_buf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t n = size * nmemb;
    return lf_buf_append(userdata, ptr, n) == 0 ? n : 0;
}
