// s3.test.mjs - blob_backend = s3 against a real S3 server that checks
// signatures (tests/tools/s3-peer.sh), through lighttpd and nginx: the
// asset and file API upload and download flows byte for byte, with the
// bytes going from a plain HTTP client straight to the bucket through
// Cubby's presigned URLs (the pool's access log never sees them); what the
// store refuses (a wrong Content-Type, a tampered URL); sizes and parts
// checked at completion; deletes and aborts reaching the bucket; and a
// store that goes away mid-upload: clear 503s, nothing marked complete,
// and the same upload completes once the store is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, startS3Peer, sleep, bin } from './harness.mjs';

const BUCKET = 'cubby-blobs';
const MiB = 1024 * 1024;
let peer, stack;
before(async () => {
  peer = await startS3Peer();
  assert.equal(peer.curl('PUT', `/${BUCKET}`).status, 200);
  stack = new Stack({ config: { blob_backend: 's3', s3_endpoint: peer.endpoint, s3_region: peer.region,
    s3_bucket: BUCKET, s3_access_key: peer.accessKey, s3_secret_key: peer.secretKey, s3_prefix: 'cubby/', s3_sha256: 'on' } });
  await stack.start();
});
after(async () => {
  if (stack) await stack.stop();
  if (peer) peer.stop();
});

async function req(base, method, p, { key, body, headers = {}, redirect } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body, redirect });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}
function isErr(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
}
async function tenant(base) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: `s3-${crypto.randomUUID()}`, quotaBytes: 200 * MiB } });
  assert.equal(r.status, 201, r.text);
  return r.json.apiKey;
}
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), crypto.randomBytes(3000)]);
const objectPath = (url) => new URL(url).pathname;
const inBucket = (url) => peer.curl('HEAD', objectPath(url), ['-I']).status;
// Cubby's pool never saw these bytes: no access line for the path.
const poolSaw = (url) => stack.log().includes(objectPath(url));

test('asset API, single PUT: straight to the bucket, checked at completion, served by the bucket, deleted there', (t) => eachFront(t, stack, async (f) => {
  const key = await tenant(f.base);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'shot.png', content_type: 'image/png', size_bytes: PNG.length } });
  assert.equal(c.status, 201, c.text);
  const up = c.json.data.upload, id = c.json.data.asset.id;
  assert.ok(up.url.startsWith(`${peer.endpoint}/${BUCKET}/cubby/`), up.url);
  assert.match(up.url, /X-Amz-SignedHeaders=content-type%3Bhost/);
  isErr(await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key }), 409, 'upload_incomplete');
  // the store checks the signature: another Content-Type, or a longer life, is refused
  assert.equal((await req(f.base, 'PUT', up.url, { body: PNG, headers: { 'Content-Type': 'image/gif' } })).status, 403);
  assert.equal((await req(f.base, 'PUT', up.url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800'), { body: PNG, headers: up.headers })).status, 403);
  // too few bytes: completion says so, and the PUT can be made again
  assert.equal((await req(f.base, 'PUT', up.url, { body: PNG.subarray(0, 100), headers: up.headers })).status, 200);
  isErr(await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key }), 409, 'size_mismatch');
  assert.equal((await req(f.base, 'PUT', up.url, { body: PNG, headers: up.headers })).status, 200);
  const done = await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.data.status, 'active');
  assert.equal(done.json.data.size_bytes, PNG.length);
  assert.equal(done.json.data.type, 'image', 'sniffed from the first bytes in the bucket');
  assert.ok(!poolSaw(up.url), 'the bytes went through Cubby');
  const u = await req(f.base, 'GET', `/v1/assets/${id}/url`, { key });
  assert.ok(u.json.data.url.startsWith(`${peer.endpoint}/${BUCKET}/cubby/`));
  const g = await req(f.base, 'GET', u.json.data.url);
  assert.equal(g.status, 200);
  assert.ok(g.buf.equals(PNG), 'byte for byte from the bucket');
  // a public space's manifest hands out the bucket's URL too
  const sp = await req(f.base, 'POST', '/v1/spaces', { key, body: { name: 'p', visibility: 'public' } });
  await req(f.base, 'POST', `/v1/spaces/${sp.json.data.id}/publications`, { key, body: { asset_ids: [id] } });
  const m = await req(f.base, 'GET', `/v1/public/spaces/${sp.json.data.short_id}`);
  assert.ok((await req(f.base, 'GET', m.json.data.assets[0].url)).buf.equals(PNG));
  // delete: gone from the bucket
  assert.equal(inBucket(u.json.data.url), 200);
  assert.equal((await req(f.base, 'DELETE', `/v1/assets/${id}`, { key })).status, 200);
  assert.equal(inBucket(u.json.data.url), 404);
  // parts go to the bucket, never to Cubby's own part route
  isErr(await req(f.base, 'PUT', `/v1/uploads/${id}/parts/1?upload_id=x&expires=1&signature=x`, { body: 'x' }), 409, 'upload_not_in_progress');
}));

