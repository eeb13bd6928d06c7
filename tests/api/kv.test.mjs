// kv.test.mjs - the key-value API (shared/seeds/kv-api.txt) through
// lighttpd and nginx: buckets, credentials and the anonymous-access matrix,
// keys and type inference, TTLs, counters, listing, transactions, tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Stack, eachFront, rawHttp, sleep } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

const E = (code) => ({ error: { code, message: { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 413: 'payload_too_large', 503: 'service_unavailable' }[code] } });

async function createBucket(base, fields = {}) {
  const r = await fetch(base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'owner@example.com', ...fields }) });
  assert.equal(r.status, 200, await r.clone().text());
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  const id = await r.text();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  return id;
}
const auth = (cred) => (cred ? { Authorization: `Bearer ${cred}` } : {});
async function call(base, method, p, { cred, body, headers = {} } = {}) {
  return fetch(base + p, { method, headers: { ...auth(cred), ...headers }, body });
}
async function expectErr(r, code) {
  assert.equal(r.status, code, `${r.url}: ${r.status}`);
  if (r.status !== 204 && r.headers.get('content-length') !== '0') assert.deepEqual(await r.json(), E(code));
}
const dbPath = () => path.join(stack.dirs.localstatedir, 'lib/cubby/cubby.db');
const sql = (q) => spawnSync('sqlite3', [dbPath(), q], { encoding: 'utf8' }).stdout.trim();

test('bucket create: form fields, id as text/plain, defaults and bad input', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'admin-secret' });
  const pol = await (await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'admin-secret' })).json();
  assert.equal(pol.default_ttl, 604800, 'the hosted default TTL');
  assert.equal((await createBucket(f.base, { default_ttl: '0' })).length, 36);
  for (const [body, why] of [
    [{}, 'no email'], [{ email: '' }, 'empty email'], [{ email: 'a@b.co', default_ttl: '-1' }, 'negative ttl'],
    [{ email: 'a@b.co', default_ttl: 'soon' }, 'non-numeric ttl'], [{ email: 'a@b.co', default_ttl: '9223372036854775807' }, 'ttl past 100 years'],
    [{ email: 'a@b.co', secret_key: 'x'.repeat(300) }, 'credential too long'],
    // Keydock's structural email check, one case per clause
    ...['x', '@', 'a@b', '@b.c', 'a@.b', 'a@b.', 'a@b@c.d', '   ', 'a b@c.d'].map((e) => [{ email: e }, `email ${e}`])]) {
    const r = await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams(body) });
    await expectErr(r, 400, why);
  }
  const r = await fetch(f.base + '/api/v1/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"email":"a@b.co"}' });
  await expectErr(r, 400);
  // shapes Keydock takes; an unknown form field is ignored, as its form reader does
  for (const email of ['user+tag@sub.example.com', 'a.b@c.d']) await createBucket(f.base, { email });
  const odd = await createBucket(f.base, { colour: 'red', secret_key: 'os' });
  assert.equal((await call(f.base, 'GET', `/api/v1/${odd}`, { cred: 'os' })).status, 200);
}));

