// soak.mjs - a bounded mixed load through nginx for a number of minutes
// (key-value writes, reads and counters, file uploads and downloads,
// deletes, asset listings), reporting per minute: requests, errors, p50
// and p99 latency, and the request workers' and the jobs worker's RSS
// (which must stay flat). It ends with the crash-safety checks:
// integrity, acknowledged writes present, the counter exact, no object
// complete without its blob, quotas as the objects reserve, cubbyctl
// check clean. Run by tests/bench/soak.sh.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, sleep } from '../api/harness.mjs';

const minutes = Number(process.argv[2] || 10);
const conc = Number(process.argv[3] || 8);
const stack = new Stack();
await stack.start();
const base = stack.fronts[1].base;   // nginx
const data = path.join(stack.dirs.localstatedir, 'lib/cubby');
const sql = (q) => spawnSync('sqlite3', [path.join(data, 'cubby.db'), q], { encoding: 'utf8' }).stdout.trim();
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const rss = (pid) => { try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return 0; } };

let lat = [], reqs = 0, errs = 0;
async function call(method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const t0 = performance.now();
  try {
    const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body });
    const buf = Buffer.from(await r.arrayBuffer());
    lat.push(performance.now() - t0);
    reqs++;
    if (r.status >= 500) errs++;
    return { status: r.status, buf, text: buf.toString() };
  } catch (e) {
    reqs++; errs++;
    return { status: 0, text: String(e) };
  }
}

const t = await call('POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: 'soak', quotaBytes: 2 ** 40 } });
const key = JSON.parse(t.text).apiKey;
const bucket = (await call('POST', '/api/v1/', { body: 'email=soak%40example.com', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).text.trim();
const acked = { kv: new Map(), counter: 0, files: new Map() };
const end = Date.now() + minutes * 60000;
let n = 0;

async function client(i) {
  while (Date.now() < end) {
    const op = (n++ + i) % 10;
    if (op < 3) {
      const k = `k${i}-${n % 5000}`, v = crypto.randomBytes(32).toString('hex');
      if ((await call('PUT', `/api/v1/${bucket}/${k}`, { body: v })).status === 200) acked.kv.set(k, v);
    } else if (op < 5) {
      const ks = [...acked.kv.keys()];
      if (ks.length) await call('GET', `/api/v1/${bucket}/${ks[n % ks.length]}`);
    } else if (op === 5) {
      if ((await call('PATCH', `/api/v1/${bucket}/hits`, { body: '+1' })).status === 200) acked.counter++;
    } else if (op === 6) {
      const bytes = crypto.randomBytes(2000 + (n % 30000));
      const rq = await call('POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'f.pdf', fileSize: bytes.length } });
      if (rq.status !== 200) continue;
      const { presignedUrl, fileId } = JSON.parse(rq.text);
      if ((await call('PUT', presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } })).status === 200) acked.files.set(fileId, sha(bytes));
    } else if (op === 7) {
      const ids = [...acked.files.keys()];
      if (ids.length) await call('GET', `/api/v1/files/${ids[n % ids.length]}/download`, { key });
    } else if (op === 8) {
      const ids = [...acked.files.keys()];
      if (ids.length > 200) {
        const id = ids[0];
        if ((await call('DELETE', `/api/v1/files/${id}`, { key })).status === 200) acked.files.delete(id);
      }
    } else {
      await call('GET', '/v1/assets?limit=50', { key });
    }
  }
}

const workers0 = stack.workerPids();
const jobsPid = stack.children().find((p) => !workers0.includes(p));
console.log('minute  requests  5xx  p50_ms  p99_ms  workers_rss_kb(max)  jobs_rss_kb');
const rows = [];
const reporter = (async () => {
  for (let m = 1; m <= minutes; m++) {
    await sleep(Math.max(0, end - (minutes - m) * 60000 - Date.now()));
    const l = lat.sort((a, b) => a - b);
    const p = (q) => (l.length ? l[Math.min(l.length - 1, Math.floor(q * l.length))] : 0);
    const w = Math.max(...stack.workerPids().map(rss));
    rows.push(w);
    console.log(`${String(m).padStart(6)}  ${String(reqs).padStart(8)}  ${String(errs).padStart(3)}  ${p(0.5).toFixed(2).padStart(6)}  ${p(0.99).toFixed(2).padStart(6)}  ${String(w).padStart(19)}  ${String(rss(jobsPid)).padStart(11)}`);
    lat = []; reqs = 0; errs = 0;
  }
})();
await Promise.all([...Array.from({ length: conc }, (_, i) => client(i)), reporter]);

// the checks
assert.equal(sql('PRAGMA integrity_check'), 'ok');
for (const [k, v] of acked.kv) assert.equal((await call('GET', `/api/v1/${bucket}/${k}`)).text, v, k);
assert.equal(Number((await call('GET', `/api/v1/${bucket}/hits`)).text), acked.counter);
for (const [id, h] of acked.files) assert.equal(sha((await call('GET', `/api/v1/files/${id}/download`, { key })).buf), h, id);
const ck = stack.ctl('check');
assert.equal(ck.status, 0, ck.stdout + ck.stderr);
const slope = rows.length > 1 ? (rows[rows.length - 1] - rows[0]) / (rows.length - 1) : 0;
console.log(`checks: ok (${acked.kv.size} keys, ${acked.counter} increments, ${acked.files.size} files); worker RSS slope ${slope.toFixed(0)} kB/minute`);
await stack.stop();
