// storage.test.mjs - the asset API's storage connections against a real S3
// server that checks signatures (tests/tools/s3-peer.sh: OpenStack Swift's
// s3api), through lighttpd and nginx: discovery (list-buckets,
// create-bucket), probes (preview, and add, which saves only when all
// pass), listing without secrets, scopes, tenants, bad input, bad
// credentials, a missing bucket, an unreachable store, and the SSRF guard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, startS3Peer, freePort, sleep } from './harness.mjs';

let peer;
const stack = new Stack({ config: { s3_allow_private: 'on' } });
before(async () => {
  peer = await startS3Peer();
  await stack.start();
});
after(async () => {
  await stack.stop();
  if (peer) peer.stop();
});

const uniq = (p) => `${p}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
const dbPath = () => path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');

async function req(base, method, p, { key, body } = {}) {
  const h = {};
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
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
  const keys = { admin: r.json.apiKey };
  for (const s of ['read', 'write']) {
    const k = await req(base, 'POST', '/v1/api-keys', { key: keys.admin, body: { name: s, scopes: [s] } });
    keys[s] = k.json.data.key;
  }
  return keys;
}
const creds = () => ({ endpoint: peer.endpoint, region: peer.region, access_key_id: peer.accessKey, secret_access_key: peer.secretKey });
const bucketName = () => `cb-${crypto.randomBytes(6).toString('hex')}`;

test('discovery: create a bucket, see it listed; an existing one is 409', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const b = bucketName();
  const c = await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } });
  assert.equal(c.status, 201, c.text);
  assert.deepEqual(c.json.data, { name: b, region: peer.region });
  const l = await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: k.write, body: creds() });
  assert.equal(l.status, 200, l.text);
  const mine = l.json.data.find((x) => x.name === b);
  assert.ok(mine, l.text);
  assert.match(mine.created_at, /^\d{4}-\d\d-\d\dT/);
  isErr(await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } }), 409, 'bucket_exists');
  // region-aware: another region's location constraint is refused by this store
  const other = await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), region: 'eu-west-1', bucket: bucketName() } });
  isErr(other, 422, 'storage_rejected');
  // scopes: create-bucket is admin, list-buckets is write
  isErr(await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.write, body: { ...creds(), bucket: bucketName() } }), 403, 'insufficient_scope');
  isErr(await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: k.read, body: creds() }), 403, 'insufficient_scope');
  isErr(await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { body: creds() }), 401, 'unauthorized');
}));

test('preview runs the four probes and saves nothing; bad credentials and a missing bucket say which probe failed', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const b = bucketName();
  assert.equal((await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } })).status, 201);
  let r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), bucket: b, prefix: 'cubby/' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.ok, true);
  assert.deepEqual(r.json.data.probes.map((p) => [p.name, p.ok]), [['head', true], ['list', true], ['put', true], ['delete', true]]);
  // the probe object is gone again
  const peerList = spawnSync('curl', ['-s', '--aws-sigv4', `aws:amz:${peer.region}:s3`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    `http://${encodeURIComponent(peer.accessKey)}:${peer.secretKey}@${peer.endpoint.replace('http://', '')}/${b}?list-type=2`], { encoding: 'utf8' });
  assert.doesNotMatch(peerList.stdout, /<Key>/, peerList.stdout);
  assert.deepEqual((await req(f.base, 'GET', '/v1/storage-connections', { key: k.read })).json.data, []);
  // a wrong secret: every probe fails, the signature named
  r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), secret_access_key: 'not-the-secret', bucket: b } });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.ok, false);
  assert.ok(r.json.data.probes.every((p) => !p.ok && p.status === 403), r.text);
  assert.match(r.json.data.probes[1].message, /SignatureDoesNotMatch/);
  assert.ok(!r.text.includes('not-the-secret'), 'the secret is never echoed');
  // a bucket that does not exist: HEAD says 404
  r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), bucket: bucketName() } });
  assert.equal(r.json.data.ok, false);
  assert.equal(r.json.data.probes[0].status, 404);
  assert.equal(r.json.data.probes[0].ok, false);
  // read keys may not probe
  isErr(await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.read, body: { ...creds(), bucket: b } }), 403, 'insufficient_scope');
}));

