// Small building blocks shared by the pages. Every figure shown carries a
// tooltip (title) saying exactly what it is.
import { Component } from 'preact';
import { html } from 'htm/preact';

// A component that re-renders only when one of its props changed identity.
export function pure(render, name) {
  class Pure extends Component {
    shouldComponentUpdate(next) {
      const prev = this.props;
      for (const k in next) if (next[k] !== prev[k]) return true;
      for (const k in prev) if (!(k in next)) return true;
      return false;
    }
    render(props) {
      return render(props);
    }
  }
  Pure.displayName = name || render.name;
  return Pure;
}

export const na = 'n/a';

export function fmt(v, digits = 1) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return na;
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return v.toFixed(digits);
}

export function pct(v, digits = 0) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return na;
  return `${(v * 100).toFixed(digits)}%`;
}

export function bytes(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return na;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function when(ms) {
  if (typeof ms !== 'number') return na;
  const d = new Date(ms);
  return d.toLocaleString(undefined, { hour12: false });
}

export function clock(ms) {
  if (typeof ms !== 'number') return na;
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

// A labelled figure with its tooltip.
export function Fig({ label, value, tip, cls }) {
  return html`<span class=${cls ? 'fig ' + cls : 'fig'} title=${tip}>${label} <b>${value}</b></span>`;
}

// A horizontal bar for a ratio in [0, 1].
export function Bar({ ratio, tip }) {
  const r = typeof ratio === 'number' && Number.isFinite(ratio) ? Math.max(0, Math.min(1, ratio)) : null;
  const level = r === null ? 'none' : r > 0.85 ? 'hot' : r > 0.6 ? 'warm' : 'ok';
  return html`<span class=${'bar bar-' + level} title=${tip}
    ><span class="bar-fill" style=${`width:${(r ?? 0) * 100}%`}></span
    ><span class="bar-text">${r === null ? na : pct(r)}</span></span
  >`;
}

export const palette = [
  '#2f6fdf', '#e0762b', '#2ca25f', '#c43c6b', '#7b55c7', '#1f9bb4', '#b38b00', '#5c6b7a',
  '#d44e3a', '#3f9e8f', '#a05cb8', '#6d8f2e',
];
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${error}</div>`;
}
