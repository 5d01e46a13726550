"""`ttfuse.kernels.eltwise`: one kernel evaluating a small elementwise expression program over its inputs.

    kernels.eltwise(inputs=[x, y, z], program=(("silu", (0,), ()), ("multiply", (3, 1), ()),
                                               ("add", (4, 2), ())), outputs=(5,), dtypes=(bf16,),
                    memory_configs=(DRAM,))          # silu(x) * y + z, one launch

The program is a tuple of instructions `(op, args, params)` in SSA form. Slots 0..n-1 are the inputs and
instruction k defines slot n+k; an arg is a slot (int), a constant (float) or None. `op` is a ttnn unary op name
(params: its static arguments by name), a binary op (add, subtract, multiply, divide, rsub, maximum, minimum,
squared_difference, pow, comparisons, logical_*; divide takes `rounding_mode`), a ternary op (where, addcmul
with `value`, lerp), "clamp" (x, min, max) or "act" (params `acts`: fused UnaryWithParam activations, as a
binary op's `input_tensor_{a,b}_activations` / `activations`). Shapes broadcast as ttnn binary ops do.
`outputs` names the slots written out (several: a multi-output kernel), each with its dtype and memory config.

Semantics: the kernel holds intermediates in DST registers, as ttnn-jit's D2M fused generic kernels do
(ref/ttnn.md s7), and DST has the tiles' format (`dst_dtype`): for bf16/bfp8 tensors each instruction's result
is a bf16 value (what the eager op-by-op chain computes too), for float32 ones float32; the sim evaluates each
instruction in float32 and rounds its result to that format; the executor rounds each output to its dtype.
Scalars are used as stored (the fuse pass stores them as the eager op would see them).
Limits: inputs TILE layout with float dtypes; at most `DeviceSpec.max_cb_inputs` circular buffers (inputs +
outputs), and at most FP32_MAX_INPUTS inputs when any tensor is 32-bit (D2M's limit). SpecErrors name the kernel.
ttnn rule: on a TT device without a generated kernel the program runs as one stock ttnn call per instruction
(activations re-applied as unary ops); `stock_launches(program)` counts them (the cost model's fallback figure).
Extend: a new instruction is a row of `_BINARY` / `_TERNARY` (or any registered unary ttnn op, automatically).
"""

from __future__ import annotations

import torch

from ttfuse.configs import UnaryWithParam
from ttfuse.errors import got
from ttfuse.kernels.common import kfail, register_kernel, set_ttnn_rule
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, CostCtx, Group, OpCost, Traits, current_device_spec
from ttfuse.ops.activations import apply_activations
from ttfuse.ops.common import io_bytes
from ttfuse.types import DataType, Layout, MemoryConfig, TensorSpec

NAME = "eltwise"
FLOATS = frozenset({DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B})
# block-float outputs: the eager op rounds its float32 result straight to them, so the kernel's written value of
# such a slot skips the DST rounding (the executor rounds it once); bf16 outputs round the same either way
_BLOCK_FLOATS = frozenset({DataType.BFLOAT8_B, DataType.BFLOAT4_B})
FP32_MAX_INPUTS = 7  # D2M: at most 7 inputs when any tensor is wider than 16 bits (ref/ttnn.md s7)


def _divide(a, b, p):
    q = a / b
    rm = p.get("rounding_mode")
    return q if rm is None else torch.floor(q) if rm == "floor" else torch.trunc(q)


def _cmp(f):
    return lambda a, b, p: f(a, b).to(torch.float32)


def _logic(f):
    return lambda a, b, p: f(_t(a) != 0, _t(b) != 0).to(torch.float32)


def _t(v):
    return v if isinstance(v, torch.Tensor) else torch.tensor(float(v))


def _max(a, b, p):
    return torch.maximum(_t(a), _t(b))


def _min(a, b, p):
    return torch.minimum(_t(a), _t(b))


_BINARY = {
    "add": lambda a, b, p: a + b,
    "subtract": lambda a, b, p: a - b,
    "multiply": lambda a, b, p: a * b,
    "divide": _divide,
    "rsub": lambda a, b, p: b - a,
    "maximum": _max,
    "minimum": _min,
    "squared_difference": lambda a, b, p: (a - b) * (a - b),
    "pow": lambda a, b, p: torch.pow(_t(a), b),
    "eq": _cmp(torch.eq),
    "ne": _cmp(torch.ne),
    "gt": _cmp(torch.gt),
    "ge": _cmp(torch.ge),
    "lt": _cmp(torch.lt),
    "le": _cmp(torch.le),
    "logical_and": _logic(torch.logical_and),
    "logical_or": _logic(torch.logical_or),
    "logical_xor": _logic(torch.logical_xor),
}
_TERNARY = {
    "where": lambda c, a, b, p: torch.where(_t(c) != 0, _t(a), _t(b)),
    "addcmul": lambda a, b, c, p: a + float(p.get("value", 1.0)) * b * c,
    "lerp": lambda a, b, w, p: a + w * (b - a),
}


