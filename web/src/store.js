// Everything the pages show, fed by the one EventSource (stream.js):
// - state: the server's State document, patched immutably (merge.js);
// - decisions: the last bindings, newest first, updated in place when the
//   server repeats an entry with its outcome;
// - audit: the placement changes, newest first;
// - camera events (`camera_event`): handed to the pages that listen
//   (onCameraEvent) and the last ones kept for pages opened later;
// - tables: time series sampled from the state once a second (the live
//   charts), kept whichever page is shown.
// The store schedules at most one render per animation frame and records
// each update's main-thread time (parsing and applying the events since the
// last frame + the render that follows) as a `heteroaccel-update` performance
// measure (start: the first event's arrival; duration: the time spent).
import { mergePatch } from './merge.js';
import { Table } from './table.js';

const kDecisionsKept = 200;
const kAuditKept = 200;
const kLiveRows = 600; // 10 minutes at one sample per second
const kSampleMs = 1000;
const kCameraEventsKept = 200;

export const store = {
  state: null,
  seq: null,
  status: 'connecting', // connecting | live | reconnecting | token
  statusDetail: '',
  decisions: [],
  skipped: 0,
  audit: [],
  cameraEvents: [], // the last camera events streamed, newest first (one entry per id)
  cameraEventsSeen: 0, // camera_event messages received
  snapshots: 0, // snapshots applied: after the first, events may have been missed
  tables: {
    rate: new Table(kLiveRows), // type -> requests/s
    p95: new Table(kLiveRows), // type -> ms
    busy: new Table(kLiveRows), // node/device -> ratio
    groupBusy: new Table(kLiveRows), // group -> mean busy ratio of its up devices
    groupCpu: new Table(kLiveRows), // group -> mean CPU utilisation of its up nodes
    prediction: new Table(kLiveRows), // node/device/type -> relative error
  },
  updates: 0, // stream events applied (snapshot, patch, decisions, audit)
  lastUpdateMs: 0, // Date.now() of the last one
  frames: 0, // renders caused by stream events
  sseChars: 0, // characters of event data received
  tick: 0, // bumped on every change that needs a render
};

let render = () => {};
let frameRequested = false;
let pendingStart = null; // performance.now() of the first event since the last frame
let pendingBusyMs = 0;
let pendingEvents = 0;
let lastSampleMs = 0;

export function setRenderer(fn) {
  render = fn;
}

function requestFrame() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

function frame() {
  frameRequested = false;
  const t0 = performance.now();
  render();
  const t1 = performance.now();
  if (pendingStart !== null) {
    store.frames++;
    const detail = { apply_ms: pendingBusyMs, render_ms: t1 - t0, events: pendingEvents };
    try {
      performance.measure('heteroaccel-update', {
        start: pendingStart,
        duration: pendingBusyMs + (t1 - t0),
        detail,
      });
    } catch {
      // Older browsers without measure options: the counters still move.
    }
    if (store.frames % 5000 === 0) performance.clearMeasures('heteroaccel-update');
    pendingStart = null;
    pendingBusyMs = 0;
    pendingEvents = 0;
  }
}

// A change that is not a stream update (status, a page's own fetch).
export function changed() {
  store.tick++;
  requestFrame();
}

// Runs fn as one update of the data, followed by a render.
function update(fn) {
  fn();
  store.updates++;
  store.lastUpdateMs = Date.now();
  store.tick++;
  requestFrame();
}

// Counts the main-thread time of handling one stream event (parsing it and
// applying it) into the next frame's heteroaccel-update measure.
export function timed(fn) {
  const t0 = performance.now();
  fn();
  if (pendingStart === null) pendingStart = t0;
  pendingBusyMs += performance.now() - t0;
  pendingEvents++;
  requestFrame();
}

export function applySnapshot(msg) {
  update(() => {
    store.state = msg.state;
    store.seq = msg.seq;
    store.snapshots++;
    noteServer();
    sample(true);
  });
}

export function applyPatch(msg) {
  update(() => {
    store.state = mergePatch(store.state, msg.patch);
    store.seq = msg.seq;
    noteServer();
    sample(false);
  });
}

// A restarted server numbers its requests afresh: the decisions kept from the
// previous one would be confused with the new ones.
let startedMs = null;
function noteServer() {
  const started = store.state?.server?.started_ms;
  if (!started) return;
  if (startedMs !== null && started !== startedMs) {
    store.decisions = [];
    store.skipped = 0;
  }
  startedMs = started;
}

export function noteSeq(seq) {
  if (typeof seq === 'number' && (store.seq === null || seq > store.seq)) store.seq = seq;
}

function decisionKey(d) {
  return `${d.id}/${d.attempt ?? 1}`;
}

export function addDecisions(entries, skipped = 0) {
  if (!entries || !entries.length) {
    if (skipped) store.skipped += skipped;
    return;
  }
  update(() => {
    const list = store.decisions.slice();
    const index = new Map(list.map((d, i) => [decisionKey(d), i]));
    const fresh = [];
    for (const d of entries) {
      const i = index.get(decisionKey(d));
      if (i !== undefined) list[i] = d;
      else fresh.push(d);
    }
    fresh.reverse();
    store.decisions = fresh.concat(list).slice(0, kDecisionsKept);
    store.skipped += skipped || 0;
  });
}

