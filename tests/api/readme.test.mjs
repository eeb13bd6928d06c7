// readme.test.mjs - the README's "Try it", run as written: contrib/dev.sh
// serve starts a fresh instance (its own var directory and a free port,
// through CUBBY_DEV_VAR and CUBBY_DEV_PORT), then every other sh block of
// the section runs in order in one bash, in a fresh directory holding
// that var, and each "# → ..." line the README shows must match a line of
// what its block printed ("…" stands for anything). A change to the
// README that breaks a block, or makes it print something else, fails
// here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { srcdir, freePort, sleep } from './harness.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-readme-'));
const work = path.join(tmp, 'work');
const home = path.join(tmp, 'home');
const varDir = path.join(work, 'var');
let server;
after(async () => {
  if (server && server.exitCode === null) {
    try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 50 && server.exitCode === null; i++) await sleep(100);
    try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  // a pool lighttpd left behind (it stops them with itself)
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      if (env.includes(`CUBBY_CONFIG=${path.join(varDir, 'cubby.conf')}`)) process.kill(Number(d), 'SIGKILL');
    } catch { /* gone, or not ours */ }
  }
  if (!process.env.CUBBY_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

// The sh blocks of the README's "## Try it", up to the next "## ".
function tryItBlocks() {
  const readme = fs.readFileSync(path.join(srcdir, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Try it\n'), readme.indexOf('\n## Test it\n'));
  assert.ok(section.length > 100, 'the README has a "Try it" section before "Test it"');
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

// "# → text" lines of a block as regular expressions for a whole line:
// "…" is anything, a run of spaces is any run of white space.
function expectations(block, base) {
  return block.split('\n').filter((l) => l.startsWith('# → ')).map((l) => {
    const want = l.slice(4).replaceAll('http://127.0.0.1:8080', base);
    const re = want.split('…').map((part) => part.split(/ +/)
      .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+')).join('.*?');
    return { want, re: new RegExp(`^\\s*${re}\\s*$`) };
  });
}

test('the README\'s "Try it" works as written, and each block prints what it says', { timeout: 600000 }, async () => {
  const blocks = tryItBlocks();
  assert.ok(blocks.length >= 5, `${blocks.length} blocks`);
  assert.equal(blocks[0].trim(), 'contrib/dev.sh serve', 'the first block serves');
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(home, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  // 1. contrib/dev.sh serve, on a fresh var directory
  let out = '';
  // dev.sh execs lighttpd, which starts the pool: one process group
  // (as a person runs it: not inside make check's own make)
  const [cmd, ...args] = blocks[0].trim().split(/\s+/);
  const env0 = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env0[k];
  server = spawn(path.join(srcdir, cmd), args, {
    cwd: work, env: { ...env0, CUBBY_DEV_VAR: varDir, CUBBY_DEV_PORT: String(port), HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  server.stdout.on('data', (d) => { out += d; });
  server.stderr.on('data', (d) => { out += d; });
  let up = false;
  for (let i = 0; i < 1200 && !up && server.exitCode === null; i++) {
    await sleep(250);
    try { up = (await fetch(base + '/health')).status === 200; } catch { /* not yet */ }
  }
  assert.ok(up, `dev.sh serve did not come up:\n${out.slice(-3000)}`);
  // it printed both keys once, and kept them 0600 for the next shell
  const admin = out.match(/^admin key \(shown once, store it now\): (sk_admin_\w+)$/m);
  const key = out.match(/^API key \(shown once, store it now\): (sk_live_\w+)$/m);
  assert.ok(admin && key, out.slice(-3000));
  assert.match(out, /cubbyctl -c \S+ tenant create NAME/);
  assert.match(out, /cubbyctl -c \S+ key create NAME/);
  const env = path.join(varDir, 'try-it.env');
  assert.equal(fs.statSync(env).mode & 0o777, 0o600);
  const envText = fs.readFileSync(env, 'utf8');
  assert.ok(envText.includes(`CUBBY_API_KEY=${key[1]}`) && envText.includes(`CUBBY_ADMIN_KEY=${admin[1]}`));
  assert.ok(envText.includes(`CUBBY_BASE_URL=${base}`));

  // 2. the other blocks, in order, in one shell (variables carry over)
  const rest = blocks.slice(1);
  const script = rest.map((b, i) => `echo '@@ block ${i + 1} @@'\n${b}`).join('\n');
  const r = spawnSync('bash', ['-e', '-c', script], {
    cwd: work, env: { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' },
    encoding: 'utf8', timeout: 300000, maxBuffer: 16 << 20 });
  assert.equal(r.status, 0, `a block failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  const printed = r.stdout.split(/^@@ block \d+ @@\n/m).slice(1);
  assert.equal(printed.length, rest.length, r.stdout);
  let checked = 0;
  rest.forEach((b, i) => {
    const lines = printed[i].split('\n');
    let at = 0;
    for (const { want, re } of expectations(b, base)) {
      const found = lines.findIndex((l, j) => j >= at && re.test(l));
      assert.ok(found >= 0, `block ${i + 1}: the README says it prints\n  ${want}\nbut it printed:\n${printed[i]}`);
      at = found + 1;
      checked++;
    }
  });
  assert.ok(checked >= 15, `${checked} printed lines checked`);

  // 3. what a person then opens in a browser: the share links
  const links = [...r.stdout.matchAll(new RegExp(`${base}/s/([a-z2-7]{16})`, 'g'))].map((m) => m[1]);
  const [holiday, family] = [...new Set(links)];
  assert.ok(holiday && family, r.stdout);
  const page = await fetch(`${base}/s/${holiday}`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  const pub = await (await fetch(`${base}/v1/public/spaces/${holiday}`)).json();
  assert.deepEqual(pub.data.assets.map((a) => a.filename), ['hello.txt']);
  const prot = await (await fetch(`${base}/v1/public/spaces/${family}`)).json();
  assert.deepEqual(prot.data, { requires_password: true, name: 'Family' });
  const access = await fetch(`${base}/v1/public/spaces/${family}/access`, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: 'correct horse' }) });
  assert.equal(access.status, 200, await access.clone().text());
});
