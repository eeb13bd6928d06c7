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

/* docs.c: the OpenAPI document and its explorer page */
int docs_openapi(struct cb_req *r);
int docs_explorer(struct cb_req *r);

/* auth.c: AUTH_TENANT and AUTH_ADMIN routes (called by the dispatcher) */
int tenant_route_auth(struct cb_req *r);
int admin_route_auth(struct cb_req *r);

/* file_admin.c: the file API's admin and tenant routes */
int file_admin_tenant_create(struct cb_req *r);
int file_admin_regenerate_key(struct cb_req *r);
/* Storage Brain's admin routes beyond the document: tenants (list, get,
 * update, delete) and, as the tenant in the path, its files, their
 * signed URLs, its workspaces and quota. */
int file_admin_tenant_list(struct cb_req *r);
int file_admin_tenant_get(struct cb_req *r);
int file_admin_tenant_update(struct cb_req *r);
int file_admin_tenant_delete(struct cb_req *r);
int file_admin_rotate_webhook_secret(struct cb_req *r);
int file_admin_files(struct cb_req *r);
int file_admin_file_get(struct cb_req *r);
int file_admin_file_delete(struct cb_req *r);
int file_admin_file_signed_url(struct cb_req *r);
int file_admin_workspaces(struct cb_req *r);
int file_admin_workspace_create(struct cb_req *r);
int file_admin_upload_request(struct cb_req *r);
int file_admin_quota(struct cb_req *r);
int file_permanent_url(struct cb_req *r);
int file_tenant_quota(struct cb_req *r);
int file_tenant_info(struct cb_req *r);
/* file_workspace.c */
int file_workspace_list(struct cb_req *r);
int file_workspace_create(struct cb_req *r);
int file_workspace_get(struct cb_req *r);
int file_workspace_update(struct cb_req *r);
int file_workspace_delete(struct cb_req *r);

/* file_files.c */
int file_upload_request(struct cb_req *r);
int file_upload_put(struct cb_req *r);
int file_list(struct cb_req *r);
int file_get(struct cb_req *r);
int file_delete(struct cb_req *r);
int file_download(struct cb_req *r);
int file_signed_url(struct cb_req *r);
/* auth.c: a tenant key, or a signed download URL */
int tenant_or_signed_auth(struct cb_req *r);

/* asset_assets.c: the asset API's assets and the multipart part PUT */
int asset_api_create(struct cb_req *r);
int asset_api_list(struct cb_req *r);
int asset_api_get(struct cb_req *r);
int asset_api_patch(struct cb_req *r);
int asset_api_delete(struct cb_req *r);
int asset_api_url(struct cb_req *r);
int asset_api_parts(struct cb_req *r);
int asset_api_part_put(struct cb_req *r);
int asset_api_complete(struct cb_req *r);
int asset_api_abort(struct cb_req *r);
int asset_api_reprocess(struct cb_req *r);
int asset_api_spaces(struct cb_req *r);
/* asset_spaces.c: spaces, publications, public share endpoints */
int space_api_create(struct cb_req *r);
int space_api_list(struct cb_req *r);
int space_api_get(struct cb_req *r);
int space_api_update(struct cb_req *r);
int space_api_delete(struct cb_req *r);
int space_api_publish(struct cb_req *r);
int space_api_publications(struct cb_req *r);
int space_api_unpublish(struct cb_req *r);
int public_api_space(struct cb_req *r);
int public_api_access(struct cb_req *r);
/* asset_account.c: API keys, account, usage */
int apikey_api_list(struct cb_req *r);
int apikey_api_create(struct cb_req *r);
int apikey_api_revoke(struct cb_req *r);
int storage_api_list(struct cb_req *r);
int storage_api_create(struct cb_req *r);
int storage_api_preview(struct cb_req *r);
int storage_api_list_buckets(struct cb_req *r);
int storage_api_create_bucket(struct cb_req *r);
int storage_api_delete(struct cb_req *r);
int account_api_get(struct cb_req *r);
int account_api_update(struct cb_req *r);
int usage_api_get(struct cb_req *r);

/* kv_auth.c: AUTH_BUCKET routes (called by the dispatcher) */
int kv_route_auth(struct cb_req *r);
/* kv_bucket.c */
int kv_api_bucket_create(struct cb_req *r);
int kv_api_bucket_get(struct cb_req *r);
int kv_api_bucket_head(struct cb_req *r);
int kv_api_bucket_patch(struct cb_req *r);
int kv_api_bucket_delete(struct cb_req *r);
int kv_api_txn(struct cb_req *r);
int kv_api_token_create(struct cb_req *r);
/* kv_key.c */
int kv_api_get(struct cb_req *r);
int kv_api_put(struct cb_req *r);
int kv_api_delete(struct cb_req *r);
int kv_api_incr(struct cb_req *r);
int kv_api_list(struct cb_req *r);

#endif
