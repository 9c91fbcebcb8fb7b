#!/usr/bin/python3
"""A slow, plain numpy interpreter for TFLite models (float64, NHWC).

It implements the operators that tflite2onnx.py converts, directly in the
TFLite layout and with TFLite's padding and resize rules, so that a converted
ONNX model can be checked against an independent computation of the same
weights. Only for tests: it is not fast.
"""

import numpy as np

from tflite2onnx import (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1,
                         ACT_TANH, PAD_SAME, same_pads)


def _act(x, act):
    if act == ACT_NONE:
        return x
    if act == ACT_RELU:
        return np.maximum(x, 0)
    if act == ACT_RELU6:
        return np.clip(x, 0, 6)
    if act == ACT_RELU_N1_TO_1:
        return np.clip(x, -1, 1)
    if act == ACT_TANH:
        return np.tanh(x)
    raise NotImplementedError("activation %d" % act)


def _pads(x_shape, kh, kw, sh, sw, dh, dw, mode):
    if mode == PAD_SAME:
        return same_pads(x_shape[1], kh, sh, dh), same_pads(x_shape[2], kw, sw, dw)
    return (0, 0), (0, 0)


def _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow):
    """Yield (ky, kx, strided view [N, OH, OW, C]) for each kernel tap."""
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            yield ky, kx, xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]


def conv2d(x, w, b, stride, dilation, mode, groups=1):
    """x [N,H,W,C], w [O,KH,KW,C/groups] (TFLite layout)."""
    o, kh, kw, ci = w.shape
    sh, sw = stride
    dh, dw = dilation
    (pt, pb), (pl, pr) = _pads(x.shape, kh, kw, sh, sw, dh, dw, mode)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (xp.shape[2] - ((kw - 1) * dw + 1)) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, o))
    og = o // groups
    for ky, kx, win in _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow):
        for g in range(groups):
            out[..., g * og:(g + 1) * og] += win[..., g * ci:(g + 1) * ci] @ w[g * og:(g + 1) * og, ky, kx, :].T
    if b is not None:
        out += b
    return out


def depthwise(x, w, b, stride, dilation, mode):
    """x [N,H,W,C], w [1,KH,KW,C*M]."""
    _, kh, kw, cm = w.shape
    mult = cm // x.shape[3]
    if mult > 1:
        x = np.repeat(x, mult, axis=3)
    sh, sw = stride
    dh, dw = dilation
    (pt, pb), (pl, pr) = _pads(x.shape, kh, kw, sh, sw, dh, dw, mode)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (xp.shape[2] - ((kw - 1) * dw + 1)) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, cm))
    for ky, kx, win in _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow):
        out += win * w[0, ky, kx, :]
    if b is not None:
        out += b
    return out


def pool(x, kh, kw, sh, sw, mode, kind):
    (pt, pb), (pl, pr) = _pads(x.shape, kh, kw, sh, sw, 1, 1, mode)
    pads = ((0, 0), (pt, pb), (pl, pr), (0, 0))
    oh = (x.shape[1] + pt + pb - kh) // sh + 1
    ow = (x.shape[2] + pl + pr - kw) // sw + 1
    if kind == "max":
        xp = np.pad(x, pads, constant_values=-np.inf)
        out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
        for _, _, win in _windows(xp, kh, kw, sh, sw, 1, 1, oh, ow):
            out = np.maximum(out, win)
        return out
    xp = np.pad(x, pads)
    ones = np.pad(np.ones((1,) + x.shape[1:3] + (1,)), pads)
    acc = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    cnt = np.zeros((1, oh, ow, 1))
    for (_, _, win), (_, _, cwin) in zip(_windows(xp, kh, kw, sh, sw, 1, 1, oh, ow),
                                         _windows(ones, kh, kw, sh, sw, 1, 1, oh, ow)):
        acc += win
        cnt += cwin
    return acc / cnt


def resize_bilinear(x, oh, ow, align, half):
    """TFLite RESIZE_BILINEAR (reference kernel semantics)."""
    def coords(n_in, n_out):
        if align and n_out > 1:
            scale = (n_in - 1) / (n_out - 1)
        else:
            scale = n_in / n_out
        o = np.arange(n_out, dtype=np.float64)
        c = (o + 0.5) * scale - 0.5 if half else o * scale
        lo = np.floor(c)
        frac = c - lo
        i0 = np.clip(lo, 0, n_in - 1).astype(int)
        i1 = np.clip(lo + 1, 0, n_in - 1).astype(int)
        return i0, i1, frac
    y0, y1, fy = coords(x.shape[1], oh)
    x0, x1, fx = coords(x.shape[2], ow)
    top = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    return top[:, :, x0] * (1 - fx)[None, None, :, None] + top[:, :, x1] * fx[None, None, :, None]


def resize_nearest(x, oh, ow, align, half):
    """TFLite RESIZE_NEAREST_NEIGHBOR (reference kernel semantics)."""
    def index(n_in, n_out):
        scale = (n_in - 1) / (n_out - 1) if align and n_out > 1 else n_in / n_out
        c = (np.arange(n_out) + (0.5 if half else 0.0)) * scale
        c = np.round(c) if align else np.floor(c)
        return np.minimum(c, n_in - 1).astype(int)
    return x[:, index(x.shape[1], oh)][:, :, index(x.shape[2], ow)]


