"""Checks the `loop-nests` witness of lower-to-loops: spec stage -> loop stage.

docs/WITNESS.md §5. Each certified kernel is read back (`KernelReader`) into the canonical
form of kernels.py: loops from 0 by 1 to a constant, affine indices, loads from its
arguments, stores into its last one outside reductions and scf.if, each value defined once
and, unless an index or a constant, used (no dead code); a vector value is read as the tuple
of its lanes, each lane a value of that form. That form must equal the witness's
stores and the checker's own definition (`kernels.expected`); every output element must be
stored once (`stored_once`) and every load outside scf.if stay inside its buffer (interval
bounds, `in_bounds`). Then `call_graph` matches the loop @main against the spec's (§5.3).
"""

from __future__ import annotations

import math

import numpy as np
from vnnc.verifier import kernels, precision
from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Dense, DenseArray, Op, Opaque, Sym, Type, Typed, Unit, parse
from vnnc.verifier.semantics import main_function, plain, plain_attrs

CMPF = ["false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
        "une", "uno", "true"]
CMPI = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
FLOAT_OPS = {**{f"arith.{n}": n for n in ("addf", "subf", "mulf", "divf", "maximumf", "negf")},
             **{f"math.{n}": n for n in ("exp", "log", "sqrt", "tanh", "erf")}}
NO_FAST_MATH = Opaque("#arith.fastmath<none>")


def canonical(x):
    """JSON lists -> tuples, so witness claims compare equal to the checker's forms."""
    return tuple(canonical(v) for v in x) if isinstance(x, list) else x


def buffer_type(t: Type) -> Type:
    """The memref that holds a tensor of type t: f64 and i64 as themselves, every other
    storage format (all subsets of float32) in f32."""
    return Type("memref", t.shape, t.elem if t.elem in ("f64", "i64") else "f32")


def kernel_key(sop: Op, buffers: tuple[Type, ...]) -> tuple:
    """What a kernel for `sop` must be certified as: op, shapes, attributes, arithmetic."""
    attrs = plain_attrs(sop)
    if sop.name.startswith("fp."):
        fmt = precision.format_of(sop.result_types[0].elem)
        if sop.name == "fp.round":  # computed in f64 when either side is f64
            acc = "f64" if "f64" in (b.elem for b in buffers) else "f32"
            attrs = {"fmt": attrs.get("format"), "acc": acc, "rounding": attrs.get("rounding")}
        else:
            attrs = {**{k: v for k, v in attrs.items() if k not in precision.FP_PROPS},
                     "fmt": fmt, "acc": attrs.get("acc"), "rounding": attrs.get("rounding")}
    return sop.name, tuple(t.shape for t in sop.operand_types), sop.result_types[0].shape, attrs


# ---------------------------------------------------------------- reading one kernel


