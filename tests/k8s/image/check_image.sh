#!/usr/bin/env bash
# The container image from deploy/image/build_oci.sh, run from its own root
# filesystem without a container engine:
#   check_image.sh SRC BINARY [LAYOUT[:TAG]]
# builds the image from BINARY into a temporary directory when no LAYOUT is
# given (or it does not exist), unpacks it with umoci, checks its config
# (entrypoint, user, labels) and that every shared library the binary needs is
# in it, runs `heteroaccel --version` as the image's user, then starts the
# server and an agent from the image (chroot, in a private mount namespace with
# /proc, /sys and /dev bound in) and checks: the agent is live, gets ready with
# the face model (bind-mounted from HETEROACCEL_MODELS_DIR: models are not in
# the image), answers a real inference, registers with the server, which gets
# ready and serves its dashboard. Needs root, umoci, mmdebstrap (to build),
# curl and the models (make setup).
set -euo pipefail
src=$1 binary=$2 layout=${3:-}
models=${HETEROACCEL_MODELS_DIR:-$src/models}
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root (chroot, mounts): run make test-image as root"
for tool in umoci curl unshare chroot python3; do
  command -v $tool >/dev/null || fail "$tool is missing (make packages installs umoci and mmdebstrap)"
done
[[ -f $models/face/blazeface_front_128.onnx ]] ||
  fail "no face model in $models (make setup, or set HETEROACCEL_MODELS_DIR)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heteroaccel-image.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

version=$(sed -n 's/^project(heteroaccel VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [[ -z $layout || ! -d ${layout%:*} ]]; then
  echo "building the image from $binary"
  "$src/deploy/image/build_oci.sh" "$binary" "$tmp/image" "$version" | tail -1
  layout=$tmp/image/oci:$version
fi
[[ $layout == *:* ]] || layout=$layout:$version

# 1. Unpack; the image's own config.
umoci unpack --image "$layout" "$tmp/bundle" > /dev/null
rootfs=$tmp/bundle/rootfs
python3 - "$tmp/bundle/config.json" <<'PY' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))
p = c["process"]
problems = []
if p["args"][0] != "/usr/bin/heteroaccel": problems.append(f"entrypoint {p['args']}")
if p["user"]["uid"] != 65532: problems.append(f"user {p['user']}")
labels = c.get("annotations", {})
for key in ("org.opencontainers.image.title", "org.opencontainers.image.version",
            "org.opencontainers.image.revision", "org.opencontainers.image.created"):
    if not labels.get(key): problems.append(f"label {key} missing")
if problems: sys.exit("FAIL: image config: " + "; ".join(problems))
print("ok: entrypoint", p["args"], "user", p["user"]["uid"])
PY

# 2. Every library resolves inside the image (the dynamic loader lists them).
chroot "$rootfs" /lib64/ld-linux-x86-64.so.2 --list /usr/bin/heteroaccel > "$tmp/libs" ||
  { cat "$tmp/libs" >&2; fail "the dynamic loader cannot load heteroaccel in the image"; }
if grep -q 'not found' "$tmp/libs"; then
  grep 'not found' "$tmp/libs" >&2; fail "libraries missing from the image"
fi
echo "ok: $(wc -l < "$tmp/libs") libraries resolve in the image"

# 3. --version, as the image's user.
out=$(chroot --userspec=65532:65532 "$rootfs" /usr/bin/heteroaccel --version 2>&1) ||
  fail "heteroaccel --version failed in the image: $out"
[[ $out == *"$version"* ]] || fail "heteroaccel --version printed '$out', not version $version"
echo "ok: heteroaccel --version: $out"

# 4. Server and agent from the image.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server_port=$(free_port) agent_port=$(free_port)
token=image-test-$$
mkdir -p "$rootfs/models/face"
cat > "$tmp/run.sh" <<RUN
set -e
for d in proc sys dev; do mount --rbind /\$d "$rootfs/\$d"; done
mount --bind -o ro "$models/face" "$rootfs/models/face"
cd "$rootfs"
HETEROACCEL_CLUSTER_TOKEN=$token chroot --userspec=65532:65532 "$rootfs" /usr/bin/heteroaccel \
  server --listen 127.0.0.1:$server_port --state-dir /var/lib/heteroaccel > "$tmp/server.log" 2>&1 &
HETEROACCEL_CLUSTER_TOKEN=$token chroot --userspec=65532:65532 "$rootfs" /usr/bin/heteroaccel \
  agent --listen 127.0.0.1:$agent_port --node image-test --models face --models-dir /models \
  --no-opencl --cpu-slots 1 --server http://127.0.0.1:$server_port > "$tmp/agent.log" 2>&1 &
wait
RUN
unshare --mount --propagation private bash "$tmp/run.sh" &
pids+=($!)

logs() { echo "--- server log"; tail -20 "$tmp/server.log"; echo "--- agent log"; tail -20 "$tmp/agent.log"; } >&2
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }
wait_for() {  # URL what seconds
  local deadline=$((SECONDS + $3))
  until [[ $(status "$1") == 200 ]]; do
    ((SECONDS < deadline)) || { logs; fail "$2: $1 did not answer 200 within $3 s"; }
    sleep 0.5
  done
  echo "ok: $2"
}
agent=http://127.0.0.1:$agent_port server=http://127.0.0.1:$server_port
wait_for "$agent/v2/health/live" "agent live" 60
wait_for "$agent/v2/health/ready" "agent ready (face model loaded and warmed up)" 180
wait_for "$agent/v2/models/face/ready" "face model ready" 10
answer=$(curl -s --max-time 60 -H 'Content-Type: image/png' \
  --data-binary @"$models/images/astronaut.png" "$agent/v1/infer/face") ||
  { logs; fail "inference request failed"; }
python3 -c '
import json, sys
a = json.loads(sys.argv[1])
n = len(a.get("detections", a.get("faces", [])))
sys.exit(0 if n >= 1 else "FAIL: no face found in astronaut.png: " + sys.argv[1][:300])
' "$answer" || { logs; exit 1; }
echo "ok: the agent found a face, served by $(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("served_by"))' "$answer")"
wait_for "$server/v2/health/live" "server live" 30
wait_for "$server/v2/health/ready" "server ready (the agent registered)" 30
[[ $(curl -s --max-time 5 "$server/" | head -c 2000) == *"<html"* ]] ||
  fail "the server's dashboard is not served from the image"
echo "ok: dashboard served"
