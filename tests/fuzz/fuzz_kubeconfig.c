/*
 * libFuzzer target: kubeconfig loading (kube_client_new).  kube_client_new
 * reads a path, so each input is written to a file in /dev/shm.  No request
 * is made; the client is built and freed.
 *   make build/fuzz/fuzz_kubeconfig && build/fuzz/fuzz_kubeconfig tests/fuzz/kubeconfig
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    char err[1024];
    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/dev/shm/fuzz_kubeconfig.%ld", (long)getpid());
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    err[0] = '\0';
    struct kube_client *c = kube_client_new(path, err, sizeof(err));
    if (c != NULL) {
        if (kube_client_server(c) == NULL)
            abort();
        kube_client_free(c);
    } else if (err[0] == '\0') {
        fprintf(stderr, "kube_client_new failed without a message\n");
        abort();
    }
    unlink(path);
    return 0;
}
