// cli.test.mjs - the real `cubby` binary against the real pool behind
// lighttpd and nginx: login and config, single and multipart uploads read
// back byte for byte, listing filters, sharing into a space and reading
// the public manifest, keys, key-value, exit codes, a server that drops
// connections mid-part, Ctrl-C, download resume, and the progress bar on
// a terminal (under script(1)).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Stack, bin, eachFront, sleep } from './harness.mjs';

// Six workers: with the upload paths streamed by both fronts, each PUT in
// flight holds a worker, and the client's API calls need one too.
const stack = new Stack({ config: { workers: '6' } });
before(() => stack.start());
after(() => stack.stop());

const MiB = 1024 * 1024;
let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-cli-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

function file(name, bytes) {
  const p = path.join(work, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
}
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

// Run a program without blocking the event loop (the proxies below live
// in this process); resolves to { status, out, err } with out a Buffer
// when raw is set.
function run(cmd, args, { env, input, cwd = work, timeout = 60000, raw = false } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    // A program that exits without reading its input closes the pipe
    // first: that EPIPE is not the test's business (its exit status is).
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      const o = Buffer.concat(out);
      resolve({ status, signal, out: raw ? o : o.toString(), err: Buffer.concat(err).toString() });
    });
  });
}
// cubby with a config of its own; env adds to (or, with undefined,
// removes from) the environment.
function cubby(args, { env = {}, input, cfg, cwd, raw } = {}) {
  // In a sanitizer build a leak in the client fails its command too.
  const e = { ...process.env, HOME: work, CUBBY_CONFIG: cfg ?? path.join(work, 'cfg', 'config.json'),
    ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:detect_leaks=1`, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  return run(bin('cubby'), args, { env: e, input, cwd, raw });
}
// The same, with a base URL and key given by the environment.
const as = (base, key, extra = {}) => ({ env: { CUBBY_BASE_URL: base, CUBBY_API_KEY: key, ...extra } });

async function api(base, method, p, key, body) {
  const h = key ? { Authorization: `Bearer ${key}` } : {};
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}
async function account(base, quota = 400 * MiB) {
  const r = await api(base, 'POST', '/api/v1/admin/tenants', stack.adminKey, { name: uniq('cli'), quotaBytes: quota });
  assert.equal(r.status, 201, r.text);
  return r.json.apiKey;
}
const jsonLines = (s) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

// A TCP proxy in front of a web server. It can cut the connection
// carrying each of the first `drop` part PUTs once `after` bytes of it
// went through, cut the first `dropGets` downloads after `after` bytes of
// their answer, and slow what clients send to about `rate` bytes per
// second. It counts part PUTs, and the most that were open at once.
// libcurl reuses connections, so requests are found in the stream.
async function proxy(port, { drop = 0, dropGets = 0, after: cut = MiB, rate = 0 } = {}) {
  const stats = { dropped: 0, droppedGets: 0, puts: 0, open: 0, maxOpen: 0 };
  const mark = 'PUT /v1/uploads/';
  const srv = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    let counting = -1, inPut = false, getCount = -1;
    c.on('data', (d) => {
      const i = d.indexOf(mark, 0, 'latin1');
      if (i >= 0) {
        stats.puts++;
        inPut = true;
        stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
        if (stats.dropped < drop) { stats.dropped++; counting = d.length - i; }
      } else if (counting >= 0) counting += d.length;
      if (d.indexOf('GET /api/v1/files/', 0, 'latin1') >= 0 && stats.droppedGets < dropGets) {
        stats.droppedGets++;
        getCount = 0;
      }
      if (counting > cut) { c.destroy(); up.destroy(); return; }
      up.write(d);
      if (rate) {
        c.pause();
        setTimeout(() => c.resume(), Math.ceil((d.length / rate) * 1000));
      }
    });
    up.on('data', (d) => {
      if (inPut) { inPut = false; stats.open--; }   // the answer began
      if (getCount >= 0 && (getCount += d.length) > cut) { c.destroy(); up.destroy(); return; }
      c.write(d);
    });
    const gone = () => { if (inPut) { inPut = false; stats.open--; } };
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => { gone(); up.destroy(); });
    up.on('close', () => c.destroy());
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${srv.address().port}`, stats, close: () => srv.close() };
}

