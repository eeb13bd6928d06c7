// files.test.mjs - uploads and files of the file API through lighttpd and
// nginx: presigned uploads (bad, expired, tampered and reused URLs), byte-
// exact round trips, ranges and ETags, signed download URLs, quotas under
// parallel uploads, workspace deletion, isolation, expiry of abandoned
// uploads and a worker killed mid-upload. files.s3.test.mjs runs it again
// with the blobs in a bucket of a real S3 server (CUBBY_TEST_BLOBS=s3): the
// presigned PUTs then go from this plain client straight to the bucket,
// which checks their signatures, and downloads are the bucket's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, sleep, blobMode, S3_BUCKET } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());
const S3 = blobMode === 's3';
const onlyFs = S3 ? 'the bytes go straight to the bucket here, never through a worker or the data directory (s3.test.mjs)' : false;

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const dbPath = () => path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
const sql = (q) => spawnSync('sqlite3', [dbPath(), q], { encoding: 'utf8' }).stdout.trim();

// The server's signing, from the master key, to craft URLs with past expiry.
function sub(label) {
  const master = Buffer.from(fs.readFileSync(path.join(stack.dirs.localstatedir, 'lib/cubby/master.key'), 'utf8').trim(), 'hex');
  return crypto.createHmac('sha256', master).update(label).digest();
}
const uploadSig = (t, f, exp) => crypto.createHmac('sha256', sub('cubby/upload-url/v1')).update(`PUT\n${t}\n${f}\n${exp}`).digest('hex');
const downloadTok = (f, exp) => crypto.createHmac('sha256', sub('cubby/download-url/v1')).update(`GET\n${f}\n${exp}`).digest('hex');

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
function isErr(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
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
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: uniq('ft'), ...body } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
async function requestUpload(base, key, body) {
  return req(base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/jpeg', fileName: 'receipt-2026.jpg', ...body } });
}
async function upload(base, key, bytes, body = {}, type = 'image/jpeg') {
  const r = await requestUpload(base, key, { fileType: type, ...body });
  assert.equal(r.status, 200, r.text);
  const put = await req(base, 'PUT', r.json.presignedUrl, { body: bytes, headers: { 'Content-Type': type } });
  if (!S3 || put.status !== 200) return { reqr: r, put };
  // The bucket answered the PUT; the file is there once the jobs worker
  // has seen its bytes arrive (and processed them).
  return { reqr: r, put: { ...put, json: await arrived(base, key, r.json.fileId) } };
}
async function arrived(base, key, id) {
  for (const end = Date.now() + 15000; Date.now() < end; await sleep(100)) {
    const g = await req(base, 'GET', `/api/v1/files/${id}`, { key });
    if (g.status === 200 && g.json.processingStatus !== 'pending') return g.json;
  }
  assert.fail(`file ${id} did not arrive from the bucket`);
}
// Files listed until n are there (arrivals in a bucket are seen about once a second).
async function listedUntil(base, key, n) {
  let r;
  for (const end = Date.now() + 15000; Date.now() < end; await sleep(200)) {
    r = await req(base, 'GET', '/api/v1/files', { key });
    if (r.json.total >= n) break;
  }
  return r;
}
const quota = async (base, key) => (await req(base, 'GET', '/api/v1/tenant/quota', { key })).json;
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

test('upload request: the documented response', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base, { allowedFileTypes: ['image/jpeg', 'image/png', 'application/pdf'] });
  const r = await requestUpload(f.base, tn.apiKey, { fileSizeBytes: 245000, context: 'expense-receipts', tags: { department: 'finance' } });
  assert.equal(r.status, 200);
  assert.match(r.json.fileId, /^[0-9a-f-]{36}$/);
  if (S3) {
    const u = new URL(r.json.presignedUrl);
    assert.equal(u.origin, stack.peer.endpoint, 'the bucket\'s URL');
    assert.ok(u.pathname.startsWith(`/${S3_BUCKET}/cubby/`), u.pathname);
    assert.equal(u.searchParams.get('X-Amz-Expires'), '900');
    assert.equal(u.searchParams.get('X-Amz-SignedHeaders'), 'content-type;host');
    assert.match(u.searchParams.get('X-Amz-Signature'), /^[0-9a-f]{64}$/);
  } else {
    assert.match(r.json.presignedUrl, new RegExp(`^/_internal/upload/tenants/${tn.id}/files/${r.json.fileId}/receipt-2026\\.jpg\\?expires=\\d+&signature=[0-9a-f]{64}$`));
  }
  const exp = Date.parse(r.json.expiresAt);
  assert.ok(Math.abs(exp - Date.now() - 15 * 60 * 1000) < 60000, 'expires in 15 minutes');
  assert.deepEqual(r.json.uploadMetadata, { maxSizeBytes: 104857600, allowedTypes: ['image/jpeg', 'image/png', 'application/pdf'] });
  // a declared size is reserved at once
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 245000);
}));

