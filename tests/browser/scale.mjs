#!/usr/bin/env node
// Scale probe: opens N dashboards on the Fleet view of a running server for a
// while and prints JSON with what each received (bytes of its event stream)
// and how long each update took on the page's main thread (the
// `heteroaccel-update` measures: applying the events + the render after).
//
//   node tests/browser/scale.mjs --url http://127.0.0.1:8000 [--clients 10]
//        [--seconds 60] [--token VIEWER_TOKEN] [--warmup 5]
//
// Each client gets its own browser context (own connections: Chromium allows
// six per host and profile, and every dashboard holds one stream open).
// Bytes are counted twice: on the wire through the DevTools protocol
// (Network.dataReceived of the /v1/stream request) and in the page (the
// characters of the events' data, as the dashboard counts them).
import { parseArgs } from 'node:util';
import { launchBrowser, missingPrerequisite } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    clients: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    token: { type: 'string', default: '' },
  },
});
if (!opt.url) {
  console.error('usage: scale.mjs --url URL [--clients 10] [--seconds 60] [--warmup 5] [--token T]');
  process.exit(2);
}
const prerequisite = missingPrerequisite();
if (/chromium|node_modules/.test(prerequisite)) {
  console.error(prerequisite);
  process.exit(2);
}
const url = opt.url.replace(/\/$/, '');
const clients = Number(opt.clients);
const seconds = Number(opt.seconds);

function distribution(values) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q) => (v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : null);
  const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { count: v.length, median: round(at(0.5)), p95: round(at(0.95)), max: round(v.length ? v[v.length - 1] : null) };
}

const browser = await launchBrowser();
const pages = [];
try {
  for (let i = 0; i < clients; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    if (opt.token) {
      await context.addInitScript((token) => {
        localStorage.setItem('heteroaccel.settings', JSON.stringify({ token, user: '' }));
      }, opt.token);
    }
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const probe = { page, streams: new Set(), wireBytes: 0, dataBytes: 0, counting: false, errors: [] };
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.url.includes('/v1/stream')) probe.streams.add(e.requestId);
    });
    cdp.on('Network.dataReceived', (e) => {
      if (probe.counting && probe.streams.has(e.requestId)) {
        probe.wireBytes += e.encodedDataLength;
        probe.dataBytes += e.dataLength;
      }
    });
    await cdp.send('Network.enable');
    page.on('pageerror', (e) => probe.errors.push(e.message));
    await page.goto(`${url}/#/fleet`);
    pages.push(probe);
  }
  await Promise.all(pages.map((p) => p.page.waitForSelector('.node-card', { timeout: 60000 })));
  await new Promise((r) => setTimeout(r, Number(opt.warmup) * 1000));

  // The measured window.
  const starts = await Promise.all(
    pages.map((p) => {
      p.counting = true;
      return p.page.evaluate(() => ({ t: performance.now(), chars: window.__heteroaccel.sseChars, updates: window.__heteroaccel.updates }));
    }),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const ends = await Promise.all(
    pages.map((p, i) =>
      p.page.evaluate((t0) => {
        const h = window.__heteroaccel;
        const measures = performance.getEntriesByName('heteroaccel-update').filter((m) => m.startTime >= t0);
        const nodes = Object.values(h.state?.nodes || {});
        return {
          chars: h.sseChars,
          updates: h.updates,
          durations: measures.map((m) => m.duration),
          render: measures.map((m) => m.detail?.render_ms ?? null).filter((x) => x !== null),
          apply: measures.map((m) => m.detail?.apply_ms ?? null).filter((x) => x !== null),
          nodes: nodes.length,
          devices: nodes.reduce((s, n) => s + Object.keys(n.devices || {}).length, 0),
          cards: document.querySelectorAll('.device-card').length,
          status: h.status,
        };
      }, starts[i].t),
    ),
  );
  pages.forEach((p) => (p.counting = false));

  const all = ends.flatMap((e) => e.durations);
  const result = {
    url,
    clients,
    seconds,
    nodes: ends[0]?.nodes,
    devices: ends[0]?.devices,
    per_client: ends.map((e, i) => ({
      client: i,
      status: e.status,
      device_cards: e.cards,
      wire_bytes: pages[i].wireBytes,
      body_bytes: pages[i].dataBytes,
      event_data_chars: e.chars - starts[i].chars,
      bytes_per_s: Math.round(pages[i].wireBytes / seconds),
      events: e.updates - starts[i].updates,
      update_ms: distribution(e.durations),
      page_errors: pages[i].errors,
    })),
    update_ms: distribution(all),
    apply_ms: distribution(ends.flatMap((e) => e.apply)),
    render_ms: distribution(ends.flatMap((e) => e.render)),
    wire_bytes_per_client: distribution(pages.map((p) => p.wireBytes)),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
}
