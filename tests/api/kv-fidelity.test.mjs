// kv-fidelity.test.mjs - the key-value API answers as Keydock does where
// the document is silent: its HTTP tests (vinicius73/keydock,
// apps/keydock/tests/*.rs) ported here as checks of our own, through
// lighttpd and nginx; and where security wins over fidelity (no anonymous
// takeover, no control character in a key, strict JSON). Each choice is in
// docs/api-notes.md with the reference that decided it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, eachFront, sleep, checkJsonAnswer } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

const NAMES = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 406: 'not_acceptable' };
const E = (code) => ({ error: { code, message: NAMES[code] } });
const TEXT = 'text/plain; charset=utf-8';

async function bucket(base, fields = {}) {
  const r = await fetch(base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'owner@example.com', ...fields }) });
  assert.equal(r.status, 200, await r.clone().text());
  return r.text();
}
function call(base, method, p, { cred, body, type } = {}) {
  const headers = {};
  if (cred) headers.Authorization = `Bearer ${cred}`;
  if (type !== undefined) headers['Content-Type'] = type;
  return fetch(base + p, { method, headers, body });
}
async function expectErr(r, code, what = '') {
  assert.equal(r.status, code, `${what} ${r.url}: ${r.status}`);
  assert.deepEqual(await r.json(), E(code), what);
}
async function token(base, id, secret, prefix, permissions, ttl = '600') {
  const r = await call(base, 'POST', `/api/v1/${id}/tokens/`, { cred: secret, body: new URLSearchParams({ prefix, permissions, ttl }) });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}
const txn = (base, id, cred, ops) => call(base, 'POST', `/api/v1/${id}`, { cred, body: typeof ops === 'string' ? ops : JSON.stringify({ txn: ops }), type: 'application/json' });

// auth_anonymous_matrix.rs: nine credential set-ups x read/enumerate/write/delete
test('Keydock: the anonymous-access matrix, with its exact answers', (t) => eachFront(t, stack, async (f) => {
  const cases = [
    [{}, 404, 200, 200, 204], [{ secret_key: 's' }, 404, 200, 200, 401], [{ read_key: 'r' }, 401, 200, 401, 401],
    [{ write_key: 'w' }, 404, 401, 200, 401], [{ secret_key: 's', read_key: 'r' }, 401, 200, 401, 401],
    [{ secret_key: 's', write_key: 'w' }, 404, 401, 200, 401], [{ read_key: 'r', write_key: 'w' }, 401, 401, 401, 401],
    [{ secret_key: 's', read_key: 'r', write_key: 'w' }, 401, 401, 401, 401], [{ signing_key: 'sg' }, 404, 200, 200, 204]];
  for (const [cfg, read, write, enumerate, del] of cases) {
    const id = await bucket(f.base, cfg);
    const label = JSON.stringify(cfg);
    const g = await call(f.base, 'GET', `/api/v1/${id}/missing`);
    await expectErr(g, read, label);
    const l = await call(f.base, 'GET', `/api/v1/${id}/?format=json`);
    if (enumerate === 200) assert.deepEqual([l.status, await l.json()], [200, []], label);
    else await expectErr(l, enumerate, label);
    const w = await call(f.base, 'PUT', `/api/v1/${id}/matrix-key`, { body: 'value', type: 'text/plain; charset=utf-8' });
    if (write === 200) {
      assert.equal(w.status, 200, label);
      assert.equal(w.headers.get('content-type'), TEXT);
      assert.equal(await w.text(), 'value');
    } else await expectErr(w, write, label);
    const d = await call(f.base, 'DELETE', `/api/v1/${id}/matrix-key`);
    if (del === 204) assert.equal(d.status, 204, label);
    else await expectErr(d, del, label);
  }
}));