test('upload request: validation and documented errors', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base, { allowedFileTypes: ['image/png'] });
  const k = tn.apiKey;
  isErr(await requestUpload(f.base, k, { fileType: 'image/tiff' }), 400, 'INVALID_FILE_TYPE');
  isErr(await requestUpload(f.base, k, { fileType: 'image/jpeg' }), 400, 'INVALID_FILE_TYPE');   // not allowed for this tenant
  for (const fileName of ['', 'a'.repeat(256), 'a/b.png', 'x\u0001.png', 'semi"colon.png', '../up.png', 'pct%2F.png'])
    isErr(await requestUpload(f.base, k, { fileType: 'image/png', fileName }), 400, 'VALIDATION_ERROR');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', fileSizeBytes: 104857601 }), 400, 'FILE_TOO_LARGE');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', fileSizeBytes: -1 }), 400, 'VALIDATION_ERROR');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', context: 'c'.repeat(101) }), 400, 'VALIDATION_ERROR');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', tags: { a: 1 } }), 400, 'VALIDATION_ERROR');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', webhookUrl: 'ftp://x' }), 400, 'VALIDATION_ERROR');
  isErr(await requestUpload(f.base, k, { fileType: 'image/png', workspaceId: '00000000-0000-4000-8000-000000000000' }), 404, 'NOT_FOUND');
  isErr(await req(f.base, 'POST', '/api/v1/upload/request', { key: k, body: { fileName: 'a.png' } }), 400, 'VALIDATION_ERROR');
  isErr(await req(f.base, 'POST', '/api/v1/upload/request', { body: { fileType: 'image/png', fileName: 'a.png' } }), 401, 'UNAUTHORIZED');
  assert.equal((await quota(f.base, k)).usedBytes, 0, 'nothing reserved by refused requests');
}));

test('byte-exact round trips: 0 bytes, 1 byte, 50 MiB', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  for (const bytes of [Buffer.alloc(0), Buffer.from([0x42]), crypto.randomBytes(50 * 1024 * 1024)]) {
    // fileSizeBytes is positive (Storage Brain's schema): an empty file says none
    const { reqr, put } = await upload(f.base, tn.apiKey, bytes, bytes.length ? { fileSizeBytes: bytes.length } : {});
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.id, reqr.json.fileId);
    assert.equal(put.json.sizeBytes, bytes.length);
    assert.equal(put.json.processingStatus, 'completed');
    const d = await req(f.base, 'GET', `/api/v1/files/${put.json.id}/download`, { key: tn.apiKey });
    assert.equal(d.status, 200);
    assert.equal(d.buf.length, bytes.length);
    assert.equal(sha(d.buf), sha(bytes), 'byte-exact');
    // (the bucket's own ETag when the bucket serves it)
    assert.equal(d.headers.get('etag'), S3 ? `"${crypto.createHash('md5').update(bytes).digest('hex')}"` : `"${sha(bytes)}"`);
    assert.equal(d.headers.get('content-type'), 'image/jpeg');
    assert.equal(d.headers.get('content-disposition'), 'attachment; filename="receipt-2026.jpg"');
  }
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 50 * 1024 * 1024 + 1);
}));

