#ifndef LEASEFENCE_HANDLERS_H
#define LEASEFENCE_HANDLERS_H
/* The webhook's requests. */
#include <h2o.h>

/** h2o's handler for every path: POST /validate over TLS; GET or HEAD /healthz, /readyz, /metrics on both
 * listeners; 404 or 405 (counted) for anything else.  Runs on the loop thread that owns REQ. */
int handlers_on_req(h2o_handler_t *self, h2o_req_t *req);

/** h2o's access logger (on every path and the host's fallback path): counts and logs the answers h2o makes
 * without a handler, a 413 for a body over the limit. */
void handlers_on_access(h2o_logger_t *self, h2o_req_t *req);

#endif
