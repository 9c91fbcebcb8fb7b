// Fleet: every node and its devices as cards, filtered by text and by node group,
// with each group's figures (nodes up, devices, mean CPU, hottest node) above
// them. Cards are keyed and pure: a card
// whose node did not change keeps its DOM untouched (merge patches keep the
// identity of unchanged parts of the state). A card scrolled out of view
// defers its updates until it comes back, except going down or up, so a big
// fleet costs what the visible cards cost.
import { Component, createRef } from 'preact';
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { apiStream } from '../api.js';
import { Bar, ErrorBox, Fig, fmt, na, pct, pure } from '../ui.js';

const DeviceCard = pure(function DeviceCard({ path, id, d, nodeUp }) {
  const up = nodeUp && d.up !== false;
  const variants = Object.entries(d.variants || {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return html`<div class=${'device-card kind-' + d.kind + (up ? '' : ' device-down')} data-device=${path}>
    <div class="device-head">
      <span class=${'kind kind-' + d.kind} title=${`Accelerator kind of ${path}`}>${d.kind}</span>
      <span class="device-id" title=${`Device ID on its node (${path})`}>${id}</span>
      ${d.emulated
        ? html`<span class="badge badge-emulated" title="Emulated device: it computes on the node's CPU and holds its slot for the latency profile in the agent's config; not real hardware">EMULATED</span>`
        : null}
      <span class=${'health ' + (up ? 'health-up' : 'health-down')}
        title=${up ? 'Device up: its node heartbeats and the device serves' : 'Device down: it takes no requests'}
        >${up ? '●' : 'down'}</span>
    </div>
    <div class="device-name" title=${`Device name as its agent reports it: ${d.name || na}`}>${d.name || na}</div>
    <div class="figs">
      ${Fig({ label: 'busy', value: `${d.busy ?? na}/${d.slots ?? na}`,
        tip: `Slots computing now / slots of ${path} (each slot is a worker with its own copy of every model)` })}
      ${Fig({ label: 'queue', value: d.queue ?? na, tip: `Requests waiting in ${path}'s queues on its agent` })}
      ${Fig({ label: 'in flight', value: d.in_flight ?? na,
        tip: `Requests the server has bound to ${path} and not yet seen answered` })}
    </div>
    ${Bar({ ratio: d.busy_ratio,
      tip: `Busy ratio of ${path}: time its slots spent computing over the last heartbeat interval, divided by interval × slots` })}
    <div class="variants" title=${`Model variants loaded on ${path}, per inference type`}>
      ${variants.length
        ? variants.map(([t, v]) => html`<span class="variant" key=${t}><i>${t}</i> ${v}</span>`)
        : html`<span class="muted">no variant loaded</span>`}
    </div>
  </div>`;
});

function matches(q, name, id, d) {
  return (
    id.toLowerCase().includes(q) ||
    (d.kind || '').toLowerCase().includes(q) ||
    (d.name || '').toLowerCase().includes(q) ||
    `${name}/${id}`.toLowerCase().includes(q)
  );
}

// Seconds since the last heartbeat: `silent_s` (whole seconds), or the
// documented `last_seen_ms`.
function silent(node) {
  if (typeof node.silent_s === 'number') return `${node.silent_s} s`;
  if (typeof node.last_seen_ms === 'number') return `${fmt(node.last_seen_ms / 1000, 1)} s`;
  return na;
}

// The groups a node belongs to: what it reports and what the server assigned.
export function groupsOf(node) {
  if (Array.isArray(node.groups)) return node.groups;
  return node.group ? [node.group] : [];
}

function labelText(node) {
  return Object.entries(node.labels || {}).map(([k, v]) => `${k}=${v}`);
}

// A node matches the text filter by its name, a group or a label.
function nodeMatches(q, name, node) {
  return (
    name.toLowerCase().includes(q) ||
    groupsOf(node).some((g) => g.toLowerCase().includes(q)) ||
    labelText(node).some((l) => l.toLowerCase().includes(q))
  );
}

function renderNode({ name, node, q }, ref) {
  let ids = Object.keys(node.devices || {}).sort();
  if (q && !nodeMatches(q, name, node)) ids = ids.filter((id) => matches(q, name, id, node.devices[id]));
  const up = node.up !== false;
  const used = node.mem_total != null && node.mem_available != null ? 1 - node.mem_available / node.mem_total : null;
  return html`<section ref=${ref} class=${'node-card' + (up ? '' : ' node-down')} data-node=${name}>
    <header class="node-head">
      <span class="node-name" title=${`Node name (registered by its agent at ${node.url || na})`}>${name}</span>
      ${groupsOf(node).map((g) => html`<span class="group" key=${g} data-group=${g}
        title=${g === node.group ? `Group ${g}, as the node reports it` : `Group ${g}, assigned on the server (PUT /v1/nodes/${name})`}>${g}</span>`)}
      <span class=${'health ' + (up ? 'health-up' : 'health-down')}
        title=${up
          ? 'Node up: its agent heartbeats within the node timeout'
          : 'Node DOWN: no heartbeat within the node timeout; its requests were retried elsewhere'}
        >${up ? 'up' : 'DOWN'}</span>
    </header>
    <div class="figs node-figs">
      ${Fig({ label: 'CPU', value: pct(node.cpu),
        tip: 'Node CPU utilisation (all cores), as measured by its agent; n/a when it cannot measure it' })}
      ${Fig({ label: 'mem', value: used === null ? na : pct(used),
        tip: used === null
          ? 'Node memory in use: n/a (the node cannot measure it)'
          : `Node memory in use: ${fmt((node.mem_total - node.mem_available) / 1e9)} of ${fmt(node.mem_total / 1e9)} GB` })}
      ${Fig({ label: 'temp', value: node.temp == null ? na : `${fmt(node.temp, 0)} °C`,
        tip: 'Node temperature (hottest sensor), °C; n/a where the node has no sensor' })}
      ${Fig({ label: 'silent', value: silent(node),
        tip: "Time since the server last heard the node's heartbeat (whole seconds, as the server rounds it)" })}
    </div>
    ${labelText(node).length
      ? html`<div class="labels" title="The node's labels: what its agent reports, with what the server assigned over them">
          ${labelText(node).map((l) => html`<span class="label" key=${l}>${l}</span>`)}</div>`
      : null}
    <div class="devices">
      ${ids.map((id) => html`<${DeviceCard} key=${id} path=${`${name}/${id}`} id=${id} d=${node.devices[id]} nodeUp=${up} />`)}
    </div>
  </section>`;
}

// One observer for every card: which ones are on screen (with a margin).
const onScreen = new Map();
const observer =
  typeof IntersectionObserver === 'function'
    ? new IntersectionObserver(
        (entries) => {
          for (const e of entries) onScreen.get(e.target)?.setVisible(e.isIntersecting);
        },
        { rootMargin: '100px' },
      )
    : null;

class NodeCard extends Component {
  ref = createRef();
  visible = true;
  stale = false;

  componentDidMount() {
    if (!observer) return;
    onScreen.set(this.ref.current, this);
    observer.observe(this.ref.current);
  }

  componentWillUnmount() {
    if (!observer) return;
    observer.unobserve(this.ref.current);
    onScreen.delete(this.ref.current);
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible && this.stale) this.forceUpdate();
  }

  shouldComponentUpdate(next) {
    const prev = this.props;
    if (next.node === prev.node && next.q === prev.q && next.name === prev.name) return false;
    if (this.visible || next.q !== prev.q || (next.node.up !== false) !== (prev.node.up !== false)) return true;
    this.stale = true;
    return false;
  }

  render(props) {
    this.stale = false;
    return renderNode(props, this.ref);
  }
}

function visible(q, name, node) {
  if (!q || nodeMatches(q, name, node)) return true;
  for (const [id, d] of Object.entries(node.devices || {})) if (matches(q, name, id, d)) return true;
  return false;
}

// Each group's figures: nodes up / nodes, devices, mean CPU of its up nodes, hottest node.
export function groupFigures(nodes) {
  const groups = {};
  for (const [name, node] of Object.entries(nodes)) {
    for (const g of groupsOf(node)) {
      const f = (groups[g] ??= { nodes: 0, up: 0, devices: 0, cpu: [], temp: null, names: [] });
      f.nodes++;
      f.names.push(name);
      if (node.up !== false) {
        f.up++;
        if (typeof node.cpu === 'number') f.cpu.push(node.cpu);
      }
      f.devices += Object.keys(node.devices || {}).length;
      if (typeof node.temp === 'number' && (f.temp === null || node.temp > f.temp)) f.temp = node.temp;
    }
  }
  for (const f of Object.values(groups)) {
    f.meanCpu = f.cpu.length ? f.cpu.reduce((a, b) => a + b, 0) / f.cpu.length : null;
  }
  return groups;
}

function GroupSummary({ group, f, selected, onSelect }) {
  const down = f.up < f.nodes;
  return html`<button type="button" data-group=${group}
    class=${'group-summary' + (down ? ' group-down' : '') + (selected ? ' selected' : '')}
    title=${`Group ${group}: ${f.up} of ${f.nodes} nodes up (${f.names.join(', ')}), ${f.devices} devices, mean CPU of its up nodes ${pct(f.meanCpu)}, hottest ${f.temp === null ? na : fmt(f.temp, 0) + ' °C'}. Click to show only this group.`}
    onClick=${() => onSelect(selected ? '' : group)}>
    <b>${group}</b>
    <span class="group-up">${f.up}/${f.nodes} up</span>
    <span>${f.devices} dev</span>
    <span>CPU ${pct(f.meanCpu)}</span>
    ${f.temp === null ? null : html`<span>${fmt(f.temp, 0)} °C</span>`}
  </button>`;
}

const kActions = {
  connectivity: 'Is each node reachable: round trips over the control channel and the data path, last heartbeat',
  facts: 'OS, kernel, architecture, uptime, CPU, memory, accelerators and drivers',
  time: "Each node's clock offset to the server (four-timestamp exchange) and its sync state",
  speed: 'Up- and downlink throughput between the server and each node (8 MiB each way)',
  monitor: 'CPU, memory, network and temperature now, and the devices\' figures',
  packages: 'apt: list upgradable packages, update, or upgrade (a dry run unless unticked; needs the agent\'s --allow-package-actions)',
};

// One line per node result, in the action's own terms.
function resultSummary(action, r) {
  const d = r.data || {};
  if (r.status !== 'ok') return r.error || r.status;
  switch (action) {
    case 'connectivity':
      return `control ${fmt(d.control_rtt_ms, 2)} ms, data ${fmt(d.data_rtt_ms, 2)} ms, heartbeat ${fmt(d.heartbeat_age_seconds, 1)} s ago`;
    case 'time': {
      const sync = d.sync_now ? (d.sync_now.synced ? `; synced (${d.sync_now.service})` : `; not synced: ${d.sync_now.error || 'failed'}`) : '';
      return `offset ${fmt(1e3 * (d.offset_seconds ?? NaN), 2)} ms ± ${fmt(1e3 * (d.error_bound_seconds ?? NaN), 2)}${d.alert ? ' — over the threshold' : ''}${sync}`;
    }
    case 'speed':
      return `down ${fmt(d.downlink_mbit_per_second, 0)} Mbit/s, up ${fmt(d.uplink_mbit_per_second, 0)} Mbit/s`;
    case 'facts':
      return `${d.os?.pretty_name ?? na}, kernel ${d.kernel ?? na}, ${d.cpu?.model ?? na} × ${d.cpu?.threads ?? na}`;
    case 'monitor':
      return `CPU ${pct(d.cpu_utilisation_ratio)}, ${d.cpu_temperature_celsius == null ? 'no sensor' : fmt(d.cpu_temperature_celsius, 0) + ' °C'}`;
    case 'packages':
      return `${d.ran === false ? 'not run' : 'exit ' + (d.exit_code ?? na)}${Array.isArray(d.upgradable) ? `, ${d.upgradable.length} upgradable` : ''}${d.timed_out ? ', timed out' : ''}`;
    default:
      return '';
  }
}

// Runs a fleet action on all nodes, a group or one node and lists each node's
// result as it streams in (POST /v1/fleet/{action}; needs the admin token).
function FleetActions({ groupNames, names, group }) {
  const [action, setAction] = useState('connectivity');
  const [target, setTarget] = useState('');
  const [op, setOp] = useState('list');
  const [dryRun, setDryRun] = useState(true);
  const [syncNow, setSyncNow] = useState(false);
  const [run, setRun] = useState(null); // {action, target, results: [], done, error}
  const chosen = target || (group ? `group/${group}` : 'all');
  const start = async () => {
    const body = { target: chosen };
    if (action === 'packages') body.params = { op, dry_run: dryRun };
    if (action === 'time' && syncNow) body.params = { sync: true };
    const current = { action, target: chosen, results: [], done: null, error: null, running: true };
    setRun({ ...current });
    try {
      await apiStream('POST', `v1/fleet/${action}`, body, (e) => {
        if (e.event === 'result') current.results = [...current.results, e];
        if (e.event === 'done') current.done = e;
        setRun({ ...current });
      });
    } catch (e) {
      current.error = e;
    }
    current.running = false;
    setRun({ ...current });
  };
  return html`<details class="fleet-actions" open=${run !== null}>
    <summary title="Typed actions the agents implement; nothing typed here becomes a shell command">Fleet actions</summary>
    <div class="toolbar">
      <select id="fleet-action" value=${action} onChange=${(e) => setAction(e.currentTarget.value)} title=${kActions[action]}>
        ${Object.keys(kActions).map((a) => html`<option key=${a} value=${a} title=${kActions[a]}>${a}</option>`)}
      </select>
      <select id="fleet-target" value=${chosen} onChange=${(e) => setTarget(e.currentTarget.value)}
        title="Where to run it: every node, the nodes of a group, or one node">
        <option value="all">all nodes</option>
        ${groupNames.map((g) => html`<option key=${'g' + g} value=${'group/' + g}>group ${g}</option>`)}
        ${names.map((n) => html`<option key=${'n' + n} value=${'node/' + n}>node ${n}</option>`)}
      </select>
      ${action === 'packages'
        ? html`<select id="fleet-op" value=${op} onChange=${(e) => setOp(e.currentTarget.value)}>
              <option value="list">list upgradable</option><option value="update">update</option><option value="upgrade">upgrade</option>
            </select>
            <label title="A dry run shows what apt would do and changes nothing"><input id="fleet-dry-run" type="checkbox" checked=${dryRun}
              onChange=${(e) => setDryRun(e.currentTarget.checked)} /> dry run</label>`
        : null}
      ${action === 'time'
        ? html`<label title="After measuring, ask each node's time service to sync now (only nodes whose agent runs with --allow-time-sync do)"><input id="fleet-sync-now" type="checkbox" checked=${syncNow}
              onChange=${(e) => setSyncNow(e.currentTarget.checked)} /> sync now</label>`
        : null}
      <button id="fleet-run" type="button" disabled=${run?.running} onClick=${start}>Run</button>
      <span class="muted">${kActions[action]}</span>
    </div>
    ${run?.error ? html`<${ErrorBox} error=${run.error.message} />` : null}
    ${run && !run.error
      ? html`<table class="fleet-results" data-action=${run.action}>
          <thead><tr><th>node</th><th>group</th><th>status</th><th>s</th><th>result</th></tr></thead>
          <tbody>
            ${run.results.map((r) => html`<tr key=${r.node} data-node=${r.node} class=${'status-' + r.status}>
              <td>${r.node}</td><td>${r.group || ''}</td><td class="status">${r.status}</td>
              <td>${fmt(r.seconds, 2)}</td><td>${resultSummary(run.action, r)}</td></tr>`)}
          </tbody>
          <tfoot><tr><td colspan="5" class="fleet-done">${run.done
            ? `${run.action} on ${run.target}: ${run.done.ok} ok, ${run.done.not_ok} not ok in ${fmt(run.done.seconds, 2)} s${run.done.audit_id ? ` (audit entry ${run.done.audit_id})` : ''}`
            : 'running…'}</td></tr></tfoot>
        </table>`
      : null}
  </details>`;
}

export function Fleet({ state }) {
  const [filter, setFilter] = useState('');
  const [group, setGroup] = useState('');
  const q = filter.trim().toLowerCase();
  const nodes = state.nodes || {};
  const names = Object.keys(nodes).sort();
  const groups = groupFigures(nodes);
  const groupNames = Object.keys(groups).sort();
  let up = 0;
  let devices = 0;
  const kinds = {};
  let emulated = 0;
  for (const n of names) {
    const node = nodes[n];
    if (node.up !== false) up++;
    for (const d of Object.values(node.devices || {})) {
      devices++;
      kinds[d.kind] = (kinds[d.kind] || 0) + 1;
      if (d.emulated) emulated++;
    }
  }
  const shown = names.filter(
    (n) => (!group || groupsOf(nodes[n]).includes(group)) && visible(q, n, nodes[n]));
  return html`<div class="page fleet">
    <div class="toolbar">
      <span class="summary">
        <${Fig} label="nodes up" value=${`${up}/${names.length}`} tip="Nodes whose agent heartbeats / nodes known to the server" />
        <${Fig} label="devices" value=${devices} tip="Compute devices on all nodes" />
        ${Object.entries(kinds).sort().map(([k, c]) =>
          html`<${Fig} key=${k} label=${k} value=${c} tip=${`Devices of kind ${k}`} />`)}
        <${Fig} label="emulated" value=${emulated} tip="Devices that are emulated (latency profiles), not real hardware" />
      </span>
      <select id="fleet-group" value=${group} onChange=${(e) => setGroup(e.currentTarget.value)}
        title="Show only the nodes of one group (a node may belong to several)">
        <option value="">all groups</option>
        ${groupNames.map((g) => html`<option key=${g} value=${g}>${g}</option>`)}
        ${group && !groups[group] ? html`<option value=${group}>${group} (no node now)</option>` : null}
      </select>
      <input id="fleet-filter" type="search" placeholder="filter: node, group, label, kind, device"
        value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)}
        title="Show only nodes whose name, group or label, or devices whose kind, ID or name, contain this text" />
    </div>
    <${FleetActions} groupNames=${groupNames} names=${names} group=${group} />
    ${groupNames.length
      ? html`<div class="group-summaries">
          ${groupNames.map((g) => html`<${GroupSummary} key=${g} group=${g} f=${groups[g]}
            selected=${g === group} onSelect=${setGroup} />`)}
        </div>`
      : null}
    ${names.length === 0 ? html`<p class="muted">No node has registered yet.</p>` : null}
    <div class="node-grid">
      ${shown.map((n) => html`<${NodeCard} key=${n} name=${n} node=${nodes[n]} q=${q} />`)}
    </div>
  </div>`;
}
