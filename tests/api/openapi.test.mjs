// openapi.test.mjs - the OpenAPI document served at /api-docs/openapi.json
// and the route table (cubby-fcgi --routes) describe the same routes: a
// route added to one without the other fails here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Stack, eachFront, bin } from './harness.mjs';

const stack = new Stack();
before(() => stack.start());
after(() => stack.stop());

test('every route in the table is in the OpenAPI document, and vice versa', async () => {
  const r = spawnSync(bin('cubby-fcgi'), ['--routes'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  const table = new Set(r.stdout.trim().split('\n').map((l) => {
    const [m, p] = l.split(' ');
    return `${m} ${p.replace(/\{(\w+)\+\}/g, '{$1}')}`;
  }));
  const doc = await (await fetch(stack.fronts[0].base + '/api-docs/openapi.json')).json();
  assert.match(doc.openapi, /^3\./);
  const documented = new Set();
  for (const [p, item] of Object.entries(doc.paths))
    for (const m of Object.keys(item))
      if (['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m)) documented.add(`${m.toUpperCase()} ${p}`);
  assert.deepEqual([...table].filter((x) => !documented.has(x)), [], 'routes missing from the OpenAPI document');
  assert.deepEqual([...documented].filter((x) => !table.has(x)), [], 'documented operations with no route');
});

test('/api-docs/openapi.json and /swagger-ui/ are served', (t) => eachFront(t, stack, async (f) => {
  let r = await fetch(f.base + '/api-docs/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal((await r.json()).info.title, 'Cubby');
  r = await fetch(f.base + '/swagger-ui/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  const html = await r.text();
  assert.match(html, /api-docs\/openapi\.json/);
  assert.match(html, /<title>Cubby API explorer<\/title>/);
}));
