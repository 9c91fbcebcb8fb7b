#!/usr/bin/python3
"""Convert a TensorFlow Lite model (flatbuffer) to ONNX for OpenCV 4.6's dnn.

Run with Debian's interpreter (/usr/bin/python3), which has python3-onnx and
python3-numpy. The TFLite flatbuffer is parsed directly with struct (no
tflite/flatbuffers package is needed).

Layout: TFLite tensors are NHWC. The ONNX graph keeps the model's NHWC
input/output tensors at its boundary (same names and shapes as in the TFLite
model) and works in NCHW inside: a Transpose follows each 4-D input, and a
Transpose back to NHWC precedes each 4-D output. Every 4-D value can exist in
either layout; a conversion is inserted only where an operator needs the
other one (Reshape and FullyConnected work on the NHWC order, convolutions
and pooling on NCHW).

ONNX opset 10 is written, because OpenCV 4.6 reads Clip (ReLU6) only in its
attribute form, which was removed in opset 11. Resizes (integer factors) are
written as an edge Pad followed by a fixed depthwise ConvTranspose, which
computes the same values as TFLite: OpenCV 4.6 rejects opset-10 linear Resize,
and opset 10 cannot express half-pixel centres.

Supported TFLite operators: ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM,
AVERAGE_POOL_2D, MAX_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D,
TRANSPOSE_CONV, DEQUANTIZE, FULLY_CONNECTED, LOGISTIC, TANH, RELU, RELU6,
RELU_N1_TO_1, LEAKY_RELU, PRELU, HARD_SWISH, SOFTMAX, RESHAPE, SQUEEZE,
TRANSPOSE, PAD, PADV2, MEAN, RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, with
fused activations. FP16 and int8 weights behind DEQUANTIZE become float32
constants.

Usage:
  tflite2onnx.py IN.tflite OUT.onnx [--range START:END] [--info]
  --range reads only bytes [START, END) of IN (a model packed in a larger
  file, such as MediaPipe's *_packed_assets.data).
"""

import argparse
import struct
import sys

import numpy as np

# ---------------------------------------------------------------------------
# Flatbuffer reading
# ---------------------------------------------------------------------------


class FbTable:
    """A flatbuffer table: fields are addressed by their index in the schema."""

    def __init__(self, buf, pos):
        self.buf = buf
        self.pos = pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_len = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index):
        off = 4 + 2 * index
        if off >= self.vtable_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + off)[0]

    def scalar(self, index, fmt, default=0):
        off = self._field(index)
        if not off:
            return default
        return struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0]

    def _target(self, index):
        off = self._field(index)
        if not off:
            return None
        p = self.pos + off
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, index):
        p = self._target(index)
        return FbTable(self.buf, p) if p is not None else None

    def string(self, index):
        p = self._target(index)
        if p is None:
            return None
        n = struct.unpack_from("<I", self.buf, p)[0]
        return bytes(self.buf[p + 4:p + 4 + n]).decode("utf-8", "replace")

    def vector(self, index, dtype):
        """A vector of scalars as a read-only numpy array (None if absent)."""
        p = self._target(index)
        if p is None:
            return None
        n = struct.unpack_from("<I", self.buf, p)[0]
        return np.frombuffer(self.buf, dtype=dtype, count=n, offset=p + 4)

    def tables(self, index):
        p = self._target(index)
        if p is None:
            return []
        n = struct.unpack_from("<I", self.buf, p)[0]
        out = []
        for i in range(n):
            q = p + 4 + 4 * i
            out.append(FbTable(self.buf, q + struct.unpack_from("<I", self.buf, q)[0]))
        return out


# ---------------------------------------------------------------------------
# TFLite schema (the parts that are used)
# ---------------------------------------------------------------------------

BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED",
    14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU",
    20: "RELU_N1_TO_1", 21: "RELU6", 22: "RESHAPE", 23: "RESIZE_BILINEAR",
    25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 34: "PAD", 39: "TRANSPOSE",
    40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE", 54: "PRELU",
    55: "MAXIMUM", 57: "MINIMUM", 60: "PADV2", 67: "TRANSPOSE_CONV",
    96: "RESIZE_NEAREST_NEIGHBOR", 97: "LEAKY_RELU", 116: "HARD_SWISH",
    123: "DENSIFY",
}

