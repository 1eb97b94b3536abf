"""CLAP score: the mean cosine similarity between name-paired embeddings (Wu et al. 2023, LAION CLAP).

``clap_score`` pairs each generated clip's CLAP audio embedding with its caption's text embedding (text
adherence, as AudioLDM 2, Make-An-Audio 2 and audiocraft report it); ``clap_pair`` pairs it with the audio
embedding of the reference clip of the same name. The pipeline gives ``gen`` and ``ref`` index-aligned
(one pair per index), so both are the same computation. Some papers print the score ×100; the number
depends on the checkpoint (0.13 vs 0.31 for one system in audiocraft issue 512), so results record its
digest.
"""

from __future__ import annotations

import numpy as np

from audiometric.metrics.protocol import Estimate, MetricInput


def pair_cosines(gen: list[np.ndarray], ref: list[np.ndarray]) -> np.ndarray:
    """Cosine of each index-aligned pair ``(n,)``; a clip of several rows (frames) is their mean row first."""
    a = np.stack([clip.astype(np.float64).mean(axis=0) for clip in gen])
    b = np.stack([clip.astype(np.float64).mean(axis=0) for clip in ref])
    # cosine similarity: a·b / (|a| |b|)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def compute(data: MetricInput) -> dict[str, Estimate | str]:
    """The mean pair cosine (−1 to 1, higher: closer), with a paired-resample replicate."""
    cosines = pair_cosines(data.gen, data.ref_clips)
    return {
        data.name: Estimate(
            float(cosines.mean()),
            fields={"n_pairs": int(cosines.size), "std_pairs": float(cosines.std())},
            replicate=lambda gen_idx, ref_idx: float(cosines[gen_idx].mean()),
        )
    }
