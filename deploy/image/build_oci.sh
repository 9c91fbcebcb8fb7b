#!/usr/bin/env bash
# Builds HeteroAccel's container image without a container engine: an OCI image
# layout (the same image deploy/image/Dockerfile builds) from Debian bookworm's
# packages, with mmdebstrap (root filesystem) and umoci (layout, config).
#
#   deploy/image/build_oci.sh [BINARY [OUT_DIR [TAG]]]
#     BINARY   default build/bin/heteroaccel (made by `make build`)
#     OUT_DIR  default build/image; the layout is OUT_DIR/oci, tag TAG (default:
#              the project version), e.g. `skopeo copy oci:build/image/oci:0.1.0
#              docker://registry.example/heteroaccel:0.1.0` to push it.
#
# The packages are those that provide the binary's shared libraries (ldd, then
# dpkg -S on this machine), so the list follows the build instead of going
# stale; plus tesseract-ocr-eng (data the text model's tesseract-5 variant
# reads). mmdebstrap extracts them and their dependencies (variant "extract":
# no maintainer scripts, no dpkg, apt or shell in the image); docs, man pages,
# locales and Mesa's GL drivers are dropped; the binary is copied without its
# debug info. Downloaded packages are kept in OUT_DIR/cache for the next build
# (seeded from this machine's apt cache). Needs root, the Debian mirror
# (MIRROR, default http://deb.debian.org/debian), mmdebstrap and umoci.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
binary=$(realpath "${1:-$src/build/bin/heteroaccel}")
out=$(realpath -m "${2:-$src/build/image}")
version=$(sed -n 's/^project(heteroaccel VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
tag=${3:-$version}
mirror=${MIRROR:-http://deb.debian.org/debian}
security_mirror=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

[[ $(id -u) == 0 ]] || { echo "build_oci.sh: run as root (the image's files are owned by root and uid 65532)" >&2; exit 1; }
for tool in mmdebstrap umoci ldd dpkg strip; do
  command -v $tool >/dev/null || {
    echo "build_oci.sh: $tool is missing (apt-get install mmdebstrap umoci; make packages)" >&2
    exit 1; }
done
[[ -x $binary ]] || { echo "build_oci.sh: no binary at $binary (make build)" >&2; exit 1; }
start=$SECONDS

# 1. The packages behind every shared library the binary loads.
packages=() libraries=()
while read -r lib; do
  owner=""
  for candidate in "$lib" "$(realpath "$lib")" "${lib#/usr}" "/usr$lib"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n $owner ]] && break
  done
  [[ -n $owner ]] || { echo "build_oci.sh: no Debian package provides $lib" >&2; exit 1; }
  packages+=("$owner")
  libraries+=("$lib")
done < <(ldd "$binary" | awk '/=> \// {print $3} /^\s*\/[^ ]+ \(/ {print $1}' | sort -u)
mapfile -t packages < <(printf '%s\n' "${packages[@]}" tesseract-ocr-eng | sort -u)
echo "build_oci.sh: ${#packages[@]} packages for $(basename "$binary")'s libraries"

# 2. The root filesystem.
rootfs=$out/rootfs
mkdir -p "$out/cache"
rm -rf "$rootfs" "$out/oci" "$out/rootfs.tar"
include=$(IFS=,; echo "${packages[*]}")
# Packages this machine already downloaded seed the cache (apt checks them
# against the mirror's index).
for package in "${packages[@]}"; do
  for deb in /var/cache/apt/archives/"${package}"_*.deb; do
    [[ -e $deb && ! -e $out/cache/$(basename "$deb") ]] || continue
    ln "$deb" "$out/cache/" 2>/dev/null || cp "$deb" "$out/cache/"
  done
done
mmdebstrap --variant=extract --mode=auto --format=directory --quiet \
  --include="$include" \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --setup-hook="sync-in '$out/cache' /var/cache/apt/archives" \
  --extract-hook="sync-out /var/cache/apt/archives '$out/cache'" \
  bookworm "$rootfs" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security_mirror bookworm-security main"
# Nothing here reads documentation, and nothing draws with OpenGL: libGLX
# (which OpenCV links) loads Mesa's drivers only for a GL context, so the
# drivers and the LLVM they need (~160 MiB) go. The image test checks that
# every library the binary needs is still there.
rm -rf "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info \
       "$rootfs"/usr/share/locale "$rootfs"/usr/share/lintian "$rootfs"/usr/share/bug \
       "$rootfs"/var/cache/apt "$rootfs"/var/lib/apt/lists "$rootfs"/var/log/* \
       "$rootfs"/usr/lib/x86_64-linux-gnu/dri "$rootfs"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* \
       "$rootfs"/usr/lib/x86_64-linux-gnu/libz3.so*

# 3. What the packages' maintainer scripts would have done that we need: the
# dynamic linker's cache, an unprivileged user, a writable /tmp.
# Libraries chosen through update-alternatives (BLAS, LAPACK) have their
# links made by maintainer scripts, which the extract variant does not run: link
# them to the file this machine's link resolves to.
for lib in "${libraries[@]}"; do
  [[ -e $rootfs$lib ]] && continue
  target=$(realpath "$lib")
  [[ -e $rootfs$target ]] || { echo "build_oci.sh: $lib ($target) is not in the image" >&2; exit 1; }
  mkdir -p "$(dirname "$rootfs$lib")"
  ln -sf "$target" "$rootfs$lib"
done
ldconfig -r "$rootfs"
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" \
         "$rootfs/models" "$rootfs/var/lib/heteroaccel" "$rootfs/etc/heteroaccel"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nheteroaccel:x:65532:65532:HeteroAccel:/var/lib/heteroaccel:/usr/sbin/nologin\n' \
  > "$rootfs/etc/passwd"
printf 'root:x:0:\nheteroaccel:x:65532:\n' > "$rootfs/etc/group"
chown 65532:65532 "$rootfs/var/lib/heteroaccel"
strip --strip-debug -o "$rootfs/usr/bin/heteroaccel" "$binary"
chmod 0755 "$rootfs/usr/bin/heteroaccel"

# 4. The OCI layout: one layer, the entrypoint and the labels.
image="$out/oci:$tag"
umoci init --layout "$out/oci"
umoci new --image "$image"
umoci insert --image "$image" --history.created_by "deploy/image/build_oci.sh" "$rootfs" /
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)
umoci config --image "$image" \
  --config.entrypoint /usr/bin/heteroaccel --config.cmd --help \
  --config.user 65532:65532 --config.workingdir /var/lib/heteroaccel \
  --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env HETEROACCEL_MODELS_DIR=/models \
  --config.exposedports 8000/tcp --config.exposedports 8001/tcp \
  --config.volume /models --config.volume /var/lib/heteroaccel \
  --config.label org.opencontainers.image.title=heteroaccel \
  --config.label "org.opencontainers.image.description=HeteroAccel agent and server: image inference routed to the device that finishes first" \
  --config.label org.opencontainers.image.version="$version" \
  --config.label org.opencontainers.image.revision="$revision" \
  --config.label org.opencontainers.image.created="$created" \
  --config.label org.opencontainers.image.base.name=debian:bookworm \
  --created "$created"
umoci gc --layout "$out/oci"

size=$(du -sm "$out/oci" | cut -f1)
echo "build_oci.sh: $image ($size MiB compressed, rootfs $(du -sm "$rootfs" | cut -f1) MiB) in $((SECONDS - start)) s"
