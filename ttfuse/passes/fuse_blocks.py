"""Block-kernel recognition: the `rules_blocks` table of the fuse pass (ttfuse/passes/fuse.py).

Each rule matches the root op of a block as model code writes it (models/boltz is the reference) and walks its
producers; every intermediate must have no other user, weights must be graph inputs (their concatenation is a
`kernels.concat_weights` node, computed once per set of weights), and the stock ops must use default program
configs (configs are chosen later). A rule whose structure matched but whose conditions fail returns a Miss with
the reason (coverage report). Blocks (ttfuse/kernels):
- transition:  linear(silu(linear(LN(x), W1)) * linear(LN(x), W2), W3)       -> kernels.transition
  (silu as a unary op, as linear(activation="silu") or as the multiply's operand activation)
- adaln:  LN(a) * sigmoid(linear(LN_w(s), W_scale, b)) + linear(LN_w(s), W_shift) -> kernels.adaln
- conditioned_transition: sigmoid(linear(s, W_o, b_o)) * linear(silu(a2 W_g) * (a2 W_x) * (a2 W_ab), W_ba)
  with a2 = kernels.adaln(a, s)                                              -> kernels.conditioned_transition
- triangle_mult: permute(matmul(slice(pg), slice(pg)^T), (0,2,3,1)), pg = permute(p * sigmoid(g)) [* mask]
  with p, g linears of the normalised pair tensor                            -> kernels.triangle_mult
- pair_bias_attention: linear(concat_heads(SDPA(split_heads(linear(s), linear(k_in)), bias)) * sigmoid(
  linear(s, W_g)), W_o), or the self form split_heads(linear(s, W_qkv))      -> kernels.pair_bias_attention
"""

from __future__ import annotations

from ttfuse.configs import UnaryOpType
from ttfuse.ir import Node, Ref
from ttfuse.ops.activations import normalize_activation, normalize_activations
from ttfuse.passes.predicates import no_acts, plain_binary, plain_mm, plain_unary
from ttfuse.passes.rewrite import Miss, Pat, Rewriter, named

CW = "kernels.concat_weights"


# ------------------------------------------------------------------------------------------------ helpers
def producer(rw: Rewriter, ref, ops) -> Node | None:
    if not isinstance(ref, Ref):
        return None
    n = rw.node(ref)
    if n is None or n.op not in ((ops,) if isinstance(ops, str) else ops):
        return None
    return n


def lin(rw: Rewriter, node: Node | None, *, bias_ok: bool = False, act_ok: bool = False) -> dict | None:
    """A plain linear's arguments (x, w, bias, ...) when its weight is a graph input, else None."""
    if node is None or node.op != "linear" or not plain_mm(node) or node.attr("transpose_b"):
        return None
    a = rw.attrs(node)
    if not rw.is_input(a["input_tensor_b"]):
        return None
    if a["bias"] is not None and (not bias_ok or not rw.is_input(a["bias"])):
        return None
    if a["activation"] is not None and not act_ok:
        return None
    a["node"] = node
    a["x"], a["w"] = a["input_tensor_a"], a["input_tensor_b"]
    return a


def act_is(v, op_type: UnaryOpType) -> bool:
    try:
        acts = normalize_activations("multiply", v, "activations")
    except Exception:  # noqa: BLE001 - an unknown activation: not this one
        return False
    return len(acts) == 1 and acts[0].op_type is op_type and not acts[0].params


def linear_act_is(node: Node, op_type: UnaryOpType) -> bool:
    try:
        a = normalize_activation("linear", node.attr("activation"))
    except Exception:  # noqa: BLE001
        return False
    return a is not None and a.op_type is op_type and not a.params


