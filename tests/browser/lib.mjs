// Helpers for the dashboard's browser tests: the real heteroaccel binary as
// subprocesses (server, agents, bench) and Debian's Chromium driven through
// playwright-core (from web/node_modules; no browser is ever downloaded).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const sourceDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const webDir = join(sourceDir, 'web');
export const binary = process.env.HETEROACCEL_BIN || join(sourceDir, 'build/bin/heteroaccel');
export const modelsDir = process.env.HETEROACCEL_MODELS_DIR || join(sourceDir, 'models');
export const chromiumPath = process.env.HETEROACCEL_CHROMIUM || '/usr/bin/chromium';

// The flags ECOSYSTEM.md prescribes; launch() gives each browser a fresh
// temporary profile.
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function playwright() {
  const require = createRequire(join(webDir, 'package.json'));
  return require('playwright-core');
}

export async function launchBrowser() {
  const { chromium } = playwright();
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}

// What is missing to run these tests, or '' when nothing is.
export function missingPrerequisite() {
  if (!existsSync(chromiumPath)) return `${chromiumPath} is missing (apt-get install chromium fonts-dejavu-core)`;
  if (!existsSync(join(webDir, 'node_modules/playwright-core'))) return 'web/node_modules is missing (cd web && npm ci)';
  if (!existsSync(binary)) return `${binary} is missing (build the heteroaccel target, or set HETEROACCEL_BIN)`;
  if (!existsSync(join(modelsDir, 'images'))) return `${modelsDir} has no images (make setup, or set HETEROACCEL_MODELS_DIR)`;
  return '';
}

export function tempDir(name = 'heteroaccel-browser-') {
  return mkdtempSync(join(tmpdir(), name));
}

const children = new Set();
function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(1);
  });
}

// A subprocess whose output lines are kept and can be waited for.
export class Proc {
  constructor(name, args, options = {}) {
    this.name = name;
    this.lines = [];
    this.waiters = [];
    this.child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    children.add(this.child);
    this.exited = new Promise((done) =>
      this.child.on('exit', (code, signal) => {
        children.delete(this.child);
        this.exitCode = code ?? signal;
        done(this.exitCode);
      }),
    );
    for (const stream of [this.child.stdout, this.child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 2000) this.lines.splice(0, 1000);
        for (const w of [...this.waiters]) if (w.pattern.test(line)) w.resolve(line);
      });
    }
  }

  output(last = 60) {
    return `--- ${this.name} (last ${last} lines)\n${this.lines.slice(-last).join('\n')}`;
  }

  waitForLine(pattern, timeoutMs) {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolvePromise, reject) => {
      const w = { pattern };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms\n${this.output()}`));
      }, timeoutMs);
      w.resolve = (line) => {
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        resolvePromise(line);
      };
      this.waiters.push(w);
      this.exited.then((code) => {
        if (this.waiters.includes(w)) {
          clearTimeout(timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(new Error(`${this.name} exited (${code}) before printing ${pattern}\n${this.output()}`));
        }
      });
    });
  }

  kill(signal = 'SIGTERM') {
    if (this.exitCode === undefined) this.child.kill(signal);
    return this.exited;
  }
}

export async function startServer({ adminToken, clusterToken, stateDir, listen = '127.0.0.1:0', args = [] }) {
  const server = new Proc('server', [
    'server', '--listen', listen, '--admin-token', adminToken, '--cluster-token', clusterToken,
    '--state-dir', stateDir, ...args,
  ]);
  const line = await server.waitForLine(/heteroaccel server listening on http:\/\//, 30000);
  server.url = line.match(/(http:\/\/[^\s]+)/)[1].replace(/\/$/, '');
  return server;
}

export async function startAgent({ name, server, clusterToken, config, dir, models = 'face,object' }) {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, config);
  const agent = new Proc(name, [
    'agent', '--listen', '127.0.0.1:0', '--server', server, '--cluster-token', clusterToken,
    '--models-dir', modelsDir, '--models', models, '--config', path,
  ]);
  await agent.waitForLine(/ready/, 300000);
  return agent;
}

export function startBench({ target, duration = '60s', cameras = 2, mix = 'face,object' }) {
  return new Proc('bench', [
    'bench', '--target', target, '--cameras', String(cameras), '--mix', mix, '--duration', duration,
    '--warmup', '0s', '--images', join(modelsDir, 'images'),
  ]);
}

export async function getJson(url, path, headers = {}) {
  const r = await fetch(url + path, { headers });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

// Waits until fn() returns something truthy (retrying on throw); returns it.
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last?.message ?? JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function image(name = 'astronaut.png') {
  return readFileSync(join(modelsDir, 'images', name));
}

// POST /v1/infer/{type} with an image; answers the JSON document.
export async function infer(url, type, body) {
  const r = await fetch(`${url}/v1/infer/${type}`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST /v1/infer/${type}: ${r.status} ${text}`);
  return JSON.parse(text);
}
