"""fuse: every fusion decision of the pipeline, as rule tables applied in a fixed order, then eltwise clustering.

Order (each table runs to a fixpoint before the next; earlier tables see the larger patterns first):
  1. rules_blocks (ttfuse/passes/fuse_blocks.py): the block kernels of ttfuse/kernels recognised by pattern:
     Transition, AdaLN, ConditionedTransitionBlock, triangle-multiplication chunk, pair-bias attention;
  2. rules_attention: matmul(QK^T) [* scale | / c] [+ mask] -> softmax -> matmul(V) into
     transformer.scaled_dot_product_attention;
  3. rules_norm: layer_norm/rms_norm(add(x, r)) -> norm(x, residual_input_tensor=r) (written as search and
     replacement functions, `replacement()`);
     rules_group_norm: act(group_norm(x [+ r])) -> kernels.group_norm_act (SiLU or any fused activation, the
     add on its input absorbed);
  4. rules_linear: matmul/linear + bias add + activation epilogues into linear(bias=, activation=);
     rules_conv: act(conv2d) -> conv2d(conv_config.activation=act), conv2d + prepared bias -> conv2d(bias_tensor=);
  5. rules_horizontal: linears sharing one input (Q/K/V, gate/up) -> one kernels.linear_split over weights
     concatenated once (kernels.concat_weights, memoised by the runtime);
  6. rules_binary: binary ops absorbing unary inputs (input_tensor_{a,b}_activations) and outputs (activations);
  7. eltwise clustering (ttfuse/passes/fuse_eltwise.py): remaining elementwise trees, chains and fan-outs into
     kernels.eltwise (multi-output or recomputation where a value has several users).
Pre: a verified graph (after cleanup). Post: a verified graph computing the same values within the formats'
rounding; every node a rule created records what it replaced (`side.replaced`, `side.origins`), and a rule
whose pattern matched but which declined notes why on the root (`fuse.<table>.<rule>: reason`), for the
coverage report.
SDPA semantics: TT applies `scale` inside the exponent, softmax(scale * (QK^T + mask)), so the rewrite of
softmax(scale * QK^T + mask) feeds SDPA the mask pre-divided by the scale (a multiply node that the eltwise
clustering may merge into the mask's producers); with no mask or scale 1 nothing is added.
Extend: add a row to the table of the fusion's kind (with the algebra in a trailing comment) and a test applying
that rule alone in tests/passes/test_fuse.py.
"""

from __future__ import annotations

import dataclasses

from ttfuse.configs import Conv2dConfig
from ttfuse.ir import Graph, Ref, dce
from ttfuse.ops.activations import normalize_activations
from ttfuse.passes.predicates import act_ops, no_acts, plain_binary, plain_mm, plain_unary, unary_act
from ttfuse.passes.rewrite import Miss, Pat, Rewriter, named, replacement, rewrite
from ttfuse.types import DataType, Layout

D = DataType
SDPA = "transformer.scaled_dot_product_attention"
SDPA_DTYPES = frozenset({D.BFLOAT16, D.BFLOAT8_B, D.BFLOAT4_B})
FLOATS = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B, D.BFLOAT4_B})
# activation strings ttnn.linear/matmul accept, by the unary op they replace
LINEAR_ACT = {
    "relu": "relu",
    "relu6": "relu6",
    "silu": "silu",
    "gelu": "gelu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
}


# ----------------------------------------------------------------------------------------------- helpers
def weight_input(ref: Ref, rw: Rewriter) -> bool:
    """A graph input (a weight): concatenations of it can be computed once and memoised."""
    return rw.is_input(ref)


def row_vector(spec, n: int) -> bool:
    return (
        spec.layout is Layout.TILE
        and spec.dtype in FLOATS
        and spec.rank >= 1
        and spec.shape[-1] == n
        and all(d == 1 for d in spec.shape[:-1])
    )


def mm_args(node, rw: Rewriter, **override) -> dict:
    """The arguments of a matmul/linear node as `ttnn.linear` keywords (tensors as Refs)."""
    a = rw.attrs(node)
    out = {
        "input_tensor_a": a["input_tensor_a"],
        "input_tensor_b": a["input_tensor_b"],
        "bias": a.get("bias"),
        "transpose_a": a["transpose_a"],
        "transpose_b": a["transpose_b"],
        "memory_config": a["memory_config"],
        "dtype": a["dtype"],
        "activation": a["activation"],
        "compute_kernel_config": a["compute_kernel_config"],
    }
    out.update(override)
    return out