test('policy: public projection, never a secret or a hash', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'admin-secret-1', read_key: 'read-secret-1', signing_key: 'sign-secret-1', default_ttl: '3600' });
  const r = await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'admin-secret-1' });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.deepEqual(JSON.parse(text), {
    default_ttl: 3600, has_secret_key: true, has_read_key: true, has_write_key: false, has_signing_key: true,
    signing_key_generation: 0, anonymous_access: { read: false, write: true, enumerate: false, delete: false },
  });
  for (const s of ['admin-secret-1', 'read-secret-1', 'sign-secret-1']) assert.ok(!text.includes(s));
  // the database holds no raw credential either
  const dump = spawnSync('sqlite3', [dbPath(), '.dump kv_buckets'], { encoding: 'utf8' }).stdout;
  for (const s of ['admin-secret-1', 'read-secret-1', 'sign-secret-1']) assert.ok(!dump.includes(s), `${s} stored in the clear`);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`), 403);   // Keydock: the admin gate is 403
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'wrong' }), 401);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'read-secret-1' }), 403);
  await expectErr(await call(f.base, 'GET', '/api/v1/00000000-0000-4000-8000-000000000000', { cred: 'admin-secret-1' }), 404);
  await expectErr(await call(f.base, 'GET', '/api/v1/not-a-bucket'), 404);
}));

test('HEAD bucket: 200 for its admin, 404 for everything else', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'hs' });
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}`, { cred: 'hs' })).status, 200);
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}`)).status, 404);
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}`, { cred: 'nope' })).status, 404);
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}`, { headers: { Authorization: 'Magic x' } })).status, 404);
  assert.equal((await call(f.base, 'HEAD', '/api/v1/00000000-0000-4000-8000-000000000000', { cred: 'hs' })).status, 404);
}));

test('credentials: Bearer, Basic (username), ?access_token=, ?key=, in that order', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'cs', read_key: 'cr' });
  await call(f.base, 'PUT', `/api/v1/${id}/k`, { cred: 'cs', body: 'v', headers: { 'Content-Type': 'text/plain' } });
  const get = (p, headers = {}) => fetch(f.base + `/api/v1/${id}/k${p}`, { headers });
  assert.equal((await get('', { Authorization: 'Bearer cr' })).status, 200);
  assert.equal((await get('', { Authorization: 'Basic ' + Buffer.from('cr:ignored').toString('base64') })).status, 200);
  assert.equal((await get('', { Authorization: 'Basic ' + Buffer.from('cr').toString('base64') })).status, 200);
  assert.equal((await get('?access_token=cr')).status, 200);
  assert.equal((await get('?key=cr')).status, 200);
  // a header wins over the query; access_token wins over key
  assert.equal((await get('?access_token=cr', { Authorization: 'Bearer bad' })).status, 401);
  assert.equal((await get('?access_token=bad&key=cr')).status, 401);
  await expectErr(await get('', { Authorization: 'Basic !!!notbase64' }), 401);
  await expectErr(await get('', { Authorization: 'Digest abc' }), 401);
  await expectErr(await get(''), 401);
}));

// The anonymous-access matrix: each credential configuration x each
// operation, anonymously; then the same with each configured credential.
test('anonymous-access matrix', (t) => eachFront(t, stack, async (f) => {
  const configs = [{}, { secret_key: 's' }, { read_key: 'r' }, { write_key: 'w' }, { secret_key: 's', read_key: 'r' },
    { secret_key: 's', write_key: 'w' }, { read_key: 'r', write_key: 'w' }, { secret_key: 's', read_key: 'r', write_key: 'w' },
    { signing_key: 'g' }];
  for (const cfg of configs) {
    const id = await createBucket(f.base, cfg);
    const admin = cfg.secret_key;
    // seed a key with the most powerful credential there is
    const seed = cfg.write_key || admin;
    assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/seed`, { cred: seed, body: '1' })).status, 200);
    const anon = {
      read: !cfg.read_key, list: !cfg.read_key, write: !cfg.write_key,
      delete: !cfg.secret_key && !cfg.read_key && !cfg.write_key,
    };
    const label = JSON.stringify(cfg);
    const ops = {
      read: () => call(f.base, 'GET', `/api/v1/${id}/seed`),
      list: () => call(f.base, 'GET', `/api/v1/${id}/`),
      write: () => call(f.base, 'PUT', `/api/v1/${id}/other`, { body: '2' }),
      delete: async () => { await call(f.base, 'PUT', `/api/v1/${id}/victim`, { cred: seed, body: '1' }); return call(f.base, 'DELETE', `/api/v1/${id}/victim`); },
    };
    for (const [op, run] of Object.entries(ops)) {
      const r = await run();
      if (anon[op]) assert.ok(r.status === 200 || r.status === 204, `${label} anonymous ${op}: ${r.status}`);
      else await expectErr(r, 401);
    }
    // the policy is its secret key's; without one, nobody's but on a
    // bucket with no credential at all (no anonymous takeover)
    const bare = Object.keys(cfg).length === 0;
    const polr = await call(f.base, 'GET', `/api/v1/${id}`, { cred: admin });
    if (!admin && !bare) {
      await expectErr(polr, 403);
    } else {
      const pol = await polr.json();
      assert.deepEqual(pol.anonymous_access, { read: anon.read, write: anon.write, enumerate: anon.list, delete: anon.delete }, label);
    }
    // each key does what it says, and no more
    if (cfg.read_key) {
      assert.equal((await call(f.base, 'GET', `/api/v1/${id}/seed`, { cred: 'r' })).status, 200);
      assert.equal((await call(f.base, 'GET', `/api/v1/${id}/`, { cred: 'r' })).status, 200);
      if (cfg.write_key) await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/x`, { cred: 'r', body: '1' }), 403);
      if (cfg.secret_key) await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'r' }), 403);
    }
    if (cfg.write_key) {
      assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/x`, { cred: 'w', body: '1' })).status, 200);
      assert.equal((await call(f.base, 'DELETE', `/api/v1/${id}/x`, { cred: 'w' })).status, 204);
      if (cfg.read_key) await expectErr(await call(f.base, 'GET', `/api/v1/${id}/seed`, { cred: 'w' }), 403);
    }
    if (cfg.secret_key)
      for (const p of ['/seed', '/']) assert.equal((await call(f.base, 'GET', `/api/v1/${id}${p}`, { cred: 's' })).status, 200);
  }
}));

