// webhooks.test.mjs - upload webhooks received by a real HTTP server on
// loopback: the documented payload, a verifiable signature, 3 attempts
// with back-off against a failing receiver, file.failed on expiry, and the
// SSRF guard refusing internal addresses unless the operator allows them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Stack, sleep } from './harness.mjs';

const open = new Stack({ config: { webhook_allow_private: 'on' } });
const guarded = new Stack();
const hits = [];
let status = 200;
let receiver, port;

before(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      hits.push({ at: Date.now(), path: req.url, headers: req.headers, body });
      if (status === 302) { res.writeHead(302, { Location: '/elsewhere' }); res.end(); return; }
      res.writeHead(req.url === '/elsewhere' ? 200 : status);
      res.end('ok');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  port = receiver.address().port;
  await open.start();
  await guarded.start();
});
after(async () => { await open.stop(); await guarded.stop(); receiver.close(); });

async function api(s, method, p, key, body) {
  const r = await fetch(s.fronts[1].base + p, { method, headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  return r.json();
}
async function uploadWithHook(s, key, hook, bytes = Buffer.from('hello')) {
  const r = await api(s, 'POST', '/api/v1/upload/request', key, { fileType: 'image/png', fileName: 'hook.png', webhookUrl: hook, context: 'ctx', tags: { a: 'b' } });
  const put = await fetch(s.fronts[1].base + r.presignedUrl, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: bytes });
  assert.equal(put.status, 200);
  return r.fileId;
}
async function waitHits(pred, n, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end && hits.filter(pred).length < n) await sleep(50);
  return hits.filter(pred);
}
const job = (s, fileId) => spawnSync('sqlite3', [path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db'),
  `SELECT state || '|' || attempts || '|' || coalesce(last_error, '') FROM jobs WHERE json_extract(payload, '$.fileId') = '${fileId}'`], { encoding: 'utf8' }).stdout.trim();

test('file.uploaded: the documented payload, signed with the tenant webhook secret', async () => {
  status = 200;
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks' });
  assert.match(t.webhookSecret, /^[0-9a-f]{64}$/);
  const id = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/hook?x=1`);
  const [h] = await waitHits((x) => x.body.includes(id), 1, 5000);
  assert.ok(h, 'the webhook arrived');
  assert.equal(h.path, '/hook?x=1');
  assert.equal(h.headers['content-type'], 'application/json');
  assert.equal(h.headers['x-cubby-event'], 'file.uploaded');
  assert.match(h.headers['x-cubby-delivery'], /^\d+$/);
  const expect = crypto.createHmac('sha256', t.webhookSecret).update(h.body).digest('hex');
  assert.equal(h.headers['x-cubby-signature'], `sha256=${expect}`);
  const p = JSON.parse(h.body);
  assert.equal(p.event, 'file.uploaded');
  assert.equal(p.fileId, id);
  assert.equal(p.tenantId, t.id);
  assert.equal(p.workspaceId, null);
  assert.deepEqual(Object.keys(p.file).sort(), ['context', 'createdAt', 'fileType', 'id', 'metadata', 'originalName', 'processingStatus', 'sizeBytes', 'tags', 'url', 'workspaceId']);
  assert.equal(p.file.id, id);
  assert.equal(p.file.sizeBytes, 5);
  assert.equal(p.file.processingStatus, 'completed');
  assert.deepEqual(p.file.tags, { a: 'b' });
  assert.match(p.timestamp, /Z$/);
  assert.match(job(open, id), /^done\|1\|$/);
});

test('a failing receiver gets 3 attempts, 1 s then 2 s apart, then the job fails', async () => {
  status = 500;
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-fail' });
  const id = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/fail`);
  const got = await waitHits((x) => x.body.includes(id), 3, 8000);
  assert.equal(got.length, 3);
  const gap1 = got[1].at - got[0].at, gap2 = got[2].at - got[1].at;
  assert.ok(gap1 >= 900 && gap1 < 2500, `first back-off ${gap1} ms`);
  assert.ok(gap2 >= 1900 && gap2 < 3500, `second back-off ${gap2} ms`);
  await sleep(4500);
  assert.equal(hits.filter((x) => x.body.includes(id)).length, 3, 'no fourth attempt');
  assert.match(job(open, id), /^failed\|3\|the receiver answered 500$/);
  status = 200;
});

