// errors.test.mjs - router errors in each dialect's envelope, body limits,
// malformed input, header limits: each gets a clear status and the worker
// lives on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, eachFront, rawHttp } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

const kv404 = { error: { code: 404, message: 'not_found' } };

test('unknown path: 404 in the envelope of the document that owns the prefix', (t) => eachFront(t, stack, async (f) => {
  let r = await fetch(f.base + '/nope');
  assert.equal(r.status, 404);
  assert.deepEqual(await r.json(), kv404);

  r = await fetch(f.base + '/api/v1/upload/nope');    // file API prefix, no such route
  assert.equal(r.status, 404);
  const fe = await r.json();
  assert.equal(fe.error.code, 'NOT_FOUND');
  assert.equal(typeof fe.error.message, 'string');
  assert.deepEqual(fe.error.details, {});

  r = await fetch(f.base + '/v1/nope');                // asset API prefix, no such route
  assert.equal(r.status, 404);
  const ae = await r.json();
  assert.equal(ae.data, null);
  assert.equal(ae.error.code, 'not_found');
  assert.equal(typeof ae.error.message, 'string');
}));

test('known path, wrong method: 405 with Allow', (t) => eachFront(t, stack, async (f) => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = await fetch(f.base + '/health', { method: m });
    assert.equal(r.status, 405, m);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    assert.deepEqual(await r.json(), { error: { code: 405, message: 'method_not_allowed' } });
  }
}));

// Who answers malformed input: some of it the web server refuses itself,
// in its own format, before Cubby sees it. Everything that reaches Cubby is
// answered in the envelope. The table pins both, so a change either way
// shows up. 'cubby' = Cubby's KV envelope; 'front' = the web server's page.
const malformed = [
  // request line,                      lighttpd,  nginx,   status
  ['GET /health?a=%zz',                 'cubby',   'cubby', 400],
  ['GET /health?a=%',                   'cubby',   'cubby', 400],
  ['GET /health?a=%4',                  'cubby',   'cubby', 400],
  ['GET /health?%00=1',                 'front',   'cubby', 400],
  ['GET /api/v1/b/%zz',                 'cubby',   'front', 400],
  ['GET /api/v1/b/%',                   'cubby',   'front', 400],
  ['GET /api/v1/b/a%00b',               'front',   'front', 400],
];

test('malformed percent-encoding: 400, in the envelope whenever it reaches Cubby', (t) => eachFront(t, stack, async (f) => {
  for (const [line, l, n, status] of malformed) {
    const who = f.name === 'lighttpd' ? l : n;
    const r = await rawHttp(f.port, `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, status, `${f.name} ${line}`);
    if (who === 'cubby')
      assert.deepEqual(JSON.parse(r.body), { error: { code: 400, message: 'bad_request' } }, `${f.name} ${line}`);
    else
      assert.ok(!r.body.startsWith('{'), `${f.name} ${line}: expected the front to answer itself`);
  }
  assert.equal((await fetch(f.base + '/health')).status, 200);
}));

test('a body over the route limit: 413 from Cubby before the handler runs', async () => {
  // lighttpd refuses a GET with a body itself (400); through nginx it
  // reaches Cubby, whose route table says /ready takes no body.
  const nginx = stack.fronts.find((f) => f.name === 'nginx');
  for (const size of [1, 100000]) {
    const r = await rawHttp(nginx.port, `GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n` + 'a'.repeat(size));
    assert.equal(r.status, 413, `size ${size}`);
    assert.deepEqual(JSON.parse(r.body), { error: { code: 413, message: 'payload_too_large' } });
  }
  const light = stack.fronts.find((f) => f.name === 'lighttpd');
  const r = await rawHttp(light.port, 'GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  assert.equal(r.status, 400);
  for (const f of stack.fronts) assert.equal((await fetch(f.base + '/health')).status, 200);
});

test('headers near the limits: a clear status, and the pool lives on', (t) => eachFront(t, stack, async (f) => {
  // A 4 KiB header is fine everywhere.
  let r = await fetch(f.base + '/health', { headers: { 'X-Big': 'a'.repeat(4000) } });
  assert.equal(r.status, 200);
  // 64 KiB of one header: the web server refuses it (431/400/413), never a 5xx.
  r = await rawHttp(f.port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Huge: ${'a'.repeat(65536)}\r\nConnection: close\r\n\r\n`);
  assert.ok([400, 413, 431, 494].includes(r.status), `got ${r.status}`);
  // Many headers
  const many = Array.from({ length: 100 }, (_, i) => `X-H${i}: v${i}`).join('\r\n');
  r = await rawHttp(f.port, `GET /health HTTP/1.1\r\nHost: x\r\n${many}\r\nConnection: close\r\n\r\n`);
  assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `got ${r.status}`);
  assert.equal((await fetch(f.base + '/health')).status, 200);
}));

test('unknown methods get a clear 4xx/501, never a crash', (t) => eachFront(t, stack, async (f) => {
  for (const m of ['FOO', 'PROPFIND', 'BREW']) {
    const r = await rawHttp(f.port, `${m} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.ok(r.status === 405 || r.status === 400 || r.status === 501, `${m}: ${r.status}`);
    if (r.status === 405) assert.equal(JSON.parse(r.body).error.code, 405);
  }
  assert.equal((await fetch(f.base + '/health')).status, 200);
}));

test('no worker died while serving the bad input above', async () => {
  const m = await (await fetch(stack.fronts[0].base + '/metrics')).text();
  assert.match(m, /cubby_worker_restarts_total 0/);
  assert.ok(!/killed by signal/.test(stack.log()));
});
