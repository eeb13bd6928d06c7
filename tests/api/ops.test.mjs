// ops.test.mjs - /health, /ready and /metrics through lighttpd and nginx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, eachFront, sleep } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

test('GET /health answers in the KV document shape', (t) => eachFront(t, stack, async (f) => {
  const r = await fetch(f.base + '/health');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{20}$/);
  const body = await r.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.storage, 'ok');
  assert.equal(typeof body.version, 'string');
}));

test('HEAD /health has the headers and no body', (t) => eachFront(t, stack, async (f) => {
  const r = await fetch(f.base + '/health', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), '48');
  assert.equal((await r.text()).length, 0);
}));

test('a sane client X-Request-Id is echoed, a bad one replaced', (t) => eachFront(t, stack, async (f) => {
  let r = await fetch(f.base + '/health', { headers: { 'X-Request-Id': 'client-abc.123' } });
  assert.equal(r.headers.get('x-request-id'), 'client-abc.123');
  r = await fetch(f.base + '/health', { headers: { 'X-Request-Id': 'has spaces and "quotes"' } });
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{20}$/);
}));

test('GET /ready is 200 while the database answers', (t) => eachFront(t, stack, async (f) => {
  const r = await fetch(f.base + '/ready');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok', storage: 'ok', version: (await (await fetch(f.base + '/health')).json()).version });
}));

test('GET /ready is 503 degraded while the database is gone, 200 when back', async () => {
  const data = path.join(stack.dirs.localstatedir, 'lib', 'cubby');
  const moved = data + '.away';
  fs.renameSync(data, moved);
  try {
    for (const f of stack.fronts) {
      // every worker must notice, whichever answers: ask several times
      for (let i = 0; i < 6; i++) {
        const r = await fetch(f.base + '/ready');
        assert.equal(r.status, 503, `${f.name} try ${i}`);
        assert.deepEqual(await r.json(), { status: 'degraded', storage: 'error', version: '0.1.0' });
      }
      // liveness does not depend on storage
      assert.equal((await fetch(f.base + '/health')).status, 200);
      // creating a bucket (no credential, no bucket to load) says so too,
      // and takes no worker down
      const workers = stack.workerPids().sort();
      for (let i = 0; i < 4; i++) {
        const r = await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'o@example.com' }) });
        assert.equal(r.status, 503, `${f.name} bucket creation, try ${i}`);
        assert.deepEqual(await r.json(), { error: { code: 503, message: 'service_unavailable' } });
      }
      assert.deepEqual(stack.workerPids().sort(), workers, 'no worker died');
    }
  } finally {
    fs.renameSync(moved, data);
  }
  // workers retry opening at most once a second
  await sleep(1100);
  for (const f of stack.fronts)
    for (let i = 0; i < 6; i++)
      assert.equal((await fetch(f.base + '/ready')).status, 200, `${f.name} recovered, try ${i}`);
});

