// The dashboard's camera pages in Debian's Chromium against a real heteroaccel
// server started with --cameras (a camera replaying vtest.avi in real time,
// looping: detect object → filter person → track → zone intrusion + line
// crossing) and a real agent with an emulated GPU. Checks: the Cameras page
// lists the camera with its state and frames per second, and shows the
// server's 400 for a bad document; the Events page lists events and a live one
// arrives from the stream; the Pipeline page draws every block of the spec;
// dragging a zone vertex and saving changes what GET /v1/cameras/{id} answers;
// no page overflows at 800 px. Run: node tests/browser/run.mjs
// tests/browser/cameras.test.mjs. HETEROACCEL_SCREENSHOTS=1 writes
// docs/screenshots/{cameras,events,pipeline}.png; otherwise they go to the
// test's temporary folder, removed at the end unless HETEROACCEL_KEEP_TMP is set.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  getJson,
  launchBrowser,
  missingPrerequisite,
  modelsDir,
  sourceDir,
  startAgent,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const kAdmin = 'admin-secret';
const kCluster = 'cluster-secret';
const video = join(modelsDir, 'video/vtest.avi');
const missing = missingPrerequisite() || (existsSync(video) ? '' : `${video} is missing (make setup)`);
const kCamera = 'hall-1';

// vtest.avi: 768×576, people walking across a hall at 10 fps.
const camerasYaml = `
cameras:
  - id: ${kCamera}
    group: lobby
    source: {type: file, path: ${JSON.stringify(video)}, loop: true, realtime: true, fps: 4}
    zones:
      - {name: floor, polygon: [[0, 200], [768, 200], [768, 576], [0, 576]]}
    lines:
      - {name: middle, from: [0, 330], to: [768, 330]}
    pipeline:
      - {id: det, block: detect, input: source, type: object, deadline_ms: 3000}
      - {id: people, block: filter, input: det, classes: [person], min_score: 0.3}
      - {id: trk, block: track, input: people, min_hits: 2, max_lost: 8}
      - {id: on-floor, block: zone_intrusion, input: trk, zone: floor, classes: [person]}
      - {id: cross, block: line_crossing, input: trk, line: middle, classes: [person]}
`;

const agentConfig = `
node: node-a
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {object: 30}}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 2, latency_ms: {object: 15}}
`;

