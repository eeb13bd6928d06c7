// ctl.test.mjs - cubbyctl check, gc and stats on a data directory the
// pool is serving: a clean store checks ok; planted orphans, a missing
// blob and totals that do not add up are each reported (exit 1); gc
// removes what no row names once it is an hour old, and expired keys,
// and leaves live blobs and young files alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, bin } from './harness.mjs';

const stack = new Stack();
after(() => stack.stop());

const MiB = 1024 * 1024;
const data = () => path.join(stack.dirs.localstatedir, 'lib/cubby');
const sql = (q) => spawnSync('sqlite3', [path.join(data(), 'cubby.db'), q], { encoding: 'utf8' }).stdout.trim();
const ctl = (...args) => stack.ctl(...args);

async function api(method, p, key, body, headers = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const r = await fetch(stack.fronts[1].base + p, { method, headers: h, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}

const newBucket = async () => (await (await fetch(`${stack.fronts[1].base}/api/v1/`, { method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'email=a%40b.c' })).text()).trim();

// An old file: past gc's hour of grace.
function plant(rel, bytes, ageSeconds = 7200) {
  const p = path.join(data(), 'blobs', rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  const t = Date.now() / 1000 - ageSeconds;
  fs.utimesSync(p, t, t);
  return p;
}
const blobFile = (key) => path.join(data(), 'blobs', key.slice(0, 2), key.slice(2, 4), key);

let key;
let assets = [];
before(async () => {
  await stack.start();
  const t = await api('POST', '/api/v1/admin/tenants', stack.adminKey, { name: 'ctl', quotaBytes: 100 * MiB });
  key = t.json.apiKey;
  // one single upload, one multipart upload, one pending (never sent)
  const one = await api('POST', '/v1/assets', key, { filename: 'a.txt', size_bytes: 5 });
  await fetch(one.json.data.upload.url, { method: 'PUT', headers: one.json.data.upload.headers, body: 'hello' });
  assert.equal((await api('POST', `/v1/assets/${one.json.data.asset.id}/complete`, key)).status, 200);
  const mp = await api('POST', '/v1/assets', key, { filename: 'b.bin', size_bytes: 6 * MiB, multipart: true, part_size: 5 * MiB });
  const up = mp.json.data.upload;
  const bytes = crypto.randomBytes(6 * MiB);
  for (const n of [1, 2]) {
    const u = await api('POST', `/v1/assets/${mp.json.data.asset.id}/parts`, key, { upload_id: up.upload_id, part_number: n });
    const r = await fetch(u.json.data.url, { method: 'PUT', body: bytes.subarray((n - 1) * 5 * MiB, n * 5 * MiB) });
    assert.equal(r.status, 200);
  }
  assert.equal((await api('POST', `/v1/assets/${mp.json.data.asset.id}/complete`, key, { upload_id: up.upload_id })).status, 200);
  await api('POST', '/v1/assets', key, { filename: 'c.bin', size_bytes: 1000 });
  assets = [one.json.data.asset.id, mp.json.data.asset.id];
});

test('a clean data directory checks ok while the pool serves', () => {
  const r = ctl('check');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: database intact, 2 live objects with their blobs, totals add up$/m);
  const s = ctl('stats');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /^objects live\s+2 \(6291461 bytes\)$/m);
  assert.match(s.stdout, /^objects pending\s+1 \(1000 bytes reserved\)$/m);
  assert.match(s.stdout, /^blob files\s+2 \(6291461 bytes; 0 named by no row\)$/m);
});

test('check reports orphans, a missing blob and totals that do not add up; gc cleans up', async () => {
  const orphan = plant('ab/cd/abcd0000-0000-4000-8000-000000000000', 'orphan');
  const young = plant('ab/cd/abcd0000-0000-4000-8000-000000000001', 'young', 60);
  const upload = plant('uploads/0000aaaa-0000-4000-8000-000000000000-deadbeef', 'stale part');
  const tmp = plant('tmp/abcd.1234', 'half-written');
  let r = ctl('check');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`orphan blob: ${orphan} \\(6 bytes`));
  assert.match(r.stdout, new RegExp(`orphan upload: ${upload} `));
  assert.match(r.stdout, new RegExp(`temp file: ${tmp} `));
  assert.ok(!r.stdout.includes(young), 'a young file may be an upload in flight');
  assert.match(r.stdout, /1 file in the blob tree younger than an hour/);
  assert.match(r.stdout, /^3 problems found/m);

  // a live object's blob gone, and a tenant's total off by 5
  const uuid = (id) => id.slice(4).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  const bkey = sql(`SELECT blob_key FROM objects WHERE id = '${uuid(assets[0])}'`);
  const saved = fs.readFileSync(blobFile(bkey));
  fs.rmSync(blobFile(bkey));
  sql("UPDATE tenants SET used_bytes = used_bytes + 5 WHERE name = 'ctl'");
  r = ctl('check');
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`object ${uuid(assets[0])} \\(tenant \\S+\\): blob \\S+ is missing`));
  assert.match(r.stdout, /tenant \S+: used_bytes \d+, but its live objects reserve \d+/);
  fs.writeFileSync(blobFile(bkey), saved);
  sql("UPDATE tenants SET used_bytes = used_bytes - 5 WHERE name = 'ctl'");

  // gc: a dry run removes nothing
  r = ctl('gc', '--dry-run');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /would remove 3 files \(28 bytes\) and 0 expired keys/);
  assert.ok(fs.existsSync(orphan) && fs.existsSync(upload) && fs.existsSync(tmp));
  // an expired key-value entry, written past its time
  const b = await newBucket();
  sql(`INSERT INTO kv_entries (bucket_id, key, type, value, expires_at) VALUES ('${b}', CAST('old' AS BLOB), 1, 'x', 1000)`);
  r = ctl('gc');
  assert.equal(r.status, 0, r.stderr);
  // (the jobs worker sweeps expired keys too, every few seconds: either
  // may have taken it)
  assert.match(r.stdout, /^removed 3 files \(28 bytes\) and (1 expired key|0 expired keys)$/m);
  assert.equal(sql(`SELECT count(*) FROM kv_entries WHERE bucket_id = '${b}'`), '0');
  assert.ok(!fs.existsSync(orphan) && !fs.existsSync(upload) && !fs.existsSync(tmp));
  assert.ok(fs.existsSync(young), 'younger than an hour: kept');
  assert.ok(fs.existsSync(blobFile(bkey)), 'live blobs are kept');
  fs.rmSync(young);
  r = ctl('check');
  assert.equal(r.status, 0, r.stdout);
});

