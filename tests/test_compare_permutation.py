"""Sample-space FD equals the sqrtm FD; its permutation test is calibrated under the null and has power."""

import numpy as np
import pytest
from scipy import linalg

from audiometric.metrics.frechet import ReferenceGaussian
from audiometric.scoring.compare_permutation import PooledFrechet, frechet_gram, frechet_permutation_test


def _sqrtm_fd(x: np.ndarray, y: np.ndarray) -> float:
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize(("n1", "n2", "d"), [(30, 40, 64), (25, 25, 128)])
def test_gram_fd_matches_sqrtm(n1: int, n2: int, d: int) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(n1, d)), rng.normal(0.3, 1.2, size=(n2, d))
    assert frechet_gram(x, y) == pytest.approx(_sqrtm_fd(x, y), rel=1e-6)


def test_pooled_subset_matches_direct() -> None:
    rng = np.random.default_rng(2)
    z, ref = rng.normal(size=(50, 80)), rng.normal(size=(30, 80))
    idx = rng.permutation(50)[:20]
    assert PooledFrechet(z, ReferenceGaussian.from_rows(ref))(idx) == pytest.approx(frechet_gram(z[idx], ref), rel=1e-9)


def test_null_rejection_rate_and_power() -> None:
    rng = np.random.default_rng(3)
    trials, n, d = 200, 12, 4
    rejected = 0
    for t in range(trials):
        a, b, ref = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d))
        rejected += frechet_permutation_test(a, b, ref, n_perm=99, seed=t)[1] <= 0.05
    # binomial(200, 0.05) 99 % interval is about [3, 19]
    assert 3 <= rejected <= 19
    detected = 0
    for t in range(40):
        a, ref = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        b = rng.normal(1.5, 1.0, size=(n, d))  # effect size: mean shift of 1.5 sd on every dimension
        detected += frechet_permutation_test(a, b, ref, n_perm=99, seed=t)[1] <= 0.05
    assert detected >= 38
