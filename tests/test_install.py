"""The switch that makes `import ttnn` the simulator (ttfuse/switch.py), `ttfuse run` (ttfuse/cli.py), the
pytest plugin with tt-metal's fixture names (ttfuse/pytest.py), and the backend seam under them
(ttfuse/backend.py: backends register themselves; the facade takes its eager backend from the registry).

Scripts and test files here are written as for real ttnn (`import ttnn`, tt-metal's fixtures) and run in a
subprocess, as a user would run them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import ttfuse
from tests.conftest import load_tool
from ttfuse import backend
from ttfuse import ttnn as facade
from ttfuse.cli import main
from ttfuse.switch import install, installed, uninstall

REPO = Path(__file__).resolve().parents[1]


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("TTFUSE_INSTALL", None)
    env.pop("TT_METAL_MOCK_CLUSTER_DESC_PATH", None)
    env.update(extra)
    return env


@pytest.fixture
def clean_switch(monkeypatch):
    """No `ttnn*` module and no switch before the test; whatever the test installed is undone after it."""
    uninstall()
    for k in [k for k in sys.modules if k == "ttnn" or k.startswith("ttnn.")]:
        monkeypatch.delitem(sys.modules, k)
    monkeypatch.delenv("TTFUSE_INSTALL", raising=False)
    monkeypatch.delenv("TT_METAL_MOCK_CLUSTER_DESC_PATH", raising=False)
    yield
    uninstall()


def _fake_ttnn(devices: int) -> types.ModuleType:
    """A stand-in for the real wheel: a module named ttnn that reports `devices` devices."""
    fake = types.ModuleType("ttnn")
    fake.__file__ = "/opt/fake/ttnn/__init__.py"
    fake.GetNumAvailableDevices = lambda: devices
    return fake


# ------------------------------------------------------------------------------------------------ install()
def test_install_is_idempotent_and_registers_the_facade_tree(clean_switch):
    assert install() == "ttfuse"
    assert install() == "ttfuse"
    assert installed()
    import ttnn
    import ttnn.transformer
    from ttnn import experimental
    from ttnn.device import Arch

    assert ttnn is facade
    assert ttnn.transformer is facade.transformer
    assert experimental is facade.experimental
    assert Arch is facade.device.Arch
    assert sum(isinstance(f, type(sys.meta_path[0])) for f in sys.meta_path) == 1  # one finder, not two
    uninstall()
    assert "ttnn" not in sys.modules and "ttnn.transformer" not in sys.modules
    assert not installed()


def test_namespaces_attached_after_install_resolve(clean_switch, monkeypatch):
    """The registration is generic: a ModuleType namespace the facade grows later imports by its dotted path."""
    assert install() == "ttfuse"
    ops = types.ModuleType("ttfuse.ttnn.late_operations")
    ops.unary = types.ModuleType("ttfuse.ttnn.late_operations.unary")
    ops.unary.marker = object()
    monkeypatch.setattr(facade, "late_operations", ops, raising=False)
    # a namespace registered at install time gains a child later: `import a.b.c` needs `a.b` to be a package
    monkeypatch.setattr(facade.experimental, "late_child", types.ModuleType("late_child"), raising=False)
    mod = importlib.import_module("ttnn.late_operations.unary")
    assert mod is ops.unary
    from ttnn.late_operations.unary import marker

    assert marker is ops.unary.marker
    assert importlib.import_module("ttnn.experimental.late_child") is facade.experimental.late_child
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("ttnn.no_such_namespace")


def test_real_ttnn_with_a_device_is_not_replaced(clean_switch, monkeypatch):
    fake = _fake_ttnn(devices=1)
    monkeypatch.setitem(sys.modules, "ttnn", fake)
    assert install() == "ttnn"
    import ttnn

    assert ttnn is fake
    assert not installed()


def test_real_ttnn_without_a_device_is_replaced_and_kept_for_codegen(clean_switch, monkeypatch):
    fake = _fake_ttnn(devices=0)
    monkeypatch.setitem(sys.modules, "ttnn", fake)
    assert install() == "ttfuse"
    import ttnn

    assert ttnn is facade
    # generated code for backend="ttnn" still targets the wheel, not the facade now standing in its place
    assert backend.get_backend("ttnn").api() is fake
    uninstall()
    assert sys.modules["ttnn"] is fake  # what install() displaced is restored


def test_a_mock_cluster_opens_no_device(clean_switch, monkeypatch):
    """The wheel on a mock cluster reports the YAML's chips but opens none: the facade replaces it."""
    monkeypatch.setitem(sys.modules, "ttnn", _fake_ttnn(devices=1))
    monkeypatch.setenv("TT_METAL_MOCK_CLUSTER_DESC_PATH", "conformance/cluster/wormhole_n150.yaml")
    assert install() == "ttfuse"
    assert sys.modules["ttnn"] is facade