def acts_list(v) -> list:
    if not v:
        return []
    return list(v) if isinstance(v, list | tuple) else [v]


# ----------------------------------------------------------------------------------- (b) linear epilogues
_MM = ("linear", "matmul")


@named("linear_bias")
def _linear_bias(rw: Rewriter, m):
    root, lin, b = m.root, m.node("lin"), m.ref("b")
    if (
        not plain_binary(root)
        or root.attr("input_tensor_a_activations")
        or root.attr("input_tensor_b_activations")
    ):
        return None
    n = lin.outs[0].shape[-1]
    if not row_vector(rw.spec(b), n):
        return Miss(f"the added tensor {rw.spec(b)} is not a bias row vector of width {n}")
    act = None
    post = normalize_activations("add", root.attr("activations"), "activations")
    if post:
        a = post[0]
        if len(post) != 1 or a.params or a.op_type.name.lower() not in LINEAR_ACT.values():
            return Miss(f"the add's activations {list(post)} have no linear activation string")
        act = a.op_type.name.lower()
    args = mm_args(lin, rw, bias=b, activation=act, **keep_out(lin, root.outs[0]))
    return rw.try_emit("linear", **args)


def keep_out(node, want) -> dict:
    """dtype/memory_config arguments giving `want`, keeping the node's own (None) where they already do."""
    have = node.outs[0]
    return {
        "dtype": node.attr("dtype") if have.dtype == want.dtype else want.dtype,
        "memory_config": node.attr("memory_config")
        if have.memory_config == want.memory_config
        else want.memory_config,
    }


@named("linear_activation")
def _linear_activation(rw: Rewriter, m):
    root, lin = m.root, m.node("lin")
    if not plain_unary(root):
        return Miss("the activation runs in an approximate or non-default mode")
    out = root.outs[0]
    if out.dtype != lin.outs[0].dtype:
        return Miss("the activation changes the dtype")
    args = mm_args(lin, rw, activation=LINEAR_ACT[root.op], **keep_out(lin, out))
    if lin.op == "matmul":
        args.pop("bias")
        return rw.try_emit("matmul", **args)
    return rw.try_emit("linear", **args)


_LIN = Pat(_MM, name="lin", one_use=True, activation=None, where=plain_mm)
rules_linear = [
    (
        Pat(
            "add",
            Pat("linear", name="lin", one_use=True, bias=None, activation=None, where=plain_mm),
            Pat.any("b"),
            commute=True,
        ),
        _linear_bias,
    ),  # linear(a, w) + b -> linear(a, w, bias=b)
    (
        Pat(
            "add",
            Pat("matmul", name="lin", one_use=True, activation=None, where=plain_mm),
            Pat.any("b"),
            commute=True,
        ),
        _linear_bias,
    ),  # matmul(a, w) + b -> linear(a, w, bias=b)
    (
        Pat(tuple(LINEAR_ACT), _LIN),
        _linear_activation,
    ),  # act(linear(a, w, b)) -> linear(a, w, b, activation=act)
]


# ---------------------------------------------------------------------------------- (b') conv2d epilogues
# The activations conv2d applies itself (`Conv2dConfig.activation`, a UnaryWithParam in ttnn 0.81.1): tt-metal's
# conv2d hands it to the sliding-window kernel's packer (relu) or SFPU epilogue, and, for the 1x1 / matmul path,
# to ttnn.linear as an activation string (`unary_with_param_to_string`); so only those both paths take: the
# linear activations, without parameters.
CONV_ACT = frozenset(LINEAR_ACT.values())


def _conv_cfg(node) -> Conv2dConfig:
    return node.attr("conv_config") or Conv2dConfig()


def plain_conv(node, rw=None) -> bool:
    """A conv2d without a fused activation (what the epilogue rules may rebuild)."""
    return _conv_cfg(node).activation is None


def _conv_emit(rw: Rewriter, conv, root, **override):
    a = rw.attrs(conv)
    a.update(keep_out(conv, root.outs[0]), **override)
    return rw.try_emit("conv2d", **a)


