/*
 * libFuzzer target: duration parsing, both parsers: the elector's Go-style
 * candidate_parse_duration ("1m30s") and the server's config_parse_duration_ms
 * (--request-timeout, --shutdown-grace).  Checks results stay in range and
 * that the server's parser agrees with a plain reading in long double.
 *   make build/fuzz/fuzz_duration && build/fuzz/fuzz_duration tests/fuzz/duration
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidate.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[128];
    int64_t ns = -1, ms = -1;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (candidate_parse_duration(s, &ns) == 0 && ns < 0) {
        fprintf(stderr, "candidate_parse_duration('%s') = %lld\n", s, (long long)ns);
        abort();
    }
    if (config_parse_duration_ms(s, &ms) == 0) {
        /* Accepted: only [0-9.] then a unit, and the value matches a long double reading within 1.5 ms
         * (truncation to whole ms, fraction digits past the sixth dropped). */
        size_t d = strspn(s, "0123456789.");
        const char *unit = s + d;
        long double mult = strcmp(unit, "ms") == 0 ? 1 : strcmp(unit, "m") == 0 ? 60000 : 1000;
        char num[128];
        memcpy(num, s, d);
        num[d] = '\0';
        long double want = strtold(num, NULL) * mult;
        if (d == 0 || ms < 0 || ms > 86400000 || fabsl(want - (long double)ms) > 1.5L) {
            fprintf(stderr, "config_parse_duration_ms('%s') = %lld, want about %Lf\n", s, (long long)ms,
                    want);
            abort();
        }
    }
    return 0;
}