test('files: get, list with filters and keyset cursor, soft delete releases quota', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const ws = (await req(f.base, 'POST', '/api/v1/workspaces', { key: tn.apiKey, body: { name: 'W', slug: 'w' } })).json;
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const { put } = await upload(f.base, tn.apiKey, Buffer.from(`file ${i}`), { context: i % 2 ? 'odd' : 'even', tags: { n: String(i) }, workspaceId: i === 4 ? ws.id : undefined });
    ids.push(put.json.id);
  }
  let r = await req(f.base, 'GET', `/api/v1/files/${ids[4]}`, { key: tn.apiKey });
  assert.equal(r.status, 200);
  assert.equal(r.json.url, `/api/v1/files/${ids[4]}/download`);
  assert.equal(r.json.originalName, 'receipt-2026.jpg');
  assert.equal(r.json.fileType, 'image/jpeg');
  assert.equal(r.json.sizeBytes, 6);
  assert.equal(r.json.context, 'even');
  assert.deepEqual(r.json.tags, { n: '4' });
  assert.equal(r.json.metadata, null);
  assert.equal(r.json.workspaceId, ws.id);
  assert.match(r.json.createdAt, /Z$/);
  r = await req(f.base, 'GET', '/api/v1/files', { key: tn.apiKey });
  assert.equal(r.json.total, 5);
  assert.deepEqual(r.json.files.map((x) => x.id), [...ids].reverse(), 'newest first');
  assert.equal(r.json.nextCursor, null);
  // pages of 2 follow the cursor to the end
  const seen = [];
  let cursor;
  do {
    r = await req(f.base, 'GET', `/api/v1/files?limit=2${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`, { key: tn.apiKey });
    assert.equal(r.json.total, 5);
    seen.push(...r.json.files.map((x) => x.id));
    cursor = r.json.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, [...ids].reverse());
  assert.equal((await req(f.base, 'GET', '/api/v1/files?context=odd', { key: tn.apiKey })).json.total, 2);
  assert.equal((await req(f.base, 'GET', `/api/v1/files?workspaceId=${ws.id}`, { key: tn.apiKey })).json.total, 1);
  assert.equal((await req(f.base, 'GET', '/api/v1/files?fileType=image/png', { key: tn.apiKey })).json.total, 0);
  for (const q of ['limit=0', 'limit=101', 'limit=x', 'cursor=@@@', 'cursor=' + Buffer.from('{"c":"x"}').toString('base64')])
    isErr(await req(f.base, 'GET', `/api/v1/files?${q}`, { key: tn.apiKey }), 400, 'VALIDATION_ERROR');
  const before = (await quota(f.base, tn.apiKey)).usedBytes;
  r = await req(f.base, 'DELETE', `/api/v1/files/${ids[0]}`, { key: tn.apiKey });
  assert.deepEqual(r.json, { success: true });
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, before - 6);
  isErr(await req(f.base, 'GET', `/api/v1/files/${ids[0]}`, { key: tn.apiKey }), 404, 'FILE_NOT_FOUND');
  isErr(await req(f.base, 'DELETE', `/api/v1/files/${ids[0]}`, { key: tn.apiKey }), 404, 'FILE_NOT_FOUND');
  isErr(await req(f.base, 'GET', `/api/v1/files/${ids[0]}/download`, { key: tn.apiKey }), 404, 'FILE_NOT_FOUND');
  assert.equal((await req(f.base, 'GET', '/api/v1/files', { key: tn.apiKey })).json.total, 4);
  // deleting the workspace soft-deletes its file and releases it at both levels
  r = await req(f.base, 'DELETE', `/api/v1/workspaces/${ws.id}`, { key: tn.apiKey });
  assert.equal(r.status, 200);
  isErr(await req(f.base, 'GET', `/api/v1/files/${ids[4]}`, { key: tn.apiKey }), 404, 'FILE_NOT_FOUND');
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, before - 12);
}));

