// apache.test.mjs - Cubby behind Debian's Apache, three ways, each from the
// shipped files: mod_proxy_fcgi in front of a pool (etc/apache-proxy-fcgi.conf),
// mod_fcgid starting the pool from a server config (etc/apache-fcgid.conf),
// and the shared-hosting setup: a host whose Apache allows .htaccess files,
// and a user who has nothing but etc/cubby.htaccess and etc/cubby.fcgi in a
// directory of their own. Each answers the same round of calls: keys in
// Authorization, an upload and its download, a KV key, the share page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, renderTemplate, sleep } from './harness.mjs';

const root = process.getuid && process.getuid() === 0;

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string' && !(body instanceof URLSearchParams)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const r = await fetch(base + p, { method, headers: h, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}

async function waitUp(base) {
  let last;
  for (const end = Date.now() + 20000; Date.now() < end; await sleep(100)) {
    try { last = await fetch(base + '/health'); if (last.status === 200) return; } catch (e) { last = e; }
  }
  throw new Error(`${base}/health never answered: ${last && (last.status || last.message)}`);
}

// The round of calls. base: where Cubby answers (with its base_path);
// origin: scheme://host:port, for the absolute paths Cubby hands out.
async function round(stack, origin, base, { size = 100 * 1024, encodedSlash = true } = {}) {
  const h = await req(base, 'GET', '/health');
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.status, 'ok');
  // keys travel in Authorization: refused without, accepted with
  const no = await req(base, 'POST', '/api/v1/admin/tenants', { body: { name: 'x' } });
  assert.equal(no.status, 401, no.text);
  const t = await req(base, 'POST', '/api/v1/admin/tenants', { key: stack.adminKey, body: { name: `apache-${crypto.randomUUID()}` } });
  assert.equal(t.status, 201, `Authorization did not reach Cubby: ${t.text}`);
  const key = t.json.apiKey;
  // an upload and its download, byte for byte
  const bytes = crypto.randomBytes(size);
  const u = await req(base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'application/pdf', fileName: 'a.pdf' } });
  assert.equal(u.status, 200, u.text);
  const put = await req(origin, 'PUT', u.json.presignedUrl, { body: bytes, headers: { 'Content-Type': 'application/pdf' } });
  assert.equal(put.status, 200, put.text);
  const d = await req(base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key });
  assert.equal(d.status, 200, d.text.slice(0, 300));
  assert.ok(d.buf.equals(bytes), 'downloaded bytes differ');
  assert.equal(d.headers.get('x-sendfile'), null, 'X-Sendfile leaked to the client');
  // a Range request
  const rg = await req(base, 'GET', `/api/v1/files/${u.json.fileId}/download`, { key, headers: { Range: 'bytes=10-19' } });
  assert.equal(rg.status, 206);
  assert.ok(rg.buf.equals(bytes.subarray(10, 20)));
  // a KV key, by a client that encodes the slash and by one that does not
  const b = await req(base, 'POST', '/api/v1/', { body: new URLSearchParams({ email: 'a@example.com' }) });
  assert.equal(b.status, 200, b.text);
  const bucket = b.text;
  const k = encodedSlash ? 'user%2F42' : 'user/42';
  assert.equal((await req(base, 'PUT', `/api/v1/${bucket}/${k}`, { body: 'hello', headers: { 'Content-Type': 'text/plain' } })).status, 200);
  const g = await req(base, 'GET', `/api/v1/${bucket}/user/42`);
  assert.equal(g.status, 200);
  assert.equal(g.text, 'hello');
  // a public space: the share page, and its manifest's signed URL
  const s = await req(base, 'POST', '/v1/spaces', { key, body: { name: 'pub', visibility: 'public' } });
  assert.equal(s.status, 201, s.text);
  const assetId = (await req(base, 'GET', '/v1/assets', { key })).json.data[0].id;
  assert.equal((await req(base, 'POST', `/v1/spaces/${s.json.data.id}/publications`, { key, body: { asset_ids: [assetId] } })).status, 200);
  const page = await req(origin, 'GET', new URL(s.json.data.share_url).pathname);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy') || '', /frame-ancestors 'none'/);
  assert.match(page.text, /share\.js/);
  const js = await req(base, 'GET', '/s/_/share.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  const m = await req(base, 'GET', `/v1/public/spaces/${s.json.data.short_id}`);
  assert.equal(m.status, 200, m.text);
  const pub = await req(origin, 'GET', m.json.data.assets[0].url.replace(/^https?:\/\/[^/]+/, ''));
  assert.equal(pub.status, 200);
  assert.ok(pub.buf.equals(bytes));
  // Cubby's own errors keep their envelope
  const nf = await req(base, 'GET', '/api/v1/files/00000000-0000-4000-8000-000000000000', { key });
  assert.equal(nf.status, 404);
  assert.ok(nf.json && nf.json.error, nf.text);
  return { key, bytes };
}

// The pool masters serving this stack's config (by CUBBY_CONFIG or -c):
// cubby-fcgi processes whose parent is not one (mod_fcgid starts them; workers are their children).
// How many children a pool has once it has forked them (one that a
// request just started may still be forking; it never has more than 2).
async function poolSize(s, pid) {
  for (const end = Date.now() + 10000; s.children(pid).length < 2 && Date.now() < end;) await sleep(50);
  return s.children(pid).length;
}
function poolMasters(s) {
  const comm = (p) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  const ppid = (p) => Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]);
  const out = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x)).map(Number)) {
    try {
      if (comm(d) !== 'cubby-fcgi' || comm(ppid(d)) === 'cubby-fcgi') continue;
      const mine = fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`CUBBY_CONFIG=${s.confPath}`) ||
        fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(s.confPath);
      if (!mine) continue;
      out.push({ pid: d, parent: comm(ppid(d)) });
    } catch { /* gone */ }
  }
  return out;
}

