"""Checks the `loop-nests` witness of lower-to-loops: spec stage -> loop stage.

For every kernel the witness names (op, operand shapes, result shape, attributes, and
its stores), the checker
  1. reads the kernel's loop IR back into the canonical form of verifier/kernels.py:
     loops must run from 0 by 1 to a constant, indices must be affine in the loop
     variables, loads read the kernel's arguments, stores write only its last argument,
     and scf.for accumulators become ("for", var, extent, inits, yields) nodes;
  2. requires that form to equal both the witness's stores and the checker's own
     definition of the op (kernels.expected), every output element to be stored
     exactly once, and every load under scf.if to be one a stored value needs;
then it checks the model function (the call graph) against the spec function: each spec
op, in order, is one call to a kernel certified for that op with those shapes and
attributes, whose arguments are the buffers holding the op's operands (model inputs,
parameter globals with the parameter's hash, constant globals with the constant's
values, or fresh buffers written by earlier calls) and whose destination is a fresh
buffer or an output written once; every buffer is defined with its spec value's type, and a
freed buffer is never used or written again.
"""

from __future__ import annotations

import math
import struct

import numpy as np
from vnnc.verifier import kernels
from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Dense, DenseArray, Op, Sym, Type, Typed, Unit, parse

CMPF = ["false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
        "une", "uno", "true"]
CMPI = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
FLOAT_OPS = {"arith.addf": "addf", "arith.subf": "subf", "arith.mulf": "mulf", "arith.divf": "divf",
             "arith.maximumf": "maximumf", "arith.negf": "negf", "math.exp": "exp", "math.log": "log",
             "math.sqrt": "sqrt", "math.tanh": "tanh", "math.erf": "erf"}


def canonical(x):
    """JSON lists -> tuples, so witness claims compare equal to the checker's forms."""
    return tuple(canonical(v) for v in x) if isinstance(x, list) else x


# ---------------------------------------------------------------- reading one kernel


