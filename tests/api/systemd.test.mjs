// systemd.test.mjs - the shipped units (contrib/cubby.service, cubby.socket)
// behind nginx. There is no systemd to boot in a test container, so:
// systemd-analyze verifies both units as systemd would load them; the
// service is then run as its [Service] section says (ExecStart, User and
// Group, UMask, RuntimeDirectory, ExecReload, KillSignal and
// TimeoutStopSec); and socket activation runs under systemd-socket-activate,
// which hands the socket over the way systemd does (LISTEN_FDS, LISTEN_PID,
// fd 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Stack, renderTemplate, sleep } from './harness.mjs';

const root = process.getuid && process.getuid() === 0;

// [Section] key=value lines of a unit file (the last value of a key wins).
function unit(text) {
  const out = {};
  let sec = '';
  for (const line of text.split('\n')) {
    const m = /^\[(\w+)\]$/.exec(line.trim());
    if (m) { sec = m[1]; out[sec] = out[sec] || {}; continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv && sec) out[sec][kv[1]] = kv[2];
  }
  return out;
}

function renderUnits(s) {
  const dir = path.join(s.tmp, 'units');
  fs.mkdirSync(dir, { recursive: true });
  for (const u of ['cubby.service', 'cubby.socket'])
    fs.writeFileSync(path.join(dir, u), renderTemplate(`contrib/${u}`, s.dirs));
  return dir;
}

async function until(fn, what, ms = 10000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (await fn()) return;
  throw new Error(`timed out waiting for ${what}`);
}
const healthy = async (f) => { try { return (await fetch(f.base + '/health')).status === 200; } catch { return false; } };

test('systemd-analyze verify: both units load cleanly', async () => {
  const s = new Stack();
  try {
    s.writeConfig();
    const dir = renderUnits(s);
    for (const u of ['cubby.service', 'cubby.socket']) {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, u)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // unknown keys, bad values and missing binaries are warnings here
      const warnings = r.stderr.split('\n').filter((l) => l.includes(u) && !/Failed to .* bus|Unit .* not found/.test(l));
      assert.deepEqual(warnings, [], r.stderr);
    }
  } finally { await s.stop(); }
});