def _clamp(x, lo, hi, p):
    if lo is not None:
        x = torch.maximum(x, lo) if isinstance(lo, torch.Tensor) else torch.clamp_min(x, lo)
    if hi is not None:
        x = torch.minimum(x, hi) if isinstance(hi, torch.Tensor) else torch.clamp_max(x, hi)
    return x


def is_unary(op: str) -> bool:
    o = OPS.get(op)
    return o is not None and o.group is Group.ELTWISE_UNARY and op not in ("clamp", "clip")


def known(op: str) -> bool:
    return op in _BINARY or op in _TERNARY or op in ("clamp", "act") or is_unary(op)


def arity(op: str) -> int | None:
    if op in _BINARY:
        return 2
    if op in _TERNARY or op == "clamp":
        return 3
    return 1


def _slot_ok(a, k: int) -> bool:
    return a is None or (isinstance(a, float) and not isinstance(a, bool)) or (type(a) is int and 0 <= a < k)


@register_kernel(NAME, traits=Traits(split="eltwise"))
def eltwise(inputs, *, program, outputs, dtypes, memory_configs):
    """Evaluate an elementwise expression program over `inputs` in one kernel (float32, one rounding per output)."""


def check_program(inputs: list, program, outputs, dtypes, memory_configs) -> list[tuple[int, ...]]:
    """Shapes of every slot; SpecError naming the kernel when the program or its inputs are invalid."""
    from ttfuse.ops.eltwise import broadcast_shape

    if not isinstance(inputs, list | tuple) or not inputs:
        raise kfail(NAME, "argument 'inputs' must be a non-empty list of tensors")
    shapes: list[tuple[int, ...]] = []
    for i, s in enumerate(inputs):
        if not isinstance(s, TensorSpec):
            raise kfail(NAME, f"argument 'inputs'[{i}] must be a ttnn.Tensor, got {got(s)}")
        if s.layout is not Layout.TILE or s.dtype not in FLOATS:
            raise kfail(NAME, f"argument 'inputs'[{i}] must be a TILE tensor of a float dtype, got {s}")
        shapes.append(tuple(s.shape))
    if not isinstance(program, tuple) or not program:
        raise kfail(NAME, "argument 'program' must be a non-empty tuple of (op, args, params) instructions")
    for k, ins in enumerate(program):
        slot = len(inputs) + k
        if not (isinstance(ins, tuple) and len(ins) == 3 and isinstance(ins[0], str)):
            raise kfail(NAME, f"argument 'program'[{k}] must be (op, args, params), got {ins!r}")
        op, args, params = ins
        if not known(op):
            raise kfail(NAME, f"argument 'program'[{k}]: unknown instruction {op!r}")
        if not isinstance(args, tuple) or not all(_slot_ok(a, slot) for a in args):
            raise kfail(NAME, f"argument 'program'[{k}]: args {args!r} must be earlier slots, floats or None")
        want = arity(op)
        if want is not None and len(args) != want:
            raise kfail(NAME, f"argument 'program'[{k}]: {op} takes {want} args, got {len(args)}")
        if not isinstance(params, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in params):
            raise kfail(NAME, f"argument 'program'[{k}]: params must be a tuple of (name, value) pairs")
        tensor_args = [(f"slot {a}", shapes[a]) for a in args if type(a) is int]
        if not tensor_args:
            raise kfail(NAME, f"argument 'program'[{k}]: {op} has no tensor argument")
        try:
            shapes.append(broadcast_shape(f"kernels.{NAME}", tensor_args))
        except Exception as e:  # noqa: BLE001 - re-raised naming the kernel
            raise kfail(NAME, f"argument 'program'[{k}]: {e}") from None
    n = len(inputs) + len(program)
    if (
        not isinstance(outputs, tuple)
        or not outputs
        or not all(type(o) is int and 0 <= o < n for o in outputs)
    ):
        raise kfail(NAME, f"argument 'outputs' must be a non-empty tuple of slots < {n}, got {outputs!r}")
    if not (isinstance(dtypes, tuple) and isinstance(memory_configs, tuple)):
        raise kfail(NAME, "arguments 'dtypes' and 'memory_configs' must be tuples (one entry per output)")
    if len(dtypes) != len(outputs) or len(memory_configs) != len(outputs):
        raise kfail(NAME, f"arguments 'dtypes'/'memory_configs' need {len(outputs)} entries (one per output)")
    for d in dtypes:
        if d not in FLOATS:
            raise kfail(NAME, f"argument 'dtypes': {d!r} is not a float dtype")
    for m in memory_configs:
        if not isinstance(m, MemoryConfig) or m.is_sharded():
            raise kfail(NAME, f"argument 'memory_configs': {m!r} must be an interleaved ttnn.MemoryConfig")
    return shapes