test('presigned PUT: tampered, expired, reused, wrong type or size: refused, nothing changes', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const body = Buffer.from('0123456789');
  const r = await requestUpload(f.base, tn.apiKey, { fileSizeBytes: 10 });
  const url = r.json.presignedUrl;
  const put = (u, b = body, type = 'image/jpeg') => req(f.base, 'PUT', u, { body: b, headers: { 'Content-Type': type } });
  if (S3) {
    // the bucket checks the signature: each change is its 403
    const u = new URL(url);
    const flip = (name) => { const x = new URL(url); const v = x.searchParams.get(name); x.searchParams.set(name, v.replace(/^./, v[0] === '0' ? '1' : '0')); return x.href; };
    for (const bad of [flip('X-Amz-Signature'), url.replace(/X-Amz-Expires=900/, 'X-Amz-Expires=3600'),
      url.replace(r.json.fileId, '00000000-0000-4000-8000-000000000000')]) {
      const x = await put(bad);
      assert.equal(x.status, 403, `${bad}: ${x.text}`);
      assert.match(x.text, /<Code>(SignatureDoesNotMatch|AccessDenied)<\/Code>/);
    }
    // no signature at all: refused (Swift's s3api says 400, AWS 403)
    const anon = await put(u.origin + u.pathname);
    assert.ok(anon.status >= 400 && anon.status < 500, `unsigned: ${anon.status}`);
    assert.equal((await put(url, body, 'image/png')).status, 403, 'the signed Content-Type holds');
    // too few bytes: the bucket takes them, Cubby does not
    assert.equal((await put(url, Buffer.from('short'))).status, 200);
    await sleep(2500);
    assert.equal((await req(f.base, 'GET', '/api/v1/files', { key: tn.apiKey })).json.total, 0, 'nothing completed');
    assert.equal(sql(`SELECT state FROM objects WHERE id='${r.json.fileId}'`), 'pending');
    // the right bytes, sent again to the same URL, are
    assert.equal((await put(url)).status, 200);
    assert.equal((await arrived(f.base, tn.apiKey, r.json.fileId)).sizeBytes, 10);
    assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 10);
    assert.equal((await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}/download`, { key: tn.apiKey })).text, '0123456789');
    return;
  }
  isErr(await put(url.replace(/signature=([0-9a-f])/, (m, c) => 'signature=' + (c === '0' ? '1' : '0'))), 403, 'INVALID_SIGNATURE');
  isErr(await put(url.replace(/expires=(\d+)/, (m, e) => `expires=${Number(e) + 1000}`)), 403, 'INVALID_SIGNATURE');
  isErr(await put(url.replace(tn.id, '00000000-0000-4000-8000-000000000000')), 403, 'INVALID_SIGNATURE');
  isErr(await put(url.split('?')[0]), 403, 'INVALID_SIGNATURE');
  const past = Date.now() - 1000;
  isErr(await put(`/_internal/upload/tenants/${tn.id}/files/${r.json.fileId}/x.jpg?expires=${past}&signature=${uploadSig(tn.id, r.json.fileId, past)}`), 403, 'UPLOAD_EXPIRED');
  isErr(await put(url, body, 'image/png'), 400, 'INVALID_FILE_TYPE');
  isErr(await put(url, Buffer.from('short')), 400, 'VALIDATION_ERROR');
  assert.equal((await req(f.base, 'GET', '/api/v1/files', { key: tn.apiKey })).json.total, 0, 'nothing completed');
  assert.equal(sql(`SELECT state FROM objects WHERE id='${r.json.fileId}'`), 'pending');
  assert.equal((await put(url)).status, 200);
  isErr(await put(url), 409, 'UPLOAD_ALREADY_COMPLETED');
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 10);
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}/download`, { key: tn.apiKey })).text, '0123456789');
}));

