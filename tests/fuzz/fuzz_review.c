/*
 * libFuzzer target: the AdmissionReview decoder against jansson (the oracle
 * and its documented exceptions are in tests/unit/review_ref.h).  Aborts on
 * any disagreement; ASan and UBSan catch the rest.
 *   make build/fuzz/fuzz_review && build/fuzz/fuzz_review tests/fuzz/review
 */
#include <stddef.h>
#include <stdint.h>

#include "../unit/review_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ref_arena arena;
    struct ref_stats st = {0};
    char why[1024];
    char *copy;

    /* An exact-size copy, so ASan sees any read past the end of the body. */
    copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    if (ref_diff(copy, size, &arena, &st, why, sizeof(why)) != 0) {
        fprintf(stderr, "review decoder disagrees with jansson: %s\n", why);
        abort();
    }
    free(copy);
    return 0;
}