TENSOR_TYPES = {
    0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
    6: np.bool_, 7: np.int16, 9: np.int8, 10: np.float64,
}

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH = 0, 1, 2, 3, 4
PAD_SAME, PAD_VALID = 0, 1


class TfTensor:
    def __init__(self, index, name, shape, dtype, data, quant):
        self.index = index
        self.name = name
        self.shape = shape          # list of ints (NHWC for 4-D)
        self.dtype = dtype
        self.data = data            # numpy array for constants, else None
        self.quant = quant          # (scale, zero_point, axis) or None


class TfOperator:
    def __init__(self, name, inputs, outputs, options, custom_code=None):
        self.name = name
        self.inputs = inputs        # tensor indices, -1 = optional absent
        self.outputs = outputs
        self.options = options      # FbTable or None
        self.custom_code = custom_code


class TfModel:
    def __init__(self, data):
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ValueError("not a TFLite flatbuffer (no TFL3 identifier)")
        root = FbTable(data, struct.unpack_from("<I", data, 0)[0])
        self.description = root.string(3) or ""
        codes = []
        for oc in root.tables(1):
            code = max(oc.scalar(0, "b"), oc.scalar(3, "i"))
            codes.append((BUILTIN_OPS.get(code, "BUILTIN_%d" % code), oc.string(1)))
        buffers = root.tables(4)
        subgraphs = root.tables(2)
        if len(subgraphs) != 1:
            raise ValueError("only single-subgraph models are supported "
                             "(found %d)" % len(subgraphs))
        sg = subgraphs[0]
        self.tensors = []
        for i, t in enumerate(sg.tables(0)):
            dims = t.vector(0, "<i4")
            shape = [int(d) for d in dims] if dims is not None else []
            ttype = t.scalar(1, "b")
            if ttype not in TENSOR_TYPES:
                raise ValueError("tensor %d has unsupported type %d" % (i, ttype))
            dtype = np.dtype(TENSOR_TYPES[ttype]).newbyteorder("<")
            if t.table(6) is not None:
                raise ValueError("tensor %r is sparse (DENSIFY); sparse models "
                                 "are not supported" % t.string(3))
            tdata = None
            b = t.scalar(2, "I")
            if 0 < b < len(buffers):
                raw = buffers[b].vector(0, "u1")
                if raw is None or len(raw) == 0:
                    off, size = buffers[b].scalar(1, "Q"), buffers[b].scalar(2, "Q")
                    if off > 1 and size:   # large models keep data after the flatbuffer
                        raw = np.frombuffer(data, "u1", size, off)
                if raw is not None and len(raw):
                    arr = np.frombuffer(raw.tobytes(), dtype=dtype)
                    tdata = arr.reshape(shape) if shape else arr.reshape(())
            quant = None
            q = t.table(4)
            if q is not None:
                scale = q.vector(2, "<f4")
                zp = q.vector(3, "<i8")
                if scale is not None and len(scale):
                    quant = (np.array(scale, np.float32),
                             np.array(zp if zp is not None else [0], np.int64),
                             q.scalar(6, "i"))
            self.tensors.append(TfTensor(i, t.string(3) or "t%d" % i, shape,
                                         dtype, tdata, quant))
        self.inputs = [int(i) for i in sg.vector(1, "<i4")]
        self.outputs = [int(i) for i in sg.vector(2, "<i4")]
        self.operators = []
        for op in sg.tables(3):
            name, custom = codes[op.scalar(0, "I")]
            ins = [int(i) for i in op.vector(1, "<i4")] if op.vector(1, "<i4") is not None else []
            outs = [int(i) for i in op.vector(2, "<i4")]
            self.operators.append(TfOperator(name, ins, outs, op.table(4), custom))


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

OPSET = 10
TF = "nhwc"      # the TFLite order of a tensor (any rank)
CF = "nchw"      # channels-first order of a 4-D tensor
TO_CF = [0, 3, 1, 2]
TO_TF = [0, 2, 3, 1]
AXIS_TF_TO_CF = [0, 2, 3, 1]   # NHWC axis a is NCHW axis AXIS_TF_TO_CF[a]


class ConversionError(Exception):
    pass


def same_pads(in_size, kernel, stride, dilation):
    """TensorFlow SAME padding: (before, after) for one spatial dimension."""
    eff = (kernel - 1) * dilation + 1
    out = (in_size + stride - 1) // stride
    total = max(0, (out - 1) * stride + eff - in_size)
    return total // 2, total - total // 2


