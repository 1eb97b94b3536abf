"""MomentAccumulator: exactness against numpy, stability at large offsets, merging, storage, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from audiometric.errors import AudiometricError
from audiometric.metrics.moments import MomentAccumulator


def _accumulate(x: np.ndarray, batch: int) -> MomentAccumulator:
    acc = MomentAccumulator(x.shape[1])
    for i in range(0, len(x), batch):
        acc.update(x[i : i + batch])
    return acc


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("batch", [1, 7, 64, 1000])
def test_matches_numpy_mean_and_cov(batch: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((531, 12)) @ rng.standard_normal((12, 12)) + rng.standard_normal(12) * 5
    acc = _accumulate(x, batch)
    assert acc.count == 531
    assert _rel(acc.mean, x.mean(axis=0)) < 1e-12
    assert _rel(acc.cov(), np.cov(x, rowvar=False)) < 1e-12
    assert _rel(acc.cov(ddof=0), np.cov(x, rowvar=False, ddof=0)) < 1e-12


def test_large_offset_where_the_naive_formula_fails() -> None:
    rng = np.random.default_rng(1)
    offset = 1e6
    x = offset + rng.standard_normal((4000, 6))
    # x - offset is exact in float64 (Sterbenz), so this reference carries no cancellation error.
    ref_cov = np.cov(x - offset, rowvar=False)
    ref_mean = (x - offset).mean(axis=0) + offset

    naive = (x.T @ x - len(x) * np.outer(x.mean(0), x.mean(0))) / (len(x) - 1)
    assert _rel(naive, ref_cov) > 1e-3  # sum(x x^T) - n mu mu^T has lost most digits

    acc = _accumulate(x, 333)
    assert _rel(acc.mean, ref_mean) < 1e-12
    assert _rel(acc.cov(), ref_cov) < 1e-12
    merged = MomentAccumulator(6)
    for part in np.array_split(x, 7)[::-1]:
        merged.merge(MomentAccumulator(6).update(part))
    assert _rel(merged.cov(), ref_cov) < 1e-12


def test_merge_any_split_and_order_equals_all_at_once() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 5)) * [1, 2, 3, 4, 5] + 100.0
    whole = _accumulate(x, 400)
    for trial in range(5):
        cuts = np.sort(rng.choice(np.arange(1, 400), size=trial + 1, replace=False))
        parts = [MomentAccumulator(5).update(p) for p in np.split(x, cuts)]
        merged = MomentAccumulator(5)
        for k in rng.permutation(len(parts)):
            merged.merge(parts[k])
        assert merged.count == whole.count
        assert _rel(merged.mean, whole.mean) < 1e-12
        assert _rel(merged.scatter, whole.scatter) < 1e-12


def test_merge_with_empty_and_dimension_mismatch() -> None:
    x = np.random.default_rng(3).standard_normal((10, 3))
    acc = MomentAccumulator(3).update(x)
    before = acc.scatter
    acc.merge(MomentAccumulator(3))
    np.testing.assert_array_equal(acc.scatter, before)
    assert MomentAccumulator(3).merge(acc).count == 10
    with pytest.raises(AudiometricError, match="dimension"):
        acc.merge(MomentAccumulator(4))


def test_frequency_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 4)) + 3.0
    w = rng.integers(0, 4, size=50)
    weighted = MomentAccumulator(4).update(x, weights=w)
    repeated = MomentAccumulator(4).update(np.repeat(x, w, axis=0))
    assert weighted.count == int(w.sum())
    assert _rel(weighted.mean, repeated.mean) < 1e-12
    assert _rel(weighted.cov(), repeated.cov()) < 1e-12
    batch = MomentAccumulator(4).update(x, weights=3)
    assert _rel(batch.cov(), np.cov(np.repeat(x, 3, axis=0), rowvar=False)) < 1e-12
    with pytest.raises(ValueError):
        MomentAccumulator(4).update(x, weights=np.full(50, 0.5))


def test_cov_needs_two_rows_and_rejects_bad_rows() -> None:
    acc = MomentAccumulator(3).update(np.ones((1, 3)))
    with pytest.raises(AudiometricError, match="more than 1"):
        acc.cov()
    with pytest.raises(ValueError):
        acc.update(np.ones((2, 4)))
    with pytest.raises(AudiometricError, match="NaN"):
        acc.update(np.array([[1.0, np.nan, 0.0]]))


def test_state_round_trip_and_validation() -> None:
    x = np.random.default_rng(7).standard_normal((40, 4)) + 1e5
    acc = MomentAccumulator(4).update(x)
    back = MomentAccumulator.from_state(acc.state())
    assert back.count == 40
    np.testing.assert_array_equal(back.mean, acc.mean)
    np.testing.assert_array_equal(back.cov(), acc.cov())
    more = np.random.default_rng(8).standard_normal((25, 4)) + 1e5
    back.update(more)  # a reloaded accumulator keeps accumulating; only the mean's last bit was rounded
    assert _rel(back.cov(), np.cov(np.concatenate([x, more]) - 1e5, rowvar=False)) < 1e-10
    with pytest.raises(AudiometricError, match="missing"):
        MomentAccumulator.from_state({"count": np.array(3), "mean": np.zeros(2)})
    with pytest.raises(AudiometricError, match="corrupt"):
        MomentAccumulator.from_state({"count": np.array(3), "mean": np.zeros(2), "scatter": np.zeros((3, 3))})


def test_memory_does_not_grow_with_rows() -> None:
    d, batch = 32, 200
    rng = np.random.default_rng(6)
    data = rng.standard_normal((batch, d))

    def peak(batches: int) -> int:
        acc = MomentAccumulator(d)
        tracemalloc.start()
        for _ in range(batches):
            acc.update(data)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert acc.nbytes == 8 * (2 * d + d * d)
        return top

    small, large = peak(10), peak(100)
    assert large < small * 1.2 + 4096  # 10x the rows, same peak: nothing per row is kept
    assert large < 10 * batch * d * 8  # far below storing the 20 000 rows