test('login stores the key 0600, whoami and config show never print it', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  const cfg = path.join(work, uniq('home'), 'cubby', 'config.json');
  let r = await cubby(['--base-url', base, 'login', '--key', 'sk_live_' + '0'.repeat(64)], { cfg });
  assert.equal(r.status, 3, r.err);
  assert.match(r.err, /401/);
  assert.equal(fs.existsSync(cfg), false, 'a refused key is not stored');
  r = await cubby(['--base-url', base, 'login', '--key', key], { cfg });
  assert.equal(r.status, 0, r.err);
  assert.equal(fs.statSync(cfg).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(cfg)).mode & 0o777, 0o700);
  assert.deepEqual(JSON.parse(fs.readFileSync(cfg, 'utf8')), { api_key: key, base_url: base });
  r = await cubby(['whoami'], { cfg });
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^account\s+cli-/m);
  assert.ok(!r.out.includes(key) && !r.err.includes(key));
  r = await cubby(['config', 'show'], { cfg });
  assert.equal(r.status, 0);
  assert.match(r.out, /api-key\s+set, from/);
  assert.ok(!r.out.includes(key));
  // the key read from stdin (a script's login); XDG_CONFIG_HOME places the file
  const xdg = path.join(work, uniq('xdg'));
  r = await cubby(['--base-url', base, 'login'], { cfg: '', env: { CUBBY_CONFIG: undefined, XDG_CONFIG_HOME: xdg }, input: key + '\n' });
  assert.equal(r.status, 0, r.err);
  assert.equal(JSON.parse(fs.readFileSync(path.join(xdg, 'cubby', 'config.json'), 'utf8')).api_key, key);
  // config set base-url, and the environment overriding the file
  r = await cubby(['config', 'set', 'base-url', 'ftp://x'], { cfg });
  assert.equal(r.status, 2);
  r = await cubby(['config', 'set', 'base-url', stack.fronts[0].base + '/'], { cfg });
  assert.equal(r.status, 0, r.err);
  assert.equal(JSON.parse(fs.readFileSync(cfg, 'utf8')).base_url, stack.fronts[0].base);
  r = await cubby(['whoami', '--json'], { cfg, env: { CUBBY_API_KEY: 'sk_live_' + '1'.repeat(64) } });
  assert.equal(r.status, 3);
  assert.match(r.err, /CUBBY_API_KEY was refused/);
  // a config file that is not JSON is a usage error, named
  const bad = file(uniq('bad') + '.json', 'api_key=1');
  r = await cubby(['whoami'], { cfg: bad });
  assert.equal(r.status, 2);
  assert.match(r.err, /not a cubby config file/);
});

