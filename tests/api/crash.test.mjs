// crash.test.mjs - crash safety under load: for a bounded time, a mixed
// load through nginx and lighttpd (key-value writes and counters, file
// uploads of bytes and of images the processor works on, deletes,
// publishes into a space) while random request workers and the jobs
// worker are SIGKILLed. Then: the database's integrity check is ok; every
// write acknowledged with a 2xx is there, byte for byte; a counter is at
// least its acknowledged increments and at most those plus the ones whose
// answer was lost; no object is complete without its blob; every tenant's
// quota usage is what its live objects reserve; processing finishes; and
// after cubbyctl gc (an hour later) nothing is left over: cubbyctl check
// is clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, sleep } from './harness.mjs';

const LOAD_MS = Number(process.env.CUBBY_CRASH_MS || 20000);
const stack = new Stack({ config: { media_timeout: '2', workers: '3' } });
before(() => stack.start());
after(() => stack.stop());

const data = () => path.join(stack.dirs.localstatedir, 'lib/cubby');
const sql = (q) => spawnSync('sqlite3', [path.join(data(), 'cubby.db'), q], { encoding: 'utf8' }).stdout.trim();
const uuidOfExt = (ext) => ext.slice(4).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
let turn = 0;
const base = () => stack.fronts[turn++ % 2].base;

// A request whose outcome is one of: ok (a 2xx, with its body), refused
// (Cubby's answer that is not a 2xx: nothing happened), lost (no answer, or
// the web server's own error for a worker that died: it may or may not
// have).
async function call(method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  try {
    const r = await fetch(/^https?:/.test(p) ? p : base() + p, { method, headers: h, body, signal: AbortSignal.timeout(10000) });
    const buf = Buffer.from(await r.arrayBuffer());
    if (r.status >= 200 && r.status < 300) return { ok: true, status: r.status, buf, text: buf.toString() };
    if (r.status === 502 || r.status === 503 || r.status === 504) return { lost: true, status: r.status };
    // Not Cubby's answer (always JSON) but the web server's page for a
    // worker that died with the request: lighttpd says 500 (nginx 502).
    try { JSON.parse(buf.toString()); } catch { return { lost: true, status: r.status }; }
    return { refused: true, status: r.status, text: buf.toString() };
  } catch (e) {
    return { lost: true, error: String(e) };
  }
}

