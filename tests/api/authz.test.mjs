// authz.test.mjs - the authorization matrix: every route of the route table
// (cubby-fcgi --routes: method, pattern, who may call it, the scope it
// needs) is called with no credential, a revoked key, each scope of the
// victim's keys, another tenant's admin key on the victim's ids, a KV
// credential of another bucket, and a KV token outside its prefix. The
// status follows from the table; a response to a foreign credential never
// carries the victim's ids, names or bytes. Every route needs a row in
// ROWS below (how to fill its parameters and a body that gets past
// validation): a route added without one fails here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { Stack, bin } from './harness.mjs';

const stack = new Stack();
let base, V, A;   // victim and attacker fixtures
const tried = { calls: 0 };

before(async () => {
  await stack.start();
  base = stack.fronts[1].base;
  V = await fixtures('victim');
  A = await fixtures('attacker');
});
after(() => stack.stop());

async function call(method, p, { key, body, headers = {}, form } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  let b;
  if (form) b = new URLSearchParams(form);
  else if (body !== undefined) { h['Content-Type'] = 'application/json'; b = JSON.stringify(body); }
  const r = await fetch(base + p, { method, headers: h, body: b });
  tried.calls++;
  return { status: r.status, text: method === 'HEAD' ? '' : await r.text() };
}

async function fixtures(name) {
  const F = { name: `${name}-${crypto.randomBytes(4).toString('hex')}` };
  let r = await call('POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: F.name } });
  F.tenant = JSON.parse(r.text).id;
  F.admin = JSON.parse(r.text).apiKey;
  for (const s of ['read', 'write']) {
    r = await call('POST', '/v1/api-keys', { key: F.admin, body: { name: `${s}-key`, scopes: [s] } });
    F[s] = JSON.parse(r.text).data.key;
  }
  r = await call('POST', '/v1/api-keys', { key: F.admin, body: { name: 'revoked', scopes: ['admin'] } });
  F.revoked = JSON.parse(r.text).data.key;
  F.revokedId = JSON.parse(r.text).data.id;
  await call('DELETE', `/v1/api-keys/${F.revokedId}`, { key: F.admin });
  r = await call('POST', '/v1/api-keys', { key: F.admin, body: { name: 'spare', scopes: ['read'] } });
  F.keyId = JSON.parse(r.text).data.id;
  // an asset with bytes, a multipart upload in progress, a file, a workspace, a space
  const bytes = Buffer.from(`${F.name} secret bytes`);
  r = await call('POST', '/v1/assets', { key: F.admin, body: { filename: `${F.name}.txt`, size_bytes: bytes.length } });
  const c = JSON.parse(r.text).data;
  await fetch(c.upload.url, { method: 'PUT', body: bytes, headers: c.upload.headers });
  await call('POST', `/v1/assets/${c.asset.id}/complete`, { key: F.admin });
  F.asset = c.asset.id;
  F.file = c.asset.file_id;
  F.bytes = bytes.toString();
  r = await call('POST', '/v1/assets', { key: F.admin, body: { filename: `${F.name}-mp.bin`, size_bytes: 6 << 20, multipart: true } });
  F.mp = JSON.parse(r.text).data.asset.id;
  F.upload = JSON.parse(r.text).data.upload.upload_id;
  r = await call('POST', '/api/v1/workspaces', { key: F.admin, body: { name: `${F.name}-ws`, slug: `${F.name}-ws` } });
  F.workspace = JSON.parse(r.text).id;
  r = await call('POST', '/v1/spaces', { key: F.admin, body: { name: `${F.name}-space`, visibility: 'protected', password: 'correct horse' } });
  F.space = JSON.parse(r.text).data.id;
  F.short = JSON.parse(r.text).data.short_id;
  await call('POST', `/v1/spaces/${F.space}/publications`, { key: F.admin, body: { asset_ids: [F.asset] } });
  // a KV bucket with every credential set (nothing anonymous), a key, a token for u:
  r = await fetch(base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'o@example.com',
    secret_key: `${F.name}-s`, read_key: `${F.name}-r`, write_key: `${F.name}-w`, signing_key: `${F.name}-g` }) });
  F.bucket = await r.text();
  F.kvSecret = `${F.name}-s`;
  await call('PUT', `/api/v1/${F.bucket}/u:${F.name}`, { key: F.kvSecret, body: F.bytes });
  await call('PUT', `/api/v1/${F.bucket}/x:${F.name}`, { key: F.kvSecret, body: F.bytes });
  r = await call('POST', `/api/v1/${F.bucket}/tokens/`, { key: F.kvSecret, form: { prefix: 'u:', permissions: 'read,write,enumerate,delete', ttl: '600' } });
  F.token = JSON.parse(r.text).access_token;
  // what must never show up in a response to anyone else
  F.secrets = [F.tenant, F.asset, F.file, F.mp, F.workspace, F.space, F.short, F.bucket, F.name, F.keyId, F.bytes];
  return F;
}

