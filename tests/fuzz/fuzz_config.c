/*
 * libFuzzer target: the fence configuration (config_parse).  For every table
 * it accepts, each writer listed in the JSON must be found in the fence that
 * lists it, and the table must be freed cleanly.
 *   make build/fuzz/fuzz_config && build/fuzz/fuzz_config tests/fuzz/config
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const struct fence_table *t, json_t *arr, size_t fence, bool users)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        const int *idx;
        size_t n = users ? config_find_user(t, s, len, &idx) : config_find_group(t, s, len, &idx);
        bool found = false;
        for (size_t k = 0; k < n; k++) {
            found = found || idx[k] == (int)fence;
            if (k > 0 && idx[k] <= idx[k - 1]) {
                fprintf(stderr, "%s '%s': fences not ascending\n", users ? "user" : "group", s);
                abort();
            }
        }
        if (!found) {
            fprintf(stderr, "%s '%s' of fences[%zu] not found\n", users ? "user" : "group", s, fence);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    struct fence_table *t = config_parse(copy, size, "fuzz", err, sizeof(err));
    if (t != NULL) {
        json_t *root = json_loadb(copy, size, 0, NULL);
        json_t *fences = json_object_get(root, "fences");
        if (root == NULL || json_array_size(fences) != t->nfences)
            abort();
        for (size_t i = 0; i < t->nfences; i++) {
            json_t *w = json_object_get(json_array_get(fences, i), "writers");
            check_names(t, json_object_get(w, "users"), i, true);
            check_names(t, json_object_get(w, "groups"), i, false);
            if (t->fences[i].lease == NULL || t->fences[i].ns == NULL || t->fences[i].name == NULL)
                abort();
            config_mode_name(t->fences[i].mode);
            if (!config_is_fenced_lease(t, t->fences[i].ns, strlen(t->fences[i].ns), t->fences[i].name,
                                        strlen(t->fences[i].name)))
                abort();
        }
        const int *idx;
        if (config_find_user(t, "", 0, &idx) > 0)
            abort();
        json_decref(root);
        config_free(t);
    } else if (err[0] == '\0') {
        fprintf(stderr, "config_parse failed without a message\n");
        abort();
    }
    free(copy);
    return 0;
}
