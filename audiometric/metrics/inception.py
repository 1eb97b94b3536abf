"""Inception Score on classifier logits (PANNs Cnn14's 527 AudioSet classes)."""

from __future__ import annotations

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.protocol import Estimate, MetricInput, gather
from audiometric.metrics.special import log_softmax, logsumexp

#: audioldm_eval / torch-fidelity defaults: 10 splits, shuffled with seed 2020 (the registry's IS defaults).
IS_SPLITS = 10
IS_SEED = 2020


def inception_score(logits: np.ndarray, splits: int = IS_SPLITS, seed: int | None = IS_SEED) -> tuple[float, float]:
    """Inception Score mean and standard deviation (ddof 0) over ``splits`` subsets.

    ``logits``: ``(N, C)`` pre-softmax class scores of the generated clips. Rows are shuffled with
    ``np.random.RandomState(seed).permutation(N)`` (``seed=None`` keeps the given order), split by
    ``[i*N//splits : (i+1)*N//splits]``, and each split scores
    ``exp(mean_rows KL(p(y|x) || mean_rows p(y|x)))``, all in float64 -- the recipe of audioldm_eval
    ``metrics/isc.py`` / torch-fidelity with their defaults (10 splits, seed 2020). Higher is better;
    the range is 1 (uniform or identical predictions) to C.
    """
    x = np.asarray(logits)
    if x.ndim != 2 or x.shape[1] < 2:
        raise AudiometricError(f"Inception score needs a (clips, classes) logit array, got shape {x.shape}")
    n = x.shape[0]
    if splits < 1 or n < splits:
        raise AudiometricError(f"Inception score with {splits} splits needs at least {splits} clips, got {n}")
    if not np.isfinite(x).all():
        raise AudiometricError("Inception score: logits contain NaN or Inf; check the classifier output")
    if seed is not None:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(x.astype(np.float64), axis=1)
    scores = []
    for i in range(splits):
        chunk = log_p[i * n // splits : (i + 1) * n // splits]
        # Salimans et al. (2016): IS = exp(E_x KL(p(y|x) || p(y))), p(y) the split's mean prediction.
        log_marginal = logsumexp(chunk, axis=0) - np.log(chunk.shape[0])
        kl = np.sum(np.exp(chunk) * (chunk - log_marginal), axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def compute(data: MetricInput) -> dict[str, Estimate]:
    """Set-level IS of the generated clips' logits (no reference): mean, std over the registry's splits."""
    splits, seed = data.params["splits"], data.params["seed"]
    mean, std = inception_score(gather(data.gen), splits, seed)

    def replicate(g_idx: np.ndarray, _: np.ndarray | None) -> float:
        return inception_score(gather(data.gen, g_idx), splits, seed)[0]

    return {data.name: Estimate(mean, {"std": std}, replicate)}


__all__ = ["IS_SEED", "IS_SPLITS", "compute", "inception_score"]
