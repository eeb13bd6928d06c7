// file-fidelity.test.mjs - the file API answers as Storage Brain does where
// the document is silent (marlinjai/storage-brain: its routes, its zod
// schemas and the error handler of @marlinjai/brain-core), through
// lighttpd and nginx: validation errors with details.errors, UUIDs, the
// presigned PUT's answer, cursors, expiresIn, unknown paths, and the admin
// tenant routes its SDK calls (with tenant deletion taking every byte).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Stack, eachFront, bin } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const UUID0 = '00000000-0000-4000-8000-000000000000';

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, text };
}
function isErr(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
}
// brain-core's zod handler: {code: VALIDATION_ERROR, message, details: {errors: [{path, message}]}}
function isValidation(r, paths) {
  isErr(r, 400, 'VALIDATION_ERROR');
  assert.equal(r.json.error.message, 'Request validation failed');
  assert.deepEqual(r.json.error.details.errors.map((e) => e.path), paths, r.text);
  for (const e of r.json.error.details.errors) assert.equal(typeof e.message, 'string');
}
const admin = () => stack.adminKey;
async function newTenant(base, body = {}) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: admin(), body: { name: uniq('ff'), ...body } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
async function upload(base, key, bytes, body = {}) {
  const r = await req(base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/png', fileName: 'a.png', fileSizeBytes: bytes.length, ...body } });
  assert.equal(r.status, 200, r.text);
  const put = await req(base, 'PUT', r.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'image/png' } });
  assert.equal(put.status, 200, put.text);
  return put.json;
}
const blobsDir = () => path.join(stack.dirs.localstatedir, 'lib/cubby/blobs');
function blobFiles() {
  const out = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else out.push(p); } };
  if (fs.existsSync(blobsDir())) walk(blobsDir());
  return out.filter((p) => !path.relative(blobsDir(), p).startsWith(`tmp${path.sep}`));
}

test('Storage Brain: validation errors carry details.errors; UUIDs and positive sizes', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const k = tn.apiKey;
  const ask = (body) => req(f.base, 'POST', '/api/v1/upload/request', { key: k, body: { fileType: 'image/png', fileName: 'a.png', fileSizeBytes: 10, ...body } });
  isValidation(await ask({ workspaceId: 'not-a-uuid' }), ['workspaceId']);
  isValidation(await ask({ fileSizeBytes: 0 }), ['fileSizeBytes']);
  isValidation(await ask({ fileSizeBytes: -1 }), ['fileSizeBytes']);
  isValidation(await ask({ fileSizeBytes: 1.5 }), ['fileSizeBytes']);
  isValidation(await ask({ fileType: undefined, fileName: undefined }), ['fileType', 'fileName']);
  isValidation(await ask({ fileName: 42 }), ['fileName']);
  // a UUID that names no workspace is a 404, as upstream
  isErr(await ask({ workspaceId: UUID0 }), 404, 'NOT_FOUND');
  isValidation(await req(f.base, 'GET', '/api/v1/files?workspaceId=nope', { key: k }), ['workspaceId']);
  isValidation(await req(f.base, 'GET', '/api/v1/files?limit=0', { key: k }), ['limit']);
  for (const [m, p] of [['GET', '/api/v1/files/not-a-uuid'], ['DELETE', '/api/v1/files/not-a-uuid'], ['GET', '/api/v1/files/not-a-uuid/signed-url'], ['GET', '/api/v1/files/12345/permanent-url']])
    isValidation(await req(f.base, m, p, { key: k }), ['']);
  isErr(await req(f.base, 'GET', `/api/v1/files/${UUID0}`, { key: k }), 404, 'FILE_NOT_FOUND');
  // strict JSON in this dialect too: NaN and \u0000 never get stored
  isErr(await req(f.base, 'POST', '/api/v1/upload/request', { key: k, body: '{"fileType":"image/png","fileName":"a.png","tags":{"a":NaN}}', headers: { 'Content-Type': 'application/json' } }), 400, 'VALIDATION_ERROR');
  isErr(await req(f.base, 'POST', '/api/v1/upload/request', { key: k, body: '{"fileType":"image/png","fileName":"ok.png\\u0000.html"}', headers: { 'Content-Type': 'application/json' } }), 400, 'VALIDATION_ERROR');
  isErr(await req(f.base, 'POST', '/api/v1/workspaces', { key: k, body: '{"name":"w","slug":"w","metadata":{"a":Infinity}}', headers: { 'Content-Type': 'application/json' } }), 400, 'VALIDATION_ERROR');
  const files = await req(f.base, 'GET', '/api/v1/files', { key: k });
  assert.equal(files.json.total, 0, 'nothing stored by refused requests');
}));

