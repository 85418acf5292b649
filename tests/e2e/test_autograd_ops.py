"""Compiled gradients of every spec op against PyTorch autograd (float64), or, without torch,
against float64 central differences of the checker's reference evaluator.

One ad.grad program holds every op: loss = sum_i sum(op_i(inputs_i) * c_i) with random
cotangents c_i, differentiated with respect to every float input; it is compiled like any
model (vnnc.driver.compile_model: the import, lower-autograd and lower-to-loops witnesses all
checked, the library sampled) and run once on random inputs."""

from __future__ import annotations

import numpy as np
from vnnc import driver
from vnnc.dialects import ad, spec
from vnnc.model import name_attrs
from xdsl.dialects.builtin import ModuleOp, i64
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - the fallback below runs instead
    torch = None

# (op, operand shapes ("L" for labels), properties, which operands are differentiated)
OPS = [
    ("add", [(3, 4), (4,)], {}), ("sub", [(3, 1), (1, 4)], {}), ("mul", [(2, 3), (2, 1)], {}),
    ("div", [(3, 4), (4,)], {}), ("neg", [(5,)], {}), ("relu", [(3, 5)], {}),
    ("leaky_relu", [(3, 5)], {"alpha": 0.2}), ("sigmoid", [(4, 2)], {}), ("tanh", [(6,)], {}), ("erf", [(6,)], {}),
    ("exp", [(6,)], {}), ("log", [(6,)], {}), ("sqrt", [(6,)], {}), ("gelu", [(6,)], {}),
    ("gelu", [(6,)], {"approximate": "tanh"}), ("softmax", [(3, 4)], {"axis": 1}),
    ("log_softmax", [(3, 4, 2)], {"axis": 1}), ("matmul", [(2, 3, 4), (4, 5)], {}), ("matmul", [(4,), (4, 3)], {}),
    ("linear", [(5, 4), (3, 4), (3,)], {}), ("linear", [(2, 3, 4), (2, 4)], {}),
    ("layernorm", [(3, 4), (4,), (4,)], {"axes": (1,)}), ("layernorm", [(2, 3, 4)], {"axes": (0, 2)}),
    ("batchnorm", [(2, 3, 2, 2), (3,), (3,), (3,), (3,)], {"eps": 1e-3}),
    ("conv2d", [(2, 2, 5, 5), (3, 2, 3, 3), (3,)], {"pads": (1, 1, 1, 1)}),
    ("conv2d", [(1, 4, 7, 6), (4, 2, 3, 2)], {"strides": (2, 1), "pads": (1, 0, 2, 1), "dilations": (1, 2),
                                              "groups": 2}),
    ("maxpool2d", [(2, 2, 6, 6)], {"kernel": (2, 2), "strides": (2, 2)}),
    ("maxpool2d", [(1, 2, 5, 6)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "ceil_mode": True}),
    ("maxpool2d", [(1, 1, 7, 7)], {"kernel": (2, 3), "strides": (1, 2), "dilations": (2, 1)}),
    ("avgpool2d", [(2, 2, 6, 6)], {"kernel": (2, 2), "strides": (2, 2)}),
    ("avgpool2d", [(1, 2, 5, 5)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "ceil_mode": True}),
    ("avgpool2d", [(1, 2, 5, 5)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1),
                                   "count_include_pad": True}),
    ("global_avgpool", [(2, 3, 3, 2)], {}), ("flatten", [(2, 3, 2)], {"axis": 1}),
    ("reshape", [(2, 6)], {"shape": (3, 4)}), ("transpose", [(2, 3, 4)], {"perm": (2, 0, 1)}),
    ("concat", [(2, 3), (1, 3), (4, 3)], {"axis": 0}),
    ("slice", [(7, 4)], {"starts": (1, 0), "ends": (7, 4), "steps": (3, 2)}),
    ("slice", [(6, 5)], {"starts": (5, 1), "ends": (-1, 4), "steps": (-2, 1)}),
    ("reduce_sum", [(3, 4, 2)], {"axes": (0, 2)}), ("reduce_mean", [(3, 4)], {"axes": (1,), "keepdims": True}),
    ("reduce_max", [(3, 4, 2)], {"axes": (1,)}), ("mse_loss", [(3, 4), (3, 4)], {}),
    ("cross_entropy", [(4, 5), "L"], {}),
]
FROZEN = {("batchnorm", 3), ("batchnorm", 4), ("cross_entropy", 1)}  # not differentiated (buffers, labels)
POSITIVE = {("log", 0), ("sqrt", 0), ("div", 1), ("batchnorm", 4)}


