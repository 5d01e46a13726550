"""The benchmark cases of `ttfuse bench` (bench/harness.py): fused chains, a Transition block, the model ports.

A `Case` names a block, its sizes (`quick` and `full`), a target speedup where the issue sets one, and a
builder `build(size, device) -> Built`. `Built` holds the eager callable, the JIT callable, the PyTorch
float32 reference (or None) and the inputs (`Inputs(tt=..., torch=...)`): the harness calls
`eager(*inputs.tt)`, `jit(*inputs.tt)` and `reference(*inputs.torch)`. With `device=None` the builder
returns only the reference and its torch inputs (the torch.compile child process needs nothing else).

Invariants:
- The eager and JIT callables run the SAME TTNN code; JIT goes through `ttfuse.jit` (directly, or through a
  model port built with `jit=True`). Inputs are uploaded once by the builder: timings exclude host transfer.
- Inputs are bfloat16-exact (`_bf16_randn`), so the plain cases' references see exactly the values the
  device sees; PCC then measures compute error only. Model ports compare with their float32 modules.
- Model cases are registered with a `requires` check: a case whose port (or reference package) does not
  import is listed as unavailable with the reason and never breaks the sweep.

Extend: write `def build_x(size, device) -> Built` (plain TTNN through `from ttfuse import ttnn`) and add
`register(Case("group.name", build_x, quick=(...), full=(...), ...))` below. Names are `group.Name`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.testing import redraw_parameters

__all__ = ["Case", "Built", "Inputs", "CASES", "PENDING", "register", "select", "outputs_to_torch"]


class Inputs(NamedTuple):
    tt: tuple  # device tensors (and static values) for eager(*tt) / jit(*tt)
    torch: tuple  # torch float32 tensors for reference(*torch)


@dataclass
class Built:
    eager: Callable[..., Any] | None
    jit: Callable[..., Any] | None
    reference: Callable[..., Any] | None
    inputs: Inputs
    # output (pytree of ttnn / torch tensors) -> list of float32 torch tensors in reference order
    to_torch: Callable[[Any], list[torch.Tensor]] | None = None
    keep: Any = None  # objects the callables need alive (ports, weights)
    device: Any = None  # the (mesh) device the callables run on, when not the one the harness passed


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[int, Any], Built]
    quick: tuple[int, ...]
    full: tuple[int, ...]
    size_label: str = "rows"
    description: str = ""
    torch_compile_quick: bool = False  # also run torch.compile in --quick (the outside anchor)
    requires: Callable[[], str | None] | None = None  # why the case cannot run here, or None
    tags: tuple[str, ...] = field(default=())
    # predicted device time of the case's hand-tuned TTNN version: (size, arch, path of the hand-tuned code) ->
    # {handtuned_us, handtuned_untraced_us, handtuned_jit_us, handtuned_jit_untraced_us} (bench/harness.py)
    handtuned: Callable[[int, str, str], dict] | None = None

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    def unavailable(self) -> str | None:
        if self.requires is None:
            return None
        try:
            return self.requires()
        except Exception as e:  # noqa: BLE001 - a broken port is a reason, not a crash
            return f"{type(e).__name__}: {e}"

    def sizes(self, full: bool) -> tuple[int, ...]:
        return self.full if full else self.quick


CASES: dict[str, Case] = {}


def register(case: Case) -> Case:
    if case.name in CASES:
        raise ValueError(f"bench case {case.name!r} registered twice")
    CASES[case.name] = case
    return case


def select(patterns: list[str] | tuple[str, ...] | None, cases: dict[str, Case] | None = None) -> list[Case]:
    """Cases matching any pattern: exact name, glob (`boltz.*`) or case-insensitive substring."""
    import fnmatch

    pool = CASES if cases is None else cases
    if not patterns:
        return list(pool.values())
    out, missing = [], []
    for pat in patterns:
        p = pat.lower()
        hits = [
            c
            for c in pool.values()
            if c.name.lower() == p
            or (fnmatch.fnmatch(c.name.lower(), p) if any(ch in p for ch in "*?[") else p in c.name.lower())
        ]
        if not hits:
            missing.append(pat)
        out += [c for c in hits if c not in out]
    if missing:
        raise KeyError(f"no bench case matches {missing}; known: {', '.join(pool)}")
    return out


# ------------------------------------------------------------------------------------------------ helpers
def outputs_to_torch(out: Any) -> list[torch.Tensor]:
    """Leaves of an output pytree (tuple/list/dict of ttnn or torch tensors) as float32 torch tensors."""
    if isinstance(out, dict):
        return [t for k in out for t in outputs_to_torch(out[k])]
    if isinstance(out, tuple | list):
        return [t for x in out for t in outputs_to_torch(x)]
    if isinstance(out, torch.Tensor):
        return [out.detach().float()]
    if isinstance(out, ttnn.Tensor):
        return [ttnn.to_torch(out).float()]
    return []


def _bf16_randn(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return (scale * torch.randn(*shape, generator=gen)).to(torch.bfloat16).float()


def _up(t: torch.Tensor, device) -> ttnn.Tensor:
    return ttnn.from_torch(t, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


def _plain(fn: Callable, ref: Callable, tensors: list[torch.Tensor], device) -> Built:
    """A plain-TTNN case: `fn(*device tensors)` eager and under a fresh `ttfuse.jit`, `ref(*torch tensors)`."""
    if device is None:
        return Built(None, None, ref, Inputs((), tuple(tensors)))
    tt = tuple(_up(t, device) for t in tensors)
    return Built(fn, ttfuse.jit(fn), ref, Inputs(tt, tuple(tensors)))


# ------------------------------------------------------------------------------------- plain TTNN chains
def silu_mul_add(x, g, r):
    return ttnn.add(ttnn.multiply(ttnn.silu(x), g), r)


def build_silu_mul_add(size: int, device) -> Built:
    gen = torch.Generator().manual_seed(1)
    ts = [_bf16_randn(size, 1024, gen=gen) for _ in range(3)]
    return _plain(silu_mul_add, lambda x, g, r: torch.nn.functional.silu(x) * g + r, ts, device)


def linear_bias_gelu(x, w, b):
    return ttnn.gelu(ttnn.add(ttnn.linear(x, w), b))


def build_linear_bias_gelu(size: int, device) -> Built:
    gen = torch.Generator().manual_seed(2)
    ts = [
        _bf16_randn(size, 512, gen=gen),
        _bf16_randn(512, 1024, gen=gen, scale=1 / math.sqrt(512)),
        _bf16_randn(1, 1024, gen=gen, scale=0.1),
    ]
    return _plain(linear_bias_gelu, lambda x, w, b: torch.nn.functional.gelu(x @ w + b), ts, device)


def layernorm_residual(x, r, w, b):
    return ttnn.layer_norm(ttnn.add(x, r), epsilon=1e-5, weight=w, bias=b)


def build_layernorm_residual(size: int, device) -> Built:
    gen = torch.Generator().manual_seed(3)
    ts = [
        _bf16_randn(size, 1024, gen=gen),
        _bf16_randn(size, 1024, gen=gen),
        1 + _bf16_randn(1, 1024, gen=gen, scale=0.1),
        _bf16_randn(1, 1024, gen=gen, scale=0.1),
    ]
    ts[2] = ts[2].to(torch.bfloat16).float()

    def ref(x, r, w, b):
        return torch.nn.functional.layer_norm(x + r, (x.shape[-1],), w[0], b[0], eps=1e-5)

    return _plain(layernorm_residual, ref, ts, device)


def transition_block(x, ln_w, ln_b, w1, w2, w3):
    """The Boltz Transition written plainly: LN -> linear(silu) * linear -> linear."""
    h = ttnn.layer_norm(x, epsilon=1e-5, weight=ln_w, bias=ln_b)
    a = ttnn.linear(h, w1, activation="silu")
    b = ttnn.linear(h, w2)
    return ttnn.linear(ttnn.multiply(a, b), w3)


def build_transition_block(size: int, device) -> Built:
    d, hidden = 128, 512
    gen = torch.Generator().manual_seed(4)
    ts = [
        _bf16_randn(size, d, gen=gen),
        (1 + 0.1 * torch.randn(1, d, generator=gen)).to(torch.bfloat16).float(),
        _bf16_randn(1, d, gen=gen, scale=0.1),
        _bf16_randn(d, hidden, gen=gen, scale=1 / math.sqrt(d)),
        _bf16_randn(d, hidden, gen=gen, scale=1 / math.sqrt(d)),
        _bf16_randn(hidden, d, gen=gen, scale=1 / math.sqrt(hidden)),
    ]

    def ref(x, ln_w, ln_b, w1, w2, w3):
        h = torch.nn.functional.layer_norm(x, (d,), ln_w[0], ln_b[0], eps=1e-5)
        return (torch.nn.functional.silu(h @ w1) * (h @ w2)) @ w3

    return _plain(transition_block, ref, ts, device)


register(
    Case(
        "chain.silu_mul_add",
        build_silu_mul_add,
        (512,),
        (512, 2048),
        "rows x 1024",
        "silu(x) * g + r: three eltwise ops",
    )
)
register(
    Case(
        "chain.linear_bias_gelu",
        build_linear_bias_gelu,
        (512,),
        (512, 2048),
        "rows, 512->1024",
        "gelu(linear(x, w) + b): matmul epilogue",
    )
)
register(
    Case(
        "chain.layernorm_residual",
        build_layernorm_residual,
        (512,),
        (512, 2048),
        "rows x 1024",
        "layer_norm(x + r): residual into the norm",
    )
)
register(
    Case(
        "block.transition",
        build_transition_block,
        (1024,),
        (1024, 4096),
        "rows, 128->512->128",
        "Transition in plain TTNN: LN -> linear(silu) * linear -> linear",
    )
)


# ------------------------------------------------------------------------------------------------- Boltz
def _needs(module: str, *names: str, package: str | None = None) -> Callable[[], str | None]:
    def check() -> str | None:
        if package and importlib.util.find_spec(package) is None:
            return f"the reference package {package!r} is not installed"
        try:
            mod = importlib.import_module(module)
        except Exception as e:  # noqa: BLE001
            return f"{module} does not import ({type(e).__name__}: {e})"
        missing = [n for n in names if not hasattr(mod, n)]
        return f"{module} has no {', '.join(missing)} yet" if missing else None

    return check


C_Z, C_S = 128, 384


def _boltz(port_name: str, make_ref: Callable[[], torch.nn.Module], seed: int, make_inputs, call_ref):
    """Builder of a Boltz port case: reference module (re-drawn), eager and JIT ports, uploaded inputs."""

    def build(size: int, device) -> Built:
        ref = redraw_parameters(make_ref(), seed)
        torch_in = make_inputs(size)

        def reference(*xs):
            with torch.no_grad():
                return call_ref(ref, *xs)

        if device is None:
            return Built(None, None, reference, Inputs((), torch_in), keep=ref)
        import models.boltz as mb
        from models.boltz.common import to_tt

        cls = getattr(mb, port_name)
        eager, jit = cls.from_torch(ref, device, jit=False), cls.from_torch(ref, device, jit=True)
        tt = tuple(to_tt(x, device) for x in torch_in)
        return Built(
            eager.forward_ttnn, jit.forward_ttnn, reference, Inputs(tt, torch_in), keep=(ref, eager, jit)
        )

    return build


def _pair(n: int, seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, n, n, C_Z, generator=g), torch.ones(1, n, n))


def _single(n: int, seed: int = 0, dim: int = C_S) -> torch.Tensor:
    return torch.randn(1, n, dim, generator=torch.Generator().manual_seed(seed))


def _ref(module: str, cls: str, *args, **kwargs) -> Callable[[], torch.nn.Module]:
    return lambda: getattr(importlib.import_module(module), cls)(*args, **kwargs)


_B = "boltz.model"
_boltz_cases = [
    # name, port class, reference factory, seed, inputs(n), reference call, quick, full, anchor
    (
        "Transition",
        _ref(f"{_B}.layers.transition", "Transition", C_Z, 4 * C_Z),
        4,
        lambda n: (_pair(n)[0],),
        lambda r, x: r(x),
        (32,),
        (32, 64, 128),
        True,
    ),
    (
        "AdaLN",
        _ref(f"{_B}.modules.transformersv2", "AdaLN", C_S, C_S),
        5,
        lambda n: (_single(n, 1), _single(n, 2)),
        lambda r, a, s: r(a, s),
        (32,),
        (32, 128, 512),
        False,
    ),
    (
        "TriangleMultiplicationOutgoing",
        _ref(f"{_B}.layers.triangular_mult", "TriangleMultiplicationOutgoing", C_Z),
        1,
        lambda n: _pair(n),
        lambda r, z, m: r(z, mask=m),
        (32,),
        (32, 64, 128),
        False,
    ),
    (
        "TriangleAttentionStartingNode",
        _ref(
            f"{_B}.layers.triangular_attention.attention",
            "TriangleAttentionStartingNode",
            C_Z,
            32,
            4,
            inf=1e9,
        ),
        2,
        lambda n: _pair(n),
        lambda r, z, m: r(z, mask=m),
        (32,),
        (32, 64),
        False,
    ),
    (
        "AttentionPairBias",
        _ref(f"{_B}.layers.attentionv2", "AttentionPairBias", C_S, C_Z, 16),
        3,
        lambda n: (_single(n, 3), _pair(n)[0], torch.ones(1, n), _single(n, 3)),
        lambda r, s, z, m, k: r(s=s, z=z, mask=m, k_in=k),
        (32,),
        (32, 64, 128),
        False,
    ),
    (
        "PairformerLayer",
        _ref(f"{_B}.layers.pairformer", "PairformerLayer", C_S, C_Z, 16, dropout=0.0, v2=True),
        21,
        lambda n: (_single(n, 4), _pair(n)[0], torch.ones(1, n), torch.ones(1, n, n)),
        lambda r, s, z, m, pm: r(s, z, m, pm),
        (32,),
        (32, 64),
        False,
    ),
]


def _handtuned_pairformer(size: int, arch: str, path: str) -> dict:
    """bench/handtuned.py at N = size on `arch`: the hand-tuned PairformerLayer of `path` (tt-boltz's
    tenstorrent.py or the stand-in) op for op, and the port under ttfuse.jit in its dtypes; predicted us."""
    from bench.handtuned import measure

    (r,) = measure(path, (size,), (arch,))
    return {
        "handtuned_us": r.hand.traced_ms * 1e3,
        "handtuned_untraced_us": r.hand.untraced_ms * 1e3,
        "handtuned_jit_us": r.jit.traced_ms * 1e3,
        "handtuned_jit_untraced_us": r.jit.untraced_ms * 1e3,
        "handtuned_port_dtype": r.port_dtype,
    }


_HANDTUNED = {"PairformerLayer": _handtuned_pairformer}
for _name, _mk, _seed, _inp, _call, _quick, _full, _anchor in _boltz_cases:
    register(
        Case(
            f"boltz.{_name}",
            _boltz(_name, _mk, _seed, _inp, _call),
            _quick,
            _full,
            "N tokens",
            f"models.boltz.{_name} vs boltz 2.2.1",
            torch_compile_quick=_anchor,
            requires=_needs("models.boltz", _name, package="boltz"),
            handtuned=_HANDTUNED.get(_name),
        )
    )


# ------------------------------------------------------------------------------------------------- SD3.5
def _sd35(sp: int) -> Callable[[int, Any], Built]:
    """diffusers JointTransformerBlock (dim 128, 2 heads x 64, qk rms_norm) at `size` image tokens and 32 prompt
    tokens vs the port `models.sd35.JointTransformerBlock` (forward_ttnn on uploaded mesh tensors). sp > 1 runs
    on its own 1 x sp mesh of the same kind, sequence parallel: attention is the fused ring joint attention."""

    def build(size: int, device) -> Built:
        from diffusers.models.attention import JointTransformerBlock as Ref

        ref = redraw_parameters(
            Ref(
                dim=128,
                num_attention_heads=2,
                attention_head_dim=64,
                context_pre_only=False,
                qk_norm="rms_norm",
            ),
            31,
        )
        g = torch.Generator().manual_seed(32)
        torch_in = (
            torch.randn(1, size, 128, generator=g),
            torch.randn(1, 32, 128, generator=g),
            torch.randn(1, 128, generator=g),
        )

        def reference(x, c, temb):
            with torch.no_grad():
                return ref(hidden_states=x, encoder_hidden_states=c, temb=temb)  # (prompt out, spatial out)

        if device is None:
            return Built(None, None, reference, Inputs((), torch_in), keep=ref)
        from models.sd35 import DiTParallelConfig, JointTransformerBlock
        from models.sd35.common import upload

        mesh, par = device, None
        if sp > 1:
            mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, sp), arch=device.spec.name)
            par = DiTParallelConfig(sequence_parallel=(sp, 1), tensor_parallel=(1, 0))
        eager = JointTransformerBlock.from_torch(ref, mesh, par, jit=False)
        jit = JointTransformerBlock.from_torch(ref, mesh, par, jit=True)
        lay = eager.layout
        x, c, temb = torch_in
        tt = (
            upload(x, lay, sp_dim=1, tp_dim=2),
            upload(c, lay, tp_dim=2),
            upload(torch.nn.functional.silu(temb).reshape(1, 1, -1), lay),
        )

        def to_torch(out) -> list[torch.Tensor]:
            c_out, x_out = out
            return [lay.to_torch(c_out, tp_dim=2).float(), lay.to_torch(x_out, sp_dim=1, tp_dim=2).float()]

        return Built(
            eager.forward_ttnn,
            jit.forward_ttnn,
            reference,
            Inputs(tt, torch_in),
            to_torch=to_torch,
            keep=(ref, eager, jit),
            device=mesh,
        )

    return build


_sd35_needs = _needs("models.sd35", "JointTransformerBlock", "DiTParallelConfig", package="diffusers")
register(
    Case(
        "sd35.JointTransformerBlock",
        _sd35(1),
        (128,),
        (128, 512),
        "image tokens",
        "models.sd35.JointTransformerBlock vs diffusers (dim 128, 2 heads)",
        requires=_sd35_needs,
    )
)
register(
    Case(
        "sd35.RingAttention",
        _sd35(2),
        (128,),
        (128, 512),
        "image tokens",
        "the same block sequence parallel on a 1x2 mesh: ring joint attention",
        requires=_sd35_needs,
    )
)


# ------------------------------------------------------------------------------------------------- SD1.4
def _sd14(
    make_ref, make_inputs, call_ref, port_name: str, to_device, call_port, to_host
) -> Callable[[int, Any], Built]:
    """Builder of an SD1.4 UNet block case (issue 21): the diffusers module (tiny, every parameter re-drawn) in
    float32 on `size` x `size` latents vs its port `models.sd14.<port_name>` (forward_ttnn on uploaded inputs).

    make_inputs(size) -> torch inputs; call_ref(ref, *torch inputs); to_device(port, torch inputs, device) -> ttnn
    inputs; call_port(port, *ttnn inputs, hw=) -> output; to_host(output, hw) -> torch tensors in reference order.
    The eager port runs once here: its 3x3 convs' weights are prepared on first use per input geometry
    (`prepare_conv_weights`, as tt-metal's SD ports do at load), work the block's launches must not count."""

    def build(size: int, device) -> Built:
        ref = make_ref()
        torch_in = make_inputs(size)

        def reference(*xs):
            with torch.no_grad():
                return call_ref(ref, *xs)

        if device is None:
            return Built(None, None, reference, Inputs((), torch_in), keep=ref)
        import models.sd14 as sd

        cls = getattr(sd, port_name)
        eager, jit = cls.from_torch(ref, device, jit=False), cls.from_torch(ref, device, jit=True)
        hw = (size, size)
        tt = to_device(eager, torch_in, device)
        call_port(eager, *tt, hw=hw)  # one-time conv weight preparation, outside the measured calls
        return Built(
            lambda *xs: call_port(eager, *xs, hw=hw),
            lambda *xs: call_port(jit, *xs, hw=hw),
            reference,
            Inputs(tt, torch_in),
            to_torch=lambda out: to_host(out, hw),
            keep=(ref, eager, jit),
        )

    return build


def _sd14_randn(seed: int, *shapes: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, generator=g) for s in shapes)


def _sd14_up(port, xs, device) -> tuple:
    """Torch inputs on the device: [B, C, H, W] as [B, 1, HW, C]; a temb [B, T] as [B, 1, 1, T]; others as they are."""
    from models.sd14.common import upload
    from models.sd14.transformer2d import nchw_to_tt

    return tuple(
        nchw_to_tt(x, device)
        if x.dim() == 4
        else upload(x.reshape(x.shape[0], 1, 1, -1) if x.dim() == 2 else x, device)
        for x in xs
    )


def _sd14_nchw(out, hw) -> list[torch.Tensor]:
    """A block's output on the host: a [B, 1, HW, C] tensor; (h, hw) of an up block; (h, hw, [(skip, hw)]) of a down
    block (its skips after h, diffusers' (hidden_states, output_states) order)."""
    from models.sd14.transformer2d import tt_to_nchw

    if not isinstance(out, tuple):
        return [tt_to_nchw(out, *hw)]
    h, h_hw, *skips = out
    return [tt_to_nchw(h, *h_hw)] + [tt_to_nchw(t, *t_hw) for t, t_hw in (skips[0] if skips else [])]


def _diffusers(module: str, cls: str, seed: int, **kwargs) -> Callable[[], torch.nn.Module]:
    return lambda: redraw_parameters(getattr(importlib.import_module(module), cls)(**kwargs), seed)


def _sd14_unet_inputs(port, xs, device) -> tuple:
    from models.sd14.common import upload
    from models.sd14.transformer2d import nchw_to_tt

    x, t, ctx = xs
    b = x.shape[0]
    return (
        nchw_to_tt(x, device),
        upload(port.time_features(int(t), b).reshape(b, 1, 1, -1), device),
        upload(ctx, device),
    )


_SD14_CTX = 32  # models/sd14/tiny.py TEXT_DIM: the cross-attention width of every block case
_UNET_BLOCKS = "diffusers.models.unets.unet_2d_blocks"
_sd14_cases = [
    # name, reference factory, inputs(size), reference call, port call, to_device, description
    (
        "ResnetBlock2D",
        _diffusers(
            "diffusers.models.resnet",
            "ResnetBlock2D",
            41,
            in_channels=64,
            out_channels=96,
            temb_channels=128,
            groups=32,
        ),
        lambda n: _sd14_randn(42, (1, 64, n, n), (1, 128)),
        lambda r, x, t: r(x, t),
        lambda p, x, t, hw: p.forward_ttnn(x, t, hw=hw),
        _sd14_up,
        "64 -> 96 channels, temb 128: group_norm, silu, 3x3 conv2d x2, 1x1 shortcut",
    ),
    (
        "Transformer2DModel",
        _diffusers(
            "diffusers.models.transformers.transformer_2d",
            "Transformer2DModel",
            43,
            num_attention_heads=2,
            attention_head_dim=32,
            in_channels=64,
            cross_attention_dim=_SD14_CTX,
            norm_num_groups=32,
        ),
        lambda n: _sd14_randn(44, (1, 64, n, n), (1, 77, _SD14_CTX)),
        lambda r, x, c: r(x, encoder_hidden_states=c).sample,
        lambda p, x, c, hw: p.forward_ttnn(x, c),
        _sd14_up,
        "C 64, 2 heads, text 77 x 32: self + cross attention, GEGLU",
    ),
    (
        "CrossAttnDownBlock2D",
        _diffusers(
            _UNET_BLOCKS,
            "CrossAttnDownBlock2D",
            45,
            in_channels=32,
            out_channels=64,
            temb_channels=128,
            num_layers=1,
            resnet_groups=32,
            num_attention_heads=2,
            cross_attention_dim=_SD14_CTX,
        ),
        lambda n: _sd14_randn(46, (1, 32, n, n), (1, 128), (1, 77, _SD14_CTX)),
        lambda r, x, t, c: r(x, t, encoder_hidden_states=c),
        lambda p, x, t, c, hw: p.forward_ttnn(x, t, c, hw=hw),
        _sd14_up,
        "32 -> 64 channels: resnet, transformer, downsample (output and skips)",
    ),
    (
        "CrossAttnUpBlock2D",
        _diffusers(
            _UNET_BLOCKS,
            "CrossAttnUpBlock2D",
            47,
            in_channels=32,
            prev_output_channel=64,
            out_channels=64,
            temb_channels=128,
            num_layers=2,
            resnet_groups=32,
            num_attention_heads=2,
            cross_attention_dim=_SD14_CTX,
        ),
        lambda n: _sd14_randn(48, (1, 64, n, n), (1, 32, n, n), (1, 64, n, n), (1, 128), (1, 77, _SD14_CTX)),
        lambda r, x, s1, s2, t, c: r(x, (s1, s2), t, encoder_hidden_states=c),
        lambda p, x, s1, s2, t, c, hw: p.forward_ttnn(x, [(s1, hw), (s2, hw)], t, c, hw=hw),
        _sd14_up,
        "64 -> 64 channels, 2 layers: skip concat, resnet, transformer; upsample 2x",
    ),
    (
        "UNet2DConditionModel",
        lambda: importlib.import_module("models.sd14.tiny").tiny_unet(49),
        lambda n: (*_sd14_randn(50, (2, 4, n, n)), torch.tensor(500), *_sd14_randn(51, (2, 77, _SD14_CTX))),
        lambda r, x, t, c: r(x, t, encoder_hidden_states=c).sample,
        lambda p, x, t, c, hw: p.forward_ttnn(x, t, c, hw=hw),
        _sd14_unet_inputs,
        "whole tiny UNet (32/64 channels, SD1.4's block kinds), batch 2 (guidance), t=500",
    ),
]
_sd14_needs = _needs("models.sd14", *(c[0] for c in _sd14_cases), package="diffusers")
for _name, _mk, _inp, _call, _port_call, _to_dev, _desc in _sd14_cases:
    register(
        Case(
            f"sd14.{_name}",
            _sd14(_mk, _inp, _call, _name, _to_dev, _port_call, _sd14_nchw),
            (8,),
            (8, 16, 32),
            "H = W latents",
            f"models.sd14.{_name} vs diffusers: {_desc}",
            requires=_sd14_needs,
        )
    )


# Cases named by the issue whose port does not exist yet in any form the harness can drive (shown as "not
# measured" with the reason; move them to `register(...)` when the port lands).
PENDING: dict[str, str] = {}
