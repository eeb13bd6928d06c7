// assets.test.mjs - the asset API (shared/seeds/asset-api.txt) through
// lighttpd and nginx: scopes on every route, validation errors with
// fields, single and multipart uploads end to end (re-sent, missing and
// expired parts, abort), listing and search, hard delete, the same object
// through /v1/assets and /api/v1/files, and isolation between accounts.
// assets.s3.test.mjs runs it again with the blobs in a bucket of a real S3
// server that checks signatures (CUBBY_TEST_BLOBS=s3): single PUTs and
// parts then go from this plain client straight to the bucket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, sleep, blobMode, S3_BUCKET } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());
const S3 = blobMode === 's3';
// In a bucket: is the object (or a multipart upload's parts) there?
const inBucket = (url) => stack.peer.curl('HEAD', new URL(url).pathname, ['-I']).status;
const uploadInBucket = (partUrl, uploadId) => stack.peer.curl('GET', `${new URL(partUrl).pathname}?uploadId=${encodeURIComponent(uploadId)}`).status;
// The whole file's SHA-256: at once when the bytes passed through Cubby,
// from processing when they went to a bucket or came in parts.
async function digestOf(base, key, id) {
  let d = null;
  for (let i = 0; i < 100 && d === null; i++) {
    d = (await req(base, 'GET', `/v1/assets/${id}`, { key })).json.data.sha256;
    if (d === null) await sleep(100);
  }
  return d;
}

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const dbPath = () => path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
const sql = (q) => spawnSync('sqlite3', [dbPath(), q], { encoding: 'utf8' }).stdout.trim();
const blobCount = (uuid) => sql(`SELECT count(*) FROM upload_parts WHERE object_id='${uuid}'`);
const uploadFile = (uuid, up) => path.join(stack.dirs.localstatedir, 'lib/cubby/blobs/uploads', `${uuid}-${up}`);
const MiB = 1024 * 1024;

function sub(label) {
  const master = Buffer.from(fs.readFileSync(path.join(stack.dirs.localstatedir, 'lib/cubby/master.key'), 'utf8').trim(), 'hex');
  return crypto.createHmac('sha256', master).update(label).digest();
}
const partSig = (id, up, n, exp) => crypto.createHmac('sha256', sub('cubby/part-url/v1')).update(`PART\n${id}\n${up}\n${n}\n${exp}`).digest('hex');
const uuidOf = (ext) => ext.slice(4).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const url = /^https?:/.test(p) ? p : base + p;
  const r = await fetch(url, { method, headers: h, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}
function isErr(r, status, code, fields) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.data, null, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  if (fields) assert.deepEqual(r.json.error.fields.map((x) => x.field).sort(), [...fields].sort(), r.text);
}
async function account(base) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: uniq('acct'), quotaBytes: 200 * MiB } });
  assert.equal(r.status, 201, r.text);
  const admin = r.json.apiKey;
  const keys = { admin, id: r.json.id };
  for (const s of ['read', 'write']) {
    const k = await req(base, 'POST', '/v1/api-keys', { key: admin, body: { name: `${s}-bot`, scopes: [s] } });
    assert.equal(k.status, 201, k.text);
    keys[s] = k.json.data.key;
  }
  return keys;
}
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), crypto.randomBytes(200)]);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

async function single(base, key, bytes, extra = {}) {
  const c = await req(base, 'POST', '/v1/assets', { key, body: { filename: 'photo.png', content_type: 'image/png', size_bytes: bytes.length, ...extra } });
  assert.equal(c.status, 201, c.text);
  const up = c.json.data.upload;
  const put = await req(base, up.method, up.url, { body: bytes, headers: up.headers });
  assert.equal(put.status, 200, put.text);
  const done = await req(base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key });
  assert.equal(done.status, 200, done.text);
  return done.json.data;
}

