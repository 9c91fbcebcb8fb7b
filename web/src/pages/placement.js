// Execution interface: which variant serves each inference type on each
// accelerator kind, which kinds are allowed, a per-type pin, the type's variant
// degradation under load (floor and accuracies) and the policy.
// Edits are staged; the what-if panel shows the ideal throughput with and
// without them; Apply sends them with the admin token. The capacity panel asks
// the planner how many devices the current mix scaled by a factor needs. Below,
// the audit log with a Revert per entry.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { settings } from '../settings.js';
import { applyChangeAnswer, store } from '../store.js';
import { ErrorBox, Fig, fmt, when } from '../ui.js';

// --- staged changes: {policy?, types: {t: {pin?, degrade?, kinds: {k: {variant?, enabled?}}}}}

function current(placement, t, k, field) {
  const cell = placement.types?.[t]?.kinds?.[k];
  if (!cell) return undefined;
  return field === 'enabled' ? cell.enabled !== false : cell.variant;
}

function stagedCell(staged, t, k, field) {
  return staged.types?.[t]?.kinds?.[k]?.[field];
}

function withCell(staged, placement, t, k, field, value) {
  const next = structuredClone(staged);
  next.types ??= {};
  next.types[t] ??= {};
  next.types[t].kinds ??= {};
  next.types[t].kinds[k] ??= {};
  if (current(placement, t, k, field) === value) delete next.types[t].kinds[k][field];
  else next.types[t].kinds[k][field] = value;
  return prune(next);
}

function withPin(staged, placement, t, pin) {
  const next = structuredClone(staged);
  next.types ??= {};
  next.types[t] ??= {};
  if ((placement.types?.[t]?.pin ?? null) === pin) delete next.types[t].pin;
  else next.types[t].pin = pin;
  return prune(next);
}

// A degrade block ({floor, variants: {variant: accuracy}}) or null, as text; two
// blocks are the same when their texts are.
export function degradeText(d) {
  if (!d) return 'off';
  const variants = Object.entries(d.variants || {})
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([v, a]) => `${v} ${a}`);
  return `floor ${d.floor}: ${variants.join(', ')}`;
}

function withDegrade(staged, placement, t, degrade) {
  const next = structuredClone(staged);
  next.types ??= {};
  next.types[t] ??= {};
  if (degradeText(placement.types?.[t]?.degrade) === degradeText(degrade)) delete next.types[t].degrade;
  else next.types[t].degrade = degrade;
  return prune(next);
}

function withPolicy(staged, placement, policy) {
  const next = structuredClone(staged);
  if (placement.policy === policy) delete next.policy;
  else next.policy = policy;
  return prune(next);
}

// Drops empty objects and entries that equal the placement (it may have
// changed underneath the staged edit).
function prune(staged) {
  for (const [t, ty] of Object.entries(staged.types || {})) {
    for (const [k, cell] of Object.entries(ty.kinds || {})) if (!Object.keys(cell).length) delete ty.kinds[k];
    if (ty.kinds && !Object.keys(ty.kinds).length) delete ty.kinds;
    if (!Object.keys(ty).length) delete staged.types[t];
  }
  if (staged.types && !Object.keys(staged.types).length) delete staged.types;
  return staged;
}

function isEmpty(staged) {
  return !staged.types && staged.policy === undefined;
}

// An audit entry's before/after in the matrix's shape: either a placement
// (GET /v1/placement) or the server's stored state {policy, registry: {type:
// {variants: {kind: variant}, disabled: [kind], pin}}}.
function normalise(p) {
  if (!p || !p.registry) return p;
  const types = {};
  for (const [t, r] of Object.entries(p.registry)) {
    const kinds = {};
    for (const [k, v] of Object.entries(r.variants || {})) kinds[k] = { variant: v };
    for (const k of r.disabled || []) (kinds[k] ??= {}).enabled = false;
    types[t] = { pin: r.pin || null, degrade: r.degrade ?? null, kinds };
  }
  return { policy: p.policy, types };
}

