// History: request rate and p95 per type, busy ratio per device, and busy ratio
// and CPU per node group, either
// from the live tail kept in the browser or over a time range from Prometheus
// (GET /v1/history/query_range), which keeps them across server restarts.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { store } from '../store.js';
import { ErrorBox } from '../ui.js';

const ranges = [
  ['live', 'live', 0],
  ['15m', 'last 15 min', 15 * 60],
  ['1h', 'last 1 h', 3600],
  ['6h', 'last 6 h', 6 * 3600],
  ['24h', 'last 24 h', 24 * 3600],
];

// PromQL per chart; W is the rate window (at least a minute, two steps).
export const queries = {
  rate: (w) => `sum by (model) (rate(heteroaccel_server_requests_total[${w}]))`,
  p95: (w) =>
    `1000 * histogram_quantile(0.95, sum by (model, le) (rate(heteroaccel_server_request_seconds_bucket[${w}])))`,
  busy: (w) =>
    `sum by (node, device) (rate(heteroaccel_device_busy_seconds_total[${w}])) / sum by (node, device) (heteroaccel_device_slots)`,
  // Per group: the `group` label service discovery puts on each agent's series (the
  // group the node reports; groups assigned on the server are in `groups`).
  groupBusy: (w) =>
    `sum by (group) (rate(heteroaccel_device_busy_seconds_total[${w}])) / sum by (group) (heteroaccel_device_slots)`,
  groupCpu: (w) => `avg by (group) (avg_over_time(heteroaccel_node_cpu_utilisation_ratio[${w}]))`,
};

const charts = [
  ['rate', 'Request rate per type', 'req/s', 'Requests answered per second, per inference type'],
  ['p95', 'p95 latency per type', 'ms', 'p95 of the time from arrival at the server to the answer, per inference type, in ms'],
  ['busy', 'Busy ratio per device', 'ratio', 'Share of the time the device\'s slots spent computing (busy seconds / (time × slots)), per node/device'],
  ['groupBusy', 'Busy ratio per group', 'ratio', 'Busy ratio of the devices of each node group (slot-weighted from Prometheus; the mean of the up devices live)'],
  ['groupCpu', 'Node CPU per group', 'ratio', 'Mean CPU utilisation of the nodes of each group, as their agents measure it'],
];

function seriesLabel(metric) {
  if (metric.model) return metric.model;
  if ('group' in metric && metric.node === undefined) return metric.group || '(no group)';
  if (metric.node || metric.device) return `${metric.node ?? '?'}/${metric.device ?? '?'}`;
  return Object.values(metric).join('/') || 'value';
}

// Prometheus matrix -> {keys, data} for uPlot (a shared time axis).
function toTable(result) {
  const times = new Set();
  for (const s of result) for (const [t] of s.values) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const keys = [];
  const cols = [];
  const sorted = [...result].sort((a, b) => (seriesLabel(a.metric) < seriesLabel(b.metric) ? -1 : 1));
  for (const s of sorted.slice(0, 32)) {
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.values) {
      const n = Number(v);
      col[index.get(t)] = Number.isFinite(n) ? n : null;
    }
    keys.push(seriesLabel(s.metric));
    cols.push(col);
  }
  return { keys, data: [xs, ...cols] };
}

async function fetchRange(seconds) {
  const end = Math.floor(Date.now() / 1000);
  const start = end - seconds;
  const step = Math.max(5, Math.round(seconds / 240));
  const w = `${Math.max(60, 2 * step)}s`;
  const out = {};
  await Promise.all(
    Object.entries(queries).map(async ([name, q]) => {
      const params = new URLSearchParams({ query: q(w), start, end, step });
      const r = await api('GET', `v1/history/query_range?${params}`);
      out[name] = toTable(r?.data?.result || []);
    }),
  );
  out.range = [start, end];
  return out;
}

function RangeCharts({ range }) {
  const [tables, setTables] = useState(null);
  const [error, setError] = useState('');
  const [version, setVersion] = useState(0);
  const seconds = ranges.find((r) => r[0] === range)[2];
  useEffect(() => {
    let live = true;
    const load = () =>
      fetchRange(seconds)
        .then((t) => live && (setTables(t), setError(''), setVersion((v) => v + 1)))
        .catch((e) => live && (setTables(null), setError(`History unavailable — ${e.message}`)));
    load();
    const timer = setInterval(load, 30000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [range]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!tables) return html`<p class="muted">Asking Prometheus…</p>`;
  return charts.map(([name, title, unit, tip]) => {
    const t = tables[name];
    return html`<${Chart} key=${name + range} title=${`${title} (${range}, Prometheus)`}
      tip=${`${tip}; from Prometheus, ${ranges.find((r) => r[0] === range)[1]}`}
      keys=${t.keys} unit=${unit} version=${version} data=${() => t.data} xRange=${tables.range} />`;
  });
}

function LiveCharts() {
  const { rate, p95, busy, groupBusy, groupCpu } = store.tables;
  const busyKeys = busy.keys().slice(0, 24);
  const sets = {
    rate: [rate, rate.keys()],
    p95: [p95, p95.keys()],
    busy: [busy, busyKeys],
    groupBusy: [groupBusy, groupBusy.keys()],
    groupCpu: [groupCpu, groupCpu.keys()],
  };
  return charts.map(([name, title, unit, tip]) => {
    const [table, keys] = sets[name];
    return html`<${Chart} key=${name + 'live'} title=${`${title} (live)`}
      tip=${`${tip}; sampled every second from the stream since this page was opened (last 10 min)${name === 'busy' ? '; the first 24 devices' : ''}`}
      keys=${keys} unit=${unit} version=${table.version} data=${() => table.data(keys)} />`;
  });
}

export function History({ state }) {
  const [range, setRange] = useState('live');
  return html`<div class="page history">
    <div class="toolbar ranges">
      ${ranges.map(([id, label]) => html`<button key=${id} data-range=${id}
        class=${id === range ? 'active' : ''} onClick=${() => setRange(id)}
        title=${id === 'live' ? 'The live tail kept in the browser from the stream' : `From Prometheus: ${label}`}>${label}</button>`)}
      ${state.server?.prometheus === false
        ? html`<span class="muted" title="The server was started without --prometheus">no Prometheus configured</span>`
        : null}
    </div>
    <div class="chart-grid">
      ${range === 'live' ? html`<${LiveCharts} />` : html`<${RangeCharts} range=${range} />`}
    </div>
  </div>`;
}