test('single PUT: create, upload, complete, read back byte-exact; the same object in the file API', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const c = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'clip.mov', type: 'video', content_type: 'image/png', size_bytes: PNG.length, tags: ['raw', 'drone'], attributes: { camera: 'x' } } });
  assert.equal(c.status, 201, c.text);
  const a = c.json.data.asset, up = c.json.data.upload;
  assert.match(a.id, /^ast_[0-9a-f]{32}$/);
  assert.equal(a.status, 'pending');
  assert.deepEqual(a.tags, ['raw', 'drone']);
  assert.equal(up.kind, 'single');
  assert.equal(up.method, 'PUT');
  assert.deepEqual(up.headers, { 'Content-Type': 'image/png' });
  // complete before the bytes: refused, nothing changes
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write }), 409, 'upload_incomplete');
  // a single PUT has no parts to mint or abort; a pending asset has no
  // bytes to download or process
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/parts`, { key: k.write, body: { upload_id: 'a'.repeat(32), part_number: 1 } }), 409, 'not_multipart');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/abort`, { key: k.write, body: { upload_id: 'a'.repeat(32) } }), 400, 'validation_error');
  isErr(await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key: k.read }), 409, 'asset_not_active');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/reprocess`, { key: k.write }), 409, 'asset_not_active');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: 'a'.repeat(32) } }), 400, 'validation_error');
  assert.equal((await req(f.base, 'PUT', up.url, { body: PNG, headers: up.headers })).status, 200);
  const done = await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.data.status, 'active');
  assert.equal(done.json.data.type, 'image', 'the bytes say image, whatever the client claimed');
  if (S3) assert.equal(await digestOf(f.base, k.read, a.id), sha(PNG), 'read back from the bucket');
  else assert.equal(done.json.data.sha256, sha(PNG));
  assert.equal(done.json.data.size_bytes, PNG.length);
  // a second complete is a no-op
  assert.equal((await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write })).status, 200);
  const g = await req(f.base, 'GET', `/v1/assets/${a.id}`, { key: k.read });
  assert.equal(g.status, 200);
  assert.equal(g.json.data.id, a.id);
  assert.equal(g.json.data.thumb_url, null);
  assert.deepEqual(g.json.data.attributes, { camera: 'x' });
  // a signed URL downloads the original without a key
  for (const bad of ['59', '604801', 'soon'])
    isErr(await req(f.base, 'GET', `/v1/assets/${a.id}/url?expires_in=${bad}`, { key: k.read }), 400, 'validation_error', ['expires_in']);
  const u = await req(f.base, 'GET', `/v1/assets/${a.id}/url?expires_in=120`, { key: k.read });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.data.expires_in, 120);
  const dl = await req(f.base, 'GET', u.json.data.url);
  assert.equal(dl.status, 200);
  assert.ok(dl.buf.equals(PNG));
  // the same 128 bits through the file API
  const file = await req(f.base, 'GET', `/api/v1/files/${uuidOf(a.id)}`, { key: k.read });
  assert.equal(file.status, 200, file.text);
  assert.equal(file.json.id, a.file_id);
  assert.equal(file.json.sizeBytes, PNG.length);
  // usage counts it
  const usage = (await req(f.base, 'GET', '/v1/usage', { key: k.read })).json.data;
  assert.deepEqual(usage, { total_assets: 1, total_bytes: PNG.length, managed_assets: 1, managed_bytes: PNG.length, byok_assets: 0, byok_bytes: 0 });
  // processing runs in the jobs worker: these bytes start like a PNG
  // and are not one, so it ends failed with the decoder's reason, and
  // the asset stays what it is (media.test.mjs has real images)
  let g2;
  for (let i = 0; i < 100 && (!g2 || g2.processing_status === 'pending'); i++) {
    await sleep(100);
    g2 = (await req(f.base, 'GET', `/v1/assets/${a.id}`, { key: k.read })).json.data;
  }
  assert.equal(g2.processing_status, 'failed');
  assert.match(g2.processing_error, /image/);
  assert.equal(g2.status, 'active');
  const rp = await req(f.base, 'POST', `/v1/assets/${a.id}/reprocess`, { key: k.write });
  assert.equal(rp.status, 202, rp.text);
  assert.equal(rp.json.data.processing_status, 'pending');
}));

test('create: validation errors name each bad field; nothing is reserved', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const post = (body) => req(f.base, 'POST', '/v1/assets', { key: k.write, body });
  isErr(await post({}), 400, 'validation_error', ['filename', 'size_bytes']);
  isErr(await post({ filename: 'a/b', size_bytes: -1, type: 'movie', content_type: 'nope', tags: 'x', attributes: [1] }), 400, 'validation_error',
    ['filename', 'size_bytes', 'type', 'content_type', 'tags', 'attributes']);
  isErr(await post({ filename: 'x.bin', size_bytes: 10, multipart: 'yes' }), 400, 'validation_error', ['multipart']);
  isErr(await post({ filename: 7, size_bytes: 10 }), 400, 'validation_error', ['filename']);
  isErr(await post({ filename: 'x.bin', size_bytes: 10 * MiB, part_size: 1024 }), 400, 'validation_error', ['part_size']);
  isErr(await post({ filename: 'x.bin', size_bytes: 6 * 1024 * 1024 * 1024 * 1024 }), 400, 'validation_error', ['size_bytes']);
  isErr(await post({ filename: 'x.bin', size_bytes: 10, tags: ['ok', ''] }), 400, 'validation_error', ['tags']);
  isErr(await req(f.base, 'POST', '/v1/assets', { key: k.write, body: '{"filename":' }), 400, 'validation_error');
  isErr(await req(f.base, 'POST', '/v1/assets', { key: k.write, body: 'x'.repeat(70000) }), 413, 'payload_too_large');
  // over quota (200 MiB): refused at create
  isErr(await post({ filename: 'big.bin', size_bytes: 300 * MiB }), 403, 'quota_exceeded');
  assert.equal(sql(`SELECT used_bytes FROM tenants WHERE id='${k.id}'`), '0');
}));

test('multipart: 3 parts, a re-sent part, a missing part, wrong etags, an expired URL, then a byte-exact object', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const bytes = crypto.randomBytes(2 * 5 * MiB + 12345);
  const c = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'clip.bin', size_bytes: bytes.length, multipart: true, part_size: 5 * MiB } });
  assert.equal(c.status, 201, c.text);
  const a = c.json.data.asset, up = c.json.data.upload;
  assert.equal(up.kind, 'multipart');
  assert.equal(up.part_size, 5 * MiB);
  assert.equal(up.part_count, 3);
  assert.match(up.upload_id, S3 ? /^\S{8,}$/ : /^[0-9a-f]{32}$/, 'Cubby\'s own, or the bucket\'s');
  const part = (n) => bytes.subarray((n - 1) * 5 * MiB, Math.min(n * 5 * MiB, bytes.length));
  const presign = (n, body = {}) => req(f.base, 'POST', `/v1/assets/${a.id}/parts`, { key: k.write, body: { upload_id: up.upload_id, part_number: n, ...body } });
  isErr(await presign(4), 400, 'validation_error', ['part_number']);
  isErr(await presign(0), 400, 'validation_error', ['part_number']);
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/parts`, { key: k.write, body: { part_number: 1 } }), 400, 'validation_error', ['upload_id']);
  isErr(await presign(1, { upload_id: 'f'.repeat(32) }), 409, 'upload_not_in_progress');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id } }), 400, 'incomplete_upload');
  const etags = {};
  for (const n of [1, 2]) {
    const p = await presign(n);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.data.size_bytes, part(n).length);
    if (S3) assert.ok(p.json.data.url.startsWith(`${stack.peer.endpoint}/${S3_BUCKET}/cubby/`), 'the bucket\'s URL');
    // part 2 asks for its bytes to be checked (S3's header; Cubby's
    // own part route checks it, a bucket may)
    const headers = n === 2 && !S3 ? { 'x-amz-checksum-sha256': crypto.createHash('sha256').update(part(n)).digest('base64') } : {};
    const r = await req(f.base, 'PUT', p.json.data.url, { body: part(n), headers });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    if (!S3) assert.equal(r.json.data.etag, r.headers.get('etag'));
    etags[n] = r.headers.get('etag');
  }
  const p3 = await presign(3);
  const uuid = uuidOf(a.id), past = Date.now() - 1000;
  if (S3) {
    // a wrong-sized part: the bucket takes it; completion refuses it
    assert.equal((await req(f.base, 'PUT', p3.json.data.url, { body: part(2) })).status, 200);
    const wrongSize = await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id } });
    assert.equal(wrongSize.status, 400, wrongSize.text);
    assert.match(wrongSize.json.error.code, /^(part_mismatch|incomplete_upload)$/, wrongSize.text);
    // a tampered and a foreign-part URL: the bucket's 403
    assert.equal((await req(f.base, 'PUT', p3.json.data.url.replace('partNumber=3', 'partNumber=2'), { body: part(2) })).status, 403);
    const sig = new URL(p3.json.data.url).searchParams.get('X-Amz-Signature');
    assert.equal((await req(f.base, 'PUT', p3.json.data.url.replace(sig, sig.replace(/^./, sig[0] === '0' ? '1' : '0')), { body: part(3) })).status, 403);
  } else {
    // a wrong-sized part is refused
    isErr(await req(f.base, 'PUT', p3.json.data.url, { body: part(2) }), 400, 'validation_error');
    // a checksum that does not match: refused, and the part is not stored
    const bad = crypto.createHash('sha256').update('other bytes').digest('base64');
    isErr(await req(f.base, 'PUT', p3.json.data.url, { body: part(3), headers: { 'x-amz-checksum-sha256': bad } }), 400, 'checksum_mismatch');
    isErr(await req(f.base, 'PUT', p3.json.data.url, { body: part(3), headers: { 'x-amz-checksum-sha256': 'nope' } }), 400, 'validation_error');
    // complete with part 3 missing
    isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id } }), 400, 'incomplete_upload');
    // an expired, a tampered and a foreign-part URL
    isErr(await req(f.base, 'PUT', `/v1/uploads/${a.id}/parts/3?upload_id=${up.upload_id}&expires=${past}&signature=${partSig(uuid, up.upload_id, 3, past)}`, { body: part(3) }), 403, 'upload_expired');
    isErr(await req(f.base, 'PUT', p3.json.data.url.replace('/parts/3', '/parts/2'), { body: part(2) }), 403, 'invalid_signature');
    isErr(await req(f.base, 'PUT', p3.json.data.url.replace(/signature=([0-9a-f])/, (m, c) => 'signature=' + (c === '0' ? '1' : '0')), { body: part(3) }), 403, 'invalid_signature');
  }
  // part 1 re-sent with other bytes, then again with the right ones
  const p1 = await presign(1);
  const wrong = crypto.randomBytes(5 * MiB);
  assert.equal((await req(f.base, 'PUT', p1.json.data.url, { body: wrong })).status, 200);
  if (!S3) assert.equal(blobCount(uuid), '2');
  const r3 = await req(f.base, 'PUT', p3.json.data.url, { body: part(3) });
  assert.equal(r3.status, 200);
  etags[3] = r3.headers.get('etag');
  const parts = [1, 2, 3].map((n) => ({ part_number: n, etag: etags[n] }));
  // the client's etag for part 1 names the first bytes: refused
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id, parts } }), 400, 'part_mismatch');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id, parts: parts.slice(0, 2) } }), 400, 'validation_error');
  const r1 = await req(f.base, 'PUT', (await presign(1)).json.data.url, { body: part(1) });
  assert.equal(r1.status, 200);
  parts[0].etag = r1.headers.get('etag');
  const done = await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id, parts } });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.data.status, 'active');
  assert.equal(done.json.data.size_bytes, bytes.length);
  // the whole file's SHA-256 comes from processing, off the request
  assert.equal(await digestOf(f.base, k.read, a.id), sha(bytes));
  assert.equal(blobCount(uuid), '0', 'part rows are removed once complete');
  if (!S3) assert.ok(!fs.existsSync(uploadFile(uuid, up.upload_id)), 'the upload file became the blob');
  const dl = await req(f.base, 'GET', (await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key: k.read })).json.data.url);
  assert.ok(dl.buf.equals(bytes), 'byte-exact');
  // the upload is over: parts and complete are refused
  isErr(await presign(1), 409, 'upload_not_in_progress');
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id } }), 409, 'upload_already_completed');
  assert.equal(sql(`SELECT used_bytes FROM tenants WHERE id='${k.id}'`), String(bytes.length));
}));