test('asset API, multipart: parts straight to the bucket, ListParts checks them, the bucket completes; abort reaches it', (t) => eachFront(t, stack, async (f) => {
  const key = await tenant(f.base);
  const big = crypto.randomBytes(12 * MiB);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'big.bin', size_bytes: big.length, multipart: true, part_size: 5 * MiB } });
  assert.equal(c.status, 201, c.text);
  const id = c.json.data.asset.id, upId = c.json.data.upload.upload_id;
  assert.equal(c.json.data.upload.part_count, 3);
  const etags = [];
  for (let i = 1; i <= 3; i++) {
    const p = await req(f.base, 'POST', `/v1/assets/${id}/parts`, { key, body: { upload_id: upId, part_number: i } });
    assert.equal(p.status, 200, p.text);
    assert.ok(p.json.data.url.startsWith(`${peer.endpoint}/${BUCKET}/cubby/`));
    assert.match(p.json.data.url, new RegExp(`partNumber=${i}&uploadId=`));
    if (i === 3) {
      // not all parts in yet
      isErr(await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId } }), 400, 'incomplete_upload');
    }
    const r = await req(f.base, 'PUT', p.json.data.url, { body: big.subarray((i - 1) * 5 * MiB, Math.min(big.length, i * 5 * MiB)) });
    assert.equal(r.status, 200);
    etags.push(r.headers.get('etag'));
    assert.ok(!poolSaw(p.json.data.url));
  }
  // an etag that is not the stored part's
  isErr(await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId,
    parts: etags.map((e, i) => ({ part_number: i + 1, etag: i === 1 ? '"0123"' : e })) } }), 400, 'part_mismatch');
  const done = await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId, parts: etags.map((e, i) => ({ part_number: i + 1, etag: e })) } });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.data.size_bytes, big.length);
  isErr(await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId } }), 409, 'upload_already_completed');
  const u = await req(f.base, 'GET', `/v1/assets/${id}/url`, { key });
  assert.ok((await req(f.base, 'GET', u.json.data.url)).buf.equals(big), 'byte for byte');
  // abort: the bucket forgets the upload, the quota comes back
  const quota = async () => (await req(f.base, 'GET', '/api/v1/tenant/quota', { key })).json.usedBytes;
  const before = await quota();
  const a = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'x.bin', size_bytes: 11 * MiB, multipart: true, part_size: 5 * MiB } });
  const p1 = await req(f.base, 'POST', `/v1/assets/${a.json.data.asset.id}/parts`, { key, body: { upload_id: a.json.data.upload.upload_id, part_number: 1 } });
  assert.equal((await req(f.base, 'PUT', p1.json.data.url, { body: crypto.randomBytes(5 * MiB) })).status, 200);
  assert.equal(await quota(), before + 11 * MiB);
  const ab = await req(f.base, 'POST', `/v1/assets/${a.json.data.asset.id}/abort`, { key, body: { upload_id: a.json.data.upload.upload_id } });
  assert.equal(ab.status, 200, ab.text);
  assert.equal(await quota(), before);
  const listed = peer.curl('GET', `${objectPath(p1.json.data.url)}?uploadId=${encodeURIComponent(a.json.data.upload.upload_id)}`);
  assert.equal(listed.status, 404, 'the bucket still has the aborted upload');
  assert.equal((await req(f.base, 'PUT', p1.json.data.url, { body: crypto.randomBytes(10) })).status, 404);
}));