def gated_operands(rw: Rewriter, mul: Node, op_type: UnaryOpType, unary_op: str):
    """(gated ref, gate linear node, other ref) of mul = other * act(gate): the activation as the multiply's
    operand activation, as a unary node, or (for silu) as the gate linear's own activation."""
    if not plain_binary(mul) or mul.attr("activations"):
        return None
    a = rw.attrs(mul)
    names = [k for k, _ in mul.attrs][:2]
    ta, tb = a[names[0]], a[names[1]]
    acts = (a["input_tensor_a_activations"], a["input_tensor_b_activations"])
    for gate, other, gact, oact in ((ta, tb, acts[0], acts[1]), (tb, ta, acts[1], acts[0])):
        if not isinstance(gate, Ref) or not isinstance(other, Ref) or oact:
            continue
        gn = rw.node(gate)
        if gn is None:
            continue
        if gact:
            if act_is(gact, op_type) and gn.op == "linear" and gn.attr("activation") is None:
                return gate, gn, other
            continue
        if gn.op == unary_op and plain_unary(gn) and rw.single_use(gn):
            inner = producer(rw, rw.attrs(gn)["input_tensor"], "linear")
            if inner is not None and inner.attr("activation") is None:
                return gate, inner, other
        if gn.op == "linear" and linear_act_is(gn, op_type):
            return gate, gn, other
    return None


def gated_output(rw: Rewriter, root: Node, op_type: UnaryOpType, unary_op: str):
    """root = linear(act(gate) * other, W) with the multiply used once: (the linear's arguments (`lin`), the
    multiply, (gated ref, gate linear node, other ref)); None when the structure does not match."""
    out = lin(rw, root)
    if out is None:
        return None
    mul = producer(rw, out["x"], "multiply")
    if mul is None or not rw.single_use(mul):
        return None
    found = gated_operands(rw, mul, op_type, unary_op)
    if found is None:
        return None
    return out, mul, found


def users_are(rw: Rewriter, ref: Ref, nodes: list[Node]) -> bool:
    return not rw.is_output(ref) and {u.id for u in rw.users(ref)} == {n.id for n in nodes}


def plain_norm(node: Node | None, op: str = "layer_norm") -> bool:
    return (
        node is not None
        and node.op == op
        and node.attr("residual_input_tensor") is None
        and node.attr("program_config") is None
    )


def concat(rw: Rewriter, tensors, **kw):
    return rw.try_emit(CW, tensors=list(tensors), **kw)


def out_kw(root: Node) -> dict:
    """The block's output dtype, and the root's memory_config argument as written: None (placement left to
    ttfuse) lets place_memory put the kernel's output in L1 when it fits, as it does for stock ops."""
    return {"dtype": root.outs[0].dtype, "memory_config": root.attr("memory_config")}


# --------------------------------------------------------------------------------------------- transition
@named("transition")
def _transition(rw: Rewriter, m):
    root = m.root
    got = gated_output(rw, root, UnaryOpType.SILU, "silu")
    if got is None:
        return None
    fc3, mul, (_gate_ref, gate_node, up_ref) = got
    fc1 = lin(rw, gate_node, act_ok=True)
    fc2 = lin(rw, rw.node(up_ref))
    if fc1 is None or fc2 is None:
        return Miss("fc1/fc2 are not plain linears on weight inputs without bias")
    if not (rw.single_use(fc1["node"]) and rw.single_use(fc2["node"])) or fc1["x"] != fc2["x"]:
        return Miss("fc1 and fc2 do not read the same normalised input, or their results are used elsewhere")
    ln = producer(rw, fc1["x"], "layer_norm")
    if not plain_norm(ln) or not users_are(rw, fc1["x"], [fc1["node"], fc2["node"]]):
        return Miss("the input of fc1/fc2 is not a layer_norm used only by them")
    if rw.spec(fc1["w"]) != rw.spec(fc2["w"]):
        return Miss("fc1 and fc2 weights differ in shape or dtype")
    if (
        fc1["compute_kernel_config"] != fc2["compute_kernel_config"]
        or fc1["compute_kernel_config"] != fc3["compute_kernel_config"]
    ):
        return Miss("fc1/fc2/fc3 use different compute kernel configs")
    lna = rw.attrs(ln)
    x = lna["input_tensor"]
    w12 = concat(rw, [fc1["w"], fc2["w"]], mode="swiglu", dtype=rw.spec(x).dtype)
    if isinstance(w12, Miss):
        return w12
    return rw.try_emit(
        "kernels.transition",
        input_tensor=x,
        weight12=w12,
        weight3=fc3["w"],
        norm_weight=lna["weight"],
        norm_bias=lna["bias"],
        epsilon=lna["epsilon"],
        hidden_dtype=mul.outs[0].dtype,
        hidden_memory_config=mul.attr("memory_config"),  # as the code placed it; None: the passes decide
        compute_kernel_config=fc1["compute_kernel_config"],
        norm_compute_kernel_config=lna["compute_kernel_config"],
        **out_kw(root),
    )


