"""The package's supported Pythons and torch range agree with what the environments install (issue 18 item 2):
pyproject's requires-python and ruff's target-version, the torch range and the torch the Makefile (3.11 CPU wheel)
and conformance/requirements-full.txt (3.12) pin, the running interpreter and torch."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as pip vendors it
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _torch_range() -> SpecifierSet:
    (req,) = [d for d in PYPROJECT["project"]["dependencies"] if re.match(r"torch\b", d)]
    return SpecifierSet(req[len("torch") :])


def test_requires_python_is_3_10_to_3_12_and_ruff_targets_the_lowest():
    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert [v for v in ("3.9", "3.10", "3.11", "3.12", "3.13") if Version(v) in spec] == [
        "3.10",
        "3.11",
        "3.12",
    ]
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py310"
    assert Version("{}.{}".format(*sys.version_info[:2])) in spec, sys.version


def test_torch_pins_of_every_environment_are_in_the_range():
    spec = _torch_range()
    make_pin = re.search(r"pip install -q torch==([\d.]+)", (REPO / "Makefile").read_text())
    full_pin = re.search(r"^torch==([\d.]+)$", (REPO / "conformance/requirements-full.txt").read_text(), re.M)
    assert make_pin and full_pin, "the Makefile and requirements-full.txt each pin torch"
    for pin in (make_pin.group(1), full_pin.group(1)):
        assert Version(pin) in spec, (pin, str(spec))
    assert (
        Version(metadata.version("torch")).public in spec
    )  # the torch of this environment (2.13.0+cpu here)
