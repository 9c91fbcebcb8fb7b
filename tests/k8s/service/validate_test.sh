#!/bin/sh
# The rendered manifests (the example and every golden output) against the
# Kubernetes schemas with tools/k8s-validate (npm kubernetes-models).
# Usage: validate_test.sh HETEROACCEL SOURCE_DIR NODE
set -eu
bin=$1
src=$2
node=$3
validator=$src/tools/k8s-validate
if [ ! -d "$validator/node_modules" ]; then
  echo "$validator/node_modules missing: run npm ci in tools/k8s-validate" >&2
  exit 1
fi
out=$(mktemp "${TMPDIR:-/tmp}/k8s-render-validate.XXXXXX")
trap 'rm -f "$out"' EXIT
"$bin" k8s render "$src/examples/k8s/service.yaml" -o "$out"
for f in "$out" "$src"/src/k8s/service/testdata/*.rendered.yaml; do
  "$node" "$validator/validate.js" "$f"
done
