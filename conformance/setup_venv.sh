#!/usr/bin/env bash
# Create conformance/.venv312: Python 3.12 + the real ttnn 0.81.1 wheel (pinned in requirements.txt),
# the ground truth that tests/conformance compares the simulator against. No torch in this venv.
#
# Idempotent: a stamp (hash of requirements.txt and the interpreter) makes a second run a no-op.
# Finds python3.12 via $TTFUSE_PYTHON312, PATH (pyenv shims included) or $(pyenv root)/versions/3.12*.
# Usage: bash conformance/setup_venv.sh [--force]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv312"
STAMP="$VENV/.ttfuse-stamp"
REQS="$HERE/requirements.txt"
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

want_stamp() { { cat "$REQS"; echo "python=$("$VENV/bin/python" -c 'import sys; print(sys.version)')"; } | sha256sum | cut -d' ' -f1; }

# One setup at a time (parallel test sessions may call this together).
exec 9>"$HERE/.venv312.lock"
flock 9 2>/dev/null || true

if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && is_py312 "$VENV/bin/python" && [ "$(cat "$STAMP")" = "$(want_stamp)" ]; then
    say "up to date: $VENV (ttnn $(grep '^ttnn==' "$REQS" | cut -d= -f3)); --force to reinstall"
    exit 0
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

say "installing pinned requirements (ttnn wheel is ~100 MB) from $REQS"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS"

say "smoke test: ttnn host conversion with the mock Wormhole n150 cluster"
TT_METAL_MOCK_CLUSTER_DESC_PATH="$HERE/cluster/wormhole_n150.yaml" TT_METAL_LOGGER_LEVEL=ERROR \
    "$VENV/bin/python" - >/dev/null 2>"$VENV/smoke.log" <<'EOF' || { say "ERROR: smoke test failed:"; tail -20 "$VENV/smoke.log"; exit 1; }
import numpy as np
import ttnn
t = ttnn.Tensor(np.ones((32, 32), np.float32), ttnn.bfloat8_b)
assert (ttnn.to_dtype(t, ttnn.float32).to_numpy() == 1.0).all()
EOF

want_stamp >"$STAMP"
say "done in $(( $(date +%s) - START )) s: $VENV"
