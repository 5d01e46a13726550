"""DiTParallelConfig: how an SD3.5 transformer is spread over a (simulated) mesh, as in TT-DiT (sd35.md section 4).

    cfg = DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1)))      # ((cfg, axis), (sp, axis), (tp, axis))
    cfg = DiTParallelConfig(cfg_parallel=(2, 1), sequence_parallel=(2, 0), tensor_parallel=(2, 1))
    layout = cfg.layout(mesh)                                          # validated; one MeshLayout per submesh

- cfg: the mesh is split along `cfg_axis` into `cfg_factor` submeshes; submesh i runs batch slice i (the
  unconditional / conditional halves of a CFG batch).
- sp: spatial tokens sharded over `sp_axis` of each submesh (the prompt is replicated); attention is ring
  attention over that axis.
- tp: weights sharded Megatron-style over `tp_axis`; activations are D-fractured between layers.

Invariants (checked by `layout`, errors name the field): factors are positive ints and axes 0 or 1; cfg divides
its mesh axis; after the cfg split an sp or tp factor > 1 equals its submesh axis size (a collective over that
axis must see exactly the ring); sp and tp > 1 never share an axis (one tensor cannot be sharded on two dims
along one mesh axis). Factors of 1 replicate along their axis.
Extend: a new kind of parallelism (fsdp, ulysses) is a new field, a check in `layout`, and a placement in
`MeshLayout.mapper`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ttfuse import ttnn


class ParallelFactor(NamedTuple):
    """`(factor, mesh_axis)`: TT-DiT's ParallelFactor."""

    factor: int
    mesh_axis: int


def _factor(name: str, v) -> ParallelFactor:
    if isinstance(v, ParallelFactor):
        f, a = v
    elif isinstance(v, tuple | list) and len(v) == 2:
        f, a = v
    else:
        raise ValueError(f"DiTParallelConfig: {name} must be a (factor, mesh_axis) pair, got {v!r}")
    if isinstance(f, bool) or not isinstance(f, int) or f < 1:
        raise ValueError(f"DiTParallelConfig: {name} factor must be a positive int, got {f!r}")
    if isinstance(a, bool) or not isinstance(a, int) or a not in (0, 1):
        raise ValueError(
            f"DiTParallelConfig: {name} mesh_axis {a!r} is out of range: a 2-D mesh has axes 0 and 1"
        )
    return ParallelFactor(f, a)