def cb_limit(device_spec=None) -> int:
    from ttfuse.device import device_spec as default_spec

    return (device_spec or current_device_spec() or default_spec()).max_cb_inputs


def cb_check(inputs: list, dtypes, n_outputs: int, device_spec=None) -> str | None:
    """Why this kernel exceeds the device's circular-buffer limits (None when it fits)."""
    limit = cb_limit(device_spec)
    if len(inputs) + n_outputs > limit:
        return f"{len(inputs)} inputs + {n_outputs} outputs exceed the {limit} circular buffers of a kernel"
    wide = any(s.dtype is DataType.FLOAT32 for s in inputs) or DataType.FLOAT32 in dtypes
    if wide and len(inputs) > FP32_MAX_INPUTS:
        return f"{len(inputs)} inputs exceed the {FP32_MAX_INPUTS} a kernel takes with 32-bit tensors"
    return None


@eltwise.spec
def _spec(inputs, *, program, outputs, dtypes, memory_configs):
    shapes = check_program(inputs, program, outputs, dtypes, memory_configs)
    why = cb_check(inputs, dtypes, len(outputs))
    if why:
        raise kfail(NAME, f"argument 'inputs': {why} on this device")
    outs = tuple(TensorSpec(shapes[o], d, Layout.TILE, m) for o, d, m in zip(outputs, dtypes, memory_configs))
    return outs[0] if len(outs) == 1 else outs


def dst_dtype(input_dtypes, output_dtypes) -> DataType:
    """The format of the DST registers the kernel's intermediates live in: float32 when any input or output tile
    is float32, else bfloat16 (block floats unpack to bfloat16). tt-mlir D2M sizes and types DST by the tiles'
    element type (lib/Dialect/D2M, `computeDSTCapacity`: f16/bf16 8 tiles, f32 4 tiles), so a bf16 chain's
    intermediates are bf16 values, as the stock op-by-op calls of the ttnn rule give too."""
    if DataType.FLOAT32 in output_dtypes or any(d is DataType.FLOAT32 for d in input_dtypes):
        return DataType.FLOAT32
    return DataType.BFLOAT16


def evaluate(values: list, program, dst: DataType = DataType.FLOAT32, exact: dict | None = None) -> list:
    """All slot values of the program: float32, each instruction's result rounded to the DST format `dst`
    (no rounding for float32), except a value an `act` instruction reads (a binary op and its fused activations
    are one computation, rounded once, as the eager op). `exact`: slot -> its value before the DST rounding is
    recorded there for the slots given as keys (the written outputs: the executor rounds them once to their
    dtype, as the eager op rounds its result, so a block-float output is not rounded twice)."""
    vals = list(values)
    pre_act = (
        {x for op, args, _ in program if op == "act" for x in args if type(x) is int}
        if dst is not DataType.FLOAT32
        else ()
    )
    for op, args, params in program:
        p = dict(params)
        a = [vals[x] if type(x) is int else x for x in args]
        if op == "act":
            v = apply_activations(a[0], p["acts"])
        elif op in _BINARY:
            v = _BINARY[op](a[0], a[1], p)
        elif op in _TERNARY:
            v = _TERNARY[op](a[0], a[1], a[2], p)
        elif op == "clamp":
            v = _clamp(a[0], a[1], a[2], p)
        else:
            v = OPS[op].sim_rule(None, a[0], **p)
        if dst is not DataType.FLOAT32 and isinstance(v, torch.Tensor) and len(vals) not in pre_act:
            if exact is not None and len(vals) in exact:
                exact[len(vals)] = v
            v = round_to_dtype(v.float(), dst.value)
        vals.append(v)
    return vals