// How to call each route against the victim's objects: path parameters
// (from the fixtures) and a body valid enough to reach the lookup.
const ROWS = {
  'GET /health': {}, 'GET /ready': {}, 'GET /metrics': {}, 'GET /api-docs/openapi.json': {}, 'GET /swagger-ui/': {},
  'POST /api/v1/upload/request': { body: { fileType: 'image/png', fileName: 'x.png' } },
  'PUT /_internal/upload/tenants/{tenantId}/files/{fileId}/{fileName}': { p: (F) => ({ tenantId: F.tenant, fileId: F.file, fileName: 'x.png' }) },
  'GET /api/v1/files': {},
  'GET /api/v1/files/{fileId}': { p: (F) => ({ fileId: F.file }) },
  'DELETE /api/v1/files/{fileId}': { p: (F) => ({ fileId: F.file }) },
  'GET /api/v1/files/{fileId}/download': { p: (F) => ({ fileId: F.file }) },
  'GET /api/v1/files/{fileId}/signed-url': { p: (F) => ({ fileId: F.file }) },
  'POST /api/v1/admin/tenants': { body: { name: 'x' } },
  'POST /api/v1/admin/tenants/{tenantId}/regenerate-key': { p: (F) => ({ tenantId: F.tenant }) },
  'GET /api/v1/files/{fileId}/permanent-url': { p: (F) => ({ fileId: F.file }) },
  'POST /api/v1/admin/tenants/{tenantId}/rotate-webhook-secret': { p: (F) => ({ tenantId: F.tenant }) },
  'GET /api/v1/admin/tenants': {},
  'GET /api/v1/admin/tenants/{tenantId}': { p: (F) => ({ tenantId: F.tenant }) },
  'PATCH /api/v1/admin/tenants/{tenantId}': { p: (F) => ({ tenantId: F.tenant }), body: { name: 'taken-over' } },
  'DELETE /api/v1/admin/tenants/{tenantId}': { p: (F) => ({ tenantId: F.tenant }) },
  'GET /api/v1/admin/tenants/{tenantId}/files': { p: (F) => ({ tenantId: F.tenant }) },
  'GET /api/v1/admin/tenants/{tenantId}/files/{fileId}': { p: (F) => ({ tenantId: F.tenant, fileId: F.file }) },
  'DELETE /api/v1/admin/tenants/{tenantId}/files/{fileId}': { p: (F) => ({ tenantId: F.tenant, fileId: F.file }) },
  'GET /api/v1/admin/tenants/{tenantId}/files/{fileId}/signed-url': { p: (F) => ({ tenantId: F.tenant, fileId: F.file }) },
  'GET /api/v1/admin/tenants/{tenantId}/workspaces': { p: (F) => ({ tenantId: F.tenant }) },
  'POST /api/v1/admin/tenants/{tenantId}/workspaces': { p: (F) => ({ tenantId: F.tenant }), body: { name: 'w', slug: 'w-admin' } },
  'POST /api/v1/admin/tenants/{tenantId}/upload/request': { p: (F) => ({ tenantId: F.tenant }), body: { fileType: 'image/png', fileName: 'x.png' } },
  'GET /api/v1/admin/tenants/{tenantId}/quota': { p: (F) => ({ tenantId: F.tenant }) },
  'GET /api/v1/tenant/quota': {}, 'GET /api/v1/tenant/info': {},
  'GET /api/v1/workspaces': {},
  'POST /api/v1/workspaces': { body: { name: 'w', slug: 'w-x' } },
  'GET /api/v1/workspaces/{workspaceId}': { p: (F) => ({ workspaceId: F.workspace }) },
  'PATCH /api/v1/workspaces/{workspaceId}': { p: (F) => ({ workspaceId: F.workspace }), body: { name: 'renamed' } },
  'DELETE /api/v1/workspaces/{workspaceId}': { p: (F) => ({ workspaceId: F.workspace }) },
  'POST /v1/assets': { body: { filename: 'x.bin', size_bytes: 1 } },
  'GET /v1/assets': {},
  'GET /v1/assets/{assetId}': { p: (F) => ({ assetId: F.asset }) },
  'PATCH /v1/assets/{assetId}': { p: (F) => ({ assetId: F.asset }), body: { filename: 'renamed.txt' } },
  'DELETE /v1/assets/{assetId}': { p: (F) => ({ assetId: F.asset }) },
  'GET /v1/assets/{assetId}/url': { p: (F) => ({ assetId: F.asset }) },
  'POST /v1/assets/{assetId}/parts': { p: (F) => ({ assetId: F.mp }), body: (F) => ({ upload_id: F.upload, part_number: 1 }) },
  'POST /v1/assets/{assetId}/complete': { p: (F) => ({ assetId: F.mp }), body: (F) => ({ upload_id: F.upload }) },
  'POST /v1/assets/{assetId}/abort': { p: (F) => ({ assetId: F.mp }), body: (F) => ({ upload_id: F.upload }) },
  'POST /v1/assets/{assetId}/reprocess': { p: (F) => ({ assetId: F.asset }) },
  'GET /v1/assets/{assetId}/spaces': { p: (F) => ({ assetId: F.asset }) },
  'PUT /v1/uploads/{assetId}/parts/{partNumber}': { p: (F) => ({ assetId: F.mp, partNumber: '1' }) },
  'POST /v1/spaces': { body: { name: 's' } },
  'GET /v1/spaces': {},
  'GET /v1/spaces/{spaceId}': { p: (F) => ({ spaceId: F.space }) },
  'PATCH /v1/spaces/{spaceId}': { p: (F) => ({ spaceId: F.space }), body: { name: 'renamed' } },
  'DELETE /v1/spaces/{spaceId}': { p: (F) => ({ spaceId: F.space }) },
  'POST /v1/spaces/{spaceId}/publications': { p: (F) => ({ spaceId: F.space }), body: (F) => ({ asset_ids: [F.asset] }) },
  'GET /v1/spaces/{spaceId}/publications': { p: (F) => ({ spaceId: F.space }) },
  'DELETE /v1/spaces/{spaceId}/publications/{assetId}': { p: (F) => ({ spaceId: F.space, assetId: F.asset }) },
  'GET /v1/api-keys': {},
  'POST /v1/api-keys': { body: { name: 'k', scopes: ['read'] } },
  'DELETE /v1/api-keys/{keyId}': { p: (F) => ({ keyId: F.keyId }) },
  'GET /v1/account': {}, 'PATCH /v1/account': { body: { display_name: 'x' } }, 'GET /v1/usage': {},
  'GET /v1/storage-connections': {},
  'POST /v1/storage-connections': { body: { name: 'n' } },
  'POST /v1/storage-connections/preview': { body: {} },
  'POST /v1/storage-connections/list-buckets': { body: {} },
  'POST /v1/storage-connections/create-bucket': { body: {} },
  'DELETE /v1/storage-connections/{connectionId}': { p: () => ({ connectionId: 'stc_' + '0'.repeat(32) }) },
  'GET /v1/public/spaces/{shortId}': { p: (F) => ({ shortId: F.short }) },
  'POST /v1/public/spaces/{shortId}/access': { p: (F) => ({ shortId: F.short }), body: { password: 'wrong guess' } },
  'POST /api/v1/': {},
  'GET /api/v1/{bucket}': { p: (F) => ({ bucket: F.bucket }) },
  'HEAD /api/v1/{bucket}': { p: (F) => ({ bucket: F.bucket }) },
  'PATCH /api/v1/{bucket}': { p: (F) => ({ bucket: F.bucket }), form: { default_ttl: '60' } },
  'DELETE /api/v1/{bucket}': { p: (F) => ({ bucket: F.bucket }) },
  'POST /api/v1/{bucket}': { p: (F) => ({ bucket: F.bucket }), body: (F) => ({ txn: [{ set: `x:${F.name}`, value: 'overwritten' }] }) },
  'DELETE /api/v1/{bucket}/': { p: (F) => ({ bucket: F.bucket }) },
  'GET /api/v1/{bucket}/': { p: (F) => ({ bucket: F.bucket }) },
  'POST /api/v1/{bucket}/tokens/': { p: (F) => ({ bucket: F.bucket }), form: { prefix: 'u:', permissions: 'read', ttl: '60' } },
  'GET /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }) },
  'HEAD /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }) },
  'PUT /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }), raw: 'v' },
  'POST /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }), raw: 'v' },
  'PATCH /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }), raw: '+1' },
  'DELETE /api/v1/{bucket}/{key+}': { p: (F) => ({ bucket: F.bucket, key: `x:${F.name}` }) },
};

