// The dashboard's pure parts, without a browser: node --test web/test/merge.test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergePatch } from '../src/merge.js';
import { Table } from '../src/table.js';

test('mergePatch follows the examples of RFC 7396', () => {
  const cases = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    const before = JSON.stringify(target);
    assert.deepEqual(mergePatch(target, patch), expected, `${before} + ${JSON.stringify(patch)}`);
    assert.equal(JSON.stringify(target), before, 'the target is not modified');
  }
});

test('mergePatch keeps the identity of what the patch does not change', () => {
  const state = {
    nodes: { a: { up: true, devices: { gpu0: { busy: 1 } } }, b: { up: true, devices: {} } },
    services: { face: { latency_ms: { total: [1, 2, 3] } } },
  };
  const next = mergePatch(state, { nodes: { a: { devices: { gpu0: { busy: 2 } } } } });
  assert.notEqual(next, state);
  assert.notEqual(next.nodes.a, state.nodes.a);
  assert.equal(next.nodes.b, state.nodes.b, 'an untouched node keeps its identity');
  assert.equal(next.services, state.services);
  assert.equal(next.nodes.a.devices.gpu0.busy, 2);
  assert.equal(mergePatch(state, { nodes: { a: { up: true } } }), state, 'a patch that changes nothing');
  const same = mergePatch(state, { services: { face: { latency_ms: { total: [1, 2, 3] } } } });
  assert.equal(same, state, 'an equal array of scalars keeps the old one');
});

test('Table keeps aligned columns and the last rows', () => {
  const t = new Table(3);
  t.push(1, [['a', 1]]);
  t.push(2, [['a', 2], ['b', 20]]);
  t.push(3, [['b', 30]]);
  assert.deepEqual(t.data(['a', 'b', 'c']), [[1, 2, 3], [1, 2, null], [null, 20, 30], [null, null, null]]);
  // Trimmed in chunks: back to the cap once 60 rows over it.
  for (let i = 4; i <= 63; i++) t.push(i, [['b', i]]);
  assert.equal(t.t.length, 63);
  t.push(64, [['b', 64]]);
  assert.deepEqual(t.t, [62, 63, 64], 'trimmed to the cap');
  assert.deepEqual(t.keys(), ['b'], 'a column that became all null is dropped');
  assert.equal(t.latest('b'), 64);
});
