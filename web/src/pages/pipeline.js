// Pipeline of one camera (#/pipeline/<id>, reached from the Cameras page):
// - its DAG (GET /v1/cameras/{id}/pipeline, polled every 2 s) drawn as SVG,
//   layered left to right by depth from the source (source → detect → filter
//   → track → rules → sinks), each block with its type, counters and a state
//   colour (ok, idle, error);
// - its latest frame with the camera's zones (polygons) and lines (arrows
//   from → to) drawn over it. With a token set, every vertex can be dragged
//   (pointer events: mouse, pen, touch) or moved with the arrow keys, and
//   Save sends PUT /v1/cameras/{id}/geometry; the server's 400 message is
//   shown, and on success the page reads the camera again.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, imageUrl, seg } from '../api.js';
import { settings } from '../settings.js';
import { ErrorBox, Fig, fmt, na } from '../ui.js';
import { cameraOf, camerasOf, phaseText, useTick } from './cameras.js';

const kPollMs = 2000;
const kFrameMs = 3000;

export function cameraIdFromHash() {
  const m = location.hash.match(/^#\/pipeline\/([^?]+)/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return '';
  }
}

// --- the graph

function inputsOf(b) {
  const v = b.inputs ?? b.input;
  if (Array.isArray(v)) return v.map(String);
  return v == null || v === '' ? [] : [String(v)];
}

// The blocks of GET /v1/cameras/{id}/pipeline ({"blocks": [{id, block,
// inputs, in, out, errors, runs, state: active|idle|failing}], "edges":
// [[from, to]], "rule_counters": {rule: {name: n}}}), normalised: {id, type,
// infer, inputs, counters: {name: n}, state: ok|idle|error}; the source first.
// Without an answer (a stopped camera), the spec's blocks, idle.
const kCounterKeys = ['in', 'out', 'errors', 'runs'];
const kStates = { active: 'ok', ok: 'ok', running: 'ok', idle: 'idle', failing: 'error', error: 'error' };

export function graphOf(answer, spec) {
  const specBlocks = new Map((Array.isArray(spec?.pipeline) ? spec.pipeline : []).map((b) => [String(b.id), b]));
  const fromAnswer = Array.isArray(answer?.blocks);
  const raw = fromAnswer ? answer.blocks : [...specBlocks.values()];
  const rules = answer?.rule_counters && typeof answer.rule_counters === 'object' ? answer.rule_counters : {};
  const blocks = raw.map((b) => {
    const id = String(b.id);
    const counters = {};
    const nested = b.counters && typeof b.counters === 'object' ? b.counters : {};
    for (const k of kCounterKeys) if (typeof b[k] === 'number') counters[k] = b[k];
    for (const [k, v] of Object.entries({ ...nested, ...(rules[id] || {}) })) if (typeof v === 'number') counters[k] = v;
    const doc = specBlocks.get(id) || {};
    // `block` is the block's kind; a detect or crop_infer block's `type` is
    // its inference type (in the spec).
    const type = String(b.block ?? doc.block ?? b.type ?? '');
    const infer = typeof doc.type === 'string' && doc.block ? doc.type : '';
    return {
      id,
      type,
      infer,
      inputs: inputsOf(b.inputs != null || b.input != null ? b : doc),
      counters,
      state: fromAnswer ? kStates[b.state] ?? 'idle' : 'idle',
      rawState: String(b.state ?? 'idle'),
      error: b.last_error ?? b.error ?? '',
    };
  });
  if (!blocks.some((b) => b.id === 'source')) {
    const running = fromAnswer && (answer.status?.state === 'running' || blocks.some((b) => b.state === 'ok'));
    blocks.unshift({
      id: 'source',
      type: 'source',
      infer: spec?.source?.type ?? '',
      inputs: [],
      counters: typeof answer?.status?.frames?.captured === 'number' ? { out: answer.status.frames.captured } : {},
      state: running ? 'ok' : 'idle',
      rawState: answer?.status?.state ?? 'idle',
      error: answer?.status?.source?.last_error ?? '',
    });
  }
  // Edges from the answer when it lists them, else from the inputs.
  let edges = [];
  if (Array.isArray(answer?.edges)) {
    edges = answer.edges
      .map((e) => (Array.isArray(e) ? { from: e[0], to: e[1] } : { from: e?.from, to: e?.to }))
      .filter((e) => e.from != null && e.to != null)
      .map((e) => ({ from: String(e.from), to: String(e.to) }));
  } else {
    for (const b of blocks) for (const i of b.inputs) edges.push({ from: i, to: b.id });
  }
  return { blocks, edges };
}