// The first point: anonymous rights apply only when no credential
// is presented (Keydock's BucketAuth::require_*).
test('a presented credential is judged on its own rights, public buckets included', (t) => eachFront(t, stack, async (f) => {
  // secret + signing only: anonymous may read, write and list
  const id = await bucket(f.base, { secret_key: 'sec', signing_key: 'sign' });
  assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/admin:config`, { body: 'cfg' })).status, 200);
  const tok = await token(f.base, id, 'sec', 'user:42:', 'read,write,enumerate,delete');
  // the document's own example
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/admin:config`, { cred: tok }), 403, 'read');
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}/admin:config`, { cred: tok })).status, 403, 'head');
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/admin:config`, { cred: tok, body: 'x' }), 403, 'write');
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}/y:key`, { cred: tok, body: '+1' }), 403, 'counter');
  await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}/admin:config`, { cred: tok }), 403, 'delete');
  await expectErr(await txn(f.base, id, tok, [{ set: 'y:k', value: '1' }]), 403, 'txn set');
  await expectErr(await txn(f.base, id, tok, [{ delete: 'admin:config' }]), 403, 'txn delete');
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: tok }), 403, 'policy');
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/admin:config`)).text(), 'cfg', 'untouched');
  // a wrong credential is 401 even where anonymous would pass
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/admin:config`, { cred: 'wrong' }), 401);
  const pub = await bucket(f.base);
  await expectErr(await call(f.base, 'GET', `/api/v1/${pub}/k`, { cred: 'anything' }), 401);

  // read_key and write_key beyond their rights, where anonymous has them
  const rk = await bucket(f.base, { secret_key: 's', read_key: 'r' });   // anonymous writes
  await expectErr(await call(f.base, 'PUT', `/api/v1/${rk}/k`, { cred: 'r', body: 'x' }), 403, 'read key writes');
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${rk}/k`, { cred: 'r', body: '+1' }), 403, 'read key counts');
  await expectErr(await txn(f.base, rk, 'r', [{ set: 'k', value: 1 }]), 403, 'read key txn');
  assert.equal((await call(f.base, 'PUT', `/api/v1/${rk}/k`, { body: 'x' })).status, 200, 'anonymous writes');
  const wk = await bucket(f.base, { secret_key: 's', write_key: 'w' });  // anonymous reads and lists
  assert.equal((await call(f.base, 'PUT', `/api/v1/${wk}/k`, { cred: 'w', body: 'x' })).status, 200);
  await expectErr(await call(f.base, 'GET', `/api/v1/${wk}/k`, { cred: 'w' }), 403, 'write key reads');
  await expectErr(await call(f.base, 'GET', `/api/v1/${wk}/`, { cred: 'w' }), 403, 'write key lists');
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${wk}/k`)).text(), 'x', 'anonymous reads');
  // the write key deletes, with DELETE and in a transaction (the document's example)
  assert.equal((await txn(f.base, wk, 'w', [{ set: 'k2', value: 'v' }, { delete: 'k' }])).status, 204);
  assert.equal((await call(f.base, 'DELETE', `/api/v1/${wk}/k2`, { cred: 'w' })).status, 204);
}));

test('token listings are narrowed to the token prefix; values need read', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { secret_key: 'sec', signing_key: 'sign' });
  for (const k of ['admin:a', 'user:41:a', 'user:42:a', 'user:42:b']) await call(f.base, 'PUT', `/api/v1/${id}/${k}`, { body: k });
  const tok = await token(f.base, id, 'sec', 'user:42:', 'read,enumerate');
  const list = async (q, cred = tok) => (await call(f.base, 'GET', `/api/v1/${id}/?format=json${q}`, { cred })).json();
  assert.deepEqual(await list(''), ['user:42:a', 'user:42:b']);
  assert.deepEqual(await list('&prefix=user:'), ['user:42:a', 'user:42:b'], 'broader: the scope');
  assert.deepEqual(await list('&prefix=user:42:b'), ['user:42:b'], 'narrower: kept');
  assert.deepEqual(await list('&prefix=admin'), [], 'outside: empty');
  assert.deepEqual(await list('&prefix=user:41:'), []);
  assert.deepEqual(await list('&values=true'), [['user:42:a', 'user:42:a'], ['user:42:b', 'user:42:b']]);
  const enumOnly = await token(f.base, id, 'sec', 'user:42:', 'enumerate');
  assert.deepEqual(await list('', enumOnly), ['user:42:a', 'user:42:b']);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/?values=true`, { cred: enumOnly }), 403);
  const readOnly = await token(f.base, id, 'sec', 'user:42:', 'read');
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/`, { cred: readOnly }), 403);
}));