test('multipart: abort removes parts and the reservation; abandoned uploads expire', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const size = 120 * MiB;
  const c = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'big.bin', size_bytes: size } });
  assert.equal(c.status, 201, c.text);
  const a = c.json.data.asset, up = c.json.data.upload;
  assert.equal(up.kind, 'multipart', 'above 100 MiB is multipart');
  assert.equal(up.part_size, 8 * MiB);
  assert.equal(up.part_count, 15);
  assert.equal(sql(`SELECT used_bytes FROM tenants WHERE id='${k.id}'`), String(size), 'reserved at create');
  const p = await req(f.base, 'POST', `/v1/assets/${a.id}/parts`, { key: k.write, body: { upload_id: up.upload_id, part_number: 1 } });
  assert.equal((await req(f.base, 'PUT', p.json.data.url, { body: crypto.randomBytes(8 * MiB) })).status, 200);
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/abort`, { key: k.write, body: {} }), 400, 'validation_error', ['upload_id']);
  isErr(await req(f.base, 'POST', `/v1/assets/${a.id}/abort`, { key: k.read, body: { upload_id: up.upload_id } }), 403, 'insufficient_scope');
  const ab = await req(f.base, 'POST', `/v1/assets/${a.id}/abort`, { key: k.write, body: { upload_id: up.upload_id } });
  assert.equal(ab.status, 200, ab.text);
  assert.equal(blobCount(uuidOf(a.id)), '0');
  if (S3) assert.equal(uploadInBucket(p.json.data.url, up.upload_id), 404, 'the bucket forgot the upload');
  else assert.ok(!fs.existsSync(uploadFile(uuidOf(a.id), up.upload_id)), 'the parts are gone');
  assert.equal(sql(`SELECT used_bytes FROM tenants WHERE id='${k.id}'`), '0');
  assert.equal((await req(f.base, 'GET', `/v1/assets/${a.id}`, { key: k.read })).json.data.status, 'failed');
  assert.equal((await req(f.base, 'POST', `/v1/assets/${a.id}/abort`, { key: k.write, body: { upload_id: up.upload_id } })).status, 200, 'idempotent');
  if (S3) assert.equal((await req(f.base, 'PUT', p.json.data.url, { body: crypto.randomBytes(8 * MiB) })).status, 404, 'no such upload in the bucket');
  else isErr(await req(f.base, 'PUT', p.json.data.url, { body: crypto.randomBytes(8 * MiB) }), 409, 'upload_not_in_progress');
  // an abandoned upload: the jobs worker fails it and removes its parts
  const c2 = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'idle.bin', size_bytes: 6 * MiB, multipart: true } });
  const a2 = c2.json.data.asset, up2 = c2.json.data.upload;
  assert.equal(up2.part_count, 1);
  const p2 = await req(f.base, 'POST', `/v1/assets/${a2.id}/parts`, { key: k.write, body: { upload_id: up2.upload_id, part_number: 1 } });
  assert.equal((await req(f.base, 'PUT', p2.json.data.url, { body: crypto.randomBytes(6 * MiB) })).status, 200);
  if (S3) assert.equal(uploadInBucket(p2.json.data.url, up2.upload_id), 200);
  else assert.ok(fs.existsSync(uploadFile(uuidOf(a2.id), up2.upload_id)));
  sql(`UPDATE objects SET upload_expires_at = 1 WHERE id = '${uuidOf(a2.id)}'`);
  let status;
  for (let i = 0; i < 100 && status !== 'failed'; i++) {
    await sleep(100);
    status = (await req(f.base, 'GET', `/v1/assets/${a2.id}`, { key: k.read })).json.data.status;
  }
  assert.equal(status, 'failed');
  for (let i = 0; i < 100 && blobCount(uuidOf(a2.id)) !== '0'; i++) await sleep(100);
  assert.equal(blobCount(uuidOf(a2.id)), '0');
  if (S3) {
    let left = 200;
    for (let i = 0; i < 100 && left !== 404; i++, await sleep(100)) left = uploadInBucket(p2.json.data.url, up2.upload_id);
    assert.equal(left, 404, 'the sweep aborted the bucket\'s upload');
  } else {
    assert.ok(!fs.existsSync(uploadFile(uuidOf(a2.id), up2.upload_id)), 'the sweep removed the upload file');
  }
  assert.equal(sql(`SELECT used_bytes FROM tenants WHERE id='${k.id}'`), '0');
}));

test('list: pages, filters, search by filename and tag, bad parameters', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const ids = [];
  for (let i = 0; i < 5; i++)
    ids.push((await single(f.base, k.write, PNG, { filename: `holiday-${i}.png`, tags: i % 2 ? ['beach'] : ['mountain'] })).id);
  const pending = (await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'later.mp4', content_type: 'video/mp4', size_bytes: 10 } })).json.data.asset.id;
  const list = (q) => req(f.base, 'GET', `/v1/assets${q}`, { key: k.read });
  let r = await list('');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data.map((x) => x.id), [pending, ...ids.reverse()]);
  assert.equal(r.json.meta.next_cursor, null);
  // pages of 2 cover everything once
  const seen = [];
  let cursor = '';
  for (;;) {
    r = await list(`?limit=2${cursor ? '&cursor=' + cursor : ''}`);
    seen.push(...r.json.data.map((x) => x.id));
    if (!r.json.meta.next_cursor) break;
    cursor = r.json.meta.next_cursor;
  }
  assert.equal(seen.length, 6);
  assert.equal(new Set(seen).size, 6);
  assert.deepEqual((await list('?status=pending')).json.data.map((x) => x.id), [pending]);
  assert.equal((await list('?status=active')).json.data.length, 5);
  assert.equal((await list('?status=archived')).json.data.length, 0);
  assert.deepEqual((await list('?type=video')).json.data.map((x) => x.id), [pending]);
  assert.equal((await list('?type=image')).json.data.length, 5);
  assert.equal((await list('?search=beach')).json.data.length, 2);
  assert.equal((await list('?search=HOLIDAY-3')).json.data.length, 1, 'case-insensitive');
  assert.equal((await list('?search=holi')).json.data.length, 5, 'words match by prefix');
  assert.equal((await list('?search=holiday%203')).json.data.length, 1, 'words in order');
  assert.equal((await list('?search=liday')).json.data.length, 0, 'not inside a word');
  assert.equal((await list('?search=-')).json.data.length, 5, 'no letters or digits: a substring match');
  // a search pages by its own cursor
  const found = [];
  let sc = '';
  for (;;) {
    const p = await list(`?search=holiday&limit=2${sc ? '&cursor=' + sc : ''}`);
    assert.equal(p.status, 200, p.text);
    found.push(...p.json.data.map((x) => x.id));
    if (!p.json.meta.next_cursor) break;
    sc = p.json.meta.next_cursor;
  }
  assert.deepEqual(found, ids.slice(), 'newest first, each once');
  isErr(await list(`?limit=2&cursor=${sc || (await list('?search=holiday&limit=2')).json.meta.next_cursor}`), 400, 'validation_error', ['cursor']);
  assert.equal((await list('?search=nothing-like-it')).json.data.length, 0);
  assert.equal((await list(`?modified_after=${encodeURIComponent(new Date(Date.now() + 60000).toISOString())}`)).json.data.length, 0);
  assert.equal((await list('?modified_after=2020-01-01T00:00:00Z')).json.data.length, 6);
  for (const [q, field] of [['?limit=0', 'limit'], ['?limit=x', 'limit'], ['?status=gone', 'status'], ['?type=movie', 'type'],
    ['?cursor=%%%', null], ['?cursor=bm9wZQ', 'cursor'], ['?modified_after=yesterday', 'modified_after']]) {
    const e = await list(q);
    if (field) isErr(e, 400, 'validation_error', [field]);
    else assert.equal(e.status, 400);
  }
}));

test('patch and delete: tags, filename, attributes; a hard delete is idempotent and frees everything', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const a = await single(f.base, k.write, PNG);
  const patch = (body, key = k.write) => req(f.base, 'PATCH', `/v1/assets/${a.id}`, { key, body });
  let r = await patch({ tags: ['raw', 'drone'], filename: 'renamed.png', attributes: { take: 3 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.tags, ['raw', 'drone']);
  assert.equal(r.json.data.filename, 'renamed.png');
  assert.deepEqual(r.json.data.attributes, { take: 3 });
  assert.equal((await req(f.base, 'GET', '/v1/assets?search=drone', { key: k.read })).json.data.length, 1, 'search sees new tags');
  isErr(await patch({ tags: 'x', filename: '', status: 'archived' }), 400, 'validation_error', ['tags', 'filename', 'status']);
  isErr(await patch({ tags: [] }, k.read), 403, 'insufficient_scope');
  const blob = sql(`SELECT blob_key FROM objects WHERE id='${uuidOf(a.id)}'`);
  assert.ok(blob);
  const blobFile = path.join(stack.dirs.localstatedir, 'lib/cubby/blobs', blob.slice(0, 2), blob.slice(2, 4), blob);
  const signed = S3 && (await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key: k.read })).json.data.url;
  const exists = () => (S3 ? inBucket(signed) === 200 : fs.existsSync(blobFile));
  assert.ok(exists());
  r = await req(f.base, 'DELETE', `/v1/assets/${a.id}`, { key: k.write });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { id: a.id, deleted: true });
  assert.ok(!exists(), 'the bytes are gone');
  assert.equal((await req(f.base, 'DELETE', `/v1/assets/${a.id}`, { key: k.write })).status, 200, 'idempotent');
  isErr(await req(f.base, 'GET', `/v1/assets/${a.id}`, { key: k.read }), 404, 'not_found');
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${uuidOf(a.id)}`, { key: k.read })).status, 404);
  assert.equal(sql(`SELECT used_bytes || ' ' || file_count || ' ' || stored_bytes FROM tenants WHERE id='${k.id}'`), '0 0 0');
  assert.equal((await req(f.base, 'GET', '/v1/assets?search=drone', { key: k.read })).json.data.length, 0);
  isErr(await req(f.base, 'DELETE', '/v1/assets/ast_' + 'a'.repeat(32), { key: k.write }), 404, 'not_found');
}));

