// review.test.mjs - the findings of the outside security review (issue
// "What an outside security review found"), each as a test through
// lighttpd and nginx where it is an HTTP behaviour. docs/reliability.md
// lists each finding with its test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, eachFront } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}
async function tenant(base) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: uniq('rv') } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
async function asset(base, key, bytes, filename, contentType) {
  const c = await req(base, 'POST', '/v1/assets', { key, body: { filename, content_type: contentType, size_bytes: bytes.length } });
  assert.equal(c.status, 201, c.text);
  const up = c.json.data.upload;
  assert.equal((await req(base, up.method, up.url, { body: bytes, headers: up.headers })).status, 200);
  const done = await req(base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key });
  assert.equal(done.status, 200, done.text);
  return done.json.data;
}

test('downloads of tenant bytes: nosniff, a sandbox, and RFC 5987 filename* for non-ASCII names', (t) => eachFront(t, stack, async (f) => {
  const tn = await tenant(f.base);
  const html = Buffer.from('<html><script>alert(document.cookie)</script></html>');
  const a = await asset(f.base, tn.apiKey, html, 'résumé final.html', 'text/html');
  const url = (await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key: tn.apiKey })).json.data.url;
  for (const [how, r] of [['signed URL', await req(f.base, 'GET', url)],
    ['file API with a key', await req(f.base, 'GET', `/api/v1/files/${a.file_id}/download`, { key: tn.apiKey })],
    ['a range', await req(f.base, 'GET', url, { headers: { Range: 'bytes=0-5' } })]]) {
    assert.ok(r.status === 200 || r.status === 206, `${how}: ${r.status}`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', how);
    assert.match(r.headers.get('content-security-policy'), /^sandbox\b/, how);
    const cd = r.headers.get('content-disposition');
    assert.match(cd, /^attachment; filename="r__sum__ final\.html"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20final\.html$/, `${how}: ${cd}`);
  }
  // a plain ASCII name stays as it was
  const b = await asset(f.base, tn.apiKey, Buffer.from('x'), 'plain.txt', 'text/plain');
  const r = await req(f.base, 'GET', `/api/v1/files/${b.file_id}/download`, { key: tn.apiKey });
  assert.equal(r.headers.get('content-disposition'), 'attachment; filename="plain.txt"');
}));

test('password attempts are reserved before the KDF: 12 parallel wrong passwords, exactly 5 answered 401', (t) => eachFront(t, stack, async (f) => {
  const tn = await tenant(f.base);
  const sp = await req(f.base, 'POST', '/v1/spaces', { key: tn.apiKey, body: { name: uniq('sp'), visibility: 'protected', password: 'correct horse battery' } });
  assert.equal(sp.status, 201, sp.text);
  const access = (password) => req(f.base, 'POST', `/v1/public/spaces/${sp.json.data.short_id}/access`, { body: { password } });
  const got = await Promise.all(Array.from({ length: 12 }, (_, i) => access(`wrong-${i}`)));
  const count = (s) => got.filter((r) => r.status === s).length;
  assert.deepEqual([count(401), count(429)], [5, 7], got.map((r) => r.status).join(','));
  for (const r of got.filter((x) => x.status === 429)) assert.ok(Number(r.headers.get('retry-after')) > 0);
  // even the right password waits now: the limit is on attempts
  assert.equal((await access('correct horse battery')).status, 429);
}));

test('a right password gives its attempt back', (t) => eachFront(t, stack, async (f) => {
  const tn = await tenant(f.base);
  const sp = await req(f.base, 'POST', '/v1/spaces', { key: tn.apiKey, body: { name: uniq('sp'), visibility: 'protected', password: 'correct horse battery' } });
  const access = (password) => req(f.base, 'POST', `/v1/public/spaces/${sp.json.data.short_id}/access`, { body: { password } });
  for (let i = 0; i < 10; i++) assert.equal((await access('correct horse battery')).status, 200, `success ${i}`);
  for (let i = 0; i < 5; i++) assert.equal((await access('nope')).status, 401);
  assert.equal((await access('nope')).status, 429);
}));

test('SSRF guard: a storage connection to an IPv6 form of an internal address is refused', (t) => eachFront(t, stack, async (f) => {
  const tn = await tenant(f.base);
  for (const host of ['[::ffff:127.0.0.1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[64:ff9b::a9fe:a9fe]', '[2002:a9fe:a9fe::]',
    '[::ffff:0:7f00:1]', '[fec0::1]', '[100::1]', '[::1]', '[fd00::1]']) {
    const body = { endpoint: `http://${host}:9000`, region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: 'x'.repeat(40) };
    const r = await req(f.base, 'POST', '/v1/storage-connections/list-buckets', { key: tn.apiKey, body });
    assert.equal(r.status, 422, `${host}: ${r.text}`);
    assert.equal(r.json.error.code, 'storage_refused', host);
    assert.match(r.json.error.message, /internal address \(s3_allow_private is off\)/, host);
  }
}));

