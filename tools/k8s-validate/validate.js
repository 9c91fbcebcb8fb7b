#!/usr/bin/env node
// Validates Kubernetes objects offline, against the API's schemas.
//
//   node validate.js FILE...        (multi-document YAML; "-" reads stdin)
//   kubectl kustomize DIR | node validate.js -
//
// Each object is checked with the kubernetes-models class for its apiVersion
// and kind (Kubernetes 1.27 schemas; PodMonitor and the other Prometheus
// Operator kinds from @kubernetes-models/prometheus-operator), or with a JSON
// schema in schemas/ (NodeFeatureRule). The generated validators check types,
// required fields and enums but let unknown fields through, which the API
// server would reject (a misspelt `livenesProbe` would simply be dropped by a
// lenient client): this script records which fields the validator looked at
// and reports every other one as unknown. It also checks what the schemas
// cannot say: object names, label syntax, port names (IANA service names) and
// probes naming a port the container has.
//
// Objects of a kind with no schema are reported as "not validated: no schema"
// after a check of apiVersion, kind and metadata.name. Exit status: 0 when
// every object is valid, 1 when any is not (each problem on stderr, naming the
// object and the field), 2 on unreadable input.
import {readFileSync, readdirSync} from 'node:fs';
import {basename, dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import Ajv from 'ajv';
import * as kubernetesModels from 'kubernetes-models';
import * as prometheusOperator from '@kubernetes-models/prometheus-operator';
import {parseAllDocuments} from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));

// apiVersion/kind -> model class, from every class the packages export.
function collectModels(namespace, into, depth = 0) {
  if (depth > 4 || namespace === null || typeof namespace !== 'object') return into;
  for (const value of Object.values(namespace)) {
    if (typeof value === 'function' && typeof value.apiVersion === 'string' &&
        typeof value.kind === 'string' && typeof value.prototype.validate === 'function') {
      into.set(`${value.apiVersion}/${value.kind}`, value);
    } else if (value !== null && typeof value === 'object') {
      collectModels(value, into, depth + 1);
    }
  }
  return into;
}

const models = collectModels(prometheusOperator, collectModels(kubernetesModels, new Map()));

// JSON schemas for kinds no package covers: schemas/<group>_<version>_<Kind>.json.
const ajv = new Ajv({allErrors: true, strict: false});
const extraSchemas = new Map();
for (const file of readdirSync(join(here, 'schemas'))) {
  const match = /^(.+)_([^_]+)_([^_]+)\.json$/.exec(file);
  if (!match) continue;
  const schema = JSON.parse(readFileSync(join(here, 'schemas', file), 'utf8'));
  extraSchemas.set(`${match[1]}/${match[2]}/${match[3]}`, ajv.compile(schema));
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Wraps `root` so that every property the validator reads, and every object
// whose keys it enumerates (maps such as labels), is recorded.
function tracked(root) {
  const records = new Map();
  const proxies = new WeakMap();
  const wrap = (value) => {
    if (value === null || typeof value !== 'object') return value;
    if (proxies.has(value)) return proxies.get(value);
    const record = {read: new Set(), enumerated: false};
    records.set(value, record);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') record.read.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        if (typeof key === 'string') record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  return {proxy: wrap(root), records};
}

// Fields of plain objects the validator looked into but never read: unknown to
// the schema. Objects it never reached (below an invalid or free-form field)
// and maps it enumerated are left alone.
function unknownFields(value, records, path, out) {
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknownFields(item, records, `${path}/${i}`, out));
    return out;
  }
  if (!isPlainObject(value)) return out;
  const record = records.get(value);
  if (!record) return out;
  for (const [key, child] of Object.entries(value)) {
    if (!record.enumerated && !record.read.has(key)) {
      out.push(`${path}/${key}: unknown field "${key}"`);
    } else {
      unknownFields(child, records, `${path}/${key}`, out);
    }
  }
  return out;
}

function schemaProblems(object) {
  const key = `${object.apiVersion}/${object.kind}`;
  const model = models.get(key);
  if (model) {
    const {proxy, records} = tracked(object);
    const problems = [];
    try {
      model.prototype.validate.call(proxy);
    } catch (error) {
      for (const e of error.errors ?? [{instancePath: '', message: error.message}]) {
        const detail = e.params?.missingProperty ? ` (${e.params.missingProperty})` :
            e.params?.allowedValues ? ` (one of ${e.params.allowedValues.join(', ')})` : '';
        problems.push(`${e.instancePath || '/'}: ${e.message}${detail}`);
      }
    }
    return {validated: true, problems: problems.concat(unknownFields(object, records, '', []))};
  }
  const extra = extraSchemas.get(key);
  if (extra) {
    if (extra(object)) return {validated: true, problems: []};
    return {
      validated: true,
      problems: extra.errors.map((e) => {
        const extraField = e.params?.additionalProperty;
        return extraField ? `${e.instancePath}/${extraField}: unknown field "${extraField}"` :
                            `${e.instancePath || '/'}: ${e.message}`;
      }),
    };
  }
  return {validated: false, problems: []};
}

