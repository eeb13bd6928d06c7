// abuse.test.mjs - hostile request shapes through lighttpd and nginx:
// deeply nested JSON, 10,000-element arrays, 100 MB of headers, a
// key-value listing of 1,000,000 keys (streamed: the workers' memory
// stays flat, and is reported); each answered clearly, and the pool
// serves on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, rawHttp } from './harness.mjs';

const stack = new Stack();
after(() => stack.stop());

const sql = (q) => spawnSync('sqlite3', [path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db'), q], { encoding: 'utf8' });
const rss = (pid) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
let tenantKey;
before(async () => {
  await stack.start();
  const r = await fetch(stack.fronts[0].base + '/api/v1/admin/tenants', { method: 'POST',
    headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' }, body: '{"name":"abuse"}' });
  tenantKey = (await r.json()).apiKey;
});

test('deeply nested JSON and 10,000-element arrays: a 400 naming the problem, at once', (t) => eachFront(t, stack, async (f) => {
  const post = (p, body) => fetch(f.base + p, { method: 'POST', headers: { Authorization: `Bearer ${tenantKey}`, 'Content-Type': 'application/json' }, body });
  const started = Date.now();
  // 100,000 levels deep (the parser stops at 32)
  let r = await post('/v1/assets', '['.repeat(100000) + ']'.repeat(100000));
  assert.ok(r.status === 400 || r.status === 413, `${r.status}`);
  const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
  r = await post('/v1/assets', deep);
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, 'validation_error');
  // 10,000 ids to publish: past the route's body cap; 101 past the
  // documented count, not 101 lookups
  const sp = await post('/v1/spaces', JSON.stringify({ name: 'a', visibility: 'public' }));
  const space = (await sp.json()).data.id;
  const ids = (n) => JSON.stringify({ asset_ids: Array.from({ length: n }, (_, i) => `ast_${String(i).padStart(32, '0')}`) });
  r = await post(`/v1/spaces/${space}/publications`, ids(10000));
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.code, 'payload_too_large');
  r = await post(`/v1/spaces/${space}/publications`, ids(101));
  assert.equal(r.status, 400);
  assert.match(JSON.stringify(await r.json()), /at most 100 assets/);
  // 10,000 tags on an asset
  r = await post('/v1/assets', JSON.stringify({ filename: 'x', size_bytes: 1, tags: Array.from({ length: 10000 }, (_, i) => `t${i}`) }));
  assert.ok(r.status === 400 || r.status === 413, `${r.status}`);
  // a key-value transaction of 10,000 operations
  const b = await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'a@example.com' }) });
  const bucket = await b.text();
  r = await fetch(`${f.base}/api/v1/${bucket}`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ txn: Array.from({ length: 10000 }, (_, i) => ({ set: `k${i}`, value: i })) }) });
  assert.ok(r.status === 400 || r.status === 413, `${r.status} ${await r.text()}`);
  assert.ok(Date.now() - started < 10000, 'answered at once');
  assert.equal((await fetch(f.base + '/health')).status, 200);
}));

test('100 MB of headers: the web server refuses them; the pool never sees them and serves on', (t) => eachFront(t, stack, async (f) => {
  const line = 'X-Flood: ' + 'a'.repeat(8000) + '\r\n';
  const head = `GET /health HTTP/1.1\r\nHost: x\r\n${line.repeat(Math.ceil(100e6 / line.length))}Connection: close\r\n\r\n`;
  const r = await rawHttp(f.port, head, 60000).catch((e) => ({ status: 0, error: String(e) }));
  // nginx: 400 (Request Header Or Cookie Too Large); lighttpd: 431; or
  // the connection cut while the client is still sending
  assert.ok([0, 400, 413, 431, 494].includes(r.status), `${r.status} ${r.error || ''}`);
  assert.equal((await fetch(f.base + '/health')).status, 200);
  assert.doesNotMatch(stack.log(), /X-Flood/);
}));

test('a key-value listing of 1,000,000 keys streams: every key, and the workers\' memory stays flat', { timeout: 240000 }, async () => {
  const f = stack.fronts[1];
  const b = await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'big@example.com' }) });
  const bucket = await b.text();
  const ins = sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
    INSERT INTO kv_entries (bucket_id, key, type, value) SELECT '${bucket}', CAST(printf('key-%07d', i) AS BLOB), 2, 'v' FROM n;`);
  assert.equal(ins.status, 0, ins.stderr);
  const workers = stack.workerPids();
  const before = Math.max(...workers.map(rss));
  const r = await fetch(`${f.base}/api/v1/${bucket}/?limit=1000000&format=text`);
  assert.equal(r.status, 200);
  // read it as it comes, counting lines
  let lines = 0, bytes = 0, last = '';
  const dec = new TextDecoder();
  for await (const chunk of r.body) {
    bytes += chunk.length;
    const s = last + dec.decode(chunk, { stream: true });
    const parts = s.split('\n');
    last = parts.pop();
    lines += parts.length;
  }
  if (last) lines++;
  assert.equal(lines, 1000000, `${bytes} bytes; ${last.slice(0, 200)}; ${sql(`SELECT count(*) FROM kv_entries WHERE bucket_id = '${bucket}'`).stdout}`);
  const afterRss = Math.max(...workers.map(rss));
  console.log(`# 1M-key listing: ${(bytes / 1048576).toFixed(1)} MiB sent; workers' peak RSS ${before} kB before, ${afterRss} kB after`);
  assert.ok(afterRss - before < 32 * 1024, `a worker grew by ${afterRss - before} kB`);
});