test('PATCH bucket: absent, null, set; unknown field and clearing secret_key refused', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'ps', read_key: 'pr' });
  const patch = (body, cred = 'ps') => call(f.base, 'PATCH', `/api/v1/${id}`, { cred, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  await expectErr(await patch({ colour: 'red' }), 400);
  await expectErr(await patch({ secret_key: null }), 400);
  await expectErr(await patch({ read_key: 42 }), 400);
  await expectErr(await patch({ read_key: '' }), 400);
  await expectErr(await patch({ default_ttl: -5 }), 400);
  await expectErr(await patch({ default_ttl: 'long' }), 400);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'ps', body: '[1,2]' }), 400);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'ps', body: 'not json' }), 400);
  await expectErr(await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'ps', body: '{"read_key":"zz"} trailing' }), 400);
  await expectErr(await patch({ read_key: 'x' }, 'pr'), 403);
  await expectErr(await patch({ read_key: 'x' }, 'bad'), 401);
  // nothing above changed anything
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/`, { cred: 'pr' })).status, 200);

  let r = await patch({ read_key: 'pr2', default_ttl: 3600 });
  assert.equal(r.status, 204);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/`, { cred: 'pr' }), 401);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/`, { cred: 'pr2' })).status, 200);
  assert.equal((await (await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'ps' })).json()).default_ttl, 3600);
  r = await patch({ read_key: null });          // clear: anonymous reads open again
  assert.equal(r.status, 204);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/`)).status, 200);
  r = await patch({ secret_key: 'ps2' });        // rotate the admin key
  assert.equal(r.status, 204);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'ps' }), 401);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}`, { cred: 'ps2' })).status, 200);
}));

test('DELETE bucket, both forms: its keys go with it', (t) => eachFront(t, stack, async (f) => {
  for (const slash of ['', '/']) {
    const id = await createBucket(f.base, { secret_key: 'ds' });
    await call(f.base, 'PUT', `/api/v1/${id}/k`, { body: '1' });
    await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}${slash}`), 403);
    assert.equal((await call(f.base, 'DELETE', `/api/v1/${id}${slash}`, { cred: 'ds' })).status, 204);
    await expectErr(await call(f.base, 'GET', `/api/v1/${id}/k`), 404);
    await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}${slash}`, { cred: 'ds' }), 404);
    assert.equal(sql(`SELECT count(*) FROM kv_entries WHERE bucket_id='${id}'`), '0');
  }
}));

test('keys: write, read, HEAD, delete; percent-decoded; echo', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  for (const m of ['PUT', 'POST']) {
    const r = await call(f.base, m, `/api/v1/${id}/user%2F42`, { body: 'hello', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(r.status, 200, m);
    assert.equal(await r.text(), 'hello', 'the stored value is echoed');
  }
  let r = await call(f.base, 'GET', `/api/v1/${id}/user/42`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'hello', 'user%2F42 and user/42 are the same key');
  r = await call(f.base, 'HEAD', `/api/v1/${id}/user%2F42`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.equal(await r.text(), '');
  r = await call(f.base, 'GET', `/api/v1/${id}/caf%C3%A9%20bar`);
  await expectErr(r, 404);
  await call(f.base, 'PUT', `/api/v1/${id}/caf%C3%A9%20bar`, { body: 'x', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/caf%C3%A9%20bar`)).text(), 'x');
  assert.equal((await call(f.base, 'DELETE', `/api/v1/${id}/user/42`)).status, 204);
  await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}/user/42`), 404);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user/42`), 404);
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}/user/42`)).status, 404);
}));

test('key and value limits: 128-byte keys, 16 KiB values; over is refused and nothing stored', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  const k128 = 'k'.repeat(128), k129 = 'k'.repeat(129);
  assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/${k128}`, { body: '1' })).status, 200);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/${k129}`, { body: '1' }), 400);
  assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/big`, { body: 'v'.repeat(16384), headers: { 'Content-Type': 'text/plain' } })).status, 200);
  // over the value limit: 400 bad_request, as Keydock answers it
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/big2`, { body: 'v'.repeat(16385), headers: { 'Content-Type': 'text/plain' } }), 400);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/big2`, { body: 'v'.repeat(200000) }), 400);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/big2`), 404);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/${k129}`), 404);
  // keys are UTF-8 (lighttpd refuses such a path itself, in its own page)
  const r = await call(f.base, 'PUT', `/api/v1/${id}/bad%FF%FE`, { body: '1' });
  assert.equal(r.status, 400);
  if (f.name === 'nginx') assert.deepEqual(await r.json(), E(400));
}));