// Columns by longest path from the source; inside a column, blocks ordered by
// the mean row of their inputs (fewer crossings), then by document order.
export function layout(graph) {
  const byId = new Map(graph.blocks.map((b, i) => [b.id, { ...b, order: i }]));
  const parents = new Map([...byId.keys()].map((id) => [id, []]));
  for (const e of graph.edges) if (byId.has(e.from) && byId.has(e.to)) parents.get(e.to).push(e.from);
  const depth = new Map();
  const visiting = new Set();
  const depthOf = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id)) return 0; // a cycle (the server refuses those)
    visiting.add(id);
    const ps = parents.get(id) || [];
    const d = ps.length ? 1 + Math.max(...ps.map(depthOf)) : id === 'source' ? 0 : 1;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const id of byId.keys()) depthOf(id);
  const columns = [];
  for (const [id, d] of depth) (columns[d] ??= []).push(id);
  const row = new Map();
  for (let d = 0; d < columns.length; d++) {
    const col = columns[d] || [];
    const key = (id) => {
      const ps = (parents.get(id) || []).filter((p) => row.has(p));
      return ps.length ? ps.reduce((s, p) => s + row.get(p), 0) / ps.length : 0;
    };
    col.sort((a, b) => key(a) - key(b) || byId.get(a).order - byId.get(b).order);
    col.forEach((id, i) => row.set(id, i));
    columns[d] = col;
  }
  return { byId, columns, depth, row };
}

const kW = 150;
const kH = 64;
const kGapX = 50;
const kGapY = 14;

function stateClass(s) {
  return s === 'ok' || s === 'error' ? s : 'idle';
}

function Graph({ graph }) {
  const { byId, columns } = layout(graph);
  const tallest = Math.max(1, ...columns.map((c) => (c || []).length));
  const width = columns.length * (kW + kGapX) - kGapX + 20;
  const height = tallest * (kH + kGapY) - kGapY + 20;
  const pos = new Map();
  columns.forEach((col, d) => {
    const offset = ((tallest - col.length) * (kH + kGapY)) / 2;
    col.forEach((id, i) => pos.set(id, { x: 10 + d * (kW + kGapX), y: 10 + offset + i * (kH + kGapY) }));
  });
  return html`<svg class="dag" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height}
    style=${`max-width:100%;height:auto`} role="img" aria-label=${`Pipeline with ${graph.blocks.length} blocks`}>
    <defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" fill="#8a96a3" /></marker></defs>
    ${graph.edges.map((e) => {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (!a || !b) return null;
      const x1 = a.x + kW;
      const y1 = a.y + kH / 2;
      const x2 = b.x;
      const y2 = b.y + kH / 2;
      const mx = (x1 + x2) / 2;
      return html`<path key=${`${e.from}->${e.to}`} class="dag-edge" data-from=${e.from} data-to=${e.to}
        d=${`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`} marker-end="url(#dag-arrow)" />`;
    })}
    ${[...pos.entries()].map(([id, p]) => {
      const b = byId.get(id);
      const c = b.counters;
      const line = [c.in != null ? `in ${c.in}` : null, c.out != null ? `out ${c.out}` : null, c.errors ? `err ${c.errors}` : null]
        .filter(Boolean).join(' · ');
      const tip = `${id} (${b.type}${b.infer ? ` ${b.infer}` : ''}): ${b.rawState}${b.error ? ` — ${b.error}` : ''}\n` +
        Object.entries(c).map(([k, v]) => `${k}: ${v}`).join('\n');
      return html`<g key=${id} class=${'dag-block block-' + stateClass(b.state)} data-block=${id} data-state=${b.state}
        transform=${`translate(${p.x},${p.y})`} tabindex="0" role="listitem" aria-label=${tip}>
        <title>${tip}</title>
        <rect width=${kW} height=${kH} rx="6" />
        <rect class="dag-state" width="6" height=${kH} rx="3" />
        <text x="14" y="18" class="dag-id">${id.length > 18 ? id.slice(0, 17) + '…' : id}</text>
        <text x="14" y="34" class="dag-type">${b.type}${b.infer ? ` · ${b.infer}` : ''}</text>
        <text x="14" y="52" class="dag-counters">${line || b.state}</text>
      </g>`;
    })}
  </svg>`;
}