test('file API: the presigned URL is the bucket\'s; the file is there once its bytes are; downloads redirect to the bucket', (t) => eachFront(t, stack, async (f) => {
  const key = await tenant(f.base);
  const u = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/png', fileName: 'receipt.png' } });
  assert.equal(u.status, 200, u.text);
  assert.ok(u.json.presignedUrl.startsWith(`${peer.endpoint}/${BUCKET}/cubby/`));
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}`, { key })).status, 404, 'not there before its bytes');
  assert.equal((await req(f.base, 'PUT', u.json.presignedUrl, { body: PNG, headers: { 'Content-Type': 'image/jpeg' } })).status, 403, 'the signed type holds');
  assert.equal((await req(f.base, 'PUT', u.json.presignedUrl, { body: PNG, headers: { 'Content-Type': 'image/png' } })).status, 200);
  const g = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}`, { key });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.sizeBytes, PNG.length);
  const d = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key, redirect: 'manual' });
  assert.equal(d.status, 302);
  assert.ok(d.headers.get('location').startsWith(`${peer.endpoint}/${BUCKET}/cubby/`));
  const followed = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key });
  assert.ok(followed.buf.equals(PNG));
  const ranged = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key, headers: { Range: 'bytes=8-15' } });
  assert.equal(ranged.status, 206);
  assert.ok(ranged.buf.equals(PNG.subarray(8, 16)));
  const su = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}/signed-url`, { key });
  assert.ok((await req(f.base, 'GET', su.json.url)).buf.equals(PNG));
  // nobody asks: the jobs worker sees it arrive, the list shows it, the quota counts it
  const u2 = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'doc.pdf', fileSizeBytes: 2000 } });
  // a body of another size than declared is not taken; a second PUT is
  assert.equal((await req(f.base, 'PUT', u2.json.presignedUrl, { body: crypto.randomBytes(1999), headers: { 'Content-Type': 'application/pdf' } })).status, 200);
  await sleep(2500);
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${u2.json.fileId}`, { key })).status, 404, 'the wrong size was taken');
  assert.equal((await req(f.base, 'PUT', u2.json.presignedUrl, { body: crypto.randomBytes(2000), headers: { 'Content-Type': 'application/pdf' } })).status, 200);
  let listed = [];
  for (const end = Date.now() + 5000; listed.length < 2 && Date.now() < end; await sleep(200))
    listed = (await req(f.base, 'GET', '/api/v1/files', { key })).json.files;
  assert.deepEqual(listed.map((x) => x.originalName).sort(), ['doc.pdf', 'receipt.png']);
  assert.equal((await req(f.base, 'GET', '/api/v1/tenant/quota', { key })).json.usedBytes, PNG.length + 2000);
  // Cubby's own upload route is not used in this mode
  assert.equal((await req(f.base, 'PUT', `/_internal/upload/tenants/x/files/${u.json.fileId}/a.png?expires=1&signature=x`, { body: 'x' })).status, 409);
}));