test('add: saved only when every probe passes; listed without secrets; sealed at rest; tenants and scopes hold', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const other = await account(f.base);
  const b = bucketName();
  assert.equal((await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } })).status, 201);
  // probes fail: nothing saved, each probe reported
  let r = await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), secret_access_key: 'wrong-secret-7f3a', bucket: b, name: 'nope' } });
  isErr(r, 422, 'probe_failed');
  assert.equal(r.json.error.probes.length, 4);
  assert.match(r.json.error.message, /failed the head probe/);
  assert.deepEqual((await req(f.base, 'GET', '/v1/storage-connections', { key: k.read })).json.data, []);
  // all pass: saved
  r = await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), bucket: b, name: 'archive', prefix: 'cubby/', is_default: true } });
  assert.equal(r.status, 201, r.text);
  const conn = r.json.data.connection;
  assert.match(conn.id, /^stc_[0-9a-f]{32}$/);
  assert.equal(conn.name, 'archive');
  assert.equal(conn.bucket, b);
  assert.equal(conn.prefix, 'cubby/');
  assert.equal(conn.path_style, true);
  assert.equal(conn.is_default, true);
  assert.equal(conn.access_key_id_hint, 'test…er');
  assert.ok(r.json.data.probes.every((p) => p.ok));
  for (const x of [r, await req(f.base, 'GET', '/v1/storage-connections', { key: k.read })]) {
    assert.ok(!x.text.includes(`"${peer.secretKey}"`), x.text);
    assert.ok(!/secret/.test(x.text), x.text);
    assert.ok(!x.text.includes(peer.accessKey), 'the whole key id is never shown');
  }
  const list = (await req(f.base, 'GET', '/v1/storage-connections', { key: k.read })).json.data;
  assert.deepEqual(list.map((c) => c.id), [conn.id]);
  // sealed at rest: neither the key id nor the secret is in the database
  const raw = spawnSync('sqlite3', [dbPath(), `SELECT hex(credentials), key_hint FROM storage_connections`], { encoding: 'utf8' }).stdout;
  assert.ok(!raw.includes(Buffer.from(peer.secretKey).toString('hex').toUpperCase()));
  assert.ok(!raw.includes(Buffer.from(peer.accessKey).toString('hex').toUpperCase()));
  // one default per tenant
  isErr(await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), bucket: b, name: 'second', is_default: true } }), 409, 'conflict');
  // a saved connection lists buckets with its own credentials
  r = await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: k.write, body: { connection_id: conn.id } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.some((x) => x.name === b));
  // other tenants see nothing and can use or delete nothing
  assert.deepEqual((await req(f.base, 'GET', '/v1/storage-connections', { key: other.read })).json.data, []);
  isErr(await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: other.write, body: { connection_id: conn.id } }), 404, 'not_found');
  isErr(await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: other.admin }), 404, 'not_found');
  // scopes: adding and deleting are admin
  isErr(await req(f.base, 'POST', '/v1/storage-connections', { key: k.write, body: { ...creds(), bucket: b, name: 'w' } }), 403, 'insufficient_scope');
  isErr(await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: k.write }), 403, 'insufficient_scope');
  // delete, then it is gone
  r = await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: k.admin });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { id: conn.id, deleted: true });
  isErr(await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: k.admin }), 404, 'not_found');
  isErr(await req(f.base, 'DELETE', '/v1/storage-connections/stc_nothex', { key: k.admin }), 404, 'not_found');
  // the secret never reached the pool's log
  assert.ok(!stack.log().includes(peer.secretKey) && !stack.log().includes('wrong-secret-7f3a'), 'a secret in the log');
}));

