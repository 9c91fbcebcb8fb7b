// The dashboard's history from a real Prometheus: a server started with
// --prometheus, two agents and a camera replay; Prometheus discovers them
// through the server (GET /v1/sd/targets) and scrapes every second. The
// History page's time ranges read it through GET /v1/history/query_range, and
// still show the data after the server restarts.
// Run: node tests/browser/run.mjs --require prometheus tests/browser/history.test.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  getJson,
  launchBrowser,
  missingPrerequisite,
  startAgent,
  startBench,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const kAdmin = 'admin-secret';
const kCluster = 'cluster-secret';
const prometheusBin = process.env.HETEROACCEL_PROMETHEUS || 'prometheus';
const missing = missingPrerequisite();

const agentConfig = (node, device, group) => `
node: ${node}
group: ${group}
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 20, object: 40}}
devices:
  - {id: ${device}, kind: ${device.replace(/\d+$/, '')}, name: Test ${device}, slots: 1, latency_ms: {face: 8, object: 20}}
`;

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

// The series names in a chart's legend (uPlot's), the time label left out.
async function legend(page, index) {
  const labels = await page.locator('.history .chart').nth(index).locator('.u-legend .u-series .u-label').allTextContents();
  return labels.slice(1);
}

describe('history from Prometheus', { skip: missing || false, timeout: 600000 }, () => {
  const dir = tempDir();
  let serverPort;
  let promPort;
  let server;
  let prometheus;
  const agents = [];
  let bench;
  let browser;
  let page;

  const serverArgs = () => ({
    adminToken: kAdmin, clusterToken: kCluster, stateDir: join(dir, 'state'),
    listen: `127.0.0.1:${serverPort}`, args: ['--prometheus', `http://127.0.0.1:${promPort}`],
  });

  before(async () => {
    [serverPort, promPort] = [await freePort(), await freePort()];
    server = await startServer(serverArgs());
    writeFileSync(join(dir, 'prometheus.yml'), `
global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
scrape_configs:
  - job_name: heteroaccel
    http_sd_configs: [{url: '${server.url}/v1/sd/targets', refresh_interval: 1s}]
`);
    prometheus = spawn(prometheusBin, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: 'ignore' });
    agents.push(...await Promise.all([
      startAgent({ name: 'node-a', server: server.url, clusterToken: kCluster, config: agentConfig('node-a', 'gpu0', 'line-1'), dir }),
      startAgent({ name: 'node-b', server: server.url, clusterToken: kCluster, config: agentConfig('node-b', 'npu0', 'line-2'), dir }),
    ]));
    bench = startBench({ target: server.url, duration: '600s' });
    // Prometheus has rates of both types and the devices' busy time.
    const query = (q) => getJson(server.url, `/v1/history/query?query=${encodeURIComponent(q)}`);
    await waitFor(async () => {
      const rate = await query('sum by (model) (rate(heteroaccel_server_requests_total[1m]))');
      const busy = await query('rate(heteroaccel_device_busy_seconds_total[1m])');
      return rate.data.result.length >= 2 && busy.data.result.length >= 4;
    }, 90000, 'Prometheus to hold the rates and busy times');
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  });

  after(async () => {
    await browser?.close();
    for (const p of [bench, ...agents, server]) await p?.kill('SIGKILL');
    prometheus?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the last 15 minutes come from Prometheus: rate and p95 per type, busy ratio per device and per group, CPU per group', async () => {
    await page.goto(`${server.url}/#/history`);
    await page.click('button[data-range="15m"]');
    await page.waitForSelector('.history .chart figcaption:text("Prometheus")', { timeout: 15000 });
    assert.equal(await page.locator('.history .error').count(), 0);
    assert.deepEqual(await legend(page, 0), ['face', 'object']);
    assert.deepEqual(await legend(page, 1), ['face', 'object']);
    assert.deepEqual(await legend(page, 2), ['node-a/cpu0', 'node-a/gpu0', 'node-b/cpu0', 'node-b/npu0']);
    assert.deepEqual(await legend(page, 3), ['line-1', 'line-2'], 'busy ratio per group');
    assert.deepEqual(await legend(page, 4), ['line-1', 'line-2'], 'CPU per group');
  });

  test('after the server restarts, the range still shows what Prometheus kept', async () => {
    await bench.kill('SIGKILL');
    await server.kill('SIGKILL');
    server = await startServer(serverArgs());
    await page.goto(`${server.url}/#/history`);
    await page.click('button[data-range="1h"]');
    await page.waitForSelector('.history .chart figcaption:text("Prometheus")', { timeout: 15000 });
    assert.equal(await page.locator('.history .error').count(), 0);
    assert.deepEqual(await legend(page, 0), ['face', 'object'], 'the rates from before the restart');
    assert.ok((await legend(page, 2)).includes('node-a/gpu0'), 'the busy ratios from before the restart');
  });
});