class KernelReader:
    def __init__(self, fn: Op):
        self.name = fn.props.get("sym_name")
        block = fn.regions[0][0]
        self.args = {name: i for i, (name, _) in enumerate(block.args)}
        self.types = [t for _, t in block.args]
        if any(t.kind != "memref" for t in self.types) or fn.results:
            raise Reject(f"kernel @{self.name}: arguments must be memrefs and results none")
        self.out = len(block.args) - 1
        self.env: dict[str, object] = {}
        self.loops: list[tuple[str, int]] = []
        self.extents: dict[str, int] = {}
        self.stores: list[tuple] = []
        self.guarded: set[tuple] = set()  # (guards, load) of every load under scf.if
        self.count = 0
        self.block(block.ops, "func.return")

    def fail(self, op: Op, why: str):
        raise Reject(f"kernel @{self.name}: {op.name}: {why}")

    def value(self, op: Op, name: str):
        if name not in self.env:
            self.fail(op, f"{name} is not defined here")
        return self.env[name]

    def affine(self, op: Op, name: str) -> tuple:
        v = self.value(op, name)
        if not (isinstance(v, tuple) and v[0] == "aff"):
            self.fail(op, f"{name} is not an affine index")
        return v

    def block(self, ops: list[Op], terminator: str) -> list:
        for op in ops[:-1]:
            self.op(op)
        if not ops or ops[-1].name != terminator:
            raise Reject(f"kernel @{self.name}: a block does not end with {terminator}")
        return [self.value(ops[-1], v) for v in ops[-1].operands]

    def op(self, op: Op) -> None:
        name, ins = op.name, op.operands
        fastmath = op.prop("fastmath")
        if fastmath is not None and getattr(fastmath, "text", None) != "#arith.fastmath<none>":
            self.fail(op, "fast-math flags are not allowed")
        if name == "arith.constant":
            v = op.prop("value")
            if not isinstance(v, Typed):
                self.fail(op, "unsupported constant")
            if v.type.elem == "index":
                result = ("aff", int(v.value), ())
            elif v.type.elem == "f32":
                result = ("f32", struct.pack("<f", v.value).hex())
            else:
                self.fail(op, f"constant of type {v.type}")
        elif name in ("arith.addi", "arith.subi", "arith.muli"):
            a, b = self.affine(op, ins[0]), self.affine(op, ins[1])
            if name == "arith.muli":
                if a[2] and b[2]:
                    self.fail(op, "product of two loop variables is not affine")
                a, b = (a, b) if not b[2] else (b, a)
                result = kernels.aff([(b[1], a)])
            else:
                result = kernels.aff([(1, a), (-1 if name == "arith.subi" else 1, b)])
        elif name in FLOAT_OPS:
            result = (FLOAT_OPS[name], *(self.value(op, v) for v in ins))
        elif name == "arith.cmpf":
            result = ("cmpf", CMPF[op.prop("predicate").value], *(self.value(op, v) for v in ins))
        elif name == "arith.cmpi":
            result = ("cmpi", CMPI[op.prop("predicate").value], *(self.value(op, v) for v in ins))
        elif name in ("arith.select", "arith.andi", "arith.index_cast"):
            result = (name[6:], *(self.value(op, v) for v in ins))
        elif name == "memref.load":
            result = ("load", self.buffer(op, ins[0]), tuple(self.affine(op, v) for v in ins[1:]))
            self.in_bounds(op, result[1], result[2])
        elif name == "memref.store":
            if self.buffer(op, ins[1]) != self.out or self.inside_reduction:
                self.fail(op, "stores go only to the output argument, outside reductions")
            index = tuple(self.affine(op, v) for v in ins[2:])
            self.stores.append((tuple(self.loops), index, self.value(op, ins[0])))
            return
        elif name == "scf.for":
            self.for_loop(op)
            return
        elif name == "scf.if":
            cond = self.value(op, ins[0])
            saved = self.inside_reduction, self.guards
            self.inside_reduction = True
            self.guards = saved[1] + ((cond, True),)
            then = tuple(self.block(op.regions[0][0].ops, "scf.yield"))
            self.guards = saved[1] + ((cond, False),)
            other = tuple(self.block(op.regions[1][0].ops, "scf.yield")) if len(op.regions) > 1 and op.regions[1] else ()
            self.inside_reduction, self.guards = saved
            node = ("if", cond, then, other)
            for j, r in enumerate(op.results):
                self.env[r] = ("res", j, node)
            return
        else:
            self.fail(op, "not allowed in a kernel")
        if len(op.results) != 1:
            self.fail(op, "expected one result")
        self.env[op.results[0]] = result

    inside_reduction = False
    guards: tuple = ()  # (condition, branch) of each enclosing scf.if

    def buffer(self, op: Op, name: str) -> int:
        if name not in self.args:
            self.fail(op, f"{name} is not an argument of the kernel")
        return self.args[name]

    def in_bounds(self, op: Op, arg: int, index: tuple) -> None:
        """Unguarded loads stay inside the buffer for every value of the loop variables
        (a load under scf.if is guarded: `guarded_loads_stored` ties it to the definition's
        guard)."""
        shape = self.types[arg].shape
        if len(index) != len(shape):
            self.fail(op, "index rank differs from the buffer's")
        if self.guards:
            self.guarded.add((self.guards, ("load", arg, index)))
            return
        for (_, const, terms), n in zip(index, shape):
            lo = const + sum(min(0, c * (self.extents[v] - 1)) for v, c in terms)
            hi = const + sum(max(0, c * (self.extents[v] - 1)) for v, c in terms)
            if lo < 0 or hi >= n:
                self.fail(op, f"a load may read outside its buffer ({lo}..{hi} of {n})")

    def for_loop(self, op: Op) -> None:
        lb, ub, step = (self.affine(op, v) for v in op.operands[:3])
        if lb != ("aff", 0, ()) or step != ("aff", 1, ()) or ub[2] or ub[1] < 0:
            self.fail(op, "loops must run from 0 by 1 to a constant")
        var = f"v{self.count}"
        self.count += 1
        self.extents[var] = ub[1]
        body = op.regions[0][0]
        if len(body.args) != 1 + len(op.operands) - 3:
            self.fail(op, "block arguments do not match the iteration arguments")
        self.env[body.args[0][0]] = ("aff", 0, ((var, 1),))
        inits = tuple(self.value(op, v) for v in op.operands[3:])
        if not inits:
            self.loops.append((var, ub[1]))
            if self.block(body.ops, "scf.yield"):
                self.fail(op, "a loop without accumulators yields nothing")
            self.loops.pop()
            return
        for j, (name, _) in enumerate(body.args[1:]):
            self.env[name] = ("acc", var, j)
        saved = self.inside_reduction
        self.inside_reduction = True
        yields = tuple(self.block(body.ops, "scf.yield"))
        self.inside_reduction = saved
        if len(yields) != len(inits) or len(op.results) != len(inits):
            self.fail(op, "accumulators, yields and results differ in number")
        node = ("for", var, ub[1], inits, yields)
        for j, r in enumerate(op.results):
            self.env[r] = ("res", j, node)