test('redirects are not followed', async () => {
  status = 302;
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-redirect' });
  const id = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/redirect`);
  await waitHits((x) => x.body.includes(id), 1, 5000);
  await sleep(1500);
  assert.equal(hits.filter((x) => x.path === '/elsewhere').length, 0);
  assert.match(job(open, id), /the receiver answered 302/);
  status = 200;
});

test('file.failed when an upload with a webhook expires', async () => {
  status = 200;
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-expire' });
  const r = await api(open, 'POST', '/api/v1/upload/request', t.apiKey, { fileType: 'image/png', fileName: 'never.png', webhookUrl: `http://127.0.0.1:${port}/failed` });
  spawnSync('sqlite3', [path.join(open.dirs.localstatedir, 'lib/cubby/cubby.db'), `UPDATE objects SET upload_expires_at = 1 WHERE id = '${r.fileId}'`]);
  const [h] = await waitHits((x) => x.path === '/failed' && x.body.includes(r.fileId), 1, 10000);
  assert.ok(h, 'file.failed arrived');
  assert.equal(h.headers['x-cubby-event'], 'file.failed');
  assert.equal(JSON.parse(h.body).file.processingStatus, 'failed');
});

test('the webhook secret rotates: both signatures during the overlap, then only the new one', async () => {
  status = 200;
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-rotate' });
  const sig = (secret, body) => `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
  const rot = await api(open, 'POST', `/api/v1/admin/tenants/${t.id}/rotate-webhook-secret`, open.adminKey);
  assert.match(rot.webhookSecret, /^[0-9a-f]{64}$/);
  assert.notEqual(rot.webhookSecret, t.webhookSecret);
  assert.ok(Date.parse(rot.previousSecretValidUntil) > Date.now() + 23 * 3600e3, rot.previousSecretValidUntil);
  let id = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/rot1`);
  let [h] = await waitHits((x) => x.body.includes(id), 1, 5000);
  assert.equal(h.headers['x-cubby-signature'], sig(rot.webhookSecret, h.body), 'the new secret signs');
  assert.equal(h.headers['x-cubby-signature-previous'], sig(t.webhookSecret, h.body), 'and the old one beside it');
  // cubbyctl shows the current secret; the regenerated API key leaves it be
  assert.match(open.ctl('tenant', 'show', t.id).stdout, new RegExp(`webhook secret ${rot.webhookSecret}`));
  // once the overlap is over, the old one is gone
  spawnSync('sqlite3', [path.join(open.dirs.localstatedir, 'lib/cubby/cubby.db'), `UPDATE tenants SET webhook_prev_until = 1 WHERE id = '${t.id}'`]);
  id = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/rot2`);
  [h] = await waitHits((x) => x.body.includes(id), 1, 5000);
  assert.equal(h.headers['x-cubby-signature'], sig(rot.webhookSecret, h.body));
  assert.equal(h.headers['x-cubby-signature-previous'], undefined);
  // cubbyctl rotates too; unknown tenants and tenant keys are refused
  const c = open.ctl('tenant', 'rotate-webhook-secret', t.id);
  assert.equal(c.status, 0, c.stderr);
  const again = /webhook secret ([0-9a-f]{64})/.exec(c.stdout)[1];
  assert.notEqual(again, rot.webhookSecret);
  const r404 = await fetch(open.fronts[0].base + '/api/v1/admin/tenants/00000000-0000-4000-8000-000000000000/rotate-webhook-secret', { method: 'POST', headers: { Authorization: `Bearer ${open.adminKey}` } });
  assert.equal(r404.status, 404);
  const r401 = await fetch(open.fronts[0].base + `/api/v1/admin/tenants/${t.id}/rotate-webhook-secret`, { method: 'POST', headers: { Authorization: `Bearer ${t.apiKey}` } });
  assert.equal(r401.status, 401);
});

test('the SSRF guard refuses internal addresses unless allowed', async () => {
  const t = await api(guarded, 'POST', '/api/v1/admin/tenants', guarded.adminKey, { name: 'ssrf' });
  const ids = [];
  for (const url of [`http://127.0.0.1:${port}/ssrf`, `http://localhost:${port}/ssrf`, `http://[::1]:${port}/ssrf`,
    'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x', 'http://192.168.1.1/x', 'http://[fe80::1]/x', 'http://0.0.0.0/x',
    // IPv6 forms that embed an internal IPv4 address, and other internal ranges
    `http://[::ffff:127.0.0.1]:${port}/ssrf`, `http://[::127.0.0.1]:${port}/ssrf`, `http://[64:ff9b::7f00:1]:${port}/ssrf`,
    `http://[2002:7f00:1::]:${port}/ssrf`, `http://[::ffff:0:7f00:1]:${port}/ssrf`, 'http://[64:ff9b::a9fe:a9fe]/latest/',
    'http://[fec0::1]/x', 'http://[100::1]/x'])
    ids.push([url, await uploadWithHook(guarded, t.apiKey, url)]);
  for (const [url, id] of ids) {
    let j = '';
    for (const end = Date.now() + 8000; !/^failed/.test(j) && Date.now() < end; await sleep(100)) j = job(guarded, id);
    assert.match(j, /^failed\|3\|refused: \S+ resolves to an internal address \(webhook_allow_private is off\)/, url);
  }
  assert.equal(hits.filter((x) => x.path === '/ssrf').length, 0, 'nothing reached the receiver');
});