@named("conv_activation")
def _conv_activation(rw: Rewriter, m):
    root, conv = m.root, m.node("conv")
    act = unary_act(root)
    if act is None:
        return Miss(f"{root.op} runs in an approximate or non-default mode, or has no fused-activation form")
    if root.op not in CONV_ACT:
        return Miss(
            f"conv2d fuses only {', '.join(sorted(CONV_ACT))} (Conv2dConfig.activation); not {root.op}"
        )
    if root.outs[0].dtype != conv.outs[0].dtype:
        return Miss("the activation changes the dtype")
    cfg = dataclasses.replace(_conv_cfg(conv), activation=act)
    return _conv_emit(rw, conv, root, conv_config=cfg)


def _prepared_bias(rw: Rewriter, conv, b: Ref) -> str | None:
    """Why `b` cannot be conv2d's bias_tensor (None: it can). tt-metal's conv2d reads a device bias as
    prepare_conv_bias lays it out: [1, 1, 1, OC] TILE in the weights' dtype, next to prepared weights."""
    from ttfuse.ops.conv import is_prepared_weight

    w = rw.spec(rw.attrs(conv)["weight_tensor"])
    oc = conv.outs[0].shape[-1]
    bs = rw.spec(b)
    if not is_prepared_weight(w):
        return "the conv's weights are not prepared (a device bias goes with prepare_conv_weights' weights)"
    if bs.shape != (1, 1, 1, oc) or bs.layout is not Layout.TILE:
        return f"the added tensor {bs} is not a prepared bias [1, 1, 1, {oc}] in TILE layout"
    if bs.dtype != w.dtype:
        return f"the bias dtype {bs.dtype.value} differs from the prepared weights' {w.dtype.value}"
    return None


@named("conv_bias")
def _conv_bias(rw: Rewriter, m):
    root, conv, b = m.root, m.node("conv"), m.ref("b")
    if not plain_binary(root):
        return None
    if root.attr("input_tensor_a_activations") or root.attr("input_tensor_b_activations"):
        return Miss("the add applies activations to its inputs")
    why = _prepared_bias(rw, conv, b)
    if why:
        return Miss(why)
    over = {"bias_tensor": b}
    post = normalize_activations("add", root.attr("activations"), "activations")
    if post:
        a = post[0]
        if len(post) != 1 or a.params or a.op_type.name.lower() not in CONV_ACT:
            return Miss(f"the add's activations {list(post)} are not one conv2d activation")
        over["conv_config"] = dataclasses.replace(_conv_cfg(conv), activation=a)
    return _conv_emit(rw, conv, root, **over)


def rules_conv() -> list:
    """conv2d epilogues (built per call, so an activation op registered later is seen and declined by name)."""
    return [
        (
            Pat(act_ops(), Pat("conv2d", name="conv", one_use=True, where=plain_conv)),
            _conv_activation,
        ),  # act(conv2d(x, w, b)) -> conv2d(x, w, b, conv_config.activation=act)
        (
            Pat(
                "add",
                Pat("conv2d", name="conv", one_use=True, bias_tensor=None, where=plain_conv),
                Pat.any("b"),
                commute=True,
            ),
            _conv_bias,
        ),  # conv2d(x, w) + b -> conv2d(x, w, bias_tensor=b)   (b prepared: [1, 1, 1, OC] TILE)
    ]


# ------------------------------------------------------------------------------ (c) binary + activations
_BIN_ACT_OPS = (
    "add",
    "subtract",
    "multiply",
    "divide",
    "rsub",
    "maximum",
    "minimum",
    "squared_difference",
    "add_",
    "subtract_",
    "multiply_",
    "divide_",
    "rsub_",
)


def _operand_names(node) -> tuple[str, str]:
    names = [k for k, _ in node.attrs][:2]
    return names[0], names[1]


@named("binary_input_activation")
def _binary_input_activation(rw: Rewriter, m):
    root, un = m.root, m.node("un")
    if not plain_binary(root):
        return None
    act = unary_act(un)
    if act is None:
        return Miss(f"{un.op} has no exact fused-activation form")
    x = m.ref("x")
    if rw.spec(x).dtype != un.outs[0].dtype or rw.spec(x).layout != un.outs[0].layout:
        return None
    a_name, b_name = _operand_names(root)
    args = rw.attrs(root)
    un_ref = Ref(un.id, 0)
    side = None
    for name, key in ((a_name, "input_tensor_a_activations"), (b_name, "input_tensor_b_activations")):
        if args.get(name) == un_ref:
            side = (name, key)
            break
    if side is None:
        return None
    name, key = side
    other = b_name if name == a_name else a_name
    if args.get(other) == un_ref:
        return Miss("the binary op reads the activation's result twice")
    if root.op.endswith("_") and name == a_name:
        return Miss("an in-place op writes into the activation's result")
    args[name] = x
    args[key] = [act, *acts_list(args.get(key))]
    if "memory_config" in args and args["memory_config"] is None:
        args["memory_config"] = root.outs[0].memory_config
    return rw.try_emit(root.op, **args)