test('Storage Brain: the presigned PUT answers status, fileId and sizeBytes; cursors end on a full page', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const k = tn.apiKey;
  const put = await upload(f.base, k, Buffer.from('hello'));
  assert.equal(put.status, 'completed');
  assert.equal(put.fileId, put.id);
  assert.equal(put.sizeBytes, 5);
  assert.equal(put.originalName, 'a.png');
  await upload(f.base, k, Buffer.from('world!'));
  // exactly full last page: no nextCursor
  let l = await req(f.base, 'GET', '/api/v1/files?limit=2', { key: k });
  assert.equal(l.json.files.length, 2);
  assert.equal(l.json.nextCursor, null);
  l = await req(f.base, 'GET', '/api/v1/files?limit=1', { key: k });
  assert.equal(l.json.files.length, 1);
  assert.equal(typeof l.json.nextCursor, 'string');
  const l2 = await req(f.base, 'GET', `/api/v1/files?limit=1&cursor=${encodeURIComponent(l.json.nextCursor)}`, { key: k });
  assert.equal(l2.json.files.length, 1);
  assert.notEqual(l2.json.files[0].id, l.json.files[0].id);
  assert.equal(l2.json.nextCursor, null, 'the second and last page of two');
  // the asset API's cursor as well
  const a = await req(f.base, 'GET', '/v1/assets?limit=2', { key: k });
  assert.equal(a.json.data.length, 2);
  assert.equal(a.json.meta.next_cursor, null);
  const a1 = await req(f.base, 'GET', '/v1/assets?limit=1', { key: k });
  assert.equal(typeof a1.json.meta.next_cursor, 'string');
  const a2 = await req(f.base, 'GET', `/v1/assets?limit=1&cursor=${a1.json.meta.next_cursor}`, { key: k });
  assert.equal(a2.json.data.length, 1);
  assert.equal(a2.json.meta.next_cursor, null);
}));

test('Storage Brain: a permanent URL works without a key, is refused when tampered, and dies with the file', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const file = await upload(f.base, tn.apiKey, Buffer.from('forever'));
  const r = await req(f.base, 'GET', `/api/v1/files/${file.id}/permanent-url`, { key: tn.apiKey });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['fileId', 'url']);
  const u = new URL(r.json.url);
  assert.equal(u.searchParams.get('expires'), '0');
  assert.equal((await req(f.base, 'GET', u.pathname + u.search)).text, 'forever');
  const tok = u.searchParams.get('token');
  isErr(await req(f.base, 'GET', `${u.pathname}?token=${tok.replace(/^./, tok[0] === 'a' ? 'b' : 'a')}&expires=0`), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'GET', `${u.pathname}?token=${tok}&expires=1`), 401, 'UNAUTHORIZED');
  const other = await newTenant(f.base);
  isErr(await req(f.base, 'GET', `/api/v1/files/${file.id}/permanent-url`, { key: other.apiKey }), 404, 'FILE_NOT_FOUND');
  await req(f.base, 'DELETE', `/api/v1/files/${file.id}`, { key: tn.apiKey });
  isErr(await req(f.base, 'GET', u.pathname + u.search), 404, 'FILE_NOT_FOUND');
}));

test('an unknown path under a file-API root is the file API\'s 404, never a key-value answer', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  for (const [m, p] of [['GET', '/api/v1/files/x/y/z'], ['GET', '/api/v1/workspaces/a/b/c'], ['GET', '/api/v1/tenant/nope'],
    ['GET', '/api/v1/admin/nope'], ['POST', '/api/v1/upload/nope'], ['PUT', '/api/v1/files/abc/def'], ['PATCH', '/api/v1/workspaces/x/y']]) {
    const r = await req(f.base, m, p, { key: tn.apiKey });
    isErr(r, 404, 'NOT_FOUND');
    assert.ok(r.json.error.message.includes(p), `${m} ${p}: ${r.text}`);
    assert.ok(!/bucket/.test(r.text), r.text);
    assert.deepEqual(r.json.error.details, {});
  }
}));

