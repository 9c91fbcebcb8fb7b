#!/usr/bin/env node
// Runs browser test files with Node's test runner, for ctest: exits 77 (ctest's
// SKIP_RETURN_CODE) with the reason when Chromium, web/node_modules, the
// binary or the models are missing, so a machine without them reports the
// tests skipped rather than passed.
//   node tests/browser/run.mjs tests/browser/dashboard.test.mjs
//   node tests/browser/run.mjs --require prometheus tests/browser/history.test.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisite, webDir } from './lib.mjs';

function onPath(program) {
  return (process.env.PATH || '').split(':').some((dir) => dir && existsSync(join(dir, program)));
}

const args = process.argv.slice(2);
// --require PROGRAM: skip unless PROGRAM is on the PATH (e.g. prometheus).
const required = [];
while (args[0] === '--require') {
  required.push(args[1]);
  args.splice(0, 2);
}
const missing = missingPrerequisite() || required.filter((p) => !onPath(p)).map((p) => `${p} is not installed`).join(', ');
if (missing) {
  console.log(`SKIP: ${missing}`);
  process.exit(77);
}
if (!existsSync(join(webDir, 'dist/index.html'))) {
  // The server serves the dashboard it embedded at build time; without a
  // built web/dist it has none to serve.
  console.log('note: web/dist is not built (cd web && npm run build); the server may have no dashboard to serve');
}
const files = args;
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