@named("binary_output_activation")
def _binary_output_activation(rw: Rewriter, m):
    root, bn = m.root, m.node("bin")
    act = unary_act(root)
    if act is None or not plain_binary(bn):
        return None
    if bn.op.endswith("_"):
        return None
    args = rw.attrs(bn)
    args["activations"] = [*acts_list(args.get("activations")), act]
    args.update(keep_out(bn, root.outs[0]))
    return rw.try_emit(bn.op, **args)


def rules_binary() -> list:
    """Binary ops absorbing unary ops as activations: the unary ops are those whose `Traits.activation` names the
    UnaryOpType computing them (built per call, so an op registered later takes part)."""
    un = act_ops()
    return [
        (
            Pat(_BIN_ACT_OPS, Pat(un, Pat.any("x"), name="un", one_use=True), Pat.any("y"), commute=True),
            _binary_input_activation,
        ),  # f(u(x), y) -> f(x, y, input_tensor_a_activations=[u])
        (
            Pat(_BIN_ACT_OPS, Pat(un, Pat.any("x"), name="un", one_use=True)),
            _binary_input_activation,
        ),  # f(u(x), c) -> f(x, c, input_tensor_a_activations=[u])  (scalar operand)
        (
            Pat(un, Pat(_BIN_ACT_OPS[:8], name="bin", one_use=True)),
            _binary_output_activation,
        ),  # u(f(a, b)) -> f(a, b, activations=[u])
    ]


# ---------------------------------------------------------------------------------- (d) horizontal fusion
def _sibling_key(node, rw: Rewriter):
    a = rw.attrs(node)
    return (
        a["transpose_b"],
        a["memory_config"],
        a["dtype"],
        a["activation"],
        a["compute_kernel_config"],
        a.get("bias") is None,
        rw.spec(a["input_tensor_b"]).dtype,
        tuple(rw.spec(a["input_tensor_b"]).shape),
    )


@named("horizontal_linears")
def _horizontal(rw: Rewriter, m):
    root, x = m.root, m.ref("x")
    key = _sibling_key(root, rw)
    sibs = []
    for u in rw.users(x):
        if u.op != "linear" or not plain_mm(u) or u.attr("transpose_b"):
            continue
        a = rw.attrs(u)
        if a["input_tensor_a"] != x or not rw.is_input(a["input_tensor_b"]):
            continue
        if a.get("bias") is not None and not rw.is_input(a["bias"]):
            continue
        if _sibling_key(u, rw) != key:
            continue
        sibs.append(u)
    if len(sibs) < 2 or sibs[0].id != root.id:
        return None
    n = root.outs[0].shape[-1]
    if n % 32:
        return Miss(f"the output width {n} is not a multiple of 32 (the split must be tile aligned)")
    a0 = rw.attrs(root)
    wcat = rw.try_emit("kernels.concat_weights", tensors=[rw.attrs(s)["input_tensor_b"] for s in sibs])
    if isinstance(wcat, Miss):
        return wcat
    bcat = None
    if a0.get("bias") is not None:
        bcat = rw.try_emit("kernels.concat_weights", tensors=[rw.attrs(s)["bias"] for s in sibs])
        if isinstance(bcat, Miss):
            return bcat
    outs = rw.try_emit(
        "kernels.linear_split",
        input_tensor_a=x,
        input_tensor_b=wcat,
        sizes=(n,) * len(sibs),
        bias=bcat,
        activation=a0["activation"],
        dtype=root.outs[0].dtype,
        memory_config=root.outs[0].memory_config,
        compute_kernel_config=a0["compute_kernel_config"],
    )
    if isinstance(outs, Miss):
        return outs
    for s, r in zip(sibs[1:], outs[1:]):
        rw.also_replace(s, r)
    return outs[0]