def build_program(tmp_path):
    rng = np.random.default_rng(7)
    block, inputs, names, wrt, cots = Block(), [], [], [], []
    terms = []
    for n, (op, shapes, attrs) in enumerate(OPS):
        operands = []
        for k, s in enumerate(shapes):
            if s == "L":
                arg = block.insert_arg(spec.tensor([shapes[0][0]], i64), len(block.args))
                inputs.append(rng.integers(0, shapes[0][1], shapes[0][0]).astype(np.int64))
            else:
                arg = block.insert_arg(spec.tensor(s), len(block.args))
                x = rng.standard_normal(s).astype(np.float32)
                if op == "reduce_max":
                    x = rng.permutation(np.arange(x.size)).reshape(s).astype(np.float32) / 7  # no ties
                inputs.append(np.abs(x) + np.float32(0.5) if (op, k) in POSITIVE else x)
                if (op, k) not in FROZEN:
                    wrt.append((n, k, arg))
            names.append(f"{op}{n}.{k}")
            operands.append(arg)
        y = spec.OPS_BY_NAME[op](operands, **attrs)
        block.add_op(y)
        c = block.insert_arg(y.result.type, len(block.args))
        names.append(f"{op}{n}.dy")
        inputs.append(rng.standard_normal(spec.shape_of(y.result)).astype(np.float32))
        cots.append(inputs[-1])
        prod = spec.MulOp([y.result, c])
        total = spec.ReduceSumOp([prod.result], axes=tuple(range(len(spec.shape_of(y.result)))))
        block.add_ops([prod, total])
        terms.append(total.result)
    loss = terms[0]
    for t in terms[1:]:
        op = spec.AddOp([loss, t])
        block.add_op(op)
        loss = op.result
    grad = ad.GradOp(loss, [a for _, _, a in wrt])
    block.add_ops([grad, ReturnOp(*grad.results)])
    fn = FuncOp("main", ([a.type for a in block.args], [r.type for r in grad.results]), Region(block), "public")
    fn.arg_attrs = name_attrs(names)
    fn.res_attrs = name_attrs([f"d{names_of(n, k)}" for n, k, _ in wrt])
    path = tmp_path / "grads.mlir"
    path.write_text(driver.custom_text(ModuleOp([fn])))
    return path, inputs, wrt, cots


def names_of(n, k):
    return f"{OPS[n][0]}{n}.{k}"


