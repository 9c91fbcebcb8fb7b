// Events: what the cameras' rules raised (GET /v1/events), newest first: when,
// camera and group, type, object and its colour, track, zone or line,
// duration (or how long it has been active), where its inference ran, and the
// snapshot (click: the full picture). Filters (camera, group, type, time
// range, active only) become the query's parameters; "Load more" follows
// next_cursor. Live: each `camera_event` of the stream that matches the
// filters is put on top, or replaces the row of the same event id.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, imageUrl, seg } from '../api.js';
import { onCameraEvent, store } from '../store.js';
import { ErrorBox, Fig, clock, fmt, na, pure } from '../ui.js';
import { camerasOf } from './cameras.js';

export const eventTypes = ['intrusion', 'loitering', 'line_crossing', 'crowding', 'abandoned', 'parking', 'fall', 'licence_plate'];
const kPage = 50;
const kKept = 1000; // rows held at most (live ones included)

// CSS colours for the palette's names (pipeline/attributes/colour.h).
const swatches = {
  black: '#111', white: '#fff', grey: '#8a8a8a', red: '#d22', orange: '#f08a00', yellow: '#f2d600',
  green: '#2a2', cyan: '#1cc', blue: '#2357d8', purple: '#8a3fc8', pink: '#f07ab8', brown: '#8b5a2b',
};

// Filters <-> the hash's query (#/events?camera=gate-1&active=1) and the API's.
function filtersFromHash() {
  const q = new URLSearchParams((location.hash.split('?')[1] || ''));
  return {
    camera: q.get('camera') || '',
    group: q.get('group') || '',
    type: q.get('type') || '',
    since: q.get('since') || '',
    until: q.get('until') || '',
    active: q.get('active') === '1',
  };
}

function toMs(local) {
  if (!local) return null;
  const t = new Date(local).getTime();
  return Number.isFinite(t) ? t : null;
}

