#ifndef LEASEFENCE_ELECTOR_H
#define LEASEFENCE_ELECTOR_H
/*
 * The embedded elector as a C library (build/libleasefence-elector.a): include
 * this one header and link with -lcurl -ljansson -lyaml -lssl -lcrypto -pthread -lm.
 *
 *   kube.h       Kubernetes REST client on libcurl (kubeconfig, in-cluster, Lease CRUD)
 *   lease.h      the Lease codec on jansson (MicroTime, update-in-place)
 *   tracker.h    watches Leases, publishes immutable snapshots to other threads
 *   candidate.h  a client-go compatible election candidate
 *   log.h        the JSON-lines log on stderr (elector and server)
 */
#include "candidate.h"
#include "log.h"
#include "kube.h"
#include "lease.h"
#include "tracker.h"

#endif
