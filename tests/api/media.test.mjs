// media.test.mjs - processing through lighttpd and nginx with the real
// cubby-media (libvips, ffprobe, ffmpeg): thumbnails and previews of
// images (EXIF orientation applied, capture time read) and of a video
// (poster frame, duration, codec), both dialects, signed thumb/preview
// URLs that work and expire, reprocess, delete; and the files that must
// not hurt: truncated, a decompression bomb, zero bytes, a PDF named
// .jpg, an unreadable video, a processor that crashes or stalls on a file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, eachFront, sleep, bin, rawHttp } from './harness.mjs';

const stack = new Stack({ config: { media_max_pixels: '50000000' } });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cubby-media-'));
before(() => stack.start());
after(async () => { await stack.stop(); fs.rmSync(work, { recursive: true, force: true }); });

let seq = 0;
const uniq = (p) => `${p}-${process.pid}-${++seq}`;
const dbPath = (s = stack) => path.join(s.dirs.localstatedir, 'lib/cubby/cubby.db');
const sql = (q, s = stack) => spawnSync('sqlite3', [dbPath(s), q], { encoding: 'utf8' }).stdout.trim();
const blobFile = (key, s = stack) => path.join(s.dirs.localstatedir, 'lib/cubby/blobs', key.slice(0, 2), key.slice(2, 4), key);
const uuidOf = (ext) => ext.slice(4).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const vips = (...a) => run('vips', a);
const header = (file) => {
  const m = /: (\d+)x(\d+) /.exec(run('vipsheader', [file]));
  return [Number(m[1]), Number(m[2])];
};
const pixel = (file, x, y) => Number(run('vips', ['getpoint', file, String(x), String(y)]).trim().split(/\s+/)[0]);

// A JPEG's EXIF segment (little-endian TIFF): Orientation and
// DateTimeOriginal, inserted after SOI.
function withExif(jpeg, orientation, when) {
  const t = Buffer.alloc(76);
  t.write('II', 0); t.writeUInt16LE(42, 2); t.writeUInt32LE(8, 4);
  t.writeUInt16LE(2, 8);                                        // IFD0: 2 entries
  t.writeUInt16LE(0x0112, 10); t.writeUInt16LE(3, 12); t.writeUInt32LE(1, 14); t.writeUInt16LE(orientation, 18);
  t.writeUInt16LE(0x8769, 22); t.writeUInt16LE(4, 24); t.writeUInt32LE(1, 26); t.writeUInt32LE(38, 30);
  t.writeUInt32LE(0, 34);                                       // no next IFD
  t.writeUInt16LE(1, 38);                                       // Exif IFD: 1 entry
  t.writeUInt16LE(0x9003, 40); t.writeUInt16LE(2, 42); t.writeUInt32LE(20, 44); t.writeUInt32LE(56, 48);
  t.writeUInt32LE(0, 52);
  t.write(when + '\0', 56, 'latin1');
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), t]);
  const seg = Buffer.alloc(4); seg.writeUInt16BE(0xffe1, 0); seg.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), seg, payload, jpeg.subarray(2)]);
}

// CRC-32 (PNG chunks; zlib.crc32 is not in every node this runs on).
const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
function crc32(buf) { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
// A PNG that says it is 100000 x 100000 pixels and is a few dozen bytes.
function bombPng() {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100000, 0); ihdr.writeUInt32BE(100000, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from('789c030000000001', 'hex')), chunk('IEND', Buffer.alloc(0))]);
}

