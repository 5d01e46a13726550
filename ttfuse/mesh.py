"""Mesh mappers and composers: how a torch tensor is split onto a mesh and put back together.

Class API (`ttnn.ShardTensorToMesh(mesh, dim)`, `ReplicateTensorToMesh`, `ShardTensor2dMesh`,
`ConcatMeshToTensor`, `ConcatMesh2dToTensor`) and the newer functional API
(`shard_tensor_to_mesh_mapper`, `replicate_tensor_to_mesh_mapper`, `concat_mesh_to_tensor_composer`,
`create_mesh_mapper(mesh, MeshMapperConfig([...]))`, `create_mesh_composer(mesh, MeshComposerConfig([...]))`). Shards are listed in row-major device order.
`MeshShape` (what a device's `shape` is) lives here too: every backend's devices share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ttfuse.errors import SpecError


@dataclass(frozen=True)
class MeshShape:
    """`ttnn.MeshShape(s0, s1)`: rows and columns of a 2-D mesh (ttnn's keyword names are s0, s1)."""

    rows: int
    cols: int

    def __init__(self, s0: int, s1: int = 1):
        if isinstance(s0, tuple | list):
            s0, s1 = s0
        object.__setattr__(self, "rows", int(s0))
        object.__setattr__(self, "cols", int(s1))

    def __iter__(self):
        return iter((self.rows, self.cols))

    def __getitem__(self, i):
        return (self.rows, self.cols)[i]

    def __len__(self):
        return 2

    def num_devices(self) -> int:
        return self.rows * self.cols

    def mesh_size(self) -> int:
        return self.rows * self.cols

    def __repr__(self) -> str:
        return f"MeshShape({self.rows}, {self.cols})"


class ReplicateTensorToMesh:
    def __init__(self, mesh_device):
        self.mesh = mesh_device

    def map(self, t: torch.Tensor) -> list[torch.Tensor]:
        return [t] * self.mesh.get_num_devices()


class ShardTensorToMesh:
    def __init__(self, mesh_device, dim: int):
        self.mesh, self.dim = mesh_device, dim

    def map(self, t: torch.Tensor) -> list[torch.Tensor]:
        n = self.mesh.get_num_devices()
        if t.shape[self.dim] % n:
            raise SpecError(
                f"ttnn.ShardTensorToMesh: dim {self.dim} of size {t.shape[self.dim]} does not split "
                f"evenly over {n} devices"
            )
        return list(torch.chunk(t, n, dim=self.dim))


class ShardTensor2dMesh:
    """Mesh axis 0 (rows) shards tensor dim dims[0], axis 1 (cols) dims[1]; None replicates along that axis."""

    def __init__(self, mesh_device, mesh_shape=None, dims=(None, None)):
        self.mesh = mesh_device
        self.mesh_shape = tuple(mesh_shape) if mesh_shape is not None else tuple(mesh_device.shape)
        self.dims = tuple(dims)

    def map(self, t: torch.Tensor) -> list[torch.Tensor]:
        rows, cols = self.mesh_shape
        row_parts = _split(t, self.dims[0], rows, "rows")
        out = []
        for rp in row_parts:
            out.extend(_split(rp, self.dims[1], cols, "cols"))
        return out


def _split(t, dim, n, axis):
    if dim is None:
        return [t] * n
    if t.shape[dim] % n:
        raise SpecError(
            f"ttnn.ShardTensor2dMesh: dim {dim} of size {t.shape[dim]} does not split evenly over the "
            f"{n} mesh {axis}"
        )
    return list(torch.chunk(t, n, dim=dim))


class ConcatMeshToTensor:
    def __init__(self, mesh_device, dim: int):
        self.mesh, self.dim = mesh_device, dim

    def compose(self, shards: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(shards), dim=self.dim)


class ConcatMesh2dToTensor:
    def __init__(self, mesh_device, mesh_shape=None, dims=(0, 1)):
        self.mesh = mesh_device
        self.mesh_shape = tuple(mesh_shape) if mesh_shape is not None else tuple(mesh_device.shape)
        self.dims = tuple(dims)

    def compose(self, shards: list[torch.Tensor]) -> torch.Tensor:
        rows, cols = self.mesh_shape
        row_ts = [_cat(shards[r * cols : (r + 1) * cols], self.dims[1]) for r in range(rows)]
        return _cat(row_ts, self.dims[0])


def _cat(ts, dim: int) -> torch.Tensor:
    """Concatenate along `dim`; a mesh axis of one device concatenates nothing, so its dim is never read (as in
    ttnn: tt-symbiote composes a replicated tensor with dims [0, rank] on a 1x1 mesh)."""
    ts = list(ts)
    return ts[0].clone() if len(ts) == 1 else torch.cat(ts, dim=dim)  # a copy either way, never a shard


@dataclass(frozen=True)
class PlacementShard:
    dim: int


@dataclass(frozen=True)
class PlacementReplicate:
    pass


@dataclass
class MeshMapperConfig:
    placements: list
    mesh_shape_override: object = None


def replicate_tensor_to_mesh_mapper(mesh_device):
    return ReplicateTensorToMesh(mesh_device)


def shard_tensor_to_mesh_mapper(mesh_device, dim: int):
    return ShardTensorToMesh(mesh_device, dim)


def concat_mesh_to_tensor_composer(mesh_device, dim: int):
    return ConcatMeshToTensor(mesh_device, dim)


def create_mesh_mapper(mesh_device, config: MeshMapperConfig):
    dims = [p.dim if isinstance(p, PlacementShard) else None for p in config.placements]
    if len(dims) == 1:
        dims = [None, dims[0]] if mesh_device.shape.rows == 1 else [dims[0], None]
    shape = tuple(config.mesh_shape_override) if config.mesh_shape_override is not None else None
    return ShardTensor2dMesh(mesh_device, shape, dims)


class MeshComposerConfig:
    """`ttnn.MeshComposerConfig(dims, mesh_shape_override=None, mesh_offset_override=...)` or `(row_dim, col_dim,
    ...)`: the tensor dim each mesh axis concatenates along (one dim: the shards in device order along it)."""

    def __init__(self, *dims, mesh_shape_override=None, mesh_offset_override=None):
        if len(dims) == 1 and isinstance(dims[0], list | tuple):
            dims = tuple(dims[0])
        if not dims or len(dims) > 2 or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            raise SpecError(
                f"ttnn.MeshComposerConfig: argument 'dims' must be a list of one or two ints "
                f"(or row_dim, col_dim), got {dims!r}"
            )
        self._dims = tuple(dims)
        self._mesh_shape = mesh_shape_override
        self._mesh_offset = mesh_offset_override

    def __repr__(self) -> str:
        return f"MeshComposerConfig(dims={list(self._dims)})"


def create_mesh_composer(mesh_device, config):
    """A composer from a MeshComposerConfig (ttnn's argument), or from a MeshMapperConfig's placements."""
    if isinstance(config, MeshComposerConfig):
        if len(config._dims) == 1:
            return ConcatMeshToTensor(mesh_device, config._dims[0])
        shape = tuple(config._mesh_shape) if config._mesh_shape is not None else None
        return ConcatMesh2dToTensor(mesh_device, shape, config._dims)
    dims = [p.dim if isinstance(p, PlacementShard) else 0 for p in config.placements]
    return ConcatMesh2dToTensor(mesh_device, None, dims)