def torch_op(op, xs, a):
    if op in ("add", "sub", "mul", "div"):
        return {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op](*xs)
    simple = {"neg": torch.neg, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "erf": torch.erf,
              "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt}
    if op in simple:
        return simple[op](xs[0])
    if op == "leaky_relu":
        return F.leaky_relu(xs[0], a["alpha"])
    if op == "gelu":
        return F.gelu(xs[0], approximate=a.get("approximate", "none"))
    if op in ("softmax", "log_softmax"):
        return getattr(torch, op)(xs[0], dim=a["axis"])
    if op == "matmul":
        return torch.matmul(*xs)
    if op == "linear":
        return F.linear(*xs)
    if op == "layernorm":
        axes = a["axes"]
        mean = xs[0].mean(dim=axes, keepdim=True)
        y = (xs[0] - mean) / torch.sqrt(((xs[0] - mean) ** 2).mean(dim=axes, keepdim=True) + a.get("eps", 1e-5))
        return y * xs[1] + xs[2] if len(xs) == 3 else y
    if op == "batchnorm":
        return F.batch_norm(xs[0], xs[3], xs[4], xs[1], xs[2], training=False, eps=a["eps"])
    if op == "conv2d":
        top, left, bottom, right = a.get("pads", (0, 0, 0, 0))
        x = F.pad(xs[0], (left, right, top, bottom))
        return F.conv2d(x, xs[1], xs[2] if len(xs) == 3 else None, stride=a.get("strides", 1),
                        dilation=a.get("dilations", 1), groups=a.get("groups", 1))
    if op in ("maxpool2d", "avgpool2d"):
        top, left, bottom, right = a.get("pads", (0, 0, 0, 0))
        assert (top, left) == (bottom, right)
        if op == "maxpool2d":
            return F.max_pool2d(xs[0], a["kernel"], a["strides"], (top, left), a.get("dilations", 1),
                                ceil_mode=a.get("ceil_mode", False))
        return F.avg_pool2d(xs[0], a["kernel"], a["strides"], (top, left), ceil_mode=a.get("ceil_mode", False),
                            count_include_pad=a.get("count_include_pad", False))
    if op == "global_avgpool":
        return xs[0].mean(dim=(2, 3), keepdim=True)
    if op in ("flatten", "reshape"):
        return xs[0].reshape(-1, 6) if op == "flatten" else xs[0].reshape(a["shape"])
    if op == "transpose":
        return xs[0].permute(a["perm"])
    if op == "concat":
        return torch.cat(xs, dim=a["axis"])
    if op == "slice":
        x = xs[0]
        for d, (s, e, st) in enumerate(zip(a["starts"], a["ends"], a["steps"])):
            x = x.index_select(d, torch.tensor(list(range(s, e, st))))
        return x
    if op in ("reduce_sum", "reduce_mean"):
        f = torch.sum if op == "reduce_sum" else torch.mean
        return f(xs[0], dim=a["axes"], keepdim=a.get("keepdims", False))
    if op == "reduce_max":
        return torch.amax(xs[0], dim=a["axes"], keepdim=a.get("keepdims", False))
    if op == "mse_loss":
        return F.mse_loss(*xs)
    if op == "cross_entropy":
        return F.cross_entropy(*xs)
    raise AssertionError(op)


def reference_grads(inputs, wrt, cots):
    """d loss / d input for every differentiated input: torch autograd in float64."""
    grads, pos = {}, 0
    for n, (op, shapes, attrs) in enumerate(OPS):
        xs = []
        for k, _ in enumerate(shapes):
            x = torch.tensor(inputs[pos])
            xs.append(x if x.dtype == torch.int64 else x.double().requires_grad_((op, k) not in FROZEN))
            pos += 1
        y = torch_op(op, xs, attrs)
        dy = torch.tensor(inputs[pos]).double()
        pos += 1
        (y * dy).sum().backward()
        for k, x in enumerate(xs):
            if x.requires_grad:
                grads[n, k] = x.grad.numpy()
    return [grads[n, k] for n, k, _ in wrt]


def reference_grads_fd(inputs, wrt):
    """Without torch: float64 central differences of the checker's reference evaluator."""
    from vnnc.verifier.semantics import apply

    out, pos, index = [], 0, {}
    for n, (op, shapes, attrs) in enumerate(OPS):
        index[n] = pos
        pos += len(shapes) + 1
    for n, k, _ in wrt:
        op, shapes, attrs = OPS[n]
        xs = [np.asarray(v, np.float64) if v.dtype.kind == "f" else v for v in inputs[index[n]:index[n] + len(shapes)]]
        dy = np.asarray(inputs[index[n] + len(shapes)], np.float64)
        g = np.zeros_like(xs[k])
        for i in np.ndindex(xs[k].shape):
            h = 1e-6 * max(1.0, abs(xs[k][i]))
            up, down = [x.copy() for x in xs], [x.copy() for x in xs]
            up[k][i] += h
            down[k][i] -= h
            g[i] = (np.sum(apply(op, up, attrs) * dy) - np.sum(apply(op, down, attrs) * dy)) / (2 * h)
        out.append(g)
    return out


def test_compiled_gradient_of_every_op(tmp_path):
    path, inputs, wrt, cots = build_program(tmp_path)
    bundle = driver.compile_model(path, tmp_path / "bundle")  # raises unless every step is checked and accepted
    assert [s["pass"] for s in bundle.manifest["stages"]] == ["import", "lower-autograd", "lower-to-loops"]
    got = bundle.run(*inputs)
    refs = reference_grads(inputs, wrt, cots) if torch is not None else reference_grads_fd(inputs, wrt)
    tol = 1e-5 if torch is not None else 1e-4
    covered = set()
    for (n, k, _), g, ref in zip(wrt, got, refs):
        scale = max(1.0, float(np.abs(ref).max()))  # normwise: cancellation in one element cannot hide an error
        err = float(np.abs(g - ref).max())
        assert err <= tol * scale, f"{names_of(n, k)} ({OPS[n][2]}): max error {err:.3g}, scale {scale:.3g}"
        covered.add(OPS[n][0])
    from vnnc.verifier.autograd import VJP

    assert covered == set(VJP)