// --- the geometry editor

function clone(spec) {
  return {
    zones: (spec?.zones || []).map((z) => ({ name: z.name, polygon: (z.polygon || []).map((p) => [p[0], p[1]]) })),
    lines: (spec?.lines || []).map((l) => ({ name: l.name, from: [l.from[0], l.from[1]], to: [l.to[0], l.to[1]] })),
  };
}

function rounded(geo) {
  const r = (p) => [Math.round(p[0]), Math.round(p[1])];
  return {
    zones: geo.zones.map((z) => ({ name: z.name, polygon: z.polygon.map(r) })),
    lines: geo.lines.map((l) => ({ name: l.name, from: r(l.from), to: r(l.to) })),
  };
}

// The frame's size: the picture's, else the source's, else what holds the
// geometry.
function frameSize(natural, cam, geo) {
  if (natural) return natural;
  if (cam?.width && cam?.height) return { w: cam.width, h: cam.height };
  let w = 640;
  let h = 480;
  for (const z of geo.zones) for (const p of z.polygon) (w = Math.max(w, p[0] * 1.05)), (h = Math.max(h, p[1] * 1.05));
  for (const l of geo.lines) for (const p of [l.from, l.to]) (w = Math.max(w, p[0] * 1.05)), (h = Math.max(h, p[1] * 1.05));
  return { w: Math.round(w), h: Math.round(h) };
}

const zoneColours = ['#2f6fdf', '#e0762b', '#2ca25f', '#c43c6b', '#7b55c7', '#1f9bb4'];

function Handle({ x, y, r, label, editable, onMove, svg, size }) {
  const dragging = useRef(false);
  const toFrame = (e) => {
    const m = svg.current?.getScreenCTM();
    if (!m) return null;
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return [Math.max(0, Math.min(size.w, pt.x)), Math.max(0, Math.min(size.h, pt.y))];
  };
  if (!editable) return html`<circle class="vertex" cx=${x} cy=${y} r=${r * 0.6} />`;
  return html`<circle class="vertex editable" cx=${x} cy=${y} r=${r} tabindex="0" role="slider"
    aria-label=${`${label} at ${Math.round(x)}, ${Math.round(y)} (drag, or arrow keys; shift for 10 px)`}
    aria-valuetext=${`${Math.round(x)}, ${Math.round(y)}`}
    onPointerDown=${(e) => {
      e.preventDefault();
      e.currentTarget.setPointerCapture(e.pointerId);
      dragging.current = true;
    }}
    onPointerMove=${(e) => {
      if (!dragging.current) return;
      const p = toFrame(e);
      if (p) onMove(p);
    }}
    onPointerUp=${(e) => {
      dragging.current = false;
      e.currentTarget.releasePointerCapture?.(e.pointerId);
    }}
    onPointerCancel=${() => (dragging.current = false)}
    onKeyDown=${(e) => {
      const step = e.shiftKey ? 10 : 1;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
      if (!d) return;
      e.preventDefault();
      onMove([Math.max(0, Math.min(size.w, x + d[0])), Math.max(0, Math.min(size.h, y + d[1]))]);
    }}><title>${label}</title></circle>`;
}