export function addAudit(entries) {
  if (!entries || !entries.length) return;
  update(() => {
    const byId = new Map(store.audit.map((a) => [a.id, a]));
    for (const a of entries) byId.set(a.id, a);
    // A revert marks the entry it reverts (the stream sends only the new one).
    for (const a of entries) {
      const target = a.reverts != null && byId.get(a.reverts);
      if (target && target.reverted_by == null) byId.set(target.id, { ...target, reverted_by: a.id });
    }
    store.audit = [...byId.values()].sort((a, b) => b.id - a.id).slice(0, kAuditKept);
  });
}

// The answer of PUT /v1/placement or a revert: {placement, audit}.
export function applyChangeAnswer(answer) {
  const placement = answer?.placement ?? (answer?.types ? answer : null);
  if (placement) replacePlacement(placement);
  if (answer?.audit && typeof answer.audit === 'object' && !Array.isArray(answer.audit)) addAudit([answer.audit]);
  return placement;
}

export function replacePlacement(placement) {
  if (!store.state || !placement) return;
  update(() => {
    store.state = { ...store.state, placement };
  });
}

// Camera events from the stream: every listener gets each one (the event
// JSON of GET /v1/events, with `change`: new, update or end).
const cameraListeners = new Set();
export function onCameraEvent(fn) {
  cameraListeners.add(fn);
  return () => cameraListeners.delete(fn);
}

export function addCameraEvent(event) {
  if (!event || typeof event !== 'object' || typeof event.id !== 'string') return;
  update(() => {
    store.cameraEventsSeen++;
    store.cameraEvents = [event, ...store.cameraEvents.filter((e) => e.id !== event.id)].slice(0, kCameraEventsKept);
    for (const fn of cameraListeners) {
      try {
        fn(event);
      } catch (e) {
        console.error(e);
      }
    }
  });
}

export function setStatus(status, detail = '') {
  if (store.status === status && store.statusDetail === detail) return;
  store.status = status;
  store.statusDetail = detail;
  changed();
}

// One row of every live table, at most once a second.
function sample(force) {
  const now = Date.now();
  if (!force && now - lastSampleMs < kSampleMs) return;
  lastSampleMs = now;
  const s = store.state;
  if (!s) return;
  const t = now / 1000;
  const rate = [];
  const p95 = [];
  for (const [type, svc] of Object.entries(s.services || {})) {
    rate.push([type, num(svc.rate)]);
    p95.push([type, num(svc.latency_ms?.total?.[1])]);
  }
  const busy = [];
  for (const [name, node] of Object.entries(s.nodes || {})) {
    for (const [id, d] of Object.entries(node.devices || {})) {
      busy.push([`${name}/${id}`, node.up && d.up !== false ? num(d.busy_ratio) : null]);
    }
  }
  // Per group (a node counts in each of its groups): means over its up nodes and devices.
  const sums = {};
  for (const node of Object.values(s.nodes || {})) {
    const groups = Array.isArray(node.groups) ? node.groups : node.group ? [node.group] : [];
    if (node.up === false) continue;
    for (const g of groups) {
      const acc = (sums[g] ??= { busy: 0, devices: 0, cpu: 0, nodes: 0 });
      for (const d of Object.values(node.devices || {})) {
        if (d.up === false || typeof d.busy_ratio !== 'number') continue;
        acc.busy += d.busy_ratio;
        acc.devices++;
      }
      if (typeof node.cpu === 'number') {
        acc.cpu += node.cpu;
        acc.nodes++;
      }
    }
  }
  const groupBusy = [];
  const groupCpu = [];
  for (const [g, acc] of Object.entries(sums)) {
    groupBusy.push([g, acc.devices ? acc.busy / acc.devices : null]);
    groupCpu.push([g, acc.nodes ? acc.cpu / acc.nodes : null]);
  }
  const prediction = [];
  for (const [key, p] of Object.entries(s.prediction || {})) prediction.push([key, num(p.error)]);
  store.tables.rate.push(t, rate);
  store.tables.p95.push(t, p95);
  store.tables.busy.push(t, busy);
  store.tables.groupBusy.push(t, groupBusy);
  store.tables.groupCpu.push(t, groupCpu);
  store.tables.prediction.push(t, prediction);
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// For tests and the scale probe (tests/browser/).
window.__heteroaccel = {
  get state() {
    return store.state;
  },
  get updates() {
    return store.updates;
  },
  get lastUpdateMs() {
    return store.lastUpdateMs;
  },
  get frames() {
    return store.frames;
  },
  get sseChars() {
    return store.sseChars;
  },
  get status() {
    return store.status;
  },
  get seq() {
    return store.seq;
  },
  get cameraEvents() {
    return store.cameraEventsSeen;
  },
};
