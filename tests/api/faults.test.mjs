// faults.test.mjs - the data directory on a small tmpfs of its own (the
// test mounts one; where mounting is not allowed it says so and skips):
// the disk filling up mid-upload and under key-value writes, and a writer
// holding the database past busy_timeout. Each gets a clear 5xx,
// nothing is left half-written (no completed object without its bytes,
// no temporary file, no reservation held), reads go on where they can,
// and everything works again once the fault clears.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, sleep } from './harness.mjs';

const stack = new Stack({ config: { busy_timeout_ms: '300' } });
const dataDir = path.join(stack.dirs.localstatedir, 'lib/cubby');
let mounted = false, why = '';
before(async () => {
  fs.mkdirSync(dataDir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0755', 'tmpfs', dataDir], { encoding: 'utf8' });
  mounted = m.status === 0;
  why = m.stderr || m.error?.message || `mount exited ${m.status}`;
  await stack.start();
});
after(async () => {
  // detached at once (the pool's open files go on working until it
  // exits), so the harness can remove the directory
  if (mounted) spawnSync('umount', ['-l', dataDir]);
  await stack.stop();
});

const sql = (q) => spawnSync('sqlite3', [path.join(dataDir, 'cubby.db'), q], { encoding: 'utf8' }).stdout.trim();
const base = () => stack.fronts[1].base;
async function call(method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base() + p, { method, headers: h, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, json, text: buf.toString(), buf };
}
async function tenant() {
  const r = await call('POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: `f-${crypto.randomUUID()}` } });
  assert.equal(r.status, 201, r.text);
  return r.json.apiKey;
}
const consistent = () => {
  // no completed object without its blob, quotas as the objects reserve
  for (const row of sql("SELECT blob_key FROM objects WHERE state = 'completed'").split('\n').filter(Boolean))
    assert.ok(fs.existsSync(path.join(dataDir, 'blobs', row.slice(0, 2), row.slice(2, 4), row)), `blob ${row}`);
  assert.equal(sql('SELECT count(*) FROM tenants t WHERE used_bytes != (SELECT coalesce(sum(reserved_bytes), 0) FROM objects o WHERE o.tenant_id = t.id)'), '0');
  assert.equal(sql('PRAGMA integrity_check'), 'ok');
};

test('the disk fills up mid-upload: 507, nothing half-written, the same upload succeeds once there is room', async (t) => {
  if (!mounted) return t.skip(`cannot mount a tmpfs here: ${why}`);
  const key = await tenant();
  const bytes = crypto.randomBytes(8 * 1024 * 1024);
  const rq = await call('POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'big.pdf', fileSize: bytes.length } });
  assert.equal(rq.status, 200, rq.text);
  // leave about 2 MiB free
  const filler = path.join(dataDir, 'filler');
  const free = () => { const s = fs.statfsSync(dataDir); return s.bavail * s.bsize; };
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 2 * 1024 * 1024)));
  const put = await call('PUT', rq.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } });
  assert.equal(put.status, 507, put.text);
  assert.match(put.text, /storage/i);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'blobs', 'tmp')), [], 'no temp file left');
  assert.equal(sql(`SELECT state FROM objects WHERE id = '${rq.json.fileId}'`), 'pending');
  consistent();
  // a key-value write that does not fit either: a clear 5xx, not a crash
  const b = await call('POST', '/api/v1/', { body: 'email=f%40example.com', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const bucket = b.text.trim();
  let kvStatus = 200;
  for (let i = 0; i < 1000 && kvStatus < 500; i++)
    kvStatus = (await call('PUT', `/api/v1/${bucket}/k${i}`, { body: crypto.randomBytes(6 * 1024).toString('hex') })).status;
  assert.equal(kvStatus, 507, `key-value write on a full disk: ${kvStatus}`);
  assert.equal((await call('GET', '/health')).status, 200);
  // room again: the same URL works, byte for byte
  fs.unlinkSync(filler);
  const again = await call('PUT', rq.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } });
  assert.equal(again.status, 200, again.text);
  const dl = await call('GET', `/api/v1/files/${rq.json.fileId}/download`, { key });
  assert.ok(dl.buf.equals(bytes));
  assert.equal((await call('PUT', `/api/v1/${bucket}/after`, { body: 'ok' })).status, 200);
  consistent();
});

test('a writer holding the database past busy_timeout: 503 with Retry-After, then the same write succeeds', async () => {
  const b = await call('POST', '/api/v1/', { body: 'email=busy%40example.com', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const bucket = b.text.trim();
  const holder = spawn('sh', ['-c', `(echo "BEGIN IMMEDIATE; INSERT INTO settings VALUES ('busy-test', 'x');"; sleep 3; echo "ROLLBACK;") | sqlite3 '${path.join(dataDir, 'cubby.db')}'`]);
  await sleep(500);
  const statuses = await Promise.all(Array.from({ length: 6 }, (_, i) => call('PUT', `/api/v1/${bucket}/storm${i}`, { body: 'x' })));
  for (const s of statuses) assert.equal(s.status, 503, s.text);
  const one = await fetch(base() + `/api/v1/${bucket}/storm0`, { method: 'PUT', body: 'x' });
  assert.equal(one.status, 503);
  assert.equal(one.headers.get('retry-after'), '1');
  await new Promise((r) => holder.on('exit', r));
  const again = await Promise.all(Array.from({ length: 6 }, (_, i) => call('PUT', `/api/v1/${bucket}/storm${i}`, { body: 'x' })));
  for (const s of again) assert.equal(s.status, 200, s.text);
  consistent();
});
