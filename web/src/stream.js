// The one connection to the server: an EventSource on /v1/stream.
// - The first event is a snapshot; `patch` events are merge patches applied in
//   seq order; `decisions` and `audit` append; `camera_event` goes to the
//   camera pages (store.onCameraEvent); heartbeats only say "alive".
// - Network errors: EventSource reconnects by itself and sends Last-Event-ID,
//   so the server resumes where it left off (or sends a new snapshot).
// - A refused stream (401, 503, ...) closes the EventSource: the page asks the
//   server why (GET /v1/state), asks for a token on 401, else retries.
// - A seq gap (events the server no longer holds) or 30 s of silence: a fresh
//   EventSource, hence a fresh snapshot.
import { api, ApiError } from './api.js';
import { settings } from './settings.js';
import {
  addAudit,
  addCameraEvent,
  addDecisions,
  applyPatch,
  applySnapshot,
  noteSeq,
  setStatus,
  store,
  timed,
} from './store.js';

const kSilenceMs = 30000;
const kMaxRetryMs = 10000;

let source = null;
let broken = false; // the current EventSource lost its connection since it opened
let lastHeard = 0;
let retryMs = 500;
let retryTimer = null;

export function connect() {
  disconnect();
  const url = 'v1/stream' + (settings.token ? `?token=${encodeURIComponent(settings.token)}` : '');
  const es = new EventSource(url);
  source = es;
  broken = false;
  lastHeard = Date.now();
  setStatus(store.state ? 'reconnecting' : 'connecting');

  const on = (name, handler) =>
    es.addEventListener(name, (e) => {
      if (source !== es) return;
      lastHeard = Date.now();
      store.sseChars += e.data ? e.data.length : 0;
      timed(() => {
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return;
        }
        handler(msg);
      });
    });

  on('snapshot', (msg) => {
    applySnapshot(msg);
    retryMs = 500;
    setStatus('live');
    // The snapshot carries the recent decisions and audit entries; a server
    // that sends none gets asked.
    if (Array.isArray(msg.decisions)) addDecisions(msg.decisions);
    if (Array.isArray(msg.audit)) addAudit(msg.audit);
    if (!Array.isArray(msg.decisions) || !Array.isArray(msg.audit)) loadHistory();
  });
  on('patch', (msg) => {
    if (!inOrder(msg.seq)) return;
    applyPatch(msg);
  });
  on('decisions', (msg) => {
    if (!inOrder(msg.seq)) return;
    noteSeq(msg.seq);
    addDecisions(msg.decisions, msg.skipped);
  });
  on('audit', (msg) => {
    if (!inOrder(msg.seq)) return;
    noteSeq(msg.seq);
    addAudit(msg.audit);
  });
  on('camera_event', (msg) => {
    if (!inOrder(msg.seq)) return;
    noteSeq(msg.seq);
    addCameraEvent(msg.event);
  });
  on('heartbeat', (msg) => {
    // The heartbeat carries the last seq sent: more than we hold is a gap.
    if (store.seq !== null && typeof msg.seq === 'number' && msg.seq > store.seq) resync();
  });
  es.onopen = () => {
    if (source !== es) return;
    lastHeard = Date.now();
    // A resumed stream sends no snapshot: it is live as soon as it is open.
    if (store.state) setStatus('live');
    if (broken) checkSameServer();
  };
  es.onerror = () => {
    if (source !== es) return;
    broken = true;
    if (es.readyState === EventSource.CLOSED) {
      refused();
    } else {
      setStatus('reconnecting');
    }
  };
}

export function disconnect() {
  if (source) source.close();
  source = null;
  clearTimeout(retryTimer);
  retryTimer = null;
}

// True when the event follows what is held; an event already applied (a
// resumed stream may repeat) is skipped, a gap asks for a new snapshot.
function inOrder(seq) {
  if (typeof seq !== 'number' || store.seq === null) return true;
  if (seq <= store.seq) return false;
  if (seq > store.seq + 1) {
    resync();
    return false;
  }
  return true;
}

function resync() {
  connect();
}

// EventSource resumes with the last event id it saw; a server restarted since
// counts its events afresh and could resume from the wrong place. After a
// reconnection, a server started at another time means: a new snapshot.
async function checkSameServer() {
  const mine = store.state?.server?.started_ms;
  try {
    const r = await api('GET', 'v1/state');
    const theirs = r?.state?.server?.started_ms;
    if (mine && theirs && mine !== theirs) resync();
  } catch {
    // The stream's own error handling takes over.
  }
}

// The stream was refused: find out why before trying again.
async function refused() {
  if (source) source.close();
  try {
    await api('GET', 'v1/state');
    setStatus('reconnecting', 'the stream was refused; retrying');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      setStatus('token', e.message);
      return; // waits for a token (connect() is called when one is saved)
    }
    setStatus('reconnecting', e.message);
  }
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, kMaxRetryMs);
}

// The decisions and audit entries made before this snapshot.
async function loadHistory() {
  try {
    const [decisions, audit] = await Promise.all([
      api('GET', 'v1/decisions?limit=200'),
      api('GET', 'v1/audit?limit=100'),
    ]);
    const list = Array.isArray(decisions) ? decisions : decisions?.decisions;
    if (Array.isArray(list)) addDecisions(list);
    const entries = Array.isArray(audit) ? audit : audit?.audit;
    if (Array.isArray(entries)) addAudit(entries);
  } catch {
    // The stream brings the next ones; the pages say what is missing.
  }
}

setInterval(() => {
  if (source && source.readyState !== EventSource.CLOSED && Date.now() - lastHeard > kSilenceMs) {
    connect();
  }
}, 5000);