const fixtures = {};
before(() => {
  const f = (n) => path.join(work, n);
  // 400 x 200, left half white, right half black; EXIF says rotate 90°
  // clockwise (orientation 6): upright it is 200 x 400, white on top.
  vips('black', f('b.v'), '200', '200', '--bands', '3');
  vips('linear', f('b.v'), f('w.v'), '1', '255');
  vips('join', f('w.v'), f('b.v'), f('lr.v'), 'horizontal');
  vips('copy', f('lr.v'), f('lr.jpg'));
  fixtures.exif = withExif(fs.readFileSync(f('lr.jpg')), 6, '2021:07:04 12:34:56');
  // 3000 x 2000, to be scaled down to 1600 x 1067 and 320 x 213
  vips('gaussnoise', f('n.v'), '3000', '2000');
  vips('cast', f('n.v'), f('n8.v'), 'uchar');
  vips('copy', f('n8.v'), f('big.jpg'));
  fixtures.big = fs.readFileSync(f('big.jpg'));
  // with alpha: the preview stays WebP
  vips('black', f('a.v'), '64', '48', '--bands', '4');
  vips('copy', f('a.v'), f('alpha.png'));
  fixtures.alpha = fs.readFileSync(f('alpha.png'));
  vips('copy', f('lr.v'), f('lr.gif'));
  fixtures.gif = fs.readFileSync(f('lr.gif'));
  vips('copy', f('lr.v'), f('lr.webp'));
  fixtures.webp = fs.readFileSync(f('lr.webp'));
  vips('copy', f('lr.v'), f('lr.tif'));
  fixtures.tiff = fs.readFileSync(f('lr.tif'));
  vips('copy', f('lr.v'), f('lr.avif'));      // libheif, as Debian's libvips has it
  fixtures.avif = fs.readFileSync(f('lr.avif'));
  fixtures.truncated = fixtures.big.subarray(0, Math.floor(fixtures.big.length / 2));
  fixtures.bomb = bombPng();
  fixtures.pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n');
  // 3 s of a test pattern, 320 x 240, H.264 in MP4
  run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '3',
    '-pix_fmt', 'yuv420p', '-c:v', 'libx264', f('clip.mp4')]);
  fixtures.video = fs.readFileSync(f('clip.mp4'));
  fixtures.badVideo = Buffer.concat([fixtures.video.subarray(0, 32), Buffer.alloc(4000, 0x5a)]);
  // MPEG audio with no tag to say so (no ID3, no Xing frame): layer III
  // and layer II, a second of a sine
  run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'libmp3lame',
    '-b:a', '128k', '-id3v2_version', '0', '-write_xing', '0', f('s.mp3')]);
  fixtures.mp3 = fs.readFileSync(f('s.mp3'));
  run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'mp2', '-f', 'mp2', f('s.mp2')]);
  fixtures.mp2 = fs.readFileSync(f('s.mp2'));
});

async function req(base, method, p, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') { h['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  const r = await fetch(/^https?:/.test(p) ? p : base + p, { method, headers: h, body, redirect: 'manual' });
  const buf = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(buf.toString()); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, buf, text: buf.toString() };
}

async function account(base, s = stack) {
  const r = await req(base, 'POST', '/api/v1/admin/tenants', { key: s.adminKey, body: { name: uniq('media') } });
  assert.equal(r.status, 201, r.text);
  return r.json.apiKey;
}

async function upload(base, key, bytes, filename = 'x.jpg', ctype = 'image/jpeg') {
  const c = await req(base, 'POST', '/v1/assets', { key, body: { filename, content_type: ctype, size_bytes: bytes.length } });
  assert.equal(c.status, 201, c.text);
  const up = c.json.data.upload;
  assert.equal((await req(base, up.method, up.url, { body: bytes, headers: up.headers })).status, 200);
  const done = await req(base, 'POST', `/v1/assets/${c.json.data.asset.id}/complete`, { key });
  assert.equal(done.status, 200, done.text);
  return done.json.data.id;
}

async function settled(base, key, id, ms = 30000) {
  for (let t = 0; t < ms; t += 100) {
    const g = await req(base, 'GET', `/v1/assets/${id}`, { key });
    assert.equal(g.status, 200, g.text);
    if (g.json.data.processing_status !== 'pending') return g.json.data;
    await sleep(100);
  }
  assert.fail(`asset ${id} still pending after ${ms} ms`);
}

async function fetchTo(url, name) {
  const r = await fetch(url);
  assert.equal(r.status, 200, `${url}: ${r.status}`);
  const file = path.join(work, name);
  fs.writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  return { file, type: r.headers.get('content-type') };
}