# -------------------------------------------------------------------------------------------------- AdaLN
def _adaln_parts(rw: Rewriter, mul: Node, shift_node: Node):
    """The pieces of LN(a) * sigmoid(scale) + shift, or a reason string."""
    found = gated_operands(rw, mul, UnaryOpType.SIGMOID, "sigmoid")
    if found is None:
        return None
    _, scale_node, an_ref = found
    sc = lin(rw, scale_node, bias_ok=True)
    sh = lin(rw, shift_node)
    if sc is None or sh is None:
        return "scale/shift are not plain linears on weight inputs (shift without bias)"
    if sc["x"] != sh["x"] or not (rw.single_use(sc["node"]) and rw.single_use(sh["node"])):
        return "scale and shift do not read the same conditioning or are used elsewhere"
    ln_a = producer(rw, an_ref, "layer_norm")
    ln_s = producer(rw, sc["x"], "layer_norm")
    if not plain_norm(ln_a) or ln_a.attr("weight") is not None or ln_a.attr("bias") is not None:
        return "the modulated tensor is not a parameter-free layer_norm"
    if not rw.single_use(ln_a):
        return "LN(a) is used elsewhere"
    if (
        not plain_norm(ln_s)
        or ln_s.attr("bias") is not None
        or not users_are(rw, sc["x"], [sc["node"], sh["node"]])
    ):
        return "the conditioning is not LN(s) (weight only) used by scale and shift alone"
    if rw.spec(sc["w"]) != rw.spec(sh["w"]) or sc["compute_kernel_config"] != sh["compute_kernel_config"]:
        return "scale and shift weights or compute configs differ"
    return sc, sh, ln_a, ln_s


@named("adaln")
def _adaln(rw: Rewriter, m):
    root = m.root
    if not plain_binary(root) or not no_acts(root):
        return None
    parts = _adaln_parts(rw, m.node("mul"), m.node("shift"))
    if parts is None:
        return None
    if isinstance(parts, str):
        return Miss(parts)
    sc, sh, ln_a, ln_s = parts
    d = rw.spec(sc["w"]).shape[-1]
    w_ss = concat(rw, [sc["w"], sh["w"]])
    if isinstance(w_ss, Miss):
        return w_ss
    b_ss = None
    if sc["bias"] is not None:
        b_ss = concat(rw, [sc["bias"]], zero_widths=(d,))
        if isinstance(b_ss, Miss):
            return b_ss
    la, ls = rw.attrs(ln_a), rw.attrs(ln_s)
    return rw.try_emit(
        "kernels.adaln",
        input_tensor=la["input_tensor"],
        cond=ls["input_tensor"],
        weight_ss=w_ss,
        bias_ss=b_ss,
        cond_norm_weight=ls["weight"],
        epsilon=la["epsilon"],
        cond_epsilon=ls["epsilon"],
        compute_kernel_config=sc["compute_kernel_config"],
        norm_compute_kernel_config=la["compute_kernel_config"],
        **out_kw(root),
    )


