/*
 * libFuzzer target: MicroTime parsing.  Checks every accepted string against
 * an independent reading with timegm(3), and that formatting then parsing
 * gives the same instant back.
 *   make build/fuzz/fuzz_microtime && build/fuzz/fuzz_microtime tests/fuzz/microtime
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: sscanf for the fields, timegm for the calendar. */
static int reference(const char *s, int64_t *us)
{
    int Y, M, D, h, m, sec, oh = 0, om = 0, n = 0;
    char fr[7], z = 0;
    size_t len = strlen(s);
    if (len != 27 && len != 32)
        return -1;
    for (size_t i = 0; i < len; i++) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddd";
        char c = s[i];
        if (i < 26 && shape[i] == 'd' ? (c < '0' || c > '9') : (i < 26 && c != shape[i]))
            return -1;
    }
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]%n", &Y, &M, &D, &h, &m, &sec, fr, &n) != 7 || n != 26)
        return -1;
    z = s[26];
    if (len == 27 && z != 'Z')
        return -1;
    if (len == 32) {
        if ((z != '+' && z != '-') || s[27] < '0' || s[27] > '9' || s[28] < '0' || s[28] > '9' ||
            s[29] != ':' || s[30] < '0' || s[30] > '9' || s[31] < '0' || s[31] > '9')
            return -1;
        oh = (s[27] - '0') * 10 + (s[28] - '0');
        om = (s[30] - '0') * 10 + (s[31] - '0');
        if (oh > 23 || om > 59)
            return -1;
    }
    if (M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 59)
        return -1;
    struct tm tm = {
        .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != D || tm.tm_mon != M - 1) /* timegm normalised an impossible date */
        return -1;
    t -= (z == '-' ? -1 : z == '+' ? 1 : 0) * (oh * 3600 + om * 60);
    *us = (int64_t)t * 1000000 + strtol(fr, NULL, 10);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[64], buf[64];
    int64_t us = 0, ref = 0, back = 0;
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int rc = lease_parse_microtime(s, &us);
    int rref = reference(s, &ref);
    if (rc != rref || (rc == 0 && us != ref)) {
        fprintf(stderr, "'%s': lease_parse_microtime %d (%lld), reference %d (%lld)\n", s, rc, (long long)us,
                rref, (long long)ref);
        abort();
    }
    if (rc == 0 && us >= 0 && us < 253402300800000000LL) {
        lease_format_microtime(us, buf, sizeof(buf));
        if (lease_parse_microtime(buf, &back) != 0 || back != us) {
            fprintf(stderr, "'%s' -> %lld -> '%s' does not round-trip\n", s, (long long)us, buf);
            abort();
        }
    }
    return 0;
}
