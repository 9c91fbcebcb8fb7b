#!/usr/bin/python3
"""A slow, plain numpy interpreter for TFLite models (float64, NHWC).

It implements the operators that tflite2onnx.py converts, directly in the
TFLite layout and with TFLite's padding and resize rules, so that a converted
ONNX model can be checked against an independent computation of the same
weights. Only for tests: it is not fast.

run(..., rounding=rng) evaluates the graph as a float32 implementation could
(Monte Carlo arithmetic, D. S. Parker, 1997): each operator's exact result is
perturbed by a random error of the size float32 rounding gives it, and the
graph carries these errors forward through its real weights, so the spread of
a few such runs around the exact result is how far a correct float32
evaluation of this network on this input can be expected to land, whatever
the CPU, summation order, SIMD width or FMA use. Per operator, with u = 2^-24
and each rounding a relative error uniform in [-u, u] (standard deviation
u/sqrt(3)):

  sums of K products plus a bias (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
  AVERAGE_POOL_2D, MEAN, the resize taps): each of the K + 2 roundings (one
  per term and per addition, one for a converter-rounded weight) is applied to
  a partial sum no larger than M = sum_k |w_k x_k| + |b|, so the error's
  standard deviation is at most u sqrt((K + 2) / 3) M: drawn from a normal
  distribution with that deviation (Higham and Mary, "A new approach to
  probabilistic rounding error analysis", SIAM J. Sci. Comput. 2019: errors
  grow as sqrt(K) u, against the worst case K u, for independent roundings);
  elementwise ADD, SUB, MUL, DIV, PRELU, LEAKY_RELU: one rounding;
  LOGISTIC, TANH: ELEM_ULPS ulps for exp and tanh, plus 2 for the logistic's
  addition and division; HARD_SWISH: four roundings;
  max, min, ReLU and clips, reshapes, transposes, pads, nearest resizes: exact.
"""

import numpy as np

# The TFLite schema's enums and TensorFlow's SAME padding, written out here
# rather than imported from tflite2onnx.py, so that a mistake there is not
# repeated here. ActivationFunctionType:
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH = 0, 1, 2, 3, 4
PAD_SAME = 0  # Padding: SAME = 0, VALID = 1


