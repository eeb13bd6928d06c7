// spaces.test.mjs - the asset API's spaces, publications, public share
// links (public, protected with the password rate limit, private), API
// keys, account and usage, through lighttpd and nginx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { Stack, eachFront } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const dbPath = () => path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
const sql = (q) => spawnSync('sqlite3', [dbPath(), q], { encoding: 'utf8' }).stdout.trim();

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}
function isErr(r, status, code, fields) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.data, null, r.text);
  assert.equal(r.json.error.code, code, r.text);
  if (fields) assert.deepEqual(r.json.error.fields.map((x) => x.field).sort(), [...fields].sort(), r.text);
}
async function account(base) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: uniq('acct') } });
  assert.equal(r.status, 201, r.text);
  const keys = { admin: r.json.apiKey, id: r.json.id, name: r.json.name };
  for (const s of ['read', 'write'])
    keys[s] = (await req(base, 'POST', '/v1/api-keys', { key: keys.admin, body: { name: `${s}-bot`, scopes: [s] } })).json.data.key;
  return keys;
}
async function asset(base, key, bytes = crypto.randomBytes(300), name = 'a.bin') {
  const c = await req(base, 'POST', '/v1/assets', { key, body: { filename: name, size_bytes: bytes.length } });
  const up = c.json.data.upload;
  assert.equal((await req(base, 'PUT', up.url, { body: bytes, headers: up.headers })).status, 200);
  const d = await req(base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key });
  assert.equal(d.status, 200, d.text);
  return { id: d.json.data.id, bytes };
}

test('spaces: create, list, get with asset_count, update, delete cascades publications but keeps assets', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: {} }), 400, 'validation_error', ['name']);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'x', visibility: 'secret' } }), 400, 'validation_error', ['visibility']);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'x', visibility: 'protected' } }), 400, 'validation_error', ['password']);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'x', visibility: 'protected', password: '123' } }), 400, 'validation_error', ['password']);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 7, colour: 'red' } }), 400, 'validation_error', ['name', 'colour']);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: k.write, body: { name: 'x' } }), 403, 'insufficient_scope');
  const r = await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'Highlights', visibility: 'public' } });
  assert.equal(r.status, 201, r.text);
  const s = r.json.data;
  assert.match(s.id, /^spc_[0-9a-f]{32}$/);
  assert.match(s.short_id, /^[a-z2-7]{16}$/);   // 80 bits (links made before: 8 characters)
  assert.equal(s.asset_count, 0);
  assert.equal(s.has_password, false);
  assert.ok(!r.text.includes('scrypt'));
  const a1 = await asset(f.base, k.write), a2 = await asset(f.base, k.write);
  const pending = (await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'p.bin', size_bytes: 5 } })).json.data.asset.id;
  const pub = await req(f.base, 'POST', `/v1/spaces/${s.id}/publications`, { key: k.write, body: { asset_ids: [a1.id, a2.id, pending, 'ast_' + '0'.repeat(32), 42] } });
  assert.equal(pub.status, 200, pub.text);
  assert.deepEqual(pub.json.data.map((x) => x.success), [true, true, false, false, false]);
  assert.equal(pub.json.data[2].error.code, 'asset_not_active');
  assert.equal(pub.json.data[3].error.code, 'not_found');
  assert.deepEqual(pub.json.meta, { published: 2, failed: 3 });
  // publishing again is not an error
  assert.equal((await req(f.base, 'POST', `/v1/spaces/${s.id}/publications`, { key: k.write, body: { asset_ids: [a1.id] } })).json.data[0].success, true);
  isErr(await req(f.base, 'POST', `/v1/spaces/${s.id}/publications`, { key: k.write, body: { asset_ids: [] } }), 400, 'validation_error', ['asset_ids']);
  assert.equal((await req(f.base, 'GET', `/v1/spaces/${s.id}`, { key: k.read })).json.data.asset_count, 2);
  const list = await req(f.base, 'GET', `/v1/spaces/${s.id}/publications`, { key: k.read });
  assert.deepEqual(list.json.data.map((x) => x.id).sort(), [a1.id, a2.id].sort());
  assert.deepEqual((await req(f.base, 'GET', `/v1/assets/${a1.id}/spaces`, { key: k.read })).json.data.map((x) => x.id), [s.id]);
  // unpublish one
  assert.equal((await req(f.base, 'DELETE', `/v1/spaces/${s.id}/publications/${a2.id}`, { key: k.write })).status, 200);
  isErr(await req(f.base, 'DELETE', `/v1/spaces/${s.id}/publications/${a2.id}`, { key: k.write }), 404, 'not_found');
  assert.equal((await req(f.base, 'GET', `/v1/spaces/${s.id}`, { key: k.read })).json.data.asset_count, 1);
  // update
  const u = await req(f.base, 'PATCH', `/v1/spaces/${s.id}`, { key: k.admin, body: { name: 'Renamed', description: 'best of' } });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.data.name, 'Renamed');
  assert.equal(u.json.data.description, 'best of');
  isErr(await req(f.base, 'PATCH', `/v1/spaces/${s.id}`, { key: k.admin, body: { visibility: 'protected' } }), 400, 'validation_error', ['password']);
  assert.equal((await req(f.base, 'GET', '/v1/spaces', { key: k.read })).json.data.length, 1);
  // delete: the publication goes, the assets stay
  assert.equal((await req(f.base, 'DELETE', `/v1/spaces/${s.id}`, { key: k.admin })).status, 200);
  isErr(await req(f.base, 'GET', `/v1/spaces/${s.id}`, { key: k.read }), 404, 'not_found');
  assert.equal(sql(`SELECT count(*) FROM publications WHERE space_id = (SELECT id FROM spaces WHERE short_id='${s.short_id}')`), '0');
  assert.equal((await req(f.base, 'GET', `/v1/assets/${a1.id}`, { key: k.read })).json.data.status, 'active');
  assert.deepEqual((await req(f.base, 'GET', `/v1/assets/${a1.id}/spaces`, { key: k.read })).json.data, []);
  isErr(await req(f.base, 'DELETE', `/v1/spaces/${s.id}`, { key: k.admin }), 404, 'not_found');
}));