test('downloads: Range, If-None-Match, HEAD; signed URLs with tampered and past tokens', (t) => eachFront(t, stack, async (f) => {
  const tn = await newTenant(f.base);
  const bytes = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const { put } = await upload(f.base, tn.apiKey, bytes);
  const id = put.json.id, k = tn.apiKey, dl = `/api/v1/files/${id}/download`;
  let r = await req(f.base, 'GET', dl, { key: k, headers: { Range: 'bytes=0-9' } });
  assert.equal(r.status, 206);
  assert.equal(r.text, 'abcdefghij');
  assert.equal(r.headers.get('content-range'), 'bytes 0-9/26');
  r = await req(f.base, 'GET', dl, { key: k, headers: { Range: 'bytes=-5' } });
  assert.equal(r.text, 'vwxyz');
  r = await req(f.base, 'GET', dl, { key: k, headers: { Range: 'bytes=20-' } });
  assert.equal(r.text, 'uvwxyz');
  r = await req(f.base, 'GET', dl, { key: k, headers: { Range: 'bytes=26-' } });
  assert.equal(r.status, 416);
  if (!S3) assert.equal(r.headers.get('content-range'), 'bytes */26');
  // Several ranges: Cubby serves the whole file; lighttpd merges nearby
  // ranges into one before passing the header on (allowed by HTTP).
  r = await req(f.base, 'GET', dl, { key: k, headers: { Range: 'bytes=0-1,5-6' } });
  if (S3) {
    // the bucket's answer: AWS serves the whole object, Swift a
    // multipart/byteranges body of both
    if (r.status === 206) {
      assert.match(r.text, /\r\n\r\nab\r\n[^]*\r\n\r\nfg\r\n/);
    } else {
      assert.equal(r.status, 200);
      assert.equal(r.text, 'abcdefghijklmnopqrstuvwxyz');
    }
  } else if (f.name === 'lighttpd' && r.status === 206) {
    assert.equal(r.headers.get('content-range'), 'bytes 0-6/26');
    assert.equal(r.text, 'abcdefg');
  } else {
    assert.equal(r.status, 200, 'several ranges: the whole file');
    assert.equal(r.text, 'abcdefghijklmnopqrstuvwxyz');
  }
  const etag = r.headers.get('etag');
  r = await req(f.base, 'GET', dl, { key: k, headers: { 'If-None-Match': etag } });
  assert.equal(r.status, 304);
  assert.equal(r.buf.length, 0);
  r = await req(f.base, 'HEAD', dl, { key: k });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), '26');
  isErr(await req(f.base, 'GET', dl), 401, 'UNAUTHORIZED');

  r = await req(f.base, 'GET', `/api/v1/files/${id}/signed-url?expiresIn=120`, { key: k });
  assert.equal(r.status, 200);
  assert.equal(r.json.fileId, id);
  assert.equal(r.json.expiresIn, 120);
  // The document's own form in every mode: Cubby's signed URL (in S3
  // mode it redirects to a short presigned GET of the bucket, so it can
  // still be refused, and dies with the file)
  const u = new URL(r.json.url);
  assert.equal(u.origin, f.base);
  assert.ok(Math.abs(Date.parse(r.json.expiresAt) - Number(u.searchParams.get('expires'))) < 2);
  if (S3) {
    const b = await fetch(u.href, { redirect: 'manual' });
    assert.equal(b.status, 302);
    assert.equal(new URL(b.headers.get('location')).origin, stack.peer.endpoint);
  }
  assert.equal(u.pathname, dl);
  assert.equal((await req(f.base, 'GET', u.pathname + u.search)).text, 'abcdefghijklmnopqrstuvwxyz', 'no Authorization needed');
  const tok = u.searchParams.get('token'), exp = u.searchParams.get('expires');
  isErr(await req(f.base, 'GET', `${dl}?token=${tok.replace(/^./, tok[0] === 'a' ? 'b' : 'a')}&expires=${exp}`), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'GET', `${dl}?token=${tok}&expires=${Number(exp) + 1}`), 401, 'UNAUTHORIZED');
  isErr(await req(f.base, 'GET', `${dl}?token=${tok}`), 401, 'UNAUTHORIZED');
  const past = Date.now() - 1000;
  isErr(await req(f.base, 'GET', `${dl}?token=${downloadTok(id, past)}&expires=${past}`), 401, 'UNAUTHORIZED');
  // expiresIn outside 60..86400 is clamped, as Storage Brain does
  for (const [e, want] of [['59', 60], ['1', 60], ['-5', 60], ['86401', 86400], ['999999999', 86400]])
    assert.equal((await req(f.base, 'GET', `/api/v1/files/${id}/signed-url?expiresIn=${e}`, { key: k })).json.expiresIn, want, e);
  isErr(await req(f.base, 'GET', `/api/v1/files/${id}/signed-url?expiresIn=x`, { key: k }), 400, 'VALIDATION_ERROR');
  // a deleted file's signed URL stops working, in every mode
  await req(f.base, 'DELETE', `/api/v1/files/${id}`, { key: k });
  isErr(await req(f.base, 'GET', u.pathname + u.search), 404, 'FILE_NOT_FOUND');
}));

