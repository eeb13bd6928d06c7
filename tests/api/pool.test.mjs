// pool.test.mjs - the process model under real signals: a killed worker is
// replaced at once and the log names the route it was serving; SIGHUP under
// load drops nothing; SIGTERM lets a request in flight finish; max_requests
// recycles; the shipped spawner setups (lighttpd bin-path, spawn-fcgi,
// plain CGI) work; the pool refuses a database it does not match.
//
// A request is held inside a handler with a gdb breakpoint on ops_ready, so
// no test-only code is needed in the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, bin, renderTemplate, sleep, freePort } from './harness.mjs';

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// The gauge's value once it reads `want`, or its last value after 3 s (the
// first worker can answer before the master has forked the next one).
async function waitMetric(front, name, want) {
  let v;
  for (const end = Date.now() + 3000; v !== want && Date.now() < end; await sleep(20))
    v = metric(await (await fetch(front.base + '/metrics')).text(), name);
  return v;
}

// Hammer base+path from `conc` loops until stop() is called.
function load(bases, conc = 6, urlPath = '/health') {
  let running = true, ok = 0;
  const failures = [];
  const loops = Array.from({ length: conc }, async (_, i) => {
    const base = bases[i % bases.length];
    while (running) {
      try {
        const r = await fetch(base + urlPath);
        await r.arrayBuffer();
        if (r.status === 200) ok++; else failures.push(`${base} ${r.status}`);
      } catch (e) { failures.push(`${base} ${e.message}`); }
    }
  });
  return { stop: async () => { running = false; await Promise.all(loops); return { ok, failures }; } };
}

