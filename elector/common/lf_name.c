#include "lf_name.h"

#include <stdio.h>
#include <string.h>

static bool alnum_lower(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* One dot-separated part: [a-z0-9]([-a-z0-9]*[a-z0-9])?, of any length. */
static bool name_part(const char *s, size_t len)
{
    if (len == 0 || !alnum_lower(s[0]) || !alnum_lower(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool lf_name_label(const char *s, size_t len)
{
    return len <= 63 && name_part(s, len);
}

bool lf_name_subdomain(const char *s, size_t len)
{
    size_t start = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!name_part(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

int lf_name_check_lease(const char *ns, size_t ns_len, const char *name, size_t name_len, char *err,
                        size_t errlen)
{
    if (!lf_name_label(ns, ns_len)) {
        snprintf(err, errlen, "namespace '%.*s' is not a valid namespace name (RFC 1123 label)", (int)ns_len,
                 ns);
        return -1;
    }
    if (!lf_name_subdomain(name, name_len)) {
        snprintf(err, errlen, "name '%.*s' is not a valid Lease name (RFC 1123 subdomain)", (int)name_len,
                 name);
        return -1;
    }
    return 0;
}

int lf_name_split_lease(const char *ref, size_t *ns_len, char *err, size_t errlen)
{
    const char *slash = strchr(ref, '/');
    if (slash == NULL || strchr(slash + 1, '/') != NULL) {
        snprintf(err, errlen, "must be \"NAMESPACE/NAME\", got '%s'", ref);
        return -1;
    }
    if (lf_name_check_lease(ref, (size_t)(slash - ref), slash + 1, strlen(slash + 1), err, errlen) != 0)
        return -1;
    *ns_len = (size_t)(slash - ref);
    return 0;
}
