/*
 * fixture: the Lease snapshots the unit tests of the decision and the status share, so that each test
 * says only how its Lease differs from a healthy one.
 */
#ifndef LEASEFENCE_TESTS_FIXTURE_H
#define LEASEFENCE_TESTS_FIXTURE_H

#include <stdint.h>

#include "tracker.h"

/**
 * A Lease NS/NAME held by HOLDER as a healthy watch sees it: known, existing, watched and tracked; a
 * 15 s duration, 3 transitions, uid "u1", resourceVersion "42", epoch "u1/3"; seen to change and last
 * confirmed 1 s before NOW_NS.  The strings are borrowed: they must outlive the snapshot.
 */
struct lease_snapshot fixture_lease_held(const char *ns, const char *name, const char *holder,
                                         int64_t now_ns);

#endif
