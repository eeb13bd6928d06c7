// file.test.mjs - the file API's admin, tenant and workspace routes
// (shared/seeds/file-api.txt) through lighttpd and nginx: admin keys,
// tenant keys and scopes, every documented error, and tenant isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, eachFront } from './harness.mjs';

const CFG_ADMIN = 'configured-admin-key-for-tests';
const stack = new Stack({ config: { admin_api_key: CFG_ADMIN } });
before(() => stack.start());
after(() => stack.stop());

const ALL_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'application/pdf'];
let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;

async function req(base, method, path, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(base + path, { method, headers: h, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}
function isErr(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  // Storage Brain's zod handler: a validation error lists each bad field
  if (code === 'VALIDATION_ERROR') {
    assert.equal(r.json.error.message, 'Request validation failed', r.text);
    assert.ok(Array.isArray(r.json.error.details.errors) && r.json.error.details.errors.length > 0, r.text);
    for (const e of r.json.error.details.errors) assert.deepEqual(Object.keys(e).sort(), ['message', 'path'], r.text);
  } else {
    assert.deepEqual(r.json.error.details, {});
  }
}
async function newTenant(base, body = {}) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: uniq('tenant'), ...body } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('admin: create a tenant, its key returned once, with the documented defaults', (t) => eachFront(t, stack, async (f) => {
  const name = uniq('My Application');
  const r = await req(f.base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name, quotaBytes: 1073741824, allowedFileTypes: ['image/jpeg', 'image/png', 'application/pdf'] } });
  assert.equal(r.status, 201);
  assert.match(r.json.id, /^[0-9a-f-]{36}$/);
  assert.equal(r.json.name, name);
  assert.match(r.json.apiKey, /^sk_live_[0-9a-f]{64}$/);
  assert.equal(r.json.quotaBytes, 1073741824);
  assert.deepEqual(r.json.allowedFileTypes, ['image/jpeg', 'image/png', 'application/pdf']);
  const d = await newTenant(f.base);
  assert.equal(d.quotaBytes, 524288000);
  assert.deepEqual(d.allowedFileTypes, ALL_TYPES);
  // the key works, and is never shown again
  const info = await req(f.base, 'GET', '/api/v1/tenant/info', { key: r.json.apiKey });
  assert.equal(info.status, 200);
  assert.ok(!info.text.includes(r.json.apiKey.slice(8)));
}));

test('admin: the configured ADMIN_API_KEY and the cubbyctl admin key both work; others are 401', (t) => eachFront(t, stack, async (f) => {
  for (const key of [CFG_ADMIN, stack.adminKey])
    assert.equal((await req(f.base, 'POST', '/api/v1/admin/tenants', { key, body: { name: uniq('k') } })).status, 201);
  for (const key of [undefined, 'wrong', CFG_ADMIN + 'x', 'sk_admin_' + '0'.repeat(64)])
    isErr(await req(f.base, 'POST', '/api/v1/admin/tenants', { key, body: { name: uniq('k') } }), 401, 'UNAUTHORIZED');
  // a tenant key is not an admin key
  const t1 = await newTenant(f.base);
  isErr(await req(f.base, 'POST', '/api/v1/admin/tenants', { key: t1.apiKey, body: { name: uniq('k') } }), 401, 'UNAUTHORIZED');
}));

test('admin: validation, invalid file types and duplicate names', (t) => eachFront(t, stack, async (f) => {
  const post = (body) => req(f.base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body });
  for (const body of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 42 }, { name: uniq('q'), quotaBytes: -1 },
    { name: uniq('q'), quotaBytes: 'lots' }, { name: uniq('q'), allowedFileTypes: 'image/png' }, [1, 2]])
    isErr(await post(body), 400, 'VALIDATION_ERROR');
  isErr(await req(f.base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: '{"name": "x"' }), 400, 'VALIDATION_ERROR');
  for (const types of [['image/tiff'], ['image/png', 'text/html'], [7]])
    isErr(await post({ name: uniq('ty'), allowedFileTypes: types }), 400, 'INVALID_FILE_TYPE');
  isErr(await post({ name: uniq('ty'), allowedFileTypes: [] }), 400, 'VALIDATION_ERROR');
  const name = uniq('dup');
  assert.equal((await post({ name })).status, 201);
  isErr(await post({ name }), 409, 'CONFLICT');
}));