test('a completed upload cannot be changed through its URL: the bytes move to a name no URL names', async () => {
  const f = stack.fronts[0];
  const key = await tenant(f.base);
  const other = Buffer.concat([PNG.subarray(0, 16), crypto.randomBytes(PNG.length - 16)]);
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  // asset API
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'keep.png', content_type: 'image/png', size_bytes: PNG.length } });
  const up = c.json.data.upload, id = c.json.data.asset.id;
  assert.equal((await req(f.base, 'PUT', up.url, { body: PNG, headers: up.headers })).status, 200);
  assert.equal((await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key })).status, 200);
  assert.equal(inBucket(up.url), 404, 'the upload\'s name is gone');
  // the URL still lasts (the store's), and takes bytes: they change nothing
  assert.equal((await req(f.base, 'PUT', up.url, { body: other, headers: up.headers })).status, 200);
  const u = await req(f.base, 'GET', `/v1/assets/${id}/url`, { key });
  assert.notEqual(objectPath(u.json.data.url), objectPath(up.url));
  assert.ok((await req(f.base, 'GET', u.json.data.url)).buf.equals(PNG), 'the completed bytes');
  let digest = null;
  for (let i = 0; i < 100 && digest === null; i++, await sleep(100))
    digest = (await req(f.base, 'GET', `/v1/assets/${id}`, { key })).json.data.sha256;
  assert.equal(digest, sha(PNG));
  // file API
  const r = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/png', fileName: 'keep.png' } });
  assert.equal((await req(f.base, 'PUT', r.json.presignedUrl, { body: PNG, headers: { 'Content-Type': 'image/png' } })).status, 200);
  let g;
  for (const end = Date.now() + 10000; Date.now() < end; await sleep(200)) {
    g = await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}`, { key });
    if (g.status === 200) break;
  }
  assert.equal(g.status, 200);
  assert.equal((await req(f.base, 'PUT', r.json.presignedUrl, { body: other, headers: { 'Content-Type': 'image/png' } })).status, 200);
  await sleep(1500);
  assert.ok((await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}/download`, { key })).buf.equals(PNG), 'the completed bytes');
  // what the URL left behind is named by no row: gc's, after its hour
  const chk = stack.ctl('check');
  assert.match(chk.stdout, /named by no row/);
  peer.curl('DELETE', objectPath(up.url));
  peer.curl('DELETE', objectPath(r.json.presignedUrl));
});