function routes() {
  const r = spawnSync(bin('cubby-fcgi'), ['--routes'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  return r.stdout.trim().split('\n').map((l) => {
    const [method, pattern, auth, scope] = l.split(' ');
    return { method, pattern, auth, scope, id: `${method} ${pattern}` };
  });
}

function pathOf(rt, F) {
  const row = ROWS[rt.id];
  const params = row.p ? row.p(F) : {};
  return rt.pattern.replace(/\{(\w+)\+?\}/g, (m, n) => encodeURIComponent(params[n]));
}
function opts(rt, F, key) {
  const row = ROWS[rt.id];
  const o = { key };
  if (row.form) o.form = row.form;
  else if (row.raw !== undefined) { o.body = undefined; o.headers = { 'Content-Type': 'text/plain' }; o.rawBody = row.raw; }
  else if (row.body !== undefined) o.body = typeof row.body === 'function' ? row.body(F) : row.body;
  return o;
}
async function send(rt, F, key) {
  const o = opts(rt, F, key);
  if (o.rawBody !== undefined) {
    const r = await fetch(base + pathOf(rt, F), { method: rt.method, headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), 'Content-Type': 'text/plain' }, body: o.rawBody });
    tried.calls++;
    return { status: r.status, text: rt.method === 'HEAD' ? '' : await r.text() };
  }
  return call(rt.method, pathOf(rt, F), o);
}
const leaks = (text, F) => F.secrets.filter((s) => s && text.includes(s));
const rank = { read: 1, write: 2, admin: 3 };

