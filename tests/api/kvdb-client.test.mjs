// kvdb-client.test.mjs - a real client nobody here wrote: the kvdb.io
// package from npm, pointed at Cubby by changing only its base URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Stack, builddir } from './harness.mjs';

const stack = new Stack();
let KVdb;
before(async () => {
  // Installed once next to the build (npm registry), reused afterwards.
  const dir = path.join(builddir, 'npm-clients');
  if (!fs.existsSync(path.join(dir, 'node_modules', 'kvdb.io'))) {
    fs.mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', 'kvdb.io@1.0.5', 'node-fetch@2'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('npm install kvdb.io failed: ' + r.stderr);
  }
  KVdb = createRequire(path.join(dir, 'x.js'))('kvdb.io');
  await stack.start();
});
after(() => stack.stop());

test('the kvdb.io client works against Cubby with only its base URL changed', async () => {
  for (const f of stack.fronts) {
    KVdb.BASE_URL = f.base + '/api/v1';
    const id = await (await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'client@example.com', secret_key: 'sk-client', read_key: 'rk-client', write_key: 'wk-client', signing_key: 'sign-client' }) })).text();
    const admin = KVdb.bucket(id, 'sk-client');
    assert.equal(await admin.set('greeting', 'hello'), 'hello');
    assert.equal(await admin.get('greeting'), 'hello');
    assert.equal(await admin.set('profile', JSON.stringify({ name: 'Ana' }), { type: 'application/json' }), '{"name":"Ana"}');
    assert.equal(await admin.set('visits', '0'), '0');
    assert.equal(await admin.incr('visits', 1), '1');
    assert.equal(await admin.incr('visits', 41), '42');
    assert.equal(await admin.incr('visits', -2), '40');
    assert.deepEqual(await admin.list(), ['greeting', 'profile', 'visits']);
    assert.deepEqual(await admin.list({ prefix: 'vis', values: true }), [['visits', 40]]);
    assert.deepEqual(await admin.list({ skip: 1, limit: 1 }), ['profile']);
    assert.deepEqual(await admin.list({ reverse: true, limit: 1 }), ['visits']);
    await admin.delete('greeting');
    await assert.rejects(admin.get('greeting'), /404/);

    const token = await admin.accessToken({ prefix: 'user:7:', permissions: ['read', 'write', 'enumerate'], ttl: 600 });
    const scoped = KVdb.bucket(id, token);
    assert.equal(await scoped.set('user:7:theme', 'dark'), 'dark');
    assert.equal(await scoped.get('user:7:theme'), 'dark');
    assert.deepEqual(await scoped.list(), ['user:7:theme']);
    await assert.rejects(scoped.get('profile'), /403/);
    await assert.rejects(scoped.set('user:8:theme', 'x'), /403/);
    await assert.rejects(KVdb.bucket(id, 'wrong').get('profile'), /401/);

    // the Web Storage emulation on top of it
    const ls = admin.localStorage();
    await ls.setItem('ls-key', 'v');
    assert.equal(await ls.getItem('ls-key'), 'v');
    assert.equal(await ls.getItem('missing'), null);
    assert.equal(await ls.length(), 4);
  }
});

// A presented credential is judged on its own rights, also on a bucket
// that anonymous users may read and write (Keydock's BucketAuth): the
// document's "a token scoped to user:42: cannot access admin:config".
test('the kvdb.io client: scoped tokens and keys are confined on a public bucket', async () => {
  for (const f of stack.fronts) {
    KVdb.BASE_URL = f.base + '/api/v1';
    const id = await (await fetch(f.base + '/api/v1/', { method: 'POST', body: new URLSearchParams({ email: 'pub@example.com', secret_key: 'sk-pub', signing_key: 'sign-pub' }) })).text();
    const anon = KVdb.bucket(id);
    assert.equal(await anon.set('admin:config', 'cfg'), 'cfg');          // anonymous may write here
    assert.equal(await anon.get('admin:config'), 'cfg');
    const admin = KVdb.bucket(id, 'sk-pub');
    const token = await admin.accessToken({ prefix: 'user:42:', permissions: ['read', 'write', 'enumerate'], ttl: 600 });
    const scoped = KVdb.bucket(id, token);
    assert.equal(await scoped.set('user:42:name', 'Ana'), 'Ana');
    await assert.rejects(scoped.get('admin:config'), /403/);
    await assert.rejects(scoped.set('admin:config', 'mine'), /403/);
    // no delete permission (the client's delete does not look at the status)
    const del = await fetch(`${f.base}/api/v1/${id}/user:42:name`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(del.status, 403);
    assert.deepEqual(await del.json(), { error: { code: 403, message: 'forbidden' } });
    await assert.rejects(scoped.incr('admin:hits', 1), /403/);
    assert.deepEqual(await scoped.list(), ['user:42:name']);
    assert.deepEqual(await scoped.list({ prefix: 'admin' }), []);
    assert.deepEqual(await scoped.list({ prefix: 'user:' }), ['user:42:name']);
    assert.deepEqual(await scoped.list({ values: true }), [['user:42:name', 'Ana']]);
    // listing values needs read as well as enumerate (Keydock would show them)
    const enumOnly = KVdb.bucket(id, await admin.accessToken({ prefix: 'user:42:', permissions: ['enumerate'], ttl: 600 }));
    assert.deepEqual(await enumOnly.list(), ['user:42:name']);
    await assert.rejects(enumOnly.list({ values: true }), /403/);
    await assert.rejects(enumOnly.get('user:42:name'), /403/);
    assert.equal(await anon.get('user:42:name'), 'Ana');                // anonymous still reads
  }
});