def same_pads(in_size, kernel, stride, dilation):
    """(before, after) padding of one dimension with padding SAME: the output
    has ceil(in / stride) elements, and an odd total puts the extra one after."""
    out = -(-in_size // stride)
    needed = (out - 1) * stride + (kernel - 1) * dilation + 1
    total = max(needed - in_size, 0)
    return total // 2, total - total // 2


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


# Float32's unit roundoff (round to nearest), and Higham's gamma(n): the
# relative error bound of n successive roundings (n u / (1 - n u)).
U32 = 2.0 ** -24


def gamma(n):
    return n * U32 / (1.0 - n * U32)


# Error of float32 exp and tanh as OpenCV 4.6 computes them (std::exp, tanh),
# in ulps; glibc documents at most 2.
ELEM_ULPS = 4


def run(model, inputs, rounding=None):
    """Run a parsed TfModel on {input name: array}; returns {output name: array}.

    rounding: None for the exact evaluation (float64), or a
    numpy.random.RandomState to draw float32-sized rounding errors from (see
    the module's docstring)."""
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
        y, act, noise = _evaluate(model, op, ins, out_t, opt)
        if rounding is not None and noise is not None:
            y = y + noise(rounding)
        y = _act(y, act)
        if rounding is not None and act == ACT_TANH:
            y = y * (1 + _relative(rounding, y.shape, ELEM_ULPS))
        vals[op.outputs[0]] = y
    return {model.tensors[i].name: vals[i] for i in model.outputs}


def _relative(rng, shape, ulps=1):
    """`ulps` successive roundings' relative error, each uniform in [-u, u]."""
    return rng.uniform(-U32, U32, (ulps,) + tuple(shape)).sum(axis=0)


def _sum_noise(k, magnitude):
    """Rounding error of sums of k products (plus a bias) whose terms' absolute
    values add up to `magnitude`, elementwise."""
    scale = U32 * np.sqrt((k + 2) / 3.0) * magnitude
    return lambda rng: rng.standard_normal(magnitude.shape) * scale


def _once(y, ulps=1):
    return lambda rng: y * _relative(rng, y.shape, ulps)


def _evaluate(model, op, ins, out_t, opt):
    """(result before the fused activation, the activation, None or a function
    of a RandomState drawing the result's float32 rounding error)."""
    n = op.name
    x = ins[0]
    if n == "DEQUANTIZE":
        src = model.tensors[op.inputs[0]]
        a = src.data
        if a.dtype == np.float16 or src.quant is None:
            return a.astype(np.float64), ACT_NONE, None     # exact in float32
        scale, zp, axis = src.quant
        shape = [1] * a.ndim
        if scale.size > 1:
            shape[axis] = scale.size
        return (a.astype(np.float64) - zp.reshape(shape)) * scale.reshape(shape), ACT_NONE, None
    if n in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w, b = ins[1], ins[2] if len(ins) > 2 else None
        stride = (opt(op, 2, "i", 1), opt(op, 1, "i", 1))
        if n == "CONV_2D":
            groups = x.shape[3] // w.shape[3]
            dilation, mode, act = (opt(op, 5, "i", 1), opt(op, 4, "i", 1)), opt(op, 0, "b"), opt(op, 3, "b")
            f = lambda z, ww, bb: conv2d(z, ww, bb, stride, dilation, mode, groups)  # noqa: E731
            k = w.shape[1] * w.shape[2] * w.shape[3]
        else:
            dilation, mode, act = (opt(op, 6, "i", 1), opt(op, 5, "i", 1)), opt(op, 0, "b"), opt(op, 4, "b")
            f = lambda z, ww, bb: depthwise(z, ww, bb, stride, dilation, mode)  # noqa: E731
            k = w.shape[1] * w.shape[2]
        y = f(x, w, b)
        return y, act, _lazy_sum_noise(k, lambda: f(np.abs(x), np.abs(w), _abs(b)))
    if n in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        args = (opt(op, 4, "i", 1), opt(op, 3, "i", 1), opt(op, 2, "i", 1), opt(op, 1, "i", 1),
                opt(op, 0, "b"))
        if n == "MAX_POOL_2D":
            return pool(x, *args, "max"), opt(op, 5, "b"), None
        return (pool(x, *args, "avg"), opt(op, 5, "b"),
                _lazy_sum_noise(args[0] * args[1], lambda: pool(np.abs(x), *args, "avg")))
    if n in ("ADD", "SUB", "MUL", "DIV"):
        f = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide}[n]
        y = f(ins[0], ins[1])
        return y, opt(op, 0, "b"), _once(y)
    if n == "MAXIMUM":
        return np.maximum(ins[0], ins[1]), ACT_NONE, None
    if n == "MINIMUM":
        return np.minimum(ins[0], ins[1]), ACT_NONE, None
    if n == "RELU":
        return np.maximum(x, 0), ACT_NONE, None
    if n == "RELU6":
        return np.clip(x, 0, 6), ACT_NONE, None
    if n == "RELU_N1_TO_1":
        return np.clip(x, -1, 1), ACT_NONE, None
    if n == "LOGISTIC":
        y = 1 / (1 + np.exp(-x))
        return y, ACT_NONE, _once(y, ELEM_ULPS + 2)
    if n == "TANH":
        y = np.tanh(x)
        return y, ACT_NONE, _once(y, ELEM_ULPS)
    if n == "LEAKY_RELU":
        y = np.where(x > 0, x, x * opt(op, 0, "f", 0.2))
        return y, ACT_NONE, _once(y)
    if n == "HARD_SWISH":
        # x * clip(x / 6 + 0.5, 0, 1) in OpenCV: the second factor's two
        # roundings act on terms up to |x| / 6 + 0.5.
        y = x * np.clip(x + 3, 0, 6) / 6
        m = np.abs(x) * (np.abs(x) / 6 + 0.5)
        return y, ACT_NONE, lambda rng: m * _relative(rng, y.shape, 4)
    if n == "PRELU":
        y = np.where(x > 0, x, x * ins[1])
        return y, ACT_NONE, _once(y)
    if n == "SOFTMAX":
        z = x * opt(op, 0, "f", 1.0)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        y = z / z.sum(axis=-1, keepdims=True)
        # exp, then a sum of K positive terms and a division, relative to y.
        return y, ACT_NONE, _sum_noise(x.shape[-1] + 2 * ELEM_ULPS, y)
    if n in ("RESHAPE", "SQUEEZE"):
        return x.reshape(out_t.shape), ACT_NONE, None
    if n == "TRANSPOSE":
        return x.transpose([int(p) for p in ins[1]]), ACT_NONE, None
    if n == "CONCATENATION":
        return np.concatenate(ins, axis=opt(op, 0, "i")), opt(op, 1, "b"), None
    if n in ("PAD", "PADV2"):
        value = float(ins[2].reshape(-1)[0]) if n == "PADV2" and len(ins) > 2 and ins[2] is not None else 0.0
        return np.pad(x, np.asarray(ins[1]).reshape(-1, 2), constant_values=value), ACT_NONE, None
    if n == "MEAN":
        axes = tuple(int(a) for a in np.asarray(ins[1]).reshape(-1))
        keep = bool(opt(op, 0, "b"))
        k = int(np.prod([x.shape[a] for a in axes]))
        return (x.mean(axis=axes, keepdims=keep), ACT_NONE,
                _lazy_sum_noise(k, lambda: np.abs(x).mean(axis=axes, keepdims=keep)))
    if n == "FULLY_CONNECTED":
        w, b = ins[1], ins[2] if len(ins) > 2 else None
        flat = x.reshape(-1, w.shape[1])
        y = flat @ w.T
        magnitude = lambda: (np.abs(flat) @ np.abs(w).T + _abs(b, 0)).reshape(out_t.shape)  # noqa: E731
        if b is not None:
            y = y + b
        return y.reshape(out_t.shape), opt(op, 0, "b"), _lazy_sum_noise(w.shape[1], magnitude)
    if n in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        args = (out_t.shape[1], out_t.shape[2], bool(opt(op, 2, "b")), bool(opt(op, 3, "b")))
        if n == "RESIZE_NEAREST_NEIGHBOR":
            return resize_nearest(x, *args), ACT_NONE, None
        # Four taps with weights in [0, 1] (written as float32 by the converter).
        return (resize_bilinear(x, *args), ACT_NONE,
                _lazy_sum_noise(4, lambda: resize_bilinear(np.abs(x), *args)))
    raise NotImplementedError("reference: %s" % n)


def _abs(b, absent=None):
    return absent if b is None else np.abs(b)


def _lazy_sum_noise(k, magnitude):
    """_sum_noise, computing the magnitudes (a second pass of the operator)
    only for a perturbed run."""
    return lambda rng: _sum_noise(k, magnitude())(rng)