test('upload single and multipart, get them back byte for byte', async (t) => {
  await eachFront(t, stack, async (f) => {
    const key = await account(f.base);
    const small = crypto.randomBytes(3 * MiB + 17);
    const big = crypto.randomBytes(12 * MiB + 5);
    const a = file(uniq('small') + '.bin', small), b = file(uniq('big') + '.bin', big);
    const r = await cubby(['upload', a, b, '--part-size', '5M', '--json', '--tag', 'raw,drone'], as(f.base, key));
    assert.equal(r.status, 0, r.err);
    // lines come as files finish: put them in the order given
    const lines = jsonLines(r.out).sort((x, y) => [a, b].indexOf(x.path) - [a, b].indexOf(y.path));
    assert.equal(lines.length, 2);
    // --part-size makes both multipart; the small one has one part
    assert.deepEqual(lines.map((l) => [l.path, l.size_bytes, l.parts, l.sha256]),
      [[a, small.length, 1, sha(small)], [b, big.length, 3, sha(big)]]);
    for (const [l, bytes] of [[lines[0], small], [lines[1], big]]) {
      const g = await api(f.base, 'GET', `/v1/assets/${l.id}`, key);
      assert.equal(g.json.data.status, 'active');
      assert.deepEqual(g.json.data.tags, ['raw', 'drone']);
      const out = path.join(work, uniq('got'));
      const d = await cubby(['get', l.id, '-o', out], as(f.base, key));
      assert.equal(d.status, 0, d.err);
      assert.ok(fs.readFileSync(out).equals(bytes));
      assert.equal(fs.existsSync(out + '.part'), false);
    }
    // a plain single PUT: the server's SHA-256 is checked against ours
    const one = await cubby(['upload', a, '--json'], as(f.base, key));
    assert.equal(one.status, 0, one.err);
    const [s] = jsonLines(one.out);
    assert.equal(s.multipart, false);
    const g = await api(f.base, 'GET', `/v1/assets/${s.id}`, key);
    assert.equal(g.json.data.sha256, sha(small));
    // to stdout; and the default name is the asset's filename
    const so = await cubby(['get', s.id, '-o', '-'], { ...as(f.base, key), raw: true });
    assert.equal(so.status, 0, so.err);
    assert.ok(so.out.equals(small));
    const dir = fs.mkdtempSync(path.join(work, 'dl-'));
    const d2 = await cubby(['get', s.id], { ...as(f.base, key), cwd: dir });
    assert.equal(d2.status, 0, d2.err);
    assert.ok(fs.readFileSync(path.join(dir, path.basename(a))).equals(small));
  });
});

test('upload --dir walks a folder; --space publishes; a refused file does not stop the rest', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base, 8 * MiB);
  const root = path.join(work, uniq('ingest'));
  file(path.join(path.basename(root), 'a.txt'), 'alpha');
  file(path.join(path.basename(root), 'sub', 'b.txt'), 'bravo');
  file(path.join(path.basename(root), '.hidden'), 'skip me');
  file(path.join(path.basename(root), 'sub', 'huge.bin'), Buffer.alloc(9 * MiB));   // over the quota
  const sp = await cubby(['spaces', 'create', '--name', 'Ingest'], as(base, key));
  assert.equal(sp.status, 0, sp.err);
  const r = await cubby(['upload', '--dir', root, '--space', 'Ingest', '--json'], as(base, key));
  assert.equal(r.status, 1, r.err);
  // one line per file, in the order they finish
  const lines = jsonLines(r.out).sort((x, y) => x.path.localeCompare(y.path));
  assert.deepEqual(lines.map((l) => path.relative(root, l.path)), ['a.txt', 'sub/b.txt', 'sub/huge.bin']);
  assert.equal(lines[2].error.code, 'quota_exceeded');
  assert.match(r.err, /quota/);
  const l = await api(base, 'GET', '/v1/assets', key);
  assert.deepEqual(l.json.data.map((x) => x.filename).sort(), ['a.txt', 'b.txt']);
  // the two were published into the space, found by name
  const spaces = (await api(base, 'GET', '/v1/spaces', key)).json.data;
  const pub = await api(base, 'GET', `/v1/public/spaces/${spaces[0].short_id}`);
  assert.equal(pub.status, 200, pub.text);
  assert.deepEqual(pub.json.data.assets.map((x) => x.filename).sort(), ['a.txt', 'b.txt']);
  // a space that does not exist fails before any byte moves
  const none = await cubby(['upload', path.join(root, 'a.txt'), '--space', 'Nowhere'], as(base, key));
  assert.equal(none.status, 4);
  assert.match(none.err, /no space is named 'Nowhere'/);
  assert.equal((await api(base, 'GET', '/v1/assets', key)).json.data.length, 2);
});

