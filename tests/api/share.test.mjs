// share.test.mjs - the share page (/s/<short id>) in headless Chromium
// (Debian's chromium, driven by playwright-core from npm) through lighttpd
// and nginx and their shipped snippets: a public space's grid and viewer,
// a protected space's password form, the not-found page. Screenshots at
// phone and desktop sizes go to <builddir>/test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Stack, eachFront, builddir } from './harness.mjs';

const stack = new Stack();
let browser;
const artifacts = path.join(builddir, 'test-artifacts');

function playwright() {
  // Installed once next to the build (npm registry), reused afterwards.
  const dir = path.join(builddir, 'npm-clients');
  const req = createRequire(path.join(dir, 'package.json'));
  try { return req('playwright-core'); } catch { /* install it */ }
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', 'playwright-core@1.64.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('npm install playwright-core failed: ' + r.stderr);
  return req('playwright-core');
}

before(async () => {
  await stack.start();
  fs.mkdirSync(artifacts, { recursive: true });
  browser = await playwright().chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  if (browser) await browser.close();
  await stack.stop();
});

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
async function api(base, method, p, key, body) {
  const h = key ? { Authorization: `Bearer ${key}` } : {};
  if (body !== undefined && !(body instanceof Uint8Array)) { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}
// A 2x2 PNG a browser really draws, a file that starts like an MP4, a PDF.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const MP4 = Buffer.concat([Buffer.from('0000001c6674797069736f6d0000020069736f6d69736f32', 'hex'), crypto.randomBytes(500)]);
const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n', 'latin1');

async function asset(base, key, name, type, bytes) {
  const c = await api(base, 'POST', '/v1/assets', key, { filename: name, content_type: type, size_bytes: bytes.length });
  const up = c.json.data.upload;
  const r = await fetch(up.url, { method: 'PUT', headers: up.headers, body: bytes });
  assert.equal(r.status, 200);
  return (await api(base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, key)).json.data.id;
}

async function setup(base) {
  const t = await api(base, 'POST', '/api/v1/admin/tenants', stack.adminKey, { name: uniq('share') });
  const key = t.json.apiKey;
  const ids = [await asset(base, key, 'sunset.png', 'image/png', PNG),
    await asset(base, key, 'clip.mp4', 'video/mp4', MP4),
    await asset(base, key, 'terms.pdf', 'application/pdf', PDF)];
  const pub = (await api(base, 'POST', '/v1/spaces', key, { name: 'Summer trip', description: 'Photos and a clip' })).json.data;
  const prot = (await api(base, 'POST', '/v1/spaces', key, { name: 'Private cut', visibility: 'protected', password: 'open sesame' })).json.data;
  for (const s of [pub, prot]) assert.equal((await api(base, 'POST', `/v1/spaces/${s.id}/publications`, key, { asset_ids: ids })).status, 200);
  return { pub, prot };
}

test('a public space: grid, viewer with keys, downloads; phone and desktop screenshots', (t) => eachFront(t, stack, async (f) => {
  const { pub } = await setup(f.base);
  for (const [label, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport });
    try {
      assert.equal(pub.share_url, `${f.base}/s/${pub.short_id}`, 'the space\'s share_url is this page');
      const resp = await page.goto(pub.share_url);
      assert.equal(resp.status(), 200);
      await page.waitForSelector('#grid li');
      assert.equal(await page.textContent('#title'), 'Summer trip');
      assert.equal(await page.textContent('#description'), 'Photos and a clip');
      assert.equal(await page.locator('#grid li').count(), 3);
      assert.deepEqual((await page.locator('#grid li').evaluateAll((ls) => ls.map((l) => l.dataset.type))).sort(), ['file', 'image', 'video']);
      // the image tile is a lazily loaded thumbnail that really loads
      const img = page.locator('#grid li[data-type=image] img');
      assert.equal(await img.getAttribute('alt'), 'sunset.png');
      assert.equal(await img.getAttribute('loading'), 'lazy');
      await page.waitForFunction(() => { const i = document.querySelector('#grid li[data-type=image] img'); return i && i.complete && i.naturalWidth === 2; });
      // every card has a download link to a signed URL that serves the bytes
      const href = await page.locator('#grid li[data-type=file] a.download').getAttribute('href');
      const dl = await fetch(href);
      assert.equal(dl.status, 200);
      assert.ok(Buffer.from(await dl.arrayBuffer()).equals(PDF));
      await page.screenshot({ path: path.join(artifacts, `share-${f.name}-${label}.png`), fullPage: true });
      // the viewer: open the image, step with the arrow keys, close with Escape
      await page.click('#grid li[data-type=image] button.open');
      await page.waitForSelector('#viewer:not([hidden])');
      assert.equal(await page.textContent('#viewer-title'), 'sunset.png');
      assert.equal(await page.locator('#viewer-body img').count(), 1);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'viewer-close', 'focus moves into the dialog');
      if (label === 'desktop') await page.screenshot({ path: path.join(artifacts, `share-${f.name}-viewer.png`) });
      const names = [];
      for (let i = 0; i < 3; i++) {
        await page.keyboard.press('ArrowRight');
        names.push(await page.textContent('#viewer-title'));
      }
      assert.equal(names[2], 'sunset.png', 'three steps come back round');
      assert.equal(new Set(names).size, 3);
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#viewer', { state: 'hidden' });
      assert.match(await page.evaluate(() => document.activeElement.getAttribute('aria-label') || ''), /^Open /, 'focus returns to the tile');
      // the video opens in a player
      await page.click('#grid li[data-type=video] button.open');
      assert.equal(await page.locator('#viewer-body video[controls]').count(), 1);
      await page.keyboard.press('Escape');
    } finally {
      await page.close();
    }
  }
}));