test('random SIGKILLs of workers and the jobs worker under a mixed load lose nothing acknowledged', { timeout: 300000 }, async () => {
  // fixtures: an image the processor really decodes
  const img = path.join(stack.tmp, 'i.jpg');
  assert.equal(spawnSync('vips', ['black', path.join(stack.tmp, 'b.v'), '640', '480', '--bands', '3']).status, 0);
  assert.equal(spawnSync('vips', ['copy', path.join(stack.tmp, 'b.v'), img]).status, 0);
  const jpeg = fs.readFileSync(img);
  const t = await call('POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: 'crash', quotaBytes: 1 << 30 } });
  assert.ok(t.ok, JSON.stringify(t));
  const key = JSON.parse(t.text).apiKey;
  const kvr = await call('POST', '/api/v1/', { body: new URLSearchParams({ email: 'crash@example.com' }).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.ok(kvr.ok, JSON.stringify(kvr));
  const bucket = kvr.text.trim();
  const sp = await call('POST', '/v1/spaces', { key, body: { name: 'crash', visibility: 'public' } });
  assert.ok(sp.ok, JSON.stringify(sp));
  const space = JSON.parse(sp.text).data.id;

  const acked = { kv: new Map(), counter: 0, counterLost: 0, counterRefused: [], files: new Map(), deleted: new Set(), maybeDeleted: new Set(), published: new Set() };
  const stats = { requests: 0, lost: 0, kills: 0, jobsKills: 0 };
  const end = Date.now() + LOAD_MS;
  let n = 0;

  const kvWriter = async () => {
    while (Date.now() < end) {
      const k = `k${++n}`, v = crypto.randomBytes(24).toString('hex');
      const r = await call('PUT', `/api/v1/${bucket}/${k}`, { body: v });
      stats.requests++;
      if (r.ok) acked.kv.set(k, v); else if (r.lost) stats.lost++;
    }
  };
  const counter = async () => {
    while (Date.now() < end) {
      const r = await call('PATCH', `/api/v1/${bucket}/hits`, { body: '+1' });
      stats.requests++;
      if (r.ok) acked.counter++; else if (r.lost) { acked.counterLost++; stats.lost++; } else acked.counterRefused.push(`${r.status} ${r.text}`);
    }
  };
  const uploader = (image) => async () => {
    while (Date.now() < end) {
      const bytes = image ? jpeg : crypto.randomBytes(1000 + Math.floor(Math.random() * 50000));
      const rq = await call('POST', '/api/v1/upload/request', { key, body: { fileType: image ? 'image/jpeg' : 'application/octet-stream', fileName: image ? 'p.jpg' : 'b.bin', fileSize: bytes.length } });
      stats.requests++;
      if (!rq.ok) { if (rq.lost) stats.lost++; continue; }
      const { presignedUrl, fileId } = JSON.parse(rq.text);
      const put = await call('PUT', presignedUrl, { body: bytes, headers: { 'Content-Type': image ? 'image/jpeg' : 'application/octet-stream' } });
      stats.requests++;
      if (put.ok) acked.files.set(fileId, { sha: sha(bytes), size: bytes.length, image });
      else if (put.lost) stats.lost++;
    }
  };
  const deleterPublisher = async () => {
    while (Date.now() < end) {
      const ids = [...acked.files.keys()].filter((id) => !acked.deleted.has(id) && !acked.maybeDeleted.has(id) && !acked.published.has(id));
      if (ids.length < 2) { await sleep(50); continue; }
      const del = ids[0], pub = ids[1];
      const d = await call('DELETE', `/api/v1/files/${del}`, { key });
      stats.requests++;
      if (d.ok) acked.deleted.add(del); else if (d.lost) { acked.maybeDeleted.add(del); stats.lost++; }
      const p = await call('POST', `/v1/spaces/${space}/publications`, { key, body: { asset_ids: ['ast_' + pub.replace(/-/g, '')] } });
      stats.requests++;
      if (p.ok && JSON.parse(p.text).data[0].success) acked.published.add(pub); else if (p.lost) stats.lost++;
    }
  };
  const killer = async () => {
    await sleep(300);
    while (Date.now() < end - 300) {
      // request workers of both pools (the stream pool takes the uploads)
      const all = stack.children(), workers = stack.workerPids().concat(stack.streamPids());
      const jobs = all.filter((p) => !workers.includes(p));
      const hitJobs = Math.random() < 0.25 && jobs.length > 0;
      const victim = hitJobs ? jobs[0] : workers[Math.floor(Math.random() * workers.length)];
      if (victim) {
        try { process.kill(victim, 'SIGKILL'); stats.kills++; if (hitJobs) stats.jobsKills++; } catch { /* gone already */ }
      }
      await sleep(200 + Math.random() * 400);
    }
  };
  await Promise.all([kvWriter(), kvWriter(), counter(), uploader(false)(), uploader(false)(), uploader(true)(), deleterPublisher(), killer()]);

  // the pool is whole again
  for (let i = 0; i < 100 && (await call('GET', '/health')).status !== 200; i++) await sleep(100);
  assert.equal((await call('GET', '/health')).status, 200);

  // integrity
  assert.equal(sql('PRAGMA integrity_check'), 'ok');
  // acknowledged key-value writes, each with its value
  for (const [k, v] of acked.kv) {
    const r = await call('GET', `/api/v1/${bucket}/${k}`);
    assert.ok(r.ok && r.text === v, `${k}: ${JSON.stringify(r)}`);
  }
  // the counter: every acknowledged increment, and at most the lost ones more
  const c = Number((await call('GET', `/api/v1/${bucket}/hits`)).text);
  assert.ok(c >= acked.counter && c <= acked.counter + acked.counterLost,
    `counter ${c}: ${acked.counter} acknowledged, ${acked.counterLost} lost, refused: ${acked.counterRefused.join('; ')}`);
  // acknowledged uploads: there, byte for byte (deleted ones: gone)
  for (const [id, f] of acked.files) {
    const r = await call('GET', `/api/v1/files/${id}/download`, { key });
    if (acked.deleted.has(id) || (acked.maybeDeleted.has(id) && r.status === 404)) { assert.equal(r.status, 404, id); continue; }
    assert.ok(r.ok, `${id}: ${JSON.stringify(r)}`);
    assert.equal(sha(r.buf), f.sha, id);
  }
  // acknowledged publications (the listing shows a page; the table all)
  const pubs = sql(`SELECT object_id FROM publications WHERE space_id = '${uuidOfExt(space)}'`).split('\n');
  for (const id of acked.published) assert.ok(pubs.includes(id), `publication of ${id}`);
  // (and the listing shows them, while they fit in its 1,000)
  const listed = JSON.parse((await call('GET', `/v1/spaces/${space}/publications`, { key })).text).data.map((a) => a.file_id);
  if (pubs.length <= 1000) for (const id of acked.published) assert.ok(listed.includes(id), `listing of ${id}: ${sql(`SELECT state, deleted_at, processing_status FROM objects WHERE id = '${id}'`)}; ${listed.length} listed, ${pubs.length} rows`);
  // no completed object without its blob
  for (const row of sql("SELECT id || '|' || blob_key FROM objects WHERE state = 'completed'").split('\n').filter(Boolean)) {
    const [id, k] = row.split('|');
    assert.ok(fs.existsSync(path.join(data(), 'blobs', k.slice(0, 2), k.slice(2, 4), k)), `object ${id} without its blob`);
  }
  // quota usage is what the live objects reserve
  assert.equal(sql(`SELECT used_bytes = (SELECT coalesce(sum(reserved_bytes), 0) FROM objects o WHERE o.tenant_id = t.id) FROM tenants t WHERE name = 'crash'`), '1');
  // processing finishes: every acknowledged image is processed (a job
  // whose jobs worker died runs again when its lease ends)
  const images = [...acked.files].filter(([id, f]) => f.image && !acked.deleted.has(id) && !acked.maybeDeleted.has(id)).map(([id]) => id);
  let pending = images.length;
  for (let i = 0; i < 300 && pending > 0; i++) {
    await sleep(100);
    pending = Number(sql(`SELECT count(*) FROM objects WHERE processing_status = 'pending' AND id IN (${images.map((x) => `'${x}'`).join(',') || "''"})`));
  }
  assert.equal(pending, 0, 'processing finished');
  assert.equal(sql(`SELECT count(*) FROM objects WHERE thumb_key IS NULL AND id IN (${images.map((x) => `'${x}'`).join(',') || "''"})`), '0');
  // an hour later: gc leaves nothing over, check is clean
  spawnSync('find', [path.join(data(), 'blobs'), '-type', 'f', '-exec', 'touch', '-d', '2 hours ago', '{}', '+']);
  const gc = stack.ctl('gc');
  assert.equal(gc.status, 0, gc.stderr + gc.stdout);
  const ck = stack.ctl('check');
  assert.equal(ck.status, 0, ck.stdout + ck.stderr);
  // the figures, for docs/reliability.md
  console.log(`# crash: ${stats.requests} requests, ${stats.lost} lost answers, ${stats.kills} kills` +
    ` (${stats.jobsKills} of the jobs worker); acknowledged: ${acked.kv.size} writes, ${acked.counter}` +
    ` increments, ${acked.files.size} uploads, ${acked.deleted.size} deletes, ${acked.published.size} publications;` +
    ` gc: ${gc.stdout.trim().split('\n').pop()}`);
  assert.ok(stats.kills >= LOAD_MS / 1000, `${stats.kills} kills`);
});
