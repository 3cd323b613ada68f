/* The Lease snapshots the unit tests share (fixture.h). */
#include "fixture.h"

#include <string.h>

struct lease_snapshot fixture_lease_held(const char *ns, const char *name, const char *holder, int64_t now_ns)
{
    struct lease_snapshot s;
    memset(&s, 0, sizeof(s));
    s.known = s.exists = s.watching = s.tracked = true;
    s.ns = ns;
    s.name = name;
    s.holder = holder;
    s.holder_len = strlen(holder);
    s.lease_duration_s = 15;
    s.transitions = 3;
    s.uid = "u1";
    s.resource_version = "42";
    s.epoch = "u1/3";
    s.changed_mono_ns = now_ns - 1000000000LL;
    s.contact_mono_ns = now_ns - 1000000000LL;
    return s;
}