test('isolation: tenant B gets 404 for every id of tenant A', (t) => eachFront(t, stack, async (f) => {
  const a = await newTenant(f.base), b = await newTenant(f.base);
  const { put } = await upload(f.base, a.apiKey, Buffer.from('secret bytes of A'), { context: 'a-private' });
  const id = put.json.id;
  for (const [m, p] of [['GET', `/api/v1/files/${id}`], ['DELETE', `/api/v1/files/${id}`], ['GET', `/api/v1/files/${id}/download`], ['GET', `/api/v1/files/${id}/signed-url`]]) {
    const r = await req(f.base, m, p, { key: b.apiKey });
    isErr(r, 404, 'FILE_NOT_FOUND');
    assert.ok(!r.text.includes('secret bytes') && !r.text.includes('a-private'));
  }
  const list = await req(f.base, 'GET', '/api/v1/files', { key: b.apiKey });
  assert.equal(list.json.total, 0);
  assert.ok(!list.text.includes(id));
  // B cannot upload into A's workspace
  const ws = (await req(f.base, 'POST', '/api/v1/workspaces', { key: a.apiKey, body: { name: 'A', slug: 'a' } })).json;
  isErr(await requestUpload(f.base, b.apiKey, { workspaceId: ws.id }), 404, 'NOT_FOUND');
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${id}`, { key: a.apiKey })).status, 200);
}));

test('quotas hold under parallel uploads at the edge (tenant and workspace)', async () => {
  const f = stack.fronts[1];
  // declared sizes: reserved at request time
  const t1 = await newTenant(f.base, { quotaBytes: 1000 });
  let rs = await Promise.all(Array.from({ length: 10 }, () => requestUpload(f.base, t1.apiKey, { fileSizeBytes: 300 })));
  assert.equal(rs.filter((r) => r.status === 200).length, 3);
  for (const r of rs.filter((x) => x.status !== 200)) isErr(r, 403, 'QUOTA_EXCEEDED');
  assert.equal((await quota(f.base, t1.apiKey)).usedBytes, 900);
  // undeclared sizes: reserved when the PUT starts
  const t2 = await newTenant(f.base, { quotaBytes: 1000 });
  const urls = await Promise.all(Array.from({ length: 8 }, () => requestUpload(f.base, t2.apiKey, {})));
  const puts = await Promise.all(urls.map((u) => req(f.base, 'PUT', u.json.presignedUrl, { body: crypto.randomBytes(300), headers: { 'Content-Type': 'image/jpeg' } })));
  if (S3) {
    // the bucket takes every PUT; Cubby completes what the quota allows
    assert.deepEqual(puts.map((p) => p.status), Array(8).fill(200));
    await listedUntil(f.base, t2.apiKey, 3);
    await sleep(2500);
  } else {
    assert.equal(puts.filter((p) => p.status === 200).length, 3);
    for (const p of puts.filter((x) => x.status !== 200)) isErr(p, 403, 'QUOTA_EXCEEDED');
  }
  const q = await quota(f.base, t2.apiKey);
  assert.equal(q.usedBytes, 900);
  assert.equal((await req(f.base, 'GET', '/api/v1/files', { key: t2.apiKey })).json.total, 3);
  // a workspace quota binds too
  const t3 = await newTenant(f.base, { quotaBytes: 100000 });
  const ws = (await req(f.base, 'POST', '/api/v1/workspaces', { key: t3.apiKey, body: { name: 'Q', slug: 'q', quotaBytes: 500 } })).json;
  rs = await Promise.all(Array.from({ length: 6 }, () => requestUpload(f.base, t3.apiKey, { fileSizeBytes: 200, workspaceId: ws.id })));
  assert.equal(rs.filter((r) => r.status === 200).length, 2);
  assert.equal((await req(f.base, 'GET', `/api/v1/workspaces/${ws.id}`, { key: t3.apiKey })).json.usedBytes, 400);
  assert.equal((await quota(f.base, t3.apiKey)).usedBytes, 400);
});

test('abandoned uploads expire and give their bytes back', async () => {
  const f = stack.fronts[0];
  const tn = await newTenant(f.base, { quotaBytes: 1000 });
  const r = await requestUpload(f.base, tn.apiKey, { fileSizeBytes: 700 });
  assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 700);
  sql(`UPDATE objects SET upload_expires_at = 1 WHERE id = '${r.json.fileId}'`);
  let used = 700;
  for (const end = Date.now() + 10000; used !== 0 && Date.now() < end; await sleep(250)) used = (await quota(f.base, tn.apiKey)).usedBytes;
  assert.equal(used, 0);
  assert.equal(sql(`SELECT state FROM objects WHERE id='${r.json.fileId}'`), 'failed');
  const late = await req(f.base, 'PUT', r.json.presignedUrl, { body: crypto.randomBytes(700), headers: { 'Content-Type': 'image/jpeg' } });
  if (S3) {
    // the bucket's URL lasts its 15 minutes; Cubby takes nothing more
    assert.equal(late.status, 200);
    await sleep(2500);
    assert.equal(sql(`SELECT state FROM objects WHERE id='${r.json.fileId}'`), 'failed');
    assert.equal((await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}`, { key: tn.apiKey })).status, 404);
    assert.equal((await quota(f.base, tn.apiKey)).usedBytes, 0);
  } else {
    isErr(late, 403, 'UPLOAD_EXPIRED');
  }
});