# -------------------------------------------------------------------------------- ConditionedTransition
@named("conditioned_transition")
def _ctb(rw: Rewriter, m):
    root = m.root
    found = gated_operands(rw, root, UnaryOpType.SIGMOID, "sigmoid")
    if found is None:
        return None
    _, gate_node, ba_ref = found
    gate = lin(rw, gate_node, bias_ok=True)
    ba = lin(rw, rw.node(ba_ref))
    if gate is None or ba is None or not (rw.single_use(gate["node"]) and rw.single_use(ba["node"])):
        return None
    bmul = producer(rw, ba["x"], "multiply")
    if bmul is None or not rw.single_use(bmul) or not plain_binary(bmul) or not no_acts(bmul):
        return None
    bm = rw.attrs(bmul)
    for sw_ref, ab_ref in (
        (bm["input_tensor_a"], bm["input_tensor_b"]),
        (bm["input_tensor_b"], bm["input_tensor_a"]),
    ):
        sw = producer(rw, sw_ref, "multiply")
        ab = lin(rw, rw.node(ab_ref)) if isinstance(ab_ref, Ref) else None
        if sw is None or ab is None or not rw.single_use(sw):
            continue
        g = gated_operands(rw, sw, UnaryOpType.SILU, "silu")
        if g is None:
            continue
        _, gates_node, x_ref = g
        gl, xl = lin(rw, gates_node), lin(rw, rw.node(x_ref))
        if gl is None or xl is None:
            continue
        a2 = gl["x"]
        ada = producer(rw, a2, "kernels.adaln")
        if ada is None or xl["x"] != a2 or ab["x"] != a2:
            continue
        if not users_are(rw, a2, [gl["node"], xl["node"], ab["node"]]):
            return Miss("the AdaLN output is used outside the block")
        aa = rw.attrs(ada)
        if gate["x"] != aa["cond"]:
            return Miss("the output gate does not read the AdaLN conditioning")
        if len({str(c["compute_kernel_config"]) for c in (gate, ba, gl, xl, ab)}) != 1:
            return Miss("the block's linears use different compute kernel configs")
        w_gx = concat(rw, [gl["w"], xl["w"]], mode="swiglu", dtype=rw.spec(a2).dtype)
        if isinstance(w_gx, Miss):
            return w_gx
        return rw.try_emit(
            "kernels.conditioned_transition",
            input_tensor=aa["input_tensor"],
            cond=aa["cond"],
            weight_ss=aa["weight_ss"],
            weight_gx=w_gx,
            weight_ab=ab["w"],
            weight_ba=ba["w"],
            weight_o=gate["w"],
            bias_ss=aa["bias_ss"],
            cond_norm_weight=aa["cond_norm_weight"],
            bias_o=gate["bias"],
            epsilon=aa["epsilon"],
            cond_epsilon=aa["cond_epsilon"],
            compute_kernel_config=gl["compute_kernel_config"],
            norm_compute_kernel_config=aa["norm_compute_kernel_config"],
            **out_kw(root),
        )
    return None


# ---------------------------------------------------------------------------------------- triangle mult
def _slice_bounds(node: Node):
    if node is None or node.op != "slice" or node.attr("slice_step") is not None:
        return None
    return tuple(node.attr("slice_start")), tuple(node.attr("slice_end"))