test('an IPv6 literal target works (no pin: curl connects to the checked literal) where internal addresses are allowed', async () => {
  status = 200;
  const got = [];
  const r6 = http.createServer((req, res) => { got.push(req.url); res.end('ok'); });
  await new Promise((r) => r6.listen(0, '::1', r));
  try {
    const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-v6' });
    const id = await uploadWithHook(open, t.apiKey, `http://[::1]:${r6.address().port}/v6`);
    for (const end = Date.now() + 8000; got.length === 0 && Date.now() < end;) await sleep(50);
    assert.deepEqual(got, ['/v6'], job(open, id));
    let j = '';
    for (const end = Date.now() + 5000; !/^done/.test(j) && Date.now() < end; await sleep(50)) j = job(open, id);
    assert.match(j, /^done/);
  } finally { r6.close(); }
});

test('an image is processed first: file.uploaded says completed; one the decoder refuses sends file.failed', async () => {
  status = 200;
  const dir = path.join(open.tmp, 'hook-img');
  spawnSync('mkdir', ['-p', dir]);
  assert.equal(spawnSync('vips', ['black', path.join(dir, 'b.v'), '300', '200', '--bands', '3']).status, 0);
  assert.equal(spawnSync('vips', ['copy', path.join(dir, 'b.v'), path.join(dir, 'b.jpg')]).status, 0);
  const jpg = (await import('node:fs')).readFileSync(path.join(dir, 'b.jpg'));
  const t = await api(open, 'POST', '/api/v1/admin/tenants', open.adminKey, { name: 'hooks-media' });
  const good = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/media`, jpg);
  const bad = await uploadWithHook(open, t.apiKey, `http://127.0.0.1:${port}/media`, jpg.subarray(0, 300));
  const [g] = await waitHits((x) => x.body.includes(good), 1, 15000);
  const [b] = await waitHits((x) => x.body.includes(bad), 1, 15000);
  assert.equal(JSON.parse(g.body).event, 'file.uploaded');
  assert.equal(JSON.parse(g.body).file.processingStatus, 'completed');
  assert.equal(JSON.parse(b.body).event, 'file.failed');
  assert.equal(JSON.parse(b.body).file.processingStatus, 'failed');
  assert.equal(b.headers['x-cubby-event'], 'file.failed');
  await sleep(1000);
  assert.equal(hits.filter((x) => x.body.includes(good) || x.body.includes(bad)).length, 2, 'one event each');
});