def resize_kernel(scale, bilinear, half_pixel):
    """1-D ConvTranspose weights for upsampling by an integer factor.

    Output o = scale * i + t receives input i with weight kernel[t + scale],
    t in [-scale, 2 * scale). Bilinear: tri(c - i) with the source coordinate
    c = (o + 0.5) / scale - 0.5 (half-pixel centres) or c = o / scale.
    Nearest: 1 for t in [0, scale) (floor(o / scale) = i in both modes)."""
    t = np.arange(-scale, 2 * scale, dtype=np.float64)
    if not bilinear:
        return ((t >= 0) & (t < scale)).astype(np.float32)
    c = (t + 0.5) / scale - 0.5 if half_pixel else t / scale
    return np.maximum(0.0, 1.0 - np.abs(c)).astype(np.float32)


class Converter:
    def __init__(self, model, graph_name="model"):
        import onnx
        from onnx import helper, numpy_helper, TensorProto
        self.onnx, self.helper, self.numpy_helper, self.TP = onnx, helper, numpy_helper, TensorProto
        self.m = model
        self.graph_name = graph_name
        self.nodes = []
        self.initializers = []
        self.used = set()
        self.const = {}     # tensor index -> numpy array (TFLite layout)
        self.vals = {}      # tensor index -> {TF: name, CF: name}
        self.io_names = set()
        for i in model.inputs + model.outputs:
            self.io_names.add(model.tensors[i].name)
        self.used |= self.io_names
        for t in model.tensors:
            if t.data is not None:
                self.const[t.index] = t.data

    # -- names, nodes, constants ------------------------------------------
    def fresh(self, base):
        base = base or "v"
        name, k = base, 1
        while name in self.used:
            name = "%s_%d" % (base, k)
            k += 1
        self.used.add(name)
        return name

    def node(self, op_type, inputs, outputs, **attrs):
        self.nodes.append(self.helper.make_node(
            op_type, inputs, outputs, name=outputs[0], **attrs))
        return outputs[0]

    def init(self, array, base):
        name = self.fresh(base)
        arr = np.ascontiguousarray(array)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def tensor(self, idx):
        return self.m.tensors[idx]

    def is_const(self, idx):
        return idx in self.const

    def fconst(self, idx):
        """A constant input as float32 (fp16 data is widened)."""
        a = self.const[idx]
        return a.astype(np.float32) if a.dtype != np.float32 else a

    # -- layouts ------------------------------------------------------------
    def rank(self, idx):
        return len(self.tensor(idx).shape)

    def layouts(self, idx):
        return self.vals.get(idx, {})

    def get(self, idx, layout):
        """The ONNX name of a TFLite tensor in the given layout."""
        t = self.tensor(idx)
        if idx in self.const:
            a = self.fconst(idx) if self.const[idx].dtype.kind == "f" else self.const[idx]
            if layout == CF and a.ndim == 4:
                a = a.transpose(TO_CF)
            return self.init(a, t.name + ("_nchw" if layout == CF else ""))
        have = self.vals.get(idx)
        if have is None:
            raise ConversionError("tensor %r is used before it is produced" % t.name)
        if len(t.shape) != 4:
            return have[TF]
        if layout in have:
            return have[layout]
        if layout == TF:
            out = t.name if t.name in self.io_names and idx in self.m.outputs else self.fresh(t.name + "_nhwc")
            self.node("Transpose", [have[CF]], [out], perm=TO_TF)
        else:
            out = self.fresh(t.name + "_nchw")
            self.node("Transpose", [have[TF]], [out], perm=TO_CF)
        have[layout] = out
        return out

    def preferred(self, idx):
        """CF if the value already exists channels-first, else TF."""
        if idx in self.const or self.rank(idx) != 4:
            return TF
        return CF if CF in self.layouts(idx) else TF

    def out_name(self, idx, layout):
        t = self.tensor(idx)
        if idx in self.m.outputs and (layout == TF or len(t.shape) != 4):
            return t.name
        if idx in self.m.outputs:
            return self.fresh(t.name + "_nchw")
        return self.fresh(t.name)

    def set_out(self, idx, name, layout):
        if self.rank(idx) != 4:
            layout = TF
        self.vals[idx] = {layout: name}

    def emit_act(self, op_idx, pre_name, act, layout):
        """Apply a fused activation; returns the final ONNX name."""
        if act == ACT_NONE:
            return pre_name
        out = self.out_name(op_idx, layout)
        if act == ACT_RELU:
            self.node("Relu", [pre_name], [out])
        elif act == ACT_RELU6:
            self.node("Clip", [pre_name], [out], min=0.0, max=6.0)
        elif act == ACT_RELU_N1_TO_1:
            self.node("Clip", [pre_name], [out], min=-1.0, max=1.0)
        elif act == ACT_TANH:
            self.node("Tanh", [pre_name], [out])
        else:
            raise ConversionError("unsupported fused activation %d" % act)
        return out

    def produce(self, op, layout, build, act=ACT_NONE):
        """Create the main node(s) via build(out_name) then the activation."""
        idx = op.outputs[0]
        pre = self.out_name(idx, layout) if act == ACT_NONE else self.fresh(self.tensor(idx).name + "_pre")
        build(pre)
        final = self.emit_act(idx, pre, act, layout)
        self.set_out(idx, final, layout)

    # -- constants adapted for broadcasting ---------------------------------
    def const_for(self, idx, other_rank, layout):
        """A constant operand of an elementwise op whose other operand has
        rank other_rank and the given layout."""
        a = self.fconst(idx) if self.const[idx].dtype.kind == "f" else self.const[idx]
        if layout == CF and other_rank == 4:
            if a.ndim < 4 and a.size > 1:
                a = a.reshape((1,) * (4 - a.ndim) + a.shape)
            if a.ndim == 4:
                a = a.transpose(TO_CF)
        if a.size == 1:
            a = a.reshape(())
        return self.init(a, self.tensor(idx).name)

    # -- the conversion --------------------------------------------------------
    def convert(self):
        for i in self.m.inputs:
            t = self.tensor(i)
            if t.dtype != np.float32:
                raise ConversionError("input %r has type %s; only float32 inputs are "
                                      "supported" % (t.name, t.dtype))
            self.vals[i] = {TF: t.name}
        for n, op in enumerate(self.m.operators):
            handler = getattr(self, "op_" + op.name, None)
            if op.name == "CUSTOM":
                raise ConversionError("operator %d: custom operator %r is not supported"
                                      % (n, op.custom_code))
            if handler is None:
                raise ConversionError("operator %d: %s is not supported" % (n, op.name))
            try:
                handler(op)
            except ConversionError:
                raise
            except Exception as e:  # noqa: BLE001 - report which operator failed
                raise ConversionError("operator %d (%s -> %s): %s: %s" % (
                    n, op.name, self.tensor(op.outputs[0]).name, type(e).__name__, e))
        outputs = []
        for i in self.m.outputs:
            t = self.tensor(i)
            if i in self.const:
                raise ConversionError("output %r is a constant" % t.name)
            name = self.get(i, TF)
            if name != t.name:
                self.node("Identity", [name], [t.name])
            outputs.append(self.helper.make_tensor_value_info(
                t.name, self.TP.FLOAT, list(t.shape)))
        inputs = [self.helper.make_tensor_value_info(
            self.tensor(i).name, self.TP.FLOAT, list(self.tensor(i).shape))
            for i in self.m.inputs]
        graph = self.helper.make_graph(self.nodes, self.graph_name, inputs, outputs,
                                       self.initializers)
        model = self.helper.make_model(
            graph, opset_imports=[self.helper.make_opsetid("", OPSET)],
            producer_name="heteroaccel-tflite2onnx", producer_version="1")
        model.ir_version = 7
        model.doc_string = ("Converted from TFLite (NHWC inputs/outputs kept). %s"
                            % self.m.description).strip()
        self.onnx.checker.check_model(model)
        return model

    # -- operators ---------------------------------------------------------------
    def opt(self, op, index, fmt, default=0):
        return op.options.scalar(index, fmt, default) if op.options is not None else default

    def op_DEQUANTIZE(self, op):
        src, dst = op.inputs[0], op.outputs[0]
        if src not in self.const:
            raise ConversionError("DEQUANTIZE of a non-constant tensor")
        a = self.const[src]
        q = self.tensor(src).quant
        if a.dtype == np.float16:
            out = a.astype(np.float32)
        elif q is not None:
            scale, zp, axis = q
            shape = [1] * a.ndim
            if scale.size > 1:
                shape[axis] = scale.size
            out = ((a.astype(np.float32) - zp.reshape(shape).astype(np.float32))
                   * scale.reshape(shape)).astype(np.float32)
        else:
            out = a.astype(np.float32)
        self.const[dst] = out

    def _conv_common(self, op, weight, group, pad_mode, sw, sh, dw, dh):
        x = self.tensor(op.inputs[0])
        kh, kw = weight.shape[2], weight.shape[3]
        if pad_mode == PAD_SAME:
            pt, pb = same_pads(x.shape[1], kh, sh, dh)
            pl, pr = same_pads(x.shape[2], kw, sw, dw)
        else:
            pt = pb = pl = pr = 0
        ins = [self.get(op.inputs[0], CF), self.init(weight, self.tensor(op.inputs[1]).name)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            ins.append(self.init(self.fconst(op.inputs[2]).reshape(-1),
                                 self.tensor(op.inputs[2]).name))
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw],
                     pads=[pt, pl, pb, pr], group=group)
        return ins, attrs

    def op_CONV_2D(self, op):
        w = self.fconst(op.inputs[1])                       # [O, KH, KW, I]
        cin = self.tensor(op.inputs[0]).shape[3]
        group = cin // w.shape[3]
        ins, attrs = self._conv_common(
            op, w.transpose(0, 3, 1, 2), group, self.opt(op, 0, "b"), self.opt(op, 1, "i", 1),
            self.opt(op, 2, "i", 1), self.opt(op, 4, "i", 1), self.opt(op, 5, "i", 1))
        self.produce(op, CF, lambda out: self.node("Conv", ins, [out], **attrs),
                     self.opt(op, 3, "b"))

    def op_DEPTHWISE_CONV_2D(self, op):
        w = self.fconst(op.inputs[1])                       # [1, KH, KW, C*M]
        cin = self.tensor(op.inputs[0]).shape[3]
        ins, attrs = self._conv_common(
            op, w.transpose(3, 0, 1, 2), cin, self.opt(op, 0, "b"), self.opt(op, 1, "i", 1),
            self.opt(op, 2, "i", 1), self.opt(op, 5, "i", 1), self.opt(op, 6, "i", 1))
        self.produce(op, CF, lambda out: self.node("Conv", ins, [out], **attrs),
                     self.opt(op, 4, "b"))

    def op_TRANSPOSE_CONV(self, op):
        # inputs: output_shape, weights [O, KH, KW, I], input, optional bias
        w = self.fconst(op.inputs[1])
        x = self.tensor(op.inputs[2])
        y = self.tensor(op.outputs[0])
        sw, sh = self.opt(op, 1, "i", 1), self.opt(op, 2, "i", 1)
        kh, kw = w.shape[1], w.shape[2]
        pads = []
        for d, (k, s) in enumerate(((kh, sh), (kw, sw))):
            total = max(0, (x.shape[1 + d] - 1) * s + k - y.shape[1 + d])
            pads.append((total // 2, total - total // 2))
        ins = [self.get(op.inputs[2], CF), self.init(w.transpose(3, 0, 1, 2), self.tensor(op.inputs[1]).name)]
        if len(op.inputs) > 3 and op.inputs[3] >= 0:
            ins.append(self.init(self.fconst(op.inputs[3]).reshape(-1), self.tensor(op.inputs[3]).name))
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw],
                     pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]])
        self.produce(op, CF, lambda out: self.node("ConvTranspose", ins, [out], **attrs),
                     self.opt(op, 3, "b"))

    def _pool(self, op, onnx_op):
        x = self.tensor(op.inputs[0])
        sw, sh = self.opt(op, 1, "i", 1), self.opt(op, 2, "i", 1)
        fw, fh = self.opt(op, 3, "i", 1), self.opt(op, 4, "i", 1)
        if self.opt(op, 0, "b") == PAD_SAME:
            pt, pb = same_pads(x.shape[1], fh, sh, 1)
            pl, pr = same_pads(x.shape[2], fw, sw, 1)
        else:
            pt = pb = pl = pr = 0
        attrs = dict(kernel_shape=[fh, fw], strides=[sh, sw], pads=[pt, pl, pb, pr])
        xin = self.get(op.inputs[0], CF)
        self.produce(op, CF, lambda out: self.node(onnx_op, [xin], [out], **attrs),
                     self.opt(op, 5, "b"))

    def op_MAX_POOL_2D(self, op):
        self._pool(op, "MaxPool")

    def op_AVERAGE_POOL_2D(self, op):
        self._pool(op, "AveragePool")   # count_include_pad=0, as in TFLite

    def _binary(self, op, onnx_op, act_index=0):
        a, b = op.inputs[0], op.inputs[1]
        act = self.opt(op, act_index, "b") if act_index is not None else ACT_NONE
        ca, cb = a in self.const, b in self.const
        if ca and cb:
            raise ConversionError("%s of two constants" % op.name)
        if ca or cb:
            act_idx, const_idx = (b, a) if ca else (a, b)
            layout = self.preferred(act_idx)
            xa = self.get(act_idx, layout)
            xc = self.const_for(const_idx, self.rank(act_idx), layout)
            ins = [xc, xa] if ca else [xa, xc]
        else:
            ra, rb = self.rank(a), self.rank(b)
            if ra == 4 and rb == 4 and (CF in self.layouts(a) or CF in self.layouts(b)):
                layout = CF
            else:
                layout = TF
            ins = [self.get(a, layout if ra == 4 else TF), self.get(b, layout if rb == 4 else TF)]
        self.produce(op, layout, lambda out: self.node(onnx_op, ins, [out]), act)

    def op_ADD(self, op):
        self._binary(op, "Add")

    def op_SUB(self, op):
        self._binary(op, "Sub")

    def op_MUL(self, op):
        self._binary(op, "Mul")

    def op_DIV(self, op):
        self._binary(op, "Div")

    def op_MAXIMUM(self, op):
        self._binary(op, "Max", None)

    def op_MINIMUM(self, op):
        self._binary(op, "Min", None)

    def _unary(self, op, onnx_op, **attrs):
        layout = self.preferred(op.inputs[0])
        x = self.get(op.inputs[0], layout)
        self.produce(op, layout, lambda out: self.node(onnx_op, [x], [out], **attrs))

    def op_RELU(self, op):
        self._unary(op, "Relu")

    def op_RELU6(self, op):
        self._unary(op, "Clip", min=0.0, max=6.0)

    def op_RELU_N1_TO_1(self, op):
        self._unary(op, "Clip", min=-1.0, max=1.0)

    def op_LOGISTIC(self, op):
        self._unary(op, "Sigmoid")

    def op_TANH(self, op):
        self._unary(op, "Tanh")

    def op_LEAKY_RELU(self, op):
        self._unary(op, "LeakyRelu", alpha=float(self.opt(op, 0, "f", 0.2)))

    def op_HARD_SWISH(self, op):
        layout = self.preferred(op.inputs[0])
        x = self.get(op.inputs[0], layout)
        hs = self.fresh(self.tensor(op.outputs[0]).name + "_hsig")
        self.node("HardSigmoid", [x], [hs], alpha=1.0 / 6.0, beta=0.5)
        self.produce(op, layout, lambda out: self.node("Mul", [x, hs], [out]))

    def op_PRELU(self, op):
        x, alpha = op.inputs[0], op.inputs[1]
        layout = self.preferred(x)
        a = self.fconst(alpha)
        if layout == CF and self.rank(x) == 4:
            a4 = a.reshape((1,) * (4 - a.ndim) + a.shape)
            if a4.shape[1] == 1 and a4.shape[2] == 1:
                a = a4.reshape(-1, 1, 1)          # per channel: [C, 1, 1]
            else:
                a = a4.transpose(TO_CF)
        xn = self.get(x, layout)
        an = self.init(a, self.tensor(alpha).name)
        self.produce(op, layout, lambda out: self.node("PRelu", [xn, an], [out]))

    def op_SOFTMAX(self, op):
        beta = self.opt(op, 0, "f", 1.0)
        x = self.get(op.inputs[0], TF)
        if beta != 1.0:
            scaled = self.fresh(self.tensor(op.outputs[0]).name + "_beta")
            self.node("Mul", [x, self.init(np.array(beta, np.float32), "beta")], [scaled])
            x = scaled
        axis = self.rank(op.inputs[0]) - 1
        self.produce(op, TF, lambda out: self.node("Softmax", [x], [out], axis=axis))

    def _reshape_to(self, op, shape):
        x = op.inputs[0]
        if x in self.const:
            self.const[op.outputs[0]] = self.const[x].reshape(shape)
            return
        xn = self.get(x, TF)
        sn = self.init(np.array(shape, np.int64), self.tensor(op.outputs[0]).name + "_shape")
        self.produce(op, TF, lambda out: self.node("Reshape", [xn, sn], [out]))

    def op_RESHAPE(self, op):
        self._reshape_to(op, list(self.tensor(op.outputs[0]).shape))

    def op_SQUEEZE(self, op):
        self._reshape_to(op, list(self.tensor(op.outputs[0]).shape))

    def op_TRANSPOSE(self, op):
        perm = [int(p) for p in self.const[op.inputs[1]]]
        xn = self.get(op.inputs[0], TF)
        self.produce(op, TF, lambda out: self.node("Transpose", [xn], [out], perm=perm))

    def op_CONCATENATION(self, op):
        rank = self.rank(op.outputs[0])
        axis = self.opt(op, 0, "i") % rank
        layout = TF
        if rank == 4 and all(i not in self.const and CF in self.layouts(i) for i in op.inputs):
            layout = CF
            axis = AXIS_TF_TO_CF[axis]
        ins = [self.get(i, layout) for i in op.inputs]
        self.produce(op, layout, lambda out: self.node("Concat", ins, [out], axis=axis),
                     self.opt(op, 1, "b"))

    def _pad(self, op, value):
        x = op.inputs[0]
        pads = np.array(self.const[op.inputs[1]], np.int64).reshape(-1, 2)
        layout = self.preferred(x)
        if layout == CF:
            pads = pads[TO_CF]
        attrs = dict(mode="constant", pads=[int(p) for p in list(pads[:, 0]) + list(pads[:, 1])])
        if value:
            attrs["value"] = float(value)
        xn = self.get(x, layout)
        self.produce(op, layout, lambda out: self.node("Pad", [xn], [out], **attrs))

    def op_PAD(self, op):
        self._pad(op, 0.0)

    def op_PADV2(self, op):
        value = 0.0
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            value = float(np.asarray(self.fconst(op.inputs[2])).reshape(-1)[0])
        self._pad(op, value)

    def op_MEAN(self, op):
        x = op.inputs[0]
        rank = self.rank(x)
        axes = sorted({int(a) % rank for a in np.asarray(self.const[op.inputs[1]]).reshape(-1)})
        keep = bool(self.opt(op, 0, "b"))
        layout = self.preferred(x)
        if layout == CF:
            kept = [AXIS_TF_TO_CF[a] for a in range(4) if a not in axes]
            if not keep and kept != sorted(kept):
                layout = TF                     # remaining axes would be reordered
        if layout == CF:
            axes = sorted(AXIS_TF_TO_CF[a] for a in axes)
        xn = self.get(x, layout)
        self.produce(op, layout, lambda out: self.node(
            "ReduceMean", [xn], [out], axes=axes, keepdims=int(keep)))

    def op_FULLY_CONNECTED(self, op):
        x, w = op.inputs[0], op.inputs[1]
        wt = self.fconst(w)                                   # [O, I]
        if self.opt(op, 1, "b") != 0:
            raise ConversionError("FULLY_CONNECTED with shuffled weights")
        xn = self.get(x, TF)
        if self.rank(x) != 2 or self.tensor(x).shape[1] != wt.shape[1]:
            flat = self.fresh(self.tensor(x).name + "_flat")
            self.node("Reshape", [xn, self.init(np.array([-1, wt.shape[1]], np.int64), "fc_shape")], [flat])
            xn = flat
        ins = [xn, self.init(wt, self.tensor(w).name)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            ins.append(self.init(self.fconst(op.inputs[2]).reshape(-1), self.tensor(op.inputs[2]).name))
        else:
            ins.append(self.init(np.zeros(wt.shape[0], np.float32), "fc_bias"))
        out_shape = list(self.tensor(op.outputs[0]).shape)
        act = self.opt(op, 0, "b")
        if len(out_shape) == 2:
            self.produce(op, TF, lambda out: self.node("Gemm", ins, [out], transB=1), act)
        else:
            def build(out):
                g = self.fresh(self.tensor(op.outputs[0]).name + "_gemm")
                self.node("Gemm", ins, [g], transB=1)
                self.node("Reshape", [g, self.init(np.array(out_shape, np.int64), "fc_out_shape")], [out])
            self.produce(op, TF, build, act)

    def _resize(self, op, bilinear):
        """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR by integer factors.

        OpenCV 4.6 accepts neither an opset-10 linear Resize nor opset-11
        Clip, so every resize is written as an edge Pad by one pixel plus a
        fixed depthwise ConvTranspose (stride = factor) whose separable kernel
        holds the interpolation weights (see resize_kernel); this reproduces
        TFLite's results, including its clamping at the borders."""
        x = self.tensor(op.inputs[0])
        y = self.tensor(op.outputs[0])
        align = bool(self.opt(op, 2, "b"))
        half = bool(self.opt(op, 3, "b"))
        h, w = x.shape[1], x.shape[2]
        oh, ow = y.shape[1], y.shape[2]
        if align:
            raise ConversionError("%s with align_corners is not supported" % op.name)
        if oh % h or ow % w:
            raise ConversionError("%s by a non-integer factor (%dx%d -> %dx%d) is not "
                                  "supported" % (op.name, h, w, oh, ow))
        sh, sw = oh // h, ow // w
        xn = self.get(op.inputs[0], CF)
        if sh == 1 and sw == 1:
            self.produce(op, CF, lambda out: self.node("Identity", [xn], [out]))
            return
        c = x.shape[3]
        k = np.outer(resize_kernel(sh, bilinear, half), resize_kernel(sw, bilinear, half))
        weight = np.tile(k.astype(np.float32)[None, None], (c, 1, 1, 1))
        padded = self.fresh(y.name + "_edge")
        self.node("Pad", [xn], [padded], mode="edge", pads=[0, 0, 1, 1, 0, 0, 1, 1])
        wn = self.init(weight, y.name + ("_bilinear" if bilinear else "_nearest"))
        attrs = dict(group=c, kernel_shape=[3 * sh, 3 * sw], strides=[sh, sw],
                     pads=[2 * sh, 2 * sw, 2 * sh, 2 * sw])
        self.produce(op, CF, lambda out: self.node("ConvTranspose", [padded, wn], [out], **attrs))

    def op_RESIZE_BILINEAR(self, op):
        self._resize(op, True)

    def op_RESIZE_NEAREST_NEIGHBOR(self, op):
        self._resize(op, False)


def load_tflite(path, byte_range=None):
    with open(path, "rb") as f:
        data = f.read()
    if byte_range is not None:
        start, end = byte_range
        if not (0 <= start < end <= len(data)):
            raise ValueError("byte range %d:%d outside %s (%d bytes)" % (start, end, path, len(data)))
        data = data[start:end]
    return TfModel(data)


def convert(model, graph_name="model"):
    return Converter(model, graph_name).convert()


def describe(model):
    from collections import Counter
    lines = []
    for kind, ids in (("input", model.inputs), ("output", model.outputs)):
        for i in ids:
            t = model.tensors[i]
            lines.append("%s %s %s" % (kind, t.name, "x".join(map(str, t.shape))))
    ops = Counter(op.name if op.name != "CUSTOM" else "CUSTOM:%s" % op.custom_code
                  for op in model.operators)
    lines.append("operators " + ", ".join("%s=%d" % kv for kv in sorted(ops.items())))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a TFLite model to ONNX (opset %d)." % OPSET)
    ap.add_argument("input", help="TFLite file (or a file holding one, see --range)")
    ap.add_argument("output", nargs="?", help="ONNX file to write")
    ap.add_argument("--range", help="START:END byte range of the model inside INPUT")
    ap.add_argument("--info", action="store_true", help="print inputs, outputs and operators")
    args = ap.parse_args(argv)
    byte_range = None
    if args.range:
        start, end = args.range.split(":")
        byte_range = (int(start), int(end))
    try:
        model = load_tflite(args.input, byte_range)
        if args.info or not args.output:
            print(describe(model))
        if args.output:
            import os
            name = os.path.splitext(os.path.basename(args.output))[0]
            onnx_model = convert(model, name)
            tmp = args.output + ".tmp"
            with open(tmp, "wb") as f:
                f.write(onnx_model.SerializeToString())
            os.replace(tmp, args.output)
    except (OSError, ValueError, ConversionError) as e:
        print("tflite2onnx: %s: %s" % (args.input, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