test('an image: thumbnail and preview upright, EXIF capture time, signed URLs', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const id = await upload(f.base, key, fixtures.exif, 'portrait.jpg');
  const a = await settled(f.base, key, id);
  assert.equal(a.processing_status, 'completed', JSON.stringify(a));
  assert.equal(a.processing_error, null);
  // once: the PUT that brought the bytes leaves it to the complete call
  assert.equal(sql(`SELECT count(*) FROM jobs WHERE kind = 'asset.process' AND json_extract(payload, '$.objectId') = '${uuidOf(id)}'`), '1', 'processed once');
  assert.equal(a.status, 'active');
  assert.equal(a.type, 'image');
  assert.deepEqual(a.media, { width: 200, height: 400, format: 'jpeg', captured_at: '2021-07-04T12:34:56' });
  assert.match(a.thumb_url, /variant=thumb&token=[0-9a-f]{64}&expires=\d+$/);
  assert.match(a.preview_url, /variant=preview&token=/);
  const th = await fetchTo(a.thumb_url, `t-${f.name}.webp`);
  assert.equal(th.type, 'image/webp');
  assert.deepEqual(header(th.file), [160, 320], 'upright, 320 px on the long edge');
  assert.ok(pixel(th.file, 80, 20) > 200, 'the white half is on top');
  assert.ok(pixel(th.file, 80, 300) < 50, 'the black half below');
  const pv = await fetchTo(a.preview_url, `p-${f.name}.jpg`);
  assert.equal(pv.type, 'image/jpeg');
  assert.deepEqual(header(pv.file), [200, 400], 'not upscaled past the original');
  // no metadata of the original survives in what share pages show
  // (the review found the thumbnail's EXIF kept: camera, GPS, time)
  for (const d of [th.file, pv.file]) {
    const fields = run('vipsheader', ['-a', d]);
    assert.doesNotMatch(fields, /exif-|xmp-data|iptc-data|icc-profile-data|2021:07:04/, `${d}: ${fields}`);
  }
  // the URL is for that variant only: another variant's name, a changed
  // token or an expired time are refused
  const swapped = a.thumb_url.replace('variant=thumb', 'variant=preview');
  assert.equal((await req(f.base, 'GET', swapped)).status, 401);
  assert.equal((await req(f.base, 'GET', a.thumb_url.replace(/variant=thumb&/, ''))).status, 401);
  assert.equal((await req(f.base, 'GET', a.thumb_url.replace('variant=thumb', 'variant=other'))).status, 401);
  const exp = Number(/expires=(\d+)/.exec(a.thumb_url)[1]);
  assert.ok(exp > Date.now() + 3500e3 && exp <= Date.now() + 3600e3, 'an hour');
  assert.equal((await req(f.base, 'GET', a.thumb_url.replace(/expires=\d+/, `expires=${exp - 1}`))).status, 401);
  // the file API serves the same with a key, and signs a variant on demand
  const fid = uuidOf(id);
  const file = (await req(f.base, 'GET', `/api/v1/files/${fid}`, { key })).json;
  assert.equal(file.processingStatus, 'completed');
  assert.deepEqual(file.media, { width: 200, height: 400, format: 'jpeg', capturedAt: '2021-07-04T12:34:56' });
  assert.equal(file.thumbnailUrl, `/api/v1/files/${fid}/download?variant=thumb`);
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${fid}/download?variant=other`, { key })).status, 400);
  const viaKey = await req(f.base, 'GET', file.thumbnailUrl, { key });
  assert.equal(viaKey.status, 200);
  assert.equal(viaKey.headers.get('content-type'), 'image/webp');
  assert.equal(viaKey.headers.get('content-disposition'), 'inline');
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${fid}/signed-url?variant=other`, { key })).status, 400);
  const s = await req(f.base, 'GET', `/api/v1/files/${fid}/signed-url?variant=preview&expiresIn=60`, { key });
  assert.equal(s.status, 200, s.text);
  assert.match(s.json.url, /variant=preview/);
  assert.equal((await req(f.base, 'GET', s.json.url)).status, 200);
  // the token does not carry over to another expiry
  assert.equal((await req(f.base, 'GET', s.json.url.replace(/expires=\d+/, 'expires=1000'))).status, 401);
  // expired: a token the server's key signs for a time now past is
  // refused as expired (the same for a time ahead works: it is the time)
  const master = Buffer.from(fs.readFileSync(path.join(stack.dirs.localstatedir, 'lib/cubby/master.key'), 'utf8').trim(), 'hex');
  const sub = crypto.createHmac('sha256', master).update('cubby/download-url/v1').digest();
  const signed = (exp) => `/api/v1/files/${fid}/download?variant=thumb&token=${crypto.createHmac('sha256', sub).update(`GET\n${fid}/thumb\n${exp}`).digest('hex')}&expires=${exp}`;
  assert.equal((await req(f.base, 'GET', signed(Date.now() + 60000))).status, 200);
  const old = await req(f.base, 'GET', signed(Date.now() - 1000));
  assert.equal(old.status, 401);
  assert.match(old.text, /expired/);
}));