@named("triangle_mult")
def _trimul(rw: Rewriter, m):
    root = m.root
    mm = m.node("mm")
    if (
        mm.attr("program_config") is not None
        or mm.attr("core_grid") is not None
        or mm.attr("activation") is not None
        or bool(mm.attr("transpose_a")) == bool(mm.attr("transpose_b"))
    ):
        return None
    outgoing = bool(mm.attr("transpose_b"))
    a = rw.attrs(mm)
    sa, sc = rw.node(a["input_tensor_a"]), rw.node(a["input_tensor_b"])
    ba, bc = _slice_bounds(sa), _slice_bounds(sc)
    if ba is None or bc is None or sa.inputs[0] != sc.inputs[0]:
        return None
    pg_ref = sa.inputs[0]
    if not users_are(rw, pg_ref, [sa, sc]) or rw.single_use(sa) is False or rw.single_use(sc) is False:
        return Miss("the gated projections are used outside the triangle product")
    pg = rw.node(pg_ref)
    mask = None
    if pg is not None and pg.op == "multiply":
        if not (plain_binary(pg) and no_acts(pg)):
            return None
        pa = rw.attrs(pg)
        for pp_ref, m_ref in (
            (pa["input_tensor_a"], pa["input_tensor_b"]),
            (pa["input_tensor_b"], pa["input_tensor_a"]),
        ):
            rs = producer(rw, m_ref, "reshape")
            if producer(rw, pp_ref, "permute") is not None and rs is not None:
                mask = rw.attrs(rs)["input_tensor"]
                pg = rw.node(pp_ref)
                break
        else:
            return Miss("the pair mask is not a reshape of a [B, N, N] mask")
    if pg is None or pg.op != "permute" or tuple(pg.attr("dims")) != (0, 3, 1, 2) or not rw.single_use(pg):
        return None
    gated = producer(rw, rw.attrs(pg)["input_tensor"], "multiply")
    if gated is None or not rw.single_use(gated):
        return None
    found = gated_operands(rw, gated, UnaryOpType.SIGMOID, "sigmoid")
    if found is None:
        return None
    _, g_node, p_ref = found
    gl, pl = lin(rw, g_node), lin(rw, rw.node(p_ref))
    if (
        gl is None
        or pl is None
        or gl["x"] != pl["x"]
        or not (rw.single_use(gl["node"]) and rw.single_use(pl["node"]))
    ):
        return Miss("the projections are not plain linears of one input on weight inputs")
    ws = rw.spec(pl["w"])
    if ws != rw.spec(gl["w"]) or ws.shape[-1] % 2:
        return Miss("the p and g projection weights differ or have an odd width")
    d = ws.shape[-1] // 2
    xs = rw.spec(pl["x"])
    b, n = xs.shape[0], xs.shape[1]
    if ba != ((0, 0, 0, 0), (b, d, n, n)) or bc != ((0, d, 0, 0), (b, 2 * d, n, n)):
        return Miss("the slices are not the two channel halves of the gated projection")
    if mask is not None and tuple(rw.spec(mask).shape) != (b, n, n):
        return Miss("the mask is not [B, N, N]")
    w_pg = concat(rw, [pl["w"], gl["w"]])
    if isinstance(w_pg, Miss):
        return w_pg
    return rw.try_emit(
        "kernels.triangle_mult",
        input_tensor=pl["x"],
        weight_pg=w_pg,
        mask=mask,
        outgoing=outgoing,
        proj_dtype=gated.outs[0].dtype,
        dtype=mm.outs[0].dtype,
        memory_config=root.attr("memory_config"),
        compute_kernel_config=pl["compute_kernel_config"],
    )


# ----------------------------------------------------------------------------------- pair-bias attention
SDPA = "transformer.scaled_dot_product_attention"
SPLIT = "transformer.split_query_key_value_and_split_heads"


