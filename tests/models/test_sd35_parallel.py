"""DiTParallelConfig (issue 7): the tuple and keyword forms, submesh shapes, placements, and the clear errors."""

import pytest
import torch

from models.sd35 import DiTParallelConfig, ParallelFactor, SD3Transformer
from models.sd35.common import chunked_columns, qkv_columns, row_parallel_bias
from ttfuse import ttnn


def test_tuple_and_keyword_forms_agree():
    a = DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1)))
    b = DiTParallelConfig(cfg_parallel=(2, 1), sequence_parallel=ParallelFactor(2, 0), tensor_parallel=(2, 1))
    assert a == b
    assert (a.cfg, a.sp, a.tp) == (2, 2, 2)
    assert a.as_tuple() == ((2, 1), (2, 0), (2, 1))
    assert a.submesh_shape((2, 4)) == (2, 2)
    assert DiTParallelConfig.from_tuple(((2, 1), (4, 0), (4, 1))).submesh_shape((4, 8)) == (4, 4)
    assert DiTParallelConfig().as_tuple() == ((1, 0), (1, 0), (1, 1))


def test_submeshes_split_the_cfg_axis():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    subs = DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1))).submeshes(mesh)
    assert [tuple(s.shape) for s in subs] == [(2, 2), (2, 2)]
    ids = [c.id for s in subs for c in s.chips]
    assert sorted(ids) == list(range(8)) and [c.id for c in subs[0].chips] == [0, 1, 4, 5]


@pytest.mark.parametrize(
    "tup, mesh, match",
    [
        (((1, 2), (1, 0), (1, 1)), (2, 2), "cfg_parallel mesh_axis 2 is out of range"),
        (((1, 0), (2, -1), (1, 1)), (2, 2), "sequence_parallel mesh_axis -1 is out of range"),
        (((1, 0), (0, 0), (1, 1)), (2, 2), "sequence_parallel factor must be a positive int"),
        (((3, 1), (1, 0), (1, 1)), (2, 4), "cfg_parallel factor 3 does not divide mesh axis 1 of size 4"),
        (((1, 0), (2, 0), (2, 1)), (2, 4), "tensor_parallel factor 2 does not match mesh axis 1"),
        (((1, 0), (4, 0), (2, 1)), (2, 2), "sequence_parallel factor 4 does not match mesh axis 0"),
        (((1, 0), (2, 1), (2, 1)), (1, 2), "are on the same mesh axis 1"),
    ],
)
def test_bad_configs_raise_clear_errors(tup, mesh, match):
    with pytest.raises(ValueError, match=match):
        DiTParallelConfig.from_tuple(tup).submesh_shape(mesh)


def test_num_links_is_validated():
    assert DiTParallelConfig.from_tuple(((2, 1), (4, 0), (4, 1)), num_links=4).num_links == 4
    with pytest.raises(ValueError, match="num_links must be a positive int"):
        DiTParallelConfig(num_links=0)


def test_from_tuple_needs_three_pairs():
    with pytest.raises(ValueError, match=r"expected \(\(cfg_factor, cfg_axis\)"):
        DiTParallelConfig.from_tuple(((2, 1), (2, 0)))


def test_model_rejects_mismatched_mesh_and_batch(sd35_tiny):
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    with pytest.raises(ValueError, match="tensor_parallel factor 2 does not match mesh axis 1"):
        SD3Transformer.from_torch(
            sd35_tiny["model"], mesh, DiTParallelConfig.from_tuple(((1, 0), (2, 0), (2, 1)))
        )
    port = SD3Transformer.from_torch(
        sd35_tiny["model"], mesh, DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1))), jit=False
    )
    x = {k: v[:1] for k, v in sd35_tiny["inputs"].items()}
    with pytest.raises(ValueError, match="batch 1 is not divisible by the cfg factor 2"):
        port(**x)


def test_weight_relayout_per_device():
    # adaLN columns [chunk][dev][d] -> [dev][chunk][d]: device j's slice holds its d-slice of every chunk
    w = torch.arange(12.0).reshape(1, 12)  # 3 chunks of D=4, tp=2
    assert chunked_columns(w, 3, 2).tolist() == [[0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]]
    # QKV: 3 heads of 2 padded to 4 for tp=2 -> per device [q | k | v] of its 2 heads
    q, k, v = (torch.full((1, 6), float(i)) for i in (1, 2, 3))
    fused = qkv_columns([q, k, v], 3, 4, 2)
    assert fused.shape == (1, 24)
    assert fused[0, :12].tolist() == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    assert fused[0, 12:].tolist() == [1, 1, 0, 0, 2, 2, 0, 0, 3, 3, 0, 0]
    b = row_parallel_bias(torch.ones(4), 2)
    assert b.tolist() == [[1, 1, 1, 1], [0, 0, 0, 0]]