test('every route has a row in the matrix, and every row is a route', () => {
  const ids = routes().map((r) => r.id);
  assert.deepEqual(ids.filter((id) => !(id in ROWS)), [], 'routes without a row');
  assert.deepEqual(Object.keys(ROWS).filter((id) => !ids.includes(id)), [], 'rows without a route');
});

test('tenant routes: no key 401, revoked 401, a lower scope 403, another tenant 404 or nothing of the victim\'s', async (t) => {
  let n = 0;
  for (const rt of routes().filter((r) => r.auth === 'tenant' || r.auth === 'tenant-or-url')) {
    const ctx = rt.id;
    let r = await send(rt, V, null);
    assert.equal(r.status, 401, `${ctx} without a key: ${r.text}`);
    r = await send(rt, V, V.revoked);
    assert.equal(r.status, 401, `${ctx} with a revoked key: ${r.text}`);
    r = await send(rt, V, 'sk_live_' + '0'.repeat(64));
    assert.equal(r.status, 401, `${ctx} with a made-up key`);
    for (const s of ['read', 'write']) {
      if (rank[s] >= rank[rt.scope]) continue;
      r = await send(rt, V, V[s]);
      assert.equal(r.status, 403, `${ctx} with a ${s} key: ${r.text}`);
    }
    // the attacker's admin key on the victim's ids
    r = await send(rt, V, A.admin);
    assert.ok(r.status < 500, `${ctx}: ${r.status} ${r.text}`);
    assert.deepEqual(leaks(r.text, V), [], `${ctx}: the victim's data in a response to another tenant`);
    if (ROWS[rt.id].p && !/^POST \/v1\/(assets|spaces)$/.test(ctx))
      assert.ok(r.status === 404 || r.status === 400 && /upload_id|not_found/.test(r.text), `${ctx} by another tenant: ${r.status} ${r.text}`);
    n++;
  }
  t.diagnostic(`${n} tenant routes × 6 credentials`);
  // and nothing of the victim's changed
  const a = await call('GET', `/v1/assets/${V.asset}`, { key: V.admin });
  assert.equal(a.status, 200);
  assert.equal(JSON.parse(a.text).data.filename, `${V.name}.txt`);
  assert.equal((await call('GET', `/v1/spaces/${V.space}`, { key: V.admin })).status, 200);
  assert.equal((await call('GET', `/api/v1/workspaces/${V.workspace}`, { key: V.admin })).status, 200);
  assert.equal((await call('GET', `/api/v1/files/${V.file}`, { key: V.admin })).status, 200);
});