test('admin: regenerate-key invalidates the old key at once', (t) => eachFront(t, stack, async (f) => {
  const t1 = await newTenant(f.base);
  const r = await req(f.base, 'POST', `/api/v1/admin/tenants/${t1.id}/regenerate-key`, { key: stack.adminKey });
  assert.equal(r.status, 200);
  assert.equal(r.json.tenantId, t1.id);
  assert.match(r.json.apiKey, /^sk_live_[0-9a-f]{64}$/);
  assert.notEqual(r.json.apiKey, t1.apiKey);
  assert.equal(r.json.message, 'API key regenerated successfully. Store this key securely.');
  isErr(await req(f.base, 'GET', '/api/v1/tenant/info', { key: t1.apiKey }), 401, 'UNAUTHORIZED');
  assert.equal((await req(f.base, 'GET', '/api/v1/tenant/info', { key: r.json.apiKey })).status, 200);
  isErr(await req(f.base, 'POST', '/api/v1/admin/tenants/00000000-0000-4000-8000-000000000000/regenerate-key', { key: stack.adminKey }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'POST', '/api/v1/admin/tenants/not-a-uuid/regenerate-key', { key: stack.adminKey }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'POST', `/api/v1/admin/tenants/${t1.id}/regenerate-key`, { key: r.json.apiKey }), 401, 'UNAUTHORIZED');
}));

test('tenant: quota and info in the documented shapes', (t) => eachFront(t, stack, async (f) => {
  const t1 = await newTenant(f.base, { quotaBytes: 524288000, allowedFileTypes: ['image/jpeg', 'image/png', 'application/pdf'] });
  let r = await req(f.base, 'GET', '/api/v1/tenant/quota', { key: t1.apiKey });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { quotaBytes: 524288000, usedBytes: 0, availableBytes: 524288000, usagePercent: 0 });
  r = await req(f.base, 'GET', '/api/v1/tenant/info', { key: t1.apiKey });
  assert.equal(r.status, 200);
  assert.equal(r.json.id, t1.id);
  assert.equal(r.json.name, t1.name);
  assert.deepEqual(r.json.allowedFileTypes, ['image/jpeg', 'image/png', 'application/pdf']);
  assert.match(r.json.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  for (const h of [{}, { Authorization: 'Bearer sk_live_' + '0'.repeat(64) }, { Authorization: `Basic ${t1.apiKey}` }, { Authorization: t1.apiKey }])
    isErr(await req(f.base, 'GET', '/api/v1/tenant/quota', { headers: h }), 401, 'UNAUTHORIZED');
}));

