#!/usr/bin/env bash
# The Kubernetes manifests (deploy/k8s), offline:
#   check_manifests.sh render SRC DIR      kubectl kustomize DIR, every object valid
#   check_manifests.sh invalid SRC         each tests/k8s/manifests/invalid/*.yaml is
#                                          rejected with the message its `# expect:` names,
#                                          and a misspelt field in the real DaemonSet too
#   check_manifests.sh contract SRC        what the overlays must hold (contract.mjs)
#   check_manifests.sh configs SRC BINARY  the ConfigMaps' server.yaml and agent.yaml are
#                                          accepted by the real server and agent
# SRC is the source tree. A missing tool is a failure that says what to install.
set -euo pipefail
mode=$1 src=$2
validator=$src/tools/k8s-validate

need_node() {
  command -v node >/dev/null || { echo "FAIL: node (Node.js >= 20) is not installed" >&2; exit 1; }
  [[ -d $validator/node_modules/kubernetes-models ]] || {
    echo "FAIL: $validator/node_modules is missing: run 'make k8s-validate-deps'" \
         "(npm ci in tools/k8s-validate)" >&2; exit 1; }
}
need_kubectl() {
  command -v kubectl >/dev/null || {
    echo "FAIL: kubectl is not installed: it renders the kustomizations (kubectl kustomize," \
         "kustomize v5; kubectl >= 1.27)" >&2; exit 1; }
}
render() { kubectl kustomize "$src/deploy/k8s/$1"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s-manifests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

case $mode in
  render)
    need_kubectl; need_node
    render "$3" > "$tmp/rendered.yaml"
    node "$validator/validate.js" "$tmp/rendered.yaml"
    ;;
  invalid)
    need_kubectl; need_node
    failures=0
    # One run over every fixture (loading the schemas takes seconds); each
    # problem line starts with its file's name.
    fixtures=("$src"/tests/k8s/manifests/invalid/*.yaml)
    if node "$validator/validate.js" "${fixtures[@]}" > "$tmp/out" 2>&1; then
      echo "FAIL: the invalid fixtures were accepted" >&2; cat "$tmp/out" >&2; exit 1
    fi
    for fixture in "${fixtures[@]}"; do
      expect=$(sed -n '1s/^# expect: //p' "$fixture")
      [[ -n $expect ]] || { echo "FAIL: $fixture has no '# expect:' first line" >&2; exit 1; }
      if ! grep -F -- "$(basename "$fixture")#1: " "$tmp/out" | grep -qF -- "$expect"; then
        echo "FAIL: $(basename "$fixture") was not rejected with: $expect" >&2
        grep -F -- "$(basename "$fixture")#" "$tmp/out" >&2 || true
        failures=$((failures + 1))
      else
        echo "ok: $(basename "$fixture") rejected: $expect"
      fi
    done
    # The real objects are checked as closely: one misspelt field in the
    # rendered DaemonSet must fail.
    render overlays/demo > "$tmp/demo.yaml"
    node "$validator/validate.js" "$tmp/demo.yaml" > /dev/null
    sed 's/^\(\s*\)readinessProbe:/\1readinesProbe:/' "$tmp/demo.yaml" > "$tmp/bad.yaml"
    if node "$validator/validate.js" "$tmp/bad.yaml" > "$tmp/out" 2>&1 ||
       ! grep -q 'DaemonSet heteroaccel/heteroaccel-agent.*readinesProbe: unknown field' "$tmp/out"; then
      echo "FAIL: a misspelt readinessProbe in the rendered demo overlay was not reported" >&2
      cat "$tmp/out" >&2; failures=$((failures + 1))
    else
      echo "ok: rendered demo overlay with readinesProbe rejected"
    fi
    exit $((failures > 0))
    ;;
  contract)
    need_kubectl; need_node
    for overlay in accelerators demo; do render "overlays/$overlay" > "$tmp/$overlay.yaml"; done
    render nfd > "$tmp/nfd.yaml"
    node "$src/tests/k8s/manifests/contract.mjs" \
      "$validator" "$tmp/accelerators.yaml" "$tmp/demo.yaml" "$tmp/nfd.yaml"
    ;;
  configs)
    need_kubectl; need_node
    binary=$3
    render overlays/demo > "$tmp/demo.yaml"
    node --input-type=module -e "
      import {readFileSync, writeFileSync} from 'node:fs';
      const {parseAllDocuments} = await import('$validator/node_modules/yaml/dist/index.js');
      for (const d of parseAllDocuments(readFileSync('$tmp/demo.yaml', 'utf8'))) {
        const o = d.toJS();
        if (o?.kind !== 'ConfigMap') continue;
        for (const [k, v] of Object.entries(o.data ?? {})) writeFileSync('$tmp/' + k, v);
      }"
    for f in server.yaml agent.yaml; do
      [[ -s $tmp/$f ]] || { echo "FAIL: no ConfigMap holds $f" >&2; exit 1; }
    done
    # Each must start (it prints its address once configured), then stop on SIGTERM.
    start_and_stop() {
      local name=$1; shift
      "$binary" "$@" > "$tmp/$name.out" 2>&1 &
      local pid=$! deadline=$((SECONDS + 60))
      until grep -q "listening on http://" "$tmp/$name.out"; do
        if ! kill -0 $pid 2>/dev/null || ((SECONDS > deadline)); then
          kill $pid 2>/dev/null || true
          echo "FAIL: $name did not start with the ConfigMap's configuration:" >&2
          cat "$tmp/$name.out" >&2; return 1
        fi
        sleep 0.2
      done
      kill -TERM $pid; wait $pid || true
      echo "ok: $name accepts its ConfigMap"
    }
    start_and_stop server server --config "$tmp/server.yaml" --listen 127.0.0.1:0
    mkdir "$tmp/models"
    start_and_stop agent agent --config "$tmp/agent.yaml" --listen 127.0.0.1:0 \
      --models-dir "$tmp/models" --no-warm-up
    ;;
  *) echo "usage: $0 render|invalid|contract|configs SRC [DIR|BINARY]" >&2; exit 2 ;;
esac