test('bad input is refused field by field, before anything reaches a store', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const b = bucketName();
  const cases = [
    [{}, ['endpoint']],
    [{ ...creds(), endpoint: 'ftp://127.0.0.1' }, ['endpoint']],
    [{ ...creds(), endpoint: `${peer.endpoint}/some/path` }, ['endpoint']],
    [{ ...creds(), endpoint: 'http://user:pw@127.0.0.1' }, ['endpoint']],
    [{ ...creds(), region: 'Not A Region' }, ['region']],
    [{ ...creds(), bucket: 'UPPER' }, ['bucket']],
    [{ ...creds(), bucket: 'ab' }, ['bucket']],
    [{ ...creds(), access_key_id: '' }, ['access_key_id']],
    [{ ...creds(), secret_access_key: undefined }, ['secret_access_key']],
    [{ ...creds(), bucket: b, endpoint: 42 }, ['endpoint']],
    [{ ...creds(), bucket: b, path_style: 'yes' }, ['path_style']],
    [{ ...creds(), bucket: b, prefix: '/abs' }, ['prefix']],
  ];
  for (const [body, fields] of cases) {
    const r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { bucket: b, ...body } });
    isErr(r, 400, 'validation_error', fields);
  }
  isErr(await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), bucket: b } }), 400, 'validation_error', ['name']);
  const bad = await fetch(f.base + '/v1/storage-connections/preview', { method: 'POST', headers: { Authorization: `Bearer ${k.write}`, 'Content-Type': 'application/json' }, body: '{"endpoint":' });
  assert.equal(bad.status, 400);
  const big = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), bucket: b, name: 'x'.repeat(9000) } });
  assert.equal(big.status, 413);
}));

test('an unreachable store is a 502 after retries; the SSRF guard refuses internal stores unless allowed', async (t) => {
  const f = stack.fronts[0];
  const k = await account(f.base);
  const dead = `http://127.0.0.1:${await freePort()}`;
  const t0 = Date.now();
  const r = await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: k.write, body: { ...creds(), endpoint: dead } });
  isErr(r, 502, 'storage_unavailable');
  assert.match(r.json.error.message, /could not be reached/);
  t.diagnostic(`unreachable store answered in ${Date.now() - t0} ms`);
  const p = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), endpoint: dead, bucket: bucketName() } });
  assert.equal(p.json.data.ok, false);
  assert.ok(p.json.data.probes.every((x) => x.status === null && x.code === 'NetworkError'), p.text);
  // a pool without s3_allow_private refuses loopback stores outright
  const guarded = new Stack();
  await guarded.start();
  try {
    const g = guarded.fronts[0];
    const tn = await req(g.base, 'POST', '/api/v1/admin/tenants', { key: guarded.adminKey, body: { name: 'g' } });
    const x = await req(g.base, 'POST', '/v1/storage-connections/list-buckets', { key: tn.json.apiKey, body: creds() });
    isErr(x, 422, 'storage_refused');
    assert.match(x.json.error.message, /internal address \(s3_allow_private is off\)/);
    const y = await req(g.base, 'POST', '/v1/storage-connections', { key: tn.json.apiKey, body: { ...creds(), bucket: bucketName(), name: 'n' } });
    isErr(y, 422, 'probe_failed');
    assert.ok(y.json.error.probes.every((q) => q.code === 'Refused'));
  } finally { await guarded.stop(); }
});