// Security wins: the takeover an outside review found.
test('no anonymous admin on a bucket with any credential: the takeover is refused', (t) => eachFront(t, stack, async (f) => {
  for (const cfg of [{ read_key: 'r', write_key: 'w' }, { read_key: 'r' }, { write_key: 'w' }, { signing_key: 'sg' }]) {
    const id = await bucket(f.base, cfg);
    const label = JSON.stringify(cfg);
    const patch = await call(f.base, 'PATCH', `/api/v1/${id}`, { body: JSON.stringify({ secret_key: 'mine', read_key: 'mine-r' }), type: 'application/json' });
    await expectErr(patch, 403, label);
    await expectErr(await call(f.base, 'GET', `/api/v1/${id}`), 403, label);
    await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}`), 403, label);
    await expectErr(await call(f.base, 'POST', `/api/v1/${id}/tokens/`, { body: new URLSearchParams({ prefix: 'a', permissions: 'read', ttl: '60' }) }), 403, label);
    assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}`)).status, 404, label);
    // the owner's keys still work, and no secret key was set
    if (cfg.read_key) assert.equal((await call(f.base, 'GET', `/api/v1/${id}/`, { cred: 'r' })).status, 200, label);
    if (cfg.write_key) assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/k`, { cred: 'w', body: '1' })).status, 200, label);
    await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'mine' }), 401, label);
  }
  // a bucket with no credential at all stays anyone's (the document: fully public)
  const open = await bucket(f.base);
  assert.equal((await call(f.base, 'PATCH', `/api/v1/${open}`, { body: '{"secret_key":"claimed"}', type: 'application/json' })).status, 204);
  assert.equal((await call(f.base, 'GET', `/api/v1/${open}`, { cred: 'claimed' })).status, 200);
  await expectErr(await call(f.base, 'GET', `/api/v1/${open}`), 403);
}));

// keys_crud.rs, keys_counter.rs, keys_txn.rs: values, numbers and counters
test('Keydock: values and counters as text/plain, numbers written as it writes them', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { read_key: 'r', write_key: 'w' });
  const put = (k, body, type) => call(f.base, 'PUT', `/api/v1/${id}/${k}`, { cred: 'w', body, type });
  const get = async (k) => { const r = await call(f.base, 'GET', `/api/v1/${id}/${k}`, { cred: 'r' }); return [r.status, r.headers.get('content-type'), await r.text()]; };
  const inc = (k, d, q = '') => call(f.base, 'PATCH', `/api/v1/${id}/${k}${q}`, { cred: 'w', body: d });
  // an empty PUT is empty text
  let r = await put('empty');
  assert.deepEqual([r.status, r.headers.get('content-type'), await r.text()], [200, TEXT, '']);
  for (const [body, back] of [['42', '42'], ['3.14', '3.14'], ['+5', '+5'], ['-0', '-0'], ['1e3', '1e3']]) {
    r = await put('num', body, '');
    assert.deepEqual([r.status, r.headers.get('content-type'), await r.text()], [200, TEXT, back], body);
    assert.deepEqual(await get('num'), [200, TEXT, back], body);
  }
  await put('n', '10', 'text/plain');
  assert.deepEqual([(r = await inc('n', '+5')).status, r.headers.get('content-type'), await r.text()], [200, TEXT, '15']);
  await put('pf', '10', '');
  assert.equal(await (await inc('pf', '+1.5')).text(), '11.5');
  await put('fi', '1.5', '');
  assert.equal(await (await inc('fi', '+1')).text(), '2.5');
  await put('ten', '9.5', '');
  assert.equal(await (await inc('ten', '+0.5')).text(), '10', '10.0 is written 10');
  assert.deepEqual(await get('ten'), [200, TEXT, '10']);
  await put('plus', '+5', '');
  assert.equal(await (await inc('plus', '+5')).text(), '10', '"+5" counts as 5');
  assert.equal(await (await inc('big', '+1e21')).text(), '1000000000000000000000');
  assert.equal(await (await inc('tiny', '+1e-7')).text(), '0.0000001');
  assert.equal(await (await inc('m3', '-3')).text(), '-3');
  for (const bad of ['5', '+Inf', '+NaN', '', '+'])
    await expectErr(await inc('bad', bad), 400, `delta ${JSON.stringify(bad)}`);
  await put('txt', 'hello', 'text/plain');
  await expectErr(await inc('txt', '+1'), 400, 'not numeric');
  // overflow is 400 and the value is kept
  await put('ov', '9223372036854775807', '');
  await expectErr(await inc('ov', '+1'), 400, 'overflow');
  assert.deepEqual(await get('ov'), [200, TEXT, '9223372036854775807']);
  // a counter's ttl
  assert.equal((await inc('ttl', '+1', '?ttl=1')).status, 200);
  await sleep(2100);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/ttl`, { cred: 'r' }), 404);
  // limits: a 129-byte key and a 16 KiB + 1 value are 400 bad_request
  await expectErr(await put('a'.repeat(129), 'x'), 400, 'long key');
  await expectErr(await put('bigv', Buffer.alloc(16 * 1024 + 1, 'x'), 'application/octet-stream'), 400, 'big value');
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/bigv`, { cred: 'r' }), 404);
  // writes without a credential, and with the wrong one
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}/k`, { body: '+1' }), 401);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}/k`, { cred: 'r', body: '+1' }), 403);
}));

test('Keydock: transactions: empty batch, percent-decoded keys, value types, item shapes', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { read_key: 'r', write_key: 'w' });
  const get = async (k) => { const r = await call(f.base, 'GET', `/api/v1/${id}/${k}`, { cred: 'r' }); return [r.status, r.headers.get('content-type'), await r.text()]; };
  assert.equal((await txn(f.base, id, 'w', [])).status, 204);
  assert.equal((await txn(f.base, id, 'w', [{ set: 'hello%20world', value: 'ok' }])).status, 204);
  assert.deepEqual(await get('hello%20world'), [200, TEXT, 'ok']);
  assert.equal((await txn(f.base, id, 'w', [{ set: 'i', value: 42 }, { set: 'fl', value: 1.5 }, { set: 'b', value: true },
    { set: 'o', value: { a: 1, b: 'x' } }, { set: 'arr', value: [1, 2, 3] }, { set: 's', value: 'olá' }, { set: 'ns', value: '42' }])).status, 204);
  assert.deepEqual(await get('i'), [200, 'application/json', '42']);
  assert.deepEqual(await get('fl'), [200, 'application/json', '1.5']);
  assert.deepEqual(await get('b'), [200, 'application/json', 'true']);
  assert.deepEqual(await get('arr'), [200, 'application/json', '[1,2,3]']);
  assert.deepEqual(await get('s'), [200, TEXT, 'olá']);
  assert.deepEqual(await get('ns'), [200, TEXT, '42'], 'a numeric string stays text');
  for (const bad of [[{ set: 'k', value: null }], [{ set: 'k' }], [{ cmd: 'set', key: 'k', value: 'v' }],
    [{ set: 'a', delete: 'b', value: 'v' }], [{ set: 'k', value: 'v', ttl: 1, extra: true }]])
    await expectErr(await txn(f.base, id, 'w', bad), 400, JSON.stringify(bad));
  await expectErr(await txn(f.base, id, 'w', 'not-json'), 400);
  await expectErr(await txn(f.base, id, 'w', [{ set: 'a'.repeat(129), value: 'v' }]), 400);
  await expectErr(await txn(f.base, id, 'r', [{ set: 'k', value: 'x' }]), 403);
  assert.equal((await txn(f.base, id, 'w', [{ set: 'kt', value: 'z', ttl: 1 }])).status, 204);
  await sleep(2100);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/kt`, { cred: 'r' }), 404);
}));