@named("pair_bias_attention")
def _apb(rw: Rewriter, m):
    root = m.root
    got = gated_output(rw, root, UnaryOpType.SIGMOID, "sigmoid")
    if got is None:
        return None
    out, gmul, (_, g_node, ch_ref) = got
    ch = producer(rw, ch_ref, "transformer.concatenate_heads")
    if ch is None or not rw.single_use(ch):
        return None
    sd = producer(rw, ch.inputs[0], SDPA)
    if sd is None or not rw.single_use(sd):
        return None
    sa = rw.attrs(sd)
    if (
        sa["is_causal"]
        or sa["sliding_window_size"]
        or sa["attention_sink"] is not None
        or sa["program_config"]
    ):
        return Miss("the SDPA is causal, windowed or configured")
    if (
        sa["cu_window_seqlens"] is not None
        or sa["output_concat_heads"]
        or sa["attn_mask_block_map"] is not None
    ):
        return Miss("the SDPA uses a windowed or block-map mode")
    qh, kh, vh = sa["input_tensor_q"], sa["input_tensor_k"], sa["input_tensor_v"]
    split = producer(rw, qh, SPLIT)
    if split is None or (kh.node, vh.node) != (split.id, split.id) or (qh.out, kh.out, vh.out) != (0, 1, 2):
        return None
    spa = rw.attrs(split)
    if spa["transpose_key"] or spa["num_kv_heads"] is not None or not rw.single_use(split):
        return Miss("the head split transposes K, uses GQA heads or is used elsewhere")
    ql = lin(rw, rw.node(spa["input_tensor"]), bias_ok=True) if spa["input_tensor"] is not None else None
    self_form = spa["kv_input_tensor"] is None  # q|k|v from one linear (triangle attention)
    kvl = None if self_form else lin(rw, rw.node(spa["kv_input_tensor"]))
    gl = lin(rw, g_node)
    if ql is None or gl is None or (kvl is None and not self_form):
        return Miss("q, k|v and the gate are not plain linears on weight inputs")
    lins = [c for c in (ql, kvl, gl) if c is not None]
    if ql["x"] != gl["x"] or not all(rw.single_use(c["node"]) for c in lins):
        return Miss("q and the gate do not read the same input or are used elsewhere")
    qw, gw = rw.spec(ql["w"]), rw.spec(gl["w"])
    if (
        qw.dtype != gw.dtype
        or qw.shape[:-1] != gw.shape[:-1]
        or qw.shape[-1] != (3 if self_form else 1) * gw.shape[-1]
    ):
        return Miss("the q (q|k|v) and gate weights do not match")
    if len({str(c["compute_kernel_config"]) for c in (*lins, out)}) != 1:
        return Miss("the block's linears use different compute kernel configs")
    w_qg = concat(rw, [ql["w"], gl["w"]])
    if isinstance(w_qg, Miss):
        return w_qg
    b_qg = None
    if ql["bias"] is not None:
        b_qg = concat(rw, [ql["bias"]], zero_widths=(gw.shape[-1],))
        if isinstance(b_qg, Miss):
            return b_qg
    return rw.try_emit(
        "kernels.pair_bias_attention",
        input_tensor=ql["x"],
        kv_input_tensor=None if self_form else kvl["x"],
        weight_qg=w_qg,
        weight_kv=None if self_form else kvl["w"],
        weight_o=out["w"],
        attn_mask=sa["attn_mask"],
        bias_qg=b_qg,
        num_heads=spa["num_heads"],
        scale=sa["scale"],
        compute_kernel_config=ql["compute_kernel_config"],
        **out_kw(root),
    )


rules_blocks = [
    (Pat("linear"), _transition),  # linear(silu(lin(LN x)) * lin(LN x)) -> transition(x)
    (
        Pat(
            "add",
            Pat("multiply", name="mul", one_use=True),
            Pat("linear", name="shift", one_use=True),
            commute=True,
        ),
        _adaln,
    ),  # LN(a) * sigmoid(lin(LN s)) + lin(LN s) -> adaln(a, s)
    (
        Pat("multiply"),
        _ctb,
    ),  # sigmoid(lin s) * lin(swiglu(adaln) * lin adaln) -> conditioned_transition(a, s)
    (
        Pat("permute", Pat("matmul", name="mm", one_use=True), dims=lambda d: tuple(d) == (0, 2, 3, 1)),
        _trimul,
    ),  # permute(slice(pg) @ slice(pg)^T) -> triangle_mult(x)
    (Pat("linear"), _apb),  # linear(heads(SDPA(heads(lin s), bias)) * sigmoid(lin s)) -> pair_bias_attention
]