test('Storage Brain: the admin tenant routes its SDK calls', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base, { quotaBytes: 1000000 });
  const A = (m, p, body) => req(f.base, m, `/api/v1/admin/tenants${p}`, { key: admin(), body });
  // one tenant
  let r = await A('GET', `/${tn.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, tn.id);
  assert.equal(r.json.name, tn.name);
  assert.equal(r.json.quotaBytes, 1000000);
  assert.equal(r.json.usedBytes, 0);
  assert.match(r.json.keyPrefix, /^sk_live_/);
  assert.ok(!r.text.includes(tn.apiKey), 'the key is never shown again');
  assert.equal(typeof r.json.createdAt, 'number');
  assert.equal(typeof r.json.updatedAt, 'number');
  assert.deepEqual(r.json.quota, { quotaBytes: 1000000, usedBytes: 0, availableBytes: 1000000, usagePercent: 0 });
  // the list, paged
  const more = [await newTenant(f.base), await newTenant(f.base)];
  r = await A('GET', '?limit=100');
  assert.equal(r.status, 200);
  assert.ok(r.json.total >= 3);
  assert.ok(r.json.tenants.some((x) => x.id === tn.id));
  const seen = [];
  let cursor = null;
  do {
    r = await A('GET', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.tenants.length <= 2);
    seen.push(...r.json.tenants.map((x) => x.id));
    cursor = r.json.nextCursor;
  } while (cursor);
  assert.equal(seen.length, r.json.total, 'every tenant once');
  assert.equal(new Set(seen).size, seen.length);
  isValidation(await A('GET', '?cursor=bogus'), ['cursor']);
  // update
  r = await A('PATCH', `/${tn.id}`, { name: tn.name + '-renamed', quotaBytes: 2000000, allowedFileTypes: ['image/png', 'application/pdf'] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, tn.name + '-renamed');
  assert.equal(r.json.quotaBytes, 2000000);
  assert.deepEqual(r.json.allowedFileTypes, ['image/png', 'application/pdf']);
  isErr(await A('PATCH', `/${tn.id}`, { name: more[0].name }), 409, 'CONFLICT');
  isValidation(await A('PATCH', `/${tn.id}`, { quotaBytes: -1 }), ['quotaBytes']);
  isErr(await A('PATCH', `/${tn.id}`, { allowedFileTypes: ['application/x-nope'] }), 400, 'VALIDATION_ERROR');
  isErr(await A('PATCH', `/${UUID0}`, { name: 'x' }), 404, 'NOT_FOUND');
  // as the tenant: files, one file, its signed URL, workspaces, quota, an upload
  const file = await upload(f.base, tn.apiKey, Buffer.from('admin sees me'));
  r = await A('GET', `/${tn.id}/files`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.files.map((x) => x.id), [file.id]);
  assert.equal(r.json.total, 1);
  r = await A('GET', `/${tn.id}/files/${file.id}`);
  assert.equal(r.json.id, file.id);
  r = await A('GET', `/${tn.id}/files/${file.id}/signed-url?expiresIn=120`);
  assert.equal(r.json.expiresIn, 120);
  assert.equal((await req(f.base, 'GET', r.json.url)).text, 'admin sees me');
  isErr(await A('GET', `/${more[0].id}/files/${file.id}`), 404, 'FILE_NOT_FOUND');
  r = await A('POST', `/${tn.id}/workspaces`, { name: 'Team', slug: 'team' });
  assert.equal(r.status, 201, r.text);
  r = await A('GET', `/${tn.id}/workspaces`);
  assert.deepEqual(r.json.workspaces.map((w) => w.slug), ['team']);
  r = await A('GET', `/${tn.id}/quota`);
  assert.equal(r.json.usedBytes, 13);
  r = await A('POST', `/${tn.id}/upload/request`, { fileType: 'image/png', fileName: 'b.png', fileSizeBytes: 3 });
  assert.equal(r.status, 200, r.text);
  assert.equal((await req(f.base, 'PUT', r.json.presignedUrl, { body: Buffer.from('abc'), headers: { 'Content-Type': 'image/png' } })).status, 200);
  r = await A('DELETE', `/${tn.id}/files/${file.id}`);
  assert.deepEqual(r.json, { success: true });
  isErr(await req(f.base, 'GET', `/api/v1/files/${file.id}`, { key: tn.apiKey }), 404, 'FILE_NOT_FOUND');
  // failure cases: no key, a tenant's key, an unknown tenant, not a UUID
  isErr(await req(f.base, 'GET', '/api/v1/admin/tenants'), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'GET', '/api/v1/admin/tenants', { key: tn.apiKey }), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'DELETE', `/api/v1/admin/tenants/${tn.id}`, { key: tn.apiKey }), 401, 'UNAUTHORIZED');
  for (const p of [`/${UUID0}`, `/${UUID0}/files`, `/${UUID0}/quota`, `/${UUID0}/workspaces`, '/not-a-uuid'])
    isErr(await A('GET', p), 404, 'NOT_FOUND');
  isErr(await A('DELETE', `/${UUID0}`), 404, 'NOT_FOUND');
}));

test('deleting a tenant removes its keys, files and bytes', (t) => eachFront(t, stack, async (f) => {
  const before = new Set(blobFiles());
  const tn = await newTenant(f.base);
  const files = [];
  for (let i = 0; i < 3; i++) files.push(await upload(f.base, tn.apiKey, Buffer.from(`bytes ${i} `.repeat(100))));
  const added = blobFiles().filter((p) => !before.has(p));
  assert.ok(added.length >= 3, `the uploads are on disk (${added.length})`);
  await req(f.base, 'DELETE', `/api/v1/files/${files[0].id}`, { key: tn.apiKey });   // a deleted one too
  const r = await req(f.base, 'DELETE', `/api/v1/admin/tenants/${tn.id}`, { key: admin() });
  assert.deepEqual(r.json, { success: true });
  assert.deepEqual(added.filter((p) => fs.existsSync(p)), [], 'no byte of the tenant is left');
  isErr(await req(f.base, 'GET', '/api/v1/files', { key: tn.apiKey }), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'GET', '/v1/assets', { key: tn.apiKey }), 401, 'unauthorized');
  isErr(await req(f.base, 'GET', `/api/v1/admin/tenants/${tn.id}`, { key: admin() }), 404, 'NOT_FOUND');
  const db = path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
  const count = (q) => spawnSync('sqlite3', [db, q], { encoding: 'utf8' }).stdout.trim();
  assert.equal(count(`SELECT count(*) FROM objects WHERE tenant_id='${tn.id}'`), '0');
  assert.equal(count(`SELECT count(*) FROM api_keys WHERE tenant_id='${tn.id}'`), '0');
}));

test('cubbyctl tenant update and delete', async () => {
  const f = stack.fronts[0];
  const tn = await newTenant(f.base);
  await upload(f.base, tn.apiKey, Buffer.from('ctl'));
  const ctl = (...args) => spawnSync(bin('cubbyctl'), args, { encoding: 'utf8', env: { ...process.env, CUBBY_CONFIG: stack.confPath } });
  let r = ctl('tenant', 'update', tn.id, '--quota', '5m', '--name', tn.name + '-ctl');
  assert.equal(r.status, 0, r.stderr);
  let g = await req(f.base, 'GET', `/api/v1/admin/tenants/${tn.id}`, { key: admin() });
  assert.equal(g.json.quotaBytes, 5 * 1024 * 1024);
  assert.equal(g.json.name, tn.name + '-ctl');
  r = ctl('tenant', 'update', UUID0, '--quota', '1');
  assert.notEqual(r.status, 0);
  r = ctl('tenant', 'delete', tn.name + '-ctl');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /deleted tenant/);
  g = await req(f.base, 'GET', `/api/v1/admin/tenants/${tn.id}`, { key: admin() });
  assert.equal(g.status, 404);
  assert.notEqual(ctl('tenant', 'delete', tn.id).status, 0, 'a second delete finds nothing');
});