test('reprocess and complete as curl -X POST sends them: no body, no Content-Length', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const id = await upload(f.base, key, fixtures.exif);
  await settled(f.base, key, id);
  for (const p of [`/v1/assets/${id}/reprocess`, `/v1/assets/${id}/complete`]) {
    const r = await rawHttp(f.port, `POST ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    // (lighttpd itself answers a POST without a length with 411)
    if (f.name === 'lighttpd') assert.equal(r.status, 411);
    else assert.ok(r.status === 202 || r.status === 200, `${p}: ${r.status} ${r.body}`);
  }
  // a body that is there and is not JSON is still refused
  const bad = await rawHttp(f.port, `POST /v1/assets/${id}/complete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{{{`);
  assert.equal(bad.status, 400, bad.body);
  assert.match(bad.body, /not valid JSON/);
  assert.equal((await settled(f.base, key, id)).processing_status, 'completed');
}));

test('sizes and formats: a large JPEG shrinks, alpha stays WebP, GIF, WebP, TIFF and AVIF read', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const big = await settled(f.base, key, await upload(f.base, key, fixtures.big, 'big.jpg'));
  assert.equal(big.processing_status, 'completed', JSON.stringify(big));
  assert.deepEqual([big.media.width, big.media.height], [3000, 2000]);
  assert.equal(big.media.captured_at, undefined);
  assert.deepEqual(header((await fetchTo(big.thumb_url, 'bt.webp')).file), [320, 213]);
  assert.deepEqual(header((await fetchTo(big.preview_url, 'bp.jpg')).file), [1600, 1067]);
  const al = await settled(f.base, key, await upload(f.base, key, fixtures.alpha, 'a.png', 'image/png'));
  assert.equal(al.processing_status, 'completed', JSON.stringify(al));
  assert.equal(al.media.format, 'png');
  assert.equal((await fetchTo(al.preview_url, 'ap')).type, 'image/webp');
  for (const [bytes, fmt] of [[fixtures.gif, 'gif'], [fixtures.webp, 'webp'], [fixtures.tiff, 'tiff'], [fixtures.avif, 'heif']]) {
    const x = await settled(f.base, key, await upload(f.base, key, bytes, `x.${fmt}`, 'application/octet-stream'));
    assert.equal(x.type, 'image');
    assert.equal(x.processing_status, 'completed', JSON.stringify(x));
    assert.equal(x.media.format, fmt);
    assert.deepEqual(header((await fetchTo(x.thumb_url, `x-${fmt}`)).file), [320, 160]);
  }
}));

test('a video: duration, dimensions, codec, a poster thumbnail; audio kinds fall back', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const v = await settled(f.base, key, await upload(f.base, key, fixtures.video, 'clip.mp4', 'video/mp4'));
  assert.equal(v.processing_status, 'completed', JSON.stringify(v));
  assert.equal(v.type, 'video');
  assert.equal(v.media.width, 320);
  assert.equal(v.media.height, 240);
  assert.equal(v.media.codec, 'h264');
  assert.ok(Math.abs(v.media.duration_ms - 3000) < 150, `duration ${v.media.duration_ms}`);
  const th = await fetchTo(v.thumb_url, `vt-${f.name}`);
  assert.equal(th.type, 'image/webp');
  assert.deepEqual(header(th.file), [320, 240]);
  // an unreadable video fails with ffprobe's reason; the asset stays
  const bad = await settled(f.base, key, await upload(f.base, key, fixtures.badVideo, 'bad.mp4', 'video/mp4'));
  assert.equal(bad.processing_status, 'failed');
  assert.match(bad.processing_error, /^not a readable video: /);
  assert.doesNotMatch(bad.processing_error, /\/|blobs|cubby-api/, 'no server path in a reason');
  assert.equal(bad.status, 'active');
  assert.equal(bad.thumb_url, null);
}));

test('what the bytes are, not the name: MPEG audio without a tag is audio; random bytes are a file, processed without a decoder', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  for (const [name, bytes, codec] of [['a.bin', fixtures.mp3, 'mp3'], ['b.bin', fixtures.mp2, 'mp2']]) {
    assert.notEqual(bytes.subarray(0, 3).toString('latin1'), 'ID3');
    const a = await settled(f.base, key, await upload(f.base, key, bytes, name, 'application/octet-stream'));
    assert.equal(a.type, 'audio', `${name}: ${JSON.stringify(a)}`);
    assert.equal(a.processing_status, 'completed', JSON.stringify(a));
    assert.equal(a.media.codec, codec);
    assert.ok(Math.abs(a.media.duration_ms - 1000) < 100, `duration ${a.media.duration_ms}`);
  }
  // random bytes: one in about 2,700 once passed for an MPEG frame header
  // and "failed" processing; each of these begins with a valid one
  for (let i = 0; i < 4; i++) {
    const junk = crypto.randomBytes(3000);
    junk.set([0xff, 0xfb, 0x90, 0xc4]);
    const a = await settled(f.base, key, await upload(f.base, key, junk, `r${i}.bin`, 'application/octet-stream'));
    assert.equal(a.type, 'file', JSON.stringify(a));
    assert.equal(a.processing_status, 'completed', JSON.stringify(a));
  }
}));

test('bad input: truncated, a bomb, zero bytes, a PDF named .jpg; each settles with a reason and the processor carries on', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const started = Date.now();
  const tr = await settled(f.base, key, await upload(f.base, key, fixtures.truncated, 'cut.jpg'));
  assert.equal(tr.processing_status, 'failed');
  // (libjpeg's words vary with where the bytes stop)
  assert.match(tr.processing_error, /^could not decode the image: ./);
  assert.doesNotMatch(tr.processing_error, /\/|blobs|cubby-api/, 'no server path in a reason');
  assert.equal(tr.thumb_url, null);
  const bomb = await settled(f.base, key, await upload(f.base, key, fixtures.bomb, 'bomb.png', 'image/png'));
  assert.equal(bomb.processing_status, 'failed');
  assert.equal(bomb.processing_error, 'the image is 100000x100000, more than the 50000000 pixels allowed');
  assert.deepEqual(bomb.media, { width: 100000, height: 100000, format: 'png' });
  const zero = await settled(f.base, key, await upload(f.base, key, Buffer.alloc(0), 'empty.jpg'));
  assert.equal(zero.processing_status, 'completed');
  assert.equal(zero.type, 'file');
  const pdf = await settled(f.base, key, await upload(f.base, key, fixtures.pdf, 'invoice.jpg'));
  assert.equal(pdf.type, 'file', 'typed by its bytes, not its name');
  assert.equal(pdf.processing_status, 'completed');
  assert.equal(pdf.thumb_url, null);
  // a file without a thumbnail: none to download or sign
  const pid = uuidOf(pdf.id);
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${pid}/download?variant=thumb`, { key })).status, 404);
  assert.equal((await req(f.base, 'GET', `/api/v1/files/${pid}/signed-url?variant=preview`, { key })).status, 404);
  assert.ok(Date.now() - started < 30000, 'all within the time limit');
  // and the next good file is processed
  const ok = await settled(f.base, key, await upload(f.base, key, fixtures.exif));
  assert.equal(ok.processing_status, 'completed');
}));