describe('camera pages', { skip: missing || false, timeout: 600000 }, () => {
  const dir = tempDir('heteroaccel-cameras-');
  let server;
  let agent;
  let browser;
  let page;
  const pageErrors = [];
  const diagnostics = () => [server, agent].filter(Boolean).map((p) => p.output(40)).join('\n');

  before(async () => {
    const camerasFile = join(dir, 'cameras.yaml');
    writeFileSync(camerasFile, camerasYaml);
    server = await startServer({
      adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state'), args: ['--cameras', camerasFile],
    });
    agent = await startAgent({ name: 'node-a', server: server.url, clusterToken: kCluster, config: agentConfig, dir, models: 'object' });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/#/cameras`);
    await page.waitForFunction(() => window.__heteroaccel?.status === 'live', null, { timeout: 15000 });
  });

  after(async () => {
    await browser?.close();
    for (const p of [agent, server]) await p?.kill('SIGKILL');
    if (process.env.HETEROACCEL_KEEP_TMP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  test('the Cameras page lists the camera, running, with its frames per second', async () => {
    const card = page.locator(`.camera-card[data-camera="${kCamera}"]`);
    await card.waitFor({ timeout: 15000 });
    assert.match(await page.locator(`.camera-group[data-group="lobby"]`).textContent(), /lobby/);
    assert.match(await card.locator('.source-type').textContent(), /file/);
    await waitFor(async () => (await card.locator('.camera-state').getAttribute('data-state')) === 'running', 30000,
      'the camera running').catch((e) => assert.fail(`${e.message}\n${diagnostics()}`));
    const fps = await waitFor(async () => {
      const captured = parseFloat((await card.locator('.fps-captured b').textContent()) || '');
      const processed = parseFloat((await card.locator('.fps-processed b').textContent()) || '');
      return captured > 0 && processed > 0 && { captured, processed };
    }, 60000, 'frames captured and processed per second above 0').catch((e) => assert.fail(`${e.message}\n${diagnostics()}`));
    assert.ok(fps.captured <= 12, `about 4 fps captured, shown ${fps.captured}`);
    // The latest frame is shown.
    await waitFor(async () => card.locator('.thumb img').evaluate((img) => img.complete && img.naturalWidth === 768), 15000,
      'the latest frame as a thumbnail');
    // Collapsing the group hides its cards.
    await page.click('.camera-group[data-group="lobby"] .group-toggle');
    assert.equal(await card.count(), 0, 'the collapsed group hides the camera');
    await page.click('.camera-group[data-group="lobby"] .group-toggle');
    await card.waitFor({ timeout: 5000 });
  });

  test("a bad camera document shows the server's 400 beside the field; a good one creates the camera", async () => {
    await page.click('#settings-toggle');
    await page.fill('#token', kAdmin);
    await page.fill('#user', 'alice');
    await page.click('#settings-save');
    await page.click('#new-camera-toggle');
    const bad = JSON.stringify({
      id: 'bad-1',
      source: { type: 'file', path: video },
      pipeline: [
        { id: 'det', block: 'detect', input: 'source', type: 'object' },
        { id: 'trk', block: 'track', input: 'det', min_hits: 0 },
      ],
    });
    await page.fill('#camera-doc', bad);
    await page.click('#camera-create');
    const message = page.locator('#camera-doc-error.error');
    await message.waitFor({ timeout: 10000 });
    const text = await message.textContent();
    assert.match(text, /^400: .*min_hits/, text);
    const r = await fetch(`${server.url}/v1/cameras/bad-1`);
    assert.equal(r.status, 404, 'the bad camera was not created');

    // A stopped camera (enabled: false) so that it costs no CPU.
    await page.fill('#camera-doc', `id: extra-1\ngroup: yard\nenabled: false\nsource: {type: file, path: ${JSON.stringify(video)}}\npipeline:\n  - {id: det, block: detect, input: source, type: object}\n`);
    await page.click('#camera-create');
    await page.locator(`.camera-card[data-camera="extra-1"]`).waitFor({ timeout: 10000 })
      .catch(async () => assert.fail(`no card for extra-1; the form says: ${await page.locator('#camera-doc-error').textContent()}`));
    assert.equal((await getJson(server.url, '/v1/cameras/extra-1')).id ?? 'extra-1', 'extra-1');
    await page.click('#new-camera-toggle');
  });

  test('the Events page lists events, and a live one arrives from the stream', async () => {
    await waitFor(async () => (await getJson(server.url, `/v1/events?camera=${kCamera}&limit=1`)).events.length > 0, 90000,
      'a first event').catch((e) => assert.fail(`${e.message}\n${diagnostics()}`));
    await page.evaluate(() => (location.hash = '#/events'));
    const rows = page.locator('.events-table tbody tr.event');
    await rows.first().waitFor({ timeout: 15000 });
    const first = rows.first();
    assert.equal(await first.getAttribute('data-camera'), kCamera);
    assert.match(await first.locator('.event-type').textContent(), /intrusion|line_crossing/);
    assert.match(await first.textContent(), /lobby/);
    assert.match(await first.locator('.provenance').textContent(), /node-a\//, 'provenance names the node');

    // Live: the stream brings new events (or changes of listed ones).
    const seen = await page.evaluate(() => window.__heteroaccel.cameraEvents);
    await waitFor(async () => (await page.evaluate(() => window.__heteroaccel.cameraEvents)) > seen, 60000,
      'a camera_event on the stream').catch((e) => assert.fail(`${e.message}\n${diagnostics()}`));
    await waitFor(async () => (await page.locator('.events-table tbody tr.fresh').count()) > 0
      || parseInt(await page.locator('.live-count b').textContent(), 10) > 0, 60000, 'a live row');

    // A filter goes to the query; rows of other types disappear.
    await page.selectOption('#ev-type', 'line_crossing');
    await waitFor(async () => {
      const types = await page.locator('.events-table tbody tr.event .event-type').allTextContents();
      return types.every((t) => t.startsWith('line_crossing'));
    }, 10000, 'only line crossings listed');
    assert.match(await page.evaluate(() => location.hash), /type=line_crossing/);
    await page.click('#ev-clear');
    await rows.first().waitFor({ timeout: 10000 });

    // The snapshot opens full size.
    const snap = page.locator('.events-table .snap-open').first();
    if (await snap.count()) {
      await snap.click();
      await page.waitForFunction(() => document.querySelector('.overlay img')?.naturalWidth > 0, null, { timeout: 10000 });
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('.overlay').count(), 0);
    }
  });

  test('the Pipeline page draws every block of the spec', async () => {
    const spec = await getJson(server.url, `/v1/cameras/${kCamera}`);
    const blocks = (spec.spec ?? spec).pipeline;
    assert.equal(blocks.length, 5);
    await page.evaluate((id) => (location.hash = `#/pipeline/${id}`), kCamera);
    await page.waitForSelector('.dag .dag-block');
    // The spec's blocks plus the source.
    assert.equal(await page.locator('.dag .dag-block').count(), blocks.length + 1);
    for (const b of blocks) assert.equal(await page.locator(`.dag-block[data-block="${b.id}"]`).count(), 1, `block ${b.id}`);
    assert.equal(await page.locator('.dag .dag-edge').count(), blocks.length, 'one edge per input');
    // The detector has worked: its block is ok and counts frames.
    await waitFor(async () => (await page.locator('.dag-block[data-block="det"]').getAttribute('data-state')) === 'ok', 15000, 'det ok');
    assert.ok(await page.locator('.zone[data-zone="floor"] polygon').count() === 1, 'the zone is drawn');
    assert.ok(await page.locator('.line[data-line="middle"] line').count() === 1, 'the line is drawn');
  });

  test('dragging a zone vertex and saving changes the camera', async () => {
    const before = await getJson(server.url, `/v1/cameras/${kCamera}`);
    const zoneBefore = (before.spec ?? before).zones.find((z) => z.name === 'floor');
    const vertex = page.locator('.zone[data-zone="floor"] circle.vertex.editable').first();
    await vertex.waitFor({ timeout: 10000 });
    // Wait for the frame so the overlay has the frame's size.
    await page.waitForFunction(() => document.querySelector('.frame img')?.naturalWidth > 0, null, { timeout: 15000 });
    const box = await vertex.boundingBox();
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let i = 1; i <= 5; i++) await page.mouse.move(x + 12 * i, y + 8 * i);
    await page.mouse.up();
    assert.equal(await page.locator('#geometry-save').isEnabled(), true, 'Save is enabled after a drag');
    await page.click('#geometry-save');
    const after = await waitFor(async () => {
      const c = await getJson(server.url, `/v1/cameras/${kCamera}`);
      const z = (c.spec ?? c).zones.find((q) => q.name === 'floor');
      return JSON.stringify(z.polygon) !== JSON.stringify(zoneBefore.polygon) && z;
    }, 10000, 'the zone changed on the server');
    const [x0, y0] = zoneBefore.polygon[0];
    const [x1, y1] = after.polygon[0];
    assert.ok(x1 > x0 + 20 && y1 > y0 + 20, `vertex 1 moved right and down: ${[x0, y0]} → ${[x1, y1]}`);
    assert.deepEqual(after.polygon.slice(1), zoneBefore.polygon.slice(1), 'the other vertices stayed');
    await page.locator('.geometry .notice').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.geometry .error').count(), 0);
    assert.equal(await page.locator('#geometry-save').isEnabled(), false, 'nothing left to save');

    // The keyboard moves a vertex too (shift: 10 px a press).
    const lineEnd = page.locator('.line[data-line="middle"] circle.vertex.editable').nth(1);
    await lineEnd.focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowUp');
    await page.click('#geometry-save');
    await waitFor(async () => {
      const c = await getJson(server.url, `/v1/cameras/${kCamera}`);
      const l = (c.spec ?? c).lines.find((q) => q.name === 'middle');
      return l.to[1] === 300 && l.to[0] === 768;
    }, 10000, 'the line end moved 30 px up');
  });

  test('screenshots of the camera pages; no page overflows at 800 px', async () => {
    const forReadme = process.env.HETEROACCEL_SCREENSHOTS === '1';
    const out = forReadme ? join(sourceDir, 'docs/screenshots') : join(dir, 'screenshots');
    mkdirSync(out, { recursive: true });
    for (const [name, hash, ready] of [
      ['cameras', '#/cameras', '.camera-card .thumb img'],
      ['events', '#/events', '.events-table tbody tr.event'],
      ['pipeline', `#/pipeline/${kCamera}`, '.dag .dag-block'],
    ]) {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.evaluate((h) => (location.hash = h), hash);
      await page.waitForSelector(ready, { timeout: 15000 });
      await page.waitForTimeout(2500);
      const path = join(out, `${name}.png`);
      await page.screenshot({ path });
      assert.ok(statSync(path).size > 10000, `${path} holds a picture`);
      await page.setViewportSize({ width: 800, height: 900 });
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} overflows an 800 px window by ${overflow} px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.deepEqual(pageErrors, [], 'no error in the page');
  });
});