// keys_list.rs
test('Keydock: listing formats: key=value text, escapes, 406 for an unknown format', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base);
  for (const k of ['c', 'a', 'b']) await call(f.base, 'POST', `/api/v1/${id}/${k}`, { body: '1' });
  let r = await call(f.base, 'GET', `/api/v1/${id}/?reverse=true&format=json`);
  assert.deepEqual(await r.json(), ['c', 'b', 'a']);
  r = await fetch(`${f.base}/api/v1/${id}/`, { headers: { Accept: 'application/json' } });
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(await r.json(), ['a', 'b', 'c']);
  r = await call(f.base, 'GET', `/api/v1/${id}/?limit=2&skip=1&format=json`);
  assert.deepEqual(await r.json(), ['b', 'c']);
  const v = await bucket(f.base);
  await call(f.base, 'POST', `/api/v1/${v}/k1`, { body: 'hello', type: 'text/plain' });
  r = await call(f.base, 'GET', `/api/v1/${v}/?values=true&format=text`);
  assert.equal(r.headers.get('content-type'), TEXT);
  assert.equal(await r.text(), 'k1=hello\n');
  await call(f.base, 'POST', `/api/v1/${v}/k2`, { body: 'two\nlines\r\\end', type: 'text/plain' });
  r = await call(f.base, 'GET', `/api/v1/${v}/?values=true&format=text&prefix=k2`);
  assert.equal(await r.text(), 'k2=two\\nlines\\r\\\\end\n', 'one line per entry');
  await call(f.base, 'POST', `/api/v1/${v}/jk`, { body: '{"a":1}', type: 'application/json' });
  r = await call(f.base, 'GET', `/api/v1/${v}/?values=true&format=json&prefix=jk`);
  assert.deepEqual(await r.json(), [['jk', { a: 1 }]]);
  // (Keydock's test sends text/plain; the document stores that as text)
  await call(f.base, 'POST', `/api/v1/${v}/x`, { body: '42', type: '' });
  r = await call(f.base, 'GET', `/api/v1/${v}/?values=true&format=jsonl&prefix=x`);
  assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
  assert.equal((await r.text()).trim(), '["x",42]');
  await expectErr(await call(f.base, 'GET', `/api/v1/${v}/?format=not-a-format`), 406);
}));