test('ls filters, url, rm, reprocess', async () => {
  const base = stack.fronts[0].base;
  const key = await account(base);
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), crypto.randomBytes(200)]);
  const paths = [file(uniq('holiday') + '.png', png), file(uniq('notes') + '.txt', 'some notes'),
    file(uniq('holiday') + '.txt', 'more')];
  const up = await cubby(['upload', ...paths, '--json'], as(base, key));
  assert.equal(up.status, 0, up.err);
  // lines come as files finish: match them to the paths
  const lines = jsonLines(up.out);
  const ids = paths.map((p) => lines.find((l) => l.path === p).id);
  let r = await cubby(['ls', '--json'], as(base, key));
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(jsonLines(r.out).map((a) => a.id).sort(), [...ids].sort());
  r = await cubby(['ls', '--json', '--type', 'image'], as(base, key));
  assert.deepEqual(jsonLines(r.out).map((a) => a.id), [ids[0]]);
  r = await cubby(['ls', '--json', '--search', 'holiday'], as(base, key));
  assert.deepEqual(jsonLines(r.out).map((a) => a.id).sort(), [ids[0], ids[2]].sort());
  r = await cubby(['ls', '--json', '--limit', '2'], as(base, key));
  assert.equal(jsonLines(r.out).length, 2);
  r = await cubby(['ls', '--status', 'failed'], as(base, key));
  assert.equal(r.out.trim().split('\n').length, 1, 'only the header');
  r = await cubby(['ls', '--type', 'bogus'], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /validation_error/);
  // url: a working signed link
  r = await cubby(['url', ids[1], '--expires', '120'], as(base, key));
  assert.equal(r.status, 0, r.err);
  assert.equal(await (await fetch(r.out.trim())).text(), 'some notes');
  // reprocess one, and all
  r = await cubby(['reprocess', ids[0]], as(base, key));
  assert.equal(r.status, 0, r.err);
  r = await cubby(['reprocess', '--all'], as(base, key));
  assert.equal(r.status, 0, r.err);
  // rm; then the id is gone for get (not found: 4)
  r = await cubby(['rm', ids[1]], as(base, key));
  assert.equal(r.status, 0, r.err);
  r = await cubby(['get', ids[1], '-o', path.join(work, uniq('x'))], as(base, key));
  assert.equal(r.status, 4);
  assert.match(r.err, /not_found/);
});

test('share into a space; spaces create/list/url/delete; protected spaces', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  const up = await cubby(['upload', file(uniq('s') + '.txt', 'shared bytes'), '--json'], as(base, key));
  const id = jsonLines(up.out)[0].id;
  let r = await cubby(['spaces', 'create', '--name', 'Highlights', '--json'], as(base, key));
  assert.equal(r.status, 0, r.err);
  const space = JSON.parse(r.out);
  r = await cubby(['share', id, '--to', 'Highlights'], as(base, key));
  assert.equal(r.status, 0, r.err);
  const pub = await api(base, 'GET', `/v1/public/spaces/${space.short_id}`);
  assert.deepEqual(pub.json.data.assets.map((a) => a.id), [id]);
  assert.equal(await (await fetch(pub.json.data.assets[0].url)).text(), 'shared bytes');
  // by short id and by id too; an unknown asset is reported, exit 1
  r = await cubby(['share', id, 'ast_' + '0'.repeat(32), '--to', space.short_id], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /ast_0+: not shared: not_found/);
  r = await cubby(['spaces', 'url', space.id], as(base, key));
  assert.equal(r.out.trim(), space.share_url);
  r = await cubby(['spaces', 'list'], as(base, key));
  assert.match(r.out, new RegExp(`${space.id}\\s+${space.short_id}\\s+public\\s+1\\s+Highlights`));
  // protected: the password from the option, or read from stdin
  r = await cubby(['spaces', 'create', '--name', 'Private', '--visibility', 'protected'], { ...as(base, key), input: 'hunter2-long\n' });
  assert.equal(r.status, 0, r.err);
  const prot = (await api(base, 'GET', '/v1/spaces', key)).json.data.find((s) => s.name === 'Private');
  assert.equal(prot.has_password, true);
  const acc = await api(base, 'POST', `/v1/public/spaces/${prot.short_id}/access`, null, { password: 'hunter2-long' });
  assert.equal(acc.status, 200, acc.text);
  r = await cubby(['spaces', 'create', '--name', 'Short', '--visibility', 'protected', '--password', 'abc'], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /validation_error/);
  // two spaces with one name: ambiguous by name, fine by id
  await cubby(['spaces', 'create', '--name', 'Highlights'], as(base, key));
  r = await cubby(['spaces', 'delete', 'Highlights'], as(base, key));
  assert.equal(r.status, 2);
  assert.match(r.err, /2 spaces are named 'Highlights'/);
  r = await cubby(['spaces', 'delete', space.id], as(base, key));
  assert.equal(r.status, 0, r.err);
  assert.equal((await api(base, 'GET', `/v1/public/spaces/${space.short_id}`)).status, 404);
});

