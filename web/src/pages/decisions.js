// Decisions: the last bindings, newest first (candidates with their predicted
// finish, the winner, predicted against actual, outcome), and per
// (device, type) the scheduler's prediction error over time.
import { html } from 'htm/preact';
import { Chart } from '../chart.js';
import { store } from '../store.js';
import { Fig, clock, fmt, pct, pure } from '../ui.js';

const Row = pure(function Row({ d }) {
  const candidates = [...(d.candidates || [])].sort((a, b) => a.predicted_ms - b.predicted_ms);
  const error = d.actual_ms != null && d.predicted_ms ? (d.actual_ms - d.predicted_ms) / d.predicted_ms : null;
  const outcome = d.outcome ?? 'running';
  return html`<tr class=${'decision outcome-' + outcome} data-id=${d.id}>
    <td title=${`Bound at ${new Date(d.time_ms).toISOString()}`}>${clock(d.time_ms)}</td>
    <td title="Request number, and the attempt (retries bind again)">#${d.id}${d.attempt > 1 ? html` <span class="retry">try ${d.attempt}</span>` : ''}</td>
    <td title="Inference type">${d.type}</td>
    <td class="candidates">
      ${candidates.map((c) => html`<span key=${c.device} class=${'cand' + (c.device === d.winner ? ' win' : '')}
        title=${`${c.device} (${c.kind}): predicted finish ${fmt(c.predicted_ms, 2)} ms after binding`}
        >${c.device} <i>${fmt(c.predicted_ms)}</i></span>`)}
    </td>
    <td class="winner" title=${`Chosen device, variant ${d.variant}`}>${d.winner}<br /><small>${d.variant}</small></td>
    <td title="Predicted finish of the winner, ms after binding">${fmt(d.predicted_ms, 2)}</td>
    <td title="Actual: from binding to the answer's arrival, ms (empty while it runs)">${d.actual_ms == null ? '…' : fmt(d.actual_ms, 2)}</td>
    <td class=${error != null && Math.abs(error) > 0.5 ? 'bad' : ''} title="(actual − predicted) / predicted">${error == null ? '' : `${error > 0 ? '+' : ''}${pct(error)}`}</td>
    <td class="outcome" title="ok, or the error that ended this attempt">${outcome}</td>
  </tr>`;
});

const Log = pure(function Log({ decisions }) {
  return html`<table class="decisions-table">
    <thead><tr>
      <th title="When the request was bound">time</th><th title="Request and attempt">request</th>
      <th title="Inference type">type</th>
      <th title="Devices considered with their predicted finish (ms), best first; the winner highlighted">candidates (predicted ms)</th>
      <th title="The device that got the request, and the variant">winner</th>
      <th title="Predicted finish of the winner (ms)">pred.</th><th title="Actual finish (ms)">actual</th>
      <th title="Relative prediction error">err</th><th title="Outcome">outcome</th>
    </tr></thead>
    <tbody>${decisions.map((d) => html`<${Row} key=${`${d.id}/${d.attempt ?? 1}`} d=${d} />`)}</tbody>
  </table>`;
});

export function Decisions({ state }) {
  const table = store.tables.prediction;
  const prediction = state.prediction || {};
  // The keys with the most samples, so the chart stays readable on big fleets.
  const keys = Object.keys(prediction)
    .sort((a, b) => (prediction[b].samples ?? 0) - (prediction[a].samples ?? 0) || a.localeCompare(b))
    .slice(0, 16)
    .sort();
  return html`<div class="page decisions">
    <div class="toolbar">
      <${Fig} label="shown" value=${store.decisions.length} tip="Bindings listed here (the last 200)" />
      <${Fig} label="skipped" value=${store.skipped} tip="Bindings the stream left out since this page was opened (it carries at most 50 per interval)" />
    </div>
    <div class="prediction">
      <${Chart} title="Prediction error per device and type, live"
        tip="Mean relative error |actual − predicted| / predicted of the finish times the scheduler predicted, over the last 10 s, per node/device/type; sampled every second (the 16 with the most samples)"
        keys=${keys} unit="relative error" height=${200} version=${table.version}
        data=${() => table.data(keys)} />
      <ul class="prediction-now">
        ${keys.map((k) => html`<li key=${k} title=${`${k}: mean relative prediction error over the last 10 s, from ${prediction[k].samples} samples`}>
          ${k} <b>${pct(prediction[k].error, 1)}</b> <small>(${prediction[k].samples})</small></li>`)}
      </ul>
    </div>
    <${Log} decisions=${store.decisions} />
  </div>`;
}