test('workspaces: create, list, get, patch, delete', (t) => eachFront(t, stack, async (f) => {
  const t1 = await newTenant(f.base);
  const key = t1.apiKey;
  let r = await req(f.base, 'POST', '/api/v1/workspaces', { key, body: { name: 'Marketing', slug: 'marketing', quotaBytes: 104857600 } });
  assert.equal(r.status, 201);
  const ws = r.json;
  assert.match(ws.id, /^[0-9a-f-]{36}$/);
  assert.equal(ws.name, 'Marketing');
  assert.equal(ws.slug, 'marketing');
  assert.equal(ws.quotaBytes, 104857600);
  assert.equal(ws.usedBytes, 0);
  assert.equal(ws.metadata, null);
  assert.ok(Number.isInteger(ws.createdAt) && Math.abs(ws.createdAt - Date.now() / 1000) < 60, 'createdAt in unix seconds');
  assert.equal(ws.updatedAt, ws.createdAt);
  r = await req(f.base, 'POST', '/api/v1/workspaces', { key, body: { name: 'Sales', slug: 'sales-2', metadata: { region: 'eu' } } });
  assert.equal(r.status, 201);
  assert.equal(r.json.quotaBytes, null);
  assert.deepEqual(r.json.metadata, { region: 'eu' });
  r = await req(f.base, 'GET', '/api/v1/workspaces', { key });
  // oldest first; two made in the same millisecond may come in either order
  assert.deepEqual(r.json.workspaces.map((w) => w.slug).sort(), ['marketing', 'sales-2']);
  r = await req(f.base, 'GET', `/api/v1/workspaces/${ws.id}`, { key });
  assert.deepEqual(r.json, ws);
  r = await req(f.base, 'PATCH', `/api/v1/workspaces/${ws.id}`, { key, body: { name: 'Growth', metadata: { a: 1 } } });
  assert.equal(r.status, 200);
  assert.equal(r.json.name, 'Growth');
  assert.equal(r.json.slug, 'marketing');
  assert.equal(r.json.quotaBytes, 104857600, 'absent quota is unchanged');
  assert.deepEqual(r.json.metadata, { a: 1 });
  r = await req(f.base, 'PATCH', `/api/v1/workspaces/${ws.id}`, { key, body: { quotaBytes: null, metadata: { b: 2 } } });
  assert.equal(r.json.quotaBytes, null, 'null removes the limit');
  assert.deepEqual(r.json.metadata, { b: 2 }, 'metadata is replaced');
  assert.equal(r.json.name, 'Growth');
  r = await req(f.base, 'DELETE', `/api/v1/workspaces/${ws.id}`, { key });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { success: true });
  isErr(await req(f.base, 'GET', `/api/v1/workspaces/${ws.id}`, { key }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'DELETE', `/api/v1/workspaces/${ws.id}`, { key }), 404, 'NOT_FOUND');
  // the slug is free again
  assert.equal((await req(f.base, 'POST', '/api/v1/workspaces', { key, body: { name: 'M', slug: 'marketing' } })).status, 201);
}));

test('workspaces: validation and slug conflicts', (t) => eachFront(t, stack, async (f) => {
  const { apiKey: key } = await newTenant(f.base);
  const post = (body) => req(f.base, 'POST', '/api/v1/workspaces', { key, body });
  for (const body of [{}, { name: 'x' }, { slug: 'x' }, { name: '', slug: 'x' }, { name: 'x'.repeat(256), slug: 'x' },
    { name: 'x', slug: 'Upper' }, { name: 'x', slug: 'has space' }, { name: 'x', slug: 'under_score' }, { name: 'x', slug: '' },
    { name: 'x', slug: 'a'.repeat(101) }, { name: 'x', slug: 'ok', quotaBytes: -5 }, { name: 'x', slug: 'ok', quotaBytes: 1.5 },
    { name: 'x', slug: 'ok', metadata: [1] }, { name: 'x', slug: 'ok', metadata: 'm' }, { name: 7, slug: 'ok' }, 'nope'])
    isErr(await post(body), 400, 'VALIDATION_ERROR');
  assert.equal((await post({ name: 'A', slug: 'dup' })).status, 201);
  isErr(await post({ name: 'B', slug: 'dup' }), 409, 'CONFLICT');
  const ws = (await post({ name: 'C', slug: 'c' })).json;
  for (const body of [{ name: '' }, { name: 5 }, { quotaBytes: 'x' }, { metadata: 3 }])
    isErr(await req(f.base, 'PATCH', `/api/v1/workspaces/${ws.id}`, { key, body }), 400, 'VALIDATION_ERROR');
  isErr(await req(f.base, 'GET', '/api/v1/workspaces/not-a-uuid', { key }), 404, 'NOT_FOUND');
}));