test('type inference: JSON, text, Int64, Float64, raw bytes; GET answers with the matching type', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  const cases = [
    // [body, content-type, stored type (sqlite), GET content-type, GET body]
    ['{"name": "Ana"}', 'application/json', 'text', /^application\/json/, '{"name":"Ana"}'],
    ['just words', 'text/plain', 'text', /^text\/plain/, 'just words'],
    // numbers (Keydock's Int64/Float64) keep the text they came as and
    // answer as text/plain
    ['42', 'application/x-www-form-urlencoded', 'text', /^text\/plain; charset=utf-8$/, '42'],
    ['-7', undefined, 'text', /^text\/plain; charset=utf-8$/, '-7'],
    ['+5', undefined, 'text', /^text\/plain; charset=utf-8$/, '+5'],
    [' 12 ', undefined, 'text', /^text\/plain; charset=utf-8$/, ' 12 '],
    ['2.5', undefined, 'text', /^text\/plain; charset=utf-8$/, '2.5'],
    ['1e3', undefined, 'text', /^text\/plain; charset=utf-8$/, '1e3'],
    ['.5', undefined, 'text', /^text\/plain; charset=utf-8$/, '.5'],
    ['', undefined, 'text', /^text\/plain; charset=utf-8$/, ''],
    ['NaN', undefined, 'blob', /^application\/octet-stream/, 'NaN'],
    ['[1, 2, {"a": null}]', undefined, 'text', /^application\/json/, '[1,2,{"a":null}]'],
    ['true', undefined, 'text', /^application\/json/, 'true'],
    ['"quoted"', undefined, 'text', /^application\/json/, '"quoted"'],
    ['hello world', undefined, 'blob', /^application\/octet-stream/, 'hello world'],
    ['42', 'text/plain', 'text', /^text\/plain/, '42'],
  ];
  for (const [i, [body, ct, stype, getct, getbody]] of cases.entries()) {
    const headers = ct ? { 'Content-Type': ct } : { 'Content-Type': '' };
    const r = await call(f.base, 'PUT', `/api/v1/${id}/t${i}`, { body, headers });
    assert.equal(r.status, 200, `${body} as ${ct}`);
    const g = await call(f.base, 'GET', `/api/v1/${id}/t${i}`);
    assert.match(g.headers.get('content-type'), getct, `${body} as ${ct}`);
    assert.equal(await g.text(), getbody, `${body} as ${ct}`);
    assert.equal(sql(`SELECT typeof(value) FROM kv_entries WHERE bucket_id='${id}' AND key=CAST('t${i}' AS BLOB)`), stype, `${body} as ${ct}`);
  }
  const bin = Buffer.from([0, 1, 2, 255, 254]);
  let r = await call(f.base, 'PUT', `/api/v1/${id}/bin`, { body: bin, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 200);
  r = await call(f.base, 'GET', `/api/v1/${id}/bin`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), bin);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/bad`, { body: '{nope', headers: { 'Content-Type': 'application/json' } }), 400);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/bad`, { body: Buffer.from([0xff, 0xfe]), headers: { 'Content-Type': 'text/plain' } }), 400);
}));

