"""Interference: clips from ``k`` other classes mixed into the target, each at the same fixed SNR.

For a target of class ``target_label``, ``k = severity`` distinct classes other than the target's are
drawn from the pool, one clip from each; every interferer is cropped (random offset) or looped to the
target's length, matched to its channels (mono is copied to every channel, other layouts are
downmixed first), and scaled so that the target-to-interferer power ratio is exactly ``snr_db``.
Silent interferers (or silent crops) are skipped, recorded, and replaced by another clip of the same
class, then by another class.
"""

from __future__ import annotations

import numpy as np

from ._audio import as_channels, mean_power, restore, target_power
from .errors import CorruptionError, PoolError
from .pool import Pool
from .registry import Corruption, Param


def fit_length(clip: np.ndarray, n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Crop ``clip`` ``(channels, samples)`` at a random offset, or loop it from its start, to ``n_samples``."""
    length = clip.shape[-1]
    if length >= n_samples:
        offset = int(rng.integers(0, length - n_samples + 1))
        return clip[:, offset : offset + n_samples], {"offset": offset, "looped": False}
    return clip[:, np.arange(n_samples) % length], {"offset": 0, "looped": True}


def match_channels(clip: np.ndarray, channels: int) -> tuple[np.ndarray, str]:
    """``clip`` with ``channels`` channels: as is, mono copied to each channel, or downmixed then copied."""
    if clip.shape[0] == channels:
        return clip, "kept"
    mono = clip.mean(axis=0, keepdims=True)
    return np.repeat(mono, channels, axis=0), "copied" if clip.shape[0] == 1 else "downmixed"


def interference(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    severity: int,
    pool: Pool,
    target_label: str,
    snr_db: float = 0.0,
) -> tuple[np.ndarray, dict]:
    """Mix ``severity`` clips from distinct classes other than ``target_label`` into ``audio`` at ``snr_db`` each.

    ``severity`` (count, 0 returns ``audio`` unchanged) is the number of interferers. Raises
    :class:`SilentTargetError` for a silent target and :class:`PoolError` when fewer than ``severity``
    classes other than the target's have a non-silent clip.
    """
    k = int(CORRUPTION.check(severity))
    if k != severity:
        raise CorruptionError(f"interference: severity is a count of interferers, got {severity}")
    if k == 0:
        return audio, {"severity": 0}
    x, mono = as_channels(audio)
    target = target_power("interference", x)
    eligible = [c for c in pool.classes() if c != target_label]
    if len(eligible) < k:
        raise PoolError(
            f"pool {pool.source} has {len(eligible)} classes other than '{target_label}', need {k}; "
            "lower the severity or add classes"
        )
    mix = x.copy()
    used: list[dict] = []
    skipped: list[dict] = []
    for label in rng.permutation(eligible):
        if len(used) == k:
            break
        found = _interferer(pool, str(label), x.shape, rng, sample_rate, target, snr_db, skipped)
        if found is None:
            skipped.append({"class": str(label), "reason": "no non-silent clip"})
            continue
        mix += found[0]
        used.append(found[1])
    if len(used) < k:
        raise PoolError(
            f"pool {pool.source} has only {len(used)} classes other than '{target_label}' with a non-silent clip, "
            f"need {k}; lower the severity or fix the pool"
        )
    out = restore(mix, mono)
    added = np.asarray(out, dtype=np.float64) - np.asarray(restore(x, mono), dtype=np.float64)
    return out, {
        "severity": k,
        "snr_db": float(snr_db),
        "target_label": target_label,
        "interferers": used,
        "skipped": skipped,
        "realised_total_snr_db": float(10.0 * np.log10(target / mean_power(added))),
    }


def _interferer(
    pool: Pool,
    label: str,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    sample_rate: int,
    target: float,
    snr_db: float,
    skipped: list[dict],
) -> tuple[np.ndarray, dict] | None:
    """A random non-silent clip of class ``label``, fitted to ``shape`` ``(channels, samples)`` and scaled so
    that ``target`` power is ``snr_db`` above it, with its record; silent ones go to ``skipped``; ``None``
    when the class has no non-silent clip."""
    for index in rng.permutation(len(pool.clips(label))):
        clip, info = pool.load(pool.clips(label)[int(index)], sample_rate)
        segment, placement = fit_length(clip, shape[-1], rng)
        segment, channels = match_channels(segment, shape[0])
        info.update(placement, channels=channels)
        segment_power = mean_power(segment)
        if segment_power == 0.0:
            skipped.append({**info, "reason": "silent"})
            continue
        # SNR = 10 log10(P_target / (g^2 P_segment)) solved for the gain g
        gain = float(np.sqrt(target / (segment_power * 10.0 ** (snr_db / 10.0))))
        scaled = gain * segment
        rounded = np.asarray(scaled, dtype=np.float32)  # as stored in a float32 output
        info.update(gain=gain, realised_snr_db=float(10.0 * np.log10(target / mean_power(rounded))))
        return scaled, info
    return None


POOL_INPUTS = (
    Param(
        name="pool",
        unit="-",
        default=None,
        range="Pool",
        doc="labelled clips: a folder per class or a path,label CSV (CLI: --pool)",
        type=Pool,
    ),
    Param(
        name="target_label",
        unit="-",
        default=None,
        range="class name",
        doc="the target's own class, never drawn (CLI: --labels or --target-label)",
        type=str,
    ),
)

CORRUPTION = Corruption(
    name="interference",
    summary="k clips from k distinct other classes mixed into each target, each at the same SNR",
    apply=interference,
    severity=Param(
        name="severity",
        unit="count",
        default=0,
        range="<= classes other than the target's",
        doc="number k of interfering clips",
        type=int,
        bounds=(0, 10),
    ),
    levels=(0, 1, 2, 3),
    axis="interferers per clip",
    params=(
        Param(
            name="snr_db",
            unit="dB",
            default=0.0,
            range="any",
            doc="target-to-interferer power ratio, the same for every interferer",
        ),
    ),
    inputs=POOL_INPUTS,
)