test('deleting a file takes its bytes: 20 upload/delete cycles leave the data directory as it was; a workspace delete too', (t) => eachFront(t, stack, async (f) => {
  const fs = (await import('node:fs')).default;
  const path = (await import('node:path')).default;
  const blobs = path.join(stack.dirs.localstatedir, 'lib/cubby/blobs');
  const list = () => {
    const out = [];
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else out.push(p); } };
    if (fs.existsSync(blobs)) walk(blobs);
    return out.filter((p) => !path.relative(blobs, p).startsWith('tmp')).sort();
  };
  const tn = await tenant(f.base);
  const bytes = Buffer.alloc(64 * 1024, 7);
  const upload = async (extra = {}) => {
    const r = await req(f.base, 'POST', '/api/v1/upload/request', { key: tn.apiKey, body: { fileType: 'application/pdf', fileName: 'a.pdf', fileSizeBytes: bytes.length, ...extra } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await req(f.base, 'PUT', r.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } })).status, 200);
    return r.json.fileId;
  };
  const before = list();
  for (let i = 0; i < 20; i++) {
    const id = await upload();
    assert.equal((await req(f.base, 'DELETE', `/api/v1/files/${id}`, { key: tn.apiKey })).status, 200);
  }
  assert.deepEqual(list(), before, 'no byte of a deleted file is left');
  const q = await req(f.base, 'GET', '/api/v1/tenant/quota', { key: tn.apiKey });
  assert.equal(q.json.usedBytes, 0);
  // a workspace's files go with it (the jobs worker takes their bytes)
  const ws = await req(f.base, 'POST', '/api/v1/workspaces', { key: tn.apiKey, body: { name: 'w', slug: uniq('w') } });
  for (let i = 0; i < 3; i++) await upload({ workspaceId: ws.json.id });
  assert.equal(list().length, before.length + 3);
  assert.equal((await req(f.base, 'DELETE', `/api/v1/workspaces/${ws.json.id}`, { key: tn.apiKey })).status, 200);
  for (const end = Date.now() + 15000; list().length !== before.length && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(list(), before, 'the workspace\'s files are gone from disk');
}));

// Runs after every test here that opens a share link: it exhausts
// 127.0.0.1's allowance of unknown links.
test('share links: 80-bit ids for new spaces, old 8-character ones still served, guessing limited per address', async () => {
  const f = stack.fronts[0];
  const tn = await tenant(f.base);
  const sp = await req(f.base, 'POST', '/v1/spaces', { key: tn.apiKey, body: { name: uniq('sp'), visibility: 'public' } });
  assert.match(sp.json.data.short_id, /^[a-z2-7]{16}$/);
  assert.equal((await req(f.base, 'GET', `/v1/public/spaces/${sp.json.data.short_id}`)).status, 200);
  // a link made before (8 characters) keeps working
  const { spawnSync } = await import('node:child_process');
  const path = (await import('node:path')).default;
  const db = path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
  const old = 'oldlnk23';
  spawnSync('sqlite3', [db, `UPDATE spaces SET short_id='${old}' WHERE id=(SELECT id FROM spaces WHERE short_id='${sp.json.data.short_id}')`]);
  assert.equal((await req(f.base, 'GET', `/v1/public/spaces/${old}`)).status, 200);
  // found lookups cost nothing; 50 unknown ones per 10 minutes, then 429
  for (let i = 0; i < 20; i++) assert.equal((await req(f.base, 'GET', `/v1/public/spaces/${old}`)).status, 200);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const guess = () => Array.from({ length: 8 }, () => alphabet[Math.floor(Math.random() * 32)]).join('');
  const got = [];
  for (let i = 0; i < 60; i++) got.push((await req(f.base, 'GET', `/v1/public/spaces/${guess()}`)).status);
  const misses = got.filter((s) => s === 404).length;
  assert.ok(misses <= 50 && got.slice(-5).every((s) => s === 429), got.join(','));
  const r = await req(f.base, 'GET', `/v1/public/spaces/${guess()}`);
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) > 0);
  assert.equal(r.json.error.code, 'rate_limited');
  // the password route counts the same way
  assert.equal((await req(f.base, 'POST', `/v1/public/spaces/${guess()}/access`, { body: { password: 'x' } })).status, 429);
});