test('scopes from the route table: no key 401, wrong key 401, read key on write and admin routes 403', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const a = await single(f.base, k.write, PNG);
  const id = a.id, sp = 'spc_' + '0'.repeat(32);
  const routes = [
    ['POST', '/v1/assets', 'write'], ['GET', '/v1/assets', 'read'], ['GET', `/v1/assets/${id}`, 'read'],
    ['PATCH', `/v1/assets/${id}`, 'write'], ['DELETE', `/v1/assets/${id}`, 'write'], ['GET', `/v1/assets/${id}/url`, 'read'],
    ['POST', `/v1/assets/${id}/parts`, 'write'], ['POST', `/v1/assets/${id}/complete`, 'write'], ['POST', `/v1/assets/${id}/abort`, 'write'],
    ['POST', `/v1/assets/${id}/reprocess`, 'write'], ['GET', `/v1/assets/${id}/spaces`, 'read'],
    ['POST', '/v1/spaces', 'admin'], ['GET', '/v1/spaces', 'read'], ['GET', `/v1/spaces/${sp}`, 'read'], ['PATCH', `/v1/spaces/${sp}`, 'admin'],
    ['DELETE', `/v1/spaces/${sp}`, 'admin'], ['POST', `/v1/spaces/${sp}/publications`, 'write'], ['GET', `/v1/spaces/${sp}/publications`, 'read'],
    ['DELETE', `/v1/spaces/${sp}/publications/${id}`, 'write'],
    ['GET', '/v1/api-keys', 'read'], ['POST', '/v1/api-keys', 'admin'], ['DELETE', '/v1/api-keys/key_x', 'admin'],
    ['GET', '/v1/account', 'read'], ['PATCH', '/v1/account', 'admin'], ['GET', '/v1/usage', 'read'],
  ];
  const rank = { read: 1, write: 2, admin: 3 };
  for (const [m, p, need] of routes) {
    const body = ['POST', 'PATCH'].includes(m) ? {} : undefined;
    isErr(await req(f.base, m, p, { body }), 401, 'unauthorized');
    isErr(await req(f.base, m, p, { body, key: 'sk_live_' + 'f'.repeat(64) }), 401, 'unauthorized');
    for (const have of ['read', 'write']) {
      const r = await req(f.base, m, p, { body, key: k[have] });
      if (rank[have] < rank[need]) isErr(r, 403, 'insufficient_scope');
      else assert.notEqual(r.status, 403, `${have} key on ${m} ${p}: ${r.text}`);
    }
  }
}));

