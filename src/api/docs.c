/* docs.c - the OpenAPI document and the explorer page, both compiled into
 * the binary from docs/openapi.json and docs/explorer.html (see
 * Makefile.am), so a deployment serves exactly the document it was built
 * with. The route table is checked against the document in the tests. */
#include "config.h"

#include <string.h>

#include "cubby/api.h"

extern const char cb_openapi_json[];
extern const char cb_explorer_html[];

int
docs_openapi(struct cb_req *r)
{
	resp_header(r, "Cache-Control", "no-cache");
	return resp_send(r, 200, "application/json", cb_openapi_json,
	    strlen(cb_openapi_json));
}

int
docs_explorer(struct cb_req *r)
{
	resp_header(r, "Content-Security-Policy",
	    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
	return resp_send(r, 200, "text/html; charset=utf-8", cb_explorer_html,
	    strlen(cb_explorer_html));
}
