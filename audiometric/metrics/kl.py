"""Paired KL divergence between classifier predictions of generated and reference clips.

Direction (as audioldm_eval ``metrics/kl.py``): the reference clip's prediction is the target and the
generated clip's prediction goes inside the log, so each pair contributes
``KL(ref || gen) = sum_c r_c (log r_c - log(g_c + 1e-6))``. Lower is better. Clips are paired by clip
name (the file's path relative to its set's folder; audioldm_eval pairs flat folders by basename, the
same thing there), and KL is only defined when (nearly) every clip has a partner.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.protocol import Estimate, MetricInput, gather
from audiometric.metrics.special import expit, softmax, xlogy

#: Added to the generated probabilities before the log, as in audioldm_eval.
KL_EPS = 1e-6


def pairing(gen_names: Sequence[str], ref_names: Sequence[str], threshold: float = 0.99) -> list[tuple[int, int]] | str:
    """Pair generated and reference clips by name (as given: clip names relative to their folders).

    Returns ``(gen_index, ref_index)`` pairs sorted by name when the shared names are more than
    ``threshold`` of BOTH sets (audioldm_eval ``get_filename_intersection_ratio``); otherwise a
    one-line reason why paired KL is skipped.
    """
    gen = [str(n) for n in gen_names]
    ref = [str(n) for n in ref_names]
    if not gen or not ref:
        return f"KL skipped: {len(gen)} generated and {len(ref)} reference files; both sets must be non-empty"
    for label, names in (("generated", gen), ("reference", ref)):
        dup = [name for name, k in Counter(names).items() if k > 1]
        if dup:
            return (
                f"KL skipped: {len(dup)} name(s) occur more than once among the {label} files "
                f"(e.g. '{sorted(dup)[0]}'), so clips cannot be paired by name"
            )
    gen_index = {name: i for i, name in enumerate(gen)}
    ref_index = {name: i for i, name in enumerate(ref)}
    shared = sorted(set(gen_index) & set(ref_index))
    if len(shared) / len(gen) > threshold and len(shared) / len(ref) > threshold:
        return [(gen_index[name], ref_index[name]) for name in shared]
    return (
        f"KL skipped: only {len(shared)} of {len(gen)} generated names match the {len(ref)} reference names "
        f"(paired KL needs more than {threshold:.0%} of both sets to share names)"
    )


def pair_clips(
    gen_names: Sequence[str], ref_names: Sequence[str], threshold: float = 0.99
) -> tuple[list[tuple[int, int]], str]:
    """:func:`pairing`, falling back to file stems when the names differ only by extension.

    Returns the pairs and a note (``""`` for exact names; which stems were matched otherwise); raises
    ``AudiometricError`` with the reason when neither names nor stems pair.
    """
    exact = pairing(gen_names, ref_names, threshold)
    if isinstance(exact, list):
        return exact, ""
    stem = lambda names: [os.path.splitext(str(n))[0] for n in names]  # noqa: E731
    by_stem = pairing(stem(gen_names), stem(ref_names), threshold)
    if isinstance(by_stem, list):
        g, r = by_stem[0]
        return by_stem, (
            f"paired by file stem: the names differ only by their extensions (e.g. {gen_names[g]} with {ref_names[r]})"
        )
    shared = len(set(stem(gen_names)) & set(stem(ref_names)))
    if shared > len(set(map(str, gen_names)) & set(map(str, ref_names))):
        raise AudiometricError(
            f"{exact}; {shared} names match once extensions are ignored, but pairing by "
            f"stem fails too ({by_stem.removeprefix('KL skipped: ')})"
        )
    raise AudiometricError(exact)


def compute(data: MetricInput) -> dict[str, Estimate]:
    """Both KL variants over name-paired clips (the pipeline aligns ``data.gen`` with ``data.ref``)."""
    fields = {"n_pairs": len(data.gen), "direction": "KL(reference || generated), averaged over name-paired clips"}

    def variant(func):
        return lambda g_idx, r_idx: func(gather(data.gen, g_idx), gather(data.ref_clips, r_idx))

    return {
        name: Estimate(variant(func)(None, None), dict(fields), variant(func))
        for name, func in (("kl_softmax", kl_softmax), ("kl_sigmoid", kl_sigmoid))
    }


def kl_softmax(gen_logits: np.ndarray, ref_logits: np.ndarray) -> float:
    """Mean over pairs of ``KL(softmax(ref) || softmax(gen) + 1e-6)``, float64; inputs ``(M, C)`` paired rows.

    Equals ``F.kl_div(log(softmax(gen) + 1e-6), softmax(ref), reduction='sum') / M``.
    """
    g, r = _paired(gen_logits, ref_logits)
    return _kl_sum(softmax(g, axis=1), softmax(r, axis=1)) / g.shape[0]


def kl_sigmoid(gen_logits: np.ndarray, ref_logits: np.ndarray) -> float:
    """As :func:`kl_softmax` with per-class sigmoids: ``sum_c s(r_c) (log s(r_c) - log(s(g_c) + 1e-6)) / M``.

    Like the reference, only the positive-class term is summed (not a full Bernoulli KL), so single
    terms can be negative.
    """
    g, r = _paired(gen_logits, ref_logits)
    return _kl_sum(expit(g), expit(r)) / g.shape[0]


def _kl_sum(p_gen: np.ndarray, p_ref: np.ndarray) -> float:
    # audioldm_eval metrics/kl.py (torch kl_div, target=ref): sum target * (log target - log(gen + eps)), 0 log 0 = 0.
    return float(np.sum(xlogy(p_ref, p_ref) - p_ref * np.log(p_gen + KL_EPS)))


def _paired(gen_logits: np.ndarray, ref_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(gen_logits, dtype=np.float64)
    r = np.asarray(ref_logits, dtype=np.float64)
    if g.ndim != 2 or g.shape != r.shape or g.shape[0] == 0:
        raise AudiometricError(f"KL needs paired (clips, classes) logits of equal shape, got {g.shape} and {r.shape}")
    if not (np.isfinite(g).all() and np.isfinite(r).all()):
        raise AudiometricError("KL: logits contain NaN or Inf; check the classifier output")
    return g, r


__all__ = ["KL_EPS", "compute", "kl_sigmoid", "kl_softmax", "pair_clips", "pairing"]
