/* api.h - every route handler, one prototype each, grouped by module.
 * A handler parses and validates, makes one core call, renders; it returns
 * 0 after answering or -1 after req_fail(). */
#ifndef CUBBY_API_H
#define CUBBY_API_H

#include "cubby/request.h"

/* ops.c */
int ops_health(struct cb_req *r);
int ops_ready(struct cb_req *r);
int ops_metrics(struct cb_req *r);

#endif
