// A stand-in for `heteroaccel server`'s dashboard API (docs/dashboard-api.md)
// with a synthetic fleet, for working on the dashboard without a cluster:
//   node dev/mock-server.mjs [--port 8000] [--nodes 4] [--devices 3]
//        [--admin-token T] [--viewer-token V]
// It serves dist/ at / (run `npm run build` first) or use `npm run dev`
// against it. Not used by the browser tests, which run the real server.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '8000' },
    nodes: { type: 'string', default: '4' },
    devices: { type: 'string', default: '3' },
    'admin-token': { type: 'string', default: 'T' },
    'viewer-token': { type: 'string', default: '' },
    'interval-ms': { type: 'string', default: '500' },
  },
});
const dist = new URL('../dist/', import.meta.url).pathname;
const kinds = ['cpu', 'gpu', 'npu', 'fpga'];
const variants = { face: ['blazeface-front-128', 'blazeface-back-256'], object: ['ssd-mobilenetv2-oidv4'] };

function diff(a, b) {
  if (typeof a !== 'object' || typeof b !== 'object' || !a || !b || Array.isArray(a) || Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? undefined : b;
  }
  const out = {};
  for (const k of Object.keys(a)) if (!(k in b)) out[k] = null;
  for (const k of Object.keys(b)) {
    const d = k in a ? diff(a[k], b[k]) : b[k];
    if (d !== undefined) out[k] = d;
  }
  return Object.keys(out).length ? out : undefined;
}

const nodes = {};
for (let n = 0; n < Number(opt.nodes); n++) {
  const devices = {};
  for (let d = 0; d < Number(opt.devices); d++) {
    const kind = kinds[d % kinds.length];
    const id = `${kind}${Math.floor(d / kinds.length)}`;
    devices[id] = {
      kind, name: d === 0 ? 'Intel Xeon (4 cores)' : `Emulated ${kind.toUpperCase()} (emulated)`, emulated: d !== 0,
      up: true, slots: 2, busy: 0, queue: 0, in_flight: 0, busy_ratio: 0,
      variants: { face: variants.face[0], object: variants.object[0] },
    };
  }
  nodes[`edge-${n + 1}`] = {
    url: `http://10.0.0.${n + 7}:8001`, group: '', up: true, last_seen_ms: 100,
    ...(n % 3 === 2 ? {} : { cpu: 0.3, mem_total: 8e9, mem_available: 3e9, temp: 50 }),
    devices,
  };
}

let placement = { version: 1, policy: 'earliest-finish', policies: ['static', 'idle-first', 'earliest-finish'], kinds: [], types: {} };
function rebuildPlacement() {
  const present = new Set();
  for (const node of Object.values(nodes)) for (const d of Object.values(node.devices)) present.add(d.kind);
  placement.kinds = kinds.filter((k) => present.has(k));
  for (const t of Object.keys(variants)) {
    const ty = (placement.types[t] ??= { pin: null, kinds: {} });
    for (const k of placement.kinds) {
      const count = Object.values(nodes).flatMap((n) => Object.values(n.devices)).filter((d) => d.kind === k).length;
      ty.kinds[k] ??= { variant: variants[t][0], enabled: true, devices: 0, variants: variants[t] };
      ty.kinds[k].devices = count;
    }
  }
}
rebuildPlacement();

const audit = [];
const decisions = [];
let seq = 1;
let decisionId = 1;
const state = () => ({
  server: { version: '0.4.0-mock', started_ms: started, policy: placement.policy, prometheus: false, admin: true },
  nodes, services, placement, prediction, sse_clients: clients.size,
});
const started = Date.now();
const services = {};
const prediction = {};
const clients = new Set();
let last = JSON.parse(JSON.stringify(state()));
const backlog = [];

function send(event, payload, withId = true) {
  if (withId) seq++;
  const data = JSON.stringify({ seq, ...payload });
  const text = `event: ${event}\n${withId ? `id: ${seq}\n` : ''}data: ${data}\n\n`;
  if (withId) {
    backlog.push([seq, text]);
    if (backlog.length > 256) backlog.shift();
  }
  for (const c of clients) c.write(text);
}

function served(t, kind) {
  const ty = placement.types[t];
  if (ty.pin) return ty.pin === kind;
  return ty.kinds[kind]?.enabled !== false;
}