test('many abandoned uploads do not hide a new one: arrivals are looked for in rounds over every pending upload', async () => {
  const f = stack.fronts[1];
  const key = await tenant(f.base);
  // more than one round's worth (50) of URLs nobody uses, expiring before the new one
  for (let i = 0; i < 120; i++)
    assert.equal((await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: `idle-${i}.pdf` } })).status, 200);
  const u = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'real.pdf' } });
  const bytes = crypto.randomBytes(5000);
  assert.equal((await req(f.base, 'PUT', u.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } })).status, 200);
  const t0 = Date.now();
  let g;
  for (const end = t0 + 10000; Date.now() < end; await sleep(200)) {
    g = await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}`, { key });
    if (g.status === 200) break;
  }
  assert.equal(g.status, 200, `not seen within ${Date.now() - t0} ms`);
  assert.equal(g.json.sizeBytes, bytes.length);
});

test('an upload that expires with the wrong bytes in the bucket: failed, and the bucket swept', async () => {
  const f = stack.fronts[0];
  const key = await tenant(f.base);
  const u = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'late.pdf', fileSizeBytes: 500 } });
  assert.equal((await req(f.base, 'PUT', u.json.presignedUrl, { body: crypto.randomBytes(400), headers: { 'Content-Type': 'application/pdf' } })).status, 200);
  assert.equal(inBucket(u.json.presignedUrl), 200);
  // its 15 minutes are up
  const db = path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
  spawnSync('sqlite3', [db, `UPDATE objects SET upload_expires_at = 1 WHERE id = '${u.json.fileId}'`]);
  let gone = false;
  for (const end = Date.now() + 15000; !gone && Date.now() < end; await sleep(250)) gone = inBucket(u.json.presignedUrl) === 404;
  assert.ok(gone, 'the expired upload\'s object is still in the bucket');
  const row = spawnSync('sqlite3', [db, `SELECT state, blob_key IS NULL FROM objects WHERE id = '${u.json.fileId}'`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(row, 'failed|1');
  assert.equal((await req(f.base, 'GET', '/api/v1/tenant/quota', { key })).json.usedBytes, 0);
});

test('cubbyctl in S3 mode: check finds an object missing from the bucket and a stray one; stats count the bucket; backup names the bucket', async () => {
  const f = stack.fronts[0];
  const key = await tenant(f.base);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'c.png', content_type: 'image/png', size_bytes: PNG.length } });
  await req(f.base, 'PUT', c.json.data.upload.url, { body: PNG, headers: c.json.data.upload.headers });
  assert.equal((await req(f.base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key })).status, 200);
  let r = stack.ctl('check');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: database intact/m);
  r = stack.ctl('stats');
  assert.match(r.stdout, new RegExp(`bucket objects +\\d+ \\(\\d+ bytes; 0 named by no row\\) in ${BUCKET}`));
  // a stray object under the prefix, and a live one taken away behind Cubby's back
  assert.equal(peer.curl('PUT', `/${BUCKET}/cubby/stray-object`, ['--data-binary', 'x']).status, 200);
  const gone = objectPath((await req(f.base, 'GET', `/v1/assets/${c.json.data.asset.id}/url`, { key })).json.data.url);
  assert.equal(peer.curl('DELETE', gone).status, 204);
  r = stack.ctl('check');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`${gone.split('/').pop()} is missing from bucket ${BUCKET}`));
  assert.match(r.stdout, /younger than an hour and named by no row/);
  // gc leaves what is younger than an hour
  r = stack.ctl('gc', '--dry-run');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /would remove 0 files/);
  assert.equal(peer.curl('HEAD', `/${BUCKET}/cubby/stray-object`, ['-I']).status, 200);
  peer.curl('DELETE', `/${BUCKET}/cubby/stray-object`);
  // backups: the database and a manifest naming the bucket; no local copies
  const dir = path.join(stack.tmp, 'bk');
  r = stack.ctl('backup', dir, '--with-blobs');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /blobs are in bucket cubby-blobs/);
  r = stack.ctl('backup', dir);
  assert.equal(r.status, 1, 'the missing object is reported');
  assert.match(r.stderr, /is missing from its bucket/);
  const man = JSON.parse((await import('node:fs')).readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(man.blob_store, `s3:${peer.endpoint}/${BUCKET}/cubby/`);
});

test('moving blobs to S3: cubbyctl blobs-to-s3 copies every blob (checked by its SHA-256), then blob_backend = s3 serves them', async () => {
  const s3conf = { s3_endpoint: peer.endpoint, s3_region: peer.region, s3_bucket: 'moved-blobs',
    s3_access_key: peer.accessKey, s3_secret_key: peer.secretKey, s3_prefix: 'm/' };
  assert.equal(peer.curl('PUT', '/moved-blobs').status, 200);
  const fsStack = new Stack({ config: s3conf });
  await fsStack.start();
  try {
    const f = fsStack.fronts[0];
    const t0 = await req(f.base, 'POST', '/api/v1/admin/tenants', { key: fsStack.adminKey, body: { name: 'mover' } });
    const key = t0.json.apiKey;
    const small = crypto.randomBytes(2000), big = crypto.randomBytes(11 * MiB);
    const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 's.bin', size_bytes: small.length } });
    assert.equal((await req(f.base, 'PUT', c.json.data.upload.url, { body: small, headers: c.json.data.upload.headers })).status, 200);
    assert.equal((await req(f.base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key })).status, 200);
    const m = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'b.bin', size_bytes: big.length, multipart: true, part_size: 5 * MiB } });
    for (let i = 1; i <= 3; i++) {
      const p = await req(f.base, 'POST', `/v1/assets/${m.json.data.asset.id}/parts`, { key, body: { upload_id: m.json.data.upload.upload_id, part_number: i } });
      assert.equal((await req(f.base, 'PUT', p.json.data.url, { body: big.subarray((i - 1) * 5 * MiB, Math.min(big.length, i * 5 * MiB)) })).status, 200);
    }
    assert.equal((await req(f.base, 'POST', `/v1/assets/${m.json.data.asset.id}/complete`, { key, body: { upload_id: m.json.data.upload.upload_id } })).status, 200);
    const u = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/png', fileName: 'f.png' } });
    assert.equal((await req(f.base, 'PUT', u.json.presignedUrl, { body: PNG, headers: { 'Content-Type': 'image/png' } })).status, 200);

    let r = fsStack.ctl('blobs-to-s3', '--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /would copy 3 blobs/);
    r = fsStack.ctl('blobs-to-s3');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`copied 3 blobs \\(${small.length + big.length + PNG.length} bytes\\) to bucket moved-blobs; 0 already there; 0 failed`));
    r = fsStack.ctl('blobs-to-s3');
    assert.match(r.stdout, /copied 0 blobs .*; 3 already there/);
    // the switch: pool stopped, blob_backend = s3, started again
    fsStack.pool.kill('SIGTERM');
    await new Promise((res) => fsStack.pool.once('exit', res));
    fsStack.writeConfig({ blob_backend: 's3' });
    fsStack.startPool();
    for (const end = Date.now() + 10000; Date.now() < end; await sleep(50))
      try { if ((await fetch(f.base + '/health')).status === 200) break; } catch { /* starting */ }
    for (const [id, bytes] of [[c.json.data.asset.id, small], [m.json.data.asset.id, big]]) {
      const url = (await req(f.base, 'GET', `/v1/assets/${id}/url`, { key })).json.data.url;
      assert.ok(url.startsWith(`${peer.endpoint}/moved-blobs/m/`), url);
      assert.ok((await req(f.base, 'GET', url)).buf.equals(bytes));
    }
    assert.ok((await req(f.base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key })).buf.equals(PNG));
    r = fsStack.ctl('check');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // already s3: refused, with the reason
    r = fsStack.ctl('blobs-to-s3');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /blob_backend is s3 already/);
  } finally { await fsStack.stop(); }
});

test('a server clock far off the store\'s: the store refuses, and the error says why', async () => {
  // The same data directory, served by a second pool whose clock runs two
  // hours ahead (libfaketime): every request it signs is refused by the
  // store with RequestTimeTooSkewed.
  const f = stack.fronts[0];
  const key = await tenant(f.base);
  const sock = path.join(stack.tmp, 'skewed.sock');
  const env = { ...stack.env(), LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    FAKETIME: '+2h', ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:verify_asan_link_order=0` };
  const p = spawn(bin('cubby-fcgi'), ['-c', stack.confPath, '--listen', `unix:${sock}`], { env, stdio: 'ignore' });
  stack.procs.push(p);
  for (const end = Date.now() + 10000; !fs.existsSync(sock) && Date.now() < end;) await sleep(50);
  const body = JSON.stringify({ filename: 'x.bin', size_bytes: 6 * MiB, multipart: true });
  const q = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], { input: body, encoding: 'utf8',
    env: { PATH: process.env.PATH, REQUEST_METHOD: 'POST', REQUEST_URI: '/v1/assets', SERVER_NAME: '127.0.0.1',
      SERVER_PORT: '80', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(body.length), HTTP_AUTHORIZATION: `Bearer ${key}` } });
  assert.match(q.stdout, /^Status: 502/m, q.stdout + q.stderr);
  assert.match(q.stdout, /clock skew: this server's clock and the store's differ by more than the store allows \(RequestTimeTooSkewed\)/);
  p.kill('SIGTERM');
  // the pool with the right clock is fine
  assert.equal((await req(f.base, 'POST', '/v1/assets', { key, body: JSON.parse(body) })).status, 201);
});

