// install-home.test.mjs - docs/install-home.md, followed to the letter:
// its sh blocks run in order with HOME set to a fresh directory, from a
// build of this source tree. Two substitutions only: ./configure is this
// tree's configure (run in a build directory of its own), and port=8080
// becomes a free port.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { srcdir, freePort } from './harness.mjs';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-home-'));
// Processes whose command line names the installed pool (from /proc).
function pools() {
  const bin = path.join(home, 'cubby/bin/cubby-fcgi');
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0] === bin; } catch { return false; }
  }).map(Number);
}
fs.chmodSync(home, 0o755);
after(() => {
  const pid = path.join(home, 'cubby/var/run/lighttpd.pid');
  if (fs.existsSync(pid)) spawnSync('sh', ['-c', `kill $(cat ${pid})`]);
  for (const pid of pools()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  if (!process.env.CUBBY_KEEP_TMP) fs.rmSync(home, { recursive: true, force: true });
});

test('docs/install-home.md works as written', { timeout: 900000 }, async () => {
  const doc = fs.readFileSync(path.join(srcdir, 'docs/install-home.md'), 'utf8');
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 5);
  const port = await freePort();
  const build = path.join(home, 'build');
  fs.mkdirSync(build);
  let script = blocks.join('\n')
    .replace('./configure ', `cd ${build} && ${path.join(srcdir, 'configure')} `)
    .replace('port=8080', `port=${port}`);
  // the last block stops the server: run it after the checks below
  const stop = blocks[4];
  script = script.replace(stop, '');
  const r = spawnSync('bash', ['-e', '-c', script], {
    env: { PATH: process.env.PATH, HOME: home, LANG: 'C' }, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  assert.match(r.stdout, /\{"status":"ok","storage":"ok"/);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"path":'));
  assert.ok(line, r.stdout.slice(-2000));
  assert.equal(JSON.parse(line).filename, 'hello.txt');
  assert.match(r.stdout, /ast_[0-9a-f]{32}\s+file\s+active\s+29 B\s+\S+ \S+\s+hello\.txt/);
  // everything is under ~/cubby, the key files are private
  assert.ok(fs.existsSync(path.join(home, 'cubby/var/lib/cubby/cubby.db')));
  assert.equal(fs.statSync(path.join(home, 'cubby/var/lib/cubby/master.key')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(home, 'cubby/init.txt')).mode & 0o777, 0o600);
  assert.ok(fs.existsSync(path.join(home, 'cubby/share/man/man1/cubby.1')));
  assert.ok(pools().length >= 1, 'the installed pool is running');
  // the stop block stops lighttpd and, with it, the pool
  const s = spawnSync('bash', ['-e', '-c', stop], { env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    alive = pools().length > 0;
    if (alive) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(alive, false, 'the pool stops with lighttpd');
});