function Geometry({ id, spec, cam, onSaved }) {
  const [geo, setGeo] = useState(() => clone(spec));
  const [dirty, setDirty] = useState(false);
  const [natural, setNatural] = useState(null);
  const [noFrame, setNoFrame] = useState(false);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const svg = useRef(null);
  const tick = useTick(kFrameMs);
  const specKey = JSON.stringify({ zones: spec?.zones, lines: spec?.lines });
  useEffect(() => {
    if (!dirty) setGeo(clone(spec));
  }, [specKey]);
  const editable = !!settings.token;
  const size = frameSize(natural, cam, geo);
  const r = Math.max(size.w, size.h) / 90;
  const move = (fn) => {
    setGeo((g) => {
      const next = clone(g);
      fn(next);
      return next;
    });
    setDirty(true);
    setNotice('');
  };
  const save = async () => {
    setBusy(true);
    try {
      await api('PUT', `v1/cameras/${seg(id)}/geometry`, rounded(geo));
      setError('');
      setDirty(false);
      setNotice('Saved: the rules use the new geometry from the next frame');
      onSaved();
    } catch (e) {
      setError(`Geometry refused — ${e.message}`);
    } finally {
      setBusy(false);
    }
  };
  const src = imageUrl(`v1/cameras/${seg(id)}/frame.jpg`, tick);
  return html`<section class="geometry">
    <h3 title="The latest frame with the camera's zones and lines">Zones and lines</h3>
    <div class="frame" style=${`aspect-ratio:${size.w} / ${size.h}`}>
      ${noFrame === src
        ? html`<span class="frame-none muted">no frame yet</span>`
        : html`<img src=${src} alt=${`Latest frame of camera ${id}`} decoding="async"
            onLoad=${(e) => {
              const { naturalWidth: w, naturalHeight: h } = e.currentTarget;
              if (w && h && (natural?.w !== w || natural?.h !== h)) setNatural({ w, h });
            }}
            onError=${() => setNoFrame(src)} />`}
      <svg ref=${svg} class="overlay-svg" viewBox=${`0 0 ${size.w} ${size.h}`} preserveAspectRatio="none"
        role="group" aria-label="Zones and lines over the frame">
        <defs><marker id="line-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#ffd400" /></marker></defs>
        ${geo.zones.map((z, i) => {
          const colour = zoneColours[i % zoneColours.length];
          const pts = z.polygon.map((p) => p.join(',')).join(' ');
          const [lx, ly] = z.polygon[0] || [0, 0];
          return html`<g key=${'z' + z.name} class="zone" data-zone=${z.name}>
            <polygon points=${pts} style=${`fill:${colour}33;stroke:${colour}`} />
            <text x=${lx + r} y=${ly - r} class="shape-label" style=${`font-size:${r * 2.2}px`}>${z.name}</text>
            ${z.polygon.map((p, j) => html`<${Handle} key=${j} x=${p[0]} y=${p[1]} r=${r} svg=${svg} size=${size}
              editable=${editable} label=${`zone ${z.name} vertex ${j + 1}`}
              onMove=${(q) => move((g) => (g.zones[i].polygon[j] = q))} />`)}
          </g>`;
        })}
        ${geo.lines.map((l, i) => html`<g key=${'l' + l.name} class="line" data-line=${l.name}>
          <line x1=${l.from[0]} y1=${l.from[1]} x2=${l.to[0]} y2=${l.to[1]} style=${`stroke-width:${r / 2.5}px`} marker-end="url(#line-arrow)" />
          <text x=${(l.from[0] + l.to[0]) / 2 + r} y=${(l.from[1] + l.to[1]) / 2 - r} class="shape-label" style=${`font-size:${r * 2.2}px`}>${l.name} →</text>
          <${Handle} x=${l.from[0]} y=${l.from[1]} r=${r} svg=${svg} size=${size} editable=${editable} label=${`line ${l.name} start`}
            onMove=${(q) => move((g) => (g.lines[i].from = q))} />
          <${Handle} x=${l.to[0]} y=${l.to[1]} r=${r} svg=${svg} size=${size} editable=${editable} label=${`line ${l.name} end`}
            onMove=${(q) => move((g) => (g.lines[i].to = q))} />
        </g>`)}
      </svg>
    </div>
    ${geo.zones.length + geo.lines.length === 0 ? html`<p class="muted">This camera has no zone or line.</p>` : null}
    <div class="buttons">
      <button id="geometry-save" class="primary" disabled=${busy || !dirty} onClick=${save}
        title="PUT /v1/cameras/{id}/geometry with the admin token">Save</button>
      <button id="geometry-discard" disabled=${busy || !dirty} onClick=${() => { setGeo(clone(spec)); setDirty(false); setError(''); }}
        title="Back to the camera's saved zones and lines">Discard</button>
      ${editable ? html`<span class="muted">${dirty ? 'edited, not saved' : 'drag a vertex (or focus it and use the arrow keys)'}</span>`
        : html`<span class="muted">set the admin token (settings) to edit</span>`}
    </div>
    <${ErrorBox} error=${error} />
    ${notice ? html`<div class="notice">${notice}</div>` : null}
  </section>`;
}