test('a worker killed mid-upload leaves no completed object and no quota leak', { skip: onlyFs }, async () => {
  const s = await new Stack({ config: { workers: '1', stream_workers: '1' } }).start();
  try {
    const f = s.fronts[1];
    const tr = await fetch(f.base + '/api/v1/admin/tenants', { method: 'POST', headers: { Authorization: `Bearer ${s.adminKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'killed', quotaBytes: 10000 }) });
    const tn = await tr.json();
    const r = await (await fetch(f.base + '/api/v1/upload/request', { method: 'POST', headers: { Authorization: `Bearer ${tn.apiKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ fileType: 'image/png', fileName: 'a.png' }) })).json();
    const [w] = s.streamPids();   // the upload's worker: the stream pool's one
    const gdb = spawn('gdb', ['-q', '-nx', '-p', String(w), '-batch', '-ex', 'break blob_commit', '-ex', 'continue', '-ex', 'shell read line'], { stdio: ['pipe', 'pipe', 'pipe'] });
    gdb.stdin.on('error', () => {});   // (gdb gone first: the checks below tell)
    let out = '';
    gdb.stdout.on('data', (d) => { out += d; });
    gdb.stderr.on('data', (d) => { out += d; });
    while (!/Breakpoint 1 at/.test(out)) await sleep(20);
    await sleep(100);
    const put = fetch(f.base + r.presignedUrl, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: crypto.randomBytes(4000) });
    while (!/Breakpoint 1, /.test(out)) await sleep(10);
    // bytes written and reserved, not committed: kill it there
    process.kill(w, 'SIGKILL');
    gdb.stdin.end('\n');
    assert.equal((await put).status, 502);
    const db = path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db');
    const q = (x) => spawnSync('sqlite3', [db, x], { encoding: 'utf8' }).stdout.trim();
    assert.equal(q(`SELECT state FROM objects WHERE id='${r.fileId}'`), 'pending', 'not completed');
    assert.equal(q(`SELECT used_bytes FROM tenants WHERE id='${tn.id}'`), '4000', 'reserved while pending');
    q(`UPDATE objects SET upload_expires_at = 1 WHERE id = '${r.fileId}'`);
    let used = '4000';
    for (const end = Date.now() + 10000; used !== '0' && Date.now() < end; await sleep(250)) used = q(`SELECT used_bytes FROM tenants WHERE id='${tn.id}'`);
    assert.equal(used, '0', 'no quota leak once the upload expires');
    const list = await (await fetch(f.base + '/api/v1/files', { headers: { Authorization: `Bearer ${tn.apiKey}` } })).json();
    assert.equal(list.total, 0);
  } finally { await s.stop(); }
});