def guarded_loads_stored(reader: KernelReader) -> None:
    """Every load under scf.if is one that a stored value evaluates under the same guards:
    the stores equal the definition, whose guards keep its loads inside their buffers. A
    load that no store needs (dead code) would otherwise run unchecked."""
    reached, seen = set(), set()

    def walk(x, guards: tuple) -> None:
        if not isinstance(x, tuple) or (id(x), guards) in seen:
            return
        seen.add((id(x), guards))
        if x[:1] == ("load",):
            reached.add((guards, x))
        elif x[:1] == ("if",):
            walk(x[1], guards)
            for branch, values in ((True, x[2]), (False, x[3])):
                for v in values:
                    walk(v, guards + ((x[1], branch),))
            return
        for child in x:
            walk(child, guards)

    if reader.guarded:
        for _, _, value in reader.stores:
            walk(value, ())
    if reader.guarded - reached:
        raise Reject(f"kernel @{reader.name}: a load under scf.if is not one the stored values "
                     "evaluate under the same guard")


def stored_once(stores: list[tuple], shape: tuple, kernel: str) -> None:
    """Every element of the output is stored by exactly one (store, iteration)."""
    counts = np.zeros(math.prod(shape), dtype=np.int64)
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    for loops, index, _ in stores:
        if len(index) != len(shape):
            raise Reject(f"kernel @{kernel}: a store's index rank differs from the output's")
        grids = np.meshgrid(*[np.arange(n) for _, n in loops], indexing="ij") if loops else []
        names = [v for v, _ in loops]
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
        raise Reject(f"kernel @{kernel}: {int((counts == 0).sum())} output elements are never stored and "
                     f"{int((counts > 1).sum())} more than once")


# ---------------------------------------------------------------- the witness


def plain(v):
    if isinstance(v, Typed):
        return v.value
    if isinstance(v, DenseArray):
        return tuple(int(x) for x in v.values)
    return v


def spec_attrs(op: Op) -> dict:
    return {k: plain(v) for k, v in op.props.items()}


def functions(module: Op) -> dict[str, Op]:
    fns = {}
    for op in module.regions[0][0].ops:
        if op.name == "func.func":
            fns[op.props.get("sym_name")] = op
    return fns


def check(source: str, target: str, witness: dict, params) -> None:
    if witness.get("pass") != "lower-to-loops":
        raise Reject(f"lower-to-loops: this witness kind is for pass lower-to-loops, not {witness['pass']!r}")
    spec, loops = parse(source), parse(target)
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
        op = cert["op"].removeprefix("spec.")
        ins, out = canonical(cert["in_shapes"]), canonical(cert["out_shape"])
        attrs = {k: canonical(v) for k, v in cert["attrs"].items()}
        reader = KernelReader(fns[name])
        if [t.shape for t in reader.types] != [*ins, out]:
            raise Reject(f"kernel @{name}: argument shapes differ from the certificate")
        try:
            want = kernels.expected(op, ins, out, attrs)
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as e:
            raise Reject(f"kernel @{name}: no definition of spec.{op} for these shapes/attributes ({e})") from None
        got = reader.stores
        if canonical(cert["stores"]) != tuple(got):
            raise Reject(f"kernel @{name}: the loop IR differs from its certificate")
        if tuple(want) != tuple(got):
            raise Reject(f"kernel @{name}: the certificate is not the definition of spec.{op}")
        stored_once(got, out, name)
        guarded_loads_stored(reader)
        certified[name] = (op, ins, out, attrs, tuple(reader.types))
    if set(fns) - set(certified) != {"main"}:
        raise Reject(f"uncertified functions in the stage: {sorted(set(fns) - set(certified) - {'main'})}")
    calls = call_graph(spec, loops, certified)
    if canonical(claims.get("calls")) != canonical(calls):
        raise Reject("the certificate's call list differs from the model function's calls")


# ---------------------------------------------------------------- the model function


