#include "lf_duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {{"ns", 1ULL},           {"us", 1000ULL},
             {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
             {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */ {"ms", 1000000ULL},
             {"s", 1000000000ULL},   {"m", 60000000000ULL},
             {"h", 3600000000000ULL}};

#define DURATION_MAX ((uint64_t)INT64_MAX)

/* The nanoseconds per UNIT_LEN bytes at U, or 0 when they name no unit. */
static uint64_t unit_ns(const char *u, size_t unit_len)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == unit_len && memcmp(units[i].name, u, unit_len) == 0)
            return units[i].ns;
    return 0;
}

/* Reads the digits at *P into *V (false when they overflow); *DIGITS counts them. */
static bool leading_int(const char **p, uint64_t *v, size_t *digits)
{
    bool ok = true;
    *v = 0;
    *digits = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, (*digits)++) {
        uint64_t d = (uint64_t)(**p - '0');
        if (*v > (DURATION_MAX - d) / 10)
            ok = false;
        else
            *v = *v * 10 + d;
    }
    return ok;
}

/* Reads the fraction digits at *P as *F / *SCALE, dropping the digits past what 10^18 can hold. */
static size_t leading_fraction(const char **p, uint64_t *f, uint64_t *scale)
{
    size_t digits = 0;
    *f = 0;
    *scale = 1;
    for (; **p >= '0' && **p <= '9'; (*p)++, digits++) {
        if (*scale < 1000000000000000000ULL) {
            *f = *f * 10 + (uint64_t)(**p - '0');
            *scale *= 10;
        }
    }
    return digits;
}

/* One "NUMBER UNIT" at *P added to *TOTAL; NULL, or what is wrong with it (an unknown unit into UNK). */
static const char *component(const char **p, uint64_t *total, char *unk, size_t unklen)
{
    uint64_t v, f = 0, scale = 1;
    size_t pre, post = 0;
    if (!leading_int(p, &v, &pre))
        return "out of range";
    if (**p == '.') {
        (*p)++;
        post = leading_fraction(p, &f, &scale);
    }
    if (pre == 0 && post == 0)
        return "expected a number";
    const char *u = *p;
    while (**p != '\0' && **p != '.' && (**p < '0' || **p > '9'))
        (*p)++;
    if (*p == u)
        return "missing unit";
    uint64_t mult = unit_ns(u, (size_t)(*p - u));
    if (mult == 0) {
        snprintf(unk, unklen, "unknown unit '%.*s'", (int)(*p - u), u);
        return unk;
    }
    if (v > DURATION_MAX / mult)
        return "out of range";
    v *= mult;
    v += (uint64_t)((unsigned __int128)f * mult / scale); /* f / scale < 1: below mult */
    if (v > DURATION_MAX || *total > DURATION_MAX - v)
        return "out of range";
    *total += v;
    return NULL;
}

int lf_duration_parse(const char *s, int64_t *ns, char *err, size_t errlen)
{
    const char *p = s, *why = NULL;
    char unk[64];
    uint64_t total = 0;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (strcmp(p, "0") == 0) { /* "0", "+0" and "-0": no unit needed, as in Go */
        *ns = 0;
        return 0;
    }
    if (*p == '\0')
        why = "empty";
    while (why == NULL && *p != '\0')
        why = component(&p, &total, unk, sizeof(unk));
    if (why == NULL && neg && total > 0)
        why = "negative"; /* "-0s" is zero, as in Go */
    if (why != NULL) {
        snprintf(err, errlen, "invalid duration '%s': %s", s, why);
        return -1;
    }
    *ns = (int64_t)total;
    return 0;
}