test('absolute URLs and the Host header: a loud warning without public_url; allowed_hosts pins the names', async () => {
  assert.match(stack.log(), /public_url is not set: absolute URLs .* built from each request's Host header/);
  const pinned = await new Stack({ config: { allowed_hosts: 'files.example.com, cdn.example.com' } }).start();
  try {
    assert.doesNotMatch(pinned.log(), /public_url is not set/);
    for (const f of pinned.fronts) {
      const tn = (await req(f.base, 'POST', '/api/v1/admin/tenants', { key: pinned.adminKey, body: { name: uniq('pin') } })).json;
      const up = await req(f.base, 'POST', '/api/v1/upload/request', { key: tn.apiKey, body: { fileType: 'application/pdf', fileName: 'a.pdf' } });
      assert.equal((await req(f.base, 'PUT', up.json.presignedUrl, { body: Buffer.from('%PDF-1.4'), headers: { 'Content-Type': 'application/pdf' } })).status, 200);
      const url = async (host) => {
        const http = await import('node:http');
        const u = new URL(f.base);
        return new Promise((resolve, reject) => {
          const r = http.request({ host: u.hostname, port: u.port, path: `/api/v1/files/${up.json.fileId}/signed-url`,
            headers: { Host: host, Authorization: `Bearer ${tn.apiKey}` } }, (res) => {
            let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(JSON.parse(b).url));
          });
          r.on('error', reject); r.end();
        });
      };
      assert.match(await url('evil.example'), /^http:\/\/files\.example\.com(:\d+)?\/api\/v1\/files\//, `${f.name}: another Host gets the first allowed name`);
      assert.match(await url(`cdn.example.com:${new URL(f.base).port}`), /^http:\/\/cdn\.example\.com(:\d+)?\/api\/v1\/files\//, `${f.name}: an allowed Host is kept`);
    }
  } finally { await pinned.stop(); }
});

test('anonymous bucket creation is limited per client address (kv_bucket_create_limit an hour)', async () => {
  const s = await new Stack({ config: { kv_bucket_create_limit: 3 } }).start();
  try {
    const make = (f) => fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'o@example.com' }) });
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await make(s.fronts[i % 2]));
    assert.deepEqual(got.map((r) => r.status), [200, 200, 200, 429, 429], 'the limit is the pool\'s, through both web servers');
    const r = got[3];
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.deepEqual(await r.json(), { error: { code: 429, message: 'too_many_requests' } });
    // everything else on the buckets goes on
    const id = await got[0].text();
    assert.equal((await fetch(`${s.fronts[0].base}/api/v1/${id}/k`, { method: 'PUT', body: '1' })).status, 200);
  } finally { await s.stop(); }
});