test('check names a missing or wrong data directory', () => {
  const conf = path.join(stack.tmp, 'other.conf');
  fs.writeFileSync(conf, fs.readFileSync(stack.confPath, 'utf8') + `\ndata_dir = ${path.join(stack.tmp, 'nowhere')}\n`);
  const r = spawnSync(bin('cubbyctl'), ['-c', conf, 'check'], { env: stack.env(), encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no database at .*nowhere.*run 'cubbyctl init'/);
  const u = spawnSync(bin('cubbyctl'), ['-c', conf, 'gc', '--bogus'], { env: stack.env(), encoding: 'utf8' });
  assert.equal(u.status, 2);
});

test('backup while the pool serves; restore into a fresh data directory', async () => {
  const other = (name) => {
    const conf = path.join(stack.tmp, `${name}.conf`);
    fs.writeFileSync(conf, fs.readFileSync(stack.confPath, 'utf8') + `\ndata_dir = ${path.join(stack.tmp, name)}\n`);
    return (...args) => spawnSync(bin('cubbyctl'), ['-c', conf, ...args], { env: stack.env(), encoding: 'utf8' });
  };
  // writes go on during the backup
  const b = await newBucket();
  let writing = true, writes = 0;
  const writer = (async () => {
    while (writing) {
      const r = await fetch(`${stack.fronts[1].base}/api/v1/${b}/k${writes}`, { method: 'POST', body: 'v' });
      assert.equal(r.status, 200);
      writes++;
    }
  })();
  const dir = path.join(stack.tmp, 'backup1');
  while (writes < 20) await new Promise((res) => setTimeout(res, 5));
  const before = writes;
  // spawned, not spawnSync: the writer keeps going while the backup runs
  let r = await new Promise((res) => {
    const p = spawn(bin('cubbyctl'), ['-c', stack.confPath, 'backup', dir], { env: stack.env() });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (status) => res({ status, stdout: out, stderr: err }));
  });
  const during = writes;
  writing = false;
  await writer;
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /manifest of 2 blobs \(6291461 bytes\)/);
  assert.equal(fs.statSync(path.join(dir, 'master.key')).mode & 0o777, 0o600);
  const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(man.blobs.length, 2);
  for (const x of man.blobs) {
    const bytes = fs.readFileSync(blobFile(x.key));
    assert.equal(x.size, bytes.length);
    assert.equal(x.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  assert.ok(writes > 0);
  assert.equal(ctl('backup', dir).status, 1, 'a directory holding a backup is not overwritten');

  // restore without the blobs: the database is in place, the blobs are named missing
  const r1 = other('restored1');
  r = r1('restore', dir);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /0 of 2 blobs present and intact/);
  assert.equal((r.stdout.match(/^missing blob /gm) || []).length, 2);
  // copy the store's blobs across (what an operator's rsync does): all there
  fs.cpSync(path.join(data(), 'blobs'), path.join(stack.tmp, 'restored1', 'blobs'), { recursive: true });
  r = r1('restore', dir);
  assert.equal(r.status, 1, 'not over an existing database without --force');
  assert.match(r.stderr, /--force/);
  r = r1('restore', dir, '--force');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /2 of 2 blobs present and intact/);
  r = r1('check');
  assert.equal(r.status, 0, r.stdout + r.stderr);

  // --with-blobs: a backup that stands on its own
  const dir2 = path.join(stack.tmp, 'backup2');
  r = ctl('backup', dir2, '--with-blobs');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const r2 = other('restored2');
  r = r2('restore', dir2);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = r2('check');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const kv = spawnSync('sqlite3', [path.join(stack.tmp, 'restored2', 'cubby.db'),
    `SELECT count(*) FROM kv_entries WHERE bucket_id = '${b}'`], { encoding: 'utf8' }).stdout.trim();
  // backup2 was taken after the writer stopped: every acknowledged write
  assert.equal(Number(kv), writes);
  const kv1 = spawnSync('sqlite3', [path.join(dir, 'cubby.db'),
    `SELECT count(*) FROM kv_entries WHERE bucket_id = '${b}'`], { encoding: 'utf8' }).stdout.trim();
  assert.ok(Number(kv1) >= before && Number(kv1) <= during,
    `backup1 holds what was acknowledged before it began and nothing after it ended (${before} <= ${kv1} <= ${during})`);

  // a damaged blob is named; a database that is not the manifest's is refused
  const x = man.blobs[0];
  const dst = path.join(stack.tmp, 'restored2', 'blobs', x.key.slice(0, 2), x.key.slice(2, 4), x.key);
  fs.writeFileSync(dst, 'not the bytes');
  r = r2('restore', dir2, '--force');
  assert.equal(r.status, 1);
  assert.match(r.stdout, /damaged blob .* \(SHA-256 [0-9a-f]{64}, the backup says [0-9a-f]{64}\)/);
  fs.appendFileSync(path.join(dir2, 'cubby.db'), 'x');
  r = r2('restore', dir2, '--force');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /does not match the manifest/);
  r = r2('restore', path.join(stack.tmp, 'nowhere'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not a cubby backup/);
});
