#ifndef LEASEFENCE_LF_NAME_H
#define LEASEFENCE_LF_NAME_H
/*
 * Kubernetes object names, validated as the API server validates them (shared runtime tier,
 * elector/common/README): a namespace is an RFC 1123 label, a Lease name an RFC 1123 subdomain.
 */
#include <stdbool.h>
#include <stddef.h>

/** RFC 1123 label: 1-63 of [a-z0-9-], starting and ending alphanumeric. */
bool lf_name_label(const char *s, size_t len);

/** RFC 1123 subdomain: at most 253 bytes of dot-separated labels. */
bool lf_name_subdomain(const char *s, size_t len);

/**
 * Checks the Lease NS/NAME: 0, or -1 with ERR "namespace 'Demo' is not a valid namespace name (RFC 1123
 * label)" or "name 'x?y' is not a valid Lease name (RFC 1123 subdomain)".
 */
int lf_name_check_lease(const char *ns, size_t ns_len, const char *name, size_t name_len, char *err,
                        size_t errlen);

/**
 * Checks the Lease reference REF, "NAMESPACE/NAME" (elect --lease, a fence's lease), as
 * lf_name_check_lease, and sets *NS_LEN to the namespace's length (the name follows the '/').  0, or -1 with
 * ERR ("must be \"NAMESPACE/NAME\", got 'x'", or lf_name_check_lease's).
 */
int lf_name_split_lease(const char *ref, size_t *ns_len, char *err, size_t errlen);

#endif