test('public links: public manifest with signed URLs, protected behind a password, private and unknown are 404', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const a = await asset(f.base, k.write, crypto.randomBytes(1000), 'shot.bin');
  const mk = async (body) => (await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: uniq('s'), ...body } })).json.data;
  const pub = await mk({ visibility: 'public' });
  const prot = await mk({ visibility: 'protected', password: 'correct horse' });
  const priv = await mk({ visibility: 'private' });
  for (const s of [pub, prot, priv])
    assert.equal((await req(f.base, 'POST', `/v1/spaces/${s.id}/publications`, { key: k.write, body: { asset_ids: [a.id] } })).status, 200);
  let r = await req(f.base, 'GET', `/v1/public/spaces/${pub.short_id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.requires_password, false);
  assert.equal(r.json.data.space.name, pub.name);
  assert.equal(r.json.data.assets.length, 1);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const dl = await req(f.base, 'GET', r.json.data.assets[0].url);
  assert.equal(dl.status, 200);
  assert.ok(dl.buf.equals(a.bytes), 'the signed URL serves the bytes');
  r = await req(f.base, 'GET', `/v1/public/spaces/${prot.short_id}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.data.requires_password, true);
  assert.equal(r.json.data.assets, undefined, 'nothing leaks before the password');
  isErr(await req(f.base, 'POST', `/v1/public/spaces/${prot.short_id}/access`, { body: {} }), 400, 'validation_error', ['password']);
  r = await req(f.base, 'POST', `/v1/public/spaces/${prot.short_id}/access`, { body: { password: 'correct horse' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.assets.length, 1);
  assert.ok((await req(f.base, 'GET', r.json.data.assets[0].url)).buf.equals(a.bytes));
  for (const s of [priv.short_id, 'aaaaaaaa', 'not-an-id'])
    for (const [m, p, body] of [['GET', `/v1/public/spaces/${s}`], ['POST', `/v1/public/spaces/${s}/access`, { password: 'x' }]])
      isErr(await req(f.base, m, p, { body }), 404, 'not_found');
  // password: null clears it; the space cannot stay protected without one
  isErr(await req(f.base, 'PATCH', `/v1/spaces/${prot.id}`, { key: k.admin, body: { password: null } }), 400, 'validation_error', ['password']);
  r = await req(f.base, 'PATCH', `/v1/spaces/${prot.id}`, { key: k.admin, body: { visibility: 'public', password: null } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.has_password, false);
  assert.equal((await req(f.base, 'GET', `/v1/public/spaces/${prot.short_id}`)).json.data.requires_password, false);
  // a deleted asset leaves the manifest
  await req(f.base, 'DELETE', `/v1/assets/${a.id}`, { key: k.write });
  assert.equal((await req(f.base, 'GET', `/v1/public/spaces/${pub.short_id}`)).json.data.assets.length, 0);
}));