// Stop `pid` at the first call of `fn`; resolves once the breakpoint is set.
// release() lets it go on.
async function holdIn(pid, fn) {
  const gdb = spawn('gdb', ['-q', '-nx', '-p', String(pid), '-batch',
    '-ex', `break ${fn}`, '-ex', 'continue', '-ex', 'shell read line', '-ex', 'detach'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  gdb.stdin.on('error', () => {});   // (gdb gone first: its status tells)
  let out = '';
  gdb.stdout.on('data', (d) => { out += d; });
  gdb.stderr.on('data', (d) => { out += d; });
  const end = Date.now() + 15000;
  while (!/Breakpoint 1 at/.test(out)) {
    if (Date.now() > end || gdb.exitCode !== null) throw new Error('gdb did not attach: ' + out);
    await sleep(20);
  }
  await sleep(100);
  return {
    hit: async () => { while (!/Breakpoint 1, /.test(out)) { if (Date.now() > end + 15000) throw new Error('breakpoint not hit'); await sleep(10); } },
    release: async () => { gdb.stdin.end('\n'); await new Promise((r) => (gdb.exitCode !== null ? r() : gdb.once('exit', r))); },
  };
}

test('a worker killed under load is replaced within 100 ms; other requests are unaffected', async () => {
  const s = await new Stack().start();
  try {
    const before = s.workerPids();
    assert.equal(before.length, 2);
    const l = load(s.fronts.map((f) => f.base));
    await sleep(500);
    const victim = before[0];
    const t0 = process.hrtime.bigint();
    process.kill(victim, 'SIGKILL');
    let replaced = null;
    while (Number(process.hrtime.bigint() - t0) / 1e6 < 2000) {
      const now = s.workerPids();
      if (now.length === 2 && !now.includes(victim)) { replaced = Number(process.hrtime.bigint() - t0) / 1e6; break; }
      await new Promise((r) => setImmediate(r));
    }
    await sleep(500);
    const { ok, failures } = await l.stop();
    assert.ok(replaced !== null, 'the worker was not replaced');
    // at once (no back-off for a worker that lived); the bound leaves room
    // for a loaded 2-core machine polling /proc between requests
    assert.ok(replaced < 250, `replaced after ${replaced.toFixed(1)} ms`);
    // Only a request the victim itself was serving may fail.
    assert.ok(failures.length <= 1, `failures: ${failures.join(', ')}`);
    assert.ok(ok > 100, `only ${ok} requests succeeded`);
    const m = await (await fetch(s.fronts[1].base + '/metrics')).text();
    assert.equal(metric(m, 'cubby_workers_alive'), 2);
    assert.equal(metric(m, 'cubby_worker_restarts_total'), 1);
    assert.match(s.log(), new RegExp(`worker ${victim} killed by signal 9 \\(Killed\\) while (idle|serving GET /health)`));
  } finally { await s.stop(); }
});

test('the log names the route a dead worker was serving', async () => {
  const s = await new Stack({ config: { workers: '1' } }).start();
  try {
    const [w] = s.workerPids();
    const h = await holdIn(w, 'ops_ready');
    const req = fetch(s.fronts[1].base + '/ready', { headers: { 'X-Request-Id': 'doomed-1' } });
    await h.hit();
    process.kill(w, 'SIGKILL');
    const r = await req;
    assert.equal(r.status, 502);   // nginx: the upstream died mid-request
    await h.release().catch(() => {});
    await sleep(200);
    assert.match(s.log(), new RegExp(`worker ${w} killed by signal 9 \\(Killed\\) while serving GET /ready \\(rid=doomed-1\\)`));
    assert.equal((await fetch(s.fronts[1].base + '/ready')).status, 200);
  } finally { await s.stop(); }
});

test('a worker that keeps dying is restarted with back-off', async () => {
  const s = await new Stack({ config: { workers: '1' } }).start();
  try {
    for (let i = 0; i < 4; i++) {
      let w;
      const end = Date.now() + 5000;
      while (!(w = s.workerPids()[0]) && Date.now() < end) await sleep(5);
      process.kill(w, 'SIGKILL');
      await sleep(20);
    }
    await sleep(100);
    assert.match(s.log(), /processes keep dying; next start in \d+ ms/);
    // it comes back after the back-off
    const end = Date.now() + 5000;
    while (s.workerPids().length !== 1 && Date.now() < end) await sleep(20);
    assert.equal(s.workerPids().length, 1);
    for (const f of s.fronts) await s.waitHealthy(f);
  } finally { await s.stop(); }
});

test('SIGHUP under load: new config, new workers, no failed request', async () => {
  const s = await new Stack().start();
  try {
    const old = s.workerPids();
    const l = load(s.fronts.map((f) => f.base), 8);
    await sleep(300);
    for (let i = 0; i < 3; i++) {
      if (i === 2) s.writeConfig({ workers: '3' });
      process.kill(s.pool.pid, 'SIGHUP');
      await sleep(400);
    }
    await sleep(300);
    const { ok, failures } = await l.stop();
    assert.deepEqual(failures, []);
    assert.ok(ok > 200, `only ${ok} requests`);
    const now = s.workerPids();
    assert.equal(now.length, 3, 'the reloaded config asked for 3 workers');
    assert.ok(now.every((p) => !old.includes(p)), 'every worker was replaced');
    const m = await (await fetch(s.fronts[0].base + '/metrics')).text();
    assert.equal(metric(m, 'cubby_workers_alive'), 3);
    assert.equal(metric(m, 'cubby_worker_restarts_total'), 0, 'a retired worker is not a restart');
    assert.match(s.log(), /reload: generation 4 serving with 3 workers/);
  } finally { await s.stop(); }
});

test('SIGHUP with a broken config keeps the running one', async () => {
  const s = await new Stack().start();
  try {
    const old = s.workerPids();
    fs.appendFileSync(s.confPath, 'workers = many\n');
    process.kill(s.pool.pid, 'SIGHUP');
    await sleep(300);
    assert.match(s.log(), /reload: .*bad value for 'workers'; keeping the running configuration/);
    assert.deepEqual(s.workerPids().sort(), old.sort());
    assert.equal((await fetch(s.fronts[0].base + '/health')).status, 200);
  } finally { await s.stop(); }
});

test('SIGTERM lets the request in flight finish, then the pool exits', async () => {
  const s = await new Stack({ config: { workers: '1' } }).start();
  try {
    const [w] = s.workerPids();
    const h = await holdIn(w, 'ops_ready');
    const req = fetch(s.fronts[1].base + '/ready');
    await h.hit();
    const exited = new Promise((r) => s.pool.once('exit', (code, sig) => r({ code, sig })));
    process.kill(s.pool.pid, 'SIGTERM');
    await sleep(300);
    assert.equal(s.pool.exitCode, null, 'the pool must wait for the request in flight');
    await h.release();
    const r = await req;
    assert.equal(r.status, 200);
    assert.equal((await r.json()).status, 'ok');
    const { code } = await Promise.race([exited, sleep(5000).then(() => ({ code: 'timeout' }))]);
    assert.equal(code, 0);
    assert.ok(!fs.existsSync(s.socket), 'the pool removes its socket');
    assert.deepEqual(s.children(w), []);
  } finally { await s.stop(); }
});

test('max_requests recycles workers without failing a request', async () => {
  const s = await new Stack({ config: { workers: '1', max_requests: '5' } }).start();
  try {
    for (let i = 0; i < 30; i++) assert.equal((await fetch(s.fronts[i % 2].base + '/health')).status, 200);
    const pids = new Set([...s.log().matchAll(/cubby-fcgi\[(\d+)\] info: access /g)].map((m) => m[1]));
    assert.ok(pids.size >= 6, `only ${pids.size} worker processes served 30+ requests`);
    assert.match(s.log(), /worker recycled after 5 requests/);
    const m = await (await fetch(s.fronts[0].base + '/metrics')).text();
    assert.equal(metric(m, 'cubby_worker_restarts_total'), 0);
  } finally { await s.stop(); }
});

test('lighttpd bin-path starts the pool from the shipped snippet', async () => {
  const s = new Stack({ config: { listen: '' } });
  try {
    s.init();
    const f = await s.startLighttpd('etc/lighttpd-cubby-spawn.conf');
    await s.waitHealthy(f);
    // The first worker can answer before the master has forked the second.
    assert.equal(await waitMetric(f, 'cubby_workers_alive', 2), 2, 'one pool with its own workers, not one per lighttpd proc');
    const r = await fetch(f.base + '/ready');
    assert.equal(r.status, 200);
    // lighttpd stops the pool when it stops; no orphan workers stay behind
    const master = spawnSync('pgrep', ['-P', String(f.proc.pid), '-f', 'cubby-fcgi'], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter(Boolean);
    assert.equal(master.length, 1);
    // (the jobs worker is forked right after the workers, then the
    // stream pool's three: the harness's stream_workers)
    for (const end = Date.now() + 5000; s.children(master[0]).length < 6 && Date.now() < end;) await sleep(50);
    const kids = s.children(master[0]);
    assert.equal(kids.length, 6);
    assert.equal(s.streamPids(master[0]).length, 3, 'the stream pool runs beside lighttpd\'s pool');
    f.proc.kill('SIGTERM');
    await new Promise((r) => f.proc.once('exit', r));
    const end = Date.now() + 5000;
    while ([master[0], ...kids].some((p) => fs.existsSync(`/proc/${p}`)) && Date.now() < end) await sleep(50);
    assert.ok(![master[0], ...kids].some((p) => fs.existsSync(`/proc/${p}/status`) && !/State:\s+Z/.test(fs.readFileSync(`/proc/${p}/status`, 'utf8'))), 'pool processes outlived lighttpd');
  } finally { await s.stop(); }
});

test('contrib/spawn-fcgi.sh starts the pool behind nginx and lighttpd', async () => {
  const s = new Stack({ config: { listen: '' } });
  let pid;
  try {
    s.init();
    const script = path.join(s.tmp, 'spawn-fcgi.sh');
    fs.writeFileSync(script, renderTemplate('contrib/spawn-fcgi.sh', s.dirs));
    const r = spawnSync('sh', [script, s.socket, s.confPath], { encoding: 'utf8', env: s.env() });
    assert.equal(r.status, 0, r.stderr);
    pid = Number(fs.readFileSync(s.socket.replace(/\.sock$/, '.pid'), 'utf8'));
    fs.chmodSync(s.socket, 0o666);   // spawn-fcgi -M 0660: nginx workers run as nobody here
    for (const f of [await s.startNginx(), await s.startLighttpd()]) {
      await s.waitHealthy(f);
      assert.equal((await fetch(f.base + '/ready')).status, 200, f.name);
      assert.equal(await waitMetric(f, 'cubby_workers_alive', 2), 2, f.name);
    }
  } finally {
    if (pid) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    await sleep(300);
    await s.stop();
  }
});

test('plain CGI through lighttpd mod_cgi answers one request per process', async () => {
  const s = new Stack({ config: { base_path: '/cgi' } });
  try {
    s.init();
    const port = await freePort();
    const dir = path.join(s.tmp, 'cgi');
    fs.mkdirSync(path.join(dir, 'www'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
      `server.document-root = "${dir}/www"`, 'server.bind = "127.0.0.1"', `server.port = ${port}`,
      `server.errorlog = "${dir}/error.log"`,
      'server.modules += ( "mod_alias", "mod_setenv", "mod_cgi" )',
      `alias.url = ( "/cgi" => "${bin('cubby-fcgi')}" )`,
      'cgi.assign = ( "" => "" )',
      `setenv.add-environment = ( "CUBBY_CONFIG" => "${s.confPath}" )`, '',
    ].join('\n'));
    const p = spawn('lighttpd', ['-D', '-f', path.join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
    s.procs.push(p);
    const base = `http://127.0.0.1:${port}`;
    let r;
    const end = Date.now() + 5000;
    while (Date.now() < end) { try { r = await fetch(base + '/cgi/health'); break; } catch { await sleep(50); } }
    assert.equal(r.status, 200);
    assert.equal((await r.json()).status, 'ok');
    r = await fetch(base + '/cgi/ready');
    assert.equal(r.status, 200);
    r = await fetch(base + '/cgi/nope');
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: { code: 404, message: 'not_found' } });
    r = await fetch(base + '/cgi/health', { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  } finally { await s.stop(); }
});

// One request answered by a one-off CGI process on the stack's config.
function cgi(s, method, uri, body, addr = '192.0.2.7') {
  const env = { ...s.env(), GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: method, REQUEST_URI: uri,
    SERVER_PROTOCOL: 'HTTP/1.1', SERVER_NAME: '127.0.0.1', SERVER_PORT: '80', REMOTE_ADDR: addr,
    ...(body ? { CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(Buffer.byteLength(body)) } : {}) };
  const r = spawnSync(bin('cubby-fcgi'), [], { env, input: body || '', encoding: 'utf8' });
  const m = /^Status: (\d+)/m.exec(r.stdout);
  return { status: m ? Number(m[1]) : 0, out: r.stdout, err: r.stderr };
}

test('password attempts count across processes: CGI one-offs and the pool share one table', async () => {
  const s = await new Stack().start();
  try {
    const f = s.fronts[0];
    const j = (r) => r.json();
    const t = await j(await fetch(f.base + '/api/v1/admin/tenants', { method: 'POST',
      headers: { Authorization: `Bearer ${s.adminKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'rl' }) }));
    const sp = await j(await fetch(f.base + '/v1/spaces', { method: 'POST',
      headers: { Authorization: `Bearer ${t.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'vault', visibility: 'protected', password: 'open sesame' }) }));
    const uri = `/v1/public/spaces/${sp.data.short_id}/access`;
    // five wrong passwords, each from a process of its own
    for (let i = 0; i < 5; i++) {
      const r = cgi(s, 'POST', uri, JSON.stringify({ password: `guess-${i}` }));
      assert.equal(r.status, 401, r.out + r.err);
    }
    // the sixth, from the same address, is refused by the pool's workers
    const r = await fetch(f.base + uri, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ password: 'guess-5' }) });
    // (the fronts pass 127.0.0.1: another address, its own window)
    assert.equal(r.status, 401);
    assert.equal(cgi(s, 'POST', uri, JSON.stringify({ password: 'open sesame' })).status, 429);
    // and a pool started later on the same data directory sees it too
    const sock = path.join(s.tmp, 'second.sock');
    const p2 = spawn(bin('cubby-fcgi'), ['-c', s.confPath, '--listen', `unix:${sock}`], { env: s.env(), stdio: 'ignore' });
    s.procs.push(p2);
    for (const end = Date.now() + 5000; !fs.existsSync(sock) && Date.now() < end;) await sleep(25);
    const body = JSON.stringify({ password: 'open sesame' });
    const q = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], { input: body, encoding: 'utf8',
      env: { PATH: process.env.PATH, REQUEST_METHOD: 'POST', REQUEST_URI: uri, REMOTE_ADDR: '192.0.2.7',
        SERVER_NAME: '127.0.0.1', SERVER_PORT: '80', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(body.length) } });
    assert.match(q.stdout, /^Status: 429/m, q.stdout + q.stderr);
    // another address is not affected
    assert.equal(cgi(s, 'POST', uri, JSON.stringify({ password: 'open sesame' }), '192.0.2.8').status, 200);
    assert.ok(fs.existsSync(path.join(s.tmp, 'var/lib/cubby/ratelimit.map')));
  } finally { await s.stop(); }
});