test('keys: create, scopes named on refusal, revoke', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  let r = await cubby(['keys', 'create', '--name', 'reader', '--scope', 'read', '--json'], as(base, key));
  assert.equal(r.status, 0, r.err);
  const k = JSON.parse(r.out);
  assert.match(k.key, /^sk_live_/);
  r = await cubby(['keys', 'list'], as(base, key));
  assert.match(r.out, new RegExp(`${k.id}\\s+read\\s+\\S+\\s+active\\s+reader`));
  assert.ok(!r.out.includes(k.key), 'raw keys are never listed');
  // a read key cannot upload: exit 3, the scope named
  r = await cubby(['upload', file(uniq('r') + '.txt', 'x')], as(base, k.key));
  assert.equal(r.status, 3);
  assert.match(r.err, /insufficient_scope/);
  assert.match(r.err, /needs a key with the 'write' scope/);
  r = await cubby(['keys', 'create', '--name', 'x', '--scope', 'admin'], as(base, k.key));
  assert.equal(r.status, 3);
  assert.match(r.err, /'admin' scope/);
  r = await cubby(['keys', 'revoke', k.id], as(base, key));
  assert.equal(r.status, 0, r.err);
  r = await cubby(['ls'], as(base, k.key));
  assert.equal(r.status, 3);
  assert.match(r.err, /401/);
});

test('kv: set, get, incr, ls, del with a bucket credential', async () => {
  const base = stack.fronts[0].base;
  const mk = await fetch(base + '/api/v1/', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'email=cli%40example.com&secret_key=kv-admin-secret&read_key=kv-read-secret&write_key=kv-write-secret' });
  const bucket = (await mk.text()).trim();
  const env = { CUBBY_BASE_URL: base, CUBBY_KV_KEY: 'kv-admin-secret', CUBBY_API_KEY: undefined };
  let r = await cubby(['kv', bucket, 'set', 'greeting', 'hello world'], { env });
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, '');
  r = await cubby(['kv', bucket, 'get', 'greeting'], { env });
  assert.equal(r.out, 'hello world');
  assert.equal((await cubby(['kv', bucket, 'incr', 'hits'], { env })).out.trim(), '1');
  assert.equal((await cubby(['kv', bucket, 'incr', 'hits', '41'], { env })).out.trim(), '42');
  assert.equal((await cubby(['kv', bucket, 'incr', 'hits', '-2'], { env })).out.trim(), '40');
  await cubby(['kv', bucket, 'set', 'user/1', 'a'], { env });
  await cubby(['kv', bucket, 'set', 'user/2', 'b', '--ttl', '3600'], { env });
  assert.equal((await cubby(['kv', bucket, 'ls', '--prefix', 'user/'], { env })).out, 'user/1\nuser/2\n');
  assert.equal((await cubby(['kv', bucket, 'ls'], { env })).out, 'greeting\nhits\nuser/1\nuser/2\n');
  r = await cubby(['kv', bucket, 'del', 'greeting'], { env });
  assert.equal(r.status, 0, r.err);
  r = await cubby(['kv', bucket, 'get', 'greeting'], { env });
  assert.equal(r.status, 4);
  // the read key reads but cannot write; a wrong key is a 401
  r = await cubby(['kv', bucket, 'get', 'hits', '--kv-key', 'kv-read-secret'], { env });
  assert.equal(r.out, '40');
  r = await cubby(['kv', bucket, 'set', 'x', 'y', '--kv-key', 'kv-read-secret'], { env });
  assert.equal(r.status, 3);
  r = await cubby(['kv', bucket, 'get', 'hits'], { env: { ...env, CUBBY_KV_KEY: 'nope' } });
  assert.equal(r.status, 3);
  assert.match(r.err, /CUBBY_KV_KEY was refused/);
  assert.doesNotMatch(r.err, /cubby login/);
});