test('reprocess makes new derived blobs and removes the old; delete removes them all', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const id = await upload(f.base, key, fixtures.exif);
  await settled(f.base, key, id);
  const uuid = uuidOf(id);
  const [t1, p1] = sql(`SELECT thumb_key, preview_key FROM objects WHERE id='${uuid}'`).split('|');
  assert.ok(fs.existsSync(blobFile(t1)) && fs.existsSync(blobFile(p1)));
  const rp = await req(f.base, 'POST', `/v1/assets/${id}/reprocess`, { key });
  assert.equal(rp.status, 202, rp.text);
  const a = await settled(f.base, key, id);
  assert.equal(a.processing_status, 'completed');
  const [t2, p2] = sql(`SELECT thumb_key, preview_key FROM objects WHERE id='${uuid}'`).split('|');
  assert.notEqual(t2, t1);
  assert.ok(!fs.existsSync(blobFile(t1)) && !fs.existsSync(blobFile(p1)), 'the old ones are gone');
  assert.ok(fs.existsSync(blobFile(t2)) && fs.existsSync(blobFile(p2)));
  assert.equal((await req(f.base, 'DELETE', `/v1/assets/${id}`, { key })).status, 200);
  assert.ok(!fs.existsSync(blobFile(t2)) && !fs.existsSync(blobFile(p2)), 'delete takes the derived blobs');
  assert.equal((await req(f.base, 'GET', a.thumb_url)).status, 404);
}));

