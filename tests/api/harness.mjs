// harness.mjs - starts the real thing for the API tests: cubbyctl init, the
// cubby-fcgi pool on a unix socket, and a real lighttpd and a real nginx in
// front of it, each on a free loopback port. The front-end configs are the
// shipped templates in etc/ with test paths substituted, exactly as `make`
// substitutes install paths.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const srcdir = process.env.CUBBY_SRCDIR || path.resolve(here, '../..');
export const builddir = process.env.CUBBY_BUILDDIR || path.join(srcdir, 'build');
export const bin = (name) => path.join(builddir, name);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every answer that says it is JSON must parse with a strict parser
// (JSON.parse: no NaN, no comments, no trailing commas); NDJSON line by
// line. A property of every test: fetch itself fails the test otherwise.
const realFetch = globalThis.fetch;
export function checkJsonAnswer(ct, text, what) {
  if (/^application\/(x-)?ndjson\b/i.test(ct)) {
    for (const line of text.split('\n'))
      if (line.trim() !== '') JSON.parse(line);
  } else if (/^application\/([\w.-]+\+)?json\b/i.test(ct)) {
    JSON.parse(text);
  }
}
globalThis.fetch = async (input, init) => {
  const r = await realFetch(input, init);
  const ct = r.headers.get('content-type') || '';
  const len = Number(r.headers.get('content-length') || 0);
  if (/json/i.test(ct) && r.status !== 204 && r.status !== 304 && len <= 256 * 1024 * 1024 &&
      (init?.method || 'GET').toUpperCase() !== 'HEAD') {
    const text = await r.clone().text();
    try {
      checkJsonAnswer(ct, text, r.url);
    } catch (e) {
      throw new Error(`${r.url} answered ${r.status} ${ct} that a strict parser refuses (${e.message}): ${text.slice(0, 200)}`);
    }
  }
  return r;
};

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The same substitution Makefile.am's $(edit) does.
export function renderTemplate(rel, dirs) {
  let text = fs.readFileSync(path.join(srcdir, rel + '.in'), 'utf8');
  for (const [k, v] of Object.entries(dirs)) text = text.split(`@${k}@`).join(v);
  return text;
}

function which(cmd) {
  for (const d of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`${cmd} not found: install it (contrib/dev.sh deps)`);
}

