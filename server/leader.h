#ifndef LEASEFENCE_LEADER_H
#define LEASEFENCE_LEADER_H
/*
 * The work one replica does for all: keeping the webhook configuration in
 * step with the fences (vwc.h) and writing each LeaseFence's status
 * (status.h).  The replica is chosen with leasefence's own elector (a
 * candidate on a Lease in leasefence's namespace); the work runs on a thread
 * of its own, woken by new fences, by changes of the webhook configuration,
 * and once a second, and writes only while the candidate leads.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct tracker;
struct fencesrc_view;
struct leader;

struct leader_options {
    struct kube_client *kube; /* borrowed, outlives the leader */
    struct tracker *tracker;  /* borrowed: the fences' Lease snapshots, for the status */
    const char *ns;           /* the election Lease's namespace (leasefence's own) */
    const char *lease;        /* the election Lease's name */
    const char *identity;     /* this replica ($POD_NAME, else the hostname) */
    int64_t lease_duration_ns, renew_deadline_ns, retry_period_ns;
    const char *webhook_configuration; /* its name; NULL or "": not kept */
    int64_t max_skew_ns;               /* as decide_check's, for the Ready condition */
};

/** A leader with O (strings copied); NULL with ERR when the election settings are invalid. */
struct leader *leader_new(const struct leader_options *o, char *err, size_t errlen);

/** Starts the election, the webhook configuration's watch and the work thread.  0 or -1 with ERR. */
int leader_start(struct leader *l, char *err, size_t errlen);

/** Hands over the fences now in force (a reference of V is taken); callable from any thread. */
void leader_update(struct leader *l, struct fencesrc_view *v);

/** Stops the work, then the election (releasing the Lease when held), and waits for both threads. */
void leader_stop(struct leader *l);

/** Stops L if running and frees it; NULL is fine. */
void leader_free(struct leader *l);

/**
 * The election Lease's namespace: FLAG when not NULL, else $POD_NAMESPACE, else the in-cluster
 * service account's namespace file, else "leasefence-system".  Writes it to BUF.
 */
void leader_namespace(const char *flag, char *buf, size_t len);

/** This replica's identity: $POD_NAME, else the hostname.  Writes it to BUF. */
void leader_identity(char *buf, size_t len);

#endif