test('the pool refuses a database it does not match, with a clear line', async () => {
  const s = new Stack();
  try {
    s.writeConfig();
    // no database yet
    let r = spawnSync(bin('cubby-fcgi'), ['-c', s.confPath], { env: s.env(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /run cubbyctl init/);
    s.init();
    const db = path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db');
    spawnSync('sqlite3', [db, 'PRAGMA user_version=99']);
    r = spawnSync(bin('cubby-fcgi'), ['-c', s.confPath], { env: s.env(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing to serve: database .* is at schema 99, newer than this cubby \(\d+\): upgrade cubby/);
    r = s.ctl('migrate');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /newer than this cubby .*refusing to touch it/);
    spawnSync('sqlite3', [db, 'PRAGMA user_version=0']);
    r = spawnSync(bin('cubby-fcgi'), ['-c', s.confPath], { env: s.env(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has no schema \(run cubbyctl init\)/);
  } finally { await s.stop(); }
});

test('cubbyctl init: 0600 master key, admin key printed once, rotate makes a new one', async () => {
  const s = new Stack();
  try {
    const first = s.init();
    assert.match(s.adminKey, /^sk_admin_[0-9a-f]{64}$/);
    const mk = path.join(s.dirs.localstatedir, 'lib/cubby/master.key');
    assert.equal(fs.statSync(mk).mode & 0o777, 0o600);
    const again = s.ctl('init');
    assert.equal(again.status, 0);
    assert.match(again.stdout, /already initialised/);
    assert.ok(!/sk_admin_/.test(again.stdout), 'init must not print a key twice');
    const rot = s.ctl('rotate-admin-key');
    assert.equal(rot.status, 0);
    const k2 = /(sk_admin_[0-9a-f]{64})/.exec(rot.stdout)[1];
    assert.notEqual(k2, s.adminKey);
    // the database holds hashes, never the raw keys
    const dump = spawnSync('sqlite3', [path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db'), '.dump'], { encoding: 'utf8' }).stdout;
    assert.ok(!dump.includes(s.adminKey.slice(9)) && !dump.includes(k2.slice(9)));
    assert.match(first.stdout, /created master key/);
    // a world-readable master key is refused
    fs.chmodSync(mk, 0o644);
    const bad = s.ctl('rotate-admin-key');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /readable by others; chmod 600 it/);
  } finally { await s.stop(); }
});

test('--listen host:port serves over TCP behind nginx', async () => {
  const s = new Stack();
  try {
    s.init();
    const port = await freePort();
    s.startPool(['--listen', `127.0.0.1:${port}`]);
    // The shipped nginx snippet, pointed at the TCP address instead.
    const text = renderTemplate('etc/nginx-cubby.conf', s.dirs).replace(`unix:${s.socket}`, `127.0.0.1:${port}`);
    assert.ok(text.includes(`fastcgi_pass 127.0.0.1:${port};`));
    const f = await s.startNginx({ text });
    await s.waitHealthy(f);
    assert.equal((await fetch(f.base + '/ready')).status, 200);
    assert.ok(!fs.existsSync(s.socket), 'no unix socket was created');
  } finally { await s.stop(); }
});
