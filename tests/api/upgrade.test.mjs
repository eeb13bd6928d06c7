// upgrade.test.mjs - a data directory written by an older Cubby (schema 4,
// made at commit 47f4ca5: tests/fixtures/schema4/make.mjs) is refused by
// the pool until `cubbyctl migrate`, then serves everything it held:
// key-value entries and tokens, the admin key, the tenant's key, its
// files (bytes included) through the file API and as assets through the
// asset API, search included. A database newer than the binary is refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, bin, srcdir, sleep } from './harness.mjs';

const stack = new Stack();
after(() => stack.stop());

const fixture = path.join(srcdir, 'tests/fixtures/schema4');
const fx = JSON.parse(fs.readFileSync(path.join(fixture, 'fixture.json'), 'utf8'));
const data = () => path.join(stack.dirs.localstatedir, 'lib/cubby');
const pngBytes = Buffer.from('89504e470d0a1a0a' + 'ab'.repeat(500), 'hex');

function install() {
  stack.writeConfig();
  fs.rmSync(data(), { recursive: true, force: true });
  fs.cpSync(path.join(fixture, 'data'), data(), { recursive: true });
  fs.chmodSync(path.join(data(), 'master.key'), 0o600);   // git keeps no modes
}

test('the pool refuses a schema-4 database until cubbyctl migrate, then serves all of it', async () => {
  install();
  const refused = spawnSync(bin('cubby-fcgi'), ['-c', stack.confPath, '--listen', `unix:${stack.socket}`],
    { env: stack.env(), encoding: 'utf8', timeout: 10000 });
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /refusing to serve: .*schema.*4.*cubbyctl migrate/);

  let m = stack.ctl('migrate');
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /migrated from schema 4 to 10/);
  m = stack.ctl('migrate');
  assert.match(m.stdout, /is current \(schema 10\)/);

  stack.startPool();
  for (let i = 0; i < 100 && !fs.existsSync(stack.socket); i++) await sleep(50);
  const f = await stack.startNginx();
  await stack.waitHealthy(f);
  const get = (p, key, init = {}) => fetch(f.base + p, { ...init, headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...init.headers } });

  // key-value: values, types, counters, tokens from the old signing key
  assert.equal(await (await get(`/api/v1/${fx.bucket}/greeting`, 'fixture-read')).text(), 'hello from schema 4');
  assert.equal(await (await get(`/api/v1/${fx.bucket}/pi`, 'fixture-read')).text(), '3.25');
  const inc = await get(`/api/v1/${fx.bucket}/visits`, 'fixture-secret', { method: 'PATCH', body: '+1' });
  assert.equal(await inc.text(), '42');
  assert.equal(await (await get(`/api/v1/${fx.bucket}/?format=text`, 'fixture-read')).text(), 'greeting\npi\nuser/1\nvisits\n');
  const tok = await get(`/api/v1/${fx.bucket}/tokens/`, 'fixture-secret', { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'prefix=user/&permissions=read&ttl=60' });
  assert.equal(tok.status, 200, await tok.clone().text());
  const token = (await tok.json()).access_token;
  assert.equal(await (await get(`/api/v1/${fx.bucket}/user/1`, token)).text(), '{"name":"Ada"}');
  assert.equal((await get(`/api/v1/${fx.bucket}/greeting`, token)).status, 403);

  // the admin key and the tenant's key
  const t2 = await get('/api/v1/admin/tenants', fx.admin_key, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'after-upgrade', quotaBytes: 1000 }) });
  assert.equal(t2.status, 201);
  const file = await (await get(`/api/v1/files/${fx.file_id}`, fx.tenant_key)).json();
  assert.equal(file.originalName, 'receipt.png');
  assert.equal(file.workspaceId, fx.workspace_id);
  const dl = await get(`/api/v1/files/${fx.file_id}/download`, fx.tenant_key);
  assert.equal(dl.status, 200);
  assert.ok(Buffer.from(await dl.arrayBuffer()).equals(pngBytes));
  assert.equal((await get(`/api/v1/files/${fx.deleted_file_id}`, fx.tenant_key)).status, 404);
  const quota = await (await get('/api/v1/tenant/quota', fx.tenant_key)).json();
  assert.equal(quota.usedBytes ?? quota.used_bytes, pngBytes.length, JSON.stringify(quota));

  // the same file as an asset, found by search, with a working URL
  const ast = 'ast_' + fx.file_id.replaceAll('-', '');
  const list = await (await get('/v1/assets', fx.tenant_key)).json();
  assert.deepEqual(list.data.map((a) => a.id), [ast]);
  assert.equal(list.data[0].type, 'image');
  const found = await (await get('/v1/assets?search=receipt', fx.tenant_key)).json();
  assert.deepEqual(found.data.map((a) => a.id), [ast]);
  const url = await (await get(`/v1/assets/${ast}/url`, fx.tenant_key)).json();
  assert.ok(Buffer.from(await (await fetch(url.data.url)).arrayBuffer()).equals(pngBytes));
  const usage = await (await get('/v1/usage', fx.tenant_key)).json();
  assert.equal(usage.data.total_assets, 1);

  // what the key-value store holds was counted by the migration
  // (check compares the counts with the rows)
  assert.match(stack.ctl('stats').stdout, /kv buckets +\d+ \([1-9]\d* keys, [1-9]\d* bytes\)/);
  const c = stack.ctl('check');
  assert.equal(c.status, 0, c.stdout + c.stderr);
});

test('a database newer than the binary is refused by migrate and by the pool', async () => {
  await stack.stop();
  stack.procs = [];
  stack.fronts = [];
  install();
  spawnSync('sqlite3', [path.join(data(), 'cubby.db'), 'PRAGMA user_version = 99'], { encoding: 'utf8' });
  const m = stack.ctl('migrate');
  assert.notEqual(m.status, 0);
  assert.match(m.stderr, /99/);
  const p = spawnSync(bin('cubby-fcgi'), ['-c', stack.confPath, '--listen', `unix:${stack.socket}`],
    { env: stack.env(), encoding: 'utf8', timeout: 10000 });
  assert.equal(p.status, 1);
  assert.match(p.stderr, /refusing to serve: .*99/);
});