test('TTL: ?ttl= overrides the default; expired keys are 404 everywhere and swept', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { default_ttl: '1' });
  await call(f.base, 'PUT', `/api/v1/${id}/short`, { body: '1' });            // bucket default: 1 s
  await call(f.base, 'PUT', `/api/v1/${id}/forever?ttl=0`, { body: '1' });
  await call(f.base, 'PUT', `/api/v1/${id}/long?ttl=3600`, { body: '1' });
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/x?ttl=-1`, { body: '1' }), 400);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/x?ttl=soon`, { body: '1' }), 400);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/short`)).status, 200);
  await sleep(1200);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/short`), 404);
  assert.equal((await call(f.base, 'HEAD', `/api/v1/${id}/short`)).status, 404);
  await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}/short`), 404);
  assert.deepEqual(await (await call(f.base, 'GET', `/api/v1/${id}/?format=json`)).json(), ['forever', 'long']);
  // a counter on an expired key starts again from the delta
  assert.equal(await (await call(f.base, 'PATCH', `/api/v1/${id}/short`, { body: '+3' })).text(), '3');
}));

test('the jobs worker sweeps expired keys from the database', async () => {
  const f = stack.fronts[0];
  const id = await createBucket(f.base);
  for (let i = 0; i < 20; i++) await call(f.base, 'PUT', `/api/v1/${id}/e${i}?ttl=1`, { body: '1' });
  assert.equal(sql(`SELECT count(*) FROM kv_entries WHERE bucket_id='${id}'`), '20');
  let n = '20';
  for (const end = Date.now() + 10000; n !== '0' && Date.now() < end; await sleep(250))
    n = sql(`SELECT count(*) FROM kv_entries WHERE bucket_id='${id}'`);
  assert.equal(n, '0');
});

test('counters: signed deltas, Int64 stays Int64, floats promote, missing keys start at the delta', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  const inc = (k, d) => call(f.base, 'PATCH', `/api/v1/${id}/${k}`, { body: d });
  let r = await inc('c', '+1');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '1');
  assert.equal(await (await inc('c', '+41')).text(), '42');
  assert.equal(await (await inc('c', '-50')).text(), '-8');
  assert.equal(sql(`SELECT typeof(value) FROM kv_entries WHERE bucket_id='${id}' AND key=CAST('c' AS BLOB)`), 'integer');
  assert.equal(await (await inc('c', '+0.5')).text(), '-7.5');
  assert.equal(sql(`SELECT typeof(value) FROM kv_entries WHERE bucket_id='${id}' AND key=CAST('c' AS BLOB)`), 'real');
  assert.equal(await (await inc('c', '+7.5')).text(), '0');   // Keydock writes 0.0 as 0
  assert.equal(await (await inc('c', '+10')).text(), '10');
  assert.equal(await (await inc('f', '-2.25')).text(), '-2.25');
  // fetch sends a string as text/plain: a number stored as text still counts
  await call(f.base, 'PUT', `/api/v1/${id}/big`, { body: '9223372036854775806' });
  assert.equal(await (await inc('big', '+1')).text(), '9223372036854775807');
  await expectErr(await inc('big', '+1'), 400);                   // overflow
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/big`)).text(), '9223372036854775807');
  await call(f.base, 'PUT', `/api/v1/${id}/huge`, { body: '1e308' });
  await expectErr(await inc('huge', '+1e308'), 400);             // Inf
  for (const bad of ['1', '+', '-', '+abc', 'NaN', '+NaN', '+Infinity', '+inf', '++1', '+-1', '', '+0x10', '+1e', '+.', '+1_0', '+ 1'])
    await expectErr(await inc('c', bad), 400);
  // white space around the delta is trimmed; any literal up to the value limit
  assert.equal(await (await inc('w', ' +2 \n')).text(), '2');
  assert.equal(await (await inc('w', '+' + '0'.repeat(16000) + '5')).text(), '7');
  assert.equal(await (await inc('w', '-.5')).text(), '6.5');
  assert.equal(await (await inc('w', '+1e1')).text(), '16.5');
  await call(f.base, 'PUT', `/api/v1/${id}/txt`, { body: 'words', headers: { 'Content-Type': 'text/plain' } });
  await expectErr(await inc('txt', '+1'), 400);                   // not a number
  await expectErr(await inc('c', '+' + '1'.repeat(16384)), 400);  // over the value limit
}));

test('counters are atomic: 2 clients x 500 parallel +1 end at exactly 1000', async () => {
  const id = await createBucket(stack.fronts[0].base);
  const one = (f) => call(f.base, 'PATCH', `/api/v1/${id}/hits`, { body: '+1' }).then(async (r) => { await r.arrayBuffer(); return r.status; });
  const statuses = await Promise.all(stack.fronts.flatMap((f) => Array.from({ length: 500 }, () => one(f))));
  assert.deepEqual([...new Set(statuses)], [200]);
  assert.equal(await (await call(stack.fronts[0].base, 'GET', `/api/v1/${id}/hits`)).text(), '1000');
});