test('a presigned URL past its expiry is refused by the store', { timeout: 120000 }, async () => {
  const f = stack.fronts[0];
  const key = await tenant(f.base);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'e.png', content_type: 'image/png', size_bytes: PNG.length } });
  assert.equal((await req(f.base, 'PUT', c.json.data.upload.url, { body: PNG, headers: c.json.data.upload.headers })).status, 200);
  assert.equal((await req(f.base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key })).status, 200);
  const u = await req(f.base, 'GET', `/v1/assets/${c.json.data.asset.id}/url?expires_in=60`, { key });
  assert.match(u.json.data.url, /X-Amz-Expires=60&/);
  assert.equal((await req(f.base, 'GET', u.json.data.url)).status, 200);
  await sleep(62000);
  const late = await req(f.base, 'GET', u.json.data.url);
  assert.equal(late.status, 403, late.text);
  assert.match(late.text, /AccessDenied|expired/i);
  // a fresh one works
  const again = await req(f.base, 'GET', `/v1/assets/${c.json.data.asset.id}/url`, { key });
  assert.ok((await req(f.base, 'GET', again.json.data.url)).buf.equals(PNG));
});

test('the store goes away mid-upload: 503, nothing completed; back again, the same upload completes', { timeout: 300000 }, async () => {
  const f = stack.fronts[1];
  const key = await tenant(f.base);
  const body = crypto.randomBytes(6 * MiB);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'm.bin', size_bytes: body.length, multipart: true, part_size: 5 * MiB } });
  const id = c.json.data.asset.id, upId = c.json.data.upload.upload_id;
  for (let i = 1; i <= 2; i++) {
    const p = await req(f.base, 'POST', `/v1/assets/${id}/parts`, { key, body: { upload_id: upId, part_number: i } });
    assert.equal((await req(f.base, 'PUT', p.json.data.url, { body: body.subarray((i - 1) * 5 * MiB, Math.min(body.length, i * 5 * MiB)) })).status, 200);
  }
  peer.pause();
  try {
    const r = await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId } });
    isErr(r, 503, 'storage_unavailable');
    assert.match(r.json.error.message, /could not be reached/);
    assert.equal((await req(f.base, 'GET', `/v1/assets/${id}`, { key })).json.data.status, 'pending');
    isErr(await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'n.bin', size_bytes: 6 * MiB, multipart: true } }), 503, 'storage_unavailable');
    // the worker is still there; it is not ready while its store is away
    assert.equal((await req(f.base, 'GET', '/health')).status, 200);
    const t0 = Date.now();
    const ready = await req(f.base, 'GET', '/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.storage, 'error');
    assert.ok(Date.now() - t0 < 1000, 'a probe is answered at once');
  } finally {
    peer.restart();
  }
  assert.equal((await req(f.base, 'GET', '/ready')).status, 200);
  const done = await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key, body: { upload_id: upId } });
  assert.equal(done.status, 200, done.text);
  const u = await req(f.base, 'GET', `/v1/assets/${id}/url`, { key });
  assert.ok((await req(f.base, 'GET', u.json.data.url)).buf.equals(body));
});

