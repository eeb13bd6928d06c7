// metrics-guard.test.mjs - /metrics is not open to anyone (the outside
// review): the shipped lighttpd and nginx snippets answer it only to this
// machine's own address, and metrics_token makes it need a Bearer token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Stack, eachFront } from './harness.mjs';

const stack = new Stack({ config: { metrics_token: 'scrape-me-please-0123456789' } });
before(() => stack.start());
after(() => stack.stop());

// A GET from a chosen local address (127.0.0.2 is loopback, but not the
// address the snippets let through).
function getFrom(base, path, localAddress, headers = {}) {
  const u = new URL(base + path);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, path, localAddress, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('metrics_token: /metrics needs the Bearer token; the health routes do not', (t) => eachFront(t, stack, async (f) => {
  let r = await getFrom(f.base, '/metrics', '127.0.0.1');
  assert.equal(r.status, 401, r.body);
  assert.deepEqual(JSON.parse(r.body), { error: { code: 401, message: 'unauthorized' } });
  assert.match(r.headers['www-authenticate'], /^Bearer/);
  r = await getFrom(f.base, '/metrics', '127.0.0.1', { Authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  r = await getFrom(f.base, '/metrics', '127.0.0.1', { Authorization: 'Bearer scrape-me-please-0123456789x' });
  assert.equal(r.status, 401, 'a longer token is not the token');
  r = await getFrom(f.base, '/metrics', '127.0.0.1', { Authorization: 'Bearer scrape-me-please-0123456789' });
  assert.equal(r.status, 200);
  assert.match(r.body, /^# (HELP|TYPE) /m);
  assert.equal((await getFrom(f.base, '/health', '127.0.0.1')).status, 200);
}));

test('the shipped snippets answer /metrics to this machine only', (t) => eachFront(t, stack, async (f) => {
  const r = await getFrom(f.base, '/metrics', '127.0.0.2', { Authorization: 'Bearer scrape-me-please-0123456789' });
  assert.equal(r.status, 403, `${f.name}: ${r.status}`);
  assert.ok(!/cubby_/.test(r.body));
  assert.equal((await getFrom(f.base, '/health', '127.0.0.2')).status, 200, 'everything else is served');
}));
