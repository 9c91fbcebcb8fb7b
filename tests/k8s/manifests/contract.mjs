// What the rendered overlays must hold for HeteroAccel to work on a cluster,
// beyond schema validity: how agents find the servers, where the tokens come
// from, the device-plugin and sysfs mounts, probes on the real health
// endpoints, the server's scaling objects, and node selection on labels that
// the NFD rules actually set.
//
//   node contract.mjs VALIDATOR_DIR ACCELERATORS.yaml DEMO.yaml NFD.yaml
// Prints one line per failed expectation and exits 1 if any failed.
import {readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {pathToFileURL} from 'node:url';

const [validatorDir, acceleratorsFile, demoFile, nfdFile] = process.argv.slice(2);
const {parseAllDocuments} = await import(
    pathToFileURL(join(resolve(validatorDir), 'node_modules/yaml/dist/index.js')).href);

const load = (file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS())
                           .filter((o) => o);
let failures = 0;
function expect(condition, what) {
  if (!condition) {
    console.error(`FAIL: ${what}`);
    failures++;
  }
}
const find = (objects, kind, name) =>
    objects.find((o) => o.kind === kind && o.metadata?.name === name);
const selects = (selector, labels) =>
    Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

function checkCommon(objects, overlay) {
  const at = (what) => `${overlay}: ${what}`;
  for (const o of objects) {
    const clusterScoped = ['Namespace', 'NodeFeatureRule'].includes(o.kind);
    if (clusterScoped || o.metadata?.name === 'heteroaccel-prometheus-adapter') continue;
    expect(o.metadata?.namespace === 'heteroaccel',
           at(`${o.kind} ${o.metadata?.name} is in namespace heteroaccel`));
  }
  const secret = find(objects, 'Secret', 'heteroaccel-tokens');
  expect(secret, at('Secret heteroaccel-tokens exists'));
  const secretKeys = new Set(Object.keys({...secret?.data, ...secret?.stringData}));
  const tokenEnv = (container, env) => {
    const ref = container?.env?.find((e) => e.name === env)?.valueFrom?.secretKeyRef;
    return ref?.name === 'heteroaccel-tokens' && secretKeys.has(ref.key);
  };

  // The agent.
  const ds = find(objects, 'DaemonSet', 'heteroaccel-agent');
  expect(ds, at('DaemonSet heteroaccel-agent exists'));
  const pod = ds?.spec?.template?.spec;
  const agent = pod?.containers?.find((c) => c.name === 'agent');
  const args = agent?.args ?? [];
  expect(args[0] === 'agent', at('the agent container runs `heteroaccel agent`'));
  for (const flag of ['--node=$(NODE_NAME)',
                      '--server=http://heteroaccel-server-peers.heteroaccel.svc:8000',
                      '--device-plugin-dir=/var/lib/kubelet/device-plugins',
                      '--sysfs-root=/host/sys', '--listen=0.0.0.0:8001']) {
    expect(args.includes(flag), at(`agent args include ${flag}`));
  }
  expect(agent?.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath ===
             'spec.nodeName',
         at('NODE_NAME comes from spec.nodeName (downward API)'));
  expect(tokenEnv(agent, 'HETEROACCEL_CLUSTER_TOKEN'),
         at('the agent reads HETEROACCEL_CLUSTER_TOKEN from the Secret'));
  expect(agent?.livenessProbe?.httpGet?.path === '/v2/health/live',
         at('agent liveness on /v2/health/live'));
  expect(agent?.readinessProbe?.httpGet?.path === '/v2/health/ready',
         at('agent readiness on /v2/health/ready'));
  const hostPathMount = (hostPath) => {
    const volume = pod?.volumes?.find((v) => v.hostPath?.path === hostPath);
    return volume && agent?.volumeMounts?.find((m) => m.name === volume.name);
  };
  expect(hostPathMount('/var/lib/kubelet/device-plugins')?.mountPath ===
             '/var/lib/kubelet/device-plugins',
         at('the kubelet device-plugin directory is mounted at its own path'));
  const sys = hostPathMount('/sys');
  expect(sys?.mountPath === '/host/sys' && sys?.readOnly === true,
         at('/sys is mounted read-only at /host/sys'));

  // The server.
  const deploy = find(objects, 'Deployment', 'heteroaccel-server');
  expect(deploy, at('Deployment heteroaccel-server exists'));
  const serverPod = deploy?.spec?.template;
  const server = serverPod?.spec?.containers?.find((c) => c.name === 'server');
  const serverArgs = server?.args ?? [];
  expect(deploy?.spec?.replicas >= 2, at('the server runs 2+ replicas'));
  expect(serverArgs[0] === 'server', at('the server container runs `heteroaccel server`'));
  for (const flag of ['--listen=0.0.0.0:8000', '--grpc-listen=0.0.0.0:8001',
                      '--config=/etc/heteroaccel/server.yaml']) {
    expect(serverArgs.includes(flag), at(`server args include ${flag}`));
  }
  const stateDir = serverArgs.find((a) => a.startsWith('--state-dir='))?.split('=')[1];
  const stateMount = server?.volumeMounts?.find((m) => m.mountPath === stateDir);
  expect(stateMount && serverPod.spec.volumes.find((v) => v.name === stateMount.name)?.emptyDir,
         at('--state-dir is on an emptyDir'));
  const configMount = server?.volumeMounts?.find((m) => m.mountPath === '/etc/heteroaccel');
  const configVolume = serverPod?.spec?.volumes?.find((v) => v.name === configMount?.name);
  const configMap = find(objects, 'ConfigMap', configVolume?.configMap?.name);
  expect(configMap?.data?.['server.yaml'], at('server.yaml comes from a ConfigMap'));
  expect(tokenEnv(server, 'HETEROACCEL_CLUSTER_TOKEN'), at('server cluster token from the Secret'));
  expect(tokenEnv(server, 'HETEROACCEL_ADMIN_TOKEN'), at('server admin token from the Secret'));
  expect(server?.readinessProbe?.httpGet && server?.livenessProbe?.httpGet,
         at('server readiness and liveness probes'));
  expect(server?.resources?.requests?.cpu && server?.resources?.limits?.memory,
         at('server resources'));
  const antiAffinity = serverPod?.spec?.affinity?.podAntiAffinity
                           ?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
  expect(antiAffinity?.topologyKey === 'kubernetes.io/hostname' &&
             selects(antiAffinity.labelSelector?.matchLabels, serverPod?.metadata?.labels),
         at('server replicas are spread over nodes (anti-affinity on the hostname)'));

  const podLabels = serverPod?.metadata?.labels;
  const svc = find(objects, 'Service', 'heteroaccel-server');
  const portOf = (service, name) => service?.spec?.ports?.find((p) => p.name === name)?.port;
  expect(selects(svc?.spec?.selector, podLabels) && portOf(svc, 'http') === 8000 &&
             portOf(svc, 'grpc') === 8001,
         at('Service heteroaccel-server selects the server on 8000 (http) and 8001 (grpc)'));
  const peers = find(objects, 'Service', 'heteroaccel-server-peers');
  expect(peers?.spec?.clusterIP === 'None' && peers?.spec?.publishNotReadyAddresses === false &&
             selects(peers?.spec?.selector, podLabels) && portOf(peers, 'http') === 8000,
         at('Service heteroaccel-server-peers is headless over the server pods, port 8000'));
  const pdb = find(objects, 'PodDisruptionBudget', 'heteroaccel-server');
  expect(pdb && selects(pdb.spec?.selector?.matchLabels, podLabels),
         at('a PodDisruptionBudget covers the server'));
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'heteroaccel-server');
  expect(hpa?.apiVersion === 'autoscaling/v2' &&
             hpa.spec?.scaleTargetRef?.name === 'heteroaccel-server' &&
             hpa.spec?.minReplicas >= 2 &&
             hpa.spec?.metrics?.some((m) => m.type === 'Pods' &&
                                            m.pods?.metric?.name === 'heteroaccel_server_queued'),
         at('the HPA scales the server on the Pods metric heteroaccel_server_queued'));
  const adapter = find(objects, 'ConfigMap', 'heteroaccel-prometheus-adapter');
  expect(/as: heteroaccel_server_queued/.test(adapter?.data?.['config.yaml'] ?? ''),
         at('the prometheus-adapter rule serves heteroaccel_server_queued'));
  for (const [name, labels, container] of [['heteroaccel-server', podLabels, server],
                                           ['heteroaccel-agent', ds?.spec?.template?.metadata?.labels,
                                            agent]]) {
    const monitor = find(objects, 'PodMonitor', name);
    const port = monitor?.spec?.podMetricsEndpoints?.[0]?.port;
    expect(monitor && selects(monitor.spec?.selector?.matchLabels, labels) &&
               container?.ports?.some((p) => p.name === port),
           at(`PodMonitor ${name} selects its pods on a port they have`));
  }
  return {ds, agent};
}

