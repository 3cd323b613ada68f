#include "lf_clock.h"

#include <stdio.h>
#include <time.h>

static int64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t lf_clock_mono_ns(void)
{
    return now_ns(CLOCK_MONOTONIC);
}

int64_t lf_clock_mono_ms(void)
{
    return now_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t lf_clock_real_ns(void)
{
    return now_ns(CLOCK_REALTIME);
}

int64_t lf_clock_real_us(void)
{
    return now_ns(CLOCK_REALTIME) / 1000;
}

void lf_clock_utc_text(int64_t unix_s, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)unix_s;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}
