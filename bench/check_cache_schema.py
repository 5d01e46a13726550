"""Compile every bench case into a temporary cache and check every entry written against the entry schema.

    python bench/check_cache_schema.py [CASE-PATTERN ...] [--arch wormhole_b0|blackhole]

The schema (ttfuse/cache_schema.py) must accept everything the compiler really writes: an entry it rejects is
recompiled on every load. This runs each available case of bench/cases.py once at its first quick size (the JIT
callable only: fused kernels, selected configs, sharded specs, meshes, pytree results), then runs
`check_entry` on every entry in the cache and loads each one through a fresh jit object (disk hit, no
load_error). Prints one line per case and per rejected entry; exits 1 when anything was rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import CASES, select  # noqa: E402
from ttfuse import cache, ttnn  # noqa: E402
from ttfuse.cache_schema import SchemaError, check_entry  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patterns", nargs="*")
    ap.add_argument("--arch", default="wormhole_b0")
    args = ap.parse_args(argv)
    bad = 0
    n_entries = 0
    with cache.fresh_cache() as root:
        dev = ttnn.open_device(device_id=0, arch=args.arch)
        try:
            for case in select(args.patterns or None, CASES):
                why = case.unavailable()
                if why:
                    print(f"skip  {case.name}: {why}")
                    continue
                try:
                    built = case.build(case.quick[0], dev)
                    built.jit(*built.inputs.tt)  # compile and store
                    cache.clear_memory()
                    reads, errors = cache.counters.disk_read, cache.counters.load_error
                    built.jit(*built.inputs.tt)  # a warm start: every entry loads from disk
                    warm = cache.counters.disk_read - reads
                    print(
                        f"ok    {case.name}: {warm} disk hit(s), {cache.counters.load_error - errors} load errors"
                    )
                except Exception as e:  # noqa: BLE001 - a failing case is reported, the sweep goes on
                    print(f"FAIL  {case.name}: {type(e).__name__}: {e}")
                    traceback.print_exc()
                    bad += 1
        finally:
            ttnn.close_device(dev)
        for p in sorted(root.glob(f"v{cache.SCHEMA_VERSION}/??/*.json")):
            n_entries += 1
            entry = json.loads(p.read_text())
            t0 = time.perf_counter()
            try:
                check_entry(entry)
                ms = (time.perf_counter() - t0) * 1e3
                print(
                    f"entry {p.name[:12]} {entry['function']}: {len(entry['graph']['nodes'])} nodes, {ms:.1f} ms"
                )
            except SchemaError as e:
                bad += 1
                print(f"REJECTED {p.name[:12]} {entry.get('function')}: {e}")
        print(f"{n_entries} entries checked, load_error={cache.counters.load_error}")
    return 1 if bad or cache.counters.load_error else 0


if __name__ == "__main__":
    sys.exit(main())