def test_a_namespace_directory_named_ttnn_is_not_the_wheel(clean_switch, monkeypatch):
    ns = types.ModuleType("ttnn")
    ns.__path__ = ["/src/tt-metal/ttnn"]  # tt-metal's checkout root has a ttnn/ folder without __init__.py
    monkeypatch.setitem(sys.modules, "ttnn", ns)
    assert install() == "ttfuse"
    assert sys.modules["ttnn"] is facade


def test_switch_off_and_force(clean_switch, monkeypatch):
    monkeypatch.setenv("TTFUSE_INSTALL", "0")
    assert install() == "off"
    assert "ttnn" not in sys.modules
    monkeypatch.delenv("TTFUSE_INSTALL")
    monkeypatch.setitem(sys.modules, "ttnn", _fake_ttnn(devices=2))
    assert install(force=True) == "ttfuse"
    assert sys.modules["ttnn"] is facade


def test_install_is_public_api():
    assert ttfuse.install is install and "install" in ttfuse.__all__ and "uninstall" in ttfuse.__all__


# ----------------------------------------------------------------------------------------------- ttfuse run
PLAIN_SCRIPT = """\
import sys

import torch
import ttnn

import ttfuse


@ttfuse.jit
def block(x):
    return ttnn.relu(ttnn.multiply(x, 2.0))


device = ttnn.open_device(device_id=0)
a = torch.randn(64, 96)
x = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
y = ttnn.to_torch(ttnn.relu(ttnn.multiply(x, 2.0)))
err = float((y - (2 * a).relu()).abs().max())
jit_err = float((ttnn.to_torch(block(x)) - y).abs().max())
print(f"name={__name__} module={ttnn.__name__} argv={sys.argv[1:]} err={err:.4f} jit_err={jit_err:.4f}")
ttnn.close_device(device)
sys.exit(0 if err < 0.1 and jit_err < 0.1 else 5)
"""


def test_ttfuse_run_a_plain_ttnn_script(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_SCRIPT)
    r = subprocess.run(
        [sys.executable, "-m", "ttfuse", "run", str(script), "one", "--two"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "name=__main__ module=ttfuse.ttnn argv=['one', '--two']" in r.stdout
    assert (
        "jit_err=0.0000" in r.stdout
    )  # the jit of a function reading `ttnn` from its globals runs the facade


@pytest.fixture
def run_sandbox(monkeypatch, clean_switch):
    """`ttfuse run` in-process sets sys.argv and prepends to sys.path, as python does: undone after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))


def test_ttfuse_run_errors_as_python(tmp_path, run_sandbox):
    """In-process: an uncaught exception prints the script's traceback and exits 1; sys.exit(code) keeps its
    code; a missing file exits 2; TTFUSE_INSTALL=0 leaves `import ttnn` alone."""
    bad = tmp_path / "bad.py"
    bad.write_text("import ttnn\n\n\ndef f():\n    raise ValueError('boom')\n\n\nf()\n")
    r = CliRunner().invoke(main, ["run", str(bad)])
    assert r.exit_code == 1
    assert f'File "{bad}", line 8, in <module>' in r.output and "ValueError: boom" in r.output
    assert "runpy" not in r.output and "cli.py" not in r.output
    uninstall()

    code = tmp_path / "code.py"
    code.write_text("import sys\nsys.exit(3)\n")
    assert CliRunner().invoke(main, ["run", str(code)]).exit_code == 3
    assert CliRunner().invoke(main, ["run", str(tmp_path / "missing.py")]).exit_code == 2

    uninstall()
    off = tmp_path / "off.py"
    off.write_text("import sys\nprint('ttnn' in sys.modules)\n")
    r = CliRunner().invoke(main, ["run", str(off)], env={"TTFUSE_INSTALL": "0"})
    assert r.exit_code == 0 and r.output.strip() == "False"


def test_ttfuse_run_a_module(tmp_path, monkeypatch, run_sandbox):
    pkg = tmp_path / "tt_user_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "job.py").write_text(
        "import sys\nimport ttnn\n\nif __name__ == '__main__':\n    print(ttnn.__name__, sys.argv[1:])\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "tt_user_pkg", raising=False)
    r = CliRunner().invoke(main, ["run", "-m", "tt_user_pkg.job", "--flag", "x"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "ttfuse.ttnn ['--flag', 'x']"
    assert CliRunner().invoke(main, ["run", "-m", "tt_no_such_pkg"]).exit_code == 1
    for k in [k for k in sys.modules if k.startswith("tt_user_pkg")]:
        del sys.modules[k]


# ---------------------------------------------------------------------------------------------- pytest plugin
TT_METAL_STYLE_TESTS = """\
import pytest
import torch
import ttnn

from ttfuse.testing import assert_with_pcc


@pytest.mark.parametrize("h, w", [(32, 64), (64, 128)])
def test_add(device, h, w):
    a, b = torch.rand(h, w), torch.rand(h, w)
    ta = ttnn.from_torch(a, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert_with_pcc(a + b, ttnn.to_torch(ttnn.add(ta, tb)), 0.999)


@pytest.mark.parametrize("device_params", [{"l1_small_size": 24576}], indirect=True)
def test_device_params(device, device_params, reset_seeds):
    assert device_params == {"l1_small_size": 24576}
    x = torch.randn(32, 32)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert_with_pcc(torch.relu(x), ttnn.to_torch(ttnn.relu(t)), 0.999)


@pytest.mark.parametrize("device_params", [{"arch": "blackhole"}], indirect=True)
def test_device_params_reach_open_device(device, device_params):
    assert device.arch() == ttnn.device.Arch.BLACKHOLE


@pytest.mark.parametrize("mesh_device, n", [((1, 2), 2), (4, 4)], indirect=["mesh_device"])
def test_mesh(mesh_device, n, use_program_cache):
    assert mesh_device.get_num_devices() == n
    x = torch.randn(1, 1, 32, 32 * n)
    t = ttnn.from_torch(
        x,
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh_device,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh_device, dim=3),
    )
    back = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh_device, dim=3))
    assert_with_pcc(x, back, 0.999)


