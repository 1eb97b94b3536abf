"""Metrics on arrays you already have (embeddings or logits extracted elsewhere): numpy in, floats out.

Thin, documented entry points over :mod:`audiometric.metrics` with the same arithmetic ``score`` uses,
so a number computed here equals the one ``audiometric score`` reports for the same rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from audiometric import metrics
from audiometric.errors import AudiometricError


def frechet_distance(x: np.ndarray, y: np.ndarray, compat: bool = False) -> float:
    """Fréchet distance between Gaussians fitted to rows ``x`` ``(n1, d)`` (generated) and ``y`` ``(n2, d)``
    (reference), in feature units squared; lower is better. ``compat=True``: audioldm_eval's arithmetic
    (float32 means, scipy ``sqrtm``). FD on PANNs Cnn14 embeddings, FAD on VGGish embeddings."""
    return metrics.frechet_from_features(x, y, compat=compat)


def inception_score(logits: np.ndarray, splits: int = 10, seed: int | None = 2020) -> tuple[float, float]:
    """Inception Score ``(mean, std)`` of generated-clip logits ``(N, C)`` (audioldm_eval's recipe:
    10 splits after a seeded permutation); higher is better."""
    return metrics.inception_score(logits, splits=splits, seed=seed)


def kl(gen_logits: np.ndarray, ref_logits: np.ndarray, variant: Literal["softmax", "sigmoid"] = "softmax") -> float:
    """Mean paired ``KL(reference || generated)`` of class predictions; row i of ``gen_logits`` ``(M, C)`` is
    paired with row i of ``ref_logits`` ``(M, C)``. ``variant`` picks softmax or per-class sigmoid
    probabilities, as audioldm_eval's two KL numbers; lower is better."""
    funcs = {"softmax": metrics.kl_softmax, "sigmoid": metrics.kl_sigmoid}
    if variant not in funcs:
        raise AudiometricError(f"kl: variant must be 'softmax' or 'sigmoid', got {variant!r}")
    return funcs[variant](gen_logits, ref_logits)


def kernel_audio_distance(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """KAD (unbiased Gaussian-kernel MMD² × 100, Chung et al. 2025) between rows ``x`` ``(n, d)`` and ``y``
    ``(m, d)``; ``bandwidth`` (feature units) defaults to the reference rows' median pairwise distance."""
    return metrics.kernel_audio_distance(x, y, bandwidth=bandwidth)


__all__ = ["frechet_distance", "inception_score", "kernel_audio_distance", "kl"]