class KernelReader:
    """One kernel read into its stores [(loops, index, value)], docs/WITNESS.md §5.1."""

    def __init__(self, fn: Op):
        self.name = fn.props.get("sym_name")
        block = self.only_block(fn, 0)
        self.types = [t for _, t in block.args]
        if any(t.kind != "memref" for t in self.types) or fn.results:
            raise Reject(f"kernel @{self.name}: arguments must be memrefs and results none")
        self.env: dict[str, tuple] = {}  # name -> value; the parser checked where each is visible
        self.defined: set[str] = set()  # each name once in the kernel, sibling regions included
        for i, (name, _) in enumerate(block.args):
            self.define(fn, name, ("arg", i))
        self.unused: set[str] = set()  # values computed from memory or floats, not yet used
        self.loops: list[tuple[str, int]] = []  # the enclosing plain loops
        self.extents: dict[str, int] = {}
        self.stores: list[tuple] = []
        self.fors: list[tuple] = []  # each reduction, when it ends; its results name its var
        self.count, self.may_store, self.guarded = 0, True, False
        self.block(block.ops, "func.return")

    def fail(self, op: Op, why: str):
        raise Reject(f"kernel @{self.name}: {op.name}: {why}")

    def only_block(self, op: Op, k: int):
        if len(op.regions) <= k or len(op.regions[k]) != 1:
            self.fail(op, f"region {k} must hold one block")
        return op.regions[k][0]

    def define(self, op: Op, name: str, value: tuple) -> None:
        if name in self.defined:
            self.fail(op, f"{name} is defined twice")
        self.defined.add(name)
        self.env[name] = value
        if value[0] not in ("arg", "aff", "acc", "f32", "f64"):  # not an index, constant or block argument
            self.unused.add(name)

    def value(self, op: Op, name: str, kind: str = "") -> tuple:
        """The value `name` (of `kind`: "aff" an affine index, "arg" a kernel argument)."""
        if kind and self.env[name][0] != kind:
            self.fail(op, f"{name} is not {'an affine index' if kind == 'aff' else 'a kernel argument'}")
        self.unused.discard(name)
        return self.env[name]

    def block(self, ops: list[Op], terminator: str) -> list:
        for op in ops[:-1]:
            self.op(op)
        if not ops or ops[-1].name != terminator:
            raise Reject(f"kernel @{self.name}: a block does not end with {terminator}")
        return [self.value(ops[-1], v) for v in ops[-1].operands]

    def region(self, op: Op, k: int, bind: tuple = ()) -> tuple:
        """What the one block of op's region k yields, its arguments bound to `bind`."""
        body = self.only_block(op, k)
        if len(body.args) != len(bind):
            self.fail(op, "block arguments do not match the iteration arguments")
        for (name, _), value in zip(body.args, bind):
            self.define(op, name, value)
        return tuple(self.block(body.ops, "scf.yield"))

    def op(self, op: Op) -> None:
        name, ins = op.name, op.operands
        if op.prop("fastmath", NO_FAST_MATH) != NO_FAST_MATH:
            self.fail(op, "fast-math flags are not allowed")
        if op.regions and name not in ("scf.for", "scf.if"):
            self.fail(op, "takes no regions")
        if name == "scf.for":
            return self.for_loop(op)
        if name == "scf.if":
            return self.if_else(op)
        if name == "memref.store":
            if self.value(op, ins[1], "arg")[1] != len(self.types) - 1 or not self.may_store:
                self.fail(op, "stores go only to the output argument, outside reductions and scf.if")
            index = tuple(self.value(op, v, "aff") for v in ins[2:])
            if op.operand_types[0].elem != self.types[-1].elem:
                self.fail(op, "stores a value of another type than its buffer's")
            self.stores.append((tuple(self.loops), index, self.value(op, ins[0])))
            return
        if name == "arith.constant":
            v = op.prop("value")
            if isinstance(v, Dense) and [v.type] == op.result_types and v.type.elem in ("f32", "f64"):
                result = ("vec", tuple(kernels.typed(x, v.type.elem) for x in v.values.ravel().tolist()))
            elif not isinstance(v, Typed) or [v.type] != op.result_types or v.type.elem not in ("index", "f32", "f64"):
                self.fail(op, "constants are index, f32 or f64 values of the result's type")
            else:
                result = ("aff", v.value, ()) if v.type.elem == "index" else kernels.typed(v.value, v.type.elem)
        elif name in ("arith.addi", "arith.subi", "arith.muli"):
            a, b = self.value(op, ins[0], "aff"), self.value(op, ins[1], "aff")
            if name == "arith.muli" and a[2] and b[2]:
                self.fail(op, "product of two loop variables is not affine")
            if name == "arith.muli":  # one side is a constant
                result = kernels.aff([(b[1], a)]) if not b[2] else kernels.aff([(a[1], b)])
            else:
                result = kernels.aff([(1, a), (-1 if name == "arith.subi" else 1, b)])
        elif name in FLOAT_OPS or name == "fp.round":
            # same float type in and out: no conversion hides inside an operation
            if len(set(op.operand_types + op.result_types)) != 1 or op.result_types[0].elem not in ("f32", "f64"):
                self.fail(op, "operands and result must all be f32 or all f64")
            if name == "fp.round":
                fmt, mode = op.prop("format"), op.prop("rounding")
                if mode not in precision.ROUNDINGS or not isinstance(fmt, str):
                    self.fail(op, "bad format or rounding")
                precision.format_bits(fmt)
                result = ("round", fmt, mode, self.value(op, ins[0]))
            else:  # on vectors, lane by lane
                args = [self.value(op, v) for v in ins]
                result = (FLOAT_OPS[name], *args) if any(a[0] != "vec" for a in args) else \
                    ("vec", tuple((FLOAT_OPS[name], *lane) for lane in zip(*(a[1] for a in args))))
        elif name in ("arith.extf", "arith.truncf"):
            want = ("f32", "f64") if name == "arith.extf" else ("f64", "f32")
            if (op.operand_types[0].elem, op.result_types[0].elem) != want:
                self.fail(op, f"converts {want[0]} to {want[1]} only")
            result = (name[6:], self.value(op, ins[0]))
        elif name in ("arith.cmpf", "arith.cmpi"):
            names, p = CMPF if name == "arith.cmpf" else CMPI, op.prop("predicate")
            if not (isinstance(p, Typed) and type(p.value) is int and 0 <= p.value < len(names)):
                self.fail(op, "unknown predicate")
            result = (name[6:], names[p.value], *(self.value(op, v) for v in ins))
        elif name in ("arith.select", "arith.andi", "arith.index_cast"):
            result = (name[6:], *(self.value(op, v) for v in ins))
        elif name in ("memref.load", "vector.load"):  # a vector's lane t: t further along the last axis
            arg, index = self.value(op, ins[0], "arg")[1], tuple(self.value(op, v, "aff") for v in ins[1:])
            if op.result_types[0].elem != self.types[arg].elem:
                self.fail(op, "loads a value of another type than its buffer's")
            result = ("load", arg, index) if name == "memref.load" else ("vec", tuple(
                ("load", arg, (*index[:-1], kernels.aff([(1, index[-1])], t))) for t in range(op.result_types[0].shape[0])))
            for load in lanes([result]):
                self.in_bounds(op, arg, load[2])
        elif name == "vector.broadcast":  # the scalar in every lane
            v = self.value(op, ins[0])
            if len(ins) != 1 or v[0] == "vec" or [op.operand_types[0].elem] * 2 != [op.result_types[0].elem, "f32"]:
                self.fail(op, "broadcasts one f32 scalar")
            result = ("vec", (v,) * op.result_types[0].shape[0])
        elif name == "vector.extract":  # the lane at a constant position
            v, pos = self.value(op, ins[0]), op.prop("static_position")
            if len(ins) != 1 or v[0] != "vec" or not isinstance(pos, DenseArray) or len(pos.values) != 1 \
                    or not 0 <= pos.values[0] < len(v[1]):
                self.fail(op, "extracts one lane at a constant position")
            result = v[1][pos.values[0]]
        elif name == "vector.shuffle":  # lanes picked by the mask from the two vectors' lanes
            a, b, mask = self.value(op, ins[0]), self.value(op, ins[1]), op.prop("mask")
            if a[0] != "vec" or b[0] != "vec" or len(set(op.operand_types + op.result_types)) != 1 \
                    or not isinstance(mask, DenseArray) or not all(0 <= m < 2 * len(a[1]) for m in mask.values):
                self.fail(op, "shuffles two vectors of its type by a mask of lanes in range")
            result = ("vec", tuple((a[1] + b[1])[m] for m in mask.values))
        else:
            self.fail(op, "not allowed in a kernel")
        if len(op.results) != 1 or (result[0] == "vec") != (op.result_types[0].kind == "vector") \
                or result[0] == "vec" and op.result_types[0].shape != (len(result[1]),):
            self.fail(op, "expected one result, a vector of its type's lanes exactly when its type is one")
        self.define(op, op.results[0], result)

    def in_bounds(self, op: Op, arg: int, index: tuple) -> None:
        """A load outside scf.if stays inside its buffer for every value of the loop variables.
        One under scf.if is guarded instead: it is used (no dead code) and so part of a stored
        value, under its own guards, and the stored values are the definition, whose guards
        keep its loads inside their buffers."""
        shape = self.types[arg].shape
        if len(index) != len(shape):
            self.fail(op, "index rank differs from the buffer's")
        if self.guarded:
            return
        for (_, const, terms), n in zip(index, shape):
            lo = const + sum(min(0, c * (self.extents[v] - 1)) for v, c in terms)
            hi = const + sum(max(0, c * (self.extents[v] - 1)) for v, c in terms)
            if lo < 0 or hi >= n:
                self.fail(op, f"a load may read outside its buffer ({lo}..{hi} of {n})")

    def for_loop(self, op: Op) -> None:
        lb, ub, step = (self.value(op, v, "aff") for v in op.operands[:3])
        if lb != ("aff", 0, ()) or step != ("aff", 1, ()) or ub[2] or ub[1] < 0:
            self.fail(op, "loops must run from 0 by 1 to a constant")
        var, extent = f"v{self.count}", ub[1]
        self.count += 1
        self.extents[var] = extent
        iv = ("aff", 0, ((var, 1),))
        inits = tuple(self.value(op, v) for v in op.operands[3:])
        # a vector accumulator is its lanes, numbered on from the accumulators before it
        widths = [len(v[1]) if v[0] == "vec" else 0 for v in inits]
        starts = [sum(max(w, 1) for w in widths[:j]) for j in range(len(widths))]

        def shaped(make):  # one value per iteration argument from make(accumulator number)
            return [("vec", tuple(make(s + t) for t in range(w))) if w else make(s) for s, w in zip(starts, widths)]
        if not inits:  # a plain loop
            self.loops.append((var, extent))
            if self.region(op, 0, (iv,)) or op.results:
                self.fail(op, "a loop without accumulators yields nothing")
            self.loops.pop()
            return
        saved, self.may_store = self.may_store, False
        yields = self.region(op, 0, (iv, *shaped(lambda j: ("acc", var, j))))
        self.may_store = saved
        if [len(v[1]) if v[0] == "vec" else 0 for v in yields] != widths or len(op.results) != len(inits):
            self.fail(op, "accumulators, yields and results differ in number or lanes")
        self.fors.append(("for", var, extent, lanes(inits), lanes(yields)))
        for r, value in zip(op.results, shaped(lambda j: ("res", j, var))):
            self.define(op, r, value)

    def if_else(self, op: Op) -> None:
        cond = self.value(op, op.operands[0])
        # without results its condition could use a dead load
        if len(op.regions) != 2 or not op.results or any(t.kind != "scalar" for t in op.result_types):
            self.fail(op, "needs a then and an else region and scalar results: a load under scf.if "
                          "must be one a stored value needs")
        saved = self.may_store, self.guarded
        self.may_store, self.guarded = False, True
        then = self.region(op, 0)
        other = self.region(op, 1) if op.regions[1] else ()
        self.may_store, self.guarded = saved
        if len(then) != len(op.results) or len(other) != len(then):
            self.fail(op, "yields and results differ in number")
        for j, r in enumerate(op.results):
            self.define(op, r, ("res", j, ("if", cond, then, other)))