test('list: prefix, limit, skip, reverse, values, formats and Accept', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  for (const k of ['user:2', 'user:10', 'user:1', 'admin:x', 'user:1:z', 'üser']) await call(f.base, 'PUT', `/api/v1/${id}/${encodeURIComponent(k)}`, { body: JSON.stringify({ k }), headers: { 'Content-Type': 'application/json' } });
  await call(f.base, 'PUT', `/api/v1/${id}/n`, { body: '5', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  await call(f.base, 'PUT', `/api/v1/${id}/t`, { body: 'a\tb\n"c"', headers: { 'Content-Type': 'text/plain' } });
  const list = async (q, headers = {}) => {
    const r = await call(f.base, 'GET', `/api/v1/${id}/${q}`, { headers });
    return { status: r.status, ct: r.headers.get('content-type'), body: await r.text() };
  };
  let r = await list('');
  assert.match(r.ct, /^text\/plain/);
  assert.equal(r.body, 'admin:x\nn\nt\nuser:1\nuser:10\nuser:1:z\nuser:2\nüser\n', 'byte order, text by default');
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=user:')).body), ['user:1', 'user:10', 'user:1:z', 'user:2']);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=user:&reverse=true&limit=2')).body), ['user:2', 'user:1:z']);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=user:&skip=1&limit=2')).body), ['user:10', 'user:1:z']);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=nomatch')).body), []);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=user:2&values=true')).body), [['user:2', { k: 'user:2' }]]);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=n&values=true')).body), [['n', 5]]);
  assert.deepEqual(JSON.parse((await list('?format=json&prefix=t&values=true')).body), [['t', 'a\tb\n"c"']]);
  r = await list('?format=jsonl&prefix=user:1:');
  assert.match(r.ct, /^application\/x-ndjson/);
  assert.deepEqual(r.body.trim().split('\n').map((l) => JSON.parse(l)), ['user:1:z']);
  r = await list('?format=jsonl&prefix=user:1');
  assert.deepEqual(r.body.trim().split('\n').map((l) => JSON.parse(l)), ['user:1', 'user:10', 'user:1:z']);
  r = await list('?format=jsonl&prefix=user:2&values=true');
  assert.deepEqual(r.body.trim().split('\n').map((l) => JSON.parse(l)), [['user:2', { k: 'user:2' }]]);
  // text with values is key=value (Keydock); line breaks and backslashes
  // inside are escaped, so no value makes a line of its own
  r = await list('?values=true&prefix=n');
  assert.equal(r.body, 'n=5\n');
  r = await list('?values=true&prefix=t&format=text');
  assert.equal(r.body, 't=a\tb\\n"c"\n');
  // Accept negotiation (no ?format=)
  assert.match((await list('?prefix=n', { Accept: 'application/json' })).ct, /^application\/json/);
  assert.match((await list('?prefix=n', { Accept: 'application/x-ndjson' })).ct, /^application\/x-ndjson/);
  assert.match((await list('?prefix=n', { Accept: 'text/plain' })).ct, /^text\/plain/);
  assert.match((await list('?prefix=n', { Accept: 'image/png, application/json;q=0.5' })).ct, /^application\/json/);
  assert.match((await list('?prefix=n', { Accept: '*/*' })).ct, /^text\/plain/);
  // an Accept that names no format falls back to text; an unknown
  // ?format= is 406 not_acceptable (Keydock)
  r = await list('?prefix=n', { Accept: 'image/png' });
  assert.equal(r.status, 200);
  assert.match(r.ct, /^text\/plain/);
  for (const q of ['?format=xml', '?format=not-a-format']) {
    r = await list(q);
    assert.equal(r.status, 406, q);
    assert.deepEqual(JSON.parse(r.body), E(406));
  }
  assert.match((await list('?prefix=n&format=ndjson')).ct, /^application\/x-ndjson/);
  assert.match((await list('?prefix=n&format=JSON')).ct, /^application\/json/);
  for (const q of ['?limit=0', '?limit=x', '?skip=-1', '?reverse=maybe', '?values=2'])
    assert.equal((await list(q)).status, 400, q);
}));