function step() {
  const now = Date.now();
  for (const t of Object.keys(variants)) {
    const split = {};
    let total = 0;
    for (const [name, node] of Object.entries(nodes)) {
      if (!node.up) continue;
      for (const [id, d] of Object.entries(node.devices)) {
        if (!served(t, d.kind)) continue;
        const w = Math.random();
        split[`${name}/${id}/${placement.types[t].kinds[d.kind].variant}`] = w;
        total += w;
        prediction[`${name}/${id}/${t}`] = { error: Math.random() * 0.2, samples: Math.floor(Math.random() * 100) };
      }
    }
    for (const k of Object.keys(split)) split[k] = +(split[k] / total).toFixed(3);
    const base = 5 + Math.random() * 3;
    services[t] = {
      rate: +(30 + Math.random() * 10).toFixed(1), queued: Math.floor(Math.random() * 4),
      latency_ms: {
        total: [base, base * 2, base * 3].map((v) => +v.toFixed(2)), queue: [0.5, 2, 4], transfer: [0.3, 0.6, 1], compute: [4, 6, 8],
      },
      errors: { 429: 0, 504: 0, 500: 0, 503: Math.random() < 0.1 ? 0.2 : 0 }, split,
    };
  }
  for (const node of Object.values(nodes)) {
    if (!node.up) continue;
    node.last_seen_ms = Math.floor(Math.random() * 200);
    if (node.cpu != null) node.cpu = +Math.random().toFixed(2);
    for (const d of Object.values(node.devices)) {
      d.busy = Math.floor(Math.random() * 3);
      d.queue = Math.floor(Math.random() * 5);
      d.in_flight = d.busy + d.queue;
      d.busy_ratio = +Math.random().toFixed(2);
    }
  }
  const next = JSON.parse(JSON.stringify(state()));
  const patch = diff(last, next);
  last = next;
  if (patch) send('patch', { patch });
  const batch = [];
  for (let i = 0; i < 5; i++) {
    const id = decisionId++;
    batch.push({
      id, time_ms: now, type: 'face', attempt: 1,
      candidates: [{ device: 'edge-1/gpu0', kind: 'gpu', predicted_ms: 4.1 }, { device: 'edge-1/cpu0', kind: 'cpu', predicted_ms: 9.7 }],
      winner: 'edge-1/gpu0', variant: 'blazeface-front-128', predicted_ms: 4.1, actual_ms: +(3 + Math.random() * 3).toFixed(2), outcome: 'ok',
    });
  }
  decisions.push(...batch);
  decisions.splice(0, Math.max(0, decisions.length - 1000));
  send('decisions', { decisions: batch, skipped: 0 });
}
setInterval(step, Number(opt['interval-ms']));
setInterval(() => send('heartbeat', { time_ms: Date.now() }, false), 10000);

function merge(target, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) target[k] = null;
    else if (typeof v === 'object' && !Array.isArray(v)) merge((target[k] ??= {}), v);
    else target[k] = v;
  }
}

function checkChange(change) {
  if (change.policy && !placement.policies.includes(change.policy)) return `unknown policy '${change.policy}'`;
  for (const [t, ty] of Object.entries(change.types || {})) {
    if (!placement.types[t]) return `unknown inference type '${t}'`;
    if (ty.pin && !placement.types[t].kinds[ty.pin]) return `no ${ty.pin} device serves ${t}`;
    for (const [k, c] of Object.entries(ty.kinds || {})) {
      if (!placement.types[t].kinds[k]) return `unknown kind '${k}' for ${t}`;
      if (c.variant && !variants[t].includes(c.variant)) return `unknown variant '${c.variant}'`;
    }
  }
  return '';
}

function applied(change) {
  const p = JSON.parse(JSON.stringify(placement));
  if (change.policy) p.policy = change.policy;
  for (const [t, ty] of Object.entries(change.types || {})) {
    if ('pin' in ty) p.types[t].pin = ty.pin;
    for (const [k, c] of Object.entries(ty.kinds || {})) Object.assign(p.types[t].kinds[k], c);
  }
  return p;
}

function capacity(p) {
  let rps = 0;
  const servedTypes = {};
  for (const [t, ty] of Object.entries(p.types)) {
    const ks = ty.pin ? [ty.pin] : Object.keys(ty.kinds).filter((k) => ty.kinds[k].enabled !== false);
    servedTypes[t] = ks.length > 0;
    rps += ks.reduce((s, k) => s + ty.kinds[k].devices * 50, 0);
  }
  return { rps: Object.values(servedTypes).every(Boolean) ? rps : 0, served: servedTypes };
}