def call_graph(spec: Op, loops: Op, certified: dict) -> list:
    """Match the loop stage's @main against the spec stage's @main, op by op."""
    spec_fn, loop_fn = functions(spec).get("main"), functions(loops).get("main")
    if spec_fn is None or loop_fn is None:
        raise Reject("both stages need a @main")
    globs = {op.props.get("sym_name"): op for op in loops.regions[0][0].ops if op.name == "memref.global"}
    sblock, lblock = spec_fn.regions[0][0], loop_fn.regions[0][0]
    n_in = len(sblock.args)
    ret = sblock.ops[-1]
    if len(lblock.args) != n_in + len(ret.operands):
        raise Reject("@main takes one buffer per spec input and output")
    for (_, st), (_, lt) in zip(sblock.args + [(v, t) for v, t in zip(ret.operands, ret.operand_types)],
                                lblock.args):
        if lt.kind != "memref" or (st.shape, st.elem) != (lt.shape, lt.elem):
            raise Reject(f"@main buffer {lt} does not hold spec value {st}")
    holds = {s: l for (s, _), (l, _) in zip(sblock.args, lblock.args)}  # spec value -> buffer
    outputs = [name for name, _ in lblock.args[n_in:]]
    written: set[str] = {l for l, _ in lblock.args[:n_in]}
    fresh: set[str] = set()
    freed: set[str] = set()
    calls = []
    todo = list(lblock.ops)

    def drain() -> None:
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

    def destination(t: Type) -> str:
        drain()
        if todo and todo[0].name == "memref.alloc":
            alloc = take("memref.alloc")
            if alloc.operands or alloc.result_types != [buffer_type(t)]:
                raise Reject(f"@main allocates a buffer of another type than {t}")
            fresh.add(alloc.results[0])
            return alloc.results[0]
        return ""

    def read_global(sop: Op) -> Op:
        g = take("memref.get_global")
        ref = g.prop("name")
        glob = globs.get(ref.name) if isinstance(ref, Sym) else None
        if glob is None or glob.prop("type") != g.result_types[0] or \
                g.result_types[0] != buffer_type(sop.result_types[0]):
            raise Reject(f"{sop.name} is read through a missing or mistyped global")
        written.add(g.results[0])
        holds[sop.results[0]] = g.results[0]
        return glob

    for sop in sblock.ops[:-1]:
        short = sop.name.removeprefix("spec.")
        if sop.name == "spec.param":
            g = read_global(sop)
            if not isinstance(g.prop("initial_value"), Unit) or g.prop("sym_name") != sop.prop("name") \
                    or g.attrs.get("vnnc.sha256") != sop.prop("sha256"):
                raise Reject(f"parameter {sop.prop('name')!r} is not bound to a global with its hash")
            continue
        if sop.name == "spec.constant":
            g = read_global(sop)
            value, want = g.prop("initial_value"), sop.prop("value")
            if not (isinstance(value, Dense) and isinstance(want, Dense) and g.prop("constant") == Unit()
                    and value.values.shape == want.values.shape
                    and np.array_equal(value.values.astype(np.float32), want.values.astype(np.float32))):
                raise Reject("a constant global differs from its spec.constant")
            continue
        dest = destination(sop.result_types[0])
        args = [use(holds[v]) if v in holds else _undefined(v) for v in sop.operands]
        if short in ("reshape", "flatten"):
            a = take("memref.collapse_shape") if len(sop.operand_types[0].shape) != 1 else None
            src_view = a.results[0] if a else args[0]
            if a and a.operands[0] != args[0]:
                raise Reject("reshape copies from the wrong buffer")
            dest = dest or _output(outputs, written, sop, ret, todo)
            b = take("memref.collapse_shape") if len(sop.result_types[0].shape) != 1 else None
            dst_view = b.results[0] if b else dest
            if b and b.operands[0] != dest:
                raise Reject("reshape copies into the wrong buffer")
            flat = Type("memref", (math.prod(sop.result_types[0].shape),), sop.result_types[0].elem)
            for v in (a, b):
                if v is not None and ([list(map(plain, g)) for g in v.prop("reassociation")] !=
                                      [list(range(len(v.operand_types[0].shape)))] or v.result_types != [flat]):
                    raise Reject(f"reshape views must flatten every dimension into {flat}")
            cp = take("memref.copy")
            if cp.operands != [src_view, dst_view]:
                raise Reject("reshape copy has the wrong operands")
        else:
            dest = dest or _output(outputs, written, sop, ret, todo)
            call = take("func.call")
            callee = call.prop("callee")
            kname = callee.name if isinstance(callee, Sym) else None
            cert = certified.get(kname)
            attrs = spec_attrs(sop)
            if cert is None or cert[0] != short or cert[1] != tuple(t.shape for t in sop.operand_types) \
                    or cert[2] != sop.result_types[0].shape or cert[3] != attrs:
                raise Reject(f"{sop.name} is called as @{kname}, not a kernel certified for it")
            types = tuple(buffer_type(t) for t in (*sop.operand_types, *sop.result_types))
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
            cp = take("memref.copy")
            if cp.operands != [use(holds[value]), out]:
                raise Reject("an output is not copied from the value the spec returns")
            written.add(out)
        elif holds.get(value) != out:
            raise Reject("an output buffer holds a value the spec does not return there")
    take("func.return")
    if todo:
        raise Reject(f"@main has extra ops after its return: {todo[0].name}")
    return calls


def buffer_type(t: Type) -> Type:
    """The memref that holds a spec tensor of type t."""
    return Type("memref", t.shape, t.elem)


def _undefined(v: str):
    raise Reject(f"spec value {v} has no buffer")


def _output(outputs: list[str], written: set, sop: Op, ret: Op, todo) -> str:
    """A spec value returned by @main is computed straight into its output buffer."""
    for value, out in zip(ret.operands, outputs):
        if value == sop.results[0] and out not in written:
            return out
    raise Reject(f"{sop.name} writes into a buffer that is neither fresh nor its output")