test('exit codes: usage, network, not found', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  assert.equal((await cubby(['frobnicate'], as(base, key))).status, 2);
  assert.equal((await cubby(['upload'], as(base, key))).status, 2);
  assert.equal((await cubby(['url', 'a', 'b'], as(base, key))).status, 2);
  assert.equal((await cubby(['upload', '--parallel', '99', 'x'], as(base, key))).status, 2);
  let r = await cubby(['ls'], as('http://127.0.0.1:1', key));
  assert.equal(r.status, 5);
  assert.match(r.err, /network error/);
  r = await cubby(['ls'], { env: { CUBBY_BASE_URL: base, CUBBY_API_KEY: undefined }, cfg: path.join(work, uniq('none.json')) });
  assert.equal(r.status, 3);
  assert.match(r.err, /no API key/);
  r = await cubby(['url', 'ast_' + 'f'.repeat(32)], as(base, key));
  assert.equal(r.status, 4);
  // another account's asset is not found, and none of its bytes arrive
  const other = await account(base);
  const up = await cubby(['upload', file(uniq('theirs') + '.txt', 'their secret bytes'), '--json'], as(base, other));
  const theirs = jsonLines(up.out)[0].id;
  const stolen = path.join(work, uniq('stolen'));
  for (const args of [['get', theirs, '-o', stolen], ['url', theirs], ['rm', theirs], ['reprocess', theirs]]) {
    r = await cubby(args, as(base, key));
    assert.equal(r.status, 4, `${args[0]}: ${r.err}`);
    assert.ok(!r.out.includes('their secret') && !r.err.includes('their secret'));
  }
  assert.equal(fs.existsSync(stolen) || fs.existsSync(stolen + '.part'), false);
  assert.equal((await cubby(['spaces', 'create', '--name', 'Mine'], as(base, key))).status, 0);
  r = await cubby(['share', theirs, '--to', 'Mine'], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /not shared: not_found/);
  assert.equal((await api(base, 'GET', `/v1/assets/${theirs}`, other)).json.data.status, 'active', 'still theirs');
  r = await cubby(['upload', path.join(work, 'does-not-exist')], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /does-not-exist: No such file/);
  assert.equal((await cubby(['--version'])).out.trim().startsWith('cubby '), true);
});

test('a connection dropped mid-part: the part is retried with a fresh URL', async () => {
  const front = stack.fronts[0];   // lighttpd passes Host with the proxy's port
  const key = await account(front.base);
  const px = await proxy(front.port, { drop: 2, after: MiB });
  try {
    const bytes = crypto.randomBytes(16 * MiB + 3);
    const p = file(uniq('flaky') + '.bin', bytes);
    const r = await cubby(['upload', p, '--part-size', '5M', '--json'], as(px.base, key));
    assert.equal(r.status, 0, r.err);
    assert.equal(px.stats.dropped, 2);
    assert.equal(px.stats.puts, 4 + 2, 'four parts, two sent twice');
    const [l] = jsonLines(r.out);
    const out = path.join(work, uniq('flaky-back'));
    assert.equal((await cubby(['get', l.id, '-o', out], as(front.base, key))).status, 0);
    assert.ok(fs.readFileSync(out).equals(bytes));
  } finally { px.close(); }
});