// buckets_update.rs, compat_bucket_policy_get.rs, buckets_create.rs
test('Keydock: bucket policy: null default_ttl, same signing key, empty PATCH, emails, unknown fields', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { secret_key: 'sec', signing_key: 'sign', default_ttl: '60', read_key: 'r' });
  const patch = (body) => call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'sec', body, type: 'application/json' });
  const policy = async () => (await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'sec' })).json();
  assert.equal((await patch('{"default_ttl":120}')).status, 204);
  assert.equal((await policy()).default_ttl, 120);
  assert.equal((await patch('{"default_ttl":null}')).status, 204);
  const p = await policy();
  assert.ok(!('default_ttl' in p), 'a cleared default_ttl is left out');
  await call(f.base, 'PUT', `/api/v1/${id}/forever`, { cred: 'sec', body: 'x' });
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/forever`, { cred: 'r' })).text(), 'x');
  // re-sending the same signing key is no rotation: earlier tokens still work
  const tok = await token(f.base, id, 'sec', 'k', 'read');
  assert.equal((await patch('{"signing_key":"sign"}')).status, 204);
  assert.equal((await policy()).signing_key_generation, 0);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/k1`, { cred: tok }), 404);
  assert.equal((await patch('{"signing_key":"sign2"}')).status, 204);
  assert.equal((await policy()).signing_key_generation, 1);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/k1`, { cred: tok }), 401);
  assert.equal((await patch('{"signing_key":null}')).status, 204);
  assert.deepEqual([(await policy()).has_signing_key, (await policy()).signing_key_generation], [false, 2]);
  // an empty body and {} are patches of nothing
  assert.equal((await patch(undefined)).status, 204);
  assert.equal((await patch('{}')).status, 204);
  for (const bad of ['{"secret_key":null}', '{"read_key":""}', '{"unknown_field":"x"}', '{"default_ttl":-1}', 'null'])
    await expectErr(await patch(bad), 400, bad);
  assert.equal((await policy()).has_secret_key, true);
  // the policy is admin-only: 403 anonymous and for other keys, 404 unknown
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`), 403);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'r' }), 403);
  await expectErr(await call(f.base, 'GET', '/api/v1/00000000-0000-4000-8000-000000000000'), 404);
  // emails, and unknown form fields ignored at creation
  for (const email of ['x', '@', 'a@b', '@b.c', 'a@.b', 'a@b.', 'a@b@c.d', '   '])
    await expectErr(await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email }) }), 400, email);
  for (const email of ['user+tag@sub.example.com', 'a.b@c.d']) await bucket(f.base, { email });
  await bucket(f.base, { favourite_colour: 'teal' });
}));