test('the file API: processingStatus, and file.uploaded sent once processing is done', (t) => eachFront(t, stack, async (f) => {
  const key = await account(f.base);
  const r = await req(f.base, 'POST', '/api/v1/upload/request', { key, body: { fileType: 'image/jpeg', fileName: 'r.jpg', fileSize: fixtures.exif.length } });
  assert.equal(r.status, 200, r.text);
  const put = await req(f.base, 'PUT', r.json.presignedUrl, { body: fixtures.exif, headers: { 'Content-Type': 'image/jpeg' } });
  assert.equal(put.status, 200, put.text);
  let file = put.json;
  for (let i = 0; i < 300 && file.processingStatus === 'pending'; i++) {
    await sleep(100);
    file = (await req(f.base, 'GET', `/api/v1/files/${r.json.fileId}`, { key })).json;
  }
  assert.equal(file.processingStatus, 'completed');
  assert.equal(file.media.width, 200);
  assert.equal((await req(f.base, 'GET', file.previewUrl, { key })).status, 200);
  // another tenant's key sees none of it
  const other = await account(f.base);
  assert.equal((await req(f.base, 'GET', file.thumbnailUrl, { key: other })).status, 404);
}));

// A stand-in processor with the real one behind it: it dies on a blob
// whose key ends -deadbeef and hangs on one ending -cafebabe, like a
// decoder that does (and takes a second over one ending -c0ffee).
function wrapped(config) {
  const s = new Stack({ config });
  const wrapper = path.join(s.tmp, 'media-wrapper.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh
# the options come first; --serve is among them
while IFS='\t' read -r kind in thumb preview; do
  case "$in" in
  *-deadbeef) kill -SEGV $$ ;;
  *-cafebabe) exec sleep 600 ;;
  *-c0ffee) sleep 1 ;;
  esac
  "${bin('cubby-media')}" "$kind" "$in" "$thumb" "$preview"
