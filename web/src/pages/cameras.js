// Cameras: every camera the server runs (GET /v1/cameras, polled every 2 s),
// grouped by camera group (each group collapsible), one card per camera: its
// source, state (running, reconnecting with the back-off, ended, stopped, the
// last error), frames per second captured and processed, frames skipped by
// reason, the last event's time and the latest frame (refreshed every few
// seconds); start/stop with the admin token; a link to its pipeline page.
// Above, a form that creates a camera from its YAML or JSON document and shows
// the server's 400 message beside the field.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, imageUrl, seg } from '../api.js';
import { settings } from '../settings.js';
import { onCameraEvent } from '../store.js';
import { ErrorBox, Fig, fmt, na, when } from '../ui.js';

const kPollMs = 2000;
const kThumbMs = 3000;

// --- the camera documents, whatever their exact nesting

// One camera of GET /v1/cameras as the pages use it. The server answers
// {"cameras": [{"id", "origin": "file"|"api", "spec": {...}, "status": {
//   "state", "source": {phase, last_error, reconnects, backoff_ms,
//   next_retry_ms, width, height, source_fps}, "frames": {captured, taken,
//   processed, in_flight, skipped: {reason: n}}, "fps": {captured, processed},
//   "cpu_ms_per_frame", "detection_ms", "last_error", "last_event_ms",
//   "events", "open_events"}}]} (cameras/camera_runner.h, StateJson).
export function cameraOf(c) {
  const spec = c?.spec && typeof c.spec === 'object' ? c.spec : c || {};
  const st = [c?.status, c?.state].find((v) => v && typeof v === 'object') || {};
  const source = st.source && typeof st.source === 'object' ? st.source : {};
  const frames = st.frames && typeof st.frames === 'object' ? st.frames : st;
  const phase = typeof st.state === 'string' ? st.state : typeof c?.state === 'string' ? c.state : source.phase;
  return {
    raw: c,
    spec,
    id: String(c?.id ?? spec.id ?? ''),
    origin: c?.origin ?? '',
    group: String(spec.group ?? c?.group ?? ''),
    enabled: (spec.enabled ?? c?.enabled) !== false,
    sourceType: spec.source?.type ?? na,
    sourceWhere: spec.source?.path ?? spec.source?.url ?? '',
    phase: String(phase ?? 'unknown'),
    lastError: st.last_error || source.last_error || '',
    reconnects: source.reconnects ?? st.reconnects,
    backoffMs: num(source.backoff_ms ?? st.backoff_ms),
    retryInMs: num(source.next_retry_ms ?? st.next_retry_ms),
    fpsCaptured: num(st.fps?.captured ?? st.fps_captured),
    fpsProcessed: num(st.fps?.processed ?? st.fps_processed),
    captured: num(frames.captured),
    processed: num(frames.processed),
    inFlight: num(frames.in_flight),
    skipped: skippedOf(frames.skipped ?? st.skipped),
    lastEventMs: num(st.last_event_ms),
    width: num(source.width ?? st.width) || null,
    height: num(source.height ?? st.height) || null,
    cpuMs: num(st.cpu_ms_per_frame),
    detectionMs: num(st.detection_ms),
    events: num(st.events),
    openEvents: num(st.open_events),
  };
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function skippedOf(s) {
  if (!s || typeof s !== 'object') return {};
  const out = {};
  for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = v;
  return out;
}

export function camerasOf(answer) {
  const list = Array.isArray(answer) ? answer : Array.isArray(answer?.cameras) ? answer.cameras : [];
  return list.map(cameraOf).filter((c) => c.id);
}

// What the state means to an operator, and its colour class.
export function phaseText(c) {
  const p = c.phase;
  if (p === 'reconnecting') {
    const parts = [];
    if (c.retryInMs != null) parts.push(`retry in ${fmt(c.retryInMs / 1000)} s`);
    else if (c.backoffMs != null) parts.push(`back-off ${fmt(c.backoffMs / 1000)} s`);
    if (c.reconnects != null) parts.push(`${c.reconnects} reconnects`);
    return ['reconnecting', parts.join(', '), 'warn'];
  }
  if (p === 'running') return ['running', '', 'ok'];
  if (p === 'connecting') return ['connecting', '', 'warn'];
  if (p === 'ended') return ['ended', 'the file has been read to its end', 'idle'];
  if (p === 'stopped') return ['stopped', c.enabled ? '' : 'disabled', 'idle'];
  if (p === 'error' || p === 'failed') return [p, '', 'bad'];
  return [p, '', 'idle'];
}

// Frames per second from two successive polls, for servers that give only
// the counters.
function withRates(cameras, prev) {
  const now = performance.now();
  for (const c of cameras) {
    const p = prev.get(c.id);
    if (p && now > p.t + 200) {
      const dt = (now - p.t) / 1000;
      if (c.fpsCaptured == null && c.captured != null && p.captured != null) c.fpsCaptured = Math.max(0, (c.captured - p.captured) / dt);
      if (c.fpsProcessed == null && c.processed != null && p.processed != null) c.fpsProcessed = Math.max(0, (c.processed - p.processed) / dt);
    }
    prev.set(c.id, { t: now, captured: c.captured, processed: c.processed });
  }
  return cameras;
}

// --- the latest frame, refreshed (and cache-busted) every few seconds

export function useTick(ms) {
  const [tick, setTick] = useState(() => Math.floor(Date.now() / ms));
  useEffect(() => {
    const timer = setInterval(() => setTick(Math.floor(Date.now() / ms)), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return tick;
}

function Thumb({ id, tick }) {
  const [failed, setFailed] = useState(null);
  const src = imageUrl(`v1/cameras/${seg(id)}/frame.jpg`, tick);
  const missing = failed === src;
  return html`<a class="thumb" href=${`#/pipeline/${seg(id)}`} title=${`The latest frame of ${id} (refreshed every ${kThumbMs / 1000} s); open its pipeline`}>
    ${missing
      ? html`<span class="thumb-none muted">no frame yet</span>`
      : html`<img src=${src} alt=${`Latest frame of camera ${id}`} loading="lazy" decoding="async" onError=${() => setFailed(src)} />`}
  </a>`;
}

// --- one camera

function CameraCard({ c, tick, onChanged }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [label, detail, level] = phaseText(c);
  const skipped = Object.entries(c.skipped).filter(([, v]) => v > 0).sort();
  const active = c.phase === 'running' || c.phase === 'connecting' || c.phase === 'reconnecting';
  const act = async (what) => {
    setBusy(true);
    try {
      await api('POST', `v1/cameras/${seg(c.id)}/${what}`, {});
      setError('');
      onChanged();
    } catch (e) {
      setError(`${what === 'start' ? 'Start' : 'Stop'} refused — ${e.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<article class=${'camera-card state-' + level} data-camera=${c.id} aria-labelledby=${`cam-${c.id}`}>
    <header class="camera-head">
      <span class="camera-id" id=${`cam-${c.id}`} title="Camera id">${c.id}</span>
      <span class="source-type" title=${`Source type${c.sourceWhere ? `: ${c.sourceWhere}` : ''}`}>${c.sourceType}</span>
      <span class=${'camera-state pill pill-' + level} data-state=${c.phase}
        title=${`State of the camera's source and pipeline${detail ? ` (${detail})` : ''}`}>${label}</span>
    </header>
    <${Thumb} id=${c.id} tick=${tick} />
    <div class="camera-detail muted" title="Back-off before the next reconnection, or why the camera stopped">${detail || '\u00a0'}</div>
    ${c.lastError
      ? html`<div class="camera-error" title="The latest failure of the source or the pipeline (kept after it recovered)">${c.lastError}</div>`
      : null}
    <div class="figs">
      <${Fig} cls="fps-captured" label="captured" value=${c.fpsCaptured == null ? na : `${fmt(c.fpsCaptured)} fps`}
        tip=${`Frames per second decoded from the source${c.captured != null ? ` (${c.captured} in all)` : ''}`} />
      <${Fig} cls="fps-processed" label="processed" value=${c.fpsProcessed == null ? na : `${fmt(c.fpsProcessed)} fps`}
        tip=${`Frames per second that went through the whole pipeline${c.processed != null ? ` (${c.processed} in all)` : ''}`} />
      ${c.detectionMs
        ? html`<${Fig} label="detect" value=${`${fmt(c.detectionMs)} ms`} tip="Mean time from submitting a frame to the detector to its answer (queue, transfer and compute)" />`
        : null}
      ${c.cpuMs
        ? html`<${Fig} label="cpu" value=${`${fmt(c.cpuMs, 2)} ms`} tip="Pipeline CPU time per processed frame (the camera's own threads: decoding, encoding, tracking, rules; inference excluded)" />`
        : null}
    </div>
    <div class="skips" title="Frames not processed, by reason: rate_limit (over the camera's fps), backpressure (too many frames in flight), deadline, decode_error, error">
      skipped: ${skipped.length
        ? skipped.map(([k, v]) => html`<span key=${k} class="skip" data-reason=${k}>${k} <b>${v}</b></span>`)
        : html`<span class="muted">none</span>`}
    </div>
    <div class="figs">
      <${Fig} cls="last-event" label="last event" value=${c.lastEventMs ? when(c.lastEventMs) : 'none'} tip="When this camera's latest event happened" />
      ${c.events != null
        ? html`<${Fig} label="events" value=${c.openEvents ? `${c.events} (${c.openEvents} open)` : c.events} tip="Events this camera raised since it started (open: still active)" />`
        : null}
    </div>
    <div class="buttons">
      <button class="camera-start" disabled=${busy || active} onClick=${() => act('start')}
        title="POST /v1/cameras/{id}/start with the admin token">Start</button>
      <button class="camera-stop" disabled=${busy || !active} onClick=${() => act('stop')}
        title="POST /v1/cameras/{id}/stop with the admin token (open events end)">Stop</button>
      <a class="button-link" href=${`#/pipeline/${seg(c.id)}`} title="The camera's pipeline blocks, counters, zones and lines">Pipeline</a>
      <a class="button-link" href=${`#/events?camera=${seg(c.id)}`} title="This camera's events">Events</a>
    </div>
    <${ErrorBox} error=${error} />
  </article>`;
}

// --- creating a camera

const example = `id: gate-2
group: north
source: {type: file, path: /data/vtest.avi, loop: true, realtime: true}
lines:
  - {name: entry, from: [0, 300], to: [768, 300]}
pipeline:
  - {id: det, block: detect, input: source, type: object, every: 2}
  - {id: people, block: filter, input: det, classes: [person], min_score: 0.4}
  - {id: trk, block: track, input: people}
  - {id: cross, block: line_crossing, input: trk, line: entry, classes: [person]}
`;

// JSON text goes as it is; anything else is read as YAML (the subset the
// cameras file uses, yamlToJson below) and sent as JSON, which is what
// POST /v1/cameras takes. [value, error].
function parseBody(text) {
  const t = text.trim();
  try {
    return t.startsWith('{') ? [JSON.parse(t), ''] : [yamlToJson(t), ''];
  } catch (e) {
    return [null, `${t.startsWith('{') ? 'not valid JSON' : 'not valid YAML'}: ${e.message}`];
  }
}

function NewCamera({ onCreated }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(example);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const [body, why] = parseBody(text);
    if (why) {
      setError(why);
      return;
    }
    setBusy(true);
    setNotice('');
    try {
      const r = await api('POST', 'v1/cameras', body);
      setError('');
      setNotice(`Created camera ${r?.id ?? r?.camera?.id ?? ''}`.trim());
      onCreated();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="new-camera">
    <button id="new-camera-toggle" aria-expanded=${open} aria-controls="new-camera-form" onClick=${() => setOpen(!open)}
      title="Add a camera from its document (the YAML of --cameras, or the same as JSON)">${open ? '▾' : '▸'} New camera</button>
    ${open
      ? html`<form id="new-camera-form" onSubmit=${submit}>
          <label for="camera-doc">One camera (YAML or JSON, as an element of the cameras file's list)</label>
          <div class="doc-row">
            <textarea id="camera-doc" rows="12" spellcheck="false" value=${text}
              aria-invalid=${error ? 'true' : 'false'} aria-describedby="camera-doc-error"
              onInput=${(e) => setText(e.currentTarget.value)}></textarea>
            <div class="doc-side">
              <div id="camera-doc-error" class=${error ? 'error' : 'muted'} role=${error ? 'alert' : undefined}>
                ${error || 'The server validates it and answers with the key at fault.'}</div>
              ${notice ? html`<div class="notice">${notice}</div>` : null}
              <button id="camera-create" type="submit" class="primary" disabled=${busy}
                title="POST /v1/cameras with the admin token">Create</button>
            </div>
          </div>
        </form>`
      : null}
  </section>`;
}

// --- the page

export function Cameras() {
  const [cameras, setCameras] = useState(null);
  const [error, setError] = useState('');
  const [filter, setFilter] = useState('');
  const [collapsed, setCollapsed] = useState(() => new Set());
  const rates = useRef(new Map());
  const seq = useRef(0);
  const tick = useTick(kThumbMs);
  const load = async () => {
    const mine = ++seq.current;
    try {
      const r = await api('GET', 'v1/cameras');
      if (mine !== seq.current) return;
      setCameras(withRates(camerasOf(r), rates.current));
      setError('');
    } catch (e) {
      if (mine === seq.current) setError(`Cameras unavailable — ${e.message}`);
    }
  };
  useEffect(() => {
    load();
    const timer = setInterval(load, kPollMs);
    // A live event moves its camera's "last event" at once.
    const off = onCameraEvent((e) => {
      const t = e.updated_ms ?? e.start_ms;
      setCameras((list) => list && list.map((c) => (c.id === e.camera && (c.lastEventMs ?? 0) < t ? { ...c, lastEventMs: t } : c)));
    });
    return () => {
      clearInterval(timer);
      off();
      seq.current++;
    };
  }, []);
  const q = filter.trim().toLowerCase();
  const shown = (cameras || []).filter((c) => !q || c.id.toLowerCase().includes(q) || c.group.toLowerCase().includes(q) || c.sourceType.includes(q));
  const groups = new Map();
  for (const c of [...shown].sort((a, b) => a.id.localeCompare(b.id))) {
    if (!groups.has(c.group)) groups.set(c.group, []);
    groups.get(c.group).push(c);
  }
  const names = [...groups.keys()].sort((a, b) => (a === '') - (b === '') || a.localeCompare(b));
  const running = (cameras || []).filter((c) => c.phase === 'running').length;
  const toggle = (g) =>
    setCollapsed((s) => {
      const next = new Set(s);
      if (next.has(g)) next.delete(g);
      else next.add(g);
      return next;
    });
  return html`<div class="page cameras">
    <div class="toolbar">
      <span class="summary">
        <${Fig} label="cameras" value=${cameras ? cameras.length : '…'} tip="Cameras the server knows (from --cameras and the API)" />
        <${Fig} label="running" value=${running} tip="Cameras whose source is delivering frames" />
        <${Fig} label="groups" value=${names.length} tip="Camera groups shown" />
      </span>
      ${settings.token ? null : html`<span class="muted" title="Set the admin token in the settings (top right)">changes need the admin token (settings)</span>`}
      <input id="cameras-filter" type="search" placeholder="filter: camera, group, source" value=${filter}
        onInput=${(e) => setFilter(e.currentTarget.value)} aria-label="Filter cameras"
        title="Show only cameras whose id, group or source type contain this text" />
    </div>
    <${NewCamera} onCreated=${load} />
    <${ErrorBox} error=${error} />
    ${cameras && cameras.length === 0 ? html`<p class="muted">No camera yet: start the server with --cameras FILE, or create one above.</p>` : null}
    ${cameras === null && !error ? html`<p class="muted">Loading the cameras…</p>` : null}
    ${names.map((g) => {
      const list = groups.get(g);
      const closed = collapsed.has(g);
      const up = list.filter((c) => c.phase === 'running').length;
      return html`<section key=${g || '-'} class="camera-group" data-group=${g}>
        <h3><button class="group-toggle" aria-expanded=${!closed} onClick=${() => toggle(g)}
          title=${closed ? 'Show the cameras of this group' : 'Hide the cameras of this group'}>
          ${closed ? '▸' : '▾'} ${g || 'no group'} <span class="muted">${up}/${list.length} running</span></button></h3>
        ${closed
          ? null
          : html`<div class="camera-grid">
              ${list.map((c) => html`<${CameraCard} key=${c.id} c=${c} tick=${tick} onChanged=${load} />`)}
            </div>`}
      </section>`;
    })}
  </div>`;
}

// --- YAML

// A camera document typed as YAML, as JSON: the subset the cameras file
// uses (block mappings and sequences, flow [..] and {..} spanning lines,
// quoted and plain scalars, comments; no anchors, tags or multi-line
// scalars). The server validates the result; a syntax error here names the
// line. Scalars read as the server's YAML reader reads them: true/false,
// null/~, numbers, else strings.
export function yamlToJson(text) {
  const lines = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = stripComment(raw);
    if (!body.trim()) return;
    if (/^\s*\t/.test(body)) throw new Error(`line ${i + 1}: tabs cannot indent YAML`);
    lines.push({ n: i + 1, indent: body.length - body.trimStart().length, text: body.trim() });
  });
  if (!lines.length) throw new Error('the document is empty');
  let at = 0;
  const fail = (line, why) => { throw new Error(`line ${line.n}: ${why}`); };
  // A flow value may continue on the next lines until its brackets close.
  const joined = (first, line) => {
    let s = first;
    while (depth(s) > 0 && at < lines.length) s += ' ' + lines[at++].text;
    if (depth(s) !== 0) fail(line, 'unbalanced [ ] or { }');
    return s;
  };
  const isItem = (l) => l.text === '-' || l.text.startsWith('- ');
  const block = (indent) => {
    const first = lines[at];
    if (isItem(first)) return seq(indent);
    return map(indent);
  };
  const seq = (indent) => {
    const out = [];
    while (at < lines.length && lines[at].indent === indent && isItem(lines[at])) {
      const line = lines[at];
      const rest = line.text.slice(1).trimStart();
      if (!rest) {
        at++;
        out.push(at < lines.length && lines[at].indent > indent ? block(lines[at].indent) : null);
      } else if (keyOf(rest) !== null && !/^[[{"']/.test(rest)) {
        // "- key: value": a mapping whose first key sits after the dash.
        lines[at] = { n: line.n, indent: indent + (line.text.length - rest.length), text: rest };
        out.push(map(lines[at].indent));
      } else {
        at++;
        out.push(flow(joined(rest, line), line));
      }
    }
    return out;
  };
  const map = (indent) => {
    const out = {};
    while (at < lines.length && lines[at].indent === indent && !isItem(lines[at])) {
      const line = lines[at];
      const k = keyOf(line.text);
      if (k === null) fail(line, `expected "key: value", got "${line.text}"`);
      const key = unquote(k.key);
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(line, `key "${key}" appears twice`);
      at++;
      if (k.rest) out[key] = flow(joined(k.rest, line), line);
      else if (at < lines.length && (lines[at].indent > indent || (lines[at].indent === indent && isItem(lines[at])))) out[key] = block(lines[at].indent);
      else out[key] = null;
    }
    return out;
  };
  const value = block(lines[0].indent);
  if (at < lines.length) fail(lines[at], 'indentation does not match the lines above');
  return value;
}

function stripComment(s) {
  let q = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) { if (c === q) q = ''; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i);
  }
  return s;
}

function depth(s) {
  let d = 0;
  let q = '';
  for (const c of s) {
    if (q) { if (c === q) q = ''; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') d++;
    else if (c === ']' || c === '}') d--;
  }
  return d;
}

// "key: rest" (rest may be ''), or null when the text is not a key.
function keyOf(s) {
  let q = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) { if (c === q) q = ''; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') return null;
    else if (c === ':' && (i + 1 === s.length || s[i + 1] === ' ')) return { key: s.slice(0, i).trim(), rest: s.slice(i + 1).trim() };
  }
  return null;
}

function unquote(s) {
  if (s.length >= 2 && s[0] === '"' && s.endsWith('"')) return JSON.parse(s);
  if (s.length >= 2 && s[0] === "'" && s.endsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

function scalar(s) {
  if (/^["']/.test(s)) return unquote(s);
  if (s === 'true' || s === 'True') return true;
  if (s === 'false' || s === 'False') return false;
  if (s === '' || s === 'null' || s === '~') return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

// A flow value: [a, b], {k: v}, a quoted or plain scalar.
function flow(text, line) {
  let i = 0;
  const fail = (why) => { throw new Error(`line ${line.n}: ${why} in "${text}"`); };
  const ws = () => { while (i < text.length && text[i] === ' ') i++; };
  const plain = (stops) => {
    ws();
    const q = text[i];
    if (q === '"' || q === "'") {
      let j = i + 1;
      for (; j < text.length; j++) {
        if (q === '"' && text[j] === '\\') j++;
        else if (q === "'" && text[j] === "'" && text[j + 1] === "'") j++;
        else if (text[j] === q) break;
      }
      if (j >= text.length) fail('an unclosed quote');
      const s = text.slice(i, j + 1);
      i = j + 1;
      return s;
    }
    const start = i;
    while (i < text.length && !stops.includes(text[i]) && !(text[i] === ':' && stops.includes(':') && (text[i + 1] === ' ' || text[i + 1] === undefined || ',}'.includes(text[i + 1])))) i++;
    return text.slice(start, i).trim();
  };
  const node = (stops) => {
    ws();
    if (text[i] === '[') {
      i++;
      const out = [];
      ws();
      if (text[i] === ']') { i++; return out; }
      for (;;) {
        out.push(node(',]'));
        ws();
        if (text[i] === ',') { i++; ws(); if (text[i] === ']') { i++; return out; } continue; }
        if (text[i] === ']') { i++; return out; }
        fail('expected , or ]');
      }
    }
    if (text[i] === '{') {
      i++;
      const out = {};
      ws();
      if (text[i] === '}') { i++; return out; }
      for (;;) {
        const key = unquote(plain(':,}'));
        ws();
        if (text[i] !== ':') fail(`expected ":" after "${key}"`);
        i++;
        out[key] = node(',}');
        ws();
        if (text[i] === ',') { i++; ws(); if (text[i] === '}') { i++; return out; } continue; }
        if (text[i] === '}') { i++; return out; }
        fail('expected , or }');
      }
    }
    return scalar(plain(stops));
  };
  const v = node('');
  ws();
  if (i < text.length) fail(`unexpected "${text.slice(i)}"`);
  return v;
}
