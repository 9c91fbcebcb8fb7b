// Calls to the server's /v1 API. URLs are relative to the page, which the
// server serves at /. Every error carries the server's own message.
import { authHeaders, settings } from './settings.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// `body`: a value sent as JSON, or a string sent as it is with `contentType`
// (e.g. a camera document typed as YAML).
export async function api(method, path, body, contentType) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  const raw = typeof body === 'string' && contentType;
  if (body !== undefined) headers['Content-Type'] = raw ? contentType : 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || text || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${message}`);
  }
  return data;
}

// A URL for an <img> (which cannot send headers): the token as ?token=, and
// `bust` so that a refreshed picture is fetched again rather than cached.
export function imageUrl(path, bust) {
  const q = [];
  if (settings.token) q.push(`token=${encodeURIComponent(settings.token)}`);
  if (bust !== undefined) q.push(`t=${encodeURIComponent(bust)}`);
  const rel = path.replace(/^\//, '');
  return q.length ? `${rel}${rel.includes('?') ? '&' : '?'}${q.join('&')}` : rel;
}

// A path segment: camera and event ids go into URLs percent-encoded.
export const seg = encodeURIComponent;

// A request whose answer is newline-delimited JSON (the fleet routes): `onEvent`
// gets each object as its line arrives. Resolves when the answer ends.
export async function apiStream(method, path, body, onEvent) {
  const headers = { Accept: 'application/x-ndjson', 'Content-Type': 'application/json', ...authHeaders() };
  let response;
  try {
    response = await fetch(path, { method, headers, body: JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  if (!response.ok) {
    const text = await response.text();
    let message = text || response.statusText;
    try {
      message = JSON.parse(text).error || message;
    } catch {
      // not JSON: the text as it is
    }
    throw new ApiError(response.status, `${response.status}: ${message}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  const flush = (final) => {
    const lines = pending.split('\n');
    pending = final ? '' : lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        onEvent(JSON.parse(line));
      } catch {
        // a line that is not JSON is skipped
      }
    }
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    flush(false);
  }
  pending += decoder.decode();
  flush(true);
}