def lanes(values) -> tuple:
    """Values with each vector replaced by its lanes."""
    return tuple(x for v in values for x in (v[1] if v[0] == "vec" else (v,)))


def stored_once(stores: list[tuple], shape: tuple, kernel: str) -> None:
    """Every element of the output is stored by exactly one (store, iteration)."""
    counts = np.zeros(math.prod(shape), dtype=np.int64)
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    for loops, index, _ in stores:
        if len(index) != len(shape):
            raise Reject(f"kernel @{kernel}: a store's index rank differs from the output's")
        names = [v for v, _ in loops]
        grids = np.meshgrid(*[np.arange(n) for _, n in loops], indexing="ij") if loops else []
        flat = np.zeros(grids[0].shape if grids else (), dtype=np.int64)
        for (_, const, terms), n, stride in zip(index, shape, strides):
            pos = np.full(flat.shape, const, dtype=np.int64)
            for var, coef in terms:
                if var not in names:
                    raise Reject(f"kernel @{kernel}: a store index uses {var}, not an enclosing loop")
                pos = pos + coef * grids[names.index(var)]
            if pos.size and (pos.min() < 0 or pos.max() >= n):
                raise Reject(f"kernel @{kernel}: a store writes outside the output")
            flat = flat + pos * stride
        np.add.at(counts, flat.ravel(), 1)
    if (counts != 1).any():
        raise Reject(f"kernel @{kernel}: {int((counts == 0).sum())} output elements are never "
                     f"stored and {int((counts > 1).sum())} more than once")


