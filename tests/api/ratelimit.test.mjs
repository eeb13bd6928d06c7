// ratelimit.test.mjs - request rate limits (rate_limit_ip, rate_limit_key)
// through lighttpd and nginx at once: one allowance per client address
// and per credential for the whole pool (both web servers, every worker),
// 429 with Retry-After and X-RateLimit-* headers, a flood of made-up keys
// stopped by the address limit, admin keys limited like any other, and
// /health never limited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from './harness.mjs';

const KEY_MAX = 10, IP_MAX = 80;
const stack = new Stack({ config: { rate_limit_key: String(KEY_MAX), rate_limit_ip: String(IP_MAX), rate_limit_window: '60' } });
before(() => stack.start());
after(() => stack.stop());

const mkTenant = (i, n) => fetch(stack.fronts[i % 2].base + '/api/v1/admin/tenants', { method: 'POST',
  headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: `rl-${n}` }) });
const get = (i, p, key) => fetch(stack.fronts[i % 2].base + p, { headers: key ? { Authorization: `Bearer ${key}` } : {} });

test('per credential: the allowance is shared by every worker behind both web servers; another key is not touched', async () => {
  const admin = [];
  for (let i = 0; i < KEY_MAX; i++) admin.push((await mkTenant(i, i)).status);
  assert.deepEqual(admin, Array(KEY_MAX).fill(201), 'the admin key, like any, within its allowance');
  const over = await mkTenant(KEY_MAX, 'over');
  assert.equal(over.status, 429);
  const retry = Number(over.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  assert.equal(over.headers.get('x-ratelimit-limit'), String(KEY_MAX));
  assert.equal(over.headers.get('x-ratelimit-remaining'), '0');
  const body = await over.json();
  assert.equal(body.error.code, 'RATE_LIMITED', JSON.stringify(body));   // the file API's style
  assert.equal((await mkTenant(1, 'again')).status, 429, 'the admin key is still out, on either web server');
  // another credential has its own allowance
  const ok = await get(0, '/v1/account', 'sk_live_' + '0'.repeat(64));
  assert.equal(ok.status, 401, 'an unknown key is refused by auth, not by its (unspent) allowance');
  assert.equal(ok.headers.get('x-ratelimit-limit'), String(KEY_MAX));
  assert.equal(ok.headers.get('x-ratelimit-remaining'), String(KEY_MAX - 1));
});

test('per address: a flood of made-up keys stops at the address limit; /health is never limited', async () => {
  let first429 = -1, last;
  for (let i = 0; i < IP_MAX + 5 && first429 < 0; i++) {
    last = await get(i, '/v1/account', `sk_live_${String(i).padStart(64, 'a')}`);
    if (last.status === 429) first429 = i;
    else assert.equal(last.status, 401);
  }
  assert.ok(first429 > 0, 'limited');
  // everything this address sent so far counts: the earlier test's 13
  // requests and this loop's, IP_MAX in all
  assert.equal(first429 + 13, IP_MAX, `the ${first429 + 1}th of this loop was refused`);
  const b = await last.json();
  assert.equal(b.data, null);
  assert.equal(b.error.code, 'rate_limited');
  assert.match(b.error.message, /try again in \d+ s/);
  assert.ok(Number(last.headers.get('retry-after')) >= 1);
  for (let i = 0; i < 5; i++) assert.equal((await get(i, '/health')).status, 200);
  // the file dialect says it in its own style, the same limit
  const f = await get(1, '/api/v1/files', 'x');
  assert.equal(f.status, 429);
  assert.equal((await f.json()).error.code, 'RATE_LIMITED');
});