test('media in the bucket: the processor reads the image through a presigned GET, thumbnail and preview land next to it, served by the bucket, deleted with it', (t) => eachFront(t, stack, async (f) => {
  const dir = fs.mkdtempSync(path.join(stack.tmp, 'img-'));
  const run = (...a) => assert.equal(spawnSync('vips', a).status, 0, a.join(' '));
  run('black', path.join(dir, 'b.v'), '900', '600', '--bands', '3');
  run('linear', path.join(dir, 'b.v'), path.join(dir, 'g.jpg'), '1', '128');
  const jpg = fs.readFileSync(path.join(dir, 'g.jpg'));
  const key = await tenant(f.base);
  const c = await req(f.base, 'POST', '/v1/assets', { key, body: { filename: 'grey.jpg', content_type: 'image/jpeg', size_bytes: jpg.length } });
  const up = c.json.data.upload, id = c.json.data.asset.id;
  assert.equal((await req(f.base, 'PUT', up.url, { body: jpg, headers: up.headers })).status, 200);
  assert.equal((await req(f.base, 'POST', `/v1/assets/${id}/complete`, { key })).status, 200);
  let a;
  for (let i = 0; i < 200 && (!a || a.processing_status === 'pending'); i++) {
    await sleep(100);
    a = (await req(f.base, 'GET', `/v1/assets/${id}`, { key })).json.data;
  }
  assert.equal(a.processing_status, 'completed', JSON.stringify(a));
  assert.deepEqual(a.media, { width: 900, height: 600, format: 'jpeg' });
  for (const [u, type, w, h] of [[a.thumb_url, 'image/webp', 320, 213], [a.preview_url, 'image/jpeg', 900, 600]]) {
    assert.ok(u.startsWith(`${peer.endpoint}/${BUCKET}/cubby/`), u);
    assert.match(u, /X-Amz-Expires=3600/);
    const r = await req(f.base, 'GET', u);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), type);
    const file = path.join(dir, `v-${f.name}-${w}`);
    fs.writeFileSync(file, r.buf);
    assert.match(spawnSync('vipsheader', [file], { encoding: 'utf8' }).stdout, new RegExp(`: ${w}x${h} `));
  }
  assert.equal((await req(f.base, 'DELETE', `/v1/assets/${id}`, { key })).status, 200);
  for (const u of [a.thumb_url, a.preview_url])
    assert.equal(inBucket(u), 404, 'deleted with the asset');
}));