async function waitFor(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { if (await fn()) return; } catch (e) { last = e; }
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

// CUBBY_TEST_BLOBS=s3: a Stack keeps its blobs in a bucket of a real S3
// server that checks signatures (startS3Peer), started with it, unless
// the test sets blob_backend itself. The files and assets suites run so a
// second time (files.s3.test.mjs, assets.s3.test.mjs).
export const blobMode = process.env.CUBBY_TEST_BLOBS === 's3' ? 's3' : 'fs';
export const S3_BUCKET = 'cubby-blobs';

export class Stack {
  constructor(opts = {}) {
    this.opts = opts;
    this.s3 = blobMode === 's3' && !(opts.config && opts.config.blob_backend);
    this.procs = [];
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-api-'));
    fs.chmodSync(this.tmp, 0o755);   // nginx workers run as nobody
    this.dirs = {
      bindir: builddir,
      sysconfdir: path.join(this.tmp, 'etc'),
      localstatedir: path.join(this.tmp, 'var'),
      runstatedir: path.join(this.tmp, 'run'),
      pkgdatadir: path.join(srcdir, 'src'),   // share/ is src/share
    };
    this.socket = path.join(this.dirs.runstatedir, 'cubby', 'cubby.sock');
    this.streamSocket = path.join(this.dirs.runstatedir, 'cubby', 'cubby-stream.sock');
    this.confPath = path.join(this.dirs.sysconfdir, 'cubby', 'cubby.conf');
    this.poolLog = path.join(this.tmp, 'cubby.log');
    this.fronts = [];
  }

  writeConfig(extra = {}) {
    fs.mkdirSync(path.dirname(this.confPath), { recursive: true });
    fs.mkdirSync(path.dirname(this.socket), { recursive: true });
    let conf = renderTemplate('etc/cubby.conf.sample', this.dirs);
    // Test-only settings, appended: the last value of a key wins.
    // The stream pool (uploads, downloads) stays small here; tests of it
    // size it themselves.
    const settings = { listen_mode: '0666', workers: '2', stream_workers: '3', busy_timeout_ms: '10000',
      drain_timeout: '10', log_level: 'info', ...this.opts.config, ...extra };
    conf += '\n# test overrides\n' + Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
    fs.writeFileSync(this.confPath, conf);
  }

  env(extra = {}) {
    const env = { ...process.env, CUBBY_CONFIG: this.confPath, ...extra };
    for (const k of Object.keys(env)) if (k.startsWith('CUBBY_') && k !== 'CUBBY_CONFIG' &&
        k !== 'CUBBY_SRCDIR' && k !== 'CUBBY_BUILDDIR') delete env[k];
    if (this.opts.asanLog) env.ASAN_OPTIONS = (env.ASAN_OPTIONS || '');
    return env;
  }

  ctl(...args) {
    const r = spawnSync(bin('cubbyctl'), ['-c', this.confPath, ...args], { env: this.env(), encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  init() {
    this.writeConfig();
    const r = this.ctl('init');
    if (r.status !== 0) throw new Error(`cubbyctl init failed: ${r.stderr}`);
    const m = /admin key \(shown once, store it now\): (\S+)/.exec(r.stdout);
    this.adminKey = m && m[1];
    return r;
  }

  startPool(args = []) {
    const log = fs.openSync(this.poolLog, 'a');
    // opts.poolGid: the pool's group, as the systemd unit's Group= (the web
    // server reads handed-over blobs through it).
    const p = spawn(bin('cubby-fcgi'), ['-c', this.confPath, ...args],
      { env: this.env(), stdio: ['ignore', log, log], ...(this.opts.poolGid !== undefined ? { gid: this.opts.poolGid } : {}) });
    fs.closeSync(log);
    this.pool = p;
    this.procs.push(p);
    return p;
  }

  // snippet: a template under etc/ (rendered with this stack's paths), or
  // { text } already rendered.
  async startLighttpd(snippet = 'etc/lighttpd-cubby.conf') {
    const port = await freePort();
    const dir = path.join(this.tmp, 'lighttpd-' + port);
    fs.mkdirSync(path.join(dir, 'www'), { recursive: true });
    const inc = path.join(dir, 'cubby.conf');
    fs.writeFileSync(inc, snippet.text ?? renderTemplate(snippet, this.dirs));
    fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
      `server.document-root = "${dir}/www"`,
      `server.bind = "127.0.0.1"`,
      `server.port = ${port}`,
      `server.errorlog = "${dir}/error.log"`,
      `server.max-request-size = 2097152`,
      // tests open 1,000 connections at once (plus the upstream ones)
      'server.max-connections = 4096', 'server.max-fds = 16384',
      `include "${inc}"`, '',
    ].join('\n'));
    const p = spawn(which('lighttpd'), ['-D', '-f', path.join(dir, 'lighttpd.conf')],
      { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'stderr.log'), 'a')] });
    this.procs.push(p);
    const front = { name: 'lighttpd', port, base: `http://127.0.0.1:${port}`, proc: p, dir };
    this.fronts.push(front);
    return front;
  }

  async startNginx(snippet = 'etc/nginx-cubby.conf') {
    const port = await freePort();
    const dir = path.join(this.tmp, 'nginx-' + port);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync('/etc/nginx/fastcgi_params', path.join(dir, 'fastcgi_params'));
    fs.writeFileSync(path.join(dir, 'cubby.conf'), snippet.text ?? renderTemplate(snippet, this.dirs));
    fs.writeFileSync(path.join(dir, 'nginx.conf'), [
      'daemon off;', 'worker_processes 1;', `pid ${dir}/nginx.pid;`,
      // Workers read blobs handed over by X-Accel-Redirect, as a
      // deployment's web server user in the data dir's group would.
      ...(process.getuid && process.getuid() === 0 ? ['user root;'] : []),
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 8192; }', 'worker_rlimit_nofile 16384;',
      'http {', '  access_log off;',
      ...['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`),
      `  server { listen 127.0.0.1:${port}; include ${dir}/cubby.conf; }`, '}', '',
    ].join('\n'));
    const p = spawn(which('nginx'), ['-p', dir, '-c', path.join(dir, 'nginx.conf')],
      { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'stderr.log'), 'a')] });
    this.procs.push(p);
    const front = { name: 'nginx', port, base: `http://127.0.0.1:${port}`, proc: p, dir };
    this.fronts.push(front);
    return front;
  }

  // Apache (Debian's apache2, started by the test, on a loopback port).
  // opts.site: what goes inside the <VirtualHost> (a template under etc/,
  // rendered with this stack's paths, or { text }); opts.host: lines of the
  // host's own server config (a shared host's, for .htaccess setups; or a
  // function of Apache's directory returning them);
  // opts.modules: modules beyond the base set.
  async startApache(opts = {}) {
    const port = await freePort();
    const dir = path.join(this.tmp, 'apache-' + port);
    const mods = '/usr/lib/apache2/modules';
    fs.mkdirSync(path.join(dir, 'www'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'fcgid'), { recursive: true });
    // mod_fcgid's request bodies (fcgid.tmp.*, as large as the upload):
    // here, not /tmp, which a stop with connections open would leave them in
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const root = process.getuid && process.getuid() === 0;
    // Apache will not run as root: its children (and the pools mod_fcgid
    // starts) run as nobody, as they would as www-data.
    if (root) spawnSync('chown', ['-R', 'nobody:nogroup', path.join(dir, 'fcgid'), path.join(dir, 'tmp')]);
    const site = opts.site === undefined ? '' : (opts.site.text ?? renderTemplate(opts.site, this.dirs));
    fs.writeFileSync(path.join(dir, 'site.conf'), site);
    const modules = ['mpm_event', 'authz_core', 'authz_host', 'mime', 'dir', 'alias', 'rewrite', 'headers',
      'env', 'setenvif', ...(opts.modules || [])];
    for (const m of modules) {
      if (!fs.existsSync(`${mods}/mod_${m}.so`)) throw new Error(`Apache's mod_${m} is not installed (contrib/dev.sh deps)`);
    }
    fs.writeFileSync(path.join(dir, 'httpd.conf'), [
      `ServerRoot "${dir}"`, 'ServerName 127.0.0.1', `Listen 127.0.0.1:${port}`,
      `PidFile "${dir}/httpd.pid"`, `ErrorLog "${dir}/error.log"`, 'LogLevel warn',
      `DefaultRuntimeDir "${dir}"`, `Mutex file:${dir} default`,
      ...(root ? ['User nobody', 'Group nogroup'] : []),
      ...modules.map((m) => `LoadModule ${m}_module ${mods}/mod_${m}.so`),
      'Timeout 300', 'TypesConfig /etc/mime.types', 'AccessFileName .htaccess',
      '<Directory />', '  AllowOverride None', '  Require all denied', '</Directory>',
      '<FilesMatch "^\\.ht">', '  Require all denied', '</FilesMatch>',
      '<IfModule mod_fcgid.c>', `  FcgidIPCDir "${dir}/fcgid"`, `  FcgidProcessTableFile "${dir}/fcgid/shm"`,
      '  FcgidConnectTimeout 20', '  AddHandler fcgid-script .fcgi', '</IfModule>',
      ...(typeof opts.host === 'function' ? opts.host(dir) : opts.host || []),
      `<VirtualHost 127.0.0.1:${port}>`, `  DocumentRoot "${dir}/www"`, `  Include "${dir}/site.conf"`, '</VirtualHost>', '',
    ].join('\n'));
    const p = spawn(which('apache2'), ['-D', 'FOREGROUND', '-f', path.join(dir, 'httpd.conf')],
      { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'stderr.log'), 'a')], env: { PATH: process.env.PATH, LANG: 'C', TMPDIR: path.join(dir, 'tmp') } });
    this.procs.push(p);
    const front = { name: 'apache', port, base: `http://127.0.0.1:${port}`, proc: p, dir,
      errorLog: () => { try { return fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { return ''; } } };
    this.fronts.push(front);
    return front;
  }

  // The usual stack: init, pool, lighttpd and nginx, all answering.
  async start() {
    if (this.s3 && !this.peer) {
      this.peer = await startS3Peer();
      const made = this.peer.curl('PUT', `/${S3_BUCKET}`);
      if (made.status !== 200) throw new Error(`the S3 peer would not make a bucket: ${made.status} ${made.body}`);
      this.opts.config = { ...this.opts.config, blob_backend: 's3', s3_endpoint: this.peer.endpoint,
        s3_region: this.peer.region, s3_bucket: S3_BUCKET, s3_access_key: this.peer.accessKey,
        s3_secret_key: this.peer.secretKey, s3_prefix: 'cubby/', s3_sha256: 'on' };
    }
    this.init();
    this.startPool();
    await waitFor(() => fs.existsSync(this.socket), 'the pool socket');
    await this.startLighttpd();
    await this.startNginx();
    for (const f of this.fronts) await this.waitHealthy(f);
    return this;
  }

  async waitHealthy(front) {
    await waitFor(async () => (await fetch(front.base + '/health')).status === 200,
      `${front.name} -> cubby /health`);
  }

  log() {
    try { return fs.readFileSync(this.poolLog, 'utf8'); } catch { return ''; }
  }

  // Pids of the pool's children (workers and the jobs worker).
  children(pid = this.pool.pid) {
    try {
      const t = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      return t ? t.split(/\s+/).map(Number) : [];
    } catch { return []; }
  }

  // The sockets a child holds (socket:[inode] links).
  static sockets(pid) {
    try {
      return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; }
      }).filter((l) => l.startsWith('socket:'));
    } catch { return []; }
  }

  // The inode of the listening unix socket at p (/proc/net/unix), or null.
  static listenerInode(p) {
    try {
      const line = fs.readFileSync('/proc/net/unix', 'utf8').split('\n')
        .find((l) => l.endsWith(' ' + p) && l.split(/\s+/)[5] === '01');
      return line ? `socket:[${line.split(/\s+/)[6]}]` : null;
    } catch { return null; }
  }

  // Children that are the API's request workers: they hold a listening
  // socket (the jobs worker closes it), and not the stream pool's.
  workerPids(pid = this.pool.pid) {
    const stream = Stack.listenerInode(this.streamSocket);
    return this.children(pid).filter((c) => {
      const socks = Stack.sockets(c);
      return socks.length > 0 && !(stream && socks.includes(stream));
    });
  }

  // Children that are stream-pool workers.
  streamPids(pid = this.pool.pid) {
    const stream = Stack.listenerInode(this.streamSocket);
    return stream ? this.children(pid).filter((c) => Stack.sockets(c).includes(stream)) : [];
  }

  async stop() {
    for (const p of this.procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await Promise.race([new Promise((r) => p.once('exit', r)), sleep(5000)]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    if (this.peer) this.peer.stop();
    // A sanitizer report from any pool process fails the run; the log is
    // kept next to the build for reading.
    // (Pools that Apache's mod_fcgid started write to Apache's error log.)
    const log = [this.log(), ...this.fronts.filter((f) => f.errorLog).map((f) => f.errorLog())].join('\n');
    if (/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.test(log)) {
      const keep = path.join(builddir, `sanitizer-${path.basename(this.tmp)}.log`);
      fs.writeFileSync(keep, log);
      throw new Error(`sanitizer report in the pool log, kept in ${keep}`);
    }
    if (!process.env.CUBBY_KEEP_TMP) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// A real S3 server that checks SigV4 signatures (OpenStack Swift's s3api,
// tests/tools/s3-peer.sh) on loopback: { endpoint, accessKey, secretKey,
// region, stop() }. It needs five ports in a row, from port.
async function portsFree(base, n) {
  for (let i = 0; i < n; i++) {
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(base + i, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

export async function startS3Peer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-s3-'));
  let port;
  for (let tries = 0; tries < 50; tries++) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if (await portsFree(p, 5)) { port = p; break; }
  }
  if (!port) throw new Error('no five free ports in a row for the S3 peer');
  const script = path.join(srcdir, 'tests/tools/s3-peer.sh');
  const r = spawnSync('bash', [script, 'start', dir, String(port)], { encoding: 'utf8', timeout: 600000 });
  if (r.status !== 0) throw new Error(`s3-peer.sh start failed: ${r.stderr.slice(-2000)}`);
  const env = Object.fromEntries(r.stdout.split('\n').filter((l) => /^S3_[A-Z_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  const peer = {
    endpoint: env.S3_ENDPOINT, accessKey: env.S3_ACCESS_KEY, secretKey: env.S3_SECRET_KEY,
    region: env.S3_REGION, port, dir,
    // A signed request straight to the peer with curl --aws-sigv4 (not
    // through Cubby): { status, body }. p: "/bucket/key?query" (query in
    // canonical order).
    curl(method, p, extra = []) {
      const url = `http://${encodeURIComponent(env.S3_ACCESS_KEY)}:${env.S3_SECRET_KEY}@${env.S3_ENDPOINT.replace('http://', '')}${p}`;
      const q = spawnSync('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--aws-sigv4', `aws:amz:${env.S3_REGION}:s3`,
        '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-X', method, ...extra, url], { encoding: 'latin1', maxBuffer: 1 << 30 });
      const i = q.stdout.lastIndexOf('\n');
      return { status: Number(q.stdout.slice(i + 1)), body: q.stdout.slice(0, i) };
    },
    restart() {
      spawnSync('bash', [script, 'stop', dir], { encoding: 'utf8' });
      const again = spawnSync('bash', [script, 'start', dir, String(port)], { encoding: 'utf8', timeout: 600000 });
      if (again.status !== 0) throw new Error(`s3-peer.sh restart failed: ${again.stderr.slice(-2000)}`);
    },
    pause() { spawnSync('bash', [script, 'stop', dir], { encoding: 'utf8' }); },
    stop() {
      spawnSync('bash', [script, 'stop', dir], { encoding: 'utf8' });
      if (!process.env.CUBBY_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return peer;
}

// A raw HTTP/1.1 exchange, for requests fetch() refuses to send.
export function rawHttp(port, text, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { s.destroy(); reject(new Error('raw request timed out')); }, timeoutMs);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      const i = all.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: i >= 0 ? all.slice(0, i) : all,
        body: i >= 0 ? all.slice(i + 4) : '' });
    });
    s.write(text);
  });
}

// Run fn(front) as one subtest per front server.
export function eachFront(t, stack, fn) {
  return Promise.all(stack.fronts.map((f) => t.test(f.name, () => fn(f))));
}

// PUT body to url at rate bytes a second (chunks every 100 ms). Resolves
// with the answer, whenever it comes (also before the body is all sent).
export function trickle(url, body, rate, type = 'application/pdf') {
  return new Promise((resolve) => {
    const u = new URL(url);
    const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'PUT',
      headers: { 'Content-Type': type, 'Content-Length': body.length } });
    let sent = 0, done = false, timer;
    const finish = (v) => { if (!done) { done = true; clearTimeout(timer); resolve(v); } };
    rq.on('response', (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => finish({ status: res.statusCode, text: Buffer.concat(parts).toString(), sent }));
      res.on('error', () => finish({ status: res.statusCode, text: '', sent }));
    });
    rq.on('error', (e) => finish({ status: 0, text: e.message, sent }));
    const step = Math.max(1, Math.round(rate / 10));
    const tick = () => {
      if (done || sent >= body.length) return;
      const n = Math.min(step, body.length - sent);
      rq.write(body.subarray(sent, sent + n));
      sent += n;
      if (sent >= body.length) rq.end();
      else timer = setTimeout(tick, 100);
    };
    tick();
  });
}
