/* routes.c - THE route table. Every endpoint Cubby serves is one row here:
 * method, pattern, handler, auth, minimum scope, body limit, dialect.
 * The router checks auth, scope and body size from this table before the
 * handler runs; the OpenAPI document is tested against it. */
#include "config.h"

#include "cubby/api.h"
#include "cubby/asset.h"
#include "cubby/kv.h"
#include "cubby/object.h"
#include "cubby/router.h"

const struct route cb_routes[] = {
	/* operational (KV document shapes) */
	{ "GET", "/health",  ops_health,  AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/ready",   ops_ready,   AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/metrics", ops_metrics, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/api-docs/openapi.json", docs_openapi, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/swagger-ui/", docs_explorer, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },

	/* file API (shared/seeds/file-api.txt) */
	{ "POST",   "/api/v1/upload/request",                          file_upload_request,       AUTH_TENANT, SCOPE_WRITE, 65536,     DIALECT_FILE },
	{ "PUT",    "/_internal/upload/tenants/{tenantId}/files/{fileId}/{fileName}", file_upload_put, AUTH_NONE, SCOPE_NONE, FILE_MAX_BYTES, DIALECT_FILE },
	{ "GET",    "/api/v1/files",                                   file_list,                 AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/files/{fileId}",                          file_get,                  AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "DELETE", "/api/v1/files/{fileId}",                          file_delete,               AUTH_TENANT, SCOPE_WRITE, BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/files/{fileId}/download",                 file_download,             AUTH_TENANT_OR_URL, SCOPE_READ, BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/files/{fileId}/signed-url",               file_signed_url,           AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/files/{fileId}/permanent-url",            file_permanent_url,        AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "POST",   "/api/v1/admin/tenants",                           file_admin_tenant_create,  AUTH_ADMIN,  SCOPE_NONE,  65536,     DIALECT_FILE },
	{ "POST",   "/api/v1/admin/tenants/{tenantId}/regenerate-key", file_admin_regenerate_key, AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "POST",   "/api/v1/admin/tenants/{tenantId}/rotate-webhook-secret", file_admin_rotate_webhook_secret, AUTH_ADMIN, SCOPE_NONE, BODY_NONE, DIALECT_FILE },
	/* Storage Brain's admin routes beyond the document (its SDK calls them) */
	{ "GET",    "/api/v1/admin/tenants",                           file_admin_tenant_list,    AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}",                file_admin_tenant_get,     AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "PATCH",  "/api/v1/admin/tenants/{tenantId}",                file_admin_tenant_update,  AUTH_ADMIN,  SCOPE_NONE,  65536,     DIALECT_FILE },
	{ "DELETE", "/api/v1/admin/tenants/{tenantId}",                file_admin_tenant_delete,  AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}/files",          file_admin_files,          AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}/files/{fileId}", file_admin_file_get,       AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "DELETE", "/api/v1/admin/tenants/{tenantId}/files/{fileId}", file_admin_file_delete,    AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}/files/{fileId}/signed-url", file_admin_file_signed_url, AUTH_ADMIN, SCOPE_NONE, BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}/workspaces",     file_admin_workspaces,     AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "POST",   "/api/v1/admin/tenants/{tenantId}/workspaces",     file_admin_workspace_create, AUTH_ADMIN, SCOPE_NONE,  131072,    DIALECT_FILE },
	{ "POST",   "/api/v1/admin/tenants/{tenantId}/upload/request", file_admin_upload_request, AUTH_ADMIN,  SCOPE_NONE,  65536,     DIALECT_FILE },
	{ "GET",    "/api/v1/admin/tenants/{tenantId}/quota",          file_admin_quota,          AUTH_ADMIN,  SCOPE_NONE,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/tenant/quota",                            file_tenant_quota,         AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/tenant/info",                             file_tenant_info,          AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/workspaces",                              file_workspace_list,       AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "POST",   "/api/v1/workspaces",                              file_workspace_create,     AUTH_TENANT, SCOPE_WRITE, 131072,    DIALECT_FILE },
	{ "GET",    "/api/v1/workspaces/{workspaceId}",                file_workspace_get,        AUTH_TENANT, SCOPE_READ,  BODY_NONE, DIALECT_FILE },
	{ "PATCH",  "/api/v1/workspaces/{workspaceId}",                file_workspace_update,     AUTH_TENANT, SCOPE_WRITE, 131072,    DIALECT_FILE },
	{ "DELETE", "/api/v1/workspaces/{workspaceId}",                file_workspace_delete,     AUTH_TENANT, SCOPE_WRITE, BODY_NONE, DIALECT_FILE },

	/* asset API (shared/seeds/asset-api.txt) */
	{ "POST",   "/v1/assets",                          asset_api_create,     AUTH_TENANT, SCOPE_WRITE, 65536,          DIALECT_ASSET },
	{ "GET",    "/v1/assets",                          asset_api_list,       AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "GET",    "/v1/assets/{assetId}",                asset_api_get,        AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "PATCH",  "/v1/assets/{assetId}",                asset_api_patch,      AUTH_TENANT, SCOPE_WRITE, 65536,          DIALECT_ASSET },
	{ "DELETE", "/v1/assets/{assetId}",                asset_api_delete,     AUTH_TENANT, SCOPE_WRITE, BODY_NONE,      DIALECT_ASSET },
	{ "GET",    "/v1/assets/{assetId}/url",            asset_api_url,        AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "POST",   "/v1/assets/{assetId}/parts",          asset_api_parts,      AUTH_TENANT, SCOPE_WRITE, 4096,           DIALECT_ASSET },
	{ "POST",   "/v1/assets/{assetId}/complete",       asset_api_complete,   AUTH_TENANT, SCOPE_WRITE, 1048576,        DIALECT_ASSET },
	{ "POST",   "/v1/assets/{assetId}/abort",          asset_api_abort,      AUTH_TENANT, SCOPE_WRITE, 4096,           DIALECT_ASSET },
	{ "POST",   "/v1/assets/{assetId}/reprocess",      asset_api_reprocess,  AUTH_TENANT, SCOPE_WRITE, 4096,           DIALECT_ASSET },
	{ "GET",    "/v1/assets/{assetId}/spaces",         asset_api_spaces,     AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "PUT",    "/v1/uploads/{assetId}/parts/{partNumber}", asset_api_part_put, AUTH_NONE, SCOPE_NONE, ASSET_PART_MAX, DIALECT_ASSET },
	{ "POST",   "/v1/spaces",                          space_api_create,     AUTH_TENANT, SCOPE_ADMIN, 65536,          DIALECT_ASSET },
	{ "GET",    "/v1/spaces",                          space_api_list,       AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "GET",    "/v1/spaces/{spaceId}",                space_api_get,        AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "PATCH",  "/v1/spaces/{spaceId}",                space_api_update,     AUTH_TENANT, SCOPE_ADMIN, 65536,          DIALECT_ASSET },
	{ "DELETE", "/v1/spaces/{spaceId}",                space_api_delete,     AUTH_TENANT, SCOPE_ADMIN, BODY_NONE,      DIALECT_ASSET },
	{ "POST",   "/v1/spaces/{spaceId}/publications",   space_api_publish,    AUTH_TENANT, SCOPE_WRITE, 65536,          DIALECT_ASSET },
	{ "GET",    "/v1/spaces/{spaceId}/publications",   space_api_publications, AUTH_TENANT, SCOPE_READ, BODY_NONE,     DIALECT_ASSET },
	{ "DELETE", "/v1/spaces/{spaceId}/publications/{assetId}", space_api_unpublish, AUTH_TENANT, SCOPE_WRITE, BODY_NONE, DIALECT_ASSET },
	{ "GET",    "/v1/api-keys",                        apikey_api_list,      AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "POST",   "/v1/api-keys",                        apikey_api_create,    AUTH_TENANT, SCOPE_ADMIN, 4096,           DIALECT_ASSET },
	{ "DELETE", "/v1/api-keys/{keyId}",                apikey_api_revoke,    AUTH_TENANT, SCOPE_ADMIN, BODY_NONE,      DIALECT_ASSET },
	{ "GET",    "/v1/storage-connections",             storage_api_list,     AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "POST",   "/v1/storage-connections",             storage_api_create,   AUTH_TENANT, SCOPE_ADMIN, 8192,           DIALECT_ASSET },
	{ "POST",   "/v1/storage-connections/preview",     storage_api_preview,  AUTH_TENANT, SCOPE_WRITE, 8192,           DIALECT_ASSET },
	{ "POST",   "/v1/storage-connections/list-buckets", storage_api_list_buckets, AUTH_TENANT, SCOPE_WRITE, 8192,      DIALECT_ASSET },
	{ "POST",   "/v1/storage-connections/create-bucket", storage_api_create_bucket, AUTH_TENANT, SCOPE_ADMIN, 8192,    DIALECT_ASSET },
	{ "DELETE", "/v1/storage-connections/{connectionId}", storage_api_delete, AUTH_TENANT, SCOPE_ADMIN, BODY_NONE,     DIALECT_ASSET },
	{ "GET",    "/v1/account",                         account_api_get,      AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "PATCH",  "/v1/account",                         account_api_update,   AUTH_TENANT, SCOPE_ADMIN, 4096,           DIALECT_ASSET },
	{ "GET",    "/v1/usage",                           usage_api_get,        AUTH_TENANT, SCOPE_READ,  BODY_NONE,      DIALECT_ASSET },
	{ "GET",    "/v1/public/spaces/{shortId}",         public_api_space,     AUTH_NONE,   SCOPE_NONE,  BODY_NONE,      DIALECT_ASSET },
	{ "POST",   "/v1/public/spaces/{shortId}/access",  public_api_access,    AUTH_NONE,   SCOPE_NONE,  4096,           DIALECT_ASSET },

	/* key-value (shared/seeds/kv-api.txt); AUTH_BUCKET reads min_scope as
	 * the bucket permission the route needs */
	{ "POST",   "/api/v1/",                  kv_api_bucket_create, AUTH_NONE,   SCOPE_NONE,      KV_FORM_MAX,  DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}",          kv_api_bucket_get,    AUTH_BUCKET, SCOPE_ADMIN,     BODY_NONE,    DIALECT_KV },
	{ "HEAD",   "/api/v1/{bucket}",          kv_api_bucket_head,   AUTH_BUCKET, SCOPE_ADMIN,     BODY_NONE,    DIALECT_KV },
	{ "PATCH",  "/api/v1/{bucket}",          kv_api_bucket_patch,  AUTH_BUCKET, SCOPE_ADMIN,     KV_FORM_MAX,  DIALECT_KV },
	{ "DELETE", "/api/v1/{bucket}",          kv_api_bucket_delete, AUTH_BUCKET, SCOPE_ADMIN,     BODY_NONE,    DIALECT_KV },
	{ "POST",   "/api/v1/{bucket}",          kv_api_txn,           AUTH_BUCKET, SCOPE_NONE,      KV_TXN_BODY,  DIALECT_KV },
	{ "DELETE", "/api/v1/{bucket}/",         kv_api_bucket_delete, AUTH_BUCKET, SCOPE_ADMIN,     BODY_NONE,    DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}/",         kv_api_list,          AUTH_BUCKET, SCOPE_ENUMERATE, BODY_NONE,    DIALECT_KV },
	{ "POST",   "/api/v1/{bucket}/tokens/",  kv_api_token_create,  AUTH_BUCKET, SCOPE_ADMIN,     KV_FORM_MAX,  DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}/{key+}",   kv_api_get,           AUTH_BUCKET, SCOPE_READ,      BODY_NONE,    DIALECT_KV },
	{ "HEAD",   "/api/v1/{bucket}/{key+}",   kv_api_get,           AUTH_BUCKET, SCOPE_READ,      BODY_NONE,    DIALECT_KV },
	{ "PUT",    "/api/v1/{bucket}/{key+}",   kv_api_put,           AUTH_BUCKET, SCOPE_WRITE,     KV_VALUE_MAX, DIALECT_KV },
	{ "POST",   "/api/v1/{bucket}/{key+}",   kv_api_put,           AUTH_BUCKET, SCOPE_WRITE,     KV_VALUE_MAX, DIALECT_KV },
	{ "PATCH",  "/api/v1/{bucket}/{key+}",   kv_api_incr,          AUTH_BUCKET, SCOPE_WRITE,     KV_VALUE_MAX, DIALECT_KV },
	{ "DELETE", "/api/v1/{bucket}/{key+}",   kv_api_delete,        AUTH_BUCKET, SCOPE_DELETE,    BODY_NONE,    DIALECT_KV },
};

const size_t cb_nroutes = sizeof cb_routes / sizeof cb_routes[0];