def run(model, inputs):
    """Run a parsed TfModel on {input name: array}; returns {output name: array}."""
    vals = {}
    for t in model.tensors:
        if t.data is not None:
            vals[t.index] = t.data.astype(np.float64) if t.data.dtype.kind == "f" else t.data
    for i in model.inputs:
        vals[i] = np.asarray(inputs[model.tensors[i].name], np.float64)

    def opt(op, index, fmt, default=0):
        return op.options.scalar(index, fmt, default) if op.options is not None else default

    for op in model.operators:
        ins = [vals[i] if i >= 0 else None for i in op.inputs]
        out_t = model.tensors[op.outputs[0]]
        n = op.name
        if n == "DEQUANTIZE":
            src = model.tensors[op.inputs[0]]
            a = src.data
            if a.dtype == np.float16 or src.quant is None:
                y = a.astype(np.float64)
            else:
                scale, zp, axis = src.quant
                shape = [1] * a.ndim
                if scale.size > 1:
                    shape[axis] = scale.size
                y = (a.astype(np.float64) - zp.reshape(shape)) * scale.reshape(shape)
        elif n == "CONV_2D":
            groups = ins[0].shape[3] // ins[1].shape[3]
            y = _act(conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                            (opt(op, 2, "i", 1), opt(op, 1, "i", 1)),
                            (opt(op, 5, "i", 1), opt(op, 4, "i", 1)), opt(op, 0, "b"), groups),
                     opt(op, 3, "b"))
        elif n == "DEPTHWISE_CONV_2D":
            y = _act(depthwise(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                               (opt(op, 2, "i", 1), opt(op, 1, "i", 1)),
                               (opt(op, 6, "i", 1), opt(op, 5, "i", 1)), opt(op, 0, "b")),
                     opt(op, 4, "b"))
        elif n in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            y = _act(pool(ins[0], opt(op, 4, "i", 1), opt(op, 3, "i", 1), opt(op, 2, "i", 1),
                          opt(op, 1, "i", 1), opt(op, 0, "b"),
                          "max" if n == "MAX_POOL_2D" else "avg"), opt(op, 5, "b"))
        elif n in ("ADD", "SUB", "MUL", "DIV"):
            f = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide}[n]
            y = _act(f(ins[0], ins[1]), opt(op, 0, "b"))
        elif n == "MAXIMUM":
            y = np.maximum(ins[0], ins[1])
        elif n == "MINIMUM":
            y = np.minimum(ins[0], ins[1])
        elif n == "RELU":
            y = np.maximum(ins[0], 0)
        elif n == "RELU6":
            y = np.clip(ins[0], 0, 6)
        elif n == "RELU_N1_TO_1":
            y = np.clip(ins[0], -1, 1)
        elif n == "LOGISTIC":
            y = 1 / (1 + np.exp(-ins[0]))
        elif n == "TANH":
            y = np.tanh(ins[0])
        elif n == "LEAKY_RELU":
            y = np.where(ins[0] > 0, ins[0], ins[0] * opt(op, 0, "f", 0.2))
        elif n == "HARD_SWISH":
            y = ins[0] * np.clip(ins[0] + 3, 0, 6) / 6
        elif n == "PRELU":
            y = np.where(ins[0] > 0, ins[0], ins[0] * ins[1])
        elif n == "SOFTMAX":
            z = ins[0] * opt(op, 0, "f", 1.0)
            z = np.exp(z - z.max(axis=-1, keepdims=True))
            y = z / z.sum(axis=-1, keepdims=True)
        elif n in ("RESHAPE", "SQUEEZE"):
            y = ins[0].reshape(out_t.shape)
        elif n == "TRANSPOSE":
            y = ins[0].transpose([int(p) for p in ins[1]])
        elif n == "CONCATENATION":
            y = _act(np.concatenate(ins, axis=opt(op, 0, "i")), opt(op, 1, "b"))
        elif n in ("PAD", "PADV2"):
            value = float(ins[2].reshape(-1)[0]) if n == "PADV2" and len(ins) > 2 and ins[2] is not None else 0.0
            y = np.pad(ins[0], np.asarray(ins[1]).reshape(-1, 2), constant_values=value)
        elif n == "MEAN":
            axes = tuple(int(a) for a in np.asarray(ins[1]).reshape(-1))
            y = ins[0].mean(axis=axes, keepdims=bool(opt(op, 0, "b")))
        elif n == "FULLY_CONNECTED":
            w = ins[1]
            y = ins[0].reshape(-1, w.shape[1]) @ w.T
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2]
            y = _act(y.reshape(out_t.shape), opt(op, 0, "b"))
        elif n == "RESIZE_BILINEAR":
            y = resize_bilinear(ins[0], out_t.shape[1], out_t.shape[2],
                                bool(opt(op, 2, "b")), bool(opt(op, 3, "b")))
        elif n == "RESIZE_NEAREST_NEIGHBOR":
            y = resize_nearest(ins[0], out_t.shape[1], out_t.shape[2],
                               bool(opt(op, 2, "b")), bool(opt(op, 3, "b")))
        else:
            raise NotImplementedError("reference: %s" % n)
        vals[op.outputs[0]] = y
    return {model.tensors[i].name: vals[i] for i in model.outputs}