test('download_offload = auto: X-Accel-Redirect under nginx, X-Sendfile under lighttpd', { skip: onlyFs }, async () => {
  const s = await new Stack({ config: { download_offload: 'auto' } }).start();
  try {
    const base = s.fronts[0].base;
    const tr = await fetch(base + '/api/v1/admin/tenants', { method: 'POST', headers: { Authorization: `Bearer ${s.adminKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'offload' }) });
    const tn = await tr.json();
    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const r = await (await fetch(base + '/api/v1/upload/request', { method: 'POST', headers: { Authorization: `Bearer ${tn.apiKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ fileType: 'application/pdf', fileName: 'big.pdf' }) })).json();
    assert.equal((await fetch(base + r.presignedUrl, { method: 'PUT', headers: { 'Content-Type': 'application/pdf' }, body: bytes })).status, 200);
    for (const f of s.fronts) {
      const rid = `offload-${f.name}-${Date.now()}`;
      let d = await fetch(`${f.base}/api/v1/files/${r.fileId}/download`, { headers: { Authorization: `Bearer ${tn.apiKey}`, 'X-Request-Id': rid } });
      assert.equal(d.status, 200, f.name);
      const got = Buffer.from(await d.arrayBuffer());
      assert.equal(sha(got), sha(bytes), `${f.name}: byte-exact`);
      assert.equal(d.headers.get('content-type'), 'application/pdf');
      assert.equal(d.headers.get('x-accel-redirect'), null, 'the hand-over header never reaches the client');
      assert.equal(d.headers.get('x-sendfile'), null);
      // the web server keeps Cubby's guards on the bytes it sends
      assert.equal(d.headers.get('x-content-type-options'), 'nosniff', f.name);
      assert.match(d.headers.get('content-security-policy') || '', /sandbox/, f.name);
      await sleep(50);
      const line = s.log().split('\n').find((l) => l.includes(`rid=${rid}`));
      assert.match(line, / 200 in=0 out=0 /, `${f.name}: Cubby wrote no body bytes`);
      // the web server answers ranges itself
      d = await fetch(`${f.base}/api/v1/files/${r.fileId}/download`, { headers: { Authorization: `Bearer ${tn.apiKey}`, Range: 'bytes=100-199' } });
      assert.equal(d.status, 206, f.name);
      assert.deepEqual(Buffer.from(await d.arrayBuffer()), bytes.subarray(100, 200));
      // checks still come first
      assert.equal((await fetch(`${f.base}/api/v1/files/${r.fileId}/download`)).status, 401);
    }
    // the nginx internal location is not reachable from outside
    const nginx = s.fronts.find((f) => f.name === 'nginx');
    const blob = spawnSync('sqlite3', [path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db'), `SELECT blob_key FROM objects WHERE id='${r.fileId}'`], { encoding: 'utf8' }).stdout.trim();
    const direct = await fetch(`${nginx.base}/_cubby_blobs/${blob.slice(0, 2)}/${blob.slice(2, 4)}/${blob}`);
    assert.notEqual(direct.status, 200);
  } finally { await s.stop(); }
});