// What the API server checks beyond the OpenAPI schema, where a mistake is easy.
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelName = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function portNameProblem(name) {
  if (name.length > 15) return 'longer than 15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'only a-z, 0-9 and - are allowed';
  if (!/[a-z]/.test(name)) return 'needs at least one letter';
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) {
    return 'no leading, trailing or double hyphens';
  }
  return null;
}

function checkLabels(labels, path, problems) {
  if (!isPlainObject(labels)) return;
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : '';
    const name = key.slice(slash + 1);
    if ((prefix && (prefix.length > 253 || !dnsSubdomain.test(prefix))) ||
        name.length > 63 || !labelName.test(name)) {
      problems.push(`${path}/${key}: invalid label key`);
    }
    if (typeof value === 'string' && (value.length > 63 || !labelValue.test(value))) {
      problems.push(`${path}/${key}: invalid label value "${value}"`);
    }
  }
}

function podSpecOf(object) {
  if (object.kind === 'Pod') return object.spec;
  if (object.kind === 'CronJob') return object.spec?.jobTemplate?.spec?.template?.spec;
  return object.spec?.template?.spec;
}

function checkContainers(podSpec, path, problems) {
  for (const field of ['initContainers', 'containers']) {
    const containers = podSpec?.[field];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container, i) => {
      const at = `${path}/${field}/${i}`;
      const portNames = new Set();
      (container?.ports ?? []).forEach((port, j) => {
        if (typeof port?.name !== 'string') return;
        portNames.add(port.name);
        const problem = portNameProblem(port.name);
        if (problem) problems.push(`${at}/ports/${j}/name: "${port.name}": ${problem}`);
      });
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = container?.[probe]?.httpGet?.port ?? container?.[probe]?.tcpSocket?.port;
        if (typeof port === 'string' && !portNames.has(port)) {
          problems.push(`${at}/${probe}: port "${port}" is not a named port of this container`);
        }
      }
    });
  }
}

function apiServerProblems(object) {
  const problems = [];
  const name = object.metadata?.name;
  if (typeof name === 'string' && (name.length > 253 || !dnsSubdomain.test(name))) {
    problems.push(`/metadata/name: "${name}" is not a lowercase DNS subdomain`);
  }
  checkLabels(object.metadata?.labels, '/metadata/labels', problems);
  checkLabels(object.spec?.template?.metadata?.labels, '/spec/template/metadata/labels', problems);
  const podSpec = podSpecOf(object);
  if (podSpec) checkContainers(podSpec, object.kind === 'Pod' ? '/spec' : '/spec/template/spec',
                               problems);
  if (object.kind === 'Service') {
    (object.spec?.ports ?? []).forEach((port, j) => {
      const problem = typeof port?.name === 'string' ? portNameProblem(port.name) : null;
      if (problem) problems.push(`/spec/ports/${j}/name: "${port.name}": ${problem}`);
    });
  }
  return problems;
}

function describe(object) {
  const ns = object?.metadata?.namespace ? `${object.metadata.namespace}/` : '';
  return `${object?.kind ?? '(no kind)'} ${ns}${object?.metadata?.name ?? '(no name)'}`;
}

function readInputs(args) {
  if (args.length === 0) args = ['-'];
  return args.map((file) => ({
    name: file === '-' ? 'stdin' : basename(file),
    text: readFileSync(file === '-' ? 0 : file, 'utf8'),
  }));
}

function main(args) {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write('usage: validate.js [FILE|-]...  (multi-document YAML)\n');
    return 0;
  }
  let inputs;
  try {
    inputs = readInputs(args);
  } catch (error) {
    process.stderr.write(`k8s-validate: ${error.message}\n`);
    return 2;
  }
  let valid = 0, invalid = 0, unchecked = 0;
  for (const {name, text} of inputs) {
    const documents = parseAllDocuments(text);
    documents.forEach((document, index) => {
      const where = `${name}#${index + 1}`;
      if (document.errors.length > 0) {
        process.stderr.write(`${where}: not YAML: ${document.errors[0].message}\n`);
        invalid++;
        return;
      }
      const object = document.toJS();
      if (object === null || object === undefined) return;  // an empty document
      if (!isPlainObject(object) || typeof object.apiVersion !== 'string' ||
          typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string') {
        process.stderr.write(
            `${where}: ${describe(object)}: apiVersion, kind and metadata.name are required\n`);
        invalid++;
        return;
      }
      const {validated, problems} = schemaProblems(object);
      problems.push(...apiServerProblems(object));
      if (problems.length > 0) {
        for (const problem of problems) {
          process.stderr.write(`${where}: ${describe(object)} (${object.apiVersion}): ${problem}\n`);
        }
        invalid++;
      } else if (!validated) {
        process.stdout.write(`${where}: ${describe(object)} (${object.apiVersion}): ` +
                             'not validated: no schema\n');
        unchecked++;
      } else {
        valid++;
      }
    });
  }
  process.stdout.write(`${valid} valid, ${invalid} invalid, ${unchecked} not validated\n`);
  if (valid + invalid + unchecked === 0) {
    process.stderr.write('k8s-validate: no objects in the input\n');
    return 1;
  }
  return invalid > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