test('a default connection takes the tenant\'s new uploads: straight to its bucket, counted as byok, kept until its assets go', (t) => eachFront(t, stack, async (f) => {
  const k = await account(f.base);
  const other = await account(f.base);
  const b = bucketName();
  assert.equal((await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } })).status, 201);
  const c = await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), bucket: b, name: 'mine', prefix: 'app/', is_default: true } });
  assert.equal(c.status, 201, c.text);
  const conn = c.json.data.connection;
  const put = (url, body, headers = {}) => fetch(url, { method: 'PUT', body, headers });
  // an asset: single PUT
  const small = crypto.randomBytes(3000);
  let r = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'a.bin', size_bytes: small.length } });
  assert.equal(r.status, 201, r.text);
  const a1 = r.json.data.asset.id;
  assert.ok(r.json.data.upload.url.startsWith(`${peer.endpoint}/${b}/app/`), r.json.data.upload.url);
  assert.equal((await put(r.json.data.upload.url, small, r.json.data.upload.headers)).status, 200);
  assert.equal((await req(f.base, 'POST', `/v1/assets/${a1}/complete`, { key: k.write })).status, 200);
  // an asset: multipart
  const big = crypto.randomBytes(6 * 1024 * 1024);
  r = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'b.bin', size_bytes: big.length, multipart: true, part_size: 5 * 1024 * 1024 } });
  const a2 = r.json.data.asset.id, up = r.json.data.upload.upload_id;
  for (let i = 1; i <= 2; i++) {
    const p = await req(f.base, 'POST', `/v1/assets/${a2}/parts`, { key: k.write, body: { upload_id: up, part_number: i } });
    assert.ok(p.json.data.url.startsWith(`${peer.endpoint}/${b}/app/`));
    assert.equal((await put(p.json.data.url, big.subarray((i - 1) * 5 * 1024 * 1024, Math.min(big.length, i * 5 * 1024 * 1024)))).status, 200);
  }
  r = await req(f.base, 'POST', `/v1/assets/${a2}/complete`, { key: k.write, body: { upload_id: up } });
  assert.equal(r.status, 200, r.text);
  // a file through the file API
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(500)]);
  r = await req(f.base, 'POST', '/api/v1/upload/request', { key: k.admin, body: { fileType: 'image/png', fileName: 'f.png' } });
  assert.ok(r.json.presignedUrl.startsWith(`${peer.endpoint}/${b}/app/`), r.text);
  assert.equal((await put(r.json.presignedUrl, png, { 'Content-Type': 'image/png' })).status, 200);
  const fid = r.json.fileId;
  // read back from the tenant's bucket, byte for byte
  for (const [id, bytes] of [[a1, small], [a2, big]]) {
    const u = await req(f.base, 'GET', `/v1/assets/${id}/url`, { key: k.read });
    assert.ok(u.json.data.url.startsWith(`${peer.endpoint}/${b}/app/`));
    assert.ok(Buffer.from(await (await fetch(u.json.data.url)).arrayBuffer()).equals(bytes));
  }
  assert.ok(Buffer.from(await (await fetch(`${f.base}/api/v1/files/${fid}/download`, { headers: { Authorization: `Bearer ${k.admin}` } })).arrayBuffer()).equals(png));
  // s3_sha256 is off (the default): processed, and never read back for a digest
  let pa;
  for (let i = 0; i < 100 && (!pa || pa.processing_status === 'pending'); i++, await sleep(100))
    pa = (await req(f.base, 'GET', `/v1/assets/${a1}`, { key: k.read })).json.data;
  assert.equal(pa.processing_status, 'completed');
  assert.equal(pa.sha256, null);
  // usage: all of it is the tenant's own storage
  const u = (await req(f.base, 'GET', '/v1/usage', { key: k.read })).json.data;
  assert.deepEqual(u, { total_assets: 3, total_bytes: small.length + big.length + png.length,
    managed_assets: 0, managed_bytes: 0, byok_assets: 3, byok_bytes: small.length + big.length + png.length });
  // another tenant's uploads stay in the server's store
  r = await req(f.base, 'POST', '/v1/assets', { key: other.write, body: { filename: 'o.bin', size_bytes: 10 } });
  assert.ok(!r.json.data.upload.url.startsWith(peer.endpoint), r.json.data.upload.url);
  // cubbyctl check looks for them in the tenant's bucket
  let ck = stack.ctl('check');
  assert.equal(ck.status, 0, ck.stdout + ck.stderr);
  // the connection stays while assets live there
  isErr(await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: k.admin }), 409, 'conflict');
  const listed = () => peer.curl('GET', `/${b}?list-type=2&prefix=app%2F`).body;
  assert.equal((listed().match(/<Key>/g) || []).length, 3);
  for (const id of [a1, a2]) assert.equal((await req(f.base, 'DELETE', `/v1/assets/${id}`, { key: k.write })).status, 200);
  assert.equal((await req(f.base, 'DELETE', `/v1/assets/ast_${fid.replace(/-/g, '')}`, { key: k.write })).status, 200);
  assert.equal((listed().match(/<Key>/g) || []).length, 0, 'deleted assets left bytes in the tenant\'s bucket');
  r = await req(f.base, 'DELETE', `/v1/storage-connections/${conn.id}`, { key: k.admin });
  assert.equal(r.status, 200, r.text);
  // and new uploads go back to the server's store
  r = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'n.bin', size_bytes: 10 } });
  assert.ok(!r.json.data.upload.url.startsWith(peer.endpoint));
  ck = stack.ctl('check');
  assert.equal(ck.status, 0, ck.stdout + ck.stderr);
}));