test('protected spaces: wrong passwords are limited across the pool (429, Retry-After); the right one still works elsewhere', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const s = (await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'vault', visibility: 'protected', password: 'open sesame' } })).json.data;
  const other = (await req(f.base, 'POST', '/v1/spaces', { key: k.admin, body: { name: 'other', visibility: 'protected', password: 'open sesame' } })).json.data;
  const access = (short, password) => req(f.base, 'POST', `/v1/public/spaces/${short}/access`, { body: { password } });
  // the right password does not count against the limit
  for (let i = 0; i < 6; i++) assert.equal((await access(s.short_id, 'open sesame')).status, 200);
  // five wrong ones (each may land on any worker of the pool), then 429
  for (let i = 0; i < 5; i++) isErr(await access(s.short_id, `guess-${i}`), 401, 'invalid_password');
  const r = await access(s.short_id, 'guess-6');
  isErr(r, 429, 'rate_limited');
  const wait = Number(r.headers.get('retry-after'));
  assert.ok(wait > 0 && wait <= 900, `Retry-After ${wait}`);
  // blocked even with the right password, until the window ends
  isErr(await access(s.short_id, 'open sesame'), 429, 'rate_limited');
  // another space is not affected
  assert.equal((await access(other.short_id, 'open sesame')).status, 200);
}));