@dataclass(frozen=True)
class DiTParallelConfig:
    """cfg / sequence / tensor parallel factors with their mesh axes (keyword form; see `from_tuple`)."""

    cfg_parallel: ParallelFactor = field(default=ParallelFactor(1, 0))
    sequence_parallel: ParallelFactor = field(default=ParallelFactor(1, 0))
    tensor_parallel: ParallelFactor = field(default=ParallelFactor(1, 1))
    num_links: int = 1  # ethernet links per collective (TT-DiT's CCLManager(num_links)); a ttfuse addition

    def __post_init__(self):
        if isinstance(self.num_links, bool) or not isinstance(self.num_links, int) or self.num_links < 1:
            raise ValueError(f"DiTParallelConfig: num_links must be a positive int, got {self.num_links!r}")
        for name in ("cfg_parallel", "sequence_parallel", "tensor_parallel"):
            object.__setattr__(self, name, _factor(name, getattr(self, name)))
        sp, tp = self.sequence_parallel, self.tensor_parallel
        if sp.factor > 1 and tp.factor > 1 and sp.mesh_axis == tp.mesh_axis:
            raise ValueError(
                f"DiTParallelConfig: sequence_parallel {tuple(sp)} and tensor_parallel {tuple(tp)} are on the same "
                f"mesh axis {sp.mesh_axis}; put them on different axes (one tensor cannot be sharded on two dims "
                "along one mesh axis)"
            )

    @classmethod
    def from_tuple(cls, t, *, num_links: int = 1) -> DiTParallelConfig:
        """TT-DiT README notation `((cfg_factor, cfg_axis), (sp_factor, sp_axis), (tp_factor, tp_axis))`."""
        if not isinstance(t, tuple | list) or len(t) != 3:
            raise ValueError(
                "DiTParallelConfig.from_tuple: expected ((cfg_factor, cfg_axis), (sp_factor, sp_axis), "
                f"(tp_factor, tp_axis)), got {t!r}"
            )
        return cls(cfg_parallel=t[0], sequence_parallel=t[1], tensor_parallel=t[2], num_links=num_links)

    def as_tuple(self) -> tuple:
        return (tuple(self.cfg_parallel), tuple(self.sequence_parallel), tuple(self.tensor_parallel))

    @property
    def cfg(self) -> int:
        return self.cfg_parallel.factor

    @property
    def sp(self) -> int:
        return self.sequence_parallel.factor

    @property
    def tp(self) -> int:
        return self.tensor_parallel.factor

    def submesh_shape(self, mesh_shape) -> tuple[int, int]:
        """The shape of each cfg submesh of a mesh of `mesh_shape` (validated)."""
        shape = [int(mesh_shape[0]), int(mesh_shape[1])]
        c = self.cfg_parallel
        if shape[c.mesh_axis] % c.factor:
            raise ValueError(
                f"DiTParallelConfig: cfg_parallel factor {c.factor} does not divide mesh axis {c.mesh_axis} of "
                f"size {shape[c.mesh_axis]} (mesh {shape[0]}x{shape[1]})"
            )
        shape[c.mesh_axis] //= c.factor
        for name, f in (
            ("sequence_parallel", self.sequence_parallel),
            ("tensor_parallel", self.tensor_parallel),
        ):
            if f.factor > 1 and shape[f.mesh_axis] != f.factor:
                raise ValueError(
                    f"DiTParallelConfig: {name} factor {f.factor} does not match mesh axis {f.mesh_axis}, which "
                    f"has {shape[f.mesh_axis]} devices per cfg submesh (mesh {mesh_shape[0]}x{mesh_shape[1]}, "
                    f"cfg {tuple(self.cfg_parallel)}): the factor must divide the mesh and fill its axis"
                )
        return shape[0], shape[1]

    def submeshes(self, mesh_device) -> list:
        """The cfg submeshes of `mesh_device` (the mesh itself when cfg = 1), in cfg order."""
        rows, cols = self.submesh_shape(tuple(mesh_device.shape))
        if self.cfg == 1:
            return [mesh_device]
        return mesh_device.create_submeshes(ttnn.MeshShape(rows, cols))

    def layout(self, mesh_device) -> MeshLayout:
        """The placement helper for one submesh (its shape must be `submesh_shape`)."""
        return MeshLayout(self, mesh_device)


class MeshLayout:
    """Placement of tensors on one cfg submesh: which mesh axis shards the sequence and which the features."""

    def __init__(self, config: DiTParallelConfig, mesh_device):
        self.config = config
        self.mesh = mesh_device
        self.shape = (int(mesh_device.shape[0]), int(mesh_device.shape[1]))
        self.sp, self.tp = config.sp, config.tp
        self.sp_axis = config.sequence_parallel.mesh_axis
        self.tp_axis = config.tensor_parallel.mesh_axis
        self.links = config.num_links
        for name, f, ax in (
            ("sequence_parallel", self.sp, self.sp_axis),
            ("tensor_parallel", self.tp, self.tp_axis),
        ):
            if f > 1 and self.shape[ax] != f:
                raise ValueError(
                    f"DiTParallelConfig: {name} factor {f} does not match axis {ax} of the "
                    f"{self.shape[0]}x{self.shape[1]} submesh"
                )

    def mapper(self, *, sp_dim: int | None = None, tp_dim: int | None = None):
        """A mesh mapper sharding tensor dim `sp_dim` over the sp axis and `tp_dim` over the tp axis."""
        dims: list = [None, None]
        if sp_dim is not None and self.sp > 1:
            dims[self.sp_axis] = sp_dim
        if tp_dim is not None and self.tp > 1:
            dims[self.tp_axis] = tp_dim
        return ttnn.ShardTensor2dMesh(self.mesh, mesh_shape=self.shape, dims=tuple(dims))

    def to_torch(self, t, *, sp_dim: int | None = None, tp_dim: int | None = None):
        """Reassemble a mesh tensor as float32 torch: sp shards concatenated on `sp_dim`, tp shards on `tp_dim`;
        a replicated axis contributes its first copy (tensors are never sharded on dim 0, the batch)."""
        dims = [0, 0]
        if self.sp > 1 and sp_dim is not None:
            dims[self.sp_axis] = sp_dim
        if self.tp > 1 and tp_dim is not None:
            dims[self.tp_axis] = tp_dim
        composer = ttnn.ConcatMesh2dToTensor(self.mesh, mesh_shape=self.shape, dims=tuple(dims))
        out = ttnn.to_torch(t, mesh_composer=composer)
        return out.narrow(0, 0, int(t.shape[0])).float()