def test_a_wrong_reference_still_fails(device):
    x = torch.randn(32, 32)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert_with_pcc(-x, ttnn.to_torch(ttnn.relu(t)), 0.99)
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pytest_plugin_runs_a_tt_metal_style_file(tmp_path):
    (tmp_path / "test_tt_metal_style.py").write_text(TT_METAL_STYLE_TESTS)
    r = _pytest(tmp_path, "-p", "ttfuse.pytest", "test_tt_metal_style.py")
    out = r.stdout + r.stderr
    assert "1 failed, 6 passed" in out, out
    assert "FAILED test_tt_metal_style.py::test_a_wrong_reference_still_fails" in out


def test_pytest_plugin_from_a_conftest(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["ttfuse.pytest"]\n')
    (tmp_path / "test_one.py").write_text(
        textwrap.dedent(
            """\
            import ttnn


            def test_device_fixture(device):
                assert ttnn.__name__ == "ttfuse.ttnn"
                assert device.get_num_devices() == 1
            """
        )
    )
    r = _pytest(tmp_path, "test_one.py")
    assert "1 passed" in r.stdout, r.stdout + r.stderr


# ------------------------------------------------------------------------------------------- the backend seam
class _FakeEager(backend.Backend):
    name = "fake_eager"

    def eager_trace(self):
        raise AssertionError("not used")

    def open_mesh(self, shape, arch):
        raise AssertionError("not used")

    def api(self):
        return None


def test_eager_backend_is_chosen_through_the_registry(monkeypatch):
    assert backend.eager_backend() is backend.get_backend("sim")
    assert "sim" in backend.backend_names() and "ttnn" in backend.backend_names()
    monkeypatch.setenv("TTFUSE_BACKEND", "ttnn")
    assert backend.eager_backend_name() == "sim"  # the ttnn backend only generates code so far
    monkeypatch.setattr(backend, "_FACTORIES", {**backend._FACTORIES, "fake_eager": _FakeEager})
    monkeypatch.setenv("TTFUSE_BACKEND", "fake_eager")
    assert backend.eager_backend_name() == "fake_eager"
    with pytest.raises(ttfuse.DeviceError, match="cannot run eager"):
        backend.set_eager_backend("ttnn")
    assert backend.get_backend("sim").api() is facade


def test_the_facade_names_no_backend():
    ig = load_tool("import_graph")
    bad = [
        e
        for e in ig.collect()
        if (e.src == "ttfuse.ttnn" or e.src.startswith("ttfuse.ttnn.") or e.src == "ttfuse.backend")
        and e.dst.startswith("ttfuse.sim")
    ]
    assert not bad, bad
