#!/usr/bin/env bash
# Make a Python 3.12 venv holding the real ttnn 0.81.1 wheel (pinned in requirements.txt).
#
# Two kinds (same interpreter search, same pins for ttnn and its dependencies):
#   (default)  conformance/.venv312      the oracle venv: ttnn only, no torch. tests/conformance (main env, 3.11)
#                                        runs conformance/oracle.py in it as a subprocess.
#   --full     conformance/.venv312full  ttnn + torch + this checkout of ttfuse (editable, test and models extras):
#                                        ttfuse installed beside the real ttnn (requirements-full.txt);
#                                        tests/conformance312 runs in it, ttnn and ttfuse in one process.
# --venv PATH (or $TTFUSE_VENV312) puts the venv elsewhere.
#
# Idempotent: a stamp (hash of the requirement files, pyproject.toml for --full, and the interpreter) makes a
# second run a no-op. Downloads go through pip's cache ($PIP_CACHE_DIR, default ~/.cache/pip), kept between runs:
# on Python 3.12 the only torch on PyPI for x86_64 is the CUDA build (a ~530 MB wheel plus ~3 GB of nvidia-*
# libraries it needs to import; it then runs on the CPU), so a warm cache saves most of a cold install.
# Finds python3.12 via $TTFUSE_PYTHON312, PATH (pyenv shims included) or $(pyenv root)/versions/3.12*.
# --check installs nothing: exit 0 when the venv is up to date, 1 when a run would install.
# Usage: bash conformance/setup_venv.sh [--full] [--force | --check] [--venv PATH]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
FULL=0
FORCE=0
CHECK=0
VENV="${TTFUSE_VENV312:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --full) FULL=1 ;;
        --force) FORCE=1 ;;
        --check) CHECK=1 ;;
        --venv) VENV="$2"; shift ;;
        --venv=*) VENV="${1#--venv=}" ;;
        *) echo "usage: $0 [--full] [--force | --check] [--venv PATH]" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$VENV" ]; then
    if [ "$FULL" = 1 ]; then VENV="$HERE/.venv312full"; else VENV="$HERE/.venv312"; fi
fi
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
STAMP="$VENV/.ttfuse-stamp"
REQS="$HERE/requirements.txt"
REQS_FULL="$HERE/requirements-full.txt"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}"
START=$(date +%s)

say() { echo "[setup_venv] $*"; }

is_py312() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

find_python312() {
    local c
    for c in "${TTFUSE_PYTHON312:-}" "$(command -v python3.12 2>/dev/null || true)"; do
        if is_py312 "$c"; then echo "$c"; return 0; fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for c in $(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r); do
            if is_py312 "$c"; then echo "$c"; return 0; fi
        done
    fi
    for c in "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
        if is_py312 "$c"; then echo "$c"; return 0; fi
    done
    return 1
}

want_stamp() {
    {
        cat "$REQS"
        if [ "$FULL" = 1 ]; then echo "full repo=$REPO"; cat "$REQS_FULL" "$REPO/pyproject.toml"; fi
        echo "python=$("$VENV/bin/python" -c 'import sys; print(sys.version)')"
    } | sha256sum | cut -d' ' -f1
}

# One setup of a venv at a time (parallel test sessions may call this together).
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9 2>/dev/null || true

if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && is_py312 "$VENV/bin/python" && [ "$(cat "$STAMP")" = "$(want_stamp)" ]; then
    say "up to date: $VENV (ttnn $(grep '^ttnn==' "$REQS" | cut -d= -f3)$([ "$FULL" = 1 ] && echo ', torch, ttfuse')); --force to reinstall"
    exit 0
fi
if [ "$CHECK" = 1 ]; then
    say "not up to date: $VENV (run without --check to install)"
    exit 1
fi

if ! is_py312 "$VENV/bin/python"; then
    PY312="$(find_python312)" || {
        say "ERROR: no Python 3.12 found (tried \$TTFUSE_PYTHON312, PATH, pyenv). Install one, e.g. 'pyenv install 3.12'."
        exit 1
    }
    say "creating $VENV with $PY312 ($("$PY312" -V 2>&1))"
    rm -rf "$VENV"
    "$PY312" -m venv "$VENV"
fi
rm -f "$STAMP"

PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q)
if [ "$FULL" = 1 ]; then
    # one resolver run: ttnn's pins (numpy 1.26) hold for torch and ttfuse too
    say "installing ttnn, torch (CUDA build on 3.12: ~3.5 GB, cache $PIP_CACHE_DIR) and ttfuse (editable: $REPO)"
    "${PIP[@]}" -r "$REQS" -r "$REQS_FULL" -e "$REPO[test,models]"
    # the PyTorch reference of the Boltz port, as the Makefile installs it in the main env: without its pins
    "${PIP[@]}" --no-deps "$(grep -E '^# no-deps: ' "$REQS_FULL" | cut -d' ' -f3)"
else
    say "installing pinned requirements (ttnn wheel is ~100 MB) from $REQS"
    "${PIP[@]}" -r "$REQS"
fi

say "smoke test: ttnn host conversion with the mock Wormhole n150 cluster$([ "$FULL" = 1 ] && echo ', then torch and ttfuse in the same process')"
TT_METAL_MOCK_CLUSTER_DESC_PATH="$HERE/cluster/wormhole_n150.yaml" TT_METAL_LOGGER_LEVEL=ERROR TTFUSE_SMOKE_FULL="$FULL" \
    "$VENV/bin/python" - >/dev/null 2>"$VENV/smoke.log" <<'EOF' || { say "ERROR: smoke test failed:"; tail -20 "$VENV/smoke.log"; exit 1; }
import os
import numpy as np
import ttnn
t = ttnn.Tensor(np.ones((32, 32), np.float32), ttnn.bfloat8_b)
assert (ttnn.to_dtype(t, ttnn.float32).to_numpy() == 1.0).all()
if os.environ["TTFUSE_SMOKE_FULL"] == "1":
    import torch
    import ttfuse
    from ttfuse import ttnn as facade
    assert facade is not ttnn and hasattr(ttnn, "Tensor"), "import ttfuse replaced the real ttnn"
    x = facade.from_torch(torch.ones(32, 32), dtype=facade.bfloat8_b, layout=facade.TILE_LAYOUT)
    assert (facade.to_torch(x) == 1.0).all()
EOF

want_stamp >"$STAMP"
say "done in $(( $(date +%s) - START )) s: $VENV ($(du -sh "$VENV" | cut -f1))"
