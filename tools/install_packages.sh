#!/usr/bin/env bash
# Installs the Debian packages listed in tools/packages.txt that are missing.
# Idempotent: does nothing (and needs no network) when all are installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t wanted < <(grep -v '^\s*#' "$here/packages.txt" | sed '/^\s*$/d')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || echo "warning: npm is not on PATH; the model setup fetches models with npm" >&2
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update || { echo "error: cannot reach the Debian package archive (apt-get update failed)" >&2; exit 1; }
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" || {
    echo "error: could not install: ${missing[*]}" >&2; exit 1; }
fi
