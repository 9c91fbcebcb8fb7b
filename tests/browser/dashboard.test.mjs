// The dashboard in Debian's Chromium against a real heteroaccel server and two
// real agents (a real CPU plus emulated GPU, NPU and CPU), under load from
// `heteroaccel bench`. Run: node tests/browser/run.mjs tests/browser/dashboard.test.mjs
// (see CMakeLists.txt). HETEROACCEL_SCREENSHOTS=1 writes docs/screenshots/*.png
// after a minute and a half of load; otherwise they go to the test's temporary
// folder, removed at the end unless HETEROACCEL_KEEP_TMP is set.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  getJson,
  image,
  infer,
  launchBrowser,
  missingPrerequisite,
  sourceDir,
  startAgent,
  startBench,
  startServer,
  tempDir,
  waitFor,
  webDir,
} from './lib.mjs';

const kAdmin = 'admin-secret';
const kCluster = 'cluster-secret';
const missing = missingPrerequisite();

// node-a: the machine's CPU (not emulated) and an emulated GPU.
const nodeA = `
node: node-a
opencl: false
cpu: {slots: 1}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 2, latency_ms: {face: 5, object: 12}}
`;
// node-b: an emulated CPU and an emulated NPU.
const nodeB = `
node: node-b
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 20, object: 40}}
devices:
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 10, object: 25}}
`;