function metricValue(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('GET /metrics counts the whole pool, whichever worker answers', (t) => eachFront(t, stack, async (f) => {
  const series = 'cubby_requests_total{route="GET /health",status="200"}';
  const before = metricValue(await (await fetch(f.base + '/metrics')).text(), series);
  const n = 40;
  await Promise.all(Array.from({ length: n }, () => fetch(f.base + '/health').then((r) => r.text())));
  const r = await fetch(f.base + '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  // Other subtests may run in between on the other front: at least n more.
  assert.ok(metricValue(text, series) - before >= n, `counted ${metricValue(text, series) - before} of ${n}`);
  assert.equal(metricValue(text, 'cubby_workers_alive'), 2);
  assert.match(text, /# TYPE cubby_request_duration_seconds histogram/);
  assert.match(text, /cubby_request_duration_seconds_bucket\{route="GET \/health",le="\+Inf"\} \d+/);
  assert.match(text, /cubby_response_bytes_total \d+/);
  assert.match(text, /cubby_request_bytes_total \d+/);
  assert.match(text, /cubby_worker_restarts_total \d+/);
}));

test('the access log has one line per request and never a query string', async () => {
  const marker = 'rid-' + Date.now();
  await fetch(stack.fronts[0].base + '/health?access_token=sekrit-token-value', { headers: { 'X-Request-Id': marker } });
  await sleep(50);
  const lines = stack.log().split('\n').filter((l) => l.includes(marker));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /access rid=rid-\d+ GET \/health 200 /);
  assert.ok(!stack.log().includes('sekrit-token-value'), 'a credential in the query reached the log');
});

test('access_log_format = json: one JSON object per request, still no query string', async () => {
  stack.writeConfig({ access_log_format: 'json' });
  stack.pool.kill('SIGHUP');
  const marker = `json-${process.pid}`;
  const f = stack.fronts[1];
  let line;
  for (let i = 0; i < 100 && !line; i++) {
    await fetch(`${f.base}/health?access_token=sekrit-json-token`, { headers: { 'X-Request-Id': `${marker}-${i}` } });
    line = stack.log().split('\n').find((l) => l.startsWith('{') && l.includes(marker));
    if (!line) await sleep(50);
  }
  assert.ok(line, 'a JSON access line after the reload');
  const j = JSON.parse(line);
  assert.deepEqual(Object.keys(j), ['time', 'level', 'type', 'pid', 'rid', 'method', 'path', 'route',
    'status', 'bytes_in', 'bytes_out', 'duration_ms', 'remote_addr']);
  assert.equal(j.type, 'access');
  assert.equal(j.method, 'GET');
  assert.equal(j.path, '/health');
  assert.equal(j.route, '/health');
  assert.equal(j.status, 200);
  assert.equal(j.remote_addr, '127.0.0.1');
  assert.match(j.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(!stack.log().includes('sekrit-json-token'));
  // a bad value is refused at reload, and the running configuration kept
  stack.writeConfig({ access_log_format: 'xml' });
  stack.pool.kill('SIGHUP');
  for (let i = 0; i < 100 && !/access_log_format must be text or json/.test(stack.log()); i++) await sleep(50);
  assert.match(stack.log(), /access_log_format must be text or json/);
  stack.writeConfig();
  stack.pool.kill('SIGHUP');
  await sleep(300);
});

test('docs/metrics.md documents exactly the series /metrics serves', async () => {
  const f = stack.fronts[1];
  await fetch(f.base + '/health');
  const text = await (await fetch(f.base + '/metrics')).text();
  const served = new Set(text.split('\n').filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/[{ ].*$/, '').replace(/_(bucket|sum|count)$/, '')));
  const doc = fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../docs/metrics.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(cubby_[a-z_]+)` \|/gm)].map((m) => m[1]));
  assert.deepEqual([...served].sort(), [...documented].sort());
  // every label name used is described
  for (const label of new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1])))
    assert.match(doc, new RegExp(`^- \`${label}\``, 'm'), `label ${label} is documented`);
});

test('log_file: lines go to the file; after logrotate moves it, SIGHUP starts a new one', async () => {
  const s = new Stack();
  const file = path.join(s.tmp, 'cubby-file.log');
  s.opts.config = { log_file: file };
  try {
    s.init();
    s.startPool();
    for (let i = 0; i < 100 && !fs.existsSync(s.socket); i++) await sleep(50);
    const f = await s.startNginx();
    await s.waitHealthy(f);
    const seen = async (id, p) => {
      for (let i = 0; i < 100; i++) {
        await fetch(f.base + '/health', { headers: { 'X-Request-Id': `${id}-${i}` } });
        if (fs.existsSync(p) && fs.readFileSync(p, 'utf8').includes(id)) return true;
        await sleep(50);
      }
      return false;
    };
    assert.ok(await seen('before-rotate', file), 'access lines in log_file');
    assert.ok(!s.log().includes('before-rotate'), 'not on stderr');
    fs.renameSync(file, file + '.1');
    s.pool.kill('SIGHUP');
    assert.ok(await seen('after-rotate', file), 'a new file after the reload');
    // the master's own line lands there too (a new worker may answer first)
    for (let i = 0; i < 100 && !/reload: generation 2/.test(fs.readFileSync(file, 'utf8')); i++) await sleep(50);
    assert.match(fs.readFileSync(file, 'utf8'), /reload: generation 2/);
    // Old workers finish into the old file; once they are gone, every
    // line goes to the new one.
    await sleep(500);
    assert.ok(await seen('settled', file));
    assert.ok(!fs.readFileSync(file + '.1', 'utf8').includes('settled'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  } finally {
    await s.stop();
  }
});