test('each probe failing in turn is reported as that probe (a fault-injecting proxy in front of the real store)', async () => {
  const http = await import('node:http');
  const f = stack.fronts[0];
  const k = await account(f.base);
  const b = bucketName();
  assert.equal((await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } })).status, 201);
  const peerUrl = new URL(peer.endpoint);
  let fail = null;   // which probe the proxy breaks
  const kind = (r) => r.method === 'HEAD' ? 'head' : r.method === 'GET' ? 'list' : r.method === 'PUT' ? 'put' : r.method === 'DELETE' ? 'delete' : '';
  const proxy = http.createServer((inReq, inRes) => {
    if (kind(inReq) === fail) {
      inReq.resume();
      inRes.writeHead(fail === 'head' ? 403 : 500, { 'Content-Type': 'application/xml' });
      inRes.end(fail === 'head' ? '' : '<Error><Code>InternalError</Code><Message>injected</Message></Error>');
      return;
    }
    // everything else goes to the real store, headers as signed
    const out = http.request({ host: peerUrl.hostname, port: peerUrl.port, method: inReq.method, path: inReq.url, headers: inReq.headers }, (res) => {
      inRes.writeHead(res.statusCode, res.headers);
      res.pipe(inRes);
    });
    out.on('error', () => { inRes.writeHead(502); inRes.end(); });
    inReq.pipe(out);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${proxy.address().port}`;
  try {
    for (const probe of [null, 'head', 'list', 'put', 'delete']) {
      fail = probe;
      const r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), endpoint, bucket: b } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.ok, probe === null, r.text);
      assert.deepEqual(r.json.data.probes.filter((p) => !p.ok).map((p) => p.name), probe ? [probe] : [], r.text);
      if (probe && probe !== 'head') assert.match(r.json.data.probes.find((p) => p.name === probe).message, /injected/);
      if (probe) {
        const add = await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), endpoint, bucket: b, name: 'p' } });
        isErr(add, 422, 'probe_failed');
        assert.match(add.json.error.message, new RegExp(`failed the ${probe} probe`));
      }
    }
    assert.deepEqual((await req(f.base, 'GET', '/v1/storage-connections', { key: k.read })).json.data, []);
  } finally { proxy.close(); }
});

test('virtual-hosted style (path_style false): every probe signed for bucket.localhost', async () => {
  const f = stack.fronts[1];
  const k = await account(f.base);
  const b = bucketName();
  assert.equal((await req(f.base, 'POST', '/v1/storage-connections/create-bucket', { key: k.admin, body: { ...creds(), bucket: b } })).status, 201);
  const endpoint = peer.endpoint.replace('127.0.0.1', 'localhost');
  const r = await req(f.base, 'POST', '/v1/storage-connections/preview', { key: k.write, body: { ...creds(), endpoint, bucket: b, path_style: false } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.probes.map((p) => [p.name, p.ok]), [['head', true], ['list', true], ['put', true], ['delete', true]], r.text);
  // saved as the default: a presigned URL names the bucket in the host
  const c = await req(f.base, 'POST', '/v1/storage-connections', { key: k.admin, body: { ...creds(), endpoint, bucket: b, name: 'vh', path_style: false, is_default: true } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.data.connection.path_style, false);
  const body = crypto.randomBytes(1000);
  const a = await req(f.base, 'POST', '/v1/assets', { key: k.write, body: { filename: 'v.bin', size_bytes: body.length } });
  const url = new URL(a.json.data.upload.url);
  assert.equal(url.hostname, `${b}.localhost`);
  // curl resolves *.localhost to loopback itself; node's fetch may not
  const put = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream',
    '--data-binary', '@-', a.json.data.upload.url], { input: body });
  assert.equal(put.stdout.toString(), '200');
  assert.equal((await req(f.base, 'POST', `/v1/assets/${a.json.data.asset.id}/complete`, { key: k.write })).status, 200);
  const u = await req(f.base, 'GET', `/v1/assets/${a.json.data.asset.id}/url`, { key: k.read });
  const got = spawnSync('curl', ['-s', u.json.data.url], { maxBuffer: 1 << 20 });
  assert.ok(Buffer.from(got.stdout).equals(body), 'byte for byte, virtual-hosted');
});