rules_horizontal = [
    (
        Pat(
            "linear",
            input_tensor_a=Pat.any("x"),
            input_tensor_b=Pat.any("w", where=weight_input),
            where=plain_mm,
        ),
        _horizontal,
    ),  # linear(x, w1), linear(x, w2), ... -> linear_split(x, concat_weights(w1, w2, ...))
]


# ----------------------------------------------------------------------------- (e) norm + residual add
def _norm_rules() -> list:
    from ttfuse.configs import LayerNormDefaultProgramConfig, MathFidelity, WormholeComputeKernelConfig
    from ttfuse.types import DRAM_MEMORY_CONFIG, TensorSpec

    spec = TensorSpec((32, 64), D.BFLOAT16, Layout.TILE, DRAM_MEMORY_CONFIG)
    vec = TensorSpec((64,), D.BFLOAT16, Layout.TILE, DRAM_MEMORY_CONFIG)
    scalars = {
        "eps": 1.2345e-7,
        "ckc": WormholeComputeKernelConfig(
            math_fidelity=MathFidelity.HiFi3,
            math_approx_mode=False,
            fp32_dest_acc_en=True,
            packer_l1_acc=True,
        ),
        "pc": LayerNormDefaultProgramConfig(),
    }

    def residual_ok(rw: Rewriter, m):
        add = next(n for n in m.nodes if n.op == "add")
        if not plain_binary(add):
            return Miss("the residual add uses non-default arguments")
        x, r = rw.spec(m.ref("arg0")), rw.spec(m.ref("arg1"))
        if x.shape != r.shape or add.outs[0].shape != x.shape:
            return Miss("the residual add broadcasts (residual_input_tensor must match the input's shape)")
        if add.outs[0].dtype != x.dtype:
            return Miss("the residual add changes the dtype")
        return True

    rules = []
    from ttfuse.ops import api as ttnn

    for op in ("layer_norm", "rms_norm"):
        for affine in ((), ("weight",), ("weight", "bias")):

            def search(x, r, *ws, eps, ckc, pc, _op=op, _affine=affine):
                kw = dict(zip(_affine, ws))
                return getattr(ttnn, _op)(
                    ttnn.add(x, r), epsilon=eps, compute_kernel_config=ckc, program_config=pc, **kw
                )

            def replace(x, r, *ws, eps, ckc, pc, _op=op, _affine=affine):
                kw = dict(zip(_affine, ws))
                return getattr(ttnn, _op)(
                    x,
                    residual_input_tensor=r,
                    epsilon=eps,
                    compute_kernel_config=ckc,
                    program_config=pc,
                    **kw,
                )

            examples = (spec, spec) + (vec,) * len(affine)
            rules.append(
                replacement(
                    search, replace, examples, scalars=scalars, extra_check=residual_ok, name=f"{op}_residual"
                )
            )  # norm(x + r) -> norm(x, residual_input_tensor=r)
    return rules


_RULES_NORM: list | None = None


def rules_norm() -> list:
    """The norm + residual rules (built on first use: they trace their search/replacement functions)."""
    global _RULES_NORM
    if _RULES_NORM is None:
        _RULES_NORM = _norm_rules()
    return _RULES_NORM


# ------------------------------------------------------------------- (e') group_norm + activation epilogue
# group_norm arguments the fused kernel takes over (others must keep their defaults: sharded programs, welford,
# row-major output and explicit grids stay with the stock op)
_GN_KEEP = ("num_groups", "epsilon", "input_mask", "weight", "bias", "memory_config", "compute_kernel_config")
_GN_DEFAULTS = {
    "core_grid": None,
    "output_layout": None,
    "num_out_blocks": None,
    "negative_mask": None,
    "use_welford": False,
}


def _gn_sum(rw: Rewriter, x: Ref):
    """(input, residual) when the group norm's input x = input + residual is an add the kernel can absorb (the
    operand with the sum's shape first), else (x, None)."""
    add = rw.node(x)
    if add is None or add.op != "add" or not plain_binary(add) or not no_acts(add) or not rw.single_use(add):
        return x, None
    a = rw.attrs(add)
    ta, tb = a["input_tensor_a"], a["input_tensor_b"]
    if not isinstance(ta, Ref) or not isinstance(tb, Ref):
        return x, None
    out = add.outs[0]
    if rw.spec(ta).shape != out.shape:
        ta, tb = tb, ta
    if rw.spec(ta).shape != out.shape or rw.spec(ta).dtype != out.dtype:
        return x, None
    return ta, tb