describe('dashboard', { skip: missing || false, timeout: 900000 }, () => {
  const dir = tempDir();
  let server;
  let agentA;
  let agentB;
  let bench;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    server = await startServer({ adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state') });
    [agentA, agentB] = await Promise.all([
      startAgent({ name: 'node-a', server: server.url, clusterToken: kCluster, config: nodeA, dir }),
      startAgent({ name: 'node-b', server: server.url, clusterToken: kCluster, config: nodeB, dir }),
    ]);
    await waitFor(async () => {
      const c = await getJson(server.url, '/v1/cluster');
      return c.nodes.filter((n) => n.up && n.devices.some((d) => Object.keys(d.variants || {}).length)).length === 2;
    }, 30000, 'both nodes up and serving');
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/#/fleet`);
    await page.waitForFunction(() => window.__heteroaccel?.status === 'live', null, { timeout: 15000 });
  });

  after(async () => {
    await browser?.close();
    for (const p of [bench, agentA, agentB, server]) await p?.kill('SIGKILL');
    if (process.env.HETEROACCEL_KEEP_TMP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const diagnostics = () => [server, agentA, agentB, bench].filter(Boolean).map((p) => p.output(30)).join('\n');

  test('the server serves the dashboard built in web/dist', async () => {
    const served = await (await fetch(`${server.url}/`)).text();
    assert.match(served, /<div id="app">/, 'the server serves the dashboard at /');
    const built = join(webDir, 'dist/index.html');
    if (existsSync(built)) {
      assert.equal(served, readFileSync(built, 'utf8'),
        'the server embeds another build of web/dist than the one on disk: rebuild the heteroaccel target');
    }
  });

  test('the fleet shows every device of both agents, emulated ones badged, and its counters move under load', async () => {
    const cluster = await getJson(server.url, '/v1/cluster');
    const expected = cluster.nodes.flatMap((n) => n.devices.map((d) => ({ path: `${n.node}/${d.id}`, emulated: !!d.emulated })));
    assert.ok(expected.length >= 4, `the cluster has ${expected.length} devices`);
    await waitFor(async () => (await page.locator('.device-card').count()) === expected.length, 10000,
      `${expected.length} device cards`);
    for (const d of expected) {
      const card = page.locator(`.device-card[data-device="${d.path}"]`);
      assert.equal(await card.count(), 1, `a card for ${d.path}`);
      const badge = card.locator('.badge-emulated');
      assert.equal(await badge.count(), d.emulated ? 1 : 0, `${d.path}: emulated badge ${d.emulated ? 'shown' : 'absent'}`);
      if (d.emulated) assert.ok(await badge.isVisible(), `${d.path}: the emulated badge is visible`);
    }
    assert.ok(expected.some((d) => !d.emulated) && expected.some((d) => d.emulated), 'both real and emulated devices');
    for (const node of ['node-a', 'node-b']) {
      assert.equal(await page.locator(`.node-card[data-node="${node}"]:not(.node-down)`).count(), 1, `${node} is up`);
    }

    // Under load the figures move: some device shows a busy ratio above 0 and
    // the services page a request rate above 0 for both types.
    bench = startBench({ target: server.url, duration: '600s' });
    const busy = await waitFor(async () => {
      const texts = await page.locator('.device-card .bar-text').allTextContents();
      return texts.some((t) => parseFloat(t) > 0) && texts;
    }, 20000, 'a busy ratio above 0%').catch((e) => assert.fail(`${e.message}\n${diagnostics()}`));
    assert.ok(busy.length === expected.length);
    const updates = await page.evaluate(() => window.__heteroaccel.updates);
    await page.click('nav a[href="#/services"]');
    for (const type of ['face', 'object']) {
      await waitFor(async () => {
        const rate = await page.locator(`.service-card[data-type="${type}"] .fig`).first().textContent();
        return parseFloat(rate.replace(/^rate/, '')) > 0;
      }, 20000, `a ${type} rate above 0`);
      assert.ok(await page.locator(`.split-bar[data-type="${type}"] .split-seg`).count() >= 1, `${type}: a routing split`);
    }
    await waitFor(async () => (await page.evaluate(() => window.__heteroaccel.updates)) > updates + 2, 5000, 'more updates');
    const measures = await page.evaluate(() => performance.getEntriesByName('heteroaccel-update').length);
    assert.ok(measures > 0, 'heteroaccel-update measures are recorded');
  });

  test('groups assigned on the server show on the cards, sum up per group and filter the fleet', async () => {
    const put = (node, body) => fetch(`${server.url}/v1/nodes/${node}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${kAdmin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const anonymous = await fetch(`${server.url}/v1/nodes/node-b`, { method: 'PUT', body: '{"groups":["x"]}' });
    assert.equal(anonymous.status, 401, 'a change needs the admin token');
    assert.equal((await put('node-b', { groups: ['bad group'] })).status, 400);
    await page.click('nav a[href="#/fleet"]');
    const changed = await put('node-b', { groups: ['line-2', 'dock'], labels: { site: 'north' } });
    assert.equal(changed.status, 200, await changed.text());
    assert.equal((await put('node-a', { groups: ['line-2'] })).status, 200);
    const summary = page.locator('.group-summary[data-group="line-2"]');
    await waitFor(async () => (await summary.count()) === 1, 10000, 'a summary for group line-2');
    await waitFor(async () => (await summary.locator('.group-up').textContent()) === '2/2 up', 10000,
      'line-2: 2/2 nodes up');
    assert.equal(await page.locator('.group-summary[data-group="dock"] .group-up').textContent(), '1/1 up');
    assert.equal(await page.locator('.node-card[data-node="node-b"] .group[data-group="dock"]').count(), 1);
    assert.match(await page.locator('.node-card[data-node="node-b"] .labels').textContent(), /site=north/);
    // The group picker shows only that group's nodes; a click on a summary does the same.
    await page.selectOption('#fleet-group', 'dock');
    await waitFor(async () => (await page.locator('.node-card').count()) === 1, 5000, 'one node in dock');
    assert.equal(await page.locator('.node-card[data-node="node-b"]').count(), 1);
    await summary.click();
    await waitFor(async () => (await page.locator('.node-card').count()) === 2, 5000, 'two nodes in line-2');
    await page.selectOption('#fleet-group', '');
    // The text filter matches labels too.
    await page.fill('#fleet-filter', 'site=north');
    await waitFor(async () => (await page.locator('.node-card').count()) === 1, 5000, 'the labelled node');
    await page.fill('#fleet-filter', '');
    for (const node of ['node-a', 'node-b']) {
      const cleared = await fetch(`${server.url}/v1/nodes/${node}`, {
        method: 'DELETE', headers: { Authorization: `Bearer ${kAdmin}` } });
      assert.equal(cleared.status, 200);
    }
    await waitFor(async () => (await page.locator('.group-summary').count()) === 0, 10000, 'no group left');
  });

  test("the page's state, patched event by event, equals the server's", async () => {
    // Under load the state changes every interval: compare when the page holds
    // exactly the seq the server answered with.
    const result = await page.evaluate(async () => {
      const canonical = (v) =>
        Array.isArray(v) ? `[${v.map(canonical).join(',')}]`
          : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
          : JSON.stringify(v);
      for (let i = 0; i < 200; i++) {
        const r = await (await fetch('v1/state', { cache: 'no-store' })).json();
        const h = window.__heteroaccel;
        if (r.seq === h.seq) {
          const a = canonical(r.state);
          const b = canonical(h.state);
          return { seq: r.seq, equal: a === b, server: a.slice(0, 3000), page: b.slice(0, 3000) };
        }
        await new Promise((done) => setTimeout(done, 20 + Math.random() * 80));
      }
      return null;
    });
    assert.ok(result, 'the page and the server met at the same seq');
    assert.ok(result.seq > 5, `patches were applied (seq ${result.seq})`);
    assert.ok(result.equal, `at seq ${result.seq}:\nserver ${result.server}\npage   ${result.page}`);
  });

  test('an execution-interface change is refused without the token; with it, face runs on the NPU until reverted', async () => {
    const face = image('astronaut.png');
    await page.goto(`${server.url}/#/placement`);
    await page.waitForSelector('select.pin[data-type="face"]');
    const before = await getJson(server.url, '/v1/placement');
    assert.equal(before.types.face.pin ?? null, null);
    assert.ok(before.types.face.kinds.npu, 'an NPU serves face');

    // Staged: the what-if panel answers with both figures.
    await page.selectOption('select.pin[data-type="face"]', 'npu');
    await page.waitForSelector('.whatif:not(.stale) .whatif-proposed', { timeout: 10000 });
    assert.match(await page.locator('.whatif .whatif-current').textContent(), /req\/s/);
    assert.match(await page.locator('.whatif .unserved').textContent(), /every type stays served/);
    assert.match(await page.locator('.staged-list').textContent(), /face pin: none → npu/);

    // No token: refused, the server's message shown, nothing changed.
    await page.click('#apply');
    const error = page.locator('.staged-list .error');
    await error.waitFor({ timeout: 10000 });
    assert.match(await error.textContent(), /401/);
    assert.equal((await getJson(server.url, '/v1/placement')).types.face.pin ?? null, null, 'placement unchanged');

    // With the admin token (and a name for the audit log).
    await page.click('#settings-toggle');
    await page.fill('#token', kAdmin);
    await page.fill('#user', 'alice');
    await page.click('#settings-save');
    // A change the server refuses (400): face left with no kind to run on.
    // The what-if says so first: `served: false` (docs/dashboard-api.md) or,
    // as the server answers now, the same 400.
    await page.click('#discard');
    for (const kind of Object.keys(before.types.face.kinds)) {
      await page.uncheck(`input.enabled[data-cell="face/${kind}"]`);
    }
    const verdict = page.locator('.whatif:not(.stale) .unserved.bad, .whatif .error');
    await verdict.first().waitFor({ timeout: 10000 });
    assert.match(await verdict.first().textContent(), /left unserved: face|400: .*face/);
    await page.click('#apply');
    await error.waitFor({ timeout: 10000 });
    assert.match(await error.textContent(), /400/);
    assert.deepEqual((await getJson(server.url, '/v1/placement')).types.face, before.types.face, 'placement unchanged');
    await page.click('#discard');
    assert.equal(await page.locator('.staged-list .error').count(), 0, 'discarding clears the error');

    await page.selectOption('select.pin[data-type="face"]', 'npu');
    await page.fill('#comment', 'face on the NPU');
    await page.click('#apply');
    await waitFor(async () => (await getJson(server.url, '/v1/placement')).types.face.pin === 'npu', 10000, 'face pinned to npu');
    assert.equal(await page.locator('.staged-list .error').count(), 0, 'no error after applying');

    const kinds = [];
    for (let i = 0; i < 10; i++) kinds.push((await infer(server.url, 'face', face)).served_by.device_kind);
    assert.deepEqual([...new Set(kinds)], ['npu'], `served by ${kinds}`);

    // The audit log shows the entry; Revert restores the placement.
    const row = page.locator('.audit-row', { hasText: 'face pin: none → npu' });
    await row.waitFor({ timeout: 10000 });
    assert.match(await row.textContent(), /alice/);
    assert.match(await row.textContent(), /face on the NPU/);
    await row.locator('button.revert').click();
    await waitFor(async () => ((await getJson(server.url, '/v1/placement')).types.face.pin ?? null) === null, 10000, 'pin lifted');
    await page.locator('.audit-row', { hasText: 'face pin: npu → none' }).waitFor({ timeout: 10000 });

    // Back to spreading: concurrent requests land on more than the NPU.
    const spread = new Set();
    for (let round = 0; round < 5 && spread.size < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 12 }, () => infer(server.url, 'face', face)));
      for (const a of answers) spread.add(a.served_by.device_kind);
    }
    assert.ok(spread.size >= 2 && [...spread].some((k) => k !== 'npu'), `served by ${[...spread]}`);
  });

  test('a type\'s degradation is staged, checked, applied, audited and lifted from the execution interface', async () => {
    // The page holds the admin token since the previous test.
    await page.goto(`${server.url}/#/placement`);
    const edit = 'button.degrade-edit[data-type="face"]';
    await page.waitForSelector(edit);
    const before = await getJson(server.url, '/v1/placement');
    assert.equal(before.types.face.degrade ?? null, null);
    assert.match(await page.locator('td.degrade[data-type="face"] .degrade-now').textContent(), /^off$/);
    const variants = [...new Set(Object.values(before.types.face.kinds).flatMap((c) => c.variants))].sort();
    assert.ok(variants.length >= 1, 'face has variants');

    // Checked in the page before anything is staged.
    await page.click(edit);
    await page.fill('input.degrade-floor', '1.5');
    await page.click('button.degrade-stage');
    assert.match(await page.locator('.degrade-editor .error').textContent(), /floor is an accuracy in \[0, 1\]/);
    await page.fill('input.degrade-floor', '0.7');
    await page.click('button.degrade-stage');
    assert.match(await page.locator('.degrade-editor .error').textContent(), /at least one variant/);
    const accuracy = Object.fromEntries(variants.map((v, i) => [v, Number((0.9 - 0.05 * i).toFixed(2))]));
    for (const [v, a] of Object.entries(accuracy)) {
      await page.fill(`input.degrade-acc[data-variant="${v}"]`, String(a));
    }
    await page.click('button.degrade-stage');
    const text = `floor 0.7: ${Object.entries(accuracy).map(([v, a]) => `${v} ${a}`).join(', ')}`;
    assert.match(await page.locator('.staged-list').textContent(), new RegExp(`face degrade: off → ${text}`));
    assert.equal(await page.locator('td.degrade[data-type="face"].staged').count(), 1, 'the cell shows it staged');

    await page.fill('#comment', 'face may degrade');
    await page.click('#apply');
    await waitFor(async () => (await getJson(server.url, '/v1/placement')).types.face.degrade?.floor === 0.7,
      10000, 'degradation applied');
    assert.deepEqual((await getJson(server.url, '/v1/placement')).types.face.degrade.variants, accuracy);
    await page.locator('.audit-row', { hasText: `face degrade: off → ${text}` }).waitFor({ timeout: 10000 });
    assert.match(await page.locator('td.degrade[data-type="face"] .degrade-now').textContent(), new RegExp(text));

    // Lifted the same way.
    await page.click(edit);
    await page.click('button.degrade-off');
    assert.match(await page.locator('.staged-list').textContent(), /face degrade: floor 0\.7: .* → off/);
    await page.click('#apply');
    await waitFor(async () => ((await getJson(server.url, '/v1/placement')).types.face.degrade ?? null) === null,
      10000, 'degradation lifted');
  });

  test('fleet actions run from the fleet page, each node\'s result streaming into a table', async () => {
    // The page holds the admin token since the execution-interface test.
    await page.click('nav a[href="#/fleet"]');
    await page.click('.fleet-actions summary');
    await page.selectOption('#fleet-action', 'connectivity');
    await page.selectOption('#fleet-target', 'all');
    await page.click('#fleet-run');
    const done = page.locator('.fleet-results .fleet-done');
    await waitFor(async () => /2 ok, 0 not ok/.test(await done.textContent()), 20000, 'connectivity: 2 ok');
    for (const node of ['node-a', 'node-b']) {
      const row = page.locator(`.fleet-results tr[data-node="${node}"]`);
      assert.equal(await row.getAttribute('class'), 'status-ok');
      assert.match(await row.textContent(), /control [0-9.]+ ms, data [0-9.]+ ms/);
    }
    assert.match(await done.textContent(), /audit entry \d+/, 'the run is audited');
    // One node's clock.
    await page.selectOption('#fleet-action', 'time');
    await page.selectOption('#fleet-target', 'node/node-a');
    await page.check('#fleet-sync-now');
    await page.click('#fleet-run');
    await waitFor(async () => /time on node\/node-a: 1 ok/.test(await done.textContent()), 20000, 'time: 1 ok');
    const timeRow = await page.locator('.fleet-results tr[data-node="node-a"]').textContent();
    assert.match(timeRow, /offset -?[0-9.]+ ms ±/);
    assert.match(timeRow, /not synced: .*--allow-time-sync/, 'the agent does not allow a sync and says how');
    // Packages are refused by agents started without --allow-package-actions, and say so.
    await page.selectOption('#fleet-action', 'packages');
    await page.selectOption('#fleet-target', 'all');
    await page.click('#fleet-run');
    await waitFor(async () => /0 ok, 2 not ok/.test(await done.textContent()), 20000, 'packages: 2 not ok');
    assert.match(await page.locator('.fleet-results tr[data-node="node-b"]').textContent(), /allow-package-actions/);
  });

  test('the capacity panel answers from the planner for the current mix scaled; bad questions get 400 with a message', async () => {
    const post = async (body, raw) => {
      const r = await fetch(`${server.url}/v1/plan`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: raw ?? JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    };
    await waitFor(() => page.evaluate(() => window.__heteroaccel.state?.services?.face?.rate > 0), 20000, 'traffic');
    // Hostile bodies: each a 400 naming what is wrong, the server unharmed.
    for (const [raw, message] of [
      ['{', /not valid JSON/],
      ['[]', /must be a JSON object/],
      ['{"growth": "2"}', /growth: must be a number/],
      ['{"growth": 1e300}', /growth: must be in/],
      ['{"growht": 2}', /growht: unknown key/],
      ['{"rates": {"face": -5}}', /rates\.face/],
      ['{"catalog": {"profiles": [{"name": "x", "kind": "gpu", "latency_ms": {"face": -3, "object": 5}}]}}', /catalog\.profiles\[0\]/],
      [JSON.stringify({ rates: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, 1])) }), /rates: must map/],
    ]) {
      const r = await post(null, raw);
      assert.equal(r.status, 400, `${raw.slice(0, 60)} -> ${r.status} ${JSON.stringify(r.body)}`);
      assert.match(r.body?.error ?? '', message, raw.slice(0, 60));
    }

    // The panel: growth 2 on today's mix, 500 ms deadline.
    await page.goto(`${server.url}/#/placement`);
    await page.waitForSelector('#capacity-run');
    await page.fill('#capacity-growth', '2');
    await page.fill('#capacity-deadline', '500');
    await page.fill('#capacity-target', '0.99');
    await page.click('#capacity-run');
    const shown = page.locator('.capacity-answer, .capacity .error');
    await shown.first().waitFor({ timeout: 30000 });
    assert.equal(await page.locator('.capacity .error').count(), 0,
      `the panel shows an error: ${await page.locator('.capacity .error').allTextContents()}\n${diagnostics()}`);
    assert.match(await page.locator('.capacity-slo').textContent(), /SLO met: attainment .*% ≥ 99\.00% within 500 ms/);
    assert.match(await page.locator('.capacity-margin').textContent(), /margin now\s*[0-9.]+×/);
    assert.match(await page.locator('.capacity-add').textContent(), /^add: /);
    assert.match(await page.locator('.capacity-plan').textContent(), /plan: .*\d+ × \w+.*device\(s\)/);

    // The same question through the API: the planned set meets the SLO at twice
    // today's rates, the fleet's profiles are its device kinds, and what to add is
    // the plan minus the devices up now.
    const r = await post({ growth: 2, deadline_ms: 500, attainment: 0.99 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const a = r.body;
    assert.ok(a.plan.at_slo.meets_slo, JSON.stringify(a.plan.at_slo));
    assert.ok(a.plan.at_slo.attainment >= 0.99);
    assert.ok(Math.abs(a.demand_rps - 2 * Object.values(a.rates).reduce((x, y) => x + y, 0)) < 1e-6 * a.demand_rps + 1e-9);
    const kinds = new Set((await getJson(server.url, '/v1/cluster')).nodes.flatMap((n) => n.devices.map((d) => d.kind)));
    for (const p of a.catalog.profiles) assert.ok(kinds.has(p.kind), `profile ${p.name} is a device kind of the cluster`);
    const now = a.current.counts;
    for (const [p, n] of Object.entries(a.add)) assert.equal((now[p] ?? 0) + n, a.plan.counts[p] ?? 0, `add ${p}`);
    assert.ok(a.margin_now > 0 && a.plan.margin.headroom >= 1, `margins ${a.margin_now} ${a.plan.margin.headroom}`);
    console.log(`capacity at 2x of ${JSON.stringify(a.rates)}: plan ${JSON.stringify(a.plan.counts)}, add ${JSON.stringify(a.add)}, ` +
      `margin now ${a.margin_now.toFixed(3)}, planned attainment ${a.plan.at_slo.attainment.toFixed(4)}, ${a.plan.simulations} simulations in ${a.wall_seconds} s`);
  });

  test('screenshots of every page', async () => {
    const forReadme = process.env.HETEROACCEL_SCREENSHOTS === '1';
    const out = forReadme ? join(sourceDir, 'docs/screenshots') : join(dir, 'screenshots');
    mkdirSync(out, { recursive: true });
    // Traffic to show, and (for the README) a few minutes of live history:
    // pages are switched by their hash, so the page keeps what it gathered.
    await waitFor(() => page.evaluate(() => window.__heteroaccel.state?.services?.face?.rate > 0), 20000, 'traffic');
    if (forReadme) await page.waitForTimeout(90000);
    for (const [name, ready] of [
      ['fleet', '.node-card'],
      ['services', '.service-card'],
      ['placement', '.matrix'],
      ['decisions', '.decisions-table tbody tr'],
      ['history', '.chart'],
    ]) {
      await page.evaluate((hash) => (location.hash = hash), `#/${name}`);
      await page.waitForSelector(ready, { timeout: 10000 });
      await page.waitForTimeout(name === 'history' || name === 'services' ? 4000 : 1500);
      const path = join(out, `${name}.png`);
      await page.screenshot({ path });
      assert.ok(statSync(path).size > 10000, `${path} holds a picture`);
    }
  });

  test('history over a time range says why when the server has no Prometheus', async () => {
    await page.evaluate(() => (location.hash = '#/history'));
    await page.click('button[data-range="15m"]');
    const error = page.locator('.history .error');
    await error.waitFor({ timeout: 10000 });
    assert.match(await error.textContent(), /503/);
    await page.click('button[data-range="live"]');
    await page.waitForSelector('.history .chart');
    assert.equal(await page.locator('.history .error').count(), 0);
  });

  test("killing an agent turns its node's card red within 2 s", async () => {
    await page.goto(`${server.url}/#/fleet`);
    const card = page.locator('.node-card[data-node="node-b"]');
    await card.waitFor();
    assert.equal(await page.locator('.node-card.node-down').count(), 0);
    const killed = Date.now();
    await agentB.kill('SIGKILL');
    await page.waitForSelector('.node-card.node-down[data-node="node-b"]', { timeout: 2000 });
    const elapsed = Date.now() - killed;
    assert.ok(elapsed <= 2000, `red after ${elapsed} ms`);
    assert.equal(await page.locator('.node-card.node-down').count(), 1, 'only node-b is down');
    assert.deepEqual(pageErrors, [], 'no error in the page');
  });
});

describe('dashboard with a viewer token', { skip: missing || false, timeout: 120000 }, () => {
  let server;
  let browser;
  before(async () => {
    const dir = tempDir();
    server = await startServer({
      adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state'), args: ['--viewer-token', 'viewer-secret'],
    });
    rmSync(dir, { recursive: true, force: true });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.kill('SIGKILL');
  });

  test('the page asks for the token, then streams with it', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/fleet`);
    const prompt = page.locator('#token-prompt');
    await prompt.waitFor({ timeout: 10000 });
    assert.match(await prompt.locator('.error').textContent(), /401/);
    await prompt.locator('input').fill('wrong');
    await prompt.locator('button').click();
    await page.waitForFunction(() => window.__heteroaccel.status === 'token', null, { timeout: 10000 });
    await page.locator('#token-prompt input').fill('viewer-secret');
    await page.locator('#token-prompt button').click();
    await page.waitForFunction(() => window.__heteroaccel.status === 'live', null, { timeout: 10000 });
    assert.ok(await page.evaluate(() => window.__heteroaccel.state.server.version));
    await page.close();
  });
});

describe('dashboard across a server restart', { skip: missing || false, timeout: 120000 }, () => {
  test('the page reconnects by itself and shows the new server', async () => {
    const port = await freePort();
    const dir = tempDir();
    let server = await startServer({ adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state'), listen: `127.0.0.1:${port}` });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/#/fleet`);
      await page.waitForFunction(() => window.__heteroaccel.state?.server, null, { timeout: 10000 });
      const started = await page.evaluate(() => window.__heteroaccel.state.server.started_ms);
      await server.kill('SIGKILL');
      await page.waitForSelector('#conn.conn-reconnecting', { timeout: 5000 });
      await new Promise((done) => setTimeout(done, 1100)); // a later started_ms
      server = await startServer({ adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state'), listen: `127.0.0.1:${port}` });
      await page.waitForFunction(
        (old) => window.__heteroaccel.status === 'live' && window.__heteroaccel.state?.server?.started_ms > old,
        started, { timeout: 15000 });
      await page.waitForSelector('#conn.conn-live');
    } finally {
      await browser.close();
      await server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