test('API keys: raw key once, listing without secrets, scopes, revoke at once and idempotently', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  isErr(await req(f.base, 'POST', '/v1/api-keys', { key: k.admin, body: { scopes: ['write'] } }), 400, 'validation_error', ['name']);
  isErr(await req(f.base, 'POST', '/v1/api-keys', { key: k.admin, body: { name: 'x', scopes: ['root'] } }), 400, 'validation_error', ['scopes']);
  isErr(await req(f.base, 'POST', '/v1/api-keys', { key: k.admin, body: { name: 'x', scopes: [] } }), 400, 'validation_error', ['scopes']);
  const c = await req(f.base, 'POST', '/v1/api-keys', { key: k.admin, body: { name: 'ingest-bot', scopes: ['write'] } });
  assert.equal(c.status, 201, c.text);
  assert.match(c.json.data.key, /^sk_live_[0-9a-f]{64}$/);
  assert.match(c.json.data.id, /^key_/);
  assert.deepEqual(c.json.data.scopes, ['read', 'write']);
  const raw = c.json.data.key;
  const list = await req(f.base, 'GET', '/v1/api-keys', { key: k.read });
  assert.equal(list.status, 200);
  assert.equal(list.json.data.length, 4);
  assert.ok(!list.text.includes(raw.slice(8, 40)), 'no raw key in the listing');
  assert.ok(list.json.data.every((x) => x.key === undefined));
  // the new key works with its scope
  assert.equal((await req(f.base, 'POST', '/v1/assets', { key: raw, body: { filename: 'a.bin', size_bytes: 1 } })).status, 201);
  isErr(await req(f.base, 'POST', '/v1/spaces', { key: raw, body: { name: 'x' } }), 403, 'insufficient_scope');
  // revoke: fails at once, on every worker
  assert.equal((await req(f.base, 'DELETE', `/v1/api-keys/${c.json.data.id}`, { key: k.admin })).status, 200);
  for (let i = 0; i < 8; i++) isErr(await req(f.base, 'GET', '/v1/usage', { key: raw }), 401, 'unauthorized');
  assert.equal((await req(f.base, 'DELETE', `/v1/api-keys/${c.json.data.id}`, { key: k.admin })).status, 200, 'idempotent');
  isErr(await req(f.base, 'DELETE', '/v1/api-keys/key_nope', { key: k.admin }), 404, 'not_found');
  const revoked = (await req(f.base, 'GET', '/v1/api-keys', { key: k.read })).json.data.find((x) => x.id === c.json.data.id);
  assert.ok(revoked.revoked_at);
}));

test('account and usage: read, validated update by an admin key', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  let r = await req(f.base, 'GET', '/v1/account', { key: k.read });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.display_name, k.name);
  assert.equal(r.json.data.email, null);
  assert.equal(r.json.data.status, 'active');
  assert.equal(typeof r.json.data.plan, 'string');
  isErr(await req(f.base, 'PATCH', '/v1/account', { key: k.write, body: { email: 'a@b.co' } }), 403, 'insufficient_scope');
  isErr(await req(f.base, 'PATCH', '/v1/account', { key: k.admin, body: { email: 'not-an-email', display_name: '', plan: 'pro' } }), 400, 'validation_error', ['email', 'display_name', 'plan']);
  r = await req(f.base, 'PATCH', '/v1/account', { key: k.admin, body: { email: 'ops@example.com', display_name: 'Ops team' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.email, 'ops@example.com');
  assert.equal(r.json.data.display_name, 'Ops team');
  assert.equal((await req(f.base, 'GET', '/v1/account', { key: k.read })).json.data.email, 'ops@example.com');
  const a = await asset(f.base, k.write, crypto.randomBytes(777));
  r = await req(f.base, 'GET', '/v1/usage', { key: k.read });
  assert.equal(r.json.data.total_assets, 1);
  assert.equal(r.json.data.total_bytes, 777);
  await req(f.base, 'DELETE', `/v1/assets/${a.id}`, { key: k.write });
  r = await req(f.base, 'GET', '/v1/usage', { key: k.read });
  assert.equal(r.json.data.total_assets, 0);
  assert.equal(r.json.data.total_bytes, 0);
}));

test('public_url and share_path: absolute URLs name how clients reach Cubby, not the request\'s host', async () => {
  const other = new Stack({ config: { public_url: 'https://storage.example.test/media/', share_path: '/share' } });
  await other.start();
  try {
    const f = other.fronts[0];
    const r = await req(f.base, 'POST', '/api/v1/admin/tenants', { key: other.adminKey, body: { name: uniq('pub') } });
    const c = await req(f.base, 'POST', '/v1/assets', { key: r.json.apiKey, body: { filename: 'a.bin', size_bytes: 5 } });
    assert.match(c.json.data.upload.url, /^https:\/\/storage\.example\.test\/media\/_internal\/upload\//);
    const s = await req(f.base, 'POST', '/v1/spaces', { key: r.json.apiKey, body: { name: 'x' } });
    assert.equal(s.json.data.share_url, `https://storage.example.test/media/share/${s.json.data.short_id}`);
  } finally {
    await other.stop();
  }
});