test('keys with control characters are refused; no listing line can be forged', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base);
  // (lighttpd refuses some of these paths itself, with its own 400 page)
  const refused = async (r, what) => {
    assert.equal(r.status, 400, what);
    if (f.name === 'nginx' || /json/.test(r.headers.get('content-type') || '')) assert.deepEqual(await r.json(), E(400), what);
  };
  for (const k of ['a%0Ab', 'a%0Db', 'tab%09', 'del%7F', 'x%1B[31m'])
    await refused(await call(f.base, 'PUT', `/api/v1/${id}/${k}`, { body: '1' }), k);
  await refused(await call(f.base, 'PATCH', `/api/v1/${id}/a%0Ab`, { body: '+1' }), 'counter');
  await expectErr(await txn(f.base, id, null, [{ set: 'admin\nforged', value: 1 }]), 400);
  await expectErr(await txn(f.base, id, null, [{ set: 'admin%0Aforged', value: 1 }]), 400);
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/`)).text(), '');
}));

test('strict JSON: NaN, comments, \\u0000 and friends are refused, never stored or echoed', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { secret_key: 's' });
  const bad = ['{"a":NaN}', '{"a":Infinity}', '[1,]', "{'a':1}", '/*c*/1', '"a\\u0000b"', '[1e400]', '[1.]', '["\t"]', '{"a":1}//x', '[.5]', '[01]'];
  for (const b of bad) {
    await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/j`, { cred: 's', body: b, type: 'application/json' }), 400, b);
    await expectErr(await txn(f.base, id, 's', `{"txn":[{"set":"j","value":${b}}]}`), 400, b);
    await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 's', body: `{"default_ttl":${b}}`, type: 'application/json' }), 400, b);
  }
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/j`, { cred: 's', body: Buffer.from([0x22, 0xff, 0x22]), type: 'application/json' }), 400, 'invalid UTF-8');
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/j`, { cred: 's' }), 404);
  // without a Content-Type such bodies are no JSON and no number: raw bytes
  for (const [k, b] of [['nan', 'NaN'], ['obj', '{"a":NaN}'], ['inf', 'Infinity']]) {
    const r = await call(f.base, 'PUT', `/api/v1/${id}/${k}`, { cred: 's', body: b, type: '' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream', b);
  }
  const l = await call(f.base, 'GET', `/api/v1/${id}/?values=true&format=json`, { cred: 's' });
  assert.equal(l.status, 200);
  JSON.parse(await l.text());   // the listing stays JSON (the harness checks it too)
  // the harness's own check refuses what a strict parser refuses
  for (const b of ['{"a":NaN}', '[1,]', '{"a":Infinity}']) assert.throws(() => checkJsonAnswer('application/json', b));
  assert.throws(() => checkJsonAnswer('application/x-ndjson', '["a",1]\n[NaN]\n'));
  checkJsonAnswer('application/json; charset=utf-8', '{"a":[1,2.5,"x"]}');
}));

test('TTLs are capped: no expiry can overflow', (t) => eachFront(t, stack, async (f) => {
  const id = await bucket(f.base, { secret_key: 's' });
  const huge = '9223372036854775807';
  await expectErr(await txn(f.base, id, 's', `{"txn":[{"set":"k","value":1,"ttl":${huge}}]}`), 400);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/k?ttl=${huge}`, { cred: 's', body: '1' }), 400);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}/k?ttl=${huge}`, { cred: 's', body: '+1' }), 400);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 's', body: `{"default_ttl":${huge}}`, type: 'application/json' }), 400);
  await expectErr(await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'a@b.co', default_ttl: huge }) }), 400);
  // the longest allowed TTL works and the key is there
  const max = 100 * 366 * 86400;
  assert.equal((await txn(f.base, id, 's', [{ set: 'long', value: 1, ttl: max }])).status, 204);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/long`, { cred: 's' })).status, 200);
  assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/long2?ttl=${max}`, { cred: 's', body: '1' })).status, 200);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/long2`, { cred: 's' })).status, 200);
}));