// Before/after as the list of cells that differ.
export function cellsChanged(beforeIn, afterIn) {
  const out = [];
  const before = normalise(beforeIn);
  const after = normalise(afterIn);
  if (!before || !after) return out;
  if (before.policy !== after.policy) out.push(`policy: ${before.policy ?? 'none'} → ${after.policy ?? 'none'}`);
  const types = new Set([...Object.keys(before.types || {}), ...Object.keys(after.types || {})]);
  for (const t of [...types].sort()) {
    const b = before.types?.[t] || {};
    const a = after.types?.[t] || {};
    if ((b.pin ?? null) !== (a.pin ?? null)) out.push(`${t} pin: ${b.pin ?? 'none'} → ${a.pin ?? 'none'}`);
    if (degradeText(b.degrade) !== degradeText(a.degrade)) {
      out.push(`${t} degrade: ${degradeText(b.degrade)} → ${degradeText(a.degrade)}`);
    }
    const kinds = new Set([...Object.keys(b.kinds || {}), ...Object.keys(a.kinds || {})]);
    for (const k of [...kinds].sort()) {
      const bk = b.kinds?.[k] || {};
      const ak = a.kinds?.[k] || {};
      if (bk.variant !== ak.variant) out.push(`${t}/${k} variant: ${bk.variant ?? 'default'} → ${ak.variant ?? 'default'}`);
      const be = bk.enabled !== false;
      const ae = ak.enabled !== false;
      if (be !== ae) out.push(`${t}/${k}: ${be ? 'enabled' : 'disabled'} → ${ae ? 'enabled' : 'disabled'}`);
    }
  }
  return out;
}

// The placement as it would be with the staged change (for the summary).
function applied(placement, staged) {
  const p = structuredClone(placement);
  if (staged.policy !== undefined) p.policy = staged.policy;
  for (const [t, ty] of Object.entries(staged.types || {})) {
    p.types[t] ??= { kinds: {} };
    if ('pin' in ty) p.types[t].pin = ty.pin;
    if ('degrade' in ty) p.types[t].degrade = ty.degrade;
    for (const [k, cell] of Object.entries(ty.kinds || {})) Object.assign((p.types[t].kinds[k] ??= {}), cell);
  }
  return p;
}

function body(placement, staged, comment) {
  const b = { version: placement.version };
  if (comment.trim()) b.comment = comment.trim();
  if (staged.policy !== undefined) b.policy = staged.policy;
  if (staged.types) b.types = staged.types;
  return b;
}

// --- the matrix

function Cell({ placement, staged, t, k, setStaged }) {
  const cell = placement.types[t].kinds?.[k];
  if (!cell) {
    return html`<td class="cell cell-none" title=${`No ${k} device has loaded a variant of ${t}`}>—</td>`;
  }
  const sv = stagedCell(staged, t, k, 'variant');
  const se = stagedCell(staged, t, k, 'enabled');
  const variant = sv ?? cell.variant;
  const enabled = se ?? cell.enabled !== false;
  const isStaged = sv !== undefined || se !== undefined;
  return html`<td class=${'cell' + (isStaged ? ' staged' : '') + (enabled ? '' : ' cell-disabled')} data-cell=${`${t}/${k}`}>
    <select class="variant" data-cell=${`${t}/${k}`} value=${variant}
      title=${`Variant that serves ${t} on ${k} devices (now: ${cell.variant})`}
      onChange=${(e) => setStaged((s) => withCell(s, placement, t, k, 'variant', e.currentTarget.value))}>
      ${(cell.variants || [cell.variant]).map((v) => html`<option key=${v} value=${v}>${v}</option>`)}
    </select>
    <label class="toggle" title=${`Allow ${t} to run on ${k} devices (now: ${cell.enabled !== false ? 'enabled' : 'disabled'})`}>
      <input type="checkbox" class="enabled" data-cell=${`${t}/${k}`} checked=${enabled}
        onChange=${(e) => setStaged((s) => withCell(s, placement, t, k, 'enabled', e.currentTarget.checked))} />
      ${enabled ? 'on' : 'off'}
    </label>
    <span class="devices-count" title=${`${k} devices that have loaded a variant of ${t}`}>${cell.devices ?? '?'} dev</span>
  </td>`;
}

