#!/usr/bin/python3
"""Self-check of tflite2onnx.py and of the prepared models.

  /usr/bin/python3 tools/models/test_tflite2onnx.py MODELS_DIR

MODELS_DIR is the folder filled by tools/setup/fetch_models.sh. The ONNX
models are run with OpenCV 4.6's dnn module through check_onnx_opencv.cc,
which is compiled here (g++, pkg-config opencv4) into MODELS_DIR/.cache/bin.

Checks:
  1. Converted models (MediaPipe short-range face detector, SSD MobileNetV2
     OIDv4, palm detectors, hand landmarks, pose lite and full) against
     tflite_ref.py, an independent float64 numpy evaluation of the TFLite
     graph, on a random input in [-1, 1]. Tolerance, per output: the largest
     error of MC_RUNS evaluations of the same graph with simulated float32
     rounding (tflite_ref.run(..., rounding=...), see its docstring):
     max |onnx - exact| <= max over runs of max |simulated - exact|.
  2. The converted short-range face detector against the shipped BlazeFace
     front-128 ONNX (same weights, different converter) on the same random
     input: both are float32 evaluations of one graph, so they may differ by
     twice that tolerance.
  3. The SSD on images/astronaut.png and images/chelsea.png (resized to
     300x300, RGB, x/127.5-1), decoded with the SSD anchors documented in
     docs/models.md: a Person around the astronaut and a Cat for chelsea.
  4. The SSD anchor recipe: the best boxes from different anchors agree on
     one object, and a small person (astronaut scaled to 1/4 into a grey
     canvas) is found through a first-layer anchor at the right place.
  5. BlazeFace front-128 on astronaut.png finds one face.
  6. Resize conversions (bilinear with/without half-pixel centres, nearest;
     factors 2 and 3) on one-operator models against the reference, within
     the worst-case rounding bound of that one operator.

Why that tolerance. A float32 evaluation differs from the exact value by
rounding errors that the network's own weights carry forward, and by how much
depends on the summation order, which differs between CPUs (SIMD width, FMA,
blocking): a fixed fraction of an output's scale, fitted on one CPU, is not a
tolerance (pose_landmark_full's Identity_2, logits up to 1,499 after a deep
decoder, measured a relative 9.4e-5 with AVX-512 and 2.5e-4 with AVX2). The
simulated runs draw each operator's rounding error with the largest standard
deviation any summation order can give it when roundings are independent
(sqrt(K + 2) u times the sum of the terms' absolute values, for K products
per output), and carry it through the real weights, cancellations included:
the tolerance grows with accumulation depth and operand magnitude where the
computation does, and stays small where it does not, without a constant
fitted to a CPU. Real summations (partial sums smaller than the whole, SIMD
and blocked orders rounding each term about log K times) err less: OpenCV's
errors measure 2-6 % of the tolerance (the share is printed), so an
implementation rounding ten times worse still passes.

And a conversion bug is not a rounding error. Run against converters broken
on purpose, every model the breakage touches failed, by 200 to 600,000 times
its tolerance: SAME padding's odd pixel put before instead of after, depthwise
biases dropped, the first channel of every bias dropped, conv kernels
transposed (KH <-> KW), RELU6 and RELU_N1_TO_1 swapped, ADD's fused
activation dropped, half-pixel resize flipped, the resize kernel shifted by
one tap; even every conv weight scaled by 1 + 1e-4 failed all eight models,
by 50 to 1,300 times. (tflite_ref.py works out SAME padding and the
activation codes itself, so such a mistake in tflite2onnx.py is not shared.)

Ends with "N passed, N failed"; exits 1 on any failure.
"""

import hashlib
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tflite2onnx  # noqa: E402
import tflite_ref  # noqa: E402