# ---------------------------------------------------------------- the witness


def symbols(module: Op, kind: str) -> dict[str, Op]:
    """The module's top-level ops of `kind` by sym_name; no sym_name is given twice."""
    ops = [op for op in module.regions[0][0].ops if "sym_name" in op.props]
    names = [op.props["sym_name"] for op in ops]
    if len(set(names)) != len(names):
        raise Reject("two top-level ops of the stage have the same sym_name")
    return {name: op for name, op in zip(names, ops) if op.name == kind}


def functions(module: Op) -> dict[str, Op]:
    return symbols(module, "func.func")


def check(source: str, target: str, witness: dict) -> None:
    if witness["pass"] != "lower-to-loops":
        raise Reject(f"lower-to-loops: this witness kind is for pass lower-to-loops, not {witness['pass']!r}")
    spec, loops = parse(source), parse(target)
    spec_main, loop_main = main_function(spec), main_function(loops)
    claims = witness["claims"]
    if not isinstance(claims, dict) or not isinstance(claims.get("kernels"), list):
        raise Reject("claims must hold a list of kernels")
    fns = functions(loops)
    for name, fn in fns.items():  # the C printer declares a function by its function_type
        args = tuple(t for _, t in fn.regions[0][0].args)
        if fn.props.get("function_type") != Type("function", inputs=args, outputs=()):
            raise Reject(f"@{name}: its function type differs from its block arguments")
    certified: dict[str, tuple] = {}
    for cert in claims["kernels"]:
        name = cert["kernel"]
        if name in certified or name not in fns or name == "main":
            raise Reject(f"kernel {name!r} is certified twice or is not a kernel of the stage")
        dialect, op = cert["op"].split(".", 1)
        ins, out = canonical(cert["in_shapes"]), canonical(cert["out_shape"])
        attrs = {k: canonical(v) for k, v in cert["attrs"].items()}
        reader = KernelReader(fns[name])
        if [t.shape for t in reader.types] != [*ins, out]:
            raise Reject(f"kernel @{name}: argument shapes differ from the certificate")
        arith = {"fmt": "f32", "acc": "f32", "rounding": "nearest"}
        if dialect == "fp":
            arith = {"fmt": cert["format"], "acc": cert["acc"], "rounding": cert["rounding"]}
            precision.format_bits(arith["fmt"])
        elif dialect != "spec":
            raise Reject(f"kernel @{name}: {cert['op']} is neither a spec nor an fp op")
        if arith["acc"] not in ("f32", "f64") or arith["rounding"] not in precision.ROUNDINGS:
            raise Reject(f"kernel @{name}: bad accumulation type or rounding mode")
        # any order computes a real sum; an fp op's sums follow its recorded order, sequential
        # `block`: rows and columns of a linear's output per loop iteration (each its own sum)
        order, block = cert.get("order", "sequential"), canonical(cert.get("block", [1, 1]))
        if order not in kernels.ORDERS or (dialect == "fp" and order != "sequential") or (
                block != (1, 1) and op not in ("linear", "matmul", "conv2d")):
            raise Reject(f"kernel @{name}: summation order {order!r} or block {block!r} is not allowed here")
        # the C printer sets the kernel's rounding mode from this attribute
        if fns[name].attrs.get("fp.rounding", "nearest") != arith["rounding"]:
            raise Reject(f"kernel @{name}: its fp.rounding attribute is not the certified {arith['rounding']}")
        dtypes = [t.elem for t in reader.types]
        if any(d not in ("f32", "f64", "i64") for d in dtypes) or dtypes[-1] != ("f64" if arith["fmt"] == "f64" else "f32"):
            raise Reject(f"kernel @{name}: buffers must be f32 (f64 for f64 values, i64 for labels)")
        try:
            want = kernels.expected(op, ins, out, attrs, dtypes, **arith, order=order, block=block)
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as e:
            raise Reject(f"kernel @{name}: no definition of spec.{op} for these shapes and "
                         f"attributes ({e})") from None
        if (canonical(cert["stores"]), canonical(cert["reductions"])) != (tuple(reader.stores), tuple(reader.fors)):
            raise Reject(f"kernel @{name}: the loop IR differs from its certificate")
        if want != (list(reader.stores), list(reader.fors)):
            raise Reject(f"kernel @{name}: the certificate is not the definition of spec.{op}")
        stored_once(reader.stores, out, name)
        if reader.unused:  # no dead code: nothing runs that the stored values do not need
            raise Reject(f"kernel @{name}: {min(reader.unused)} is computed but never used")
        certified[name] = (f"{dialect}.{op}", ins, out, {**attrs, **(arith if dialect == "fp" else {})},
                           tuple(reader.types))
    if set(fns) - set(certified) != {"main"}:
        raise Reject(f"uncertified functions in the stage: {sorted(set(fns) - set(certified) - {'main'})}")
    calls = call_graph(spec_main, loop_main, symbols(loops, "memref.global"), certified)
    if canonical(claims.get("calls")) != canonical(calls):
        raise Reject("the certificate's call list differs from the model function's calls")


