// cors.test.mjs - CORS for browsers calling the API and uploading to
// presigned URLs from another origin: preflights, allowed and refused
// origins, exposed headers, and CORS headers on errors too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, eachFront } from './harness.mjs';

const APP = 'https://app.example.com';
const stack = new Stack({ config: { cors_origins: `${APP}, https://admin.example.com` } });
before(() => stack.start());
after(() => stack.stop());

test('preflight on API, upload and download routes', (t) => eachFront(t, stack, async (f) => {
  for (const [p, method, allow] of [
    ['/api/v1/upload/request', 'POST', 'POST'],
    ['/_internal/upload/tenants/00000000-0000-4000-8000-000000000000/files/00000000-0000-4000-8000-000000000000/a.png', 'PUT', 'PUT'],
    ['/api/v1/files/00000000-0000-4000-8000-000000000000/download', 'GET', 'GET, HEAD'],
    ['/api/v1/00000000-0000-4000-8000-000000000000/some-key', 'PUT', 'GET, HEAD, PUT, POST, PATCH, DELETE'],
  ]) {
    const r = await fetch(f.base + p, { method: 'OPTIONS', headers: { Origin: APP, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'content-type' } });
    assert.equal(r.status, 204, p);
    assert.equal(r.headers.get('access-control-allow-origin'), APP);
    assert.equal(r.headers.get('access-control-allow-methods'), allow, p);
    assert.match(r.headers.get('access-control-allow-headers'), /Content-Type/);
    assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
    assert.equal(r.headers.get('access-control-max-age'), '600');
    assert.match(r.headers.get('vary'), /Origin/);
  }
}));

test('an origin not on the list gets no CORS headers', (t) => eachFront(t, stack, async (f) => {
  let r = await fetch(f.base + '/api/v1/upload/request', { method: 'OPTIONS', headers: { Origin: 'https://evil.example.net', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal(r.headers.get('access-control-allow-methods'), null);
  r = await fetch(f.base + '/health', { headers: { Origin: 'https://app.example.com.evil.net' } });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  r = await fetch(f.base + '/nope', { method: 'OPTIONS' });
  assert.equal(r.status, 404);
}));

test('responses to an allowed origin, errors included, carry CORS headers and expose ETag', (t) => eachFront(t, stack, async (f) => {
  let r = await fetch(f.base + '/health', { headers: { Origin: APP } });
  assert.equal(r.headers.get('access-control-allow-origin'), APP);
  assert.match(r.headers.get('access-control-expose-headers'), /ETag/);
  r = await fetch(f.base + '/api/v1/tenant/info', { headers: { Origin: 'https://admin.example.com' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://admin.example.com');
  r = await fetch(f.base + '/api/v1/upload/nope', { headers: { Origin: APP } });
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('access-control-allow-origin'), APP);
  r = await fetch(f.base + '/health', { method: 'DELETE', headers: { Origin: APP } });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('access-control-allow-origin'), APP);
}));

test('without cors_origins there are no CORS headers (the default)', async () => {
  const s = await new Stack().start();
  try {
    const r = await fetch(s.fronts[0].base + '/health', { headers: { Origin: APP } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    const o = await fetch(s.fronts[0].base + '/health', { method: 'OPTIONS', headers: { Origin: APP, 'Access-Control-Request-Method': 'GET' } });
    assert.equal(o.status, 204);
    assert.equal(o.headers.get('allow'), 'GET, HEAD');
    assert.equal(o.headers.get('access-control-allow-origin'), null);
  } finally { await s.stop(); }
});