SSD_ONNX = "object/ssd_mobilenetv2_oidv4.onnx"
SSD_TFLITE = "tflite/object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
FACE_TFLITE = "tflite/face_detection_short_range.tflite"
BLAZEFACE_FRONT = "face/blazeface_front_128.onnx"
# The other converted models the setup installs. Every output's tolerance is
# its own simulated float32 error (see the docstring); what that gives, per
# output, on the seeded random input (max |exact|, tolerance, OpenCV's error
# with AVX-512):
#   palm detectors: Identity (boxes and keypoints, 2016x18) 142 / 2.2e-3 /
#     7.2e-5 (full), 501 / 7.9e-3 / 1.9e-4 (lite); Identity_1 (score logits)
#     17 / 5.5e-4 / 1.2e-5, 98 / 1.3e-3 / 4.1e-5.
#   hand landmarks: Identity (63 coordinates, pixels) 183 / 1.1e-3 / 2.7e-5;
#     Identity_1 and _2 (hand presence, handedness: one logistic each) and
#     Identity_3 (world landmarks, metres) are small and get tolerances of
#     their own size (2.4e-7 for a 4.3e-3 presence score).
#   pose landmarks: Identity (195 landmark values) 197 / 2.6e-2 / 5.3e-4;
#     Identity_1 (presence, a logistic) 5.0e-3 / 5.3e-6 / 1.3e-7; Identity_2
#     (256x256 segmentation logits: five bilinear upsamplings and deep sums
#     whose terms cancel to values up to 1,499) 1499 / 6.6 / 0.14 (AVX2: 0.38);
#     Identity_3 (64x64x39 heatmaps) 81 / 3.9e-3 / 5.8e-5; Identity_4 (world
#     landmarks) 0.62 / 8.0e-5 / 4.6e-6 (pose full; lite is alike).
EXTRA_MODELS = [
    ("tflite/palm_detection_full.tflite", "hand/palm_detection_full.onnx"),
    ("tflite/palm_detection_lite.tflite", "hand/palm_detection_lite.onnx"),
    ("tflite/hand_landmark_full.tflite", "hand/hand_landmark_full.onnx"),
    ("tflite/hand_landmark_lite.tflite", "hand/hand_landmark_lite.onnx"),
    ("tflite/pose_landmark_lite.tflite", "pose/pose_landmark_lite.onnx"),
    ("tflite/pose_landmark_full.tflite", "pose/pose_landmark_full.onnx"),
]
# Simulated float32 evaluations per model (fixed seeds, so every machine
# computes the same tolerances). The tolerance is their largest error.
MC_RUNS = 3
SSD_OUTPUTS = ["raw_outputs/box_encodings", "raw_outputs/class_predictions"]
BLAZEFACE_OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"]


# ---------------------------------------------------------------------------
# SSD anchors and decoding (MediaPipe SsdAnchorsCalculator semantics)
# ---------------------------------------------------------------------------

def ssd_scale(i, n, min_scale=0.2, max_scale=0.95):
    return min_scale + (max_scale - min_scale) * i / (n - 1)


def ssd_anchors(input_size=300, strides=(16, 32, 64, 128, 256, 512),
                aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333)):
    """[N, 4] anchors as (x_center, y_center, w, h), normalised to [0, 1]."""
    n = len(strides)
    out = []
    for layer, stride in enumerate(strides):
        s = ssd_scale(layer, n)
        if layer == 0:      # reduce_boxes_in_lowest_layer
            boxes = [(1.0, 0.1), (2.0, s), (0.5, s)]
        else:
            s_next = 1.0 if layer == n - 1 else ssd_scale(layer + 1, n)
            boxes = [(a, s) for a in aspect_ratios] + [(1.0, math.sqrt(s * s_next))]
        fm = math.ceil(input_size / stride)
        for y in range(fm):
            for x in range(fm):
                for ar, sc in boxes:
                    out.append(((x + 0.5) / fm, (y + 0.5) / fm, sc * math.sqrt(ar), sc / math.sqrt(ar)))
    return np.array(out, np.float64)


def ssd_decode(raw, anchors):
    """raw [N, 4] = (ty, tx, th, tw) -> boxes [N, 4] = (xmin, ymin, xmax, ymax)."""
    yc = raw[:, 0] / 10.0 * anchors[:, 3] + anchors[:, 1]
    xc = raw[:, 1] / 10.0 * anchors[:, 2] + anchors[:, 0]
    h = np.exp(raw[:, 2] / 5.0) * anchors[:, 3]
    w = np.exp(raw[:, 3] / 5.0) * anchors[:, 2]
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ssd_detections(boxes_raw, logits, labels, min_score=0.3, nms_iou=0.4):
    """Sigmoid scores, class 0 (background) ignored, best class per anchor,
    greedy per-class NMS. Returns [(label, score, box, anchor index)]."""
    scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    scores[:, 0] = 0.0
    cls = scores.argmax(axis=1)
    best = scores[np.arange(len(cls)), cls]
    boxes = ssd_decode(boxes_raw.astype(np.float64), ssd_anchors())
    dets = []
    for i in np.argsort(-best):
        if best[i] < min_score:
            break
        if any(d[0] == labels[cls[i]] and iou(d[2], boxes[i]) > nms_iou for d in dets):
            continue
        dets.append((labels[cls[i]], float(best[i]), boxes[i], int(i)))
    return dets