function query(f, cursor) {
  const q = new URLSearchParams();
  if (f.camera) q.set('camera', f.camera);
  if (f.group) q.set('group', f.group);
  if (f.type) q.set('type', f.type);
  const since = toMs(f.since);
  const until = toMs(f.until);
  if (since != null) q.set('since', String(since));
  if (until != null) q.set('until', String(until));
  if (f.active) q.set('active', '1');
  q.set('limit', String(kPage));
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

function hashOf(f) {
  const q = new URLSearchParams();
  for (const k of ['camera', 'group', 'type', 'since', 'until']) if (f[k]) q.set(k, f[k]);
  if (f.active) q.set('active', '1');
  const s = q.toString();
  return s ? `#/events?${s}` : '#/events';
}

export function matches(f, e) {
  if (f.camera && e.camera !== f.camera) return false;
  if (f.group && e.group !== f.group) return false;
  if (f.type && e.type !== f.type) return false;
  const since = toMs(f.since);
  const until = toMs(f.until);
  if (since != null && !(e.start_ms >= since)) return false;
  if (until != null && !(e.start_ms < until)) return false;
  if (f.active && e.phase !== 'active') return false;
  return true;
}

function duration(e, now) {
  if (e.phase === 'active') {
    const s = (now - e.start_ms) / 1000;
    return [`active ${s >= 0 ? fmt(s, 0) : 0} s`, 'Still active: time since it started'];
  }
  if (e.end_ms != null && e.start_ms != null) {
    return [`${fmt((e.end_ms - e.start_ms) / 1000)} s`, `Ended at ${new Date(e.end_ms).toISOString()}`];
  }
  if (e.end_time != null && e.start_time != null) return [`${fmt(e.end_time - e.start_time)} s`, 'Duration on the camera\'s time line'];
  return [na, ''];
}

const Row = pure(function Row({ e, now, onOpen, fresh }) {
  const [dur, durTip] = duration(e, now);
  const p = e.provenance || {};
  const colour = e.colour || '';
  const where = [e.zone, e.direction].filter(Boolean).join(' · ');
  return html`<tr class=${'event phase-' + e.phase + (fresh ? ' fresh' : '')} data-event-id=${e.id} data-camera=${e.camera}>
    <td title=${e.start_ms != null ? new Date(e.start_ms).toISOString() : ''}>${clock(e.start_ms)}<br /><small class="muted">${e.start_ms != null ? new Date(e.start_ms).toLocaleDateString() : ''}</small></td>
    <td title="Camera (and its group)"><a href=${`#/pipeline/${seg(e.camera)}`}>${e.camera}</a>${e.group ? html`<br /><small class="muted">${e.group}</small>` : ''}</td>
    <td class="event-type" title=${`Event type, raised by rule block "${e.rule}"`}>${e.type}${e.text ? html`<br /><small>${e.text}</small>` : ''}${e.count ? html`<br /><small>${e.count} objects</small>` : ''}</td>
    <td title="Object class">${e.object || na}</td>
    <td class="colour" title="Dominant colour of the object">${colour
      ? html`<span class="swatch" style=${`background:${swatches[colour] || colour}`}></span>${colour}`
      : html`<span class="muted">${na}</span>`}</td>
    <td title="Track id on the camera (0: an event about a zone, not one object)">${e.track_id ? `#${e.track_id}` : '—'}</td>
    <td title="Zone or line (and the crossing's direction)">${where || '—'}</td>
    <td class="duration" title=${durTip}>${dur}</td>
    <td class="provenance" title=${`The detection behind the event ran on ${p.node || '?'}/${p.device || '?'}, variant ${p.variant || '?'}: ${fmt(p.queue_ms, 1)} ms queued, ${fmt(p.compute_ms, 1)} ms computing`}>
      ${p.node ? html`${p.node}/${p.device}<br /><small>${p.variant} · q ${fmt(p.queue_ms, 0)} / c ${fmt(p.compute_ms, 0)} ms</small>` : html`<span class="muted">${na}</span>`}</td>
    <td class="snap">${e.snapshot_url
      ? html`<button class="snap-open" onClick=${() => onOpen(e)} title="Show the snapshot full size" aria-label=${`Snapshot of event ${e.id}`}>
          <img src=${imageUrl(e.snapshot_url, e.updated_ms)} alt="" loading="lazy" decoding="async" /></button>`
      : html`<span class="muted">none</span>`}</td>
  </tr>`;
});

function Viewer({ e, onClose }) {
  const ref = useRef(null);
  useEffect(() => {
    ref.current?.focus();
    const key = (k) => k.key === 'Escape' && onClose();
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);
  return html`<div class="overlay" role="dialog" aria-modal="true" aria-label=${`Snapshot of ${e.id}`} onClick=${onClose}>
    <figure onClick=${(x) => x.stopPropagation()}>
      <img src=${imageUrl(e.snapshot_url, e.updated_ms)} alt=${`Snapshot of ${e.type} on ${e.camera}`} />
      <figcaption>${e.type} · ${e.camera} · ${e.object || ''} ${e.track_id ? `#${e.track_id}` : ''} · ${clock(e.start_ms)}
        <button ref=${ref} class="overlay-close" onClick=${onClose}>Close</button></figcaption>
    </figure>
  </div>`;
}

export function Events() {
  const [f, setF] = useState(filtersFromHash);
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(null);
  const [cameras, setCameras] = useState([]);
  const [live, setLive] = useState(0);
  const [now, setNow] = useState(Date.now());
  const fresh = useRef(new Set());
  const seq = useRef(0);
  const filters = useRef(f);
  filters.current = f;

  // mode: 'first' (a new first page), 'more' (the next page, below) or
  // 'refresh' (the first page again, merged: after the stream missed events).
  const load = async (mode = 'first') => {
    const mine = ++seq.current;
    setBusy(true);
    try {
      const r = await api('GET', `v1/events?${query(filters.current, mode === 'more' ? cursor : '')}`);
      if (mine !== seq.current) return;
      const list = Array.isArray(r?.events) ? r.events : [];
      setRows((old) => {
        if (mode === 'first' || !old) return list.slice(0, kKept);
        if (mode === 'more') {
          const have = new Set(old.map((e) => e.id));
          return old.concat(list.filter((e) => !have.has(e.id))).slice(0, kKept);
        }
        const fresh = new Set(list.map((e) => e.id));
        return list.concat(old.filter((e) => !fresh.has(e.id))).slice(0, kKept);
      });
      if (mode !== 'refresh') setCursor(r?.next_cursor || '');
      setError('');
    } catch (e) {
      if (mine === seq.current) setError(`Events unavailable — ${e.message}`);
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  };

  // A new filter: a new first page (and the hash says it, to share or reload).
  const key = JSON.stringify(f);
  useEffect(() => {
    const h = hashOf(f);
    if (location.hash !== h) history.replaceState(null, '', h);
    fresh.current.clear();
    const timer = setTimeout(() => load('first'), 150);
    return () => clearTimeout(timer);
  }, [key]);

  useEffect(() => {
    api('GET', 'v1/cameras').then((r) => setCameras(camerasOf(r))).catch(() => {});
    const off = onCameraEvent((e) => {
      setRows((old) => {
        if (!old) return old;
        const i = old.findIndex((x) => x.id === e.id);
        if (i >= 0) {
          const next = old.slice();
          next[i] = e;
          return next;
        }
        if (!matches(filters.current, e)) return old;
        fresh.current.add(e.id);
        setLive((n) => n + 1);
        return [e, ...old].slice(0, kKept);
      });
    });
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      off();
      clearInterval(timer);
      seq.current++;
    };
  }, []);

  // A new snapshot after the first (the stream could not resume): events
  // streamed meanwhile were missed; the first page brings them.
  const snapshots = store.snapshots;
  const seenSnapshots = useRef(snapshots);
  useEffect(() => {
    if (snapshots > seenSnapshots.current && rows) load('refresh');
    seenSnapshots.current = snapshots;
  }, [snapshots]);

  const set = (k, v) => setF((old) => ({ ...old, [k]: v }));
  const groups = [...new Set(cameras.map((c) => c.group).filter(Boolean))].sort();
  const activeCount = (rows || []).filter((e) => e.phase === 'active').length;
  return html`<div class="page events">
    <form class="toolbar event-filters" onSubmit=${(e) => { e.preventDefault(); load('first'); }} aria-label="Event filters">
      <label title="Only this camera's events">camera
        <select id="ev-camera" value=${f.camera} onChange=${(e) => set('camera', e.currentTarget.value)}>
          <option value="">any</option>
          ${[...new Set([...cameras.map((c) => c.id), f.camera].filter(Boolean))].sort().map((id) => html`<option key=${id} value=${id}>${id}</option>`)}
        </select></label>
      <label title="Only the events of cameras in this group">group
        <select id="ev-group" value=${f.group} onChange=${(e) => set('group', e.currentTarget.value)}>
          <option value="">any</option>
          ${[...new Set([...groups, f.group].filter(Boolean))].map((g) => html`<option key=${g} value=${g}>${g}</option>`)}
        </select></label>
      <label title="Only events of this type">type
        <select id="ev-type" value=${f.type} onChange=${(e) => set('type', e.currentTarget.value)}>
          <option value="">any</option>
          ${eventTypes.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
        </select></label>
      <label title="Events that started at or after this time (your local time)">from
        <input id="ev-since" type="datetime-local" step="1" value=${f.since} onChange=${(e) => set('since', e.currentTarget.value)} /></label>
      <label title="Events that started before this time (your local time)">to
        <input id="ev-until" type="datetime-local" step="1" value=${f.until} onChange=${(e) => set('until', e.currentTarget.value)} /></label>
      <label class="toggle" title="Only events still active (not ended)">
        <input id="ev-active" type="checkbox" checked=${f.active} onChange=${(e) => set('active', e.currentTarget.checked)} /> active only</label>
      <button type="button" id="ev-clear" onClick=${() => setF({ camera: '', group: '', type: '', since: '', until: '', active: false })}
        title="Show every event">clear</button>
      <span class="summary">
        <${Fig} label="shown" value=${rows ? rows.length : '…'} tip="Events listed here" />
        <${Fig} label="active" value=${activeCount} tip="Listed events still active" />
        <${Fig} cls="live-count" label="live" value=${live} tip="Events added from the live stream since the page was opened" />
        <${Fig} label="stream" value=${store.status} tip="The live stream's state: new events arrive while it is live" />
      </span>
    </form>
    <${ErrorBox} error=${error} />
    <div class="table-wrap">
      <table class="events-table">
        <thead><tr>
          <th scope="col" title="When it started">time</th><th scope="col" title="Camera and group">camera</th>
          <th scope="col" title="Event type">type</th><th scope="col" title="Object class">object</th>
          <th scope="col" title="Dominant colour">colour</th><th scope="col" title="Track id">track</th>
          <th scope="col" title="Zone or line">zone/line</th><th scope="col" title="Duration, or active for">duration</th>
          <th scope="col" title="Where the detection ran: node/device, variant, queue and compute ms">provenance</th>
          <th scope="col" title="The best snapshot (click to enlarge)">snapshot</th>
        </tr></thead>
        <tbody>
          ${(rows || []).map((e) => html`<${Row} key=${e.id} e=${e} now=${e.phase === 'active' ? now : 0} onOpen=${setOpen} fresh=${fresh.current.has(e.id)} />`)}
        </tbody>
      </table>
    </div>
    ${rows && rows.length === 0 ? html`<p class="muted">No event matches these filters yet.</p>` : null}
    <div class="buttons more">
      <button id="ev-more" disabled=${busy || !cursor} onClick=${() => load('more')}
        title=${cursor ? 'The next page of older events' : 'No older event'}>${busy ? 'Loading…' : cursor ? 'Load more' : 'No more'}</button>
    </div>
    ${open ? html`<${Viewer} e=${open} onClose=${() => setOpen(null)} />` : null}
  </div>`;
}