// The type's degradation: what it is (staged or applied) and an editor with the
// floor and an accuracy per variant its devices have loaded (blank: not listed).
function DegradeCell({ placement, staged, t, setStaged }) {
  const [editing, setEditing] = useState(false);
  const [floor, setFloor] = useState('');
  const [accuracy, setAccuracy] = useState({});
  const [error, setError] = useState('');
  const now = placement.types[t].degrade ?? null;
  const isStaged = staged.types?.[t] && 'degrade' in staged.types[t];
  const shown = isStaged ? staged.types[t].degrade : now;
  const variants = [...new Set(Object.values(placement.types[t].kinds || {}).flatMap((c) => c.variants || [c.variant]))].sort();
  const open = () => {
    setFloor(shown ? String(shown.floor) : '');
    setAccuracy(Object.fromEntries(variants.map((v) => [v, shown?.variants?.[v] !== undefined ? String(shown.variants[v]) : ''])));
    setError('');
    setEditing(true);
  };
  const unit = (text) => text.trim() !== '' && Number.isFinite(Number(text)) && Number(text) >= 0 && Number(text) <= 1;
  const stage = () => {
    if (!unit(floor)) return setError('the floor is an accuracy in [0, 1]');
    const listed = Object.entries(accuracy).filter(([, a]) => a.trim() !== '');
    const bad = listed.find(([, a]) => !unit(a));
    if (bad) return setError(`${bad[0]}: an accuracy in [0, 1]`);
    if (!listed.length) return setError('give at least one variant an accuracy');
    setStaged((s) => withDegrade(s, placement, t, {
      floor: Number(floor), variants: Object.fromEntries(listed.map(([v, a]) => [v, Number(a)])),
    }));
    setEditing(false);
  };
  const off = () => {
    setStaged((s) => withDegrade(s, placement, t, null));
    setEditing(false);
  };
  return html`<td class=${'degrade' + (isStaged ? ' staged' : '')} data-type=${t}>
    <span class="degrade-now" title=${`Under load ${t} may run a faster variant at or above the floor (now: ${degradeText(now)})`}>${degradeText(shown)}</span>
    <button class="degrade-edit" data-type=${t} onClick=${() => (editing ? setEditing(false) : open())}
      title=${`Edit ${t}'s variant degradation`}>${editing ? 'close' : 'edit'}</button>
    ${editing ? html`<div class="degrade-editor" data-type=${t}>
      <label title="Never a variant below this accuracy">floor
        <input class="degrade-floor" type="number" min="0" max="1" step="0.01" value=${floor}
          onInput=${(e) => setFloor(e.currentTarget.value)} /></label>
      ${variants.map((v) => html`<label key=${v} title=${`Your accuracy figure for ${v} (blank: not a choice)`}>${v}
        <input class="degrade-acc" data-variant=${v} type="number" min="0" max="1" step="0.01" value=${accuracy[v] ?? ''}
          onInput=${(e) => setAccuracy({ ...accuracy, [v]: e.currentTarget.value })} /></label>`)}
      <div class="buttons">
        <button class="degrade-stage" onClick=${stage} title="Stage this block (Apply sends it)">stage</button>
        <button class="degrade-off" onClick=${off} title=${`Stage lifting ${t}'s degradation`}>off</button>
      </div>
      ${error ? html`<div class="error">${error}</div>` : null}
    </div>` : null}
  </td>`;
}

function Matrix({ placement, staged, setStaged }) {
  const kinds = placement.kinds || [];
  const types = Object.keys(placement.types || {}).sort();
  return html`<table class="matrix">
    <thead><tr>
      <th title="Inference type">type</th>
      <th title="Run the type only on this kind (the other kinds keep their settings for when the pin is lifted)">pin to kind</th>
      ${kinds.map((k) => html`<th key=${k} title=${`Accelerator kind ${k}`}>${k}</th>`)}
      <th title="Under load, a faster variant of the type within an accuracy floor (earliest-finish)">degrade</th>
    </tr></thead>
    <tbody>
      ${types.map((t) => {
        const pin = placement.types[t].pin ?? null;
        const sp = staged.types?.[t]?.pin;
        const shownPin = sp !== undefined ? sp : pin;
        return html`<tr key=${t} data-type=${t}>
          <th title=${`Inference type ${t}`}>${t}</th>
          <td class=${sp !== undefined ? 'staged' : ''}>
            <select class="pin" data-type=${t} value=${shownPin ?? ''}
              title=${`Pin ${t} to one accelerator kind (now: ${pin ?? 'none'})`}
              onChange=${(e) => setStaged((s) => withPin(s, placement, t, e.currentTarget.value || null))}>
              <option value="">none</option>
              ${kinds.map((k) => html`<option key=${k} value=${k}>${k}${placement.types[t].kinds?.[k] ? '' : ' (no device)'}</option>`)}
            </select>
          </td>
          ${kinds.map((k) => html`<${Cell} key=${k} placement=${placement} staged=${staged} t=${t} k=${k} setStaged=${setStaged} />`)}
          <${DegradeCell} placement=${placement} staged=${staged} t=${t} setStaged=${setStaged} />
        </tr>`;
      })}
    </tbody>
  </table>`;
}

// --- what-if

function WhatIf({ placement, staged }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const key = JSON.stringify(staged) + '@' + placement.version;
  const seq = useRef(0);
  const run = () => {
    const mine = ++seq.current;
    api('POST', 'v1/placement/whatif', body(placement, staged, ''))
      .then((r) => mine === seq.current && (setResult({ ...r, key }), setError('')))
      .catch((e) => mine === seq.current && (setResult(null), setError(e.message)));
  };
  useEffect(() => {
    const timer = setTimeout(run, 250);
    return () => clearTimeout(timer);
  }, [key]);
  const unserved = result ? Object.entries(result.served || {}).filter(([, ok]) => !ok).map(([t]) => t) : [];
  const mix = result ? Object.entries(result.mix || {}).map(([t, v]) => `${t} ${(v * 100).toFixed(0)}%`).join(', ') : '';
  const stale = result && result.key !== key;
  return html`<section class=${'whatif' + (stale ? ' stale' : '')}>
    <h3 title="Ideal throughput: the fluid optimum over the up devices at their measured service times, for the current request mix">What-if</h3>
    <${ErrorBox} error=${error} />
    ${result
      ? html`<div class="figs">
          <${Fig} label="current" cls="whatif-current" value=${`${fmt(result.current_rps)} req/s`}
            tip=${`Ideal throughput with the placement as it is, for the mix ${mix} (last minute's request shares; equal shares when idle)`} />
          <${Fig} label="proposed" cls=${'whatif-proposed' + (result.proposed_rps < result.current_rps ? ' bad' : '')}
            value=${`${fmt(result.proposed_rps)} req/s`}
            tip=${`Ideal throughput with the staged change applied, for the same mix (${mix}); 0 when a type is left without a device`} />
          <${Fig} label="change" value=${result.current_rps > 0 ? `${fmt(((result.proposed_rps - result.current_rps) / result.current_rps) * 100, 0)}%` : 'n/a'}
            tip="Proposed against current ideal throughput" />
        </div>
        <div class=${'unserved' + (unserved.length ? ' bad' : '')} title="Inference types the staged change leaves without any device">
          ${unserved.length ? `left unserved: ${unserved.join(', ')}` : 'every type stays served'}
        </div>`
      : html`<p class="muted">…</p>`}
    ${stale ? html`<p class="muted">updating for the edits made since…</p>` : null}
    <button id="whatif-run" onClick=${run} title="Ask the server again">recompute</button>
  </section>`;
}

// --- capacity: POST /v1/plan (the planner on the current mix, scaled)

function signed(n) {
  return n > 0 ? `+${n}` : `${n}`;
}

export function capacitySummary(answer) {
  const add = Object.entries(answer.add || {}).filter(([, n]) => n !== 0);
  const plan = answer.plan || {};
  return {
    add: add.length ? add.map(([p, n]) => `${signed(n)} ${p}`).join(', ') : 'no change',
    planned: Object.entries(plan.counts || {}).map(([p, n]) => `${n} × ${p}`).join(' + '),
    meets: !!plan.at_slo?.meets_slo,
  };
}

function Capacity() {
  const [growth, setGrowth] = useState('1.5');
  const [deadline, setDeadline] = useState('1000');
  const [target, setTarget] = useState('0.99');
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const r = await api('POST', 'v1/plan', {
        growth: Number(growth),
        deadline_ms: Number(deadline),
        attainment: Number(target),
      });
      setAnswer(r);
      setError('');
    } catch (e) {
      setAnswer(null);
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const s = answer ? capacitySummary(answer) : null;
  const plan = answer?.plan;
  return html`<section class="capacity">
    <h3 title="The capacity planner (docs/planner.md) on the request rates of the last seconds: the devices the cluster needs for the mix scaled by the growth factor, checked by the simulator">Capacity</h3>
    <div class="capacity-form">
      <label title="Factor on the current request rate of every type">growth ×
        <input id="capacity-growth" type="number" min="0.01" max="20" step="0.1" value=${growth}
          onInput=${(e) => setGrowth(e.currentTarget.value)} /></label>
      <label title="Deadline of every request, in milliseconds">deadline ms
        <input id="capacity-deadline" type="number" min="1" step="50" value=${deadline}
          onInput=${(e) => setDeadline(e.currentTarget.value)} /></label>
      <label title="SLO: the share of requests answered within the deadline">attainment
        <input id="capacity-target" type="number" min="0.5" max="1" step="0.001" value=${target}
          onInput=${(e) => setTarget(e.currentTarget.value)} /></label>
      <button id="capacity-run" disabled=${busy} onClick=${run}
        title="POST /v1/plan: plan with the cluster's device kinds at their measured service times (takes up to a few seconds)">${busy ? 'planning…' : 'Plan'}</button>
    </div>
    <${ErrorBox} error=${error} />
    ${answer
      ? html`<div class="capacity-answer">
          <div class="figs">
            <${Fig} label="demand" value=${`${fmt(answer.demand_rps)} req/s`}
              tip=${`The last seconds' request rate × ${answer.growth}: ${Object.entries(answer.rates || {}).map(([t, r]) => `${t} ${fmt(r)}/s`).join(', ')}`} />
            <${Fig} label="margin now" cls=${'capacity-margin' + (answer.margin_now < 1 ? ' bad' : '')}
              value=${`${fmt(answer.margin_now, 2)}×`}
              tip="The largest factor on today's rates at which the devices up now still meet the SLO in simulation (below 1: they miss it already)" />
            <${Fig} label="devices to add" cls="capacity-add-count" value=${answer.devices_to_add ?? 'n/a'}
              tip="Devices the plan has beyond those up now (profiles are device kinds at their measured service times)" />
          </div>
          <div class="capacity-add" title="Per profile: the plan's count minus the devices up now">add: ${s.add}</div>
          <div class="capacity-plan" title="The smallest set the simulator finds meeting the SLO at the grown rates">
            plan: ${s.planned} (${plan.devices} device(s)), margin ${fmt(plan.margin?.headroom, 2)}×</div>
          <div class=${'capacity-slo' + (s.meets ? '' : ' bad')} title="The plan's simulated attainment against the target">
            SLO ${s.meets ? 'met' : 'missed'}: attainment ${fmt((plan.at_slo?.attainment ?? 0) * 100, 2)}% ≥ ${fmt(answer.slo.attainment * 100, 2)}% within ${answer.slo.deadline_ms} ms, p99 ${fmt(plan.at_slo?.p99_ms)} ms
          </div>
        </div>`
      : html`<p class="muted">Plan for today's mix scaled by the growth factor.</p>`}
  </section>`;
}

// --- audit log

function AuditLog({ audit }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(null);
  const revert = async (id) => {
    setBusy(id);
    try {
      const r = await api('POST', `v1/audit/${id}/revert`, {});
      setError('');
      applyChangeAnswer(r);
    } catch (e) {
      setError(`Revert of #${id} refused — ${e.message}`);
    } finally {
      setBusy(null);
    }
  };
  return html`<section class="audit">
    <h3 title="Every placement change, newest first; kept by the server in SQLite">Audit log</h3>
    <${ErrorBox} error=${error} />
    ${audit.length === 0 ? html`<p class="muted">No change yet.</p>` : null}
    <table class="audit-table">
      <thead><tr>
        <th title="Audit entry number">#</th><th title="When the change was made">when</th>
        <th title="Who made it: admin plus the name sent in X-HeteroAccel-User">who</th>
        <th title="placement or revert">action</th><th title="The cells that changed, before → after">changes</th>
        <th title="The comment given with the change">comment</th><th></th>
      </tr></thead>
      <tbody>
        ${audit.map((a) => {
          const changes = cellsChanged(a.before, a.after);
          return html`<tr key=${a.id} class="audit-row" data-audit-id=${a.id}>
            <td>${a.id}</td>
            <td title=${new Date(a.time_ms).toISOString()}>${when(a.time_ms)}</td>
            <td class="who">${a.who}</td>
            <td>${a.action}${a.reverts != null ? ` of #${a.reverts}` : ''}${a.reverted_by != null ? html` <span class="muted">(reverted by #${a.reverted_by})</span>` : ''}</td>
            <td class="changes">${a.action !== 'placement' && a.action !== 'revert'
              ? html`<span class="muted">${a.action} change (see its page)</span>`
              : changes.length ? html`<ul>${changes.map((c) => html`<li key=${c}>${c}</li>`)}</ul>` : html`<span class="muted">no cell changed</span>`}</td>
            <td class="comment">${a.comment || ''}</td>
            <td>${a.action !== 'placement' && a.action !== 'revert' ? null : html`<button class="revert" data-audit-id=${a.id} disabled=${busy === a.id || a.reverted_by != null}
              title=${a.reverted_by != null
                ? `Already reverted by entry #${a.reverted_by}`
                : `Apply this entry's "before" as a new change (refused with 409 when the placement changed since)`}
              onClick=${() => revert(a.id)}>Revert</button>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