test('transactions: all or nothing', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { write_key: 'tw', read_key: 'tr' });
  const txn = (body, cred = 'tw') => call(f.base, 'POST', `/api/v1/${id}`, { cred, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  await call(f.base, 'PUT', `/api/v1/${id}/old`, { cred: 'tw', body: '1' });
  let r = await txn({ txn: [{ set: 'profile:name', value: 'Ada', ttl: 3600 }, { set: 'profile:obj', value: { a: [1, 2] } }, { set: 'n', value: 5 }, { delete: 'old' }, { delete: 'never-existed' }] });
  assert.equal(r.status, 204);
  const get = async (k) => { const g = await call(f.base, 'GET', `/api/v1/${id}/${k}`, { cred: 'tr' }); return [g.status, g.headers.get('content-type'), await g.text()]; };
  assert.deepEqual(await get('profile:name'), [200, 'text/plain; charset=utf-8', 'Ada']);
  assert.deepEqual(await get('profile:obj'), [200, 'application/json', '{"a":[1,2]}']);
  assert.deepEqual((await get('n')).slice(0, 1), [200]);
  assert.equal((await get('old'))[0], 404);
  // a failing op anywhere leaves nothing applied
  for (const bad of [
    { txn: [{ set: 'a1', value: 'x' }, { set: 'a2', value: null }] },
    { txn: [{ set: 'a1', value: 'x' }, { set: 'k'.repeat(129), value: 1 }] },
    { txn: [{ set: 'a1', value: 'x' }, { set: 'a3', value: 'x'.repeat(16385) }] },
    { txn: [{ set: 'a1', value: 'x' }, { set: 'a2', value: 1, ttl: -1 }] },
    { txn: [{ set: 'a1', value: 'x' }, { frobnicate: 'a2' }] },
    { txn: [{ set: 'a1', value: 'x' }, { delete: 'a2', value: 1 }] },
    { txn: [{ set: 'a1' }] },
    { txn: 'nope' }, { ops: [] }, [1], 'not json', '{"txn":[{"set":"a1","value":1}]} trailing',
    { txn: Array.from({ length: 1001 }, (_, i) => ({ set: `a${i}`, value: i })) },
  ]) {
    r = await txn(bad);
    assert.ok(r.status === 400 || r.status === 413, `${JSON.stringify(bad).slice(0, 80)}: ${r.status}`);
    assert.equal((await get('a1'))[0], 404, 'nothing applied');
  }
  // an empty batch is a valid no-op (Keydock)
  assert.equal((await txn({ txn: [] })).status, 204);
  // the read key may not write: refused before anything is written
  await expectErr(await txn({ txn: [{ set: 'a1', value: 1 }] }, 'tr'), 403);
  await expectErr(await txn({ txn: [{ set: 'a1', value: 1 }] }, null), 401);
  assert.equal((await get('a1'))[0], 404);
}));