test('admin routes: no key 401, a tenant\'s admin key refused', async () => {
  for (const rt of routes().filter((r) => r.auth === 'admin')) {
    let r = await send(rt, V, null);
    assert.equal(r.status, 401, `${rt.id} without a key`);
    for (const key of [A.admin, V.admin, 'x'.repeat(40)]) {
      r = await send(rt, V, key);
      assert.ok(r.status === 401 || r.status === 403, `${rt.id} with a tenant key: ${r.status}`);
      assert.deepEqual(leaks(r.text, V), []);
    }
  }
  // the victim's key still works: regenerate-key was never run for it
  assert.equal((await call('GET', '/api/v1/tenant/info', { key: V.admin })).status, 200);
});

test('KV routes: no credential, another bucket\'s secret, a token outside its prefix: refused, nothing of the victim\'s', async (t) => {
  let n = 0;
  for (const rt of routes().filter((r) => r.auth === 'bucket')) {
    const ctx = rt.id;
    // The document: HEAD of a bucket is 404 unless the credential is its
    // admin (the same answer as for a bucket that does not exist).
    const refused = rt.id === 'HEAD /api/v1/{bucket}' ? [404] : [401, 403];
    let r = await send(rt, V, null);
    assert.ok(refused.includes(r.status), `${ctx} without a credential: ${r.status}`);
    r = await send(rt, V, A.kvSecret);
    assert.ok(refused.includes(r.status), `${ctx} with another bucket's secret: ${r.status}`);
    assert.deepEqual(leaks(r.text, V), [], ctx);
    // a token for u: on this bucket, used on x:... or the bucket itself
    r = await send(rt, V, V.token);
    if (rt.id === 'GET /api/v1/{bucket}/') {
      // a token with enumerate lists its own prefix, and only that
      assert.equal(r.status, 200, r.text);
      assert.ok(r.text.includes(`u:${V.name}`) && !r.text.includes(`x:${V.name}`), r.text);
    } else if (!/\{key\+\}/.test(rt.pattern) || rt.scope === 'admin') {
      assert.ok([...refused, 401, 403].includes(r.status), `${ctx} with a prefix token: ${r.status} ${r.text}`);
    } else {
      assert.equal(r.status, 403, `${ctx} with a token outside its prefix: ${r.status} ${r.text}`);
    }
    if (rt.id !== 'GET /api/v1/{bucket}/') assert.ok(!r.text.includes(V.bytes), ctx);
    // another bucket's token on this bucket
    r = await send(rt, V, A.token);
    assert.ok(refused.includes(r.status), `${ctx} with another bucket's token: ${r.status}`);
    n++;
  }
  t.diagnostic(`${n} KV routes × 4 credentials`);
  // the victim's keys are untouched
  const r = await fetch(`${base}/api/v1/${V.bucket}/x:${V.name}`, { headers: { Authorization: `Bearer ${V.kvSecret}` } });
  assert.equal(await r.text(), JSON.stringify(V.bytes), 'the victim\'s key was changed');
});

test('public routes: another space\'s password, signed routes without a valid signature', async () => {
  for (const rt of routes().filter((r) => r.auth === 'none')) {
    const r = await send(rt, V, A.admin);   // a credential does not matter here
    assert.ok(r.status < 500, `${rt.id}: ${r.status}`);
    if (/_internal\/upload|\/v1\/uploads\//.test(rt.pattern)) assert.equal(r.status, 403, `${rt.id} without a signature`);
    if (/public\/spaces\/\{shortId\}\/access/.test(rt.pattern)) assert.equal(r.status, 401);
    if (/public\/spaces\/\{shortId\}$/.test(rt.pattern)) {
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes(V.asset) && !r.text.includes(V.bytes), 'a protected space shows its assets');
    }
  }
});

test('the count', (t) => { t.diagnostic(`${tried.calls} requests`); });