test('isolation: another tenant gets 404 for every workspace id and never sees it', (t) => eachFront(t, stack, async (f) => {
  const a = await newTenant(f.base), b = await newTenant(f.base);
  const ws = (await req(f.base, 'POST', '/api/v1/workspaces', { key: a.apiKey, body: { name: 'Secret plans', slug: 'shared-slug' } })).json;
  isErr(await req(f.base, 'GET', `/api/v1/workspaces/${ws.id}`, { key: b.apiKey }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'PATCH', `/api/v1/workspaces/${ws.id}`, { key: b.apiKey, body: { name: 'pwned' } }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'DELETE', `/api/v1/workspaces/${ws.id}`, { key: b.apiKey }), 404, 'NOT_FOUND');
  const list = await req(f.base, 'GET', '/api/v1/workspaces', { key: b.apiKey });
  assert.ok(!list.text.includes(ws.id) && !list.text.includes('Secret plans'));
  // the same slug in another tenant is fine; A's workspace is untouched
  assert.equal((await req(f.base, 'POST', '/api/v1/workspaces', { key: b.apiKey, body: { name: 'Mine', slug: 'shared-slug' } })).status, 201);
  assert.equal((await req(f.base, 'GET', `/api/v1/workspaces/${ws.id}`, { key: a.apiKey })).json.name, 'Secret plans');
  const info = await req(f.base, 'GET', '/api/v1/tenant/info', { key: b.apiKey });
  assert.ok(!info.text.includes(a.id) && !info.text.includes(a.name));
}));

test('cubbyctl tenant and key commands; scopes from the route table', async () => {
  const f = stack.fronts[1];
  const name = uniq('ctl-tenant');
  let r = stack.ctl('tenant', 'create', name, '--quota', '10m', '--types', 'image/png,application/pdf');
  assert.equal(r.status, 0, r.stderr);
  const primary = /API key \(shown once, store it now\): (sk_live_[0-9a-f]{64})/.exec(r.stdout)[1];
  const id = /tenant ([0-9a-f-]{36})/.exec(r.stdout)[1];
  r = stack.ctl('tenant', 'create', name);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already exists/);
  assert.equal(stack.ctl('tenant', 'create', uniq('x'), '--types', 'image/tiff').status, 1);
  r = stack.ctl('tenant', 'list');
  assert.match(r.stdout, new RegExp(`${id}  ${name}`));
  assert.ok(!r.stdout.includes(primary));
  const q = await req(f.base, 'GET', '/api/v1/tenant/quota', { key: primary });
  assert.equal(q.json.quotaBytes, 10 * 1024 * 1024);

  r = stack.ctl('key', 'create', name, '--name', 'reader', '--scope', 'read');
  assert.equal(r.status, 0, r.stderr);
  const reader = /(sk_live_[0-9a-f]{64})/.exec(r.stdout)[1];
  const readerId = /key (key_[0-9a-f]{16})/.exec(r.stdout)[1];
  assert.equal(stack.ctl('key', 'create', name, '--name', 'x', '--scope', 'root').status, 1);
  // read scope: GET routes yes, writes 403
  assert.equal((await req(f.base, 'GET', '/api/v1/workspaces', { key: reader })).status, 200);
  isErr(await req(f.base, 'POST', '/api/v1/workspaces', { key: reader, body: { name: 'x', slug: 'x' } }), 403, 'INSUFFICIENT_SCOPE');
  r = stack.ctl('tenant', 'show', id);
  assert.match(r.stdout, /primary/);
  assert.match(r.stdout, /reader\s+read\s+sk_live_[0-9a-f]{4}\.\.\.[0-9a-f]{4}/);
  assert.ok(!r.stdout.includes(reader) && !r.stdout.includes(primary), 'keys are never shown again');
  r = stack.ctl('key', 'revoke', readerId);
  assert.equal(r.status, 0);
  isErr(await req(f.base, 'GET', '/api/v1/workspaces', { key: reader }), 401, 'UNAUTHORIZED');
  assert.match(stack.ctl('key', 'list', name).stdout, /REVOKED/);
  assert.equal(stack.ctl('key', 'revoke', 'key_0000000000000000').status, 1);
  assert.equal(stack.ctl('tenant', 'show', 'no-such-tenant').status, 1);
});
