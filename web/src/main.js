// The operator's dashboard: one EventSource feeds the store; the app is
// rendered at most once per animation frame; pages are hash routes.
import { render } from 'preact';
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import './style.css';
import { Cameras } from './pages/cameras.js';
import { Decisions } from './pages/decisions.js';
import { Events } from './pages/events.js';
import { Fleet } from './pages/fleet.js';
import { History } from './pages/history.js';
import { Pipeline } from './pages/pipeline.js';
import { Placement } from './pages/placement.js';
import { Services } from './pages/services.js';
import { saveSettings, settings } from './settings.js';
import { changed, setRenderer, store } from './store.js';
import { connect } from './stream.js';

const pages = [
  ['fleet', 'Fleet', Fleet, 'Every node and its devices'],
  ['services', 'Services', Services, 'Per inference type: rate, latency, errors, routing split'],
  ['placement', 'Execution interface', Placement, 'Which variant runs each type on each accelerator kind; what-if; audit log'],
  ['decisions', 'Decisions', Decisions, "The scheduler's recent bindings and its prediction error"],
  ['history', 'History', History, 'Rate, latency and busy ratio over time (live, or from Prometheus)'],
  ['cameras', 'Cameras', Cameras, 'Every camera: state, frames per second, skips, latest frame; start, stop, create'],
  ['events', 'Events', Events, "The cameras' events, filtered, live"],
  // Reached from a camera (#/pipeline/<id>); in the navigation only while shown.
  ['pipeline', 'Pipeline', Pipeline, "One camera's pipeline blocks, zones and lines", true],
];

function route() {
  const id = (location.hash.match(/^#\/(\w+)/) || [])[1];
  return pages.find((p) => p[0] === id) || pages[0];
}

const statusText = {
  connecting: ['connecting', 'Opening the stream to the server'],
  live: ['live', 'Receiving the live stream from the server'],
  reconnecting: ['reconnecting', 'The stream broke; reconnecting (resuming where it left off when the server still holds the events)'],
  token: ['token needed', 'The server asks for a token to read: enter it in the settings'],
};

function Settings({ onClose }) {
  const [token, setToken] = useState(settings.token);
  const [user, setUser] = useState(settings.user);
  const save = (e) => {
    e.preventDefault();
    const reconnect = token.trim() !== settings.token;
    saveSettings({ token, user });
    if (reconnect || store.status === 'token') connect();
    changed();
    onClose();
  };
  return html`<form class="settings" onSubmit=${save}>
    <label title="Viewer or admin token, sent as Authorization: Bearer (and ?token= on the stream); kept in this browser's localStorage">token
      <input id="token" type="password" autocomplete="off" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} /></label>
    <label title="Your name, recorded in the audit log with each change (X-HeteroAccel-User)">name
      <input id="user" type="text" value=${user} onInput=${(e) => setUser(e.currentTarget.value)} /></label>
    <button id="settings-save" type="submit" class="primary">Save</button>
  </form>`;
}

function Header({ state, current }) {
  const [open, setOpen] = useState(false);
  const [label, tip] = statusText[store.status] || [store.status, ''];
  const server = state?.server;
  return html`<header class="top">
    <span class="brand" title="HeteroAccel server dashboard">HeteroAccel</span>
    <nav>
      ${pages.map(([id, name, , tipText, hidden]) => hidden && id !== current ? null
        : html`<a key=${id} href=${id === current ? location.hash : `#/${id}`} class=${id === current ? 'active' : ''}
            aria-current=${id === current ? 'page' : undefined} title=${tipText}>${name}</a>`)}
    </nav>
    <span class="server-info">
      ${server ? html`<span title="Server version">v${server.version}</span>
        <span title="Scheduling policy in force">${server.policy}</span>` : null}
      ${state?.sse_clients != null ? html`<span title="Dashboards and other clients connected to the live stream">${state.sse_clients} viewers</span>` : null}
    </span>
    <span id="conn" class=${'conn conn-' + store.status} title=${store.statusDetail ? `${tip} (${store.statusDetail})` : tip}>${label}</span>
    <button id="settings-toggle" class="icon" title="Token and name" onClick=${() => setOpen(!open)}>⚙ ${settings.user || (settings.token ? 'token set' : 'settings')}</button>
    ${open ? html`<${Settings} onClose=${() => setOpen(false)} />` : null}
  </header>`;
}

function TokenPrompt() {
  const [token, setToken] = useState('');
  const submit = (e) => {
    e.preventDefault();
    saveSettings({ token });
    connect();
    changed();
  };
  return html`<form class="token-prompt" id="token-prompt" onSubmit=${submit}>
    <h2>This server needs a token to read</h2>
    <p class="error">${store.statusDetail || 'The server answered 401.'}</p>
    <label title="A viewer or admin token">token <input type="password" value=${token} autocomplete="off" onInput=${(e) => setToken(e.currentTarget.value)} /></label>
    <button type="submit" class="primary">Connect</button>
  </form>`;
}

function App() {
  const [id, , Page] = route();
  const state = store.state;
  let body;
  if (store.status === 'token') body = html`<${TokenPrompt} />`;
  else if (!state || !state.server) body = html`<p class="muted loading">Waiting for the server's first snapshot…</p>`;
  else body = html`<${Page} state=${state} />`;
  return html`<div class=${'app page-' + id}>
    <${Header} state=${state} current=${id} />
    <main>${body}</main>
  </div>`;
}

const root = document.getElementById('app');
setRenderer(() => render(html`<${App} tick=${store.tick} />`, root));
window.addEventListener('hashchange', changed);
if (!location.hash) history.replaceState(null, '', '#/fleet');
changed();
connect();
