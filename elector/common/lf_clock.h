#ifndef LEASEFENCE_LF_CLOCK_H
#define LEASEFENCE_LF_CLOCK_H
/*
 * The one clock (shared runtime tier, elector/common/README: the library and the program only), like
 * curl's curlx_now and OpenBSD httpd's getmonotime().
 */
#include <stddef.h>
#include <stdint.h>

/** CLOCK_MONOTONIC now, in nanoseconds. */
int64_t lf_clock_mono_ns(void);

/** CLOCK_MONOTONIC now, in milliseconds. */
int64_t lf_clock_mono_ms(void);

/** CLOCK_REALTIME now, in nanoseconds since the epoch. */
int64_t lf_clock_real_ns(void);

/** CLOCK_REALTIME now, in microseconds since the epoch. */
int64_t lf_clock_real_us(void);

/** UNIX_S as "YYYY-MM-DDTHH:MM:SS" (UTC) into BUF (at least 20 bytes). */
void lf_clock_utc_text(int64_t unix_s, char *buf, size_t len);

#endif
