// share.js - the share page: reads the space's short id from the URL, asks
// Cubby's public API for the manifest (/v1/public/spaces/{id}), shows a
// password form for a protected space, then a grid and a viewer. The
// password lives only in this page's memory (re-sent to refresh the
// manifest before its signed URLs expire); never in the URL or storage.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  // <api base><share path>/<short id>: the share path is one segment
  // (/s by default), the API lives under what comes before it.
  const m = /^(.*)\/[^/]+\/([^/]*)$/.exec(location.pathname);
  const apiBase = m ? m[1] : '';
  const shortId = m && /^[a-z2-7]{8}(?:[a-z2-7]{8})?$/.test(m[2]) ? m[2] : null;
  const REFRESH_MS = 45 * 60 * 1000;   // when no URL says when it expires
  const MARGIN_MS = 5 * 60 * 1000;     // refresh this long before it does
  let password = null;
  let assets = [];
  let current = -1;
  let lastFocus = null;
  let refreshTimer = null;

  function show(id, on) { $(id).hidden = !on; }
  function status(text) { $('status').textContent = text; show('status', !!text); }

  function size(n) {
    if (typeof n !== 'number') return '';
    const u = ['bytes', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : String(n)) + ' ' + u[i];
  }

  function notFound() {
    document.title = 'Not found';
    $('title').textContent = 'Not found';
    status('');
    show('unlock', false);
    show('grid', false);
    show('missing', true);
  }

  async function load() {
    if (!shortId) return notFound();
    let r;
    try {
      r = password === null
        ? await fetch(`${apiBase}/v1/public/spaces/${shortId}`, { cache: 'no-store' })
        : await fetch(`${apiBase}/v1/public/spaces/${shortId}/access`, {
          method: 'POST', cache: 'no-store',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ password }),
        });
    } catch (e) {
      status('The server could not be reached. Check your connection and reload the page.');
      return;
    }
    if (r.status === 404) return notFound();
    const body = await r.json().catch(() => null);
    if (r.status === 401 || r.status === 429) {
      password = null;
      const msg = r.status === 429
        ? `Too many wrong passwords. Try again in ${Math.ceil((Number(r.headers.get('Retry-After')) || 60) / 60)} minute(s).`
        : 'Wrong password. Try again.';
      askPassword(msg);
      return;
    }
    if (!r.ok || !body || !body.data) {
      status('Something went wrong loading this space. Reload the page to try again.');
      return;
    }
    if (body.data.requires_password) {
      if (body.data.name) $('title').textContent = document.title = body.data.name;
      askPassword(null);
      return;
    }
    render(body.data);
  }

  function askPassword(error) {
    status('');
    show('grid', false);
    show('unlock', true);
    const e = $('unlock-error');
    e.textContent = error || '';
    e.hidden = !error;
    $('password').value = '';
    $('password').focus();
  }

  function tileFor(a) {
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.setAttribute('aria-label', `Open ${a.filename}`);
    const thumb = a.thumb_url || (a.type === 'image' ? a.url : null);
    if (thumb) {
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      img.src = thumb;
      img.alt = a.filename;
      open.append(img);
    } else {
      const t = document.createElement('span');
      t.className = 'tile';
      t.setAttribute('aria-hidden', 'true');
      const glyph = { video: '▶', audio: '♪' }[a.type];
      const ext = (/\.([A-Za-z0-9]{1,5})$/.exec(a.filename) || [])[1];
      t.textContent = glyph || (ext ? ext.toUpperCase() : 'FILE');
      if (!glyph) t.classList.add('ext');
      open.append(t);
    }
    return open;
  }

  function render(data) {
    const sp = data.space || {};
    document.title = sp.name || 'Shared space';
    $('title').textContent = sp.name || 'Shared space';
    $('description').textContent = sp.description || '';
    show('description', !!sp.description);
    show('unlock', false);
    show('missing', false);
    assets = data.assets || [];
    const grid = $('grid');
    grid.replaceChildren();
    assets.forEach((a, i) => {
      const li = document.createElement('li');
      li.className = 'card';
      li.dataset.type = a.type;
      const open = tileFor(a);
      open.addEventListener('click', () => openViewer(i));
      const meta = document.createElement('div');
      meta.className = 'meta';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = a.filename;
      const info = document.createElement('span');
      info.className = 'info';
      info.textContent = `${a.type} · ${size(a.size_bytes)}`;
      const dl = document.createElement('a');
      dl.className = 'button download';
      dl.href = a.url;
      dl.download = a.filename;
      dl.textContent = 'Download';
      dl.setAttribute('aria-label', `Download ${a.filename}`);
      meta.append(name, info, dl);
      li.append(open, meta);
      grid.append(li);
    });
    status(assets.length ? '' : 'Nothing has been shared here yet.');
    show('grid', assets.length > 0);
    if (current >= 0 && current < assets.length) fillViewer();
    // Fetch the manifest again before its first signed URL expires.
    let soonest = Infinity;
    for (const a of assets)
      for (const u of [a.url, a.thumb_url, a.preview_url]) {
        const e = u ? Number(new URL(u, location.href).searchParams.get('expires')) : NaN;
        if (e > 0 && e < soonest) soonest = e;
      }
    const wait = soonest === Infinity ? REFRESH_MS : Math.max(10000, soonest - Date.now() - MARGIN_MS);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(load, wait);
  }

  function fillViewer() {
    const a = assets[current];
    const body = $('viewer-body');
    body.replaceChildren();
    $('viewer-title').textContent = a.filename;
    $('viewer-download').href = a.url;
    $('viewer-download').download = a.filename;
    let el;
    if (a.type === 'image') {
      el = document.createElement('img');
      el.src = a.preview_url || a.url;
      el.alt = a.filename;
    } else if (a.type === 'video') {
      el = document.createElement('video');
      el.controls = true;
      el.preload = 'metadata';
      el.src = a.url;
      if (a.thumb_url) el.poster = a.thumb_url;
      el.setAttribute('aria-label', a.filename);
    } else if (a.type === 'audio') {
      el = document.createElement('audio');
      el.controls = true;
      el.preload = 'metadata';
      el.src = a.url;
      el.setAttribute('aria-label', a.filename);
    } else {
      el = document.createElement('p');
      el.className = 'plain';
      el.textContent = `${a.filename} (${size(a.size_bytes)}) has no preview. Use Download to get it.`;
    }
    body.append(el);
    $('viewer-prev').disabled = assets.length < 2;
    $('viewer-next').disabled = assets.length < 2;
  }

  function openViewer(i) {
    lastFocus = document.activeElement;
    current = i;
    fillViewer();
    show('viewer', true);
    $('viewer-close').focus();
  }

  function closeViewer() {
    const media = $('viewer-body').querySelector('video, audio');
    if (media) media.pause();
    $('viewer-body').replaceChildren();
    show('viewer', false);
    current = -1;
    if (lastFocus) lastFocus.focus();
  }

  function step(d) {
    if (current < 0 || assets.length < 2) return;
    current = (current + d + assets.length) % assets.length;
    fillViewer();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('unlock').addEventListener('submit', (ev) => {
      ev.preventDefault();
      password = $('password').value;
      $('password').value = '';
      status('Opening…');
      load();
    });
    $('viewer-close').addEventListener('click', closeViewer);
    $('viewer-prev').addEventListener('click', () => step(-1));
    $('viewer-next').addEventListener('click', () => step(1));
    document.addEventListener('keydown', (ev) => {
      if ($('viewer').hidden) return;
      if (ev.key === 'Escape') { ev.preventDefault(); closeViewer(); }
      else if (ev.key === 'ArrowLeft') { ev.preventDefault(); step(-1); }
      else if (ev.key === 'ArrowRight') { ev.preventDefault(); step(1); }
      else if (ev.key === 'Tab') {
        // keep focus inside the dialog
        const f = [...$('viewer').querySelectorAll('button:not([disabled]), a[href], video, audio')];
        if (!f.length) return;
        const first = f[0], last = f[f.length - 1];
        if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
        else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
      }
    });
    load();
  });
}());
