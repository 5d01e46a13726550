"""The simulated MeshDevice against ttnn 0.81.1's `ttnn.MeshDevice`: each public member both have is the same
kind of member (a property in ttnn, e.g. `core_grid`, is a property here; a method stays a method), so code written
for the real device reads it the same way here.

The real class's properties come from the oracle (`configs` command, class schema: the names whose static
attribute is a `property`); whether a name exists in the real class comes from the `api` command.
"""

from __future__ import annotations

import inspect

import pytest

from ttfuse.sim.device import MeshDevice

pytestmark = pytest.mark.conformance


def _public(cls) -> dict[str, object]:
    return {a: inspect.getattr_static(cls, a) for a in dir(cls) if not a.startswith("_")}


def test_mesh_device_properties_are_properties(oracle_call):
    schema = oracle_call("configs", {"objects": [], "classes": ["MeshDevice"]})["schemas"]["MeshDevice"]
    assert schema["exists"]
    real_props = set(schema["properties"])
    assert {"core_grid", "shape"} <= real_props  # what ttnn 0.81.1 binds as properties
    ours = _public(MeshDevice)
    wrong = sorted(
        f"{a}: ttnn has a {'property' if a in real_props else 'method'}, ttfuse a "
        f"{'property' if isinstance(v, property) else 'method'}"
        for a, v in ours.items()
        if a in real_props and not isinstance(v, property)
    )
    assert not wrong, wrong
    # the other direction: a property here must be a property there too (or not exist in ttnn at all)
    names = [f"ttnn.MeshDevice.{a}" for a, v in ours.items() if isinstance(v, property)]
    results = oracle_call("api", {"names": names, "signatures": False})["results"]
    both = [n.rsplit(".", 1)[-1] for n, r in results.items() if r.get("exists")]
    assert "core_grid" in both and not [a for a in both if a not in real_props], both
