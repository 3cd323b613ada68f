#ifndef LEASEFENCE_LF_DURATION_H
#define LEASEFENCE_LF_DURATION_H
/*
 * The one duration grammar, Go's time.ParseDuration (shared runtime tier, elector/common/README), for every
 * duration flag and configuration field: a sequence of decimal numbers, each with an optional fraction and
 * a unit, ns us µs ms s m h ("300ms", "1.5s", "1m30s", ".5h"), an optional leading '+', or a bare "0".  A
 * bare number other than 0 is refused ("missing unit"); so are negative durations (no flag wants one).
 */
#include <stddef.h>
#include <stdint.h>

/**
 * Parses S into *NS (nanoseconds).  0, or -1 with ERR ("invalid duration '3': missing unit", "… unknown
 * unit 'd'", "… out of range").  *NS is written only on success.
 */
int lf_duration_parse(const char *s, int64_t *ns, char *err, size_t errlen);

#endif
