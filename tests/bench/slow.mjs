// slow.mjs - the API's latency while slow clients upload: GET /health
// through nginx (the shipped snippet, the real pool) with wrk, with N
// uploads trickling in at 20 KB/s the whole time, beside the same with
// none, in alternating rounds of one run. Target: p99 with 100 slow
// uploads at most twice the p99 with none. Run by tests/bench/slow.sh.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { Stack, sleep, trickle } from '../api/harness.mjs';

const rounds = Number(process.argv[2] || 3);
const counts = (process.argv[3] || '0,10,100').split(',').map(Number);
const secs = 8, conns = Number(process.env.CONNS || 32), RATE = 20 * 1024;
const stack = await new Stack({ config: { workers: String(process.env.WORKERS || 2), stream_workers: '64', log_level: 'warn',
  access_log: 'off' } }).start();
const base = stack.fronts[1].base;   // nginx

const r = await fetch(base + '/api/v1/admin/tenants', { method: 'POST',
  headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ name: 'bench' }) });
const key = (await r.json()).apiKey;
const size = RATE * (secs + 4);      // trickles past the end of the measurement

function wrk() {
  return new Promise((resolve) => {
    const p = spawn('wrk', ['-t2', `-c${conns}`, `-d${secs}s`, '--latency', base + '/health']);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', () => {
      const ms = (v) => (/us$/.test(v) ? parseFloat(v) / 1000 : /ms$/.test(v) ? parseFloat(v) : parseFloat(v) * 1000);
      const get = (re) => (re.exec(out) || [])[1];
      resolve({ rate: Number(get(/Requests\/sec:\s+([\d.]+)/)), p50: ms(get(/^\s+50%\s+(\S+)/m)),
        p99: ms(get(/^\s+99%\s+(\S+)/m)), bad: Number(get(/Non-2xx or 3xx responses: (\d+)/) || 0) });
    });
  });
}

async function withSlow(n) {
  const ups = [];
  for (let i = 0; i < n; i++) {
    const body = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(size - 9)]);
    const q = await (await fetch(base + '/api/v1/upload/request', { method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ fileType: 'application/pdf', fileName: 's.pdf', fileSizeBytes: size }) })).json();
    ups.push(trickle(base + q.presignedUrl, body, RATE));
  }
  await sleep(1000);                  // every upload under way
  const res = await wrk();
  const answers = await Promise.all(ups);
  res.completed = answers.filter((a) => a.status === 200).length;
  return res;
}

const results = Object.fromEntries(counts.map((n) => [n, []]));
for (let i = 0; i < rounds; i++)
  for (const n of counts) results[n].push(await withSlow(n));
await stack.stop();

const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const none = results[0] ? median(results[0].map((x) => x.p99)) : NaN;
console.log(`GET /health through nginx, ${conns} connections, ${secs} s a round, median of ${rounds} alternating rounds`);
console.log('slow uploads | req/s | p50 ms | p99 ms | p99 / p99 with none | uploads completed');
for (const n of counts) {
  const x = results[n];
  const p99 = median(x.map((y) => y.p99));
  console.log(`${String(n).padStart(12)} | ${median(x.map((y) => y.rate)).toFixed(0).padStart(5)} | ` +
    `${median(x.map((y) => y.p50)).toFixed(2).padStart(6)} | ${p99.toFixed(2).padStart(6)} | ` +
    `${(p99 / none).toFixed(2).padStart(19)} | ${x.map((y) => `${y.completed}/${n}`).join(', ')}` +
    (x.some((y) => y.bad) ? '  (non-2xx answers!)' : ''));
}
