#ifndef LEASEFENCE_ELECTOR_H
#define LEASEFENCE_ELECTOR_H
/*
 * The embedded elector as a C library (libleasefence-elector.a): include <leasefence/elector.h> and link
 * with -lcurl -ljansson -lyaml -lssl -lcrypto -pthread -lm.  These headers are the whole public face; no
 * curl or jansson type appears in them.
 *
 *   client.h     the Kubernetes API client (kubeconfig, in-cluster) that candidates and trackers borrow
 *   candidate.h  a client-go compatible election candidate
 *   tracker.h    watches Leases, publishes immutable snapshots to other threads
 *   log.h        the JSON-lines log: stderr, or a sink you set
 */
#include "candidate.h"
#include "client.h"
#include "log.h"
#include "tracker.h"

#endif