def ssd_layer(anchor_index):
    counts = np.cumsum([19 * 19 * 3, 10 * 10 * 6, 5 * 5 * 6, 3 * 3 * 6, 2 * 2 * 6, 1 * 1 * 6])
    return int(np.searchsorted(counts, anchor_index, side="right"))


# ---------------------------------------------------------------------------
# BlazeFace (short range / front 128) anchors and decoding
# ---------------------------------------------------------------------------

def blazeface_anchors():
    """896 anchor centres: 16x16 grid x 2, then 8x8 grid x 6 (w = h = 1)."""
    out = []
    for fm, per in ((16, 2), (8, 6)):
        for y in range(fm):
            for x in range(fm):
                out.extend([((x + 0.5) / fm, (y + 0.5) / fm)] * per)
    return np.array(out, np.float64)


def blazeface_detections(scores_logit, regs, min_score=0.5):
    a = blazeface_anchors()
    s = 1.0 / (1.0 + np.exp(-np.clip(scores_logit.reshape(-1).astype(np.float64), -100, 100)))
    r = regs.reshape(-1, 16).astype(np.float64) / 128.0
    xc, yc = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([xc - r[:, 2] / 2, yc - r[:, 3] / 2, xc + r[:, 2] / 2, yc + r[:, 3] / 2], 1)
    dets = []
    for i in np.argsort(-s):
        if s[i] < min_score:
            break
        if any(iou(d[1], boxes[i]) > 0.3 for d in dets):
            continue
        kps = [(r[i, 4 + 2 * k] + a[i, 0], r[i, 5 + 2 * k] + a[i, 1]) for k in range(6)]
        dets.append((float(s[i]), boxes[i], kps))
    return dets


# ---------------------------------------------------------------------------
# One-operator models built in memory (no TFLite file needed)
# ---------------------------------------------------------------------------

class FakeOptions:
    def __init__(self, fields):
        self.fields = fields

    def scalar(self, index, fmt, default=0):
        return self.fields.get(index, default)


def resize_model(op_name, in_shape, out_shape, half_pixel):
    m = tflite2onnx.TfModel.__new__(tflite2onnx.TfModel)
    m.description = "resize test"
    size = np.array(out_shape[1:3], np.int32)
    m.tensors = [
        tflite2onnx.TfTensor(0, "x", list(in_shape), np.dtype(np.float32), None, None),
        tflite2onnx.TfTensor(1, "size", [2], np.dtype(np.int32), size, None),
        tflite2onnx.TfTensor(2, "y", list(out_shape), np.dtype(np.float32), None, None),
    ]
    m.inputs, m.outputs = [0], [2]
    m.operators = [tflite2onnx.TfOperator(op_name, [0, 1], [2], FakeOptions({3: int(half_pixel)}))]
    return m


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------