# ---------------------------------------------------------------- the model function


def call_graph(spec_fn: Op, loop_fn: Op, globs: dict[str, Op], certified: dict) -> list:
    """The loop stage's @main matched against the spec stage's, op by op (docs/WITNESS.md
    §5.3); returns its calls."""
    sblock, lblock = spec_fn.regions[0][0], loop_fn.regions[0][0]
    ret = sblock.ops[-1]
    spec_values = sblock.args + list(zip(ret.operands, ret.operand_types))
    if [t for _, t in lblock.args] != [buffer_type(t) for _, t in spec_values]:
        raise Reject("@main must take one buffer per spec input and output, of its type")
    holds = {s: b for (s, _), (b, _) in zip(sblock.args, lblock.args)}  # spec value -> buffer
    outputs = [b for b, _ in lblock.args[len(sblock.args):]]
    written, fresh, freed = set(holds.values()), set(), set()
    calls, todo = [], list(lblock.ops)

    def drain() -> None:  # memref.deallocs may come between any two steps
        while todo and todo[0].name == "memref.dealloc":
            buf = todo.pop(0).operands[0]
            if buf not in fresh or buf in freed:
                raise Reject(f"@main frees {buf}, which it did not allocate or already freed")
            freed.add(buf)

    def take(name: str) -> Op:
        drain()
        if not todo or todo[0].name != name:
            raise Reject(f"@main: expected {name}, found {todo[0].name if todo else 'the end'}")
        return todo.pop(0)

    def use(buf: str) -> str:
        if buf in freed or buf not in written:
            raise Reject(f"@main reads {buf} before it is written or after it is freed")
        return buf

    for sop in sblock.ops[:-1]:
        short, t = sop.name.split(".", 1)[1], sop.result_types[0]
        if short in ("param", "constant"):  # read from a global of the value's type
            g = take("memref.get_global")
            ref = g.prop("name")
            glob = globs.get(ref.name) if isinstance(ref, Sym) else None
            if glob is None or glob.prop("type") != buffer_type(t) or g.result_types != [buffer_type(t)]:
                raise Reject(f"{sop.name} is read through a missing or mistyped global")
            # a parameter's global: uninitialised (bound at load time), its name, its hash
            got = (glob.prop("initial_value"), glob.prop("sym_name"), glob.attrs.get("vnnc.sha256"))
            if short == "param" and got != (Unit(), sop.prop("name"), sop.prop("sha256")):
                raise Reject(f"parameter {sop.prop('name')!r} is not bound to a global with its hash")
            value, want = glob.prop("initial_value"), sop.prop("value")
            if short == "constant" and not (  # the same float32 bits
                    isinstance(value, Dense) and isinstance(want, Dense) and glob.prop("constant") == Unit()
                    and value.values.shape == want.values.shape
                    and value.values.astype(np.float32).tobytes() == want.values.astype(np.float32).tobytes()):
                raise Reject("a constant global differs from its spec.constant")
            written.add(g.results[0])
            holds[sop.results[0]] = g.results[0]
            continue
        drain()  # the destination: a fresh buffer of the result's type, or its output buffer
        if todo and todo[0].name == "memref.alloc":
            alloc = take("memref.alloc")
            if alloc.operands or alloc.result_types != [buffer_type(t)]:
                raise Reject(f"@main allocates a buffer of another type than {t}")
            dest = alloc.results[0]
            fresh.add(dest)
        else:
            outs = [o for v, o in zip(ret.operands, outputs) if v == sop.results[0] and o not in written]
            if not outs:
                raise Reject(f"{sop.name} writes into a buffer that is neither fresh nor its output")
            dest = outs[0]
        args = [use(holds[v]) for v in sop.operands]
        if short in ("reshape", "flatten"):
            # a rank-1 view of the source and of the destination (unless rank 1), then a copy
            views = []
            for buf, vt in ((args[0], sop.operand_types[0]), (dest, t)):
                if len(vt.shape) == 1:
                    views.append(buf)
                    continue
                view, flat = take("memref.collapse_shape"), Type("memref", (math.prod(vt.shape),), buffer_type(vt).elem)
                groups = [[plain("reassociation", i) for i in g] for g in view.prop("reassociation")]
                if [view.operands, groups, view.result_types] != [[buf], [list(range(len(vt.shape)))], [flat]]:
                    raise Reject(f"reshape views must flatten every dimension of {buf} into {flat}")
                views.append(view.results[0])
            if take("memref.copy").operands != views:
                raise Reject("reshape copy has the wrong operands")
        else:
            call = take("func.call")
            kname = call.prop("callee").name if isinstance(call.prop("callee"), Sym) else None
            cert = certified.get(kname)
            types = tuple(buffer_type(ot) for ot in (*sop.operand_types, t))
            if cert is None or cert[:4] != kernel_key(sop, types):
                raise Reject(f"{sop.name} is called as @{kname}, not a kernel certified for it")
            if cert[4] != types or tuple(call.operand_types) != types:
                raise Reject(f"call @{kname} for {sop.name} has buffer types other than the spec op's")
            if call.operands != [*args, dest]:
                raise Reject(f"call @{kname} for {sop.name} passes the wrong buffers")
            calls.append({"kernel": kname, "op": sop.name})
        for buf in args:  # still live when the op runs: no dealloc came between
            use(buf)
        if dest in written or dest in freed:
            raise Reject(f"{sop.name} writes {dest}, which already holds a value or was freed")
        written.add(dest)
        holds[sop.results[0]] = dest
    for value, out in zip(ret.operands, outputs):
        if out not in written:
            if take("memref.copy").operands != [use(holds[value]), out]:
                raise Reject("an output is not copied from the value the spec returns")
            written.add(out)
        elif holds.get(value) != out:
            raise Reject("an output buffer holds a value the spec does not return there")
    if take("func.return").operands or todo:
        raise Reject("@main must end with its func.return")
    return calls