test('Ctrl-C aborts the multipart upload on the server', async () => {
  const front = stack.fronts[0];   // lighttpd passes Host with the proxy's port
  const key = await account(front.base);
  const px = await proxy(front.port, { rate: 4 * MiB });
  try {
    const p = file(uniq('slow') + '.bin', crypto.randomBytes(40 * MiB));
    const child = spawn(bin('cubby'), ['upload', p, '--part-size', '5M'],
      { env: { ...process.env, ...as(px.base, key).env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    await sleep(1500);
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130, err);
    assert.match(err, /interrupted: 1 unfinished upload aborted/);
    const l = await api(front.base, 'GET', '/v1/assets', key);
    assert.equal(l.json.data.length, 1);
    assert.equal(l.json.data[0].status, 'failed');
    const u = await api(front.base, 'GET', '/v1/usage', key);
    assert.equal(u.json.data.total_bytes, 0);
    const q = await api(front.base, 'GET', '/api/v1/tenant/quota', key);
    assert.equal(q.json.usedBytes ?? q.json.used_bytes ?? 0, 0, q.text);
    const uploads = path.join(stack.dirs.localstatedir, 'lib/cubby/blobs/uploads');
    const id = l.json.data[0].file_id;
    assert.deepEqual(fs.readdirSync(uploads).filter((n) => n.startsWith(id)), []);
  } finally { px.close(); }
});

test('get resumes a partial download with Range, and checks the SHA-256', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  const bytes = crypto.randomBytes(4 * MiB);
  const up = await cubby(['upload', file(uniq('res') + '.bin', bytes), '--json'], as(base, key));
  const id = jsonLines(up.out)[0].id;
  const out = path.join(work, uniq('res-out'));
  // A .part whose first MiB is wrong: with --no-verify the wrong bytes
  // stay, which shows only the rest was fetched.
  fs.writeFileSync(out + '.part', Buffer.alloc(MiB, 0x55));
  let r = await cubby(['get', id, '-o', out, '--no-verify'], as(base, key));
  assert.equal(r.status, 0, r.err);
  const got = fs.readFileSync(out);
  assert.ok(got.subarray(0, MiB).equals(Buffer.alloc(MiB, 0x55)));
  assert.ok(got.subarray(MiB).equals(bytes.subarray(MiB)));
  // verified (the default): the mismatch is caught and the file removed
  fs.rmSync(out);
  fs.writeFileSync(out + '.part', Buffer.alloc(MiB, 0x55));
  r = await cubby(['get', id, '-o', out], as(base, key));
  assert.equal(r.status, 1);
  assert.match(r.err, /is not the asset's/);
  assert.equal(fs.existsSync(out), false);
  assert.equal(fs.existsSync(out + '.part'), false);
  // a correct prefix resumes to the right file
  fs.writeFileSync(out + '.part', bytes.subarray(0, MiB + 7));
  r = await cubby(['get', id, '-o', out], as(base, key));
  assert.equal(r.status, 0, r.err);
  assert.ok(fs.readFileSync(out).equals(bytes));
});

test('a terminal shows a progress bar per file; a pipe shows nothing', async () => {
  const front = stack.fronts[0];   // lighttpd passes Host with the proxy's port
  const key = await account(front.base);
  const px = await proxy(front.port, { rate: 16 * MiB });
  try {
    const a = file(uniq('tty-a') + '.bin', crypto.randomBytes(12 * MiB));
    const b = file(uniq('tty-b') + '.bin', crypto.randomBytes(6 * MiB));
    const cmd = `${bin('cubby')} upload ${a} ${b} --part-size 5M`;
    const r = await run('script', ['-qefc', cmd, '/dev/null'], { env: { ...process.env, ...as(px.base, key).env, CUBBY_CONFIG: path.join(work, 'none.json') } });
    assert.equal(r.status, 0, r.out + r.err);
    r.stdout = r.out;
    const frames = r.stdout.split('\r\n');
    const bar = frames.filter((l) => /\[[#-]+\]\s+\d+%\s+\S+ \S+ \/ \S+ MiB\s+\S+ \S+\/s\s+ETA /.test(l));
    assert.ok(bar.some((l) => l.includes(path.basename(a))), r.stdout);
    assert.ok(bar.some((l) => l.includes(path.basename(b))), r.stdout);
    assert.ok(bar.some((l) => /\[#+-+\]\s+[1-9]\d?%/.test(l)), 'a frame part way through');
    assert.match(r.stdout, /\x1b\[1A\x1b\[2K/, 'frames are redrawn in place');
    assert.match(r.stdout, new RegExp(`ast_[0-9a-f]{32}  ${path.basename(a)}  12\\.0 MiB`));
    // not a terminal: nothing but errors
    const p = await cubby(['upload', a], as(front.base, key));
    assert.equal(p.status, 0);
    assert.equal(p.out + p.err, '');
  } finally { px.close(); }
});

test('login on a terminal prompts for the key without echoing it', async () => {
  const base = stack.fronts[1].base;
  const key = await account(base);
  const cfg = path.join(work, uniq('tty-login'), 'config.json');
  const p = spawn('script', ['-qefc', `${bin('cubby')} --base-url ${base} login`, '/dev/null'],
    { env: { ...process.env, CUBBY_CONFIG: cfg }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  const closed = new Promise((r) => p.on('close', (c) => r(c)));
  // type the key only once the prompt is up (echo is off by then)
  for (let i = 0; i < 100 && !out.includes('API key: '); i++) await sleep(50);
  assert.ok(out.includes('API key: '), out);
  await sleep(100);
  p.stdin.write(key + '\n');
  assert.equal(await closed, 0, out);
  assert.ok(!out.includes(key), 'the key is not echoed');
  assert.match(out, /Logged in to/);
  assert.equal(JSON.parse(fs.readFileSync(cfg, 'utf8')).api_key, key);
});

test('at most --parallel part PUTs are in flight across all files', async () => {
  const front = stack.fronts[0];   // lighttpd passes Host with the proxy's port
  const key = await account(front.base);
  const files = [0, 1, 2].map((i) => file(uniq(`par${i}`) + '.bin', crypto.randomBytes(11 * MiB)));
  for (const [n, want] of [[undefined, 4], ['2', 2]]) {
    const px = await proxy(front.port, { rate: 24 * MiB });
    try {
      const args = ['upload', ...files, '--part-size', '5M', '--json', ...(n ? ['--parallel', n] : [])];
      const r = await cubby(args, as(px.base, key));
      assert.equal(r.status, 0, r.err);
      assert.equal(px.stats.puts, 9);
      assert.equal(px.stats.maxOpen, want, `at most ${want} at once, and that many used`);
    } finally { px.close(); }
  }
});

test('get resumes on its own when the connection drops mid-download', async () => {
  const front = stack.fronts[0];
  const key = await account(front.base);
  const bytes = crypto.randomBytes(6 * MiB);
  const up = await cubby(['upload', file(uniq('dl') + '.bin', bytes), '--json'], as(front.base, key));
  const id = jsonLines(up.out)[0].id;
  const px = await proxy(front.port, { dropGets: 2, after: 2 * MiB });
  try {
    const out = path.join(work, uniq('dl-out'));
    const r = await cubby(['get', id, '-o', out], as(px.base, key));
    assert.equal(r.status, 0, r.err);
    assert.equal(px.stats.droppedGets, 2);
    assert.equal((r.err.match(/download interrupted at \d+ bytes/g) || []).length, 2, r.err);
    assert.ok(fs.readFileSync(out).equals(bytes));
  } finally { px.close(); }
});