@named("group_norm_activation")
def _group_norm_activation(rw: Rewriter, m):
    root, gn = m.root, m.node("gn")
    act = unary_act(root)
    if act is None:
        return Miss(f"{root.op} runs in an approximate or non-default mode, or has no fused-activation form")
    if root.outs[0].dtype != gn.outs[0].dtype:
        return Miss("the activation changes the dtype")
    if gn.op == "kernels.group_norm_act":  # a second activation: appended to the epilogue
        a = rw.attrs(gn)
        a["activations"] = [*acts_list(a["activations"]), act]
        a["memory_config"] = root.attr("memory_config") or a["memory_config"]
        return rw.try_emit(gn.op, **a)
    a = rw.attrs(gn)
    for k, v in _GN_DEFAULTS.items():
        if a[k] != v:
            return Miss(f"group_norm's {k}={a[k]!r} is not handled by kernels.group_norm_act")
    x = a["input_tensor"]
    if rw.spec(x).memory_config.is_sharded():
        return Miss("the group_norm input is sharded (the fused kernel takes interleaved inputs)")
    x, residual = _gn_sum(rw, x)
    kw = {k: a[k] for k in _GN_KEEP}
    kw["memory_config"] = root.attr("memory_config") or kw["memory_config"]
    if kw["memory_config"] is None and rw.spec(x).memory_config != root.outs[0].memory_config:
        kw["memory_config"] = root.outs[0].memory_config  # the absorbed add placed the sum elsewhere
    return rw.try_emit("kernels.group_norm_act", input_tensor=x, residual=residual, activations=[act], **kw)


def rules_group_norm() -> list:
    """group_norm + activation epilogues (built per call, like rules_binary, over the ops with a fused form)."""
    return [
        (
            Pat(act_ops(), Pat("group_norm", name="gn", one_use=True)),
            _group_norm_activation,
        ),  # act(group_norm(x [+ r])) -> kernels.group_norm_act(x, residual=r, activations=[act])
        (
            Pat(act_ops(), Pat("kernels.group_norm_act", name="gn", one_use=True)),
            _group_norm_activation,
        ),  # act2(group_norm_act(x, [act1])) -> group_norm_act(x, [act1, act2])
    ]


# ---------------------------------------------------------------------------------------------- (f) SDPA
def _scalar(node, name):
    v = node.attr(name)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _scores(rw: Rewriter, s: Ref):
    """(qk matmul node, scale, mask ref, nodes) of softmax's input s = [QK^T * scale | / c] [+ mask], or why not."""
    nodes = []
    node = rw.node(s)
    mask = None
    if node is not None and node.op == "add" and plain_binary(node) and no_acts(node):
        a, b = rw.attrs(node)["input_tensor_a"], rw.attrs(node)["input_tensor_b"]
        for t, mref in ((a, b), (b, a)):
            tn = rw.node(t) if isinstance(t, Ref) else None
            if tn is not None and tn.op in ("multiply", "divide", "matmul") and isinstance(mref, Ref):
                nodes.append(node)
                mask = mref
                node = tn
                break
        else:
            return "the softmax input is an add without a scores operand and a mask tensor"
    scale = 1.0
    if node is not None and node.op in ("multiply", "divide") and plain_binary(node) and no_acts(node):
        c = _scalar(node, "input_tensor_b")
        if c is None and node.op == "multiply":
            c = _scalar(node, "input_tensor_a")
            src = rw.attrs(node)["input_tensor_b"]
        else:
            src = rw.attrs(node)["input_tensor_a"]
        if c is None or c == 0:
            return "the scores are scaled by a tensor, not a scalar"
        scale = c if node.op == "multiply" else 1.0 / c
        nodes.append(node)
        node = rw.node(src) if isinstance(src, Ref) else None
    if node is None or node.op != "matmul" or not plain_mm(node) or node.attr("activation") is not None:
        return "the softmax input is not a (scaled, masked) plain matmul of Q and K"
    nodes.append(node)
    if not all(rw.single_use(n) for n in nodes):
        return "the scores (or their scaled/masked forms) are used elsewhere"
    return node, scale, mask, nodes


