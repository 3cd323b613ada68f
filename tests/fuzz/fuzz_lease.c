/*
 * libFuzzer target: the Lease codec.  Parses any JSON as a Lease; when it
 * parses, writes the election fields back with lease_set_spec and checks that
 * a second parse reads the same record (what the candidate relies on).
 *   make build/fuzz/fuzz_lease && build/fuzz/fuzz_lease tests/fuzz/lease
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lease_record r, r2;
    char err[256], epoch[256];
    json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (obj == NULL)
        return 0;
    if (lease_parse(obj, &r, err, sizeof(err)) == 0) {
        lease_epoch(&r, epoch, sizeof(epoch));
        if (!lease_record_same(&r, &r))
            abort();
        /* Round trip what the API server accepts (it rejects leaseDurationSeconds 0, and so does
         * lease_parse). */
        if (r.duration_s >= 1 && r.transitions >= 0 && r.acquire_us >= 0 && r.renew_us >= 0 &&
            r.acquire_us < 253402300800000000LL && r.renew_us < 253402300800000000LL) {
            json_t *copy = json_deep_copy(obj);
            if (lease_set_spec(copy, r.holder, r.holder_len, r.duration_s, r.acquire_us, r.renew_us,
                               r.transitions) != 0) {
                fprintf(stderr, "lease_set_spec refused the holder it read\n");
                abort();
            }
            if (lease_parse(copy, &r2, err, sizeof(err)) != 0) {
                fprintf(stderr, "lease does not parse after lease_set_spec: %s\n", err);
                abort();
            }
            if (!lease_holder_is(&r2, r.holder, r.holder_len) || r.duration_s != r2.duration_s ||
                r.transitions != r2.transitions || r.acquire_us != r2.acquire_us ||
                r.renew_us != r2.renew_us || strcmp(r.uid, r2.uid) != 0 ||
                strcmp(r.resource_version, r2.resource_version) != 0) {
                fprintf(stderr, "lease_set_spec changed the record\n");
                abort();
            }
            lease_record_release(&r2);
            json_decref(copy);
        }
        lease_record_release(&r);
    }
    json_decref(obj);
    return 0;
}
