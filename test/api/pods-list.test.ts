import t from 'tap';
import { auth, fakeDaemon, type TestDaemon } from '../helpers/app.js';

const custom = { template: 'custom', image: 'pinacled/testbox:1' };

interface Page {
  items: { id: string; name: string; state: string; createdAt: string; labels: Record<string, string> }[];
  next: string | null;
}

async function page(d: TestDaemon, query: string): Promise<Page> {
  const r = await d.app.inject({ url: `/v1/pods${query}`, headers: auth });
  if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${r.body}`);
  return r.json();
}

/** Follows `next` from the first page; returns every page's names. */
async function walk(d: TestDaemon, query: string): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | null = null;
  do {
    const sep = query ? '&' : '?';
    const p: Page = await page(d, `${query}${after ? `${sep}after=${after}` : ''}`);
    pages.push(p.items.map((i) => i.name));
    after = p.next;
  } while (after);
  return pages;
}

async function createMany(d: TestDaemon, n: number, labels: (i: number) => Record<string, string> = () => ({})) {
  for (let i = 0; i < n; i++) {
    const r = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: `p${String(i).padStart(3, '0')}`, labels: labels(i) } });
    if (r.statusCode !== 201) throw new Error(r.body);
  }
}

t.test('pages: every pod once, in creation order, default 100 per page', async (t) => {
  const d = await fakeDaemon(t);
  await createMany(d, 230);
  const first = await page(d, '');
  t.equal(first.items.length, 100, 'default limit 100');
  t.type(first.next, 'string');
  const pages = await walk(d, '');
  t.same(pages.map((p) => p.length), [100, 100, 30]);
  const names = pages.flat();
  t.same(names, Array.from({ length: 230 }, (_, i) => `p${String(i).padStart(3, '0')}`), 'every pod exactly once, in creation order');
  const small = await walk(d, '?limit=7');
  t.equal(small.length, Math.ceil(230 / 7));
  t.same(small.flat(), names, 'the same pods whatever the page size');
  const all = await page(d, '?limit=1000');
  t.equal(all.items.length, 230);
  t.equal(all.next, null, 'the last page says so');
  const exact = await page(d, '?limit=230');
  t.equal(exact.next, null, 'a page that ends exactly at the last pod has no next');
});

t.test('cursors are positions: deletes and creates between pages skip and repeat nothing', async (t) => {
  const d = await fakeDaemon(t);
  await createMany(d, 30);
  const p1 = await page(d, '?limit=10');
  const last = p1.items.at(-1)!;
  // The cursor's own pod and the first pod of the next page go away; a new pod arrives.
  const byName = Object.fromEntries((await page(d, '?limit=1000')).items.map((i) => [i.name, i.id]));
  for (const name of [last.name, 'p010']) t.equal((await d.app.inject({ method: 'DELETE', url: `/v1/pods/${byName[name]}`, headers: auth })).statusCode, 204);
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'late' } })).statusCode, 201);
  const rest = [];
  let after = p1.next;
  while (after) {
    const p: Page = await page(d, `?limit=10&after=${after}`);
    rest.push(...p.items.map((i) => i.name));
    after = p.next;
  }
  const expected = [...Array.from({ length: 19 }, (_, i) => `p${String(i + 11).padStart(3, '0')}`), 'late'];
  t.same(rest, expected, 'the deleted pods are gone, the new one comes last, nothing twice');
});

t.test('filters page too: a page holds only matching pods', async (t) => {
  const d = await fakeDaemon(t);
  await createMany(d, 40, (i) => (i % 3 === 0 ? { team: 'a' } : { team: 'b' }));
  const pages = await walk(d, '?label=team=a&limit=5');
  const names = pages.flat();
  t.equal(names.length, 14);
  t.ok(
    names.every((n) => Number(n.slice(1)) % 3 === 0),
    'only team=a',
  );
  t.same(pages.map((p) => p.length), [5, 5, 4]);
  const running = await walk(d, '?state=running&label=team=b&limit=100');
  t.same(running.map((p) => p.length), [26]);
  t.same(await walk(d, '?state=stopped'), [[]], 'no match: one empty page, next null');
});

t.test('bad paging input is a 400 naming the field', async (t) => {
  const d = await fakeDaemon(t);
  await createMany(d, 3);
  const cursorOf = (s: string) => Buffer.from(s).toString('base64url');
  const cases: [string, string][] = [
    ['?limit=0', 'query.limit'],
    ['?limit=1001', 'query.limit'],
    ['?limit=-1', 'query.limit'],
    ['?limit=ten', 'query.limit'],
    ['?after=', 'query.after'],
    ['?after=not-a-cursor', 'query.after'],
    ['?after=abc%2Bdef', 'query.after'],
    [`?after=${cursorOf('yesterday p3k9x2m7q4w8z1c5a')}`, 'query.after'],
    [`?after=${cursorOf('2025-01-15T10:00:00.000Z P3K9')}`, 'query.after'],
    [`?after=${'A'.repeat(201)}`, 'query.after'],
  ];
  for (const [q, field] of cases) {
    const r = await d.app.inject({ url: `/v1/pods${q}`, headers: auth });
    t.equal(r.statusCode, 400, q);
    t.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
    t.equal(r.json().code, 'PINACLED_ERR_VALIDATION', q);
    t.ok(
      r.json().errors.some((f: { field: string }) => f.field === field),
      `${q} names ${field}`,
    );
  }
  // A well-formed cursor for a pod that never existed is a position like any other.
  const far = await page(d, `?after=${cursorOf('2999-01-01T00:00:00.000Z pzzzzzzzzzzzzzzzz')}`);
  t.same(far, { items: [], next: null });
  const early = await page(d, `?after=${cursorOf('2000-01-01T00:00:00.000Z p0000000000000000')}`);
  t.equal(early.items.length, 3);
});

t.test('reads show every write at once (the in-memory pods are written through)', async (t) => {
  const d = await fakeDaemon(t);
  await createMany(d, 2);
  const [a] = (await page(d, '')).items;
  const stop = await d.app.inject({ method: 'POST', url: `/v1/pods/${a!.id}/stop?timeout=0`, headers: auth });
  t.equal(stop.json().state, 'stopped');
  t.equal((await d.app.inject({ url: `/v1/pods/${a!.id}`, headers: auth })).json().state, 'stopped', 'GET sees the stop');
  t.same((await page(d, '?state=stopped')).items.map((i) => i.id), [a!.id], 'the list sees it');
  t.equal((await d.app.inject({ method: 'DELETE', url: `/v1/pods/${a!.id}`, headers: auth })).statusCode, 204);
  t.equal((await d.app.inject({ url: `/v1/pods/${a!.id}`, headers: auth })).statusCode, 404, 'GET sees the delete');
  t.same((await page(d, '')).items.map((i) => i.name), ['p001']);
});