@named("sdpa")
def _sdpa(rw: Rewriter, m):
    root, sm, v = m.root, m.node("sm"), m.ref("v")
    if not plain_mm(root) or root.attr("transpose_b") or root.attr("activation") is not None:
        return None
    if sm.attr("dim") not in (-1, 3):
        return Miss("softmax is not over the last dim")
    found = _scores(rw, rw.attrs(sm)["input_tensor"])
    if isinstance(found, str):
        return Miss(found)
    qk, scale, mask, _nodes = found
    a = rw.attrs(qk)
    q, k = a["input_tensor_a"], a["input_tensor_b"]
    if not a["transpose_b"]:
        kn = rw.node(k)
        rank = rw.spec(k).rank
        swap = tuple(range(rank - 2)) + (rank - 1, rank - 2)
        if kn is not None and kn.op == "permute" and tuple(d % rank for d in kn.attr("dims")) == swap:
            k = rw.attrs(kn)["input_tensor"]
        elif (
            kn is not None
            and kn.op == "transpose"
            and {kn.attr("dim1") % rank, kn.attr("dim2") % rank}
            == {
                rank - 1,
                rank - 2,
            }
        ):
            k = rw.attrs(kn)["input_tensor"]
        else:
            return Miss(
                "K is not transposed by the scores matmul (transpose_b) or a permute of its last dims"
            )
    qs, ks, vs = rw.spec(q), rw.spec(k), rw.spec(v)
    for name, s in (("q", qs), ("k", ks), ("v", vs)):
        if s.rank != 4 or s.dtype not in SDPA_DTYPES or s.layout is not Layout.TILE:
            return Miss(f"{name} {s} is not a rank-4 bfloat16/bfloat8_b/bfloat4_b tile tensor")
    out = root.outs[0]
    if out.dtype != qs.dtype:
        return Miss(f"the output dtype {out.dtype.value} differs from q's {qs.dtype.value} (SDPA writes q's)")
    if mask is not None:
        ms = rw.spec(mask)
        if ms.rank != 4:
            return Miss(f"the mask {ms} is not rank 4 [b|1, h|1, sq, sk]")
        if scale != 1.0:
            mask = rw.try_emit(
                "multiply",
                input_tensor_a=mask,
                input_tensor_b=1.0 / scale,
                dtype=ms.dtype if ms.dtype in SDPA_DTYPES else D.BFLOAT16,
                memory_config=_dram(),
                note="sdpa: mask pre-divided by the scale (TT scales the mask inside the exponent)",
            )
            if isinstance(mask, Miss):
                return mask
    return rw.try_emit(
        SDPA,
        input_tensor_q=q,
        input_tensor_k=k,
        input_tensor_v=v,
        attn_mask=mask,
        is_causal=False,
        scale=float(scale),
        memory_config=out.memory_config,
    )


def _dram():
    from ttfuse.types import DRAM_MEMORY_CONFIG

    return DRAM_MEMORY_CONFIG


rules_attention = [
    (
        Pat("matmul", Pat("softmax", name="sm", one_use=True), Pat.any("v")),
        _sdpa,
    ),  # softmax(QK^T * s + M) V -> SDPA(Q, K, V, attn_mask=M / s, scale=s, is_causal=False)
]


# -------------------------------------------------------------------------------------------------- pass
def fuse(graph: Graph, ctx) -> Graph:
    """The fuse pass (see the module docstring for the order and the post-conditions)."""
    import ttfuse.kernels  # noqa: F401  (registers the kernels the rules emit)
    from ttfuse.passes.fuse_blocks import rules_blocks
    from ttfuse.passes.fuse_eltwise import fuse_eltwise

    g = rewrite(graph, rules_blocks, ctx, table="fuse.blocks")
    g = rewrite(g, rules_attention, ctx, table="fuse.sdpa")
    g = rewrite(g, rules_norm(), ctx, table="fuse.norm")
    g = rewrite(g, rules_group_norm(), ctx, table="fuse.group_norm")
    g = rewrite(g, rules_linear, ctx, table="fuse.linear")
    g = rewrite(g, rules_conv(), ctx, table="fuse.conv")
    g = rewrite(g, rules_horizontal, ctx, table="fuse.horizontal")
    g = rewrite(g, rules_binary(), ctx, table="fuse.binary")
    g = fuse_eltwise(g, ctx)
    return dce(g, ctx)
