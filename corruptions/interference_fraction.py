"""Set-level interference: a ``severity`` fraction of the clips in a set get ``k`` interferers each.

:func:`select` picks exactly ``round(severity * n)`` of the set's ``n`` clip names (independent of
processing order); each selected clip is corrupted by :func:`corruptions.interference.interference`
with ``k`` interferers at ``snr_db``, the others are left unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .interference import POOL_INPUTS, interference
from .pool import Pool
from .registry import Corruption, Param


def select(names: Sequence[str], severity: float, rng: np.random.Generator) -> set[str]:
    """Exactly ``round(severity * len(names))`` distinct names, drawn uniformly (order of ``names`` irrelevant)."""
    s = CORRUPTION.check(severity)
    ordered = sorted(set(names))
    count = round(s * len(ordered))
    return {ordered[i] for i in rng.choice(len(ordered), size=count, replace=False)}


def interference_fraction(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    severity: float,
    pool: Pool,
    target_label: str,
    k: int = 1,
    snr_db: float = 0.0,
) -> tuple[np.ndarray, dict]:
    """Corrupt one clip that :func:`select` picked: ``k`` interferers at ``snr_db`` (``severity == 0``: unchanged)."""
    s = CORRUPTION.check(severity)
    if s == 0.0:
        return audio, {"severity": 0.0}
    out, record = interference(audio, sample_rate, rng, k, pool, target_label, snr_db)
    return out, {**record, "severity": s, "k": int(k)}


CORRUPTION = Corruption(
    name="interference_fraction",
    summary="a fraction of the set's clips each get k interferers from other classes at a fixed SNR",
    apply=interference_fraction,
    severity=Param(
        name="severity",
        unit="fraction",
        default=0.0,
        range="",
        doc="fraction of the set's clips that are corrupted",
        bounds=(0.0, 1.0),
    ),
    levels=(0, 0.25, 0.5, 0.75, 1.0),
    axis="fraction of clips corrupted",
    params=(
        Param(
            name="k",
            unit="count",
            default=1,
            range="1..10 (<= classes other than the target's)",
            doc="interferers per corrupted clip",
            type=int,
        ),
        Param(
            name="snr_db",
            unit="dB",
            default=0.0,
            range="any",
            doc="target-to-interferer power ratio, the same for every interferer",
        ),
    ),
    inputs=POOL_INPUTS,
    select=select,
)
