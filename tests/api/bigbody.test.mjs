// bigbody.test.mjs - a 2 GiB request body through each front server with
// the shipped snippets (lighttpd, nginx, Apache mod_proxy_fcgi and Apache
// mod_fcgid): one multipart part of 2 GiB, streamed from memory
// (a 1 MiB block repeated), carrying its SHA-256 so the server checks
// every byte as it stores them. Fronts that cut large bodies (a proxy's
// 413, a size limit in KiB that overflows, a read timeout) fail here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { Stack, eachFront, sleep } from './harness.mjs';

// lighttpd, nginx and Apache's mod_proxy_fcgi in front of one pool.
const stack = new Stack();
before(async () => {
  await stack.start();
  await stack.waitHealthy(await stack.startApache({ site: 'etc/apache-proxy-fcgi.conf', modules: ['proxy', 'proxy_fcgi'] }));
});
after(() => stack.stop());

const MiB = 1024 * 1024;
const SIZE = 2048 * MiB;
const block = crypto.randomBytes(MiB);
const sha = (() => {
  const h = crypto.createHash('sha256');
  for (let i = 0; i < SIZE / MiB; i++) h.update(block);
  return h.digest();
})();

async function api(base, method, p, key, body) {
  const r = await fetch(base + p, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

// PUT the 2 GiB body to url, a block at a time, minding back-pressure.
function putBig(url) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'Content-Length': SIZE,
      'x-amz-checksum-sha256': sha.toString('base64') } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < SIZE) {
        sent += MiB;
        if (!req.write(block)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

async function bigPart(t, stack, f) {
  const t0 = await api(f.base, 'POST', '/api/v1/admin/tenants', stack.adminKey, { name: `big-${f.name}`, quotaBytes: 3 * SIZE });
  const key = t0.json.apiKey;
  const c = await api(f.base, 'POST', '/v1/assets', key, { filename: 'big.bin', size_bytes: SIZE, multipart: true, part_size: SIZE });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const id = c.json.data.asset.id, up = c.json.data.upload.upload_id;
  assert.equal(c.json.data.upload.part_count, 1);
  const p = await api(f.base, 'POST', `/v1/assets/${id}/parts`, key, { upload_id: up, part_number: 1 });
  const started = Date.now();
  const r = await putBig(p.json.data.url);
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).data.size_bytes, SIZE);
  const done = await api(f.base, 'POST', `/v1/assets/${id}/complete`, key, { upload_id: up });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(done.json.data.size_bytes, SIZE);
  assert.equal(done.json.data.status, 'active');
  t.diagnostic(`${f.name}: 2 GiB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // the disk back for the next front
  assert.equal((await api(f.base, 'DELETE', `/v1/assets/${id}`, key)).status, 200);
}

test('a 2 GiB part goes through each front, byte for byte', { timeout: 600000 }, (t) => eachFront(t, stack, (f) => bigPart(t, stack, f)));

// mod_fcgid reads the whole body into a temp file before the pool sees it;
// the shipped snippet's FcgidMaxRequestLen lets a 5 GiB part through.
test('a 2 GiB part through Apache mod_fcgid (etc/apache-fcgid.conf)', { timeout: 600000 }, async (t) => {
  const s = new Stack({ config: { listen: '' } });
  try {
    s.init();
    if (process.getuid && process.getuid() === 0) spawnSync('chown', ['-R', 'nobody:nogroup', s.dirs.localstatedir]);
    const f = await s.startApache({ site: 'etc/apache-fcgid.conf', modules: ['fcgid'] });
    for (const end = Date.now() + 20000; Date.now() < end; await sleep(100)) {
      try { if ((await fetch(f.base + '/health')).status === 200) break; } catch { /* starting */ }
    }
    await bigPart(t, s, f);
  } finally { await s.stop(); }
});