@eltwise.sim
def _sim(ctx, inputs, *, program, outputs, dtypes, memory_configs):
    in_specs = (ctx.in_specs.get("inputs") if ctx is not None else None) or ()
    exact = {o: None for o, d in zip(outputs, dtypes) if d in _BLOCK_FLOATS}
    vals = evaluate(list(inputs), program, dst_dtype([s.dtype for s in in_specs], dtypes), exact)
    shapes = [s.shape for s in (ctx.out_spec if isinstance(ctx.out_spec, tuple) else (ctx.out_spec,))]
    res = []
    for o, shape in zip(outputs, shapes):
        v = vals[o] if exact.get(o) is None else exact[o]
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != tuple(shape):
            v = torch.broadcast_to(_t(v), tuple(shape))
        res.append(v.clone() if any(v is x for x in inputs) else v.float())
    return res[0] if len(res) == 1 else tuple(res)


@eltwise.cost
def _cost(ctx: CostCtx) -> OpCost:
    ins = ctx.in_specs.get("inputs") or []
    program = ctx.args["program"]
    out = ctx.out_specs
    numel = max(s.numel for s in out)
    flops = 0.0
    for op, _args, params in program:
        n = len(dict(params).get("acts", ())) if op == "act" else 1
        flops += float(numel) * max(1, n)
    dram, l1 = io_bytes(list(ins) + list(out))
    return OpCost(flops=flops, dram_bytes=dram, l1_bytes=l1, launches=1)


# ---------------------------------------------------------------------------------------------- ttnn rule
# activations with one parameter p: the stock op called as op(x, p)
_PARAM_ACT_OPS = {
    "MUL_UNARY_SFPU": "multiply",
    "ADD_UNARY_SFPU": "add",
    "SUB_UNARY_SFPU": "subtract",
    "DIV_UNARY_SFPU": "divide",
    "POWER": "pow",
    "LEAKY_RELU": "leaky_relu",
}
_ACT_OPS = {
    "RELU": "relu",
    "RELU6": "relu6",
    "SILU": "silu",
    "SIGMOID": "sigmoid",
    "EXP": "exp",
    "LOG": "log",
    "TANH": "tanh",
    "SQRT": "sqrt",
    "RSQRT": "rsqrt",
    "RECIP": "reciprocal",
    "SIN": "sin",
    "COS": "cos",
    "ABS": "abs",
    "NEG": "neg",
    "ERF": "erf",
    "SQUARE": "square",
}


def stock_act(ttnn, x, act: UnaryWithParam):
    """The stock ttnn call computing fused activation `act` on x (the ttnn rules of the fused kernels)."""
    name = act.op_type.name
    p = act.params[0] if act.params else None
    if name in _ACT_OPS:
        return getattr(ttnn, _ACT_OPS[name])(x)
    if name == "GELU":
        return ttnn.gelu(x, fast_and_approximate_mode=bool(p))
    if name == "IDENTITY":
        return x
    if name in _PARAM_ACT_OPS:
        return getattr(ttnn, _PARAM_ACT_OPS[name])(x, p)
    if name == "CLAMP_TSS":
        return ttnn.clamp(x, *(act.params + (None, None))[:2])
    # NOTE: every UnaryOpType is mapped above; a new member must be added here before fusion can emit it
    raise kfail(NAME, f"no stock ttnn op for activation {name} (add it to stock_act)")


def run_stock(ttnn, inputs, *, program, outputs, dtypes, memory_configs):
    """The program as stock ttnn calls (one per instruction; see the module docstring)."""
    vals = list(inputs)
    for op, args, params in program:
        p = dict(params)
        a = [vals[x] if type(x) is int else x for x in args]
        if op == "act":
            y = a[0]
            for act in p["acts"]:
                y = stock_act(ttnn, y, act)
        elif op in _BINARY or op in ("where", "lerp"):
            if op == "pow":
                y = ttnn.pow(a[0], a[1])
            else:
                y = getattr(ttnn, op)(*a, **p)
        elif op == "addcmul":
            y = ttnn.addcmul(a[0], a[1], a[2], value=p.get("value", 1.0))
        elif op == "clamp":
            y = ttnn.clamp(a[0], a[1], a[2])
        else:
            y = getattr(ttnn, op)(a[0], **p)
        vals.append(y)
    res = []
    for o, d, m in zip(outputs, dtypes, memory_configs):
        y = vals[o]
        if y.dtype != d:
            y = ttnn.typecast(y, d)
        if y.memory_config() != m:
            y = ttnn.to_memory_config(y, m)
        res.append(y)
    return res[0] if len(res) == 1 else tuple(res)


def stock_launches(program) -> int:
    """Kernels the stock composite launches (activation lists count one per activation)."""
    n = 0
    for op, _a, params in program:
        n += len(dict(params).get("acts", ())) if op == "act" else 1
    return n


set_ttnn_rule(eltwise, run_stock)
