"""Device addresses for the profiler's buffer report: a first-fit model of ttnn's bank allocators.

The simulator's allocator counts bytes only (ttfuse/sim/device.py); ttnn's report lists, after every op, each
live buffer's address and its size per bank (`buffers` table). This model gives each allocation an address while
a profile is active: an interleaved buffer of n bytes takes ceil(n / banks) bytes in every bank (32-byte aligned),
L1 over the compute cores' banks, DRAM over the chip's DRAM banks; first fit from the bottom of the bank. The
addresses are a model (ttnn's L1 allocator works top-down and keeps per-core regions), consistent within one
report: no two live buffers overlap, and a freed range is reused.
"""

from __future__ import annotations

import bisect

ALIGN = 32

# Bytes of L1 per Tensix core, of which the tail `DeviceSpec.l1_per_core` is free for buffers
# (tt-metal tt_metal/hw/inc/{wormhole,blackhole}/dev_mem_map.h: MEM_L1_SIZE 1464 KiB and 1536 KiB).
WORKER_L1_SIZE = {"wormhole_b0": 1464 * 1024, "blackhole": 1536 * 1024}

BUFFER_TYPE_CODE = {"DRAM": 0, "L1": 1}  # ttnn BufferType: DRAM 0, L1 1, SYSTEM_MEMORY 2, L1_SMALL 3, TRACE 4


def worker_l1_size(spec) -> int:
    return WORKER_L1_SIZE.get(spec.arch, spec.l1_per_core)


def l1_base(spec) -> int:
    """Address of the first byte of an L1 bank that buffers may use."""
    return worker_l1_size(spec) - spec.l1_per_core


def banks(spec, kind: str) -> int:
    return spec.num_cores if kind == "L1" else spec.dram_banks


def per_bank(nbytes: int, spec, kind: str) -> int:
    n = -(-nbytes // max(banks(spec, kind), 1))
    return -(-n // ALIGN) * ALIGN


class _Bank:
    """Free-list first fit over one bank's address range."""

    def __init__(self, base: int, size: int):
        self.base, self.end = base, base + size
        self.used: list[tuple[int, int]] = []  # sorted (start, end)

    def take(self, n: int) -> int:
        at = self.base
        for s, e in self.used:
            if s - at >= n:
                break
            at = max(at, e)
        # past the end: the simulator already checked capacity (it counts bytes, not fragments): place it anyway
        bisect.insort(self.used, (at, at + n))
        return at

    def give(self, start: int, n: int) -> None:
        try:
            self.used.remove((start, start + n))
        except ValueError:
            pass


class AddressModel:
    def __init__(self):
        self.banks: dict[tuple[int, str], _Bank] = {}
        self.live: dict = {}  # Allocation -> (address, per-bank bytes, kind)

    def _bank(self, chip, kind: str) -> _Bank:
        b = self.banks.get((id(chip), kind))
        if b is None:
            spec = chip.spec
            if kind == "L1":
                b = _Bank(l1_base(spec), spec.l1_per_core)
            else:
                b = _Bank(0, spec.dram_bytes // max(spec.dram_banks, 1))
            self.banks[(id(chip), kind)] = b
        return b

    def alloc(self, a, buffer_type) -> None:
        n = per_bank(a.nbytes, a.chip.spec, a.kind)
        self.live[a] = (self._bank(a.chip, a.kind).take(n), n, a.kind)

    def free(self, a) -> None:
        got = self.live.pop(a, None)
        if got is not None:
            self._bank(a.chip, got[2]).give(got[0], got[1])

    def address(self, a) -> int | None:
        got = self.live.get(a)
        return got[0] if got is not None else None

    def live_on(self, chip) -> list[tuple[int, int, str]]:
        """(address, per-bank bytes, kind) of every buffer live on `chip` now, by address."""
        return sorted(v for a, v in self.live.items() if a.chip is chip)