const accelerators = load(acceleratorsFile);
const demo = load(demoFile);
const nfdLabels = new Set(load(nfdFile).flatMap(
    (rule) => (rule.spec?.rules ?? []).flatMap((r) => Object.keys(r.labels ?? {}))));

{
  const {ds, agent} = checkCommon(accelerators, 'accelerators');
  const terms = ds?.spec?.template?.spec?.affinity?.nodeAffinity
                    ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const keys = terms.flatMap((t) => (t.matchExpressions ?? []).map((e) => e.key));
  expect(keys.length >= 3, 'accelerators: agents are placed by accelerator labels');
  for (const key of keys) {
    expect(nfdLabels.has(key), `accelerators: node affinity key ${key} is set by an NFD rule`);
  }
  for (const kind of ['gpu', 'npu', 'fpga']) {
    expect(nfdLabels.has(`heteroaccel.io/accelerator.${kind}`),
           `NFD rules label heteroaccel.io/accelerator.${kind}`);
  }
  expect(accelerators.some((o) => o.kind === 'NodeFeatureRule'),
         'accelerators: the overlay ships the NodeFeatureRules');
  expect(agent?.securityContext?.privileged === true &&
             agent?.volumeMounts?.some((m) => m.mountPath === '/dev'),
         'accelerators: the agent opens device files (privileged, /dev)');
}
{
  const {agent} = checkCommon(demo, 'demo');
  expect(!agent?.securityContext?.privileged, 'demo: the agent is not privileged');
  expect(!agent?.volumeMounts?.some((m) => m.mountPath === '/dev'), 'demo: no /dev');
  expect(agent?.args?.includes('--config=/etc/heteroaccel/agent.yaml') &&
             agent?.args?.includes('--group=demo'),
         'demo: emulated devices from --config, in group demo');
}

console.log(failures === 0 ? 'every expectation holds' : `${failures} expectation(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