test('what key-value buckets hold is bounded: keys and bytes per bucket and for all buckets (507, nothing half-written)', async () => {
  const s = await new Stack({ config: { kv_bucket_max_keys: 3, kv_bucket_max_bytes: 200, kv_max_keys: 5, kv_max_bytes: 100000 } }).start();
  try {
    const [ln, ng] = s.fronts;
    const full = { error: { code: 507, message: 'insufficient_storage' } };
    const make = async (f) => { const r = await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'o@example.com', default_ttl: '0' }) }); assert.equal(r.status, 200); return r.text(); };
    const kv = (f, b, method, k, body, q = '') => req(f.base, method, `/api/v1/${b}${k === null ? '' : '/' + k}${q}`, { body });
    const b1 = await make(ln);
    // three keys, one through each web server and a transaction
    assert.equal((await kv(ln, b1, 'PUT', 'a', 'x')).status, 200);
    assert.equal((await kv(ng, b1, 'PUT', 'b', 'x')).status, 200);
    assert.equal((await kv(ln, b1, 'POST', null, { txn: [{ set: 'c', value: 'x' }] })).status, 204);
    // a fourth: by PUT, by a counter, by a transaction, through both
    for (const f of s.fronts) {
      let r = await kv(f, b1, 'PUT', 'd', 'x');
      assert.equal(r.status, 507, `${f.name}: ${r.text}`);
      assert.deepEqual(r.json, full);
      r = await kv(f, b1, 'PATCH', 'n', '+1');
      assert.equal(r.status, 507, `${f.name} counter: ${r.text}`);
      // all or nothing: the transaction's overwrite of a does not happen either
      r = await kv(f, b1, 'POST', null, { txn: [{ set: 'a', value: 'changed' }, { set: 'e', value: 'x' }] });
      assert.equal(r.status, 507, `${f.name} txn: ${r.text}`);
      assert.equal((await kv(f, b1, 'GET', 'a')).text, 'x');
      assert.equal((await kv(f, b1, 'GET', 'd')).status, 404);
      assert.equal((await kv(f, b1, 'GET', 'n')).status, 404);
    }
    // what does not add a key passes: an overwrite, a counter on a key
    // that is there, a delete; and a delete makes room
    assert.equal((await kv(ng, b1, 'PUT', 'a', '5')).status, 200);
    assert.equal((await kv(ng, b1, 'PATCH', 'a', '+1')).text, '6');
    assert.equal((await kv(ln, b1, 'DELETE', 'b')).status, 204);
    assert.equal((await kv(ln, b1, 'PUT', 'd', 'x')).status, 200);
    // a transaction that deletes one and adds one stays within the limit
    assert.equal((await kv(ng, b1, 'POST', null, { txn: [{ delete: 'd' }, { set: 'e', value: 'x' }] })).status, 204);

    // bytes: key plus value, at the edge (200 per bucket)
    const b2 = await make(ng);
    assert.equal((await kv(ln, b2, 'PUT', 'k', 'v'.repeat(199))).status, 200, 'exactly 200 bytes');
    let r = await kv(ng, b2, 'PUT', 'k', 'v'.repeat(200));
    assert.equal(r.status, 507, '201 bytes');
    assert.deepEqual(r.json, full);
    assert.equal((await kv(ln, b2, 'GET', 'k')).text.length, 199, 'the stored value is kept');
    assert.equal((await kv(ng, b2, 'PUT', 'k', 'v'.repeat(50))).status, 200, 'a smaller overwrite passes');
    assert.equal((await kv(ng, b2, 'PUT', 'j', 'v'.repeat(148))).status, 200, 'to exactly 200 again');
    assert.equal((await kv(ln, b2, 'PUT', 'i', '1')).status, 507, 'two bytes more');

    // all buckets together: 5 keys (b1 holds 3, b2 holds 2)
    const b3 = await make(ln);
    for (const f of s.fronts) {
      r = await kv(f, b3, 'PUT', 'z', '1');
      assert.equal(r.status, 507, `${f.name}: the store is full: ${r.text}`);
      assert.deepEqual(r.json, full);
    }
    // deleting a bucket gives its keys back to the store
    assert.equal((await req(ln.base, 'DELETE', `/api/v1/${b2}`)).status, 204);
    assert.equal((await kv(ln, b3, 'PUT', 'z', '1')).status, 200);
    assert.equal((await kv(ng, b3, 'PUT', 'y', '1')).status, 200);
    assert.equal((await kv(ng, b3, 'PUT', 'x', '1')).status, 507);

    // an expired key counts until the sweep takes it (every 5 s), then not
    assert.equal((await kv(ln, b3, 'PUT', 'y', '1', '?ttl=1')).status, 200);
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      await new Promise((res) => setTimeout(res, 500));
      ok = (await kv(ng, b3, 'PUT', 'x', '1')).status === 200;
    }
    assert.ok(ok, 'the swept key made room within 20 s');

    // the counters the limits read add up
    const ck = s.ctl('check');
    assert.equal(ck.status, 0, ck.stdout + ck.stderr);
    assert.match(s.ctl('stats').stdout, /kv buckets +2 \(5 keys, \d+ bytes\)/);
    // and check notices when they do not
    const { spawnSync } = await import('node:child_process');
    const path = (await import('node:path')).default;
    spawnSync('sqlite3', [path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db'), `UPDATE kv_buckets SET used_keys = used_keys - 1 WHERE id = '${b3}'`]);
    const bad = s.ctl('check');
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(bad.stdout, new RegExp(`kv bucket ${b3}: used_keys 1, but it holds 2 keys`));
  } finally { await s.stop(); }
});

test('key-value limits by default: a bucket holds 100,000 keys and 64 MiB, all buckets 10 million keys and 2 GiB', async () => {
  // the defaults are in force: 65 transactions of 1 MiB-sized values fill
  // a bucket's 64 MiB (each 1,000 values of 1,000 bytes)
  const b = await (await fetch(stack.fronts[0].base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'o@example.com', default_ttl: '0' }) })).text();
  const value = 'v'.repeat(1000);
  let refused = 0, stored = 0;
  for (let t = 0; t < 70 && !refused; t++) {
    const txn = [];
    for (let i = 0; i < 1000; i++) txn.push({ set: `k${t}-${i}`, value });
    const r = await req(stack.fronts[t % 2].base, 'POST', `/api/v1/${b}`, { body: { txn } });
    if (r.status === 204) stored++;
    else { assert.equal(r.status, 507, r.text); refused++; }
  }
  assert.equal(refused, 1, 'the bucket filled');
  assert.ok(stored >= 64 && stored <= 66, `${stored} transactions stored`);
  // the bucket still answers, and a delete makes room
  assert.equal((await req(stack.fronts[1].base, 'GET', `/api/v1/${b}/k0-0`)).text, value);
  assert.equal((await req(stack.fronts[1].base, 'DELETE', `/api/v1/${b}`)).status, 204);
});
