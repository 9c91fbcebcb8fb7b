// Services: per inference type, the request rate, latency percentiles split
// into queue / transfer / compute, errors by status, the live routing split
// (which node/device/variant served what share) and a live chart of rate and
// p95 kept in the browser from the stream.
import { html } from 'htm/preact';
import { Chart } from '../chart.js';
import { store } from '../store.js';
import { Fig, fmt, palette, pct, pure } from '../ui.js';

const parts = [
  ['total', 'from arrival at the server to the answer'],
  ['queue', "waiting in the server's queue and on the device"],
  ['transfer', 'network and protocol between the server and the agent'],
  ['compute', 'decode, pre-process, forward pass and post-process on the device'],
];
const quantiles = ['p50', 'p95', 'p99'];
const errorTips = {
  429: 'queues full (Retry-After)',
  500: 'the model failed',
  503: 'unavailable (no device, node lost)',
  504: 'deadline exceeded',
};

function LatencyTable({ type, latency }) {
  return html`<table class="latency">
    <thead><tr><th title="Part of the request's time">ms</th>
      ${quantiles.map((q) => html`<th key=${q} title=${`${q} over the requests answered in the last 10 s`}>${q}</th>`)}</tr></thead>
    <tbody>
      ${parts.map(([part, what]) => html`<tr key=${part}>
        <th title=${`${part}: ${what}`}>${part}</th>
        ${quantiles.map((q, i) => html`<td key=${q}
          title=${`${type}: ${q} of the ${part} time (${what}) over the last 10 s, in ms`}
          >${fmt(latency?.[part]?.[i])}</td>`)}
      </tr>`)}
    </tbody>
  </table>`;
}

// The largest shares one by one, the rest (big fleets) as one grey "others".
const kSegments = 24;
const kLegend = 12;

function SplitBar({ type, split }) {
  const entries = Object.entries(split || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return html`<div class="split muted" title=${`No ${type} request answered in the last 10 s`}>no traffic</div>`;
  // Colours by the routes' names in order, so they hold while shares reorder.
  const order = Object.keys(split).sort();
  const colour = (key) => palette[order.indexOf(key) % palette.length];
  const tip = (key, share) => `${key} (node/device/variant) served ${pct(share, 1)} of the ${type} requests answered in the last 10 s`;
  const rest = entries.slice(kSegments);
  const restShare = rest.reduce((sum, [, v]) => sum + v, 0);
  const legendRest = entries.slice(kLegend);
  return html`<div class="split">
    <div class="split-bar" data-type=${type}>
      ${entries.slice(0, kSegments).map(([key, share]) => html`<span key=${key} class="split-seg"
        style=${{ width: `${share * 100}%`, background: colour(key) }} title=${tip(key, share)}></span>`)}
      ${rest.length
        ? html`<span class="split-seg split-others" style=${{ width: `${restShare * 100}%` }}
            title=${`${rest.length} other node/device/variant routes served ${pct(restShare, 1)} of the ${type} requests answered in the last 10 s`}></span>`
        : null}
    </div>
    <ul class="split-legend">
      ${entries.slice(0, kLegend).map(([key, share]) => html`<li key=${key} title=${tip(key, share)}>
        <span class="swatch" style=${{ background: colour(key) }}></span>${key} <b>${pct(share, 1)}</b></li>`)}
      ${legendRest.length
        ? html`<li class="muted" title="Routes with smaller shares, not listed one by one">
            ${legendRest.length} more: <b>${pct(legendRest.reduce((sum, [, v]) => sum + v, 0), 1)}</b></li>`
        : null}
    </ul>
  </div>`;
}

const ServiceCard = pure(function ServiceCard({ type, svc }) {
  const errors = Object.entries(svc.errors || {}).sort();
  return html`<section class="service-card" data-type=${type}>
    <header><h3 title=${`Inference type ${type}`}>${type}</h3>
      <${Fig} label="rate" value=${`${fmt(svc.rate)}/s`} tip=${`${type} requests answered per second over the last 10 s`} />
      <${Fig} label="queued" value=${svc.queued ?? 'n/a'} tip=${`${type} requests waiting in the server's queue now`} />
    </header>
    <${LatencyTable} type=${type} latency=${svc.latency_ms} />
    <div class="errors">
      ${errors.length
        ? errors.map(([code, v]) => html`<${Fig} key=${code} cls=${v > 0 ? 'bad' : ''} label=${code}
            value=${`${fmt(v, 2)}/s`} tip=${`${type} answers with HTTP ${code} (${errorTips[code] || 'error'}) per second over the last 10 s`} />`)
        : html`<span class="muted">no errors</span>`}
    </div>
    <h4 title="Which node/device/variant answered what share of the last 10 s">routing split</h4>
    <${SplitBar} type=${type} split=${svc.split} />
  </section>`;
});

function column(table, key) {
  return table.cols.get(key) ?? new Array(table.t.length).fill(null);
}

export function Services({ state }) {
  const services = state.services || {};
  const types = Object.keys(services).sort();
  const { rate, p95 } = store.tables;
  return html`<div class="page services">
    ${types.length === 0 ? html`<p class="muted">No inference type is served yet.</p>` : null}
    <div class="service-grid">
      ${types.map((t) => html`<div class="service" key=${t}>
        <${ServiceCard} type=${t} svc=${services[t]} />
        <${Chart} title=${`${t}: rate and p95, live`}
          tip=${`${t}: requests per second (left axis) and p95 of the total latency in ms (right axis), sampled every second from the stream since this page was opened (last 10 min)`}
          keys=${['rate', 'p95']} labels=${{ rate: `${t} req/s`, p95: `${t} p95 ms` }}
          scales=${{ rate: 'y', p95: 'y2' }} unit="req/s" unit2="ms" height=${150}
          version=${rate.version}
          data=${() => [rate.t, column(rate, t), column(p95, t)]} />
      </div>`)}
    </div>
  </div>`;
}