function noSanitizerReport(front) {
  assert.doesNotMatch(front.errorLog(), /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/);
}

test('mod_proxy_fcgi in front of a pool (etc/apache-proxy-fcgi.conf), X-Sendfile downloads', async () => {
  // The pool's group is the web server's (65534: nogroup, Apache's group
  // here), so mod_xsendfile can read the blobs the pool hands over.
  const s = new Stack({ config: { download_offload: 'auto' }, ...(root ? { poolGid: 65534 } : {}) });
  try {
    s.init();
    if (root) spawnSync('chgrp', ['-R', 'nogroup', s.dirs.localstatedir]);
    s.startPool();
    for (const end = Date.now() + 10000; !fs.existsSync(s.socket) && Date.now() < end;) await sleep(25);
    const f = await s.startApache({ site: 'etc/apache-proxy-fcgi.conf', modules: ['proxy', 'proxy_fcgi', 'xsendfile'] });
    await waitUp(f.base);
    await round(s, f.base, f.base, { size: 3 * 1024 * 1024 });
    // the download went out through mod_xsendfile, not through the pool
    const dl = s.log().split('\n').filter((l) => /access .* GET \/api\/v1\/files\/[^ ]+\/download 200/.test(l));
    assert.ok(dl.length >= 1, s.log().slice(-2000));
    for (const l of dl) assert.match(l, / out=0 /, `streamed by the pool: ${l}`);
    noSanitizerReport(f);
  } finally { await s.stop(); }
});

test('mod_fcgid starts the pool (etc/apache-fcgid.conf): one worker per process, several processes', async (t) => {
  const s = new Stack({ config: { listen: '' } });
  try {
    s.init();
    if (root) spawnSync('chown', ['-R', 'nobody:nogroup', s.dirs.localstatedir]);
    const f = await s.startApache({ site: 'etc/apache-fcgid.conf', modules: ['fcgid'] });
    await waitUp(f.base);
    await round(s, f.base, f.base, { size: 3 * 1024 * 1024 });
    // concurrent requests: mod_fcgid starts more pools of one worker each
    await Promise.all(Array.from({ length: 8 }, () => req(f.base, 'GET', '/ready')));
    const pools = poolMasters(s);
    assert.ok(pools.length >= 1, 'mod_fcgid runs the pool');
    for (const p of pools) {
      assert.match(p.parent, /apache2/, 'started by Apache');
      assert.equal(await poolSize(s, p.pid), 2, 'one worker and the jobs worker');
    }
    t.diagnostic(`${pools.length} pool(s) started by mod_fcgid`);
    noSanitizerReport(f);
  } finally { await s.stop(); }
});

test('shared hosting: a .htaccess and cubby.fcgi in a directory of the user\'s own (etc/cubby.htaccess)', async (t) => {
  const s = new Stack({ config: { listen: '', base_path: '/cubby' } });
  try {
    s.init();
    // The host's side, as a shared host sets it up (root's, not the
    // user's): mod_fcgid with its defaults, .htaccess files allowed.
    const f = await s.startApache({ modules: ['fcgid'], site: { text: '' }, host: (dir) => [
      `<Directory "${dir}/www">`, '  Options SymLinksIfOwnerMatch',
      '  AllowOverride FileInfo AuthConfig Indexes Options=ExecCGI,Indexes', '  Require all granted', '</Directory>'] });
    const www = path.join(f.dir, 'www');
    // The user's side: two files from etc/ and the share page's files.
    const mine = path.join(www, 'cubby');
    fs.mkdirSync(path.join(mine, 's'), { recursive: true });
    fs.writeFileSync(path.join(mine, '.htaccess'), renderTemplate('etc/cubby.htaccess', s.dirs));
    fs.writeFileSync(path.join(mine, 'cubby.fcgi'), renderTemplate('etc/cubby.fcgi', s.dirs), { mode: 0o755 });
    fs.cpSync(path.join(s.dirs.pkgdatadir, 'share'), path.join(mine, 's/_'), { recursive: true });
    if (root) for (const d of [mine, s.dirs.localstatedir]) spawnSync('chown', ['-R', 'nobody:nogroup', d]);
    const base = f.base + '/cubby';
    await waitUp(base);
    // Apache keeps encoded slashes out unless the host allows them (not
    // possible from .htaccess): clients send the slash as it is.
    await round(s, f.base, base, { size: 64 * 1024, encodedSlash: false });
    const pools = poolMasters(s);
    assert.ok(pools.length >= 1);
    for (const p of pools) assert.equal(await poolSize(s, p.pid), 2, 'cubby.fcgi runs a pool of one worker');
    // The host's FcgidMaxRequestLen (default 128 KiB) caps every body, and
    // no .htaccess can raise it: mod_fcgid answers with an error page of
    // its own (500, not even 413), before Cubby sees the request
    // (docs/install-apache.md says so).
    const t0 = await req(base, 'POST', '/api/v1/admin/tenants', { key: s.adminKey, body: { name: 'big' } });
    const u = await req(base, 'POST', '/api/v1/upload/request', { key: t0.json.apiKey, body: { fileType: 'application/pdf', fileName: 'b.pdf' } });
    const put = await req(f.base, 'PUT', u.json.presignedUrl, { body: crypto.randomBytes(1024 * 1024), headers: { 'Content-Type': 'application/pdf' } });
    t.diagnostic(`1 MiB body under mod_fcgid's default limit: ${put.status}`);
    assert.equal(put.status, 500);
    assert.match(f.errorLog(), /exceeds MaxRequestLen \(131072\)/);
    noSanitizerReport(f);
  } finally { await s.stop(); }
});