test('tokens: minting rules, prefix and permission confinement, expiry, rotation', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base, { secret_key: 'ts', read_key: 'tr', write_key: 'tw', signing_key: 'tsign' });
  const mint = (fields, cred = 'ts') => call(f.base, 'POST', `/api/v1/${id}/tokens/`, { cred, body: new URLSearchParams(fields) });
  for (const bad of [{ permissions: 'read', ttl: '60' }, { prefix: '', permissions: 'read', ttl: '60' },
    { prefix: 'u:', permissions: 'read,fly', ttl: '60' }, { prefix: 'u:', permissions: '', ttl: '60' },
    { prefix: 'u:', permissions: 'read', ttl: '0' }, { prefix: 'u:', permissions: 'read', ttl: '-5' },
    { prefix: 'u:', permissions: 'read' }, { prefix: 'u:', permissions: 'read', ttl: '60', extra: '1' }])
    await expectErr(await mint(bad), 400);
  await expectErr(await mint({ prefix: 'u:', permissions: 'read', ttl: '60' }, 'tw'), 403);
  await expectErr(await mint({ prefix: 'u:', permissions: 'read', ttl: '60' }, null), 403);
  const nosign = await createBucket(f.base, { secret_key: 'ns' });
  await expectErr(await call(f.base, 'POST', `/api/v1/${nosign}/tokens/`, { cred: 'ns', body: new URLSearchParams({ prefix: 'u:', permissions: 'read', ttl: '60' }) }), 503);

  let r = await mint({ prefix: 'user:42:', permissions: 'read,write,enumerate', ttl: '900' });
  assert.equal(r.status, 200);
  const tok = (await r.json()).access_token;
  assert.match(tok, /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{43}$/);
  const hdr = JSON.parse(Buffer.from(tok.split('.')[0], 'base64url'));
  assert.deepEqual(hdr, { alg: 'HS256', typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url'));
  assert.equal(claims.bkt, id);
  assert.equal(claims.pfx, 'user:42:');
  assert.deepEqual(claims.perm, ['read', 'write', 'enumerate']);
  assert.equal(claims.gen, 0);
  assert.equal(claims.exp - claims.iat, 900);

  assert.equal((await call(f.base, 'PUT', `/api/v1/${id}/user:42:profile`, { cred: tok, body: 'me', headers: { 'Content-Type': 'text/plain' } })).status, 200);
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: tok })).text(), 'me');
  await call(f.base, 'PUT', `/api/v1/${id}/admin:config`, { cred: 'tw', body: 'secret' });
  await call(f.base, 'PUT', `/api/v1/${id}/user:43:profile`, { cred: 'tw', body: 'other' });
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/admin:config`, { cred: tok }), 403);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:43:profile`, { cred: tok }), 403);
  await expectErr(await call(f.base, 'PUT', `/api/v1/${id}/admin:config`, { cred: tok, body: 'x' }), 403);
  await expectErr(await call(f.base, 'DELETE', `/api/v1/${id}/user:42:profile`, { cred: tok }), 403);  // no delete permission
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}`, { cred: tok }), 403);                       // not admin
  // listing is confined to the prefix
  assert.deepEqual(await (await call(f.base, 'GET', `/api/v1/${id}/?format=json`, { cred: tok })).json(), ['user:42:profile']);
  assert.deepEqual(await (await call(f.base, 'GET', `/api/v1/${id}/?format=json&prefix=user:42:p`, { cred: tok })).json(), ['user:42:profile']);
  // a broader ?prefix= is cut down to the token's, one beside it lists nothing
  assert.deepEqual(await (await call(f.base, 'GET', `/api/v1/${id}/?format=json&prefix=user:`, { cred: tok })).json(), ['user:42:profile']);
  assert.deepEqual(await (await call(f.base, 'GET', `/api/v1/${id}/?format=json&prefix=user:43:`, { cred: tok })).json(), []);
  assert.equal(await (await call(f.base, 'GET', `/api/v1/${id}/?prefix=admin`, { cred: tok })).text(), '');
  // transactions check each key against the prefix
  await expectErr(await call(f.base, 'POST', `/api/v1/${id}`, { cred: tok, body: JSON.stringify({ txn: [{ set: 'user:42:a', value: 1 }, { set: 'admin:b', value: 2 }] }) }), 403);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/user:42:a`, { cred: 'tr' })).status, 404);
  assert.equal((await call(f.base, 'POST', `/api/v1/${id}`, { cred: tok, body: JSON.stringify({ txn: [{ set: 'user:42:a', value: 1 }] }) })).status, 204);

  // tampering, other algorithms, other buckets
  const [h, p, s] = tok.split('.');
  const forged = JSON.stringify({ ...claims, pfx: '' });
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/admin:config`, { cred: `${h}.${Buffer.from(forged).toString('base64url')}.${s}` }), 401);
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: `${none}.${p}.` }), 401);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: `${none}.${p}.${s}` }), 401);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: `${h}.${p}.${s.slice(0, -2)}AA` }), 401);
  const other = await createBucket(f.base, { secret_key: 'ts', read_key: 'tr', signing_key: 'tsign' });
  await expectErr(await call(f.base, 'GET', `/api/v1/${other}/user:42:profile`, { cred: tok }), 401);

  // expiry
  const short = (await (await mint({ prefix: 'user:42:', permissions: 'read', ttl: '1' })).json()).access_token;
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: short })).status, 200);
  await sleep(2100);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: short }), 401);

  // rotating the signing key invalidates every earlier token
  r = await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'ts', body: JSON.stringify({ signing_key: 'tsign2' }) });
  assert.equal(r.status, 204);
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: tok }), 401);
  const fresh = (await (await mint({ prefix: 'user:42:', permissions: 'read', ttl: '60' })).json()).access_token;
  assert.equal(JSON.parse(Buffer.from(fresh.split('.')[1], 'base64url')).gen, 1);
  assert.equal((await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: fresh })).status, 200);
  // clearing it: tokens stop, minting answers 503
  await call(f.base, 'PATCH', `/api/v1/${id}`, { cred: 'ts', body: JSON.stringify({ signing_key: null }) });
  await expectErr(await call(f.base, 'GET', `/api/v1/${id}/user:42:profile`, { cred: fresh }), 401);
  await expectErr(await mint({ prefix: 'u:', permissions: 'read', ttl: '60' }), 503);
}));

test('router errors on KV routes come in the KV envelope', (t) => eachFront(t, stack, async (f) => {
  const id = await createBucket(f.base);
  let r = await call(f.base, 'PUT', `/api/v1/${id}`);
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD, PATCH, DELETE, POST');
  assert.deepEqual(await r.json(), E(405));
  r = await call(f.base, 'PUT', `/api/v1/${id}/tokens/`);
  assert.equal(r.status, 405);
  r = await rawHttp(f.port, `GET /api/v1/${id}/k?prefix=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), E(400));
}));
