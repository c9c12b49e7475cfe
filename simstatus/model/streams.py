"""Named random streams and the time quantum.

Every source of randomness (heartbeats of each host, each fault entry, the monitor, the
tenants, the scenario's random host picks) draws from its own ``numpy.random.Generator``,
derived from the scenario seed and the *name* of the source, so adding a fault entry or a
host never shifts the draws of another source.  There is no global random state.

Random instants and durations are quantised to :data:`QUANTUM` (2⁻²⁰ s ≈ 0.95 µs).  With
binary-fraction times, sums such as ``last_seen_up + service_down_time`` are exact, so
Nova's inclusive ``<=`` boundary behaves exactly (six heartbeats 10 s apart renew a 60 s
window exactly on its edge, as in Nova) instead of flickering on rounding errors.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["QUANTUM", "EPSILON", "quantize", "stream"]

#: Resolution of every random time in the model, in seconds.
QUANTUM = 2.0**-20
#: Half a quantum: "just after" an instant, before anything else can happen.
EPSILON = QUANTUM / 2


def quantize(x: float | np.ndarray) -> float | np.ndarray:
    """Round seconds to the model's time quantum (arrays stay arrays)."""
    if isinstance(x, np.ndarray):
        return np.round(x / QUANTUM) * QUANTUM
    if x == float("inf"):
        return x
    return round(float(x) / QUANTUM) * QUANTUM


def stream(seed: int, name: str, *index: int) -> np.random.Generator:
    """The generator of source ``name`` (and sub-index, e.g. a host number) for ``seed``."""
    key = (zlib.crc32(name.encode("utf-8")), *index)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))
