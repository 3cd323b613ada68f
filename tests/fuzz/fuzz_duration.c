/*
 * libFuzzer target: the one duration grammar (lf_duration_parse, Go's time.ParseDuration) and its two
 * callers, candidate_parse_duration (elect's flags) and config_parse_duration_ms (serve's --request-timeout,
 * --shutdown-grace).  Checks that the callers agree with it, that results stay in range, and that a single
 * "NUMBER UNIT" matches a plain reading in long double.
 *   make build/fuzz/fuzz_duration && build/fuzz/fuzz_duration tests/fuzz/duration
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidate.h"
#include "config.h"
#include "lf_duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Noreturn void bad(const char *what, const char *s, long long got)
{
    fprintf(stderr, "%s('%s') = %lld\n", what, s, got);
    abort();
}

/* The value of "DIGITS[.DIGITS]UNIT" read in long double, or -1 when S is not one component. */
static long double plain(const char *s)
{
    static const struct {
        const char *unit;
        long double ns;
    } units[] = {{"ns", 1}, {"us", 1e3L}, {"ms", 1e6L}, {"s", 1e9L}, {"m", 60e9L}, {"h", 3600e9L}};
    size_t d = strspn(s, "0123456789.");
    char num[128];
    if (d == 0 || memchr(s, '.', d) != memrchr(s, '.', d) || (d == 1 && s[0] == '.'))
        return -1;
    memcpy(num, s, d);
    num[d] = '\0';
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(s + d, units[i].unit) == 0)
            return strtold(num, NULL) * units[i].ns;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128], err[256];
    int64_t ns = -1, cns = -1, ms = -1;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int rc = lf_duration_parse(s, &ns, err, sizeof(err));
    if (rc == 0 && ns < 0)
        bad("lf_duration_parse", s, ns);
    if (rc != 0 && strncmp(err, "invalid duration '", 18) != 0)
        bad("lf_duration_parse error", s, rc);
    if (candidate_parse_duration(s, &cns) != rc || (rc == 0 && cns != ns))
        bad("candidate_parse_duration", s, cns);
    char merr[256];
    int mrc = config_parse_duration_ms(s, &ms, merr, sizeof(merr));
    bool want_ms = rc == 0 && ns <= 86400 * 1000000000LL;
    if ((mrc == 0) != want_ms || (want_ms && ms != ns / 1000000))
        bad("config_parse_duration_ms", s, ms);
    long double p = plain(s);
    if (rc == 0 && p >= 0 && fabsl(p - (long double)ns) > 1 + p * 1e-15L)
        bad("lf_duration_parse against a plain reading", s, ns);
    return 0;
}