test('a protected space: a wrong password is refused, the right one opens it, and nothing of it is kept', (t) => eachFront(t, stack, async (f) => {
  const { prot } = await setup(f.base);
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  try {
    await page.goto(`${f.base}/s/${prot.short_id}`);
    await page.waitForSelector('#unlock:not([hidden])');
    assert.equal(await page.locator('#grid li').count(), 0);
    assert.equal(await page.getAttribute('#password', 'type'), 'password');
    assert.equal(await page.evaluate(() => document.querySelector('label[for=password]').textContent), 'Password');
    await page.fill('#password', 'wrong guess');
    await page.press('#password', 'Enter');
    await page.waitForSelector('#unlock-error:not([hidden])');
    assert.match(await page.textContent('#unlock-error'), /Wrong password/);
    await page.screenshot({ path: path.join(artifacts, `share-${f.name}-password.png`) });
    await page.fill('#password', 'open sesame');
    await page.click('#unlock button[type=submit]');
    await page.waitForSelector('#grid li');
    assert.equal(await page.locator('#grid li').count(), 3);
    assert.equal(await page.isHidden('#unlock'), true);
    assert.ok(!page.url().includes('sesame'), 'not in the URL');
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing stored');
    assert.equal(await page.inputValue('#password'), '', 'the field is cleared');
  } finally {
    await page.close();
  }
}));

test('too many wrong passwords: the page says so (429)', (t) => eachFront(t, stack, async (f) => {
  const { prot } = await setup(f.base);
  const page = await browser.newPage();
  try {
    await page.goto(`${f.base}/s/${prot.short_id}`);
    await page.waitForSelector('#unlock:not([hidden])');
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      await page.fill('#password', `guess ${i}`);
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/access')),
        page.press('#password', 'Enter'),
      ]);
      statuses.push(resp.status());
      await page.waitForSelector('#unlock-error:not([hidden])');
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    await page.waitForFunction(() => /Too many wrong passwords/.test(document.getElementById('unlock-error').textContent));
  } finally {
    await page.close();
  }
}));

test('unknown, malformed and private links show a not-found page', (t) => eachFront(t, stack, async (f) => {
  const t1 = await api(f.base, 'POST', '/api/v1/admin/tenants', stack.adminKey, { name: uniq('share') });
  const priv = (await api(f.base, 'POST', '/v1/spaces', t1.json.apiKey, { name: 'hidden', visibility: 'private' })).json.data;
  const page = await browser.newPage();
  try {
    for (const id of ['aaaaaaaa', 'not-a-space', priv.short_id]) {
      await page.goto(`${f.base}/s/${id}`);
      await page.waitForSelector('#missing:not([hidden])');
      assert.equal(await page.textContent('#title'), 'Not found');
      assert.equal(await page.isHidden('#grid'), true);
    }
    await page.screenshot({ path: path.join(artifacts, `share-${f.name}-notfound.png`) });
  } finally {
    await page.close();
  }
}));

test('the page fetches the manifest again before its signed URLs expire', (t) => eachFront(t, stack, async (f) => {
  const { pub, prot } = await setup(f.base);
  for (const s of [pub, prot]) {
    const page = await browser.newPage();
    try {
      const seen = [];
      page.on('request', (r) => { if (r.url().includes('/v1/public/spaces/')) seen.push(r.method() + ' ' + new URL(r.url()).pathname); });
      await page.clock.install();
      await page.goto(`${f.base}/s/${s.short_id}`);
      if (s === prot) {
        await page.waitForSelector('#unlock:not([hidden])');
        await page.fill('#password', 'open sesame');
        await page.press('#password', 'Enter');
      }
      await page.waitForSelector('#grid li');
      const before = seen.length;
      await page.clock.fastForward('50:00');
      assert.equal(seen.length, before, 'not yet: the URLs are good for an hour');
      await page.clock.fastForward('06:00');
      await page.waitForFunction((n) => document.querySelectorAll('#grid li').length === 3 && n, before);
      await page.waitForTimeout(200);
      assert.ok(seen.length > before, `fetched again: ${seen.join(', ')}`);
      // a protected space is fetched again with the password from memory
      if (s === prot) assert.match(seen.at(-1), /^POST .*\/access$/);
      assert.equal(await page.locator('#grid li').count(), 3);
    } finally {
      await page.close();
    }
  }
}));