test('isolation: account B gets 404 on every id of account A', (t) => eachFront(t, stack, async (f) => {
  const A = await account(f.base), B = await account(f.base);
  const a = await single(f.base, A.write, PNG);
  const s = (await req(f.base, 'POST', '/v1/spaces', { key: A.admin, body: { name: 'A space' } })).json.data;
  assert.equal((await req(f.base, 'POST', `/v1/spaces/${s.id}/publications`, { key: A.write, body: { asset_ids: [a.id] } })).status, 200);
  const keyA = (await req(f.base, 'GET', '/v1/api-keys', { key: A.admin })).json.data[1].id;
  for (const [m, p, body] of [
    ['GET', `/v1/assets/${a.id}`], ['PATCH', `/v1/assets/${a.id}`, { tags: ['x'] }], ['DELETE', `/v1/assets/${a.id}`],
    ['GET', `/v1/assets/${a.id}/url`], ['POST', `/v1/assets/${a.id}/parts`, { upload_id: 'a'.repeat(32), part_number: 1 }],
    ['POST', `/v1/assets/${a.id}/complete`, {}], ['POST', `/v1/assets/${a.id}/abort`, { upload_id: 'a'.repeat(32) }],
    ['POST', `/v1/assets/${a.id}/reprocess`], ['GET', `/v1/assets/${a.id}/spaces`],
    ['GET', `/v1/spaces/${s.id}`], ['PATCH', `/v1/spaces/${s.id}`, { name: 'mine' }], ['DELETE', `/v1/spaces/${s.id}`],
    ['GET', `/v1/spaces/${s.id}/publications`], ['POST', `/v1/spaces/${s.id}/publications`, { asset_ids: [a.id] }],
    ['DELETE', `/v1/spaces/${s.id}/publications/${a.id}`], ['DELETE', `/v1/api-keys/${keyA}`],
  ])
    isErr(await req(f.base, m, p, { key: B.admin, body }), 404, 'not_found');
  // B publishing A's asset into B's own space: a per-asset not_found
  const sb = (await req(f.base, 'POST', '/v1/spaces', { key: B.admin, body: { name: 'B space' } })).json.data;
  const pub = await req(f.base, 'POST', `/v1/spaces/${sb.id}/publications`, { key: B.write, body: { asset_ids: [a.id] } });
  assert.equal(pub.json.data[0].success, false);
  assert.equal(pub.json.data[0].error.code, 'not_found');
  assert.equal((await req(f.base, 'GET', '/v1/assets', { key: B.read })).json.data.length, 0);
  assert.equal((await req(f.base, 'GET', '/v1/assets?search=photo', { key: B.read })).json.data.length, 0);
  assert.equal((await req(f.base, 'GET', '/v1/assets?search=photo', { key: A.read })).json.data.length, 1);
  // and A still has everything
  assert.equal((await req(f.base, 'GET', `/v1/assets/${a.id}`, { key: A.read })).status, 200);
  assert.equal((await req(f.base, 'GET', `/v1/spaces/${s.id}`, { key: A.read })).json.data.asset_count, 1);
  // the key A listed still works
  assert.equal((await req(f.base, 'GET', '/v1/usage', { key: A.read })).status, 200);
}));

test('multipart: racing attempts at one part leave one of them whole, never a mix', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const size = 6 * MiB;
  const c = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'race.bin', size_bytes: size, multipart: true } });
  const a = c.json.data.asset, up = c.json.data.upload;
  const x = crypto.randomBytes(size), y = crypto.randomBytes(size);
  const urls = await Promise.all([1, 2].map(async () =>
    (await req(f.base, 'POST', `/v1/assets/${a.id}/parts`, { key: k.write, body: { upload_id: up.upload_id, part_number: 1 } })).json.data.url));
  const rs = await Promise.all([req(f.base, 'PUT', urls[0], { body: x }), req(f.base, 'PUT', urls[1], { body: y })]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  const done = await req(f.base, 'POST', `/v1/assets/${a.id}/complete`, { key: k.write, body: { upload_id: up.upload_id } });
  assert.equal(done.status, 200, done.text);
  const got = (await req(f.base, 'GET', (await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key: k.read })).json.data.url)).buf;
  assert.ok(got.equals(x) || got.equals(y), 'one attempt, whole');
  assert.equal(await digestOf(f.base, k.read, a.id), sha(got));
}));