function auth(req, admin) {
  const h = req.headers.authorization || '';
  const q = new URL(req.url, 'http://x').searchParams.get('token');
  const token = h.startsWith('Bearer ') ? h.slice(7) : q;
  if (admin) return token === opt['admin-token'] ? 0 : token ? 403 : 401;
  if (!opt['viewer-token']) return 0;
  return token === opt['viewer-token'] || token === opt['admin-token'] ? 0 : 401;
}

function json(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json', ...(code === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s ? JSON.parse(s) : {};
}

function change(req, res, body, action, reverts = null) {
  const error = checkChange(body);
  if (error) return json(res, 400, { error });
  if (body.version != null && body.version !== placement.version) {
    return json(res, 409, { error: `placement is at version ${placement.version}, not ${body.version}: reload and retry` });
  }
  const before = JSON.parse(JSON.stringify(placement));
  placement = applied(body);
  placement.version++;
  const user = req.headers['x-heteroaccel-user'];
  const entry = {
    id: audit.length + 1, time_ms: Date.now(), who: user ? `admin (${user})` : 'admin', action,
    comment: body.comment || '', before, after: JSON.parse(JSON.stringify(placement)), reverts, reverted_by: null,
  };
  audit.push(entry);
  if (reverts) audit[reverts - 1].reverted_by = entry.id;
  send('audit', { audit: [entry] });
  json(res, 200, { placement, audit: entry });
}

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  if (path.startsWith('/v1/')) {
    const admin = (req.method === 'PUT' && path === '/v1/placement') || /^\/v1\/audit\/\d+\/revert$/.test(path);
    const refused = auth(req, admin);
    if (refused) return json(res, refused, { error: refused === 401 ? 'missing or wrong token' : 'this token may not change the placement' });
  }
  if (path === '/v1/stream') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const lastId = Number(req.headers['last-event-id']);
    if (lastId && backlog.length && backlog[0][0] <= lastId + 1) {
      for (const [id, text] of backlog) if (id > lastId) res.write(text);
    } else {
      const extras = { decisions: decisions.slice(-50), audit: audit.slice(-50) };
      res.write(`event: snapshot\nid: ${seq}\ndata: ${JSON.stringify({ seq, state: last, ...extras })}\n\n`);
    }
    clients.add(res);
    req.on('close', () => clients.delete(res));
    return;
  }
  if (path === '/v1/state') return json(res, 200, { seq, ...state() });
  if (path === '/v1/cluster') {
    return json(res, 200, { nodes: Object.entries(nodes).map(([node, n]) => ({ node, up: n.up, devices: Object.entries(n.devices).map(([id, d]) => ({ id, ...d })) })) });
  }
  if (path === '/v1/placement' && req.method === 'GET') return json(res, 200, placement);
  if (path === '/v1/placement' && req.method === 'PUT') return change(req, res, await readBody(req), 'placement');
  if (path === '/v1/placement/whatif') {
    const body = await readBody(req);
    const error = checkChange(body);
    if (error) return json(res, 400, { error });
    const cur = capacity(placement);
    const next = capacity(applied(body));
    return json(res, 200, { mix: { face: 0.5, object: 0.5 }, current_rps: cur.rps, proposed_rps: next.rps, served: next.served });
  }
  if (path === '/v1/audit') return json(res, 200, { audit: audit.slice(-Number(url.searchParams.get('limit') || 100)) });
  const m = path.match(/^\/v1\/audit\/(\d+)\/revert$/);
  if (m && req.method === 'POST') {
    const e = audit[Number(m[1]) - 1];
    if (!e) return json(res, 404, { error: `no audit entry ${m[1]}` });
    if (e.after.version !== placement.version) return json(res, 409, { error: 'the placement changed since: revert the later entries first' });
    const { version, ...rest } = e.before;
    return change(req, res, { types: rest.types, policy: rest.policy }, 'revert', e.id);
  }
  if (path === '/v1/decisions') return json(res, 200, { decisions: decisions.slice(-Number(url.searchParams.get('limit') || 100)) });
  if (path.startsWith('/v1/history/')) return json(res, 503, { error: 'no Prometheus configured: start the server with --prometheus URL' });
  if (path === '/mock/kill') {
    const n = nodes[url.searchParams.get('node')];
    if (n) n.up = false;
    return json(res, 200, {});
  }
  const file = normalize(join(dist, path === '/' ? 'index.html' : path));
  if (!file.startsWith(dist)) return json(res, 404, { error: 'not found' });
  try {
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
    res.end(body);
  } catch {
    json(res, 404, { error: `no such file ${path}` });
  }
}).listen(Number(opt.port), '127.0.0.1', () => console.log(`mock server listening on http://127.0.0.1:${opt.port}`));