done
`);
  fs.chmodSync(wrapper, 0o755);
  s.opts.config.media_helper = wrapper;
  return { s, wrapper };
}
const mark = { poison: 'deadbeef', stall: 'cafebabe', good: '0badf00d', slow: 'c0ffee' };
// An image uploaded as n.jpg whose blob key then ends with mark[n] (the
// key names the file on disk; the wrapper sees the path). Its asset id.
async function marked(s, base, key, n) {
  const id = await upload(base, key, fixtures.exif, `${n}.jpg`);
  const oid = uuidOf(id);
  const k = sql(`SELECT blob_key FROM objects WHERE id='${oid}'`, s);
  fs.renameSync(blobFile(k, s), blobFile(k, s) + '.tmp');
  const renamed = `${oid}-${mark[n]}`;
  fs.mkdirSync(path.dirname(blobFile(renamed, s)), { recursive: true });
  fs.renameSync(blobFile(k, s) + '.tmp', blobFile(renamed, s));
  sql(`UPDATE objects SET blob_key='${renamed}' WHERE id='${oid}'`, s);
  return id;
}

test('a processor that crashes or stalls on a file: retried, then failed; others still processed', async () => {
  const { s, wrapper } = wrapped({ media_timeout: '2', media_workers: '1' });
  await s.start();
  try {
    const f = s.fronts[0];
    const key = await account(f.base, s);
    const names = {};
    const rename = async (n) => { names[n] = await marked(s, f.base, key, n); };
    for (const n of ['poison', 'stall', 'good']) {
      await rename(n);
      assert.equal((await req(f.base, 'POST', `/v1/assets/${names[n]}/reprocess`, { key })).status, 202);
    }
    const good = await settled(f.base, key, names.good, 60000);
    assert.equal(good.processing_status, 'completed');
    const poison = await settled(f.base, key, names.poison, 60000);
    assert.equal(poison.processing_status, 'failed');
    assert.equal(poison.processing_error, 'the processor crashed on this file (tried 3 times)');
    const stall = await settled(f.base, key, names.stall, 60000);
    assert.equal(stall.processing_status, 'failed');
    assert.equal(stall.processing_error, 'processing took longer than 2 s (tried 3 times)');
    // the pool and its jobs worker are the ones that started
    assert.equal((await req(f.base, 'GET', '/health')).status, 200);
    const after = await settled(f.base, key, await upload(f.base, key, fixtures.exif, 'after.jpg'), 30000);
    assert.equal(after.processing_status, 'completed');
    // the jobs worker itself killed mid-file: the pool starts another,
    // which takes the job up again when its lease ends
    await rename('slow');
    assert.equal((await req(f.base, 'POST', `/v1/assets/${names.slow}/reprocess`, { key })).status, 202);
    let jobsPid;
    for (let i = 0; i < 100 && !jobsPid; i++) {
      await sleep(50);
      const w = spawnSync('pgrep', ['-f', wrapper], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      for (const p of w) {
        const sleeping = spawnSync('pgrep', ['-P', p, 'sleep'], { encoding: 'utf8' }).stdout.trim();
        if (sleeping) jobsPid = Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]);
      }
    }
    assert.ok(jobsPid, 'the slow file reached the processor');
    process.kill(jobsPid, 'SIGKILL');
    const slow = await settled(f.base, key, names.slow, 60000);
    assert.equal(slow.processing_status, 'completed');
    assert.equal(slow.media.width, 200);
    assert.ok(!s.children().includes(jobsPid));
  } finally {
    await s.stop();
  }
});

test('every processor busy on a long file: documents are still typed and hashed at once; media waits its turn, not counted as an attempt', async () => {
  const { s } = wrapped({ media_timeout: '120', media_workers: '1' });
  await s.start();
  try {
    const f = s.fronts[0];
    const key = await account(f.base, s);
    const stall = await marked(s, f.base, key, 'stall');
    assert.equal((await req(f.base, 'POST', `/v1/assets/${stall}/reprocess`, { key })).status, 202);
    // the one processor is the sleep now (the wrapper exec'd it)
    let busy;
    for (let i = 0; i < 200 && !busy; i++) {
      await sleep(50);
      for (const c of s.children()) {
        const p = spawnSync('pgrep', ['-P', String(c), '-x', 'sleep'], { encoding: 'utf8' }).stdout.trim();
        if (p) busy = Number(p.split('\n')[0]);
      }
    }
    assert.ok(busy, 'the stalling file holds the processor');
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    // a PDF: done while the processor is still held
    const pdf = await upload(f.base, key, fixtures.pdf, 'doc.pdf', 'application/pdf');
    const doc = await settled(f.base, key, pdf, 20000);
    assert.equal(doc.processing_status, 'completed');
    assert.match(sql(`SELECT hex(sha256) FROM objects WHERE id='${uuidOf(pdf)}'`, s),
      new RegExp(`^${crypto.createHash('sha256').update(fixtures.pdf).digest('hex')}$`, 'i'));
    assert.ok(alive(busy), 'the processor was busy all along');
    // an image sent as octet-stream: its kind is read at the PUT, and it
    // waits for the processor, not counted as an attempt
    const img = await upload(f.base, key, fixtures.exif, 'photo.bin', 'application/octet-stream');
    const job = `kind = 'asset.process' AND json_extract(payload, '$.objectId') = '${uuidOf(img)}'`;
    const kindOf = () => sql(`SELECT kind FROM objects WHERE id='${uuidOf(img)}'`, s);
    assert.equal(kindOf(), 'image');
    await sleep(600);
    assert.equal(sql(`SELECT state || ' ' || attempts FROM jobs WHERE ${job}`, s), 'queued 0');
    // as when completion could not read the bytes (a store that did not
    // answer) and recorded a file: the jobs worker takes it as one, reads
    // an image, records that and puts the job back where it was
    assert.equal(sql(`PRAGMA busy_timeout = 5000; UPDATE objects SET kind = 'file' WHERE id = '${uuidOf(img)}'; SELECT changes();`, s), '5000\n1');
    for (let i = 0; i < 200 && kindOf() !== 'image'; i++) await sleep(50);
    assert.equal(kindOf(), 'image', 'read again by the jobs worker');
    await sleep(600);
    assert.equal(sql(`SELECT state || ' ' || attempts FROM jobs WHERE ${job}`, s), 'queued 0');
    assert.equal((await req(f.base, 'GET', `/v1/assets/${img}`, { key })).json.data.processing_status, 'pending');
    assert.ok(alive(busy));
    // the long file goes (deleted, its processor killed): the image's turn
    assert.equal((await req(f.base, 'DELETE', `/v1/assets/${stall}`, { key })).status, 200);
    process.kill(busy, 'SIGKILL');
    const done = await settled(f.base, key, img, 30000);
    assert.equal(done.processing_status, 'completed');
    assert.equal(done.media.width, 200);
    assert.equal(sql(`SELECT state || ' ' || attempts FROM jobs WHERE ${job}`, s), 'done 1');
  } finally {
    await s.stop();
  }
});

test('built --without-vips: images are stored and served, skipped with the reason; video still read', async () => {
  // tests/cubby-media-novips: this source built as --without-vips builds it
  const s = new Stack({ config: { media_helper: bin('tests/cubby-media-novips') } });
  await s.start();
  try {
    const f = s.fronts[1];
    const key = await account(f.base, s);
    const a = await settled(f.base, key, await upload(f.base, key, fixtures.exif));
    assert.equal(a.processing_status, 'skipped');
    assert.equal(a.processing_error, 'no thumbnails: this Cubby was built without libvips');
    assert.equal(a.thumb_url, null);
    const u = await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key });
    assert.ok((await req(f.base, 'GET', u.json.data.url)).buf.equals(fixtures.exif));
    const v = await settled(f.base, key, await upload(f.base, key, fixtures.video, 'clip.mp4', 'video/mp4'));
    assert.equal(v.processing_status, 'skipped');
    assert.equal(v.media.codec, 'h264', 'ffprobe still reads it');
    assert.equal(v.thumb_url, null);
  } finally {
    await s.stop();
  }
});

test('no processor installed: images are stored and served, and say why they have no thumbnail', async () => {
  const s = new Stack({ config: { media_helper: '/nonexistent/cubby-media' } });
  await s.start();
  try {
    const f = s.fronts[0];
    const key = await account(f.base, s);
    const a = await settled(f.base, key, await upload(f.base, key, fixtures.exif));
    assert.equal(a.processing_status, 'skipped');
    assert.match(a.processing_error, /not installed/);
    assert.equal(a.thumb_url, null);
    const u = await req(f.base, 'GET', `/v1/assets/${a.id}/url`, { key });
    assert.ok((await req(f.base, 'GET', u.json.data.url)).buf.equals(fixtures.exif));
    // the file API calls it completed (it knows no other end)
    assert.equal((await req(f.base, 'GET', `/api/v1/files/${uuidOf(a.id)}`, { key })).json.processingStatus, 'completed');
  } finally {
    await s.stop();
  }
});