class Runner:
    def __init__(self, models_dir):
        self.models = models_dir
        self.tmp = tempfile.mkdtemp(prefix="tflite2onnx_test_")
        self.passed = 0
        self.failed = 0
        self.tool = self.build_tool()

    def path(self, rel):
        p = os.path.join(self.models, rel)
        if not os.path.exists(p):
            raise FileNotFoundError("%s is missing: run tools/setup/fetch_models.sh %s" % (p, self.models))
        return p

    def build_tool(self):
        src = os.path.join(HERE, "check_onnx_opencv.cc")
        with open(src, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        bindir = os.path.join(self.models, ".cache", "bin")
        os.makedirs(bindir, exist_ok=True)
        exe = os.path.join(bindir, "check_onnx_opencv-" + digest)
        if not os.path.exists(exe):
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "opencv4"], check=True,
                                   capture_output=True, text=True).stdout.split()
            subprocess.run(["g++", "-std=c++17", "-O2", src, "-o", exe + ".tmp"] + flags, check=True)
            os.replace(exe + ".tmp", exe)
        return exe

    def run_onnx(self, model, shape, outputs, input_array=None, image=None, norm="m11",
                 save_input=None):
        """Runs the model in OpenCV; returns a list of float32 arrays."""
        outdir = tempfile.mkdtemp(dir=self.tmp)
        cmd = [self.tool, model, "--shape", ",".join(map(str, shape)),
               "--outputs", ",".join(outputs), "--out", outdir]
        if input_array is not None:
            inp = os.path.join(outdir, "input.f32")
            np.ascontiguousarray(input_array, np.float32).tofile(inp)
            cmd += ["--input", inp]
        if image is not None:
            cmd += ["--image", image, "--norm", norm]
        if save_input is not None:
            cmd += ["--save-input", save_input]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("check_onnx_opencv failed: %s" % (res.stderr or res.stdout))
        shapes = {}
        for line in res.stdout.splitlines():
            if line.startswith("output "):
                _, i, _, dims = line.split(" ", 3)
                shapes[int(i)] = [int(d) for d in dims.split("x")]
        return [np.fromfile(os.path.join(outdir, "%d.f32" % i), np.float32).reshape(shapes[i])
                for i in range(len(outputs))]

    def check(self, name, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a failing check is reported, not raised
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            return
        self.passed += 1
        print("ok   %s" % name)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def rounding_tolerances(model, feed):
    """{output: the largest |simulated float32 - exact| over MC_RUNS runs}."""
    exact = tflite_ref.run(model, feed)
    tol = {n: 0.0 for n in exact}
    for seed in range(MC_RUNS):
        simulated = tflite_ref.run(model, feed, rounding=np.random.RandomState(seed))
        for n in exact:
            tol[n] = max(tol[n], float(np.abs(simulated[n] - exact[n]).max()))
    return exact, tol


def expect_close(name, got, want, tol):
    """max |got - want| <= tol, printing the figures (and the error's share
    of the tolerance)."""
    expect(list(got.shape) == list(want.shape), "%s: shape %s, want %s" % (name, got.shape, want.shape))
    err = float(np.abs(got - want).max())
    share = "%.1f %%" % (100 * err / tol) if tol > 0 else ("exact" if err == 0 else "inexact")
    print("     %-32s %-14s max|ref| %-9.4g max|diff| %-9.3g tolerance %-9.3g (%s)"
          % (name, "x".join(map(str, got.shape)), float(np.abs(want).max()), err, tol, share))
    expect(err <= tol, "%s differs from the reference by %g, more than float32 rounding "
           "explains (%g)" % (name, err, tol))


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    r = Runner(os.path.abspath(argv[1]))
    labels = open(r.path("object/labels.txt"), encoding="utf-8").read().splitlines()
    rng = np.random.RandomState(20240601)

    def converted_vs_reference(tflite_rel, onnx_path=None):
        def run():
            model = tflite2onnx.load_tflite(r.path(tflite_rel))
            path = onnx_path
            if path is None:
                path = os.path.join(r.tmp, os.path.basename(tflite_rel) + ".onnx")
                with open(path, "wb") as f:
                    f.write(tflite2onnx.convert(model).SerializeToString())
            inp = model.tensors[model.inputs[0]]
            x = rng.uniform(-1, 1, inp.shape).astype(np.float32)
            ref, tol = rounding_tolerances(model, {inp.name: x})
            names = [model.tensors[i].name for i in model.outputs]
            got = r.run_onnx(path, inp.shape, names, input_array=x)
            for n, g in zip(names, got):
                expect_close(n, g, ref[n], tol[n])
        return run

    r.check("face short-range: converted ONNX (OpenCV) == numpy TFLite reference",
            converted_vs_reference(FACE_TFLITE))
    r.check("SSD: %s (OpenCV) == numpy TFLite reference" % SSD_ONNX,
            converted_vs_reference(SSD_TFLITE, r.path(SSD_ONNX)))
    for tflite_rel, onnx_rel in EXTRA_MODELS:
        r.check("%s (OpenCV) == numpy TFLite reference" % onnx_rel,
                converted_vs_reference(tflite_rel, r.path(onnx_rel)))

    def onnx_boundary():
        import onnx
        m = onnx.load(r.path(SSD_ONNX))
        dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
        ins = [(v.name, dims(v)) for v in m.graph.input]
        outs = [(v.name, dims(v)) for v in m.graph.output]
        print("     inputs %s outputs %s" % (ins, outs))
        expect(ins == [("normalized_input_image_tensor", [1, 300, 300, 3])], "unexpected inputs")
        expect(outs == [("raw_outputs/box_encodings", [1, 1917, 4]),
                        ("raw_outputs/class_predictions", [1, 1917, 24])], "unexpected outputs")
    r.check("SSD ONNX keeps the TFLite names and NHWC shapes", onnx_boundary)

    def face_vs_shipped():
        model = tflite2onnx.load_tflite(r.path(FACE_TFLITE))
        path = os.path.join(r.tmp, "face_short.onnx")
        with open(path, "wb") as f:
            f.write(tflite2onnx.convert(model).SerializeToString())
        inp = model.tensors[model.inputs[0]]
        x = rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
        _, tol = rounding_tolerances(model, {inp.name: x})
        regs, cls = r.run_onnx(path, [1, 128, 128, 3], ["regressors", "classificators"], input_array=x)
        s16, s8, b16, b8 = r.run_onnx(r.path(BLAZEFACE_FRONT), [1, 128, 128, 3], BLAZEFACE_OUTPUTS,
                                      input_array=x)
        # Each is within its tolerance of the exact result, so within twice
        # that of the other.
        expect_close("scores (shipped vs converted)", np.concatenate([s16, s8], axis=1), cls,
                     2 * tol["classificators"])
        expect_close("boxes (shipped vs converted)", np.concatenate([b16, b8], axis=1), regs,
                     2 * tol["regressors"])
    r.check("face short-range converted == shipped BlazeFace front-128 (random input)",
            face_vs_shipped)

    def ssd_on(image, label, region):
        def run():
            boxes, logits = r.run_onnx(r.path(SSD_ONNX), [1, 300, 300, 3], SSD_OUTPUTS,
                                       image=r.path("images/%s.png" % image))
            dets = ssd_detections(boxes[0], logits[0], labels)
            for name, score, box, idx in dets[:3]:
                print("     %-10s %.3f box x %.3f-%.3f y %.3f-%.3f (anchor %d, layer %d)"
                      % (name, score, box[0], box[2], box[1], box[3], idx, ssd_layer(idx)))
            expect(dets, "no detection")
            name, score, box, _ = dets[0]
            expect(name == label, "best detection is %s, want %s" % (name, label))
            expect(score >= 0.5, "%s score %.3f < 0.5" % (name, score))
            expect(iou(box, region) >= 0.7, "%s box %s not around %s" % (name, np.round(box, 3), region))
            # Anchor check: the five best anchors for this class decode to one box.
            sc = logits[0][:, labels.index(label)]
            top = np.argsort(-sc)[:5]
            decoded = ssd_decode(boxes[0].astype(np.float64), ssd_anchors())[top]
            agree = np.mean([iou(decoded[i], decoded[j]) for i in range(5) for j in range(i + 1, 5)])
            print("     top-5 %s anchors %s (layers %s): mean pairwise IoU %.3f"
                  % (label, list(top), [ssd_layer(i) for i in top], agree))
            expect(agree >= 0.8, "decoded boxes of the best anchors disagree (IoU %.3f)" % agree)
        return run

    r.check("SSD astronaut.png -> Person", ssd_on("astronaut", "Person", (0.0, 0.0, 0.72, 1.0)))
    r.check("SSD chelsea.png -> Cat", ssd_on("chelsea", "Cat", (0.0, 0.0, 0.95, 1.0)))

    def small_person():
        full = os.path.join(r.tmp, "astronaut300.f32")
        boxes, logits = r.run_onnx(r.path(SSD_ONNX), [1, 300, 300, 3], SSD_OUTPUTS,
                                   image=r.path("images/astronaut.png"), save_input=full)
        big = ssd_detections(boxes[0], logits[0], labels)[0][2]
        x = np.fromfile(full, np.float32).reshape(300, 300, 3)
        small = x.reshape(75, 4, 75, 4, 3).mean(axis=(1, 3))
        canvas = np.zeros((1, 300, 300, 3), np.float32)
        oy, ox = 20, 200
        canvas[0, oy:oy + 75, ox:ox + 75] = small
        want = np.array([ox + big[0] * 75, oy + big[1] * 75, ox + big[2] * 75, oy + big[3] * 75]) / 300
        boxes, logits = r.run_onnx(r.path(SSD_ONNX), [1, 300, 300, 3], SSD_OUTPUTS, input_array=canvas)
        dets = ssd_detections(boxes[0], logits[0], labels)
        name, score, box, idx = dets[0]
        print("     %s %.3f box %s anchor %d (layer %d); expected box %s"
              % (name, score, np.round(box, 3), idx, ssd_layer(idx), np.round(want, 3)))
        expect(name == "Person" and iou(box, want) >= 0.7, "small person not found in place")
        expect(ssd_layer(idx) == 0, "expected a first-layer anchor, got layer %d" % ssd_layer(idx))
    r.check("SSD anchors: 1/4-size astronaut found by a layer-0 anchor", small_person)

    def face_on_astronaut():
        s16, s8, b16, b8 = r.run_onnx(r.path(BLAZEFACE_FRONT), [1, 128, 128, 3], BLAZEFACE_OUTPUTS,
                                      image=r.path("images/astronaut.png"))
        dets = blazeface_detections(np.concatenate([s16, s8], 1), np.concatenate([b16, b8], 1))
        for score, box, kps in dets:
            print("     face %.3f box x %.3f-%.3f y %.3f-%.3f right eye (%.3f, %.3f) left eye (%.3f, %.3f)"
                  % (score, box[0], box[2], box[1], box[3], kps[0][0], kps[0][1], kps[1][0], kps[1][1]))
        expect(len(dets) == 1, "%d faces, want 1" % len(dets))
        score, box, _ = dets[0]
        expect(score >= 0.75, "face score %.3f" % score)
        expect(0.3 < (box[0] + box[2]) / 2 < 0.6 and 0.1 < (box[1] + box[3]) / 2 < 0.4,
               "face box %s not on the face" % np.round(box, 3))
    r.check("BlazeFace front-128 astronaut.png -> 1 face", face_on_astronaut)

    def resizes():
        cases = [("RESIZE_BILINEAR", True, (1, 5, 7, 3), (1, 10, 14, 3)),
                 ("RESIZE_BILINEAR", False, (1, 5, 7, 3), (1, 10, 21, 3)),
                 ("RESIZE_BILINEAR", True, (1, 4, 4, 2), (1, 12, 8, 2)),
                 ("RESIZE_NEAREST_NEIGHBOR", False, (1, 5, 7, 3), (1, 10, 21, 3)),
                 ("RESIZE_NEAREST_NEIGHBOR", True, (1, 5, 7, 3), (1, 15, 14, 3))]
        for op_name, half, shape_in, shape_out in cases:
            model = resize_model(op_name, shape_in, shape_out, half)
            path = os.path.join(r.tmp, "resize.onnx")
            with open(path, "wb") as f:
                f.write(tflite2onnx.convert(model).SerializeToString())
            x = rng.uniform(-1, 1, shape_in).astype(np.float32)
            want = tflite_ref.run(model, {"x": x})["y"]
            got = r.run_onnx(path, shape_in, ["y"], input_array=x)[0]
            # One operator, so nothing to propagate: the worst-case bound
            # holds directly. A nearest resize copies (0). A bilinear one sums
            # four terms with non-negative weights adding up to 1 (so at most
            # max |x| in all), each rounded at most 7 times: the two 1-D
            # weights and their product (factor 3 is not exact), the product
            # with x, three additions.
            tol = tflite_ref.gamma(7) * float(np.abs(x).max()) if "BILINEAR" in op_name else 0.0
            expect_close("%s half_pixel=%s %s -> %s" % (op_name, half, shape_in[1:3], shape_out[1:3]),
                         got, want, tol)
    r.check("resize conversions == reference (OpenCV)", resizes)

    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