test('cubby.service as written behind nginx: start, reload, stop', async () => {
  const s = new Stack();
  try {
    s.init();
    const svc = unit(fs.readFileSync(path.join(renderUnits(s), 'cubby.service'), 'utf8')).Service;
    // the unit's runtime directory, made as systemd makes it
    const run = path.join(s.dirs.runstatedir, svc.RuntimeDirectory);
    fs.rmSync(run, { recursive: true, force: true });
    fs.mkdirSync(run, { mode: Number.parseInt(svc.RuntimeDirectoryMode, 8) });
    fs.chmodSync(run, Number.parseInt(svc.RuntimeDirectoryMode, 8));
    // User=/Group=: cubby:www-data in production; nobody (no 'cubby' user
    // here) and the real www-data group when the test runs as root
    let ids = {};
    if (root) {
      ids = { uid: 65534, gid: 33 };
      spawnSync('chown', ['-R', 'nobody:www-data', s.dirs.localstatedir, run]);
    }
    const argv = svc.ExecStart.split(/\s+/);
    const log = fs.openSync(s.poolLog, 'a');
    const pool = spawn('sh', ['-c', `umask ${svc.UMask}; exec "$@"`, 'sh', ...argv],
      { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', log, log], ...ids });
    s.procs.push(pool);
    s.pool = pool;
    await until(() => fs.existsSync(s.socket), 'the pool socket');
    // Group=www-data and listen_mode: the socket is the web server's group's
    const st = fs.statSync(s.socket);
    if (root) assert.equal(st.gid, 33);
    const f = await s.startNginx();
    await until(() => healthy(f), 'nginx -> the pool');
    assert.equal((await fetch(f.base + '/ready')).status, 200);
    // the database and what the pool makes are not world-readable
    // (cubbyctl init: 0660 whatever the umask; the unit's UMask=0007)
    for (const f of ['cubby.db', 'cubby.db-wal', 'cubby.db-shm'])
      assert.equal(fs.statSync(path.join(s.dirs.localstatedir, 'lib/cubby', f)).mode & 0o007, 0, f);
    // ExecReload: SIGHUP, workers replaced, requests keep being answered
    const reload = svc.ExecReload.replace('$MAINPID', String(pool.pid)).split(/\s+/);
    assert.equal(spawnSync(reload[0], reload.slice(1)).status, 0);
    await until(() => /reload/i.test(s.log()), 'the reload line');
    for (let i = 0; i < 20; i++) assert.equal((await fetch(f.base + '/health')).status, 200);
    // KillSignal=SIGTERM: drained and gone well within TimeoutStopSec
    const t0 = Date.now();
    pool.kill(svc.KillSignal);
    await new Promise((r) => (pool.exitCode !== null ? r() : pool.once('exit', r)));
    assert.ok(Date.now() - t0 < Number(svc.TimeoutStopSec) * 1000);
    assert.equal(pool.exitCode, 0, s.log().slice(-1500));
    assert.ok(!fs.existsSync(s.socket), 'the pool removes the socket it made');
  } finally { await s.stop(); }
});

test('cubby.socket: the pool takes the socket systemd passes, behind nginx', async () => {
  // the config's own listen names another path: the passed socket wins
  const s = new Stack({ config: { listen: 'unix:/nonexistent/not-this.sock' } });
  try {
    s.init();
    const units = renderUnits(s);
    const sock = unit(fs.readFileSync(path.join(units, 'cubby.socket'), 'utf8')).Socket;
    const svc = unit(fs.readFileSync(path.join(units, 'cubby.service'), 'utf8')).Service;
    assert.equal(sock.ListenStream, s.socket, 'the socket unit and the nginx snippet name the same path');
    fs.mkdirSync(path.dirname(sock.ListenStream), { recursive: true });
    const log = fs.openSync(s.poolLog, 'a');
    const act = spawn('systemd-socket-activate', ['-l', sock.ListenStream, ...svc.ExecStart.split(/\s+/)],
      { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', log, log] });
    s.procs.push(act);
    s.pool = act;
    await until(() => fs.existsSync(s.socket), 'the activation socket');
    fs.chmodSync(s.socket, 0o666);   // SocketMode=0660 with SocketGroup=www-data; nginx runs as root here
    const f = await s.startNginx();
    // the first connection starts the pool (the same process: exec)
    await until(() => healthy(f), 'nginx -> the activated pool', 20000);
    assert.match(s.log(), /listening on the socket passed by systemd/);
    assert.equal((await fetch(f.base + '/ready')).status, 200);
    assert.ok(!fs.existsSync('/nonexistent/not-this.sock'));
    // systemd owns the socket: the pool leaves it in place when it stops
    act.kill('SIGTERM');
    await new Promise((r) => (act.exitCode !== null ? r() : act.once('exit', r)));
    assert.equal(act.exitCode, 0, s.log().slice(-1500));
    assert.ok(fs.existsSync(s.socket), 'the passed socket was unlinked');
  } finally { await s.stop(); }
});

test('cubby.socket with two sockets is refused with a clear line', async () => {
  const s = new Stack();
  try {
    s.init();
    const a = path.join(s.tmp, 'a.sock'), b = path.join(s.tmp, 'b.sock');
    const act = spawn('systemd-socket-activate', ['-l', a, '-l', b, path.join(s.dirs.bindir, 'cubby-fcgi'), '-c', s.confPath],
      { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    act.stderr.on('data', (d) => { err += d; });
    await until(() => fs.existsSync(a), 'the activation sockets');
    // a connection starts it
    net.connect(a).on('error', () => {});
    const code = await new Promise((r) => act.once('exit', r));
    assert.equal(code, 1);
    assert.match(err, /socket activation: LISTEN_FDS=2, expected one socket/);
  } finally { await s.stop(); }
});