// --- the page

function Picker() {
  const [cameras, setCameras] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', 'v1/cameras').then((r) => setCameras(camerasOf(r))).catch((e) => setError(e.message));
  }, []);
  return html`<div class="page pipeline">
    <h3>Pick a camera</h3>
    <${ErrorBox} error=${error} />
    <ul>${(cameras || []).map((c) => html`<li key=${c.id}><a href=${`#/pipeline/${seg(c.id)}`}>${c.id}</a></li>`)}</ul>
  </div>`;
}

export function Pipeline() {
  const id = cameraIdFromHash();
  const [camera, setCamera] = useState(null);
  const [graph, setGraph] = useState(null);
  const [error, setError] = useState('');
  const seq = useRef(0);
  const load = async () => {
    if (!id) return;
    const mine = ++seq.current;
    try {
      // The camera is what the page needs; without its pipeline's counters
      // (a stopped camera) the spec's blocks are drawn idle.
      const [c, p] = await Promise.all([
        api('GET', `v1/cameras/${seg(id)}`),
        api('GET', `v1/cameras/${seg(id)}/pipeline`).catch(() => null),
      ]);
      if (mine !== seq.current) return;
      setCamera(cameraOf(c?.camera && typeof c.camera === 'object' ? c.camera : c));
      setGraph(p);
      setError('');
    } catch (e) {
      if (mine === seq.current) setError(`Camera ${id} unavailable — ${e.message}`);
    }
  };
  useEffect(() => {
    setCamera(null);
    setGraph(null);
    load();
    const timer = setInterval(load, kPollMs);
    return () => {
      clearInterval(timer);
      seq.current++;
    };
  }, [id]);
  if (!id) return html`<${Picker} />`;
  const g = camera ? graphOf(graph, camera.spec) : null;
  const [label, detail, level] = camera ? phaseText(camera) : ['…', '', 'idle'];
  return html`<div class="page pipeline" data-camera=${id}>
    <div class="toolbar">
      <a href="#/cameras" title="Back to every camera">← Cameras</a>
      <h2 class="pipeline-title">${id}</h2>
      ${camera
        ? html`<span class=${'pill pill-' + level} data-state=${camera.phase} title=${detail || 'State of the camera'}>${label}</span>
            <${Fig} label="source" value=${camera.sourceType} tip=${camera.sourceWhere || 'Source type'} />
            <${Fig} label="processed" value=${camera.fpsProcessed == null ? na : `${fmt(camera.fpsProcessed)} fps`} tip="Frames per second through the pipeline" />
            <${Fig} label="blocks" value=${g.blocks.length} tip="Blocks of the pipeline, the source included" />`
        : null}
      <a href=${`#/events?camera=${seg(id)}`} title="This camera's events">Events</a>
    </div>
    <${ErrorBox} error=${error} />
    ${camera
      ? html`<section class="dag-wrap">
            <h3 title="Blocks layered by depth from the source; colour: green ok, grey idle, red error">Pipeline</h3>
            <${Graph} graph=${g} />
            <ul class="dag-legend">
              <li><span class="swatch block-ok"></span>ok</li><li><span class="swatch block-idle"></span>idle</li>
              <li><span class="swatch block-error"></span>error</li>
            </ul>
          </section>
          <${Geometry} key=${id} id=${id} spec=${camera.spec} cam=${camera} onSaved=${load} />`
      : error ? null : html`<p class="muted">Loading ${id}…</p>`}
  </div>`;
}
