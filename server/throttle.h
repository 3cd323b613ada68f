#ifndef LEASEFENCE_THROTTLE_H
#define LEASEFENCE_THROTTLE_H
/* Accepting connections on a loop thread, at most its max_conns at once. */
struct loop_thread;

/** Starts accepting on LT's loop from serve_srv's listening sockets (LT's own duplicates): the listeners
 * pause while LT holds max_conns connections and resume when one closes. */
void throttle_start(struct loop_thread *lt);

/** Accepts what is already queued, then closes LT's listeners; once, later calls do nothing. */
void throttle_close(struct loop_thread *lt);

#endif