// --- the page

export function Placement({ state }) {
  const placement = state.placement;
  const [staged, setStaged] = useState({});
  const [comment, setComment] = useState('');
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [applying, setApplying] = useState(false);
  if (!placement || !placement.types) return html`<div class="page placement"><p class="muted">The server sent no placement.</p></div>`;
  const pending = prune(structuredClone(staged));
  const changes = cellsChanged(placement, applied(placement, pending));
  const apply = async () => {
    setApplying(true);
    setNotice('');
    try {
      const r = await api('PUT', 'v1/placement', body(placement, pending, comment));
      const applied = applyChangeAnswer(r);
      setStaged({});
      setComment('');
      setError('');
      setNotice(`Applied: placement version ${applied?.version ?? '?'}`);
    } catch (e) {
      setError(`Change refused — ${e.message}`);
    } finally {
      setApplying(false);
    }
  };
  return html`<div class="page placement">
    <div class="toolbar">
      <label title=${`Scheduling policy (now: ${placement.policy})`}>policy
        <select id="policy" value=${pending.policy ?? placement.policy}
          onChange=${(e) => setStaged((s) => withPolicy(s, placement, e.currentTarget.value))}>
          ${(placement.policies || [placement.policy]).map((p) => html`<option key=${p} value=${p}>${p}</option>`)}
        </select></label>
      <${Fig} label="version" value=${placement.version} tip="Placement version: a change names the version it was made against (409 when someone changed it meanwhile)" />
      ${settings.token ? null : html`<span class="muted" title="Set the admin token in the settings (top right)">changes need the admin token (settings)</span>`}
    </div>
    <${Matrix} placement=${placement} staged=${pending} setStaged=${setStaged} />
    <div class="staging">
      <section class="staged-list">
        <h3 title="Edits not yet applied">Staged change</h3>
        ${changes.length ? html`<ul>${changes.map((c) => html`<li key=${c}>${c}</li>`)}</ul>` : html`<p class="muted">Nothing staged: edit the matrix above.</p>`}
        <input id="comment" type="text" placeholder="comment (kept in the audit log)" value=${comment}
          onInput=${(e) => setComment(e.currentTarget.value)} title="Why: recorded with the change in the audit log" />
        <div class="buttons">
          <button id="apply" class="primary" disabled=${applying || isEmpty(pending)} onClick=${apply}
            title="PUT /v1/placement with the admin token; takes effect for the next request bound">Apply</button>
          <button id="discard" disabled=${isEmpty(pending)} onClick=${() => { setStaged({}); setError(''); }}
            title="Forget the staged edits">Discard</button>
        </div>
        <${ErrorBox} error=${error} />
        ${notice && isEmpty(pending) ? html`<div class="notice">${notice}</div>` : null}
      </section>
      <${WhatIf} placement=${placement} staged=${pending} />
    </div>
    <${Capacity} />
    <${AuditLog} audit=${store.audit} />
  </div>`;
}
