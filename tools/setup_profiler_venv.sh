#!/usr/bin/env bash
# Make .venv-profiler: Python 3.11 with the readers of the simulator's profiler output, tt-perf-report and
# ttnn-visualizer (pinned in tools/requirements-profiler.txt). A venv of their own: their pins (matplotlib==3.10.9,
# pydantic==2.12.5, Flask, gevent) would replace packages of the main .venv. Used by tests/test_profiler_readers.py
# (through tools/read_profile.py) and docs/profiler.md. Idempotent: a stamp (hash of the requirements file and the
# interpreter) makes a second run a no-op (~0.1 s); cold it takes about a minute.
# Usage: bash tools/setup_profiler_venv.sh [--force] [--venv PATH]   ($TTFUSE_PROFILER_VENV also names the venv)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
VENV="${TTFUSE_PROFILER_VENV:-$REPO/.venv-profiler}"
FORCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --venv) VENV="$2"; shift ;;
        *) echo "usage: $0 [--force] [--venv PATH]" >&2; exit 2 ;;
    esac
    shift
done
PY="${PY:-python3.11}"
REQS="$HERE/requirements-profiler.txt"
KEY="$( (cat "$REQS"; "$PY" -c 'import sys; print(sys.version)') | cksum | cut -d' ' -f1)"
STAMP="$VENV/.ttfuse-stamp-$KEY"
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
echo "[setup_profiler_venv] installing tt-perf-report and ttnn-visualizer into $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -r "$REQS"
"$VENV/bin/python" -c "import tt_perf_report.perf_report, ttnn_visualizer.app"
rm -f "$VENV"/.ttfuse-stamp-*
touch "$STAMP"
